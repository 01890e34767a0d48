//! The AWS side of iam-sentinel: IAM, SNS, EventBridge and Step Functions adapters, the Lambda handlers, and
//! the SDK set-up every function's `main` shares.

pub mod account;
pub mod boundaries;
pub mod decisions;
pub mod documents;
pub mod error;
pub mod executions;
pub mod handlers;
pub mod iam;
pub mod incident_queue;
pub mod kms;
pub mod principals;
pub mod publisher;
pub mod rules_record;
pub mod setup;

pub use error::StepError;
