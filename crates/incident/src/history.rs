//! An execution's history, reduced to what iam-sentinel reads in it (the AWS adapter maps the
//! SDK's events), and the one question the writers ask of it: which state is this execution in
//! now, and with what input? Step Functions writes the history; no caller can forge it, so a
//! function that writes IAM acts only on the state its own step was entered with.

use time::OffsetDateTime;

/// The error a newer incident on the same target closes an older one's approval request with
/// (SendTaskFailure); the state machine catches it by this name.
pub const SUPERSEDED: &str = "Superseded";

/// The error of a step in an execution the incident starter did not start
/// ([`started_by_the_starter`]): started by hand, its input made up. Caught like any failure;
/// its failure notice repeats nothing the input claims.
pub const FORGED_START: &str = "ForgedStart";

#[derive(Debug, Clone)]
pub struct HistoryEvent {
    pub at: OffsetDateTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    /// `ExecutionStarted`, with the execution's input (as Step Functions re-serialises it).
    ExecutionStarted {
        input: Option<String>,
    },
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
    #[error("the execution was not started by this deployment's incident starter: {0}")]
    NotStartedByTheStarter(String),
}

/// What the incident starter records, under the execution's name, just before it starts an
/// execution (`decision_log::start_key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRecord {
    /// `decision_log::canonical_digest` of the input it started the execution with.
    pub input_digest: String,
    /// Until when the record vouches for that input: long after the execution's Quarantine
    /// step, long before Step Functions lets anyone reuse the name (90 days).
    pub expires_at: OffsetDateTime,
}

/// Whether the execution whose history is `events` is one the incident starter started: the
/// record it wrote under the execution's name (`record`) names this execution's input and still
/// holds at `now`. `states:StartExecution` is a power user's right; the starter writes its
/// records where nobody else may, so an execution started by anyone else, with a made-up event,
/// has none (or one for another input, or long expired).
pub fn started_by_the_starter(
    events: &[HistoryEvent],
    record: Option<&StartRecord>,
    now: OffsetDateTime,
) -> Result<(), NotThisStep> {
    let refused = |why: &str| Err(NotThisStep::NotStartedByTheStarter(why.to_owned()));
    let Some(record) = record else {
        return refused("it recorded no start under the execution's name");
    };
    let input = events.iter().find_map(|e| match &e.kind {
        EventKind::ExecutionStarted { input } => input.as_deref(),
        _ => None,
    });
    let Some(digest) = input.and_then(crate::decision_log::canonical_digest) else {
        return refused("the history holds no JSON input the execution started with");
    };
    if digest != record.input_digest {
        return refused("its record under the execution's name is of another input");
    }
    if record.expires_at <= now {
        return refused("its record under the execution's name has expired");
    }
    Ok(())
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
