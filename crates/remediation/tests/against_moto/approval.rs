//! The approval path against moto executing a real waitForTaskToken. The workflow's own
//! RequestApproval state (taken from statemachine/remediation.asl.json) invokes the real
//! request-approval handler, served in-process to moto's Lambda calls; its email is read back
//! from SQS, and the approval API handler is called with real-shaped API Gateway events
//! (tests/fixtures/api) carrying the emailed link's id and key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use remediation::executions::ApprovalTasks;
use remediation::handlers::analyse::{AnalyseDeps, handle as analyse_change};
use remediation::handlers::approval_api::{ApprovalApiDeps, handle, handle_event};
use remediation::handlers::quarantine::{QuarantineInput, handle as quarantine};
use remediation::handlers::request_approval::{RequestApprovalDeps, handle as request_approval};
use remediation::publisher::Notifier;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::*;

const API_URL: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";
const MACHINE_NAME: &str = "iam-sentinel-remediation";

/// Everything a run wrote where a person or a log reader could see it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// moto executing the RequestApproval state, the request-approval handler answering its
/// Lambda calls, and an SQS queue receiving the administrators' emails.
struct ApprovalStack {
    moto: Moto,
    machine_arn: String,
    queue_url: String,
    logs: Captured,
    _log_guard: tracing::subscriber::DefaultGuard,
}

/// An approval request as the administrator receives it, plus the token (read by the test
/// from the history, only to prove it never shows up anywhere else).
struct Requested {
    execution_arn: String,
    token: String,
    subject: String,
    email: String,
    link: String,
    id: String,
    key: String,
}

impl ApprovalStack {
    async fn start() -> ApprovalStack {
        // Logs at the level the functions run with (RUST_LOG=info), on this test's thread.
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let log_guard = tracing::subscriber::set_default(subscriber);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let lambda_port = listener.local_addr().unwrap().port().to_string();
        let moto = Moto::start_with_env(&[("MOTO_PORT", &lambda_port)]);
        moto.execute_state_machines();
        let topic_arn = moto
            .sns()
            .create_topic()
            .name("iam-sentinel-notifications")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_owned();
        let queue_url = subscribe_queue(&moto, &topic_arn).await;
        let deps = RequestApprovalDeps {
            notifier: Notifier {
                sns: moto.sns(),
                topic_arn,
            },
            approval_url: API_URL.into(),
        };
        tokio::spawn(serve_request_approval(listener, Arc::new(deps)));
        let machine_arn = moto
            .sfn()
            .create_state_machine()
            .name(MACHINE_NAME)
            .definition(approval_only_definition().to_string())
            .role_arn("arn:aws:iam::123456789012:role/iam-sentinel-state-machine")
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned();
        ApprovalStack {
            moto,
            machine_arn,
            queue_url,
            logs,
            _log_guard: log_guard,
        }
    }

    /// Quarantines the walkthrough's bad policy for real, starts an execution that asks for
    /// approval, and returns the email it sent.
    async fn request(&self, name: &str, timeout_seconds: u64) -> Requested {
        let event = event("create-policy.json");
        create_managed_policy(
            &self.moto.iam_client(),
            "my-bad-policy-aws-5-mins",
            &document_of(&event),
        )
        .await;
        let analyse = AnalyseDeps {
            iam: self.moto.iam(),
            restricted: restricted(),
            own_role_arn: OWN_ROLE_ARN.into(),
            notify_on_clean: false,
        };
        let incident = analyse_change(event, &analyse).await.unwrap();
        let record = quarantine(
            QuarantineInput {
                incident: incident.clone(),
            },
            &quarantine_deps(&self.moto),
        )
        .await
        .unwrap();
        let input = json!({
            "incident": incident,
            "quarantine": record,
            "approvalTimeoutSeconds": timeout_seconds,
        });
        let execution_arn = self
            .moto
            .sfn()
            .start_execution()
            .state_machine_arn(&self.machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .unwrap()
            .execution_arn()
            .to_owned();
        let (subject, email) = self.next_email().await;
        let link = email
            .split_whitespace()
            .find(|word| word.starts_with(API_URL))
            .expect("the email carries the approval link")
            .to_owned();
        let (path, key) = link[API_URL.len()..]
            .split_once("?key=")
            .expect("the link carries a key");
        let id = path.trim_start_matches("/approvals/").to_owned();
        Requested {
            token: self.token_of(&execution_arn).await,
            execution_arn,
            subject,
            email,
            id,
            key: key.to_owned(),
            link,
        }
    }

    async fn next_email(&self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let received = self
                .moto
                .sqs()
                .receive_message()
                .queue_url(&self.queue_url)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            if let Some(message) = received.messages().first() {
                let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                return (
                    body["Subject"].as_str().unwrap_or_default().to_owned(),
                    body["Message"].as_str().unwrap().to_owned(),
                );
            }
            assert!(Instant::now() < deadline, "no approval email within 60 s");
        }
    }

    /// The token, as only Step Functions and the approval API ever see it.
    async fn token_of(&self, execution_arn: &str) -> String {
        let history = self.history(execution_arn).await;
        history
            .iter()
            .find_map(|event| {
                let parameters = event.task_scheduled_event_details()?.parameters();
                let parameters: Value = serde_json::from_str(parameters).ok()?;
                parameters["Payload"]["taskToken"]
                    .as_str()
                    .map(str::to_owned)
            })
            .expect("a scheduled approval task")
    }

