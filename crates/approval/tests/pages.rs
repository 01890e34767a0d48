//! The pages: what each says, pinned by one snapshot per page in `tests/snapshots/` (the page
//! laid out one element a line, as its reader's browser nests it); and, as plain asserts, the
//! right status for every case, strict headers everywhere, the style allowed by its hash, and
//! nothing from a policy, an event or a comment ever reaching the page unescaped.

mod support;

use approval::{
    ApprovalId, ApprovalRequest, ApprovalStatus, EventKind, HistoryEvent, Page, find_approval,
    parse_decision_form,
};
use incident::{Decision, DecisionRecord};
use serde_json::json;
use support::{
    REQUESTED_AT, approval_id, approval_key, approval_request, assessment_of,
    attachment_assessment, boundary_assessment, deadline, decision, documents_of, found, kept,
    restore_plan_of,
};
use time::macros::datetime;

// ---------------------------------------------------------------------------------------------
// What each page says (snapshots)
// ---------------------------------------------------------------------------------------------

/// The page as its reader's browser nests it: one element a line, indented, preformatted
/// documents line by line, text as the reader sees it (entities decoded: that every value is
/// escaped is asserted below, on hostile input). The style sheet is left out: it is the same on
/// every page, and `the_style_is_allowed_by_its_hash_and_nothing_else_may_load` pins it.
fn readable(html: &str) -> String {
    let seen = |text: &str| {
        text.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    enum Token<'h> {
        Tag(&'h str),
        Text(&'h str),
    }
    let mut tokens = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let end = if rest.starts_with('<') {
            rest.find('>').expect("every tag ends") + 1
        } else {
            rest.find('<').unwrap_or(rest.len())
        };
        let (token, after) = rest.split_at(end);
        tokens.push(if token.starts_with('<') {
            Token::Tag(token)
        } else {
            Token::Text(token)
        });
        rest = after;
    }
    let is_close = |tag: &str| tag.starts_with("</");
    let is_void = |tag: &str| {
        let name = tag
            .trim_start_matches('<')
            .split([' ', '>', '/'])
            .next()
            .unwrap_or_default();
        tag.starts_with("<!") || ["meta", "input", "br", "hr", "img", "link"].contains(&name)
    };
    let mut out = String::new();
    let mut depth = 0usize;
    let mut line = |depth: usize, text: &str| {
        out.push_str(&"  ".repeat(depth));
        out.push_str(text);
        out.push('\n');
    };
    let mut i = 0;
    while i < tokens.len() {
        match (&tokens[i], tokens.get(i + 1), tokens.get(i + 2)) {
            (Token::Tag(close), _, _) if is_close(close) => {
                depth = depth.saturating_sub(1);
                line(depth, close);
                i += 1;
            }
            (Token::Tag(tag), _, _) if is_void(tag) => {
                line(depth, tag);
                i += 1;
            }
            (Token::Tag("<style>"), _, Some(Token::Tag("</style>"))) => {
                line(depth, "<style>(the style sheet)</style>");
                i += 3;
            }
            (Token::Tag(open), Some(Token::Text(text)), Some(Token::Tag(close)))
                if is_close(close) && !text.contains('\n') =>
            {
                line(depth, &format!("{open}{}{close}", seen(text)));
                i += 3;
            }
            (Token::Tag(open), Some(Token::Tag(close)), _) if is_close(close) => {
                line(depth, &format!("{open}{close}"));
                i += 2;
            }
            (Token::Tag(open), _, _) => {
                line(depth, open);
                depth += 1;
                i += 1;
            }
            (Token::Text(text), _, _) => {
                for text_line in seen(text).lines() {
                    line(depth, text_line);
                }
                i += 1;
            }
        }
    }
    out
}

/// The page's body as its reader's browser nests it, pinned under
/// `tests/snapshots/pages__<name>.snap`, with its status and what it is about as the
/// snapshot's description.
fn assert_page(name: &str, about: &str, page: &Page) {
    let response = page.render();
    let mut settings = insta::Settings::clone_current();
    settings.set_description(format!("HTTP {}: {about}", response.status));
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name, readable(&response.body)));
}

