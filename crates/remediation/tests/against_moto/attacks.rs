//! The sentinel cannot be turned against the account. Its writers change IAM only as their own
//! step of a running execution of this deployment's workflow, one its starter started, on the
//! state Step Functions recorded for that step; Restore only on an approval the approval page proved; the page only
//! for the emailed link's key, exactly as issued, and only as its own form posts; and what an
//! approval request says comes from the history, never from whoever invoked request-approval.
//! Every refused call is told to the operators (the operators' topic, read back from SQS).
//!
//! Each specification plays the attacker (mallory), shows the attack refused, IAM unchanged,
//! and, where a writer refused, the operators alerted with the function and the reason.

mod forged_decisions;
mod forged_requests;
mod forged_starts;
mod forged_steps;
mod links;
pub mod scene;
