//! The approval harness: moto executing the workflow's RequestApproval state, the real
//! request-approval handler answering moto's Lambda calls (support::workflow), the
//! administrators' emails read back from SQS, and the approval API called with real-shaped API
//! Gateway events.

use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use remediation::handlers::analyse::handle as analyse_change;
use remediation::handlers::approval_api::{ApprovalApiDeps, handle_event};
use remediation::handlers::quarantine::quarantine;
use serde_json::{Value, json};

use crate::support::*;

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
/// Lambda calls (link keys made with the KMS key), and the administrators' emails read back.
pub struct ApprovalStack {
    pub workflow: Workflow,
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
        let workflow = Workflow::start(approval_only_definition()).await;
        ApprovalStack {
            workflow,
            logs,
            _log_guard: log_guard,
        }
    }

    /// Quarantines the walkthrough's bad policy for real, starts an execution that asks for
    /// approval, and returns the email it sent.
    pub async fn request(&self, name: &str, timeout_seconds: u64) -> Requested {
        let moto = &self.workflow.moto;
        let event = event("create-policy.json");
        create_managed_policy(
            &moto.iam_client(),
            "my-bad-policy-aws-5-mins",
            &document_of(&event),
        )
        .await;
        let mut analyse = analyse_deps(moto.iam(), moto.documents());
        analyse.approval_timeout_seconds = timeout_seconds;
        let analysed = analyse_change(event, &analyse).await.unwrap();
        let record = quarantine(INCIDENT, analysed.incident.clone(), &quarantine_deps(moto))
            .await
            .unwrap();
        // The state as RequestApproval gets it: Analyse's output is the whole state (the
        // assessment and the approval deadline), Quarantine's record is added at $.quarantine.
        let mut input = serde_json::to_value(&analysed).unwrap();
        input["quarantine"] = serde_json::to_value(&record).unwrap();
        let execution_arn = self.workflow.start_execution(name, &input).await;
        let email = self
            .workflow
            .email_containing(&format!("{API_URL}/approvals/{name}?key="))
            .await;
        let link = email
            .body
            .split_whitespace()
            .find(|word| word.starts_with(API_URL))
            .expect("the email carries the approval link")
            .to_owned();
        let (path, key) = link[API_URL.len()..]
            .split_once("?key=")
            .expect("the link carries a key");
        let id = path.trim_start_matches("/approvals/").to_owned();
        Requested {
            token: self.workflow.token_of(&execution_arn).await,
            execution_arn,
            subject: email.subject,
            email: email.body,
            id,
            key: key.to_owned(),
            link,
        }
    }

    pub fn api(&self) -> ApprovalApiDeps {
        self.workflow.api()
    }

    pub fn api_at(&self, endpoint: &str) -> ApprovalApiDeps {
        self.workflow.api_at(endpoint)
    }

    /// The API's answer to `fixture`, with `id` and `key` in place of its placeholders.
    pub async fn call(&self, fixture: &str, id: &str, key: &str) -> Answer {
        Answer::from(handle_event(api_event(fixture, id, key), &self.api()).await)
    }

    /// The execution's final output, once it has one.
    pub async fn output(&self, execution_arn: &str) -> Value {
        self.workflow.output(execution_arn).await
    }

    pub async fn status(&self, execution_arn: &str) -> String {
        self.workflow.status(execution_arn).await
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
    let mut state = deployed_definition()["States"]["RequestApproval"].clone();
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
