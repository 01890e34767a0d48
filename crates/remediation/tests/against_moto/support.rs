//! A private moto server per test (pinned moto from the project's .venv, on a free loopback
//! port, killed when the test ends), SDK clients pointed at it, and scenario helpers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region};
use incident::{
    Incident, PolicyChange, Principal, PrincipalKind, QuarantineRecord, Reading, RestoreRecord,
    read_event,
};
use policy_engine::{Catalog, RestrictedActions};
use remediation::handlers::quarantine::QuarantineInput;
use remediation::handlers::restore::{RestoreDeps, RestoreInput};
use remediation::iam::IamPolicies;
use serde_json::Value;

pub const OWN_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer";
pub const RESTRICTED: &str = "s3:DeleteBucket,s3:DeleteObject";

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
        let server = std::env::var_os("MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../.venv/bin/moto_server"
                ))
            });
        assert!(
            server.exists(),
            "moto is not installed at {}: run `make test`, which builds .venv from requirements-dev.txt",
            server.display()
        );
        let port = free_port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start listening on port {port} within 60 s"
            );
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

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        sfn_client_at(&self.endpoint)
    }

    /// Switches on execution of state machines (off by default; before CreateStateMachine).
    pub fn execute_state_machines(&self) {
        let body =
            r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#;
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("moto is listening");
        write!(
            stream,
            "POST /moto-api/config HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request sent");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto answers");
        assert!(answer.starts_with("HTTP/1.1 20"), "moto config: {answer}");
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

pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn restricted() -> RestrictedActions {
    RestrictedActions::parse(RESTRICTED, Catalog::embedded()).expect("valid restricted actions")
}

/// A fixture from tests/fixtures/events.
pub fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
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
    let text = event
        .pointer("/detail/requestParameters/policyDocument")
        .and_then(Value::as_str)
        .expect("a document");
    policy_engine::decode(text)
        .expect("a decodable document")
        .into_owned()
}

pub fn principal(kind: PrincipalKind, name: &str) -> Principal {
    Principal {
        kind,
        name: name.to_owned(),
    }
}

/// JSON text of a document, normalised for comparison.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

/// A policy that grants `s3:GetObject` only.
pub const CLEAN_DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// Creates the managed policy an event names, with the given document, in moto.
pub async fn create_managed_policy(
    iam: &aws_sdk_iam::Client,
    name: &str,
    document: &str,
) -> String {
    let output = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .expect("CreatePolicy");
    output
        .policy()
        .and_then(|p| p.arn())
        .expect("an ARN")
        .to_owned()
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

/// A trust policy that lets Lambda assume a role (moto requires one to create a role).
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Creates the user, role or group in moto.
pub async fn create_principal(iam: &aws_sdk_iam::Client, principal: &Principal) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.create_user()
                .user_name(name)
                .send()
                .await
                .expect("CreateUser"),
        ),
        PrincipalKind::Role => drop(
            iam.create_role()
                .role_name(name)
                .assume_role_policy_document(LAMBDA_TRUST)
                .send()
                .await
                .expect("CreateRole"),
        ),
        PrincipalKind::Group => drop(
            iam.create_group()
                .group_name(name)
                .send()
                .await
                .expect("CreateGroup"),
        ),
    }
}

/// Writes an inline policy straight through the SDK (set-up, independent of the code under test).
pub async fn put_inline_policy(
    iam: &aws_sdk_iam::Client,
    principal: &Principal,
    policy_name: &str,
    document: &str,
) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.put_user_policy()
                .user_name(name)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .expect("PutUserPolicy"),
        ),
        PrincipalKind::Role => drop(
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .expect("PutRolePolicy"),
        ),
        PrincipalKind::Group => drop(
            iam.put_group_policy()
                .group_name(name)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .expect("PutGroupPolicy"),
        ),
    }
}

/// An inline policy's document as IAM hands it out now (decoded), read straight through the SDK.
pub async fn inline_policy(
    iam: &aws_sdk_iam::Client,
    principal: &Principal,
    policy_name: &str,
) -> String {
    let name = principal.name.as_str();
    let document = match principal.kind {
        PrincipalKind::User => {
            iam.get_user_policy()
                .user_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .expect("GetUserPolicy")
                .policy_document
        }
        PrincipalKind::Role => {
            iam.get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .expect("GetRolePolicy")
                .policy_document
        }
        PrincipalKind::Group => {
            iam.get_group_policy()
                .group_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .expect("GetGroupPolicy")
                .policy_document
        }
    };
    policy_engine::decode(&document)
        .expect("a decodable document")
        .into_owned()
}

pub async fn attach_policy(iam: &aws_sdk_iam::Client, principal: &Principal, policy_arn: &str) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.attach_user_policy()
                .user_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .expect("AttachUserPolicy"),
        ),
        PrincipalKind::Role => drop(
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .expect("AttachRolePolicy"),
        ),
        PrincipalKind::Group => drop(
            iam.attach_group_policy()
                .group_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .expect("AttachGroupPolicy"),
        ),
    }
}

