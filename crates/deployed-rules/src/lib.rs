//! The rules file the deciding functions (analyse-change, quarantine-policy, sweep-account) are
//! built with (see build.rs). It is code, not configuration: no parameter or environment
//! variable of the deployment names or holds the rules, so changing them takes a build and a
//! deploy, the same rights as deploying the stack (docs/THREAT-MODEL.md).

/// The file's text, as it was at build time.
pub const TEXT: &str = include_str!(env!("IAM_SENTINEL_RULES_FILE"));

/// Where it was read from, for messages (a problem in it names this file, line and column).
pub const FILE: &str = env!("IAM_SENTINEL_RULES_FILE");
