//! Errors every handler returns. `error_type` is the Lambda `errorType`, which is exactly what
//! the state machine's `Retry` and `Catch` match (see docs/workflow-contract.md): `Retryable`,
//! `NotYetConsistent`, `InvalidInput`, `PolicyConflict`, `NonRetryable`, `ForgedRequest`,
//! `DocumentUnavailable`.

use std::fmt::Display;

// Every SDK crate shares smithy's error and response types.
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use incident::history::{FORGED_START, NotThisStep, SUPERSEDED};
use incident::quarantine::QuarantineError;
use lambda_runtime::Diagnostic;

use crate::documents::DocumentProblem;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// An AWS call failed: retryable when it may pass with time (throttling, 5xx, no answer).
    #[error(transparent)]
    Aws(#[from] AwsFailure),
    /// The quarantine could not be decided: an unreadable policy, no quarantine that fits, no
    /// room for a new version.
    #[error(transparent)]
    Quarantine(#[from] QuarantineError),
    /// A malformed event or state: retrying cannot help.
    #[error("{0}")]
    InvalidInput(String),
    /// A missing or invalid setting: the function cannot work until the deployment is fixed.
    #[error("configuration: {0}")]
    Configuration(String),
    /// A writer was called other than as its own step of a running execution of this
    /// deployment: refused, and the operators are told.
    #[error("refused: not this deployment's workflow step: {0}")]
    NotTheWorkflow(#[from] NotThisStep),
    /// An approve decision without the approval API's proof: someone else sent it.
    #[error("refused: {0}")]
    UnprovenDecision(String),
    /// IAM does not show the change yet (missing, or an earlier document), and the change is
    /// recent enough that this may be IAM's eventual consistency: retried on its own schedule
    /// until the consistency window after the event has passed.
    #[error("not yet consistent: {0}")]
    NotYetConsistent(String),
    /// A newer change to the same target has an incident waiting for a decision: this older
    /// one asks nothing (its quarantine stays); the newer one asks about the policy as it is.
    #[error("superseded by the newer incident {0}")]
    Superseded(String),
    /// A document the state names is missing from the document store, or is not what the
    /// state's hash says: nothing is written from it.
    #[error(transparent)]
    Document(#[from] DocumentProblem),
}

impl StepError {
    pub fn error_type(&self) -> &'static str {
        match self {
            StepError::Aws(failure) if failure.retryable => "Retryable",
            StepError::Aws(_) => "NonRetryable",
            StepError::Quarantine(
                QuarantineError::Unreadable { .. } | QuarantineError::UnreadablePolicy(_),
            ) => "InvalidInput",
            StepError::Quarantine(QuarantineError::NoSafeBoundary(_)) => "PolicyConflict",
            StepError::Quarantine(QuarantineError::NoRoom { .. }) => "PolicyConflict",
            StepError::Quarantine(QuarantineError::DoesNotFit(_)) => "NonRetryable",
            StepError::Quarantine(QuarantineError::NotYetConsistent(_))
            | StepError::NotYetConsistent(_) => "NotYetConsistent",
            StepError::InvalidInput(_) => "InvalidInput",
            StepError::Configuration(_) => "NonRetryable",
            // An execution started by hand, with a made-up event: what it claims is not
            // repeated in its failure notice (`incident::OutcomeState`).
            StepError::NotTheWorkflow(NotThisStep::NotStartedByTheStarter(_)) => FORGED_START,
            StepError::NotTheWorkflow(_) | StepError::UnprovenDecision(_) => "ForgedRequest",
            StepError::Superseded(_) => SUPERSEDED,
            StepError::Document(_) => "DocumentUnavailable",
        }
    }
}

impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: describe(&error),
        }
    }
}

/// Error codes AWS services use for conditions that pass with time. Codes vary by service
/// (`Throttling`, `ThrottlingException`, `KMSThrottlingException`, ...): anything naming
/// throttling counts too.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceFailure",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "InternalException",
    "ConcurrentModification",
    // IAM: the entity is being changed by another request (e.g. a role's policies while its
    // service-linked role is being set up); it passes once that finishes.
    "EntityTemporarilyUnmodifiable",
    "KMSThrottlingException",
];

/// The one classification of AWS error codes: does this one pass with time?
pub fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code) || code.contains("Throttl")
}

/// A failed AWS call, with the code the service gave (if it answered).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AwsFailure {
    pub code: Option<String>,
    pub retryable: bool,
    pub message: String,
}

impl AwsFailure {
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// A service's answer that carries an error code (a whole call's or one entry's).
    pub fn with_code(call: &str, code: Option<String>, detail: &str) -> AwsFailure {
        let retryable = code.as_deref().is_some_and(is_transient_code);
        let message = match &code {
            Some(code) => format!("{call} failed: {code}: {detail}"),
            None => format!("{call} failed: {detail}"),
        };
        AwsFailure {
            code,
            retryable,
            message,
        }
    }

    /// A call that succeeded but answered something unusable: not worth retrying.
    pub fn unusable_answer(call: &str, what: &str) -> AwsFailure {
        AwsFailure {
            code: None,
            retryable: false,
            message: format!("{call} {what}"),
        }
    }

    /// Classifies an SDK error: no answer, a 5xx or a transient code is retryable.
    pub fn from_sdk<E>(call: &str, error: SdkError<E, HttpResponse>) -> AwsFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let detail = error
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| describe(&error));
        let mut failure = AwsFailure::with_code(call, error.code().map(str::to_owned), &detail);
        // Only a complete error answer is final; no answer, or one cut off or garbled on the way
        // (a ResponseError), may well succeed next time.
        let answered = matches!(error, SdkError::ServiceError(_));
        failure.retryable |= !answered || status.is_some_and(|s| s >= 500);
        failure
    }
}

/// The error and its sources on one line (the SDK's top-level message is often just "dispatch
/// failure").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text += &format!(": {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Reads a required environment variable, naming it when it is missing.
pub fn required_env(name: &str) -> Result<String, StepError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(StepError::Configuration(format!(
            "environment variable {name} is not set"
        ))),
    }
}

/// Reads a function's typed input. A shape the state machine should never send is
/// `InvalidInput`: the runtime's own deserialisation error is not a name the ASL matches.
pub fn parse_input<T: serde::de::DeserializeOwned>(
    payload: serde_json::Value,
) -> Result<T, StepError> {
    serde_json::from_value(payload).map_err(|e| {
        invalid_input(format!(
            "the input is not what the state machine sends: {e}"
        ))
    })
}

pub fn invalid_input(what: impl Display) -> StepError {
    StepError::InvalidInput(what.to_string())
}