#[test]
fn the_review_page_of_each_kind_of_quarantine() {
    let cases = [
        (
            "review_managed_policy",
            "alice's CreatePolicy of my-bad-policy-aws-5-mins, quarantined by a new default version",
            assessment_of("create-policy.json"),
        ),
        (
            "review_inline_policy",
            "alice's PutRolePolicy of pipeline-s3-access on role data-pipeline, rewritten",
            assessment_of("put-role-policy.json"),
        ),
        (
            "review_attachment",
            "bob's AttachRolePolicy of AdministratorAccess to role data-pipeline, detached",
            attachment_assessment(),
        ),
        (
            "review_boundary",
            "bob's DeleteRolePermissionsBoundary on role data-pipeline, pipeline-boundary put back",
            boundary_assessment(),
        ),
    ];
    for (name, about, assessment) in cases {
        // GIVEN the case's change, quarantined, its approval open until the deadline
        let request = approval_request(assessment);
        let approve_would = restore_plan_of(&request.quarantine, false).approve_would();
        let found = found(request, ApprovalStatus::Open);
        let key = approval_key().encoded();
        let documents = documents_of(&found.request);
        // WHEN its link is opened
        let page = Page::Review {
            found: &found,
            id: &approval_id(),
            key: &key,
            approve_would: Some(&approve_would),
            documents: &documents,
        };
        // THEN the page is the one pinned for it: the change, the grants, what the quarantine
        // did, the deadline, both documents and the two buttons
        assert_page(name, about, &page);
    }
}

#[test]
fn every_other_page_says_what_happened_and_what_follows() {
    let denied_earlier = decision(Decision::Deny);
    let bad_form = parse_decision_form(b"key=k&decision=maybe").expect_err("an unknown decision");
    let unreadable = {
        // A request recorded without its quarantine: the page cannot show what to decide.
        let mut payload =
            serde_json::to_value(approval_request(assessment_of("create-policy.json"))).unwrap();
        payload.as_object_mut().unwrap().remove("quarantine");
        let events = [HistoryEvent {
            at: REQUESTED_AT,
            kind: EventKind::ApprovalScheduled {
                parameters: json!({"FunctionName": "request-approval", "Payload": payload})
                    .to_string(),
                timeout_seconds: Some(86_400),
            },
        }];
        find_approval(&events, Some(0), REQUESTED_AT).expect_err("the request cannot be read")
    };
    let cases = [
        (
            "recorded_approve",
            "the approval reached Step Functions",
            Page::Recorded {
                decision: Decision::Approve,
            },
        ),
        (
            "recorded_deny",
            "the denial reached Step Functions",
            Page::Recorded {
                decision: Decision::Deny,
            },
        ),
        (
            "already_decided",
            "a click after someone denied at 09:47:12 with a comment",
            Page::AlreadyDecided {
                approval: &denied_earlier,
                at: datetime!(2026-11-21 09:47:13 UTC),
            },
        ),
        (
            "expired",
            "a click after the deadline",
            Page::Expired {
                deadline: Some(deadline()),
            },
        ),
        (
            "closed",
            "a link whose request failed or was replaced",
            Page::Closed,
        ),
        (
            "superseded",
            "a link whose request a newer change to the same policy closed",
            Page::Superseded {
                by: Some("3f1c0a9e5b7d2c41-20261121T094500Z-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"),
            },
        ),
        ("not_found", "an id no execution has", Page::NotFound),
        ("wrong_key", "a key of another request", Page::WrongKey),
        (
            "bad_request",
            "a form whose decision is neither approve nor deny",
            Page::BadRequest(bad_form.to_string()),
        ),
        (
            "method_not_allowed",
            "a DELETE of the link",
            Page::MethodNotAllowed,
        ),
        (
            "unavailable",
            "Step Functions did not answer",
            Page::Unavailable,
        ),
        (
            "broken",
            "the request in the history cannot be read",
            Page::Broken(unreadable.to_string()),
        ),
    ];
    for (name, about, page) in cases {
        assert_page(name, about, &page);
    }
}

// ---------------------------------------------------------------------------------------------
// Statuses and headers
// ---------------------------------------------------------------------------------------------

#[test]
fn every_page_has_its_status_and_strict_headers() {
    let decided = DecisionRecord {
        decision: Decision::Approve,
        ..DecisionRecord::default()
    };
    let found = found(hostile_request(), ApprovalStatus::Open);
    let documents = documents_of(&found.request);
    let id = ApprovalId::parse("run-1").unwrap();
    let at = datetime!(2026-11-21 09:40:00 UTC);
    let cases: Vec<(&str, Page, u16)> = vec![
        (
            "review",
            Page::Review {
                found: &found,
                id: &id,
                key: "k",
                approve_would: None,
                documents: &documents,
            },
            200,
        ),
        (
            "recorded",
            Page::Recorded {
                decision: Decision::Deny,
            },
            200,
        ),
        (
            "bad request",
            Page::BadRequest("the form has no key field".into()),
            400,
        ),
        ("wrong key", Page::WrongKey, 403),
        ("not found", Page::NotFound, 404),
        ("method not allowed", Page::MethodNotAllowed, 405),
        (
            "already decided",
            Page::AlreadyDecided {
                approval: &decided,
                at,
            },
            409,
        ),
        ("expired", Page::Expired { deadline: None }, 410),
        ("closed", Page::Closed, 410),
        ("superseded", Page::Superseded { by: None }, 410),
        ("broken", Page::Broken("bad".into()), 500),
        ("unavailable", Page::Unavailable, 503),
    ];
    for (case, page, status) in cases {
        let response = page.render();
        assert_eq!(response.status, status, "{case}");
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("content-type"),
            Some("text/html; charset=utf-8"),
            "{case}"
        );
        assert_eq!(header("cache-control"), Some("no-store"), "{case}");
        assert!(
            header("content-security-policy")
                .is_some_and(|csp| csp.starts_with("default-src 'none'")),
            "{case}"
        );
        assert_eq!(header("x-content-type-options"), Some("nosniff"), "{case}");
        assert_eq!(header("x-frame-options"), Some("DENY"), "{case}");
        assert_eq!(header("referrer-policy"), Some("no-referrer"), "{case}");
        let allow = (status == 405).then_some("GET, POST");
        assert_eq!(header("allow"), allow, "{case}");
        assert!(response.body.starts_with("<!DOCTYPE html>"), "{case}");
    }
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

