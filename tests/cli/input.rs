//! Where documents come from, what is refused, and the exit code that says so.

use policy_engine::{Policy, decode};

use crate::support::{
    EXIT_INVALID, EXIT_RESTRICTED, TempFile, check, check_json, check_stdin, check_with_env,
    findings, fixture, flagged_statements, only_file, read_fixture, strings,
};

#[test]
fn a_dash_reads_the_document_from_standard_input() {
    // GIVEN a policy granting s3:DeleteBucket, piped in
    let document = read_fixture("my-bad-policy-aws-5-mins.json");

    // WHEN `-` is checked against s3:DeleteBucket
    let run = check_stdin(
        &["--restricted", "s3:DeleteBucket", "--format", "json"],
        &document,
    );

    // THEN standard input is checked, reported under the name `-`
    assert_eq!(run.code, EXIT_RESTRICTED);
    let report = run.report();
    let file = only_file(&report);
    assert_eq!(file["file"], "-");
    assert_eq!(file["status"], "restricted");
    assert_eq!(flagged_statements(file), [0]);
    assert_eq!(findings(file)[0]["sid"], "VisualEditor0");
}

#[test]
fn a_percent_encoded_document_with_encoded_white_space_before_it_is_checked_like_the_raw_one() {
    // GIVEN the same policy raw, and percent-encoded as IAM returns it, `%0A%20%20` first
    let raw = fixture("my-bad-policy-aws-5-mins.json");
    let encoded = fixture("my-bad-policy-aws-5-mins.url-encoded-leading-white-space.txt");

    // WHEN both are checked
    let (code, report) = check_json("s3:DeleteBucket", &[&raw, &encoded]);

    // THEN both grant it, through the same statement
    assert_eq!(code, EXIT_RESTRICTED, "{report:#}");
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    for file in files {
        assert_eq!(file["status"], "restricted", "{file}");
        assert_eq!(flagged_statements(file), [0], "{file}");
    }
}

#[test]
fn the_restricted_actions_environment_variable_stands_in_for_the_flag() {
    // GIVEN RESTRICTED_ACTIONS=s3:DeleteBucket and no --restricted
    let policy = fixture("my-bad-policy-aws-5-mins.json");

    // WHEN a policy granting s3:DeleteBucket is checked
    let run = check_with_env(
        &["--format", "json"],
        &[&policy],
        &[("RESTRICTED_ACTIONS", "s3:DeleteBucket")],
    );

    // THEN the environment's patterns are used
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    let report = run.report();
    assert_eq!(strings(&report["restricted"]), ["s3:DeleteBucket"]);
    assert_eq!(
        findings(only_file(&report))[0]["hits"][0]["restricted"],
        "s3:DeleteBucket"
    );
}

#[test]
fn a_missing_file_is_invalid_and_the_message_names_it() {
    // GIVEN a path where no file exists
    let missing = std::env::temp_dir()
        .join(format!(
            "iam-sentinel-cli-{}-no-such-policy.json",
            std::process::id()
        ))
        .display()
        .to_string();

    // WHEN it is checked
    let run = check(
        &["--restricted", "s3:DeleteBucket", "--format", "json"],
        &[&missing],
    );

    // THEN the input is invalid, and stderr names the file and why it could not be read
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stderr.contains(&missing), "{}", run.stderr);
    assert!(run.stderr.contains("cannot read it"), "{}", run.stderr);
    let report = run.report();
    assert_eq!(only_file(&report)["status"], "invalid");
}

/// Whatever the engine refuses a document for (not JSON at all, cut-off JSON, a statement it
/// rejects), the command exits 2, stderr names the file then gives the engine's reason, and
/// the JSON report marks the file invalid with that reason. What the reason says is the
/// engine's specification (`documents.rs`).
#[test]
fn an_invalid_document_exits_2_and_stderr_names_the_file_then_says_why() {
    let truncated = TempFile::new(
        "truncated.json",
        r#"{"Version": "2012-10-17", "Statement": ["#,
    );
    let no_statement = TempFile::new(
        "no-statement.json",
        r#"{"Version": "2012-10-17", "Statement": []}"#,
    );
    let null_condition = TempFile::new(
        "null-condition.json",
        r#"{"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": null}]}"#,
    );
    let cases = [
        (
            "a file that is not JSON",
            fixture("cloudformation-yaml-not-json.yaml"),
        ),
        ("truncated JSON", truncated.path()),
        ("a lowercase Effect", fixture("lowercase-effect-allow.json")),
        (
            "an unknown statement key",
            fixture("misspelled-actions-key.json"),
        ),
        (
            "a policy action without a service prefix",
            fixture("action-without-service-prefix.json"),
        ),
        ("an empty Statement list", no_statement.path()),
        ("a null Condition", null_condition.path()),
        (
            "a condition operator twice",
            fixture("duplicated-condition-operator.json"),
        ),
    ];
    for (name, path) in cases {
        let text = std::fs::read_to_string(&path).expect("readable");
        let reason = decode(&text)
            .and_then(|json| Policy::parse(&json).map(drop))
            .expect_err("the engine refuses it")
            .to_string();

        let run = check(
            &["--restricted", "s3:DeleteBucket", "--format", "json"],
            &[&path],
        );

        assert_eq!(run.code, EXIT_INVALID, "{name}");
        assert_eq!(
            run.stderr,
            format!("iam-sentinel: {path}: {reason}\n"),
            "{name}"
        );
        let report = run.report();
        let file = only_file(&report);
        assert_eq!(file["status"], "invalid", "{name}");
        assert_eq!(file["error"], reason.as_str(), "{name}");
    }
}

