//! The incident domain of iam-sentinel, pure (no AWS SDK, no I/O): reading CloudTrail IAM events,
//! the records the workflow carries from state to state, and the outcome notifications.

pub mod approval;
pub mod event;
pub mod outcome;
pub mod record;

pub use approval::{ApprovalRequest, TaskToken, approval_request_notification};
pub use event::{
    Actor, EventError, PolicyChange, Principal, PrincipalKind, Reading, Target, read_event,
};
pub use outcome::{
    EVENT_SOURCE, Notification, Outcome, OutcomeState, UnreadablePart, describe_actor,
    describe_change, describe_origin, describe_quarantine, describe_target, event_detail,
    grant_lines, notification, pretty,
};
pub use record::{
    Approval, Decision, DeletedVersion, Incident, QuarantineAction, QuarantineRecord,
    QuarantineStatus, RestoreRecord, RestoreStatus, Verdict, current_findings,
};
