//! The approval path against moto executing a real waitForTaskToken. The workflow's own
//! RequestApproval state (taken from statemachine/remediation.asl.json) invokes the real
//! request-approval handler, served in-process to moto's Lambda calls; its email is read back
//! from SQS, and the approval API handler is called with real-shaped API Gateway events
//! (tests/fixtures/api) carrying the emailed link's id and key. The link's key and the
//! decision's proof are MACs made with KMS HMAC keys in moto, as deployed. The attacks on the
//! link (derived keys, keys written otherwise, other content types) are in attacks::links.

pub mod stack;

use approval::{TaskToken, decision_message, decode_proof};
use incident::DecisionRecord;
use remediation::handlers::approval_api::{handle, handle_event};
use serde_json::json;

use crate::support::refused_endpoint;
use stack::{Answer, ApprovalStack, api_event};

// ------------------------------------------------------------------ the request

#[tokio::test(flavor = "current_thread")]
async fn the_email_says_what_changed_who_did_it_what_was_quarantined_and_by_when() {
    // GIVEN a quarantined change waiting for approval
    let stack = ApprovalStack::start().await;
    // WHEN the request goes out
    let requested = stack.request("incident-email", 3600).await;
    // THEN one email names the policy (subject under 100 characters), the call, the person,
    // the address, the restricted actions and their statement, the quarantine and the deadline
    assert!(requested.subject.len() < 100, "{}", requested.subject);
    assert!(requested.subject.contains("my-bad-policy-aws-5-mins"));
    for expected in [
        "CreatePolicy on managed policy my-bad-policy-aws-5-mins",
        "arn:aws:iam::123456789012:user/alice (IAMUser)",
        "203.0.113.24",
        "statement 0 (Sid \"VisualEditor0\"): s3:DeleteBucket",
        "new default version v2",
        "Decide before ",
        &requested.link,
    ] {
        assert!(
            requested.email.contains(expected),
            "missing {expected:?}:\n{}",
            requested.email
        );
    }
    // AND the link is the API's, with the execution's name and a 43-character key
    assert_eq!(requested.id, "incident-email");
    assert_eq!(requested.key.len(), 43);
    // AND its deadline is the one the page gives: Step Functions counts from the task's
    // scheduling, not from when the email went out
    let page = stack
        .call("open-link.json", &requested.id, &requested.key)
        .await;
    let decide_before = |text: &str| {
        let rest = text.split("Decide before ").nth(1)?;
        Some(rest.split('.').next()?.to_owned())
    };
    assert_eq!(decide_before(&requested.email), decide_before(&page.body));
    assert!(decide_before(&page.body).is_some(), "{}", page.body);
}

// ------------------------------------------------------------------ GET

#[tokio::test(flavor = "current_thread")]
async fn opening_the_link_shows_the_request_and_both_documents_and_decides_nothing() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-open", 3600).await;
    // WHEN the link is opened (as a mail scanner would, too)
    let page = stack
        .call("open-link.json", &requested.id, &requested.key)
        .await;
    // THEN the page shows the change, both documents and the two buttons
    assert_eq!(page.status, 200);
    for expected in [
        "my-bad-policy-aws-5-mins",
        "arn:aws:iam::123456789012:user/alice",
        "s3:DeleteBucket",
        "Original (as the change made it)",
        "Quarantined (in force now)",
        "s3:GetBucketObjectLockConfiguration",
        r#"value="approve""#,
        r#"value="deny""#,
    ] {
        assert!(page.body.contains(expected), "missing {expected:?}");
    }
    // AND nothing was decided: the execution still waits
    assert_eq!(stack.status(&requested.execution_arn).await, "RUNNING");
}