#[test]
fn the_review_page_posts_to_its_own_path_with_the_key_in_the_body() {
    let body = review_page("run+1", "KEY123");
    assert!(
        body.contains(r#"<form method="post" action="run%2B1""#),
        "{body}"
    );
    assert!(body.contains(r#"<input type="hidden" name="key" value="KEY123">"#));
}

// ---------------------------------------------------------------------------------------------
// Hostile text is escaped
// ---------------------------------------------------------------------------------------------

const HOSTILE: &str = r#"<script>alert(1)</script>"#;

/// A request whose every free-text field is hostile markup.
fn hostile_request() -> ApprovalRequest {
    request_showing(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}}]}}"#,
        "</pre><script>x()</script>"
    ))
}

/// A request whose free-text fields are hostile markup, about the original document `original`.
fn request_showing(original: &str) -> ApprovalRequest {
    let quarantined = kept(r#"{"Version":"2012-10-17","Statement":[]}"#);
    let original = kept(original);
    serde_json::from_value(json!({
        "taskToken": "t-1",
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:run-1",
        "incident": {
            "id": HOSTILE,
            "eventName": "PutUserPolicy",
            "verdict": "restricted",
            "notify": true,
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
            "document": original,
            "findings": []
        },
        "quarantine": {
            "status": "applied",
            "action": {"kind": "inlineRewritten", "principal": {"kind": "user", "name": "carol"}, "policyName": HOSTILE},
            "originalDocument": original,
            "quarantinedDocument": quarantined,
            "findings": []
        },
        "approvalTimeoutSeconds": 3600
    }))
    .expect("a request")
}

/// The review page of the hostile request, for approval `id` and `key`.
fn review_page(id: &str, key: &str) -> String {
    review_page_of(hostile_request(), id, key)
}

fn review_page_of(request: ApprovalRequest, id: &str, key: &str) -> String {
    let found = found(request, ApprovalStatus::Open);
    let documents = documents_of(&found.request);
    let id = ApprovalId::parse(id).unwrap();
    Page::Review {
        found: &found,
        id: &id,
        key,
        approve_would: None,
        documents: &documents,
    }
    .render()
    .body
}

#[test]
fn hostile_text_from_the_event_and_documents_is_escaped() {
    let body = review_page("run-1", "k");
    assert!(!body.contains("<script"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!body.contains("</pre><script>"));
}

#[test]
fn a_documents_invisible_characters_are_written_out_not_obeyed() {
    // GIVEN a document whose condition key hides a soft hyphen (the condition then limits
    // nothing) and whose value reverses its text, both written as JSON escapes, as IAM takes them
    let original = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:Sour\u00adceVpc":"\u202e1234-cpv"}}}]}"#;
    // WHEN its review page is shown
    let body = review_page_of(request_showing(original), "run-1", "k");
    // THEN each such character is written out by its code point, and none reaches the page
    for shown in ["aws:Sour&lt;U+00AD&gt;ceVpc", "&lt;U+202E&gt;1234-cpv"] {
        assert!(body.contains(shown), "{shown} not in {body}");
    }
    for hidden in ['\u{00AD}', '\u{202E}'] {
        assert!(!body.contains(hidden), "{hidden:?} reached the page");
    }
    assert!(body.contains("shown as &lt;U+"), "{body}");
}

#[test]
fn a_hostile_comment_on_the_already_decided_page_is_escaped() {
    let decided = DecisionRecord {
        decision: Decision::Deny,
        comment: Some(HOSTILE.into()),
        user_agent: Some(HOSTILE.into()),
        ..DecisionRecord::default()
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
