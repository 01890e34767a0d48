//! Reading the approval out of the execution's own history: the request (with its task token),
//! its deadline, and whether a decision, the deadline or the end of the execution closed it.
//! Step Functions keeps all of it, so the approval API needs no database of its own.

use incident::DecisionRecord;
pub use incident::history::{EventKind, HistoryEvent, SUPERSEDED};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::request::{ApprovalRequest, TaskToken};

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
    /// A newer change to the same target started an incident of its own, which asks instead.
    Superseded {
        /// The newer incident's execution name (SendTaskFailure's cause), when recorded.
        by: Option<String>,
    },
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

/// One approval request in the history: where it is, and the token it waits with.
#[derive(Debug)]
pub struct RequestInHistory {
    pub index: usize,
    pub token: TaskToken,
}

/// Every approval request in the history, oldest first (a retried request has a token, and a
/// link, of its own). The shell checks the link's key against each token's MAC.
pub fn approval_requests(
    events: &[HistoryEvent],
) -> Result<Vec<RequestInHistory>, UnreadableRequest> {
    let mut requests = Vec::new();
    for (index, event) in events.iter().enumerate() {
        if let EventKind::ApprovalScheduled { parameters, .. } = &event.kind {
            let token = serde_json::from_value::<TokenOnly>(read_payload(parameters)?)
                .map_err(|e| UnreadableRequest(e.to_string()))?
                .task_token;
            requests.push(RequestInHistory { index, token });
        }
    }
    Ok(requests)
}

/// What the request at `matched` (the one whose token the link's key is the MAC of) is now;
/// `None` when no request's key matched.
pub fn find_approval(
    events: &[HistoryEvent],
    matched: Option<usize>,
    now: OffsetDateTime,
) -> Result<Lookup, UnreadableRequest> {
    let Some(index) = matched else {
        let any_request = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ApprovalScheduled { .. }));
        return Ok(if any_request {
            Lookup::WrongKey
        } else {
            Lookup::NoRequest
        });
    };
    let Some(EventKind::ApprovalScheduled {
        parameters,
        timeout_seconds,
    }) = events.get(index).map(|e| &e.kind)
    else {
        return Err(UnreadableRequest(format!(
            "event {index} is not an approval request"
        )));
    };
    let request: ApprovalRequest = serde_json::from_value(read_payload(parameters)?)
        .map_err(|e| UnreadableRequest(e.to_string()))?;
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
            EventKind::ApprovalFailed { error, cause } if error.as_deref() == Some(SUPERSEDED) => {
                return ApprovalStatus::Superseded {
                    by: cause.clone().filter(|c| !c.is_empty()),
                };
            }
            EventKind::ApprovalFailed { .. }
            | EventKind::ApprovalScheduled { .. }
            | EventKind::ExecutionEnded => return ApprovalStatus::Closed,
            EventKind::Other
            | EventKind::ExecutionStarted { .. }
            | EventKind::StateEntered { .. }
            | EventKind::StateExited { .. } => {}
        }
    }
    ApprovalStatus::Open
}
