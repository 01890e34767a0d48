//! The policy engine of iam-sentinel: pure code, no AWS types, no I/O.
//!
//! - [`document`]: parse and validate IAM identity-policy documents (raw or percent-encoded);
//! - [`analysis`]: which restricted actions a document grants, where, and why;
//! - [`quarantine`]: the narrowest rewrite that removes those grants;
//! - [`catalog`]: the embedded list of known IAM actions and the resource types each accepts;
//! - [`resource`]: exact reasoning on resource ARN patterns and resource-type templates;
//! - [`pattern`]: exact reasoning on action patterns with `*` and `?`.

pub mod analysis;
pub mod catalog;
pub mod document;
pub mod pattern;
pub mod quarantine;
pub mod resource;
pub mod restricted;

pub use analysis::{Analysis, Finding, Hit, Reason, Scope, analyse};
pub use catalog::Catalog;
pub use document::{Policy, PolicyError, decode};
pub use quarantine::{Edit, PlanError, PolicyKind, Quarantine, plan};
pub use restricted::{RestrictedActions, RestrictedError};
