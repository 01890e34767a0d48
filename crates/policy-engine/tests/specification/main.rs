//! The engine's specification, on its public API: what it decides about a document (verdicts),
//! how it quarantines one (quarantine), and what it accepts and refuses (documents).
//!
//! Documents come from the workspace's `tests/fixtures/policies/`, named for what they show
//! (the CLI's tests use the same files). Near-identical examples are tables: one test walks
//! named cases, and a failure names the case.

mod access;
mod account;
mod documents;
mod quarantine;
mod support;
mod verdicts;
