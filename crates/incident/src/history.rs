//! An execution's history, reduced to what iam-sentinel reads in it (the AWS adapter maps the
//! SDK's events), and the one question the writers ask of it: which state is this execution in
//! now, and with what input? Step Functions writes the history; no caller can forge it, so a
//! function that writes IAM acts only on the state its own step was entered with.

use time::OffsetDateTime;

/// The error a newer incident on the same target closes an older one's approval request with
/// (SendTaskFailure); the state machine catches it by this name.
pub const SUPERSEDED: &str = "Superseded";

#[derive(Debug, Clone)]
pub struct HistoryEvent {
    pub at: OffsetDateTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    /// A state was entered, with its input (the state as it was then).
    StateEntered {
        name: String,
        input: Option<String>,
    },
    /// A state was left.
    StateExited {
        name: String,
    },
    /// `TaskScheduled` of a `lambda:invoke.waitForTaskToken` task: the approval request.
    ApprovalScheduled {
        parameters: String,
        timeout_seconds: Option<i64>,
    },
    /// `TaskSucceeded` of that task: SendTaskSuccess was called; `output` is the decision.
    ApprovalSucceeded {
        output: Option<String>,
    },
    /// `TaskTimedOut`: the deadline passed without a decision.
    ApprovalTimedOut,
    /// `TaskFailed`, `TaskStartFailed`, `TaskSubmitFailed`: the request failed, or a newer
    /// incident on the same target closed it (`error` is then [`SUPERSEDED`]).
    ApprovalFailed {
        error: Option<String>,
        cause: Option<String>,
    },
    /// The execution succeeded, failed, timed out or was aborted.
    ExecutionEnded,
    Other,
}

/// Why a call to a writer is not the workflow's own step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotThisStep {
    #[error("the call is not the state machine's {{\"executionArn\": ...}}: {0}")]
    NotAnInvocation(String),
    #[error("{0} is not an execution of this deployment's state machine")]
    ForeignExecution(String),
    #[error("no such execution")]
    NoSuchExecution,
    #[error("the execution has ended")]
    Ended,
    #[error("the execution is not in its {expected} state (its current state is {current})")]
    OtherState { expected: String, current: String },
    #[error("the history does not hold the {0} state's input")]
    NoInput(String),
    #[error("the task token is not the one the execution's approval request waits with")]
    NotTheWaitingToken,
    #[error("the execution's approval request is no longer open")]
    RequestClosed,
}

/// The input `expected` was entered with, when that is the execution's current state: the last
/// state entered, not yet left, in an execution still running. A step retried by Step Functions
/// stays in its state, so a retried attempt passes too.
pub fn entered_state<'a>(
    events: &'a [HistoryEvent],
    expected: &str,
) -> Result<&'a str, NotThisStep> {
    if events
        .iter()
        .any(|e| matches!(e.kind, EventKind::ExecutionEnded))
    {
        return Err(NotThisStep::Ended);
    }
    let current = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::StateEntered { name, input } => Some((name.as_str(), input.as_deref(), false)),
        EventKind::StateExited { name } => Some((name.as_str(), None, true)),
        _ => None,
    });
    match current {
        Some((name, input, false)) if name == expected => {
            input.ok_or_else(|| NotThisStep::NoInput(expected.to_owned()))
        }
        Some((name, _, left)) => Err(NotThisStep::OtherState {
            expected: expected.to_owned(),
            current: if left {
                format!("none: it has just left {name}")
            } else {
                name.to_owned()
            },
        }),
        None => Err(NotThisStep::OtherState {
            expected: expected.to_owned(),
            current: "none yet".to_owned(),
        }),
    }
}
