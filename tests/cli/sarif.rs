//! `check --format sarif`: a SARIF 2.1.0 log for code-scanning tools, each finding at the
//! statement that grants it. That the official schema accepts these logs is owned by
//! `test_sarif_schema.py` beside this file (it needs the venv's pinned schema).

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{
    EXIT_CLEAN, EXIT_INVALID, EXIT_RESTRICTED, TempDir, check, check_in, check_stdin, fixture,
    read_fixture, rules_fixture,
};

const REPOSITORY: &str = "https://github.com/iam-sentinel/iam-sentinel";

fn sarif_in(dir: &Path, restricted: &str, files: &[&str]) -> (i32, Value) {
    let run = check_in(
        dir,
        &["--restricted", restricted, "--format", "sarif"],
        files,
    );
    (run.code, run.report())
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run_of(log: &Value) -> &Value {
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one run:\n{log:#}");
    &runs[0]
}

fn results(log: &Value) -> &[Value] {
    run_of(log)["results"].as_array().expect("results")
}

/// The file URI of a directory, as the log gives the base of relative names.
fn directory_uri(dir: &Path) -> String {
    format!("file://{}/", dir.display())
}

#[test]
fn the_sarif_log_field_for_field() {
    // GIVEN a policy whose second statement grants s3:DeleteBucket and third iam:PassRole,
    // named relative to the working directory
    let file = "tests/fixtures/policies/one-statement-per-service.json";

    // WHEN it is checked with --format sarif
    let (code, log) = sarif_in(root(), "s3:DeleteBucket,iam:PassRole", &[file]);

    // THEN the log has one rule per restricted pattern and one result per grant, at the
    // statement's braces
    assert_eq!(code, EXIT_RESTRICTED);
    let location = |start_line: u64, end_line: u64| {
        json!([{"physicalLocation": {
            "artifactLocation": {"uri": file, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": start_line, "startColumn": 5, "endLine": end_line, "endColumn": 6},
        }}])
    };
    let rule = |pattern: &str| {
        json!({
            "id": pattern,
            "shortDescription": {"text": format!("Grants {pattern}, a restricted action")},
            "fullDescription": {"text": format!(
                "An Allow statement grants an action that the restricted pattern {pattern} \
                 covers: the deployed workflow quarantines such a grant until someone approves it."
            )},
            "defaultConfiguration": {"level": "error"},
            "helpUri": format!("{REPOSITORY}/blob/main/docs/CLI.md"),
        })
    };
    assert_eq!(
        log,
        json!({
            "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "iam-sentinel",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": REPOSITORY,
                    "rules": [rule("s3:DeleteBucket"), rule("iam:PassRole")],
                }},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": directory_uri(root())}},
                "columnKind": "utf16CodeUnits",
                "invocations": [{
                    "executionSuccessful": true,
                    "exitCode": EXIT_RESTRICTED,
                    "toolExecutionNotifications": [],
                }],
                "results": [
                    {
                        "ruleId": "s3:DeleteBucket",
                        "ruleIndex": 0,
                        "level": "error",
                        "message": {"text": "Statement 1 (Sid \"CleanUpScratchBuckets\") grants \
                            s3:DeleteBucket, a restricted action, on Resource \
                            arn:aws:s3:::acme-scratch-*, arn:aws:s3:::acme-scratch-*/*: \
                            Action \"s3:DeleteBucket\" names it."},
                        "locations": location(16, 27),
                        "properties": {
                            "statement": 1,
                            "sid": "CleanUpScratchBuckets",
                            "reason": "exact",
                            "grantedBy": ["s3:DeleteBucket"],
                            "knownActions": ["s3:DeleteBucket"],
                            "knownActionCount": 1,
                        },
                    },
                    {
                        "ruleId": "iam:PassRole",
                        "ruleIndex": 1,
                        "level": "error",
                        "message": {"text": "Statement 2 (Sid \"PassDeployRole\") grants \
                            iam:PassRole, a restricted action, on Resource \
                            arn:aws:iam::123456789012:role/acme-deploy: \
                            Action \"iam:PassRole\" names it."},
                        "locations": location(28, 33),
                        "properties": {
                            "statement": 2,
                            "sid": "PassDeployRole",
                            "reason": "exact",
                            "grantedBy": ["iam:PassRole"],
                            "knownActions": ["iam:PassRole"],
                            "knownActionCount": 1,
                        },
                    },
                ],
            }],
        })
    );
}