#[tokio::test(flavor = "current_thread")]
async fn every_page_forbids_caching_scripts_external_assets_and_framing() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-headers", 3600).await;
    // WHEN its page is opened
    let page = stack
        .call("open-link.json", &requested.id, &requested.key)
        .await;
    // THEN it is not stored, nothing may load or run, and no script or outside URL is in it
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("form-action 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(!page.body.contains("<script"));
    assert!(!page.body.contains("src=") && !page.body.contains("<link"));
    assert!(page.body.contains(r#"name="viewport""#));
}

// ------------------------------------------------------------------ POST

#[tokio::test(flavor = "current_thread")]
async fn approving_sends_the_decision_with_its_context_and_the_workflow_goes_on() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-approve", 3600).await;
    // WHEN Approve is pressed with a comment
    let page = stack
        .call("approve.json", &requested.id, &requested.key)
        .await;
    // THEN the page says it is approved and what happens next
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Approved") && page.body.contains("puts the original policy back"));
    // AND Step Functions got the decision, when, from where, from which browser and why
    let output = stack.output(&requested.execution_arn).await;
    let approval = &output["approval"];
    assert_eq!(approval["decision"], "approve");
    assert_eq!(approval["sourceIp"], "198.51.100.77");
    assert!(approval["userAgent"].as_str().unwrap().contains("iPhone"));
    assert_eq!(
        approval["comment"],
        "Needed for the bucket migration, OPS-1234"
    );
    assert!(approval["decidedAt"].as_str().unwrap().starts_with("20"));
    // AND it carries the page's proof: the decision key's MAC of it, for this execution's
    // request only (not another execution's, nor another request's of the same name)
    let record: DecisionRecord = serde_json::from_value(approval.clone()).unwrap();
    let proof = decode_proof(&record).expect("the decision carries a proof");
    let keys = &stack.workflow.decision_keys;
    let token = TaskToken::new(requested.token.clone());
    let here = decision_message(&requested.execution_arn, &token, &record);
    let elsewhere = decision_message(&format!("{}-2", requested.execution_arn), &token, &record);
    let other_request = decision_message(
        &requested.execution_arn,
        &TaskToken::new("another"),
        &record,
    );
    assert!(keys.verify(&here, &proof).await.unwrap());
    assert!(!keys.verify(&elsewhere, &proof).await.unwrap());
    assert!(!keys.verify(&other_request, &proof).await.unwrap());
}

#[tokio::test(flavor = "current_thread")]
async fn denying_sends_deny_without_an_empty_comment() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-deny", 3600).await;
    // WHEN Deny is pressed with the comment left empty
    let page = stack.call("deny.json", &requested.id, &requested.key).await;
    // THEN the page says the quarantine stays, and the decision reached the workflow
    assert_eq!(page.status, 200);
    assert!(page.body.contains("the quarantine stays"));
    let approval = stack.output(&requested.execution_arn).await["approval"].clone();
    assert_eq!(approval["decision"], "deny");
    assert_eq!(approval["sourceIp"], "203.0.113.9");
    assert!(approval.get("comment").is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn a_reused_link_gets_409_saying_which_decision_won_and_when() {
    // GIVEN a request already approved
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-reuse", 3600).await;
    let first = stack
        .call("approve.json", &requested.id, &requested.key)
        .await;
    assert_eq!(first.status, 200);
    // WHEN the link is used again, to deny, and opened again
    let again = stack.call("deny.json", &requested.id, &requested.key).await;
    let opened = stack
        .call("open-link.json", &requested.id, &requested.key)
        .await;
    // THEN both say it was already approved, and when, and nothing changed
    for page in [&again, &opened] {
        assert_eq!(page.status, 409);
        assert!(page.body.contains("already approved"), "{}", page.body);
        assert!(page.body.contains("198.51.100.77"));
    }
    let approval = stack.output(&requested.execution_arn).await["approval"].clone();
    assert_eq!(approval["decision"], "approve");
}

#[tokio::test(flavor = "current_thread")]
async fn approve_and_deny_pressed_at_once_exactly_one_wins() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-race", 3600).await;
    let deps = stack.api();
    let approve = api_event("approve.json", &requested.id, &requested.key);
    let deny = api_event("deny.json", &requested.id, &requested.key);
    // WHEN both buttons are pressed at the same moment (and Approve twice, a double click)
    let (a, d, a2) = tokio::join!(
        handle(serde_json::from_value(approve.clone()).unwrap(), &deps),
        handle(serde_json::from_value(deny).unwrap(), &deps),
        handle(serde_json::from_value(approve).unwrap(), &deps),
    );
    let answers = [Answer::from(a), Answer::from(d), Answer::from(a2)];
    // THEN exactly one got 200, the others 409, and the workflow has that one's decision
    let statuses: Vec<i64> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        2,
        "{statuses:?}"
    );
    let winner = if answers[1].status == 200 {
        "deny"
    } else {
        "approve"
    };
    let approval = stack.output(&requested.execution_arn).await["approval"].clone();
    assert_eq!(approval["decision"], winner);
}

// ------------------------------------------------------------------ refusals

#[tokio::test(flavor = "current_thread")]
async fn a_wrong_key_gets_403_and_decides_nothing() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-wrong-key", 3600).await;
    let mut wrong = requested.key.clone();
    wrong.replace_range(..1, if wrong.starts_with('A') { "B" } else { "A" });
    // WHEN the link is opened or Approve posted with a key one character off
    let opened = stack.call("open-link.json", &requested.id, &wrong).await;
    let posted = stack.call("approve.json", &requested.id, &wrong).await;
    // THEN both get 403, the page shows nothing of the request, and the execution still waits
    for page in [&opened, &posted] {
        assert_eq!(page.status, 403);
        assert!(!page.body.contains("my-bad-policy-aws-5-mins"));
    }
    assert_eq!(stack.status(&requested.execution_arn).await, "RUNNING");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unknown_approval_id_gets_404() {
    // GIVEN a running stack and a key of some other request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-known", 3600).await;
    // WHEN a link names an execution that does not exist
    let page = stack
        .call("open-link.json", "incident-unknown", &requested.key)
        .await;
    // THEN 404
    assert_eq!(page.status, 404);
    assert!(page.body.contains("No such approval"));
}

