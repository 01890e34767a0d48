//! The approval harness: moto executing the workflow's RequestApproval state, the real
//! request-approval handler answering moto's Lambda calls, the administrators' emails read back
//! from SQS, and the approval API called with real-shaped API Gateway events.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use remediation::executions::ApprovalTasks;
use remediation::handlers::analyse::handle as analyse_change;
use remediation::handlers::approval_api::{ApprovalApiDeps, handle_event};
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
pub struct Captured(Arc<Mutex<Vec<u8>>>);

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
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// moto executing the RequestApproval state, the request-approval handler answering its
/// Lambda calls, and an SQS queue receiving the administrators' emails.
pub struct ApprovalStack {
    moto: Moto,
    machine_arn: String,
    queue_url: String,
    pub logs: Captured,
    _log_guard: tracing::subscriber::DefaultGuard,
}

/// An approval request as the administrator receives it, plus the token (read by the test
/// from the history, only to prove it never shows up anywhere else).
pub struct Requested {
    pub execution_arn: String,
    pub token: String,
    pub subject: String,
    pub email: String,
    pub link: String,
    pub id: String,
    pub key: String,
}

impl ApprovalStack {
    pub async fn start() -> ApprovalStack {
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
    pub async fn request(&self, name: &str, timeout_seconds: u64) -> Requested {
        let event = event("create-policy.json");
        create_managed_policy(
            &self.moto.iam_client(),
            "my-bad-policy-aws-5-mins",
            &document_of(&event),
        )
        .await;
        let mut analyse = analyse_deps(self.moto.iam());
        analyse.approval_timeout_seconds = timeout_seconds;
        let analysed = analyse_change(event, &analyse).await.unwrap();
        let record = quarantine(
            QuarantineInput {
                incident: analysed.incident.clone(),
            },
            &quarantine_deps(&self.moto),
        )
        .await
        .unwrap();
        // The state as RequestApproval gets it: Analyse's output is the whole state (the
        // assessment and the approval deadline), Quarantine's record is added at $.quarantine.
        let mut input = serde_json::to_value(&analysed).unwrap();
        input["quarantine"] = serde_json::to_value(&record).unwrap();
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

    pub fn api(&self) -> ApprovalApiDeps {
        self.api_at(&self.moto.endpoint)
    }

    pub fn api_at(&self, endpoint: &str) -> ApprovalApiDeps {
        ApprovalApiDeps {
            tasks: ApprovalTasks {
                client: sfn_client_at(endpoint),
                state_machine: approval::StateMachine::parse(&self.machine_arn).unwrap(),
            },
        }
    }

    /// The API's answer to `fixture`, with `id` and `key` in place of its placeholders.
    pub async fn call(&self, fixture: &str, id: &str, key: &str) -> Answer {
        Answer::from(handle_event(api_event(fixture, id, key), &self.api()).await)
    }

    /// The execution's final output, once it has one.
    pub async fn output(&self, execution_arn: &str) -> Value {
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

    pub async fn status(&self, execution_arn: &str) -> String {
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
pub struct Answer {
    pub status: i64,
    pub headers: Vec<(String, String)>,
    pub body: String,
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
    pub fn header(&self, name: &str) -> Option<&str> {
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
pub fn api_event(name: &str, id: &str, key: &str) -> Value {
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
