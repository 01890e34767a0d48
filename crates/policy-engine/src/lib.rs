//! The policy engine of iam-sentinel: pure code, no AWS types, no I/O.
//!
//! - [`account`]: the JSON of `aws iam get-account-authorization-details`, and the policies in
//!   force for each user and role;
//! - [`access`]: effective access, per principal: what all its policies and its permissions
//!   boundary together let it perform of the restricted patterns;
//! - [`document`]: parse and validate IAM identity-policy documents (raw or percent-encoded);
//! - [`analysis`]: which restricted actions a document grants, where, and why;
//! - [`quarantine`]: the narrowest rewrite that removes those grants;
//! - [`catalog`]: the embedded list of known IAM actions and the resource types each accepts;
//! - [`presets`]: named sets of restricted actions (privilege escalation, ...), with their sources;
//! - [`resource`]: exact reasoning on resource ARN patterns and resource-type templates;
//! - [`pattern`]: exact reasoning on action patterns with `*` and `?`;
//! - [`rules`]: the rules file: modes, acceptable scopes, exemptions, presets ([`presets`]);
//! - [`in_force`]: an account's grants in force under the rules (the sweep's and `scan`'s).

pub mod access;
pub mod account;
pub mod analysis;
pub mod catalog;
pub mod document;
pub mod in_force;
pub mod pattern;
pub mod presets;
pub mod quarantine;
pub mod resource;
pub mod restricted;
pub mod rules;
mod search;

pub use access::{
    AccessAnalyser, DocumentError, EffectiveGrant, GrantingStatement, PolicySource,
    PrincipalAccess, PrincipalKind, PrincipalPolicies, PrincipalRef, Removal, RemovedGrant,
    SourcedPolicy, Unresolved, effective_access,
};
pub use account::{AccountError, AuthorizationDetails};
pub use analysis::{Analysis, Finding, Hit, Reason, Scope, analyse};
pub use catalog::Catalog;
pub use document::{Policy, PolicyError, decode};
pub use quarantine::{Edit, PlanError, PolicyKind, Quarantine, plan};
pub use restricted::{RestrictedActions, RestrictedError};
pub use rules::{Mode, Rules, RulesError};
