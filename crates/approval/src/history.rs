//! Reading the approval out of the execution's own history: the request (with its task token),
//! its deadline, and whether a decision, the deadline or the end of the execution closed it.
//! Step Functions keeps all of it, so the approval API needs no database of its own.

use incident::DecisionRecord;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::key::ApprovalKey;
use crate::request::{ApprovalRequest, TaskToken};

/// One history event, reduced to what the approval needs (the AWS adapter maps the SDK's).
#[derive(Debug, Clone)]
pub struct HistoryEvent {
    pub at: OffsetDateTime,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub enum EventKind {
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
    /// `TaskFailed`, `TaskStartFailed`, `TaskSubmitFailed`: the request itself failed.
    ApprovalFailed,
    /// The execution succeeded, failed, timed out or was aborted.
    ExecutionEnded,
    Other,
}

/// What a link's key finds in an execution's history.
#[derive(Debug)]
pub enum Lookup {
    /// The execution never asked for an approval.
    NoRequest,
    /// It did, but not with this key.
    WrongKey,
    Found(Box<FoundApproval>),
}

#[derive(Debug)]
pub struct FoundApproval {
    pub request: ApprovalRequest,
    pub requested_at: OffsetDateTime,
    pub deadline: Option<OffsetDateTime>,
    pub status: ApprovalStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalStatus {
    /// Waiting for a decision: the only status in which a decision can be sent.
    Open,
    /// A decision reached Step Functions (this one won).
    Decided {
        approval: DecisionRecord,
        at: OffsetDateTime,
    },
    /// The deadline passed: the quarantine stays.
    Expired,
    /// The request failed, a newer one replaced it, or the execution ended otherwise.
    Closed,
}

#[derive(Debug, thiserror::Error)]
#[error("the approval request in the execution history cannot be read: {0}")]
pub struct UnreadableRequest(String);

/// The task's parameters as recorded: the Lambda invocation and its payload.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Invocation {
    payload: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenOnly {
    task_token: TaskToken,
}

/// Finds the approval request whose key is `provided_key`. Every request in the history is
/// checked (a retried request has a token, and a link, of its own), each in constant time.
pub fn find_approval(
    events: &[HistoryEvent],
    provided_key: &str,
    now: OffsetDateTime,
) -> Result<Lookup, UnreadableRequest> {
    let mut requests = 0;
    let mut found = None;
    for (index, event) in events.iter().enumerate() {
        let EventKind::ApprovalScheduled {
            parameters,
            timeout_seconds,
        } = &event.kind
        else {
            continue;
        };
        requests += 1;
        let payload = read_payload(parameters)?;
        let token = serde_json::from_value::<TokenOnly>(payload.clone())
            .map_err(|e| UnreadableRequest(e.to_string()))?
            .task_token;
        if ApprovalKey::for_token(&token).matches(provided_key) {
            found = Some((index, payload, *timeout_seconds));
        }
    }
    let Some((index, payload, timeout_seconds)) = found else {
        return Ok(if requests == 0 {
            Lookup::NoRequest
        } else {
            Lookup::WrongKey
        });
    };
    let request: ApprovalRequest =
        serde_json::from_value(payload).map_err(|e| UnreadableRequest(e.to_string()))?;
    let requested_at = events[index].at;
    let deadline = timeout_seconds.map(|s| requested_at + time::Duration::seconds(s));
    let status = match status_after(&events[index + 1..]) {
        ApprovalStatus::Open if deadline.is_some_and(|d| now >= d) => ApprovalStatus::Expired,
        status => status,
    };
    Ok(Lookup::Found(Box::new(FoundApproval {
        request,
        requested_at,
        deadline,
        status,
    })))
}

fn read_payload(parameters: &str) -> Result<serde_json::Value, UnreadableRequest> {
    serde_json::from_str::<Invocation>(parameters)
        .map(|invocation| invocation.payload)
        .map_err(|e| UnreadableRequest(format!("task parameters: {e}")))
}

/// What became of a request, from the events after it: the first that closes it wins.
fn status_after(events: &[HistoryEvent]) -> ApprovalStatus {
    for event in events {
        match &event.kind {
            EventKind::ApprovalSucceeded { output } => {
                // An output that is not a decision reads as an unrecognised one, as the state
                // machine reads it (it keeps the quarantine).
                let approval = output
                    .as_deref()
                    .and_then(|o| serde_json::from_str(o).ok())
                    .unwrap_or_default();
                return ApprovalStatus::Decided {
                    approval,
                    at: event.at,
                };
            }
            EventKind::ApprovalTimedOut => return ApprovalStatus::Expired,
            EventKind::ApprovalFailed
            | EventKind::ApprovalScheduled { .. }
            | EventKind::ExecutionEnded => return ApprovalStatus::Closed,
            EventKind::Other => {}
        }
    }
    ApprovalStatus::Open
}