/// A restricted list that is empty, misspelt or malformed stops the command before any file is
/// read: exit 2, nothing on stdout, and stderr says what is wrong (a typo gets the known action
/// probably meant).
#[test]
fn an_invalid_restricted_list_is_refused_before_any_file_is_read() {
    let policy = fixture("my-bad-policy-aws-5-mins.json");
    let cases = [
        (
            "a typo",
            "s3:DeleteBuckett",
            r#"restricted action "s3:DeleteBuckett" matches no known IAM action (did you mean "s3:DeleteBucket"?)"#,
        ),
        ("an empty list", "", "the restricted action list is empty"),
        (
            "a pattern without a service prefix",
            "DeleteBucket",
            r#"restricted action "DeleteBucket" is not of the form service:action"#,
        ),
    ];
    for (name, restricted, says) in cases {
        let run = check(&["--restricted", restricted], &[&policy]);

        assert_eq!(run.code, EXIT_INVALID, "{name}");
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        assert_eq!(
            run.stderr,
            format!("iam-sentinel: --restricted: {says}\n"),
            "{name}"
        );
    }
}

#[test]
fn an_invalid_restricted_list_from_the_environment_is_named_as_such() {
    let policy = fixture("my-bad-policy-aws-5-mins.json");
    let run = check_with_env(&[], &[&policy], &[("RESTRICTED_ACTIONS", "DeleteBucket")]);

    assert_eq!(run.code, EXIT_INVALID);
    assert_eq!(
        run.stderr,
        "iam-sentinel: RESTRICTED_ACTIONS: restricted action \"DeleteBucket\" is not of the form \
         service:action\n"
    );
}

#[test]
fn an_invalid_file_wins_over_a_flagged_one_and_the_flagged_one_is_still_reported() {
    // GIVEN one policy granting s3:DeleteBucket and one invalid policy
    let flagged = fixture("my-bad-policy-aws-5-mins.json");
    let invalid = fixture("lowercase-effect-allow.json");

    // WHEN both are checked
    let (code, report) = check_json("s3:DeleteBucket", &[&flagged, &invalid]);

    // THEN the exit code says invalid, and the flagged file's findings are still in the report
    assert_eq!(code, EXIT_INVALID);
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["status"], "restricted");
    assert_eq!(flagged_statements(&files[0]), [0]);
    assert_eq!(files[1]["status"], "invalid");
}

/// What an editor or a shell wrote instead of the UTF-8 JSON IAM takes is named as such, and a
/// file far larger than any policy is refused before it is read whole. (A rules file or the
/// account's details may start with a byte-order mark: TOML and JSON readers may skip it.)
#[test]
fn an_encoding_iam_refuses_or_an_oversized_file_is_named_not_misread() {
    let document = read_fixture("my-bad-policy-aws-5-mins.json");
    let with_bom = TempFile::new("bom.json", &format!("\u{feff}{document}"));
    let utf16 = TempFile::new("utf16.json", "");
    let utf16_bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(document.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(utf16.path(), utf16_bytes).expect("the UTF-16 file is written");
    let latin1 = TempFile::new("latin1.json", "");
    std::fs::write(latin1.path(), b"{\"Statement\": \"caf\xe9\"}").expect("written");
    let huge = TempFile::new("huge.json", &" ".repeat(3 << 20));
    let cases = [
        (
            with_bom.path(),
            "it starts with a byte-order mark (U+FEFF), which IAM refuses",
        ),
        (utf16.path(), "cannot read it: it is UTF-16 text"),
        (
            latin1.path(),
            "cannot read it: it is not UTF-8 text: byte 18 is not valid UTF-8",
        ),
        (huge.path(), "cannot read it: it is over 2097152 bytes"),
    ];
    for (file, says) in cases {
        let run = check(&["--restricted", "s3:DeleteBucket"], &[&file]);
        assert_eq!(run.code, EXIT_INVALID, "{file}");
        assert!(
            run.stderr
                .starts_with(&format!("iam-sentinel: {file}: {says}")),
            "{file}: {}",
            run.stderr
        );
    }
}

/// Findings that could not be written (a full disk) fail the command: its exit status must not
/// vouch for a report nobody has.
#[test]
fn output_that_cannot_be_written_fails_the_command() {
    let clean = fixture("read-only-reports-bucket.json");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_iam-sentinel"))
        .args([
            "check",
            "--restricted",
            "s3:DeleteBucket",
            "--format",
            "json",
            &clean,
        ])
        .env_remove("RESTRICTED_ACTIONS")
        .stdout(full)
        .output()
        .expect("iam-sentinel runs");
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("iam-sentinel: cannot write the output: "),
        "{stderr}"
    );
}
