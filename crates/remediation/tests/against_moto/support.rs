//! A private moto server per test (pinned moto from the project's .venv, on a free loopback
//! port, killed when the test ends), SDK clients pointed at it, and scenario helpers.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use incident::{Incident, PolicyChange, Principal, PrincipalKind, Reading, read_event};
use policy_engine::{Catalog, RestrictedActions};
use remediation::iam::IamPolicies;
use serde_json::Value;

pub const ACCOUNT: &str = "123456789012";
pub const OWN_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer";
pub const RESTRICTED: &str = "s3:DeleteBucket,s3:DeleteObject";

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let server = std::env::var_os("MOTO_SERVER").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/moto_server"))
        });
        assert!(
            server.exists(),
            "moto is not installed at {}: run `make test`, which builds .venv from requirements-dev.txt",
            server.display()
        );
        let port = free_port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start listening on port {port} within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn iam_client(&self) -> aws_sdk_iam::Client {
        iam_client_at(&self.endpoint)
    }

    pub fn iam(&self) -> IamPolicies {
        IamPolicies::new(self.iam_client())
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(test_credentials())
            .build();
        aws_sdk_sns::Client::from_conf(config)
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

fn test_credentials() -> Credentials {
    Credentials::new("testing", "testing", None, None, "tests")
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

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

pub fn restricted() -> RestrictedActions {
    RestrictedActions::parse(RESTRICTED, Catalog::embedded()).expect("valid restricted actions")
}

/// A fixture from tests/fixtures/events.
pub fn event(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixtures are JSON")
}

pub fn change_of(event: &Value) -> PolicyChange {
    match read_event(event, OWN_ROLE_ARN).expect("a valid event") {
        Reading::Change(change) => *change,
        Reading::Ignored { reason, .. } => panic!("fixture is ignored: {reason}"),
    }
}

pub fn document_of(event: &Value) -> String {
    let text = event.pointer("/detail/requestParameters/policyDocument").and_then(Value::as_str).expect("a document");
    policy_engine::decode(text).expect("a decodable document").into_owned()
}

pub fn principal(kind: PrincipalKind, name: &str) -> Principal {
    Principal { kind, name: name.to_owned() }
}

/// JSON text of a document, normalised for comparison.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

/// A policy that grants `s3:GetObject` only.
pub const CLEAN_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// Creates the managed policy an event names, with the given document, in moto.
pub async fn create_managed_policy(iam: &aws_sdk_iam::Client, name: &str, document: &str) -> String {
    let output = iam.create_policy().policy_name(name).policy_document(document).send().await.expect("CreatePolicy");
    output.policy().and_then(|p| p.arn()).expect("an ARN").to_owned()
}

pub fn incident_for(change: PolicyChange) -> Incident {
    Incident {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict: incident::Verdict::Restricted,
        notify: true,
        ignored_reason: None,
        restricted_actions: RESTRICTED.to_owned(),
        document: change.document.clone(),
        version_id: change.version_id.clone(),
        findings: Vec::new(),
        change: Some(change),
    }
}