/// The text of the file a region covers, by lines and UTF-16 columns.
fn covered(text: &str, region: &Value) -> String {
    let at = |key: &str| region[key].as_u64().expect("a region number") as usize;
    let lines: Vec<Vec<u16>> = text
        .split('\n')
        .map(|l| l.encode_utf16().collect())
        .collect();
    let mut units = Vec::new();
    for line in at("startLine")..=at("endLine") {
        let text = &lines[line - 1];
        let from = if line == at("startLine") {
            at("startColumn") - 1
        } else {
            0
        };
        let to = if line == at("endLine") {
            at("endColumn") - 1
        } else {
            text.len()
        };
        units.extend_from_slice(&text[from..to]);
        units.push(u16::from(b'\n'));
    }
    String::from_utf16(&units).expect("a region ends between characters")
}

#[test]
fn each_result_is_located_at_the_statement_that_grants_it_as_written() {
    // GIVEN a list with the grant third, a single Statement object, and a percent-encoded
    // document with encoded white space before it
    let cases = [
        (
            "bucket-deletion-only-in-third-statement.json",
            "TearDownPreviewBuckets",
        ),
        ("single-statement-object.json", "BucketJanitor"),
        (
            "my-bad-policy-aws-5-mins.url-encoded-leading-white-space.txt",
            "VisualEditor0",
        ),
    ];
    for (name, sid) in cases {
        // WHEN each is checked against s3:DeleteBucket
        let (code, log) = sarif_in(root(), "s3:DeleteBucket", &[&fixture(name)]);

        // THEN its one result's region holds exactly that statement, as the file has it
        assert_eq!(code, EXIT_RESTRICTED, "{name}");
        let [result] = results(&log) else {
            panic!("{name}: one result expected:\n{log:#}")
        };
        let region = &result["locations"][0]["physicalLocation"]["region"];
        let text = covered(&read_fixture(name), region);
        let text = percent_decoded(&text);
        let statement: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: the region is not one JSON value ({e}): {text}"));
        assert_eq!(statement["Sid"], sid, "{name}");
        assert_eq!(result["properties"]["sid"], sid, "{name}");
    }
}

/// `%XX` decoded, for reading a region of a percent-encoded fixture.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn an_unreadable_or_invalid_file_is_a_notification_and_the_exit_code_is_checks() {
    // GIVEN a clean policy, an invalid one and a missing one
    let clean = fixture("read-only-reports-bucket.json");
    let invalid = fixture("misspelled-actions-key.json");
    let missing = root().join("tests/fixtures/policies/no-such-policy.json");
    let missing = missing.display().to_string();

    // WHEN the clean one alone, then all three are checked with --format sarif
    let (clean_code, clean_log) = sarif_in(root(), "s3:DeleteBucket", &[&clean]);
    let (code, log) = sarif_in(root(), "s3:DeleteBucket", &[&clean, &invalid, &missing]);

    // THEN a clean run succeeded with no result; with the others, the run did not succeed,
    // exits 2 as the other formats do, and each bad file is an error notification naming it
    assert_eq!(clean_code, EXIT_CLEAN);
    assert!(results(&clean_log).is_empty());
    assert_eq!(
        run_of(&clean_log)["invocations"][0]["executionSuccessful"],
        true
    );
    assert_eq!(code, EXIT_INVALID);
    assert!(results(&log).is_empty());
    let invocation = &run_of(&log)["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(invocation["exitCode"], EXIT_INVALID);
    let notifications = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notifications.len(), 2, "{notifications:#?}");
    for (notification, (file, problem)) in notifications.iter().zip([
        (&invalid, "unknown field `Actions`"),
        (&missing, "cannot read it"),
    ]) {
        assert_eq!(notification["level"], "error");
        let text = notification["message"]["text"].as_str().expect("text");
        assert!(
            text.starts_with(&format!("{file}: ")) && text.contains(problem),
            "{text}"
        );
        let uri = &notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert_eq!(uri, &format!("file://{file}"));
    }
}

