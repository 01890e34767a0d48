//! The handlers against moto in server mode: real SDK calls, real HTTP, a private server each.

mod managed;
mod support;
