//! Errors every handler returns. The variant is the Lambda `errorType`, which is exactly what the
//! state machine's `Retry` and `Catch` match (see docs/workflow-contract.md).

use std::fmt::Display;

// Every SDK crate shares smithy's error and response types.
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Throttling, service errors, timeouts: the state machine retries with backoff.
    #[error("{0}")]
    Retryable(String),
    /// A malformed event or state: retrying cannot help.
    #[error("{0}")]
    InvalidInput(String),
    /// The policy changed under us in a way that makes this step unsafe.
    #[error("{0}")]
    PolicyConflict(String),
    /// Anything else (access denied, a quota, missing configuration).
    #[error("{0}")]
    NonRetryable(String),
}

impl StepError {
    pub fn error_type(&self) -> &'static str {
        match self {
            StepError::Retryable(_) => "Retryable",
            StepError::InvalidInput(_) => "InvalidInput",
            StepError::PolicyConflict(_) => "PolicyConflict",
            StepError::NonRetryable(_) => "NonRetryable",
        }
    }
}

impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Error codes AWS services use for conditions that pass with time.
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
    "ConcurrentModification",
    "KMSThrottlingException",
];

/// Codes vary by service (`Throttling`, `KMSThrottling`, `ThrottlingException`, ...).
fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code) || code.contains("Throttl")
}

/// A failed AWS call, with the code the service gave (if it answered).
#[derive(Debug)]
pub struct AwsFailure {
    pub code: Option<String>,
    pub retryable: bool,
    pub message: String,
}

impl AwsFailure {
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Classifies an SDK error: no answer, a 5xx or a transient code is retryable.
    pub fn from_sdk<E>(call: &str, error: SdkError<E, HttpResponse>) -> AwsFailure
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = error.raw_response().map(|r| r.status().as_u16());
        let code = error.code().map(str::to_owned);
        let detail = error
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| describe(&error));
        // Only a complete error answer is final; no answer, or one cut off or garbled on the way
        // (a ResponseError), may well succeed next time.
        let answered = matches!(error, SdkError::ServiceError(_));
        let retryable = !answered
            || status.is_some_and(|s| s >= 500)
            || code.as_deref().is_some_and(is_transient_code);
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
}

impl From<AwsFailure> for StepError {
    fn from(failure: AwsFailure) -> StepError {
        if failure.retryable {
            StepError::Retryable(failure.message)
        } else {
            StepError::NonRetryable(failure.message)
        }
    }
}

/// The error and its sources on one line (the SDK's top-level message is often just "dispatch
/// failure").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

/// Reads a required environment variable, naming it when it is missing.
pub fn required_env(name: &str) -> Result<String, StepError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(StepError::NonRetryable(format!(
            "configuration: environment variable {name} is not set"
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
