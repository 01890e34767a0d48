//! The deployment's Lambda functions, served in-process to moto's Lambda calls: moto's state
//! machine interpreter sends every service call to `localhost:$MOTO_PORT`, where this server
//! answers Invoke as Lambda does, with the real handler each function's `main` runs (the input
//! read as its `main` reads it): 200 with the output, or 200 with `X-Amz-Function-Error` and the
//! runtime's error payload, whose `errorType` the state machine's Retry and Catch match.

use std::sync::Arc;

use lambda_runtime::Diagnostic;
use remediation::error::parse_input;
use remediation::handlers::StepInvocation;
use remediation::handlers::analyse::{self, AnalyseDeps};
use remediation::handlers::publish::{self, PublishDeps};
use remediation::handlers::quarantine::{self, QuarantineDeps};
use remediation::handlers::request_approval::{self, RequestApprovalDeps};
use remediation::handlers::restore::{self, RestoreDeps};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every function's ARN is this and its name (`quarantine-policy`, ...).
pub const FUNCTION_ARN_PREFIX: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:iam-sentinel-";

/// The functions the state machine invokes, with their dependencies.
pub struct Functions {
    pub analyse: AnalyseDeps,
    pub quarantine: QuarantineDeps,
    pub publish: PublishDeps,
    pub request_approval: RequestApprovalDeps,
    pub restore: RestoreDeps,
}

impl Functions {
    /// One invocation of `function` with `payload`, as its `main` handles it.
    async fn invoke(&self, function: &str, payload: Value) -> Result<Value, Diagnostic> {
        match function {
            "analyse-change" => {
                output(analyse::handle_step(parse_input(payload)?, &self.analyse).await)
            }
            "quarantine-policy" => output(
                async {
                    let deps = &self.quarantine;
                    let invocation =
                        StepInvocation::read(payload, "quarantine-policy", &deps.alerts).await?;
                    quarantine::handle(invocation, deps).await
                }
                .await,
            ),
            "restore-policy" => output(
                async {
                    let deps = &self.restore;
                    let invocation =
                        StepInvocation::read(payload, "restore-policy", &deps.alerts).await?;
                    restore::handle(invocation, deps).await
                }
                .await,
            ),
            "publish-outcome" => {
                output(publish::handle(parse_input(payload)?, &self.publish).await)
            }
            "request-approval" => output(
                request_approval::handle(parse_input(payload)?, &self.request_approval).await,
            ),
            other => Err(Diagnostic {
                error_type: "ResourceNotFoundException".into(),
                error_message: format!("no function {other:?} in this deployment"),
            }),
        }
    }
}

fn output<T: Serialize>(result: Result<T, remediation::StepError>) -> Result<Value, Diagnostic> {
    Ok(serde_json::to_value(result?).expect("outputs serialise"))
}

/// Answers Invoke calls on `listener` until the test ends.
pub async fn serve(listener: TcpListener, functions: Arc<Functions>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let functions = functions.clone();
        tokio::spawn(async move {
            let (function, payload) = read_invocation(&mut stream).await;
            let (extra, body) = match functions.invoke(&function, payload).await {
                Ok(done) => (String::new(), done.to_string()),
                Err(error) => (
                    "X-Amz-Function-Error: Unhandled\r\n".to_owned(),
                    json!({"errorType": error.error_type, "errorMessage": error.error_message})
                        .to_string(),
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

/// The function named in `POST /2015-03-31/functions/<name or ARN>/invocations`, and the payload.
async fn read_invocation(stream: &mut TcpStream) -> (String, Value) {
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
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or_default();
    let function = path
        .split("/functions/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .replace("%3A", ":")
        .replace("%3a", ":");
    let function = function
        .strip_prefix(FUNCTION_ARN_PREFIX)
        .unwrap_or(&function)
        .to_owned();
    let length: usize = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| l.strip_prefix("content-length:").map(str::to_owned))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before the body ended");
        buffer.extend_from_slice(&chunk[..n]);
    }
    let payload = serde_json::from_slice(&buffer[header_end..header_end + length]).unwrap();
    (function, payload)
}
