//! Finding the approval in an execution's history: which request a key opens, and whether it
//! is still open. The histories are shaped like GetExecutionHistory's, reduced by the adapter.

mod support;

use approval::{
    ApprovalRequest, ApprovalStatus, EventKind, HistoryEvent, Lookup, SUPERSEDED, TaskToken,
    approval_requests, find_approval,
};
use incident::Decision;
use serde_json::json;
use support::{approval_request, assessment_of};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const REQUESTED_AT: OffsetDateTime = datetime!(2026-11-21 09:31:00 UTC);

/// The task's parameters as Step Functions records them: the Lambda invocation, whose payload
/// is the approval request of alice's quarantined CreatePolicy, with `token`, waiting an hour.
fn parameters(token: &str) -> String {
    let request = ApprovalRequest {
        task_token: TaskToken::new(token),
        execution_arn:
            "arn:aws:states:us-east-1:123456789012:execution:iam-sentinel-remediation:run-1".into(),
        approval_timeout_seconds: 3600,
        ..approval_request(assessment_of("create-policy.json"))
    };
    json!({
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:iam-sentinel-request-approval",
        "Payload": request,
    })
    .to_string()
}

fn at(minutes: i64) -> OffsetDateTime {
    REQUESTED_AT + Duration::minutes(minutes)
}

fn event(minutes: i64, kind: EventKind) -> HistoryEvent {
    HistoryEvent {
        at: at(minutes),
        kind,
    }
}

/// The request's task failed (its Lambda invocation crashed).
fn failed() -> EventKind {
    EventKind::ApprovalFailed {
        error: Some("Lambda.Unknown".into()),
        cause: None,
    }
}

fn scheduled(minutes: i64, token: &str) -> HistoryEvent {
    event(
        minutes,
        EventKind::ApprovalScheduled {
            parameters: parameters(token),
            timeout_seconds: Some(3600),
        },
    )
}

/// What a link opens when its key is the MAC of `token`'s message (the shell asks KMS which
/// request's token that is; here the token is named).
fn lookup(events: &[HistoryEvent], token: &str, now: OffsetDateTime) -> Lookup {
    let matched = approval_requests(events)
        .unwrap()
        .into_iter()
        .find(|request| request.token.expose() == token)
        .map(|request| request.index);
    find_approval(events, matched, now).unwrap()
}

fn status(events: &[HistoryEvent], token: &str, now: OffsetDateTime) -> ApprovalStatus {
    match lookup(events, token, now) {
        Lookup::Found(found) => found.status,
        other => panic!("expected the request, got {other:?}"),
    }
}

#[test]
fn a_request_nobody_answered_yet_is_open_with_its_deadline() {
    let events = [event(0, EventKind::Other), scheduled(1, "t-1")];
    let Lookup::Found(found) = lookup(&events, "t-1", at(5)) else {
        panic!("not found");
    };
    assert_eq!(found.status, ApprovalStatus::Open);
    assert_eq!(found.deadline, Some(at(61)));
    assert_eq!(found.request.task_token.expose(), "t-1");
}

#[test]
fn a_history_without_an_approval_task_has_no_request() {
    let events = [
        event(0, EventKind::Other),
        event(1, EventKind::ExecutionEnded),
    ];
    assert!(matches!(lookup(&events, "t-1", at(2)), Lookup::NoRequest));
}

#[test]
fn a_key_of_another_token_is_the_wrong_key() {
    let events = [scheduled(1, "t-1")];
    assert!(matches!(lookup(&events, "t-2", at(2)), Lookup::WrongKey));
}