#[tokio::test(flavor = "current_thread")]
async fn after_the_deadline_the_link_gets_410_saying_the_quarantine_stayed() {
    // GIVEN a request with a one-second deadline, which passes
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-expired", 1).await;
    let output = stack.output(&requested.execution_arn).await;
    assert_eq!(output["error"]["Error"], "States.Timeout");
    // WHEN the link is opened, and Approve posted
    let opened = stack
        .call("open-link.json", &requested.id, &requested.key)
        .await;
    let posted = stack
        .call("approve.json", &requested.id, &requested.key)
        .await;
    // THEN both get 410 and say the quarantine stayed
    for page in [&opened, &posted] {
        assert_eq!(page.status, 410);
        assert!(page.body.contains("the quarantine stayed"), "{}", page.body);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn malformed_requests_get_400_naming_the_problem() {
    // GIVEN an approval request
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-malformed", 3600).await;
    let (id, key) = (requested.id.as_str(), requested.key.as_str());
    // WHEN requests arrive without a key, with both decisions, with a broken body, with an id
    // no execution can have, or not from API Gateway at all
    let cases = [
        (
            stack.call("open-link-without-key.json", id, key).await,
            "no key",
        ),
        (
            stack.call("both-buttons.json", id, key).await,
            "more than one decision",
        ),
        (
            stack.call("decision-not-base64.json", id, key).await,
            "not valid base64",
        ),
        (stack.call("open-link.json", "a:b", key).await, "contains"),
        (
            Answer::from(handle_event(json!({"hello": "world"}), &stack.api()).await),
            "not an API Gateway HTTP API event",
        ),
    ];
    // THEN each gets 400 with the problem named, and nothing is decided
    for (page, problem) in cases {
        assert_eq!(page.status, 400, "{problem}");
        assert!(page.body.contains(problem), "{problem}: {}", page.body);
    }
    assert_eq!(stack.status(&requested.execution_arn).await, "RUNNING");
}

#[tokio::test(flavor = "current_thread")]
async fn other_methods_get_405() {
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-method", 3600).await;
    let page = stack
        .call("delete-method.json", &requested.id, &requested.key)
        .await;
    assert_eq!(page.status, 405);
    assert_eq!(page.header("allow"), Some("GET, POST"));
}

#[tokio::test(flavor = "current_thread")]
async fn when_step_functions_cannot_be_reached_the_answer_is_503_and_safe_to_retry() {
    // GIVEN an approval request, and an API whose Step Functions endpoint refuses connections
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-unreachable", 3600).await;
    let unreachable = stack.api_at(&refused_endpoint());
    // WHEN Approve is pressed
    let page = Answer::from(
        handle_event(
            api_event("approve.json", &requested.id, &requested.key),
            &unreachable,
        )
        .await,
    );
    // THEN 503, saying nothing was decided and a retry is safe; and a retry then works
    assert_eq!(page.status, 503);
    assert!(page.body.contains("safe to try again"));
    assert_eq!(stack.status(&requested.execution_arn).await, "RUNNING");
    let retried = stack
        .call("approve.json", &requested.id, &requested.key)
        .await;
    assert_eq!(retried.status, 200);
}

// ------------------------------------------------------------------ the token stays secret

#[tokio::test(flavor = "current_thread")]
async fn the_task_token_appears_in_no_email_link_page_or_log_line() {
    // GIVEN a whole approval: request, page opened, a wrong key tried, approved, reused
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-secret", 3600).await;
    let mut seen = vec![
        requested.subject.clone(),
        requested.email.clone(),
        requested.link.clone(),
    ];
    for (fixture, key) in [
        ("open-link.json", requested.key.as_str()),
        (
            "approve.json",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ),
        ("approve.json", requested.key.as_str()),
        ("deny.json", requested.key.as_str()),
    ] {
        let page = stack.call(fixture, &requested.id, key).await;
        seen.push(page.body.clone());
        seen.extend(page.headers.iter().map(|(k, v)| format!("{k}: {v}")));
    }
    stack.output(&requested.execution_arn).await;
    let logs = stack.logs.text();
    assert!(
        logs.contains("approval requested"),
        "the logs were captured: {logs}"
    );
    seen.push(logs);
    // THEN the token is nowhere, nor is the key in any log line
    for text in &seen {
        assert!(
            !text.contains(&requested.token),
            "the token leaked into: {text}"
        );
    }
    assert!(
        !stack.logs.text().contains(&requested.key),
        "the key leaked into the logs"
    );
}
