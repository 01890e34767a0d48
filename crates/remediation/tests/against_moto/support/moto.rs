//! A private moto server per test (pinned moto from the project's .venv, started by
//! `local/moto_server.py`, on a loopback port it binds and then names, killed when the test
//! ends), and SDK clients pointed at it or at any endpoint.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use remediation::decisions::DecisionTable;
use remediation::documents::DocumentStore;
use remediation::iam::IamPolicies;

/// The document store's table, as the template names it for the stack `iam-sentinel`.
pub const DOCUMENT_TABLE: &str = "iam-sentinel-documents";
/// The decision record's table, likewise.
pub const DECISION_TABLE: &str = "iam-sentinel-decisions";

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// With extra environment, e.g. `MOTO_PORT`: where moto's state machine interpreter sends
    /// the service calls it makes (Lambda invocations among them).
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let python = root.join(".venv/bin/python3");
        assert!(
            python.exists(),
            "moto is not installed at {}: run `make test`, which builds .venv from requirements-dev.txt",
            python.display()
        );
        // moto's server with DynamoDB's writes atomic, as in AWS (see the script)
        let server = root.join("local/moto_server.py");
        // Port 0: the kernel picks the port as moto binds it. A port picked here and released
        // could go, in between, to a server another test binds to port 0.
        let mut child = Command::new(&python)
            .arg(&server)
            .args(["-p", "0"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let port = listening_port(&mut child);
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        moto.create_table(DOCUMENT_TABLE, "sha256");
        moto.create_table(DECISION_TABLE, "pk");
        moto
    }

    /// A table keyed as the template's `DocumentTable` (`sha256`) or `DecisionTable` (`pk`).
    fn create_table(&self, name: &str, key: &str) {
        let body = format!(
            r#"{{"TableName":"{name}","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{{"AttributeName":"{key}","AttributeType":"S"}}],"KeySchema":[{{"AttributeName":"{key}","KeyType":"HASH"}}]}}"#
        );
        let answer = self.post(
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", "DynamoDB_20120810.CreateTable"),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                ),
            ],
            &body,
        );
        assert!(answer.starts_with("HTTP/1.1 20"), "CreateTable: {answer}");
    }

    /// Keeps `text` in the document store, as Analyse does with the document it analysed.
    pub async fn keep(&self, text: &str) {
        self.documents()
            .put(text)
            .await
            .expect("the document is kept");
    }

    /// The document store on this moto.
    pub fn documents(&self) -> DocumentStore {
        documents_at(&self.endpoint)
    }

    /// The decision record on this moto.
    pub fn decisions(&self) -> DecisionTable {
        decisions_at(&self.endpoint)
    }

    pub fn iam_client(&self) -> aws_sdk_iam::Client {
        iam_client_at(&self.endpoint)
    }

    pub fn iam(&self) -> IamPolicies {
        IamPolicies::new(self.iam_client())
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        sns_client_at(&self.endpoint)
    }

    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(test_credentials())
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        sfn_client_at(&self.endpoint)
    }

    /// Switches on execution of state machines (off by default; before CreateStateMachine).
    pub fn execute_state_machines(&self) {
        let body =
            r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#;
        let answer = self.post(
            "/moto-api/config",
            &[("Content-Type", "application/json")],
            body,
        );
        assert!(answer.starts_with("HTTP/1.1 20"), "moto config: {answer}");
    }

    /// A plain HTTP POST to moto (before any SDK client, or where no SDK call exists).
    fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> String {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("moto is listening");
        let headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto answers");
        answer
    }

    pub fn kms(&self) -> aws_sdk_kms::Client {
        kms_client_at(&self.endpoint)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(test_credentials())
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port `local/moto_server.py` says it listens on (its first line of stdout); a panic with
/// its stderr if it exits first or says nothing within 60 s.
fn listening_port(child: &mut Child) -> u16 {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // Drained while moto runs (it logs each request there), so a full pipe never blocks it.
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (said, first_line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = said.send(line);
    });
    let line = first_line
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_default();
    if let Ok(port) = line.trim().parse() {
        return port;
    }
    let _ = child.kill();
    let status = child.wait().expect("moto is waited for");
    panic!(
        "moto did not start ({status}); its stdout began {line:?}, its stderr:\n{}",
        errors.join().unwrap_or_default()
    );
}

pub(super) fn test_credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "tests")
}

/// The document store at any endpoint; one attempt only.
pub fn documents_at(endpoint: &str) -> DocumentStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    DocumentStore {
        client: aws_sdk_dynamodb::Client::from_conf(config),
        table: DOCUMENT_TABLE.into(),
    }
}

/// The decision record at any endpoint (400 days' retention, as deployed); one attempt only.
pub fn decisions_at(endpoint: &str) -> DecisionTable {
    DecisionTable {
        client: documents_at(endpoint).client,
        table: DECISION_TABLE.into(),
        retention: std::time::Duration::from_secs(400 * 24 * 3600),
    }
}

/// An IAM client for any endpoint; one attempt only, so error classification is what is tested.
pub fn iam_client_at(endpoint: &str) -> aws_sdk_iam::Client {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_iam::Client::from_conf(config)
}

/// A Step Functions client for any endpoint; one attempt only, like the IAM one.
pub fn sfn_client_at(endpoint: &str) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

/// An SNS client for any endpoint.
pub fn sns_client_at(endpoint: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// A KMS client for any endpoint; one attempt only, like the IAM one.
pub fn kms_client_at(endpoint: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// An EventBridge client for any endpoint; one attempt only, like [`iam_client_at`].
pub fn events_client_at(endpoint: &str) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .retry_config(
            aws_sdk_eventbridge::config::retry::RetryConfig::standard().with_max_attempts(1),
        )
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A loopback address nothing listens on: a call there is refused. Its port stays bound, never
/// listening, until the test binary exits (the socket is leaked), so no server another test
/// binds to port 0 can get it.
pub fn refused_endpoint() -> String {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(([127, 0, 0, 1], 0).into())
        .expect("a loopback port");
    let port = socket.local_addr().expect("its address").port();
    std::mem::forget(socket);
    format!("http://127.0.0.1:{port}")
}