/// The ARNs `ListAttached{User,Role,Group}Policies` lists for the principal (first page: tests
/// attach a handful at most).
pub async fn attached_policies(iam: &aws_sdk_iam::Client, principal: &Principal) -> Vec<String> {
    let name = principal.name.as_str();
    let attached = match principal.kind {
        PrincipalKind::User => {
            iam.list_attached_user_policies()
                .user_name(name)
                .send()
                .await
                .expect("ListAttachedUserPolicies")
                .attached_policies
        }
        PrincipalKind::Role => {
            iam.list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .expect("ListAttachedRolePolicies")
                .attached_policies
        }
        PrincipalKind::Group => {
            iam.list_attached_group_policies()
                .group_name(name)
                .send()
                .await
                .expect("ListAttachedGroupPolicies")
                .attached_policies
        }
    };
    attached
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.policy_arn)
        .collect()
}

/// An SNS client for any endpoint; one attempt only, like [`iam_client_at`].
pub fn sns_client_at(endpoint: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(test_credentials())
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_sns::Client::from_conf(config)
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

/// An SQS queue to read deliveries back from: its URL and ARN.
pub struct Queue {
    pub url: String,
    pub arn: String,
}

pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Queue {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes");
    let arn = attributes
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("a queue ARN");
    Queue { url, arn }
}

/// Receives the queue's messages: polls at most `tries` times (up to 1 s each) and returns the
/// bodies of the first non-empty answer, or nothing once the tries are used up.
pub async fn receive(sqs: &aws_sdk_sqs::Client, queue: &Queue, tries: usize) -> Vec<String> {
    for _ in 0..tries {
        let output = sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        let bodies: Vec<String> = output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.body)
            .collect();
        if !bodies.is_empty() {
            return bodies;
        }
    }
    Vec::new()
}

/// A stand-in AWS endpoint on 127.0.0.1 that gives every request the same canned HTTP answer.
/// Bounded: it answers at most `max_requests` requests, gives up after 30 s, and stops (its
/// thread joined) when dropped.
pub struct CannedServer {
    pub endpoint: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CannedServer {
    pub fn answering(
        status: u16,
        content_type: &str,
        body: &str,
        max_requests: usize,
    ) -> CannedServer {
        let response = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             x-amzn-RequestId: 6f1f7b1e-0000-4000-8000-000000000000\r\nConnection: close\r\n\r\n{body}",
            reason_phrase(status),
            body.len()
        );
        CannedServer::answering_raw(response, max_requests)
    }

    /// Answers every request with `response` as it is (status line, headers, body), then closes
    /// the connection: for answers a well-behaved server would not give.
    pub fn answering_raw(response: String, max_requests: usize) -> CannedServer {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut answered = 0;
                while answered < max_requests
                    && !stop.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            answered += 1;
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                            let request = read_request(&mut stream);
                            requests.lock().unwrap().push(request);
                            use std::io::Write;
                            let _ = stream.write_all(response.as_bytes());
                            let _ = stream.flush();
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        CannedServer {
            endpoint,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The requests answered so far, each as its request line, headers and body.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes of body), at most 1 MiB.
fn read_request(stream: &mut TcpStream) -> String {
    use std::io::Read;
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
        if data.len() > 1 << 20 {
            break;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// A loopback address nothing listens on (bound, then released).
pub fn refused_endpoint() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// The error of a step that must fail (for outputs without `Debug`, where `expect_err` cannot go).
pub fn failure<T, E>(result: Result<T, E>) -> E {
    match result {
        Ok(_) => panic!("the step must fail, but it succeeded"),
        Err(error) => error,
    }
}

/// The Quarantine step against moto, as the state machine runs it.
pub async fn quarantined(moto: &Moto, incident: &Incident) -> QuarantineRecord {
    let input = QuarantineInput {
        incident: incident.clone(),
    };
    remediation::handlers::quarantine::handle(input, &quarantine_deps(moto))
        .await
        .expect("the quarantine step")
}

/// The Restore step against moto, as the state machine runs it after an approval.
pub async fn restored(
    moto: &Moto,
    incident: &Incident,
    record: &QuarantineRecord,
) -> RestoreRecord {
    let input = RestoreInput {
        incident: incident.clone(),
        quarantine: record.clone(),
    };
    remediation::handlers::restore::handle(input, &RestoreDeps { iam: moto.iam() })
        .await
        .expect("the restore step")
}

pub fn quarantine_deps(moto: &Moto) -> remediation::handlers::quarantine::QuarantineDeps {
    remediation::handlers::quarantine::QuarantineDeps {
        iam: moto.iam(),
        restricted: restricted(),
    }
}

/// Whether a document, as IAM now holds it, grants any of the tests' restricted actions.
pub fn grants_restricted(document: &str) -> bool {
    let policy = policy_engine::Policy::parse(document).expect("IAM holds a valid document");
    policy_engine::analyse(&policy, &restricted(), Catalog::embedded()).grants_restricted()
}
