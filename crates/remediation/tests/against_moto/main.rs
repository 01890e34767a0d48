//! The handlers against moto in server mode: real SDK calls, real HTTP, a private server each.

mod approval;
mod attachment;
mod attacks;
mod boundary;
mod decisions;
mod documents;
mod errors;
mod inline;
mod managed;
mod membership;
mod principals;
mod publish;
mod rules_record;
mod start;
mod support;
mod sweep;
