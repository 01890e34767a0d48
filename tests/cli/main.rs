//! The `iam-sentinel check`, `scan` and `rules` command lines, specified by running the real
//! binary.
//!
//! These tests own what only the command line shows: exit codes, the human, JSON and SARIF
//! formats, standard input, unreadable files and how refusals are reported, `--fix` and `--kind`,
//! the presets' listing. What
//! the engine decides (verdicts, quarantines, what a refusal says) is specified once, on its
//! API, in `crates/policy-engine/tests/specification/`.
//!
//! Each test is one behaviour, named as a sentence. Documents live in
//! `tests/fixtures/policies/`, named for what they show; one-off inputs go through stdin or a
//! temporary file.

mod fix;
mod input;
mod presets;
mod report;
mod rules;
mod sarif;
mod scan;
mod support;