#[test]
fn a_succeeded_task_is_decided_with_the_decision_it_carried_and_when() {
    let output = json!({"decision": "deny", "decidedAt": "2026-11-21T09:40:00Z", "sourceIp": "198.51.100.77"});
    let events = [
        scheduled(1, "t-1"),
        event(
            9,
            EventKind::ApprovalSucceeded {
                output: Some(output.to_string()),
            },
        ),
    ];
    let ApprovalStatus::Decided {
        approval,
        at: decided,
    } = status(&events, "t-1", at(10))
    else {
        panic!("not decided");
    };
    assert_eq!(approval.decision, Decision::Deny);
    assert_eq!(approval.source_ip.as_deref(), Some("198.51.100.77"));
    assert_eq!(decided, at(9));
}

#[test]
fn a_decision_output_that_cannot_be_read_counts_as_unrecognised() {
    let events = [
        scheduled(1, "t-1"),
        event(
            9,
            EventKind::ApprovalSucceeded {
                output: Some("not json".into()),
            },
        ),
    ];
    let ApprovalStatus::Decided { approval, .. } = status(&events, "t-1", at(10)) else {
        panic!("not decided");
    };
    assert_eq!(approval.decision, Decision::Unrecognised);
}

#[test]
fn a_timed_out_task_is_expired() {
    let events = [scheduled(1, "t-1"), event(61, EventKind::ApprovalTimedOut)];
    assert_eq!(status(&events, "t-1", at(62)), ApprovalStatus::Expired);
}

#[test]
fn past_the_deadline_a_request_is_expired_before_step_functions_says_so() {
    let events = [scheduled(1, "t-1")];
    assert_eq!(status(&events, "t-1", at(61)), ApprovalStatus::Expired);
    assert_eq!(status(&events, "t-1", at(60)), ApprovalStatus::Open);
}

#[test]
fn a_failed_request_or_an_ended_execution_is_closed() {
    for closing in [failed(), EventKind::ExecutionEnded] {
        let events = [scheduled(1, "t-1"), event(2, closing)];
        assert_eq!(status(&events, "t-1", at(3)), ApprovalStatus::Closed);
    }
}

#[test]
fn a_request_closed_by_a_newer_incident_on_its_target_is_superseded_by_it() {
    let newer = "3f1c0a9e5b7d2c41-20261121T094500Z-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    let events = [
        scheduled(1, "t-1"),
        event(
            2,
            EventKind::ApprovalFailed {
                error: Some(SUPERSEDED.into()),
                cause: Some(newer.into()),
            },
        ),
    ];
    assert_eq!(
        status(&events, "t-1", at(3)),
        ApprovalStatus::Superseded {
            by: Some(newer.into())
        }
    );
}

#[test]
fn a_retried_request_closes_the_first_link_and_opens_its_own() {
    // GIVEN the first request failed after its email went out, and the retry sent another
    let events = [scheduled(1, "t-1"), event(2, failed()), scheduled(3, "t-2")];
    // THEN the first link is closed and the second one is open
    assert_eq!(status(&events, "t-1", at(4)), ApprovalStatus::Closed);
    assert_eq!(status(&events, "t-2", at(4)), ApprovalStatus::Open);
}

#[test]
fn a_request_whose_payload_is_unreadable_is_an_error_naming_it() {
    let events = [event(
        1,
        EventKind::ApprovalScheduled {
            parameters: r#"{"FunctionName": "f"}"#.into(),
            timeout_seconds: None,
        },
    )];
    let error = approval_requests(&events).unwrap_err();
    assert!(error.to_string().contains("task parameters"), "{error}");
}

#[test]
fn every_request_in_the_history_is_a_candidate_with_its_token_oldest_first() {
    let events = [scheduled(1, "t-1"), event(2, failed()), scheduled(3, "t-2")];
    let requests: Vec<(usize, String)> = approval_requests(&events)
        .unwrap()
        .into_iter()
        .map(|r| (r.index, r.token.expose().to_owned()))
        .collect();
    assert_eq!(requests, [(0, "t-1".into()), (2, "t-2".into())]);
}

#[test]
fn a_match_that_is_not_a_request_is_an_error() {
    let events = [event(0, EventKind::Other)];
    assert!(find_approval(&events, Some(0), at(1)).is_err());
}
