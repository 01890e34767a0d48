//! The approval tests' builders. The records are the incident tests' own
//! (crates/incident/tests/support/mod.rs, included here as `records`), so the approval email and
//! page are shown the same incidents as the outcome notifications; on top of them, the approval
//! request the state machine hands RequestApproval, its link and its deadline. The incident
//! crate cannot build these itself: the approval crate depends on it, not the other way round.

#![allow(dead_code)]

#[macro_use]
#[path = "../../../incident/tests/support/mod.rs"]
mod records;

#[allow(unused_imports)]
pub use records::*;

use approval::{
    ApprovalId, ApprovalKey, ApprovalRequest, ApprovalStatus, FoundApproval, ReviewDocuments,
    TaskToken, approval_link, utc,
};
use incident::record::attachments_of;
use incident::{Assessment, QuarantineAction};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The task token of the approval wait: a bearer credential, never to be shown.
pub const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAaX5/Tx+token+with/slashes=";

/// The approval API's URL, as the deployment gives it.
pub const API_URL: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";

/// When RequestApproval ran: a minute after the change.
pub const REQUESTED_AT: OffsetDateTime = datetime!(2026-11-21 09:31:00 UTC);

/// How long the state machine waits for a decision: a day.
pub const TIMEOUT_SECONDS: u64 = 86_400;

/// The RequestApproval task's payload for a restricted assessment, quarantined.
pub fn approval_request(assessment: Assessment) -> ApprovalRequest {
    let quarantine = quarantine_of(&assessment);
    ApprovalRequest {
        task_token: TaskToken::new(TOKEN),
        execution_arn: EXECUTION.into(),
        incident: assessment,
        quarantine,
        approval_timeout_seconds: TIMEOUT_SECONDS,
    }
}

/// The request's documents as the approval API reads them back from the document store.
pub fn documents_of(request: &ApprovalRequest) -> ReviewDocuments {
    let applied = request.quarantine.applied().expect("an applied quarantine");
    let attached_to = match &applied.action {
        QuarantineAction::NewDefaultVersion {
            attached_to: Some(reference),
            ..
        } => attachments_of(&text_of(reference))
            .map(|kept| kept.into_iter().map(|a| a.principal).collect()),
        _ => None,
    };
    ReviewDocuments {
        original: text_of(&applied.original_document),
        quarantined: applied.quarantined_document.as_ref().map(text_of),
        attached_to,
    }
}

/// The approval id of the execution: its name.
pub fn approval_id() -> ApprovalId {
    ApprovalId::of_execution(EXECUTION).expect("an execution ARN")
}

/// The key of the link: a stand-in for the MAC that KMS makes of `TOKEN`'s message with the
/// link key (the crates/remediation tests use KMS itself).
pub fn approval_key() -> ApprovalKey {
    let stand_in: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    ApprovalKey::from_mac(&stand_in).expect("32 bytes")
}

/// The one link the email carries.
pub fn link() -> String {
    approval_link(API_URL, &approval_id(), &approval_key())
}

/// The decision's deadline of `approval_request`, as a moment.
pub fn deadline() -> OffsetDateTime {
    REQUESTED_AT + Duration::seconds(TIMEOUT_SECONDS as i64)
}

/// The decision's deadline of `approval_request`, as the email and the page write it.
pub fn deadline_text() -> String {
    utc(deadline())
}

/// The request as the approval API finds it in the execution's history: requested at
/// `REQUESTED_AT`, due when its timeout ends.
pub fn found(request: ApprovalRequest, status: ApprovalStatus) -> FoundApproval {
    let timeout = Duration::seconds(request.approval_timeout_seconds as i64);
    FoundApproval {
        request,
        requested_at: REQUESTED_AT,
        deadline: Some(REQUESTED_AT + timeout),
        status,
    }
}
