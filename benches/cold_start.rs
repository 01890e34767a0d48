//! `make bench`: each Lambda binary's size, its package's size (the binary deflated, as in the
//! zip SAM uploads), and its init time, measured the way Lambda sees it:
//! from exec to the runtime's first `GET /2018-06-01/runtime/invocation/next` on a minimal
//! local Runtime API (loopback, free port). That is everything `main` does before it can take
//! an event: SDK configuration, clients, validating the configuration. It is not Lambda's
//! whole cold start (which adds fetching the code and starting the micro-VM).
//!
//! Usage: BENCH_BINARIES="path/to/bootstrap-a path/to/bootstrap-b" cargo bench --bench cold_start
//! (BENCH_RUNS, default 15, runs per binary).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The goal for each function's package (issue 14): under 3 MB, zipped.
const GOAL_ZIP_BYTES: u64 = 3_000_000;

fn main() {
    let binaries = std::env::var("BENCH_BINARIES")
        .expect("set BENCH_BINARIES to the Lambda binaries to measure");
    let runs: usize = std::env::var("BENCH_RUNS")
        .unwrap_or_else(|_| "15".into())
        .parse()
        .expect("BENCH_RUNS is a number");
    println!(
        "{:<24} {:>10} {:>9} {:>6} {:>12} {:>12}",
        "function", "size (MB)", "zip (MB)", "< 3 MB", "init p50 ms", "init max ms"
    );
    let mut largest_zip = 0;
    for path in binaries.split_whitespace() {
        let size = std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .len();
        let mut samples: Vec<Duration> = (0..runs).map(|_| init_time(path)).collect();
        samples.sort_unstable();
        let name = function_name(path);
        let zip = zipped_size(path);
        largest_zip = largest_zip.max(zip);
        println!(
            "{name:<24} {:>10.1} {:>9.2} {:>6} {:>12.2} {:>12.2}",
            size as f64 / 1e6,
            zip as f64 / 1e6,
            if zip < GOAL_ZIP_BYTES { "yes" } else { "NO" },
            samples[samples.len() / 2].as_secs_f64() * 1e3,
            samples[samples.len() - 1].as_secs_f64() * 1e3,
        );
    }
    println!(
        "goal: every zip under {:.0} MB: largest {:.2} MB, {}",
        GOAL_ZIP_BYTES as f64 / 1e6,
        largest_zip as f64 / 1e6,
        if largest_zip < GOAL_ZIP_BYTES {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// The binary deflated at zlib's default level, as SAM's zip (Python's `ZIP_DEFLATED`) holds
/// it; the zip's own headers add about a hundred bytes.
fn zipped_size(path: &str) -> u64 {
    let out = Command::new("gzip")
        .args(["-6", "--stdout", path])
        .output()
        .unwrap_or_else(|e| panic!("gzip {path}: {e}"));
    assert!(out.status.success(), "gzip {path}: {}", out.status);
    out.stdout.len() as u64
}

/// `target/lambda/analyse-change/bootstrap` -> `analyse-change`.
fn function_name(path: &str) -> &str {
    let mut parts = path.rsplit('/');
    match (parts.next(), parts.next()) {
        (Some("bootstrap"), Some(dir)) => dir,
        (Some(file), _) => file,
        _ => path,
    }
}

/// Starts the binary as Lambda would and times it until it asks for its first event.
fn init_time(path: &str) -> Duration {
    let api = TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
    let address = api.local_addr().expect("an address").to_string();
    let started = Instant::now();
    let mut child = Command::new(path)
        .env_clear()
        .envs(lambda_environment(&address, function_name(path)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    // A function that stops at start-up (a setting this environment lacks) never connects:
    // say why rather than wait for ever.
    api.set_nonblocking(true).expect("non-blocking accept");
    let stream = loop {
        match api.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait().expect("the function's status") {
                    let mut log = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = stderr.read_to_string(&mut log);
                    }
                    panic!("{path} stopped ({status}) before asking for an event: {log}");
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).expect("a blocking stream");
    let mut request_line = String::new();
    BufReader::new(&stream)
        .read_line(&mut request_line)
        .expect("a request line");
    let elapsed = started.elapsed();
    assert!(
        request_line.contains("/runtime/invocation/next"),
        "unexpected first request: {request_line}"
    );
    let _ = (&stream).write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

/// The environment Lambda gives a function, plus each function's own configuration.
fn lambda_environment(runtime_api: &str, name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench".into()),
        ("AWS_SESSION_TOKEN", "bench".into()),
        ("RUST_LOG", "warn".into()),
        (
            "RESTRICTED_ACTIONS",
            "s3:DeleteBucket,s3:DeleteObject".into(),
        ),
        (
            "SENTINEL_ROLE_ARN",
            "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer".into(),
        ),
        (
            "TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:iam-sentinel".into(),
        ),
        ("EVENT_BUS_NAME", "iam-sentinel-events".into()),
        ("DOCUMENT_TABLE", "iam-sentinel-documents".into()),
        ("DECISION_TABLE", "iam-sentinel-decisions".into()),
        ("DECISION_RETENTION_DAYS", "400".into()),
        ("SWEEP_MODE", "quarantine".into()),
        (
            "INCIDENT_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/iam-sentinel-incidents".into(),
        ),
        (
            "QUARANTINE_BOUNDARY_ARN",
            "arn:aws:iam::123456789012:policy/iam-sentinel-quarantine-boundary".into(),
        ),
        (
            "OWN_ROLE_NAMES",
            "iam-sentinel-policy-writer,iam-sentinel-analyse-change".into(),
        ),
        (
            "OPERATOR_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:iam-sentinel-operators".into(),
        ),
        ("LINK_KEY_ID", "alias/iam-sentinel-approval-link".into()),
        ("DECISION_KEY_ID", "alias/iam-sentinel-decision".into()),
        (
            "WRITER_SESSION_ARNS",
            "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-quarantine-policy,\
             arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-restore-policy"
                .into(),
        ),
        ("ACCOUNT_ID", "123456789012".into()),
        ("NOTIFY_ON_CLEAN_CHANGES", "false".into()),
        ("APPROVAL_TIMEOUT", "24h".into()),
        (
            "APPROVAL_URL",
            "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".into(),
        ),
        (
            "INCIDENT_QUEUE_ARN",
            "arn:aws:sqs:us-east-1:123456789012:iam-sentinel-incidents".into(),
        ),
        (
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:iam-sentinel-remediation".into(),
        ),
    ]
}