#[test]
fn a_relative_name_is_a_percent_encoded_reference_from_the_working_directory() {
    // GIVEN a flagged policy at `my policies/a#1%.json` in a directory
    let dir = TempDir::new("uris");
    std::fs::create_dir(dir.path().join("my policies")).expect("mkdir");
    let path = dir.path().join("my policies/a#1%.json");
    std::fs::write(&path, read_fixture("single-statement-object.json")).expect("write");
    let absolute = path
        .canonicalize()
        .expect("canonical")
        .display()
        .to_string();
    let base = dir.path().canonicalize().expect("canonical");

    // WHEN it is checked from that directory, by its relative and its absolute name
    let (code, log) = sarif_in(
        dir.path(),
        "s3:DeleteBucket",
        &["./my policies/a#1%.json", &absolute],
    );

    // THEN the relative one is a reference from %SRCROOT%, the working directory; the
    // absolute one a file URI; both percent-encoded
    assert_eq!(code, EXIT_RESTRICTED);
    assert_eq!(
        run_of(&log)["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        directory_uri(&base)
    );
    let artifacts: Vec<&Value> = results(&log)
        .iter()
        .map(|r| &r["locations"][0]["physicalLocation"]["artifactLocation"])
        .collect();
    assert_eq!(
        artifacts,
        [
            &json!({"uri": "my%20policies/a%231%25.json", "uriBaseId": "%SRCROOT%"}),
            &json!({"uri": format!("file://{}/my%20policies/a%231%25.json", base.display())}),
        ]
    );
}

#[test]
fn a_name_that_is_not_utf8_keeps_its_bytes_in_the_uri() {
    use std::os::unix::ffi::OsStrExt;
    // GIVEN a flagged policy whose file name has the byte 0xFF, which is not UTF-8
    let dir = TempDir::new("bytes");
    let name = std::ffi::OsStr::from_bytes(b"bad\xff.json");
    std::fs::write(
        dir.path().join(name),
        read_fixture("single-statement-object.json"),
    )
    .expect("write");

    // WHEN it is checked by that name
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_iam-sentinel"))
        .current_dir(dir.path())
        .args([
            "check",
            "--restricted",
            "s3:DeleteBucket",
            "--format",
            "sarif",
        ])
        .arg(name)
        .env_remove("RESTRICTED_ACTIONS")
        .output()
        .expect("iam-sentinel runs");

    // THEN the URI names that file, the byte percent-encoded (not U+FFFD's three bytes)
    assert_eq!(output.status.code(), Some(EXIT_RESTRICTED));
    let log: Value = serde_json::from_slice(&output.stdout).expect("a JSON log");
    assert_eq!(
        results(&log)[0]["locations"][0]["physicalLocation"]["artifactLocation"],
        json!({"uri": "bad%FF.json", "uriBaseId": "%SRCROOT%"})
    );
}

#[test]
fn standard_input_is_described_not_named_by_a_uri() {
    // GIVEN a flagged policy on standard input
    let document = read_fixture("single-statement-object.json");

    // WHEN `-` is checked with --format sarif
    let run = check_stdin(
        &["--restricted", "s3:DeleteBucket", "--format", "sarif"],
        &document,
    );

    // THEN the result's artifact is described as standard input, with the region in it
    assert_eq!(run.code, EXIT_RESTRICTED);
    let log = run.report();
    let [result] = results(&log) else {
        panic!("one result expected:\n{log:#}")
    };
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"],
        json!({"description": {"text": "standard input"}})
    );
    assert_eq!(location["region"]["startLine"], 3);
}

#[test]
fn fix_has_no_sarif_form_and_is_refused() {
    // GIVEN a flagged policy
    let policy = fixture("single-statement-object.json");

    // WHEN it is checked with --fix --format sarif
    let run = check(
        &[
            "--restricted",
            "s3:DeleteBucket",
            "--fix",
            "--format",
            "sarif",
        ],
        &[&policy],
    );

    // THEN nothing is checked: exit 2, and why
    assert_eq!(run.code, EXIT_INVALID);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("--fix has no SARIF form"),
        "{}",
        run.stderr
    );
}