    async fn history(&self, execution_arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
        self.moto
            .sfn()
            .get_execution_history()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap()
            .events()
            .to_vec()
    }

    fn api(&self) -> ApprovalApiDeps {
        self.api_at(&self.moto.endpoint)
    }

    fn api_at(&self, endpoint: &str) -> ApprovalApiDeps {
        ApprovalApiDeps {
            tasks: ApprovalTasks {
                client: sfn_client_at(endpoint),
                state_machine: approval::StateMachine::parse(&self.machine_arn).unwrap(),
            },
        }
    }

    /// The API's answer to `fixture`, with `id` and `key` in place of its placeholders.
    async fn call(&self, fixture: &str, id: &str, key: &str) -> Answer {
        Answer::from(handle_event(api_event(fixture, id, key), &self.api()).await)
    }

    /// The execution's final output, once it has one.
    async fn output(&self, execution_arn: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let execution = self
                .moto
                .sfn()
                .describe_execution()
                .execution_arn(execution_arn)
                .send()
                .await
                .unwrap();
            if let Some(output) = execution.output() {
                return serde_json::from_str(output).unwrap();
            }
            assert!(Instant::now() < deadline, "the execution did not end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn status(&self, execution_arn: &str) -> String {
        self.moto
            .sfn()
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap()
            .status()
            .as_str()
            .to_owned()
    }
}

/// The answer as a browser sees it.
#[derive(Debug, Clone)]
struct Answer {
    status: i64,
    headers: Vec<(String, String)>,
    body: String,
}

impl From<ApiGatewayV2httpResponse> for Answer {
    fn from(response: ApiGatewayV2httpResponse) -> Answer {
        let body = match response.body {
            Some(Body::Text(text)) => text,
            other => panic!("pages are text, not {other:?}"),
        };
        Answer {
            status: response.status_code,
            headers: response
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
                .collect(),
            body,
        }
    }
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The workflow's RequestApproval state, unchanged but for where it goes next.
fn approval_only_definition() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine/remediation.asl.json"
    );
    let asl: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut state = asl["States"]["RequestApproval"].clone();
    state["Parameters"]["FunctionName"] =
        json!("arn:aws:lambda:us-east-1:123456789012:function:iam-sentinel-request-approval");
    state["Next"] = json!("Decided");
    state["Catch"] = json!([
        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}
    ]);
    json!({
        "StartAt": "RequestApproval",
        "States": {
            "RequestApproval": state,
            "Decided": {"Type": "Pass", "End": true},
            "TimedOut": {"Type": "Pass", "End": true},
            "Failed": {"Type": "Fail", "Error": "RequestFailed"}
        }
    })
}

async fn subscribe_queue(moto: &Moto, topic_arn: &str) -> String {
    let sqs = moto.sqs();
    let queue_url = sqs
        .create_queue()
        .queue_name("administrators")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = "arn:aws:sqs:us-east-1:123456789012:administrators";
    moto.sns()
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    queue_url
}

/// Answers moto's Lambda Invoke calls with the real request-approval handler, as Lambda does:
/// 200 with `X-Amz-Function-Error` for a function error, and always a request id.
async fn serve_request_approval(listener: TcpListener, deps: Arc<RequestApprovalDeps>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let deps = deps.clone();
        tokio::spawn(async move {
            let payload = read_http_body(&mut stream).await;
            let result = match remediation::error::parse_input(payload) {
                Ok(request) => request_approval(request, &deps).await,
                Err(e) => Err(e),
            };
            let (extra, body) = match result {
                Ok(done) => (String::new(), serde_json::to_string(&done).unwrap()),
                Err(e) => (
                    "X-Amz-Function-Error: Unhandled\r\n".to_owned(),
                    json!({"errorType": e.error_type(), "errorMessage": e.to_string()}).to_string(),
                ),
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: test-{}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                std::process::id(),
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        });
    }
}

async fn read_http_body(stream: &mut tokio::net::TcpStream) -> Value {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before the headers ended");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let headers = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let length: usize = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before the body ended");
        buffer.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice(&buffer[header_end..header_end + length]).unwrap()
}

/// A fixture from tests/fixtures/api with the approval's id and key in place.
fn api_event(name: &str, id: &str, key: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text.replace("APPROVAL_ID", id).replace("APPROVAL_KEY", key);
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let body = event["body"].as_str().map(|b| STANDARD.decode(b));
    if let (true, Some(Ok(decoded))) = (event["isBase64Encoded"] == json!(true), body) {
        let form = String::from_utf8(decoded)
            .unwrap()
            .replace("APPROVAL_KEY", key);
        event["body"] = json!(STANDARD.encode(form));
    }
    event
}

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
        "statement 0 (Sid VisualEditor0): s3:DeleteBucket",
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
    // AND the link is the API's, with the execution's name and a 32-character key
    assert_eq!(requested.id, "incident-email");
    assert_eq!(requested.key.len(), 32);
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
    let unreachable = stack.api_at(&format!("http://127.0.0.1:{}", free_port()));
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
        ("approve.json", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
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
