//! A configuration error stops the function at start-up with the variable and its value in the
//! function's log (its stdout and stderr, which Lambda writes to CloudWatch Logs): otherwise
//! Lambda reports only `Runtime.ExitError`. Runs the real binary, as Lambda would, before any
//! invocation (no runtime API is needed to fail at start-up).

use std::process::Command;

/// The template's configuration of analyse-change, with `changed` set (or removed, for None).
fn start_with(changed: (&str, Option<&str>)) -> (bool, String) {
    let mut env = vec![
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "offline"),
        ("AWS_SECRET_ACCESS_KEY", "offline"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("RESTRICTED_ACTIONS", "s3:DeleteBucket,s3:DeleteObject"),
        ("ACCOUNT_ID", "123456789012"),
        (
            "WRITER_SESSION_ARNS",
            "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-quarantine-policy",
        ),
        ("OWN_ROLE_NAMES", "iam-sentinel-policy-writer"),
        ("NOTIFY_ON_CLEAN_CHANGES", "false"),
        ("APPROVAL_TIMEOUT", "24h"),
        ("DOCUMENT_TABLE", "iam-sentinel-documents"),
        ("DECISION_TABLE", "iam-sentinel-decisions"),
        ("DECISION_RETENTION_DAYS", "400"),
        ("EVENT_BUS_NAME", "iam-sentinel-events"),
    ];
    env.retain(|(name, _)| *name != changed.0);
    if let Some(value) = changed.1 {
        env.push((changed.0, value));
    }
    let output = Command::new(env!("CARGO_BIN_EXE_analyse-change"))
        .env_clear()
        .envs(env)
        .output()
        .expect("the binary runs");
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), log)
}

#[test]
fn a_bad_or_missing_setting_stops_the_function_naming_the_variable_and_its_value() {
    let cases: [(&str, Option<&str>, &[&str]); 8] = [
        // A Standard workflow ends after a year: this deadline could never pass.
        (
            "APPROVAL_TIMEOUT",
            Some("8760h"),
            &["APPROVAL_TIMEOUT", "8760h"],
        ),
        (
            "RESTRICTED_ACTIONS",
            Some("s3:DeleteBuckett"),
            &["RESTRICTED_ACTIONS", "s3:DeleteBuckett"],
        ),
        (
            "WRITER_SESSION_ARNS",
            None,
            &["WRITER_SESSION_ARNS", "not set"],
        ),
        ("ACCOUNT_ID", None, &["ACCOUNT_ID", "not set"]),
        ("ACCOUNT_ID", Some("12345"), &["ACCOUNT_ID", "12345"]),
        // Never the default bus, where anyone may put events in the sentinel's name (T26).
        ("EVENT_BUS_NAME", None, &["EVENT_BUS_NAME", "not set"]),
        // Lambda gives the role's credentials and the region in the environment: the
        // functions look nowhere else, so without them they stop before any call.
        ("AWS_ACCESS_KEY_ID", None, &["AWS_ACCESS_KEY_ID", "not set"]),
        ("AWS_REGION", None, &["AWS_REGION", "not set"]),
    ];
    for (variable, value, named) in cases {
        // GIVEN analyse-change configured as deployed, but for one variable
        // WHEN it starts
        let (succeeded, log) = start_with((variable, value));
        // THEN it exits with an error, and its log names the variable and what it was
        assert!(!succeeded, "{variable}={value:?}: the function started");
        for words in named {
            assert!(
                log.contains(words),
                "{variable}={value:?}: no {words:?} in:\n{log}"
            );
        }
    }
}