#[test]
fn with_rules_the_level_is_the_modes_and_an_exempted_grant_is_suppressed_naming_its_exemption() {
    // GIVEN the platform's rules, a document with an enforced and an alerted grant, and one
    // with an alerted and an exempted grant
    let rules_file = rules_fixture("platform.toml");
    let files = [
        fixture("one-statement-per-service.json"),
        fixture("bucket-deletion-only-in-third-statement.json"),
    ];

    // WHEN they are checked against the rules with --format sarif
    let run = check(
        &["--rules", &rules_file, "--format", "sarif"],
        &[&files[0], &files[1]],
    );

    // THEN enforced grants are errors, alerted ones warnings, and the exempted one a result
    // with an accepted external suppression whose justification names the exemption
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    let log = run.report();
    let summary: Vec<(&str, &str, bool)> = results(&log)
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().expect("ruleId"),
                r["level"].as_str().expect("level"),
                r.get("suppressions").is_some(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("s3:DeleteBucket", "error", false),
            ("iam:PassRole", "warning", false),
            ("lambda:UpdateFunctionCode", "warning", false),
            ("s3:DeleteBucket", "error", true),
        ]
    );
    let exempted = &results(&log)[3];
    assert_eq!(
        exempted["suppressions"],
        json!([{
            "kind": "external",
            "status": "accepted",
            "justification": "preview-bucket-teardown: Preview environments delete their own \
                buckets when the pull request closes (owner web-platform@example.com, until 2099-12-31)",
            "properties": {"exemption": {
                "name": "preview-bucket-teardown",
                "owner": "web-platform@example.com",
                "reason": "Preview environments delete their own buckets when the pull request closes",
                "expires": "2099-12-31",
            }},
        }])
    );
    assert_eq!(exempted["properties"]["rules"], json!(["bucket-deletion"]));
    assert_eq!(
        exempted["locations"][0]["physicalLocation"]["region"]["startLine"],
        json!(25)
    );

    // AND the rules are the patterns of the enforce rules (error), then of the alert rules
    // (warning), each naming its rules; the off rule's are not there
    let descriptors = run_of(&log)["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert_eq!(descriptors.len(), 2 + 24);
    assert_eq!(descriptors[1]["id"], "s3:DeleteBucket");
    assert_eq!(descriptors[1]["defaultConfiguration"]["level"], "error");
    assert_eq!(
        descriptors[1]["properties"]["rules"],
        json!([{"name": "bucket-deletion", "mode": "enforce"}])
    );
    assert_eq!(descriptors[2]["defaultConfiguration"]["level"], "warning");
    assert!(
        !descriptors
            .iter()
            .any(|d| d["id"] == "s3:DeleteBucket" && d != &descriptors[1])
    );
}

#[test]
fn with_rules_an_expired_exemption_is_named_on_the_result_it_no_longer_suppresses() {
    // GIVEN a grant whose exemption expired on 2025-06-30
    let rules_file = rules_fixture("expired-exemption.toml");
    let policy = fixture("single-statement-object.json");

    // WHEN it is checked against the rules with --format sarif
    let run = check(&["--rules", &rules_file, "--format", "sarif"], &[&policy]);

    // THEN the result is an error, not suppressed, and says which exemption expired
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    let log = run.report();
    let [result] = results(&log) else {
        panic!("one result expected:\n{log:#}")
    };
    assert_eq!(result["level"], "error");
    assert!(result.get("suppressions").is_none());
    let message = result["message"]["text"].as_str().expect("message");
    assert!(
        message.ends_with(
            " No longer exempted: exemption \"tmp-bucket-janitor\" (owner data-platform@example.com, \
             until 2025-06-30: The nightly janitor removes scratch buckets) expired."
        ),
        "{message}"
    );
    assert_eq!(
        result["properties"]["expiredExemptions"][0]["name"],
        "tmp-bucket-janitor"
    );
}
