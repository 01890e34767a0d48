//! The pages: the right status for every case, strict headers everywhere, and nothing from a
//! policy, an event or a comment ever reaching the page unescaped.

use approval::{ApprovalId, ApprovalStatus, FoundApproval, Page};
use incident::{Approval, ApprovalRequest, Decision};
use serde_json::json;
use time::macros::datetime;

const HOSTILE: &str = r#"<script>alert(1)</script>"#;

/// A request whose every free-text field is hostile markup.
fn hostile_request() -> ApprovalRequest {
    serde_json::from_value(json!({
        "taskToken": "t-1",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:run-1",
        "incident": {
            "id": HOSTILE,
            "eventName": "PutUserPolicy",
            "verdict": "restricted",
            "notify": false,
            "restrictedActions": "s3:DeleteBucket",
            "change": {
                "eventName": "PutUserPolicy",
                "eventId": "e-1",
                "eventTime": "2026-11-21T09:30:00Z",
                "account": "123456789012",
                "region": "us-east-1",
                "actor": {"identityType": "IAMUser", "arn": HOSTILE},
                "sourceIp": "203.0.113.24",
                "userAgent": HOSTILE,
                "target": {"kind": "inlinePolicy", "principal": {"kind": "user", "name": "carol"}, "policyName": HOSTILE}
            },
            "findings": []
        },
        "quarantine": {
            "status": "applied",
            "originalDocument": format!(r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}}]}}"#, "</pre><script>x()</script>"),
            "quarantinedDocument": r#"{"Version":"2012-10-17","Statement":[]}"#
        },
        "approvalTimeoutSeconds": 3600
    }))
    .expect("a request")
}

fn found(status: ApprovalStatus) -> FoundApproval {
    FoundApproval {
        request: hostile_request(),
        requested_at: datetime!(2026-11-21 09:31:00 UTC),
        deadline: Some(datetime!(2026-11-21 10:31:00 UTC)),
        status,
    }
}

/// The review page of the hostile request, for approval `id` and `key`.
fn review_page(id: &str, key: &str) -> String {
    let found = found(ApprovalStatus::Open);
    let id = ApprovalId::parse(id).unwrap();
    Page::Review {
        found: &found,
        id: &id,
        key,
    }
    .render()
    .body
}

#[test]
fn every_page_has_its_status() {
    let decided = Approval {
        decision: Decision::Approve,
        ..Approval::default()
    };
    let found = found(ApprovalStatus::Open);
    let id = ApprovalId::parse("run-1").unwrap();
    let at = datetime!(2026-11-21 09:40:00 UTC);
    let cases: Vec<(Page, u16)> = vec![
        (
            Page::Review {
                found: &found,
                id: &id,
                key: "k",
            },
            200,
        ),
        (
            Page::Recorded {
                decision: Decision::Deny,
            },
            200,
        ),
        (Page::BadRequest("the form has no key field".into()), 400),
        (Page::WrongKey, 403),
        (Page::NotFound, 404),
        (Page::MethodNotAllowed, 405),
        (
            Page::AlreadyDecided {
                approval: &decided,
                at,
            },
            409,
        ),
        (Page::Expired { deadline: None }, 410),
        (Page::Closed, 410),
        (Page::Broken("bad".into()), 500),
        (Page::Unavailable, 503),
    ];
    for (page, status) in cases {
        let response = page.render();
        assert_eq!(response.status, status);
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{status}"
        );
        assert!(header("content-security-policy").is_some(), "{status}");
        assert!(response.body.starts_with("<!DOCTYPE html>"), "{status}");
    }
}

#[test]
fn hostile_text_from_the_event_and_documents_is_escaped() {
    let body = review_page("run-1", "k");
    assert!(!body.contains("<script"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!body.contains("</pre><script>"));
}

#[test]
fn a_hostile_comment_on_the_already_decided_page_is_escaped() {
    let decided = Approval {
        decision: Decision::Deny,
        comment: Some(HOSTILE.into()),
        user_agent: Some(HOSTILE.into()),
        ..Approval::default()
    };
    let body = Page::AlreadyDecided {
        approval: &decided,
        at: datetime!(2026-11-21 09:40:00 UTC),
    }
    .render()
    .body;
    assert!(!body.contains("<script"));
    assert!(body.contains("already denied"));
}

#[test]
fn the_review_page_posts_to_its_own_path_with_the_key_in_the_body() {
    let body = review_page("run+1", "KEY123");
    assert!(
        body.contains(r#"<form method="post" action="run%2B1""#),
        "{body}"
    );
    assert!(body.contains(r#"<input type="hidden" name="key" value="KEY123">"#));
}

#[test]
fn the_review_page_shows_the_deadline_and_what_no_answer_means() {
    let body = review_page("run-1", "k");
    assert!(body.contains("Decide before 2026-11-21 10:31:00 UTC"));
    assert!(body.contains("the quarantine stays"));
}

#[test]
fn the_style_is_allowed_by_its_hash_and_nothing_else_may_load() {
    let response = Page::NotFound.render();
    let csp = &response
        .headers
        .iter()
        .find(|(k, _)| *k == "content-security-policy")
        .unwrap()
        .1;
    let style = response
        .body
        .split("<style>")
        .nth(1)
        .and_then(|rest| rest.split("</style>").next())
        .unwrap();
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    assert!(csp.starts_with("default-src 'none'"));
}
