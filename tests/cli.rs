//! The `iam-sentinel check` command line, specified by running the real binary.
//!
//! Each test is one behaviour, named as a sentence. Documents live in
//! `tests/fixtures/policies/`, named for what they show; one-off inputs go through stdin or a
//! temporary file. Verdicts are read from `--format json`; a few tests pin the human output and
//! the messages on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const EXIT_CLEAN: i32 = 0;
const EXIT_RESTRICTED: i32 = 1;
const EXIT_INVALID: i32 = 2;

/// IAM's quota for a user's inline policies (`--kind user`).
const USER_INLINE_LIMIT: u64 = 2_048;

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `--format json` report on stdout.
    fn report(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `iam-sentinel check ARGS FILES...` with no RESTRICTED_ACTIONS inherited from the
/// environment the tests run in.
fn check(args: &[&str], files: &[&str]) -> Run {
    run(args, files, &[], None)
}

/// Runs `iam-sentinel check ARGS -` with `input` on standard input.
fn check_stdin(args: &[&str], input: &str) -> Run {
    run(args, &["-"], &[], Some(input))
}

/// Runs `iam-sentinel check ARGS FILES...` with extra environment variables.
fn check_with_env(args: &[&str], files: &[&str], env: &[(&str, &str)]) -> Run {
    run(args, files, env, None)
}

fn run(args: &[&str], files: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-sentinel"));
    command
        .arg("check")
        .args(args)
        .args(files)
        .env_remove("RESTRICTED_ACTIONS")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the iam-sentinel binary runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .expect("the document is written to stdin");
    }
    let output = child.wait_with_output().expect("iam-sentinel finishes");
    Run {
        code: output
            .status
            .code()
            .expect("iam-sentinel exits rather than being killed"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `check --restricted RESTRICTED --format json FILES...`: the exit code and the report.
fn check_json(restricted: &str, files: &[&str]) -> (i32, Value) {
    let run = check(&["--restricted", restricted, "--format", "json"], files);
    (run.code, run.report())
}

/// `check --restricted RESTRICTED --format json --fix --kind KIND FILE`: the exit code and the
/// report's `quarantine` of that one file.
fn fix_json(restricted: &str, kind: &str, file: &str) -> (i32, Value) {
    let run = check(
        &[
            "--restricted",
            restricted,
            "--format",
            "json",
            "--fix",
            "--kind",
            kind,
        ],
        &[file],
    );
    let report = run.report();
    let quarantine = only_file(&report)
        .get("quarantine")
        .unwrap_or_else(|| panic!("no quarantine in the report:\n{report:#}"))
        .clone();
    (run.code, quarantine)
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/policies")
        .join(name);
    assert!(path.is_file(), "missing fixture {}", path.display());
    path.display().to_string()
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("the fixture is readable")
}

/// A file under the system temp directory, unique to this process and call, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "iam-sentinel-cli-{}-{unique}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("the temp file is written");
        TempFile(path)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The report's entry for its only file.
fn only_file(report: &Value) -> &Value {
    let files = report["files"].as_array().expect("files is an array");
    assert_eq!(
        files.len(),
        1,
        "expected one file in the report:\n{report:#}"
    );
    &files[0]
}

fn findings(file: &Value) -> &[Value] {
    file["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings array in:\n{file:#}"))
}

/// The indexes of the statements a file's findings point at.
fn flagged_statements(file: &Value) -> Vec<u64> {
    findings(file)
        .iter()
        .map(|f| f["statement"].as_u64().expect("statement index"))
        .collect()
}

/// The only finding of a file that has exactly one.
fn only_finding(file: &Value) -> &Value {
    let findings = findings(file);
    assert_eq!(findings.len(), 1, "expected one finding:\n{file:#}");
    &findings[0]
}

/// The only hit of a finding that has exactly one.
fn only_hit(finding: &Value) -> &Value {
    let hits = finding["hits"].as_array().expect("hits is an array");
    assert_eq!(hits.len(), 1, "expected one hit:\n{finding:#}");
    &hits[0]
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array of strings, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

/// The statements of a policy document, as JSON.
fn statements(document: &Value) -> &[Value] {
    document["Statement"]
        .as_array()
        .expect("Statement is an array")
}

/// The `change` kinds of a quarantine, in order.
fn change_kinds(quarantine: &Value) -> Vec<&str> {
    quarantine["changes"]
        .as_array()
        .expect("changes is an array")
        .iter()
        .map(|c| c["change"].as_str().expect("change kind"))
        .collect()
}

/// Writes the quarantined document to a file and checks it again: the exit code.
fn recheck_quarantine(restricted: &str, quarantine: &Value) -> i32 {
    let document = TempFile::new("quarantined.json", &quarantine["document"].to_string());
    let run = check(&["--restricted", restricted], &[&document.path()]);
    assert!(
        run.stderr.is_empty(),
        "the quarantine is a valid policy, yet:\n{}",
        run.stderr
    );
    run.code
}

// ---------------------------------------------------------------------------------------------
// 1-3. Which statements and which spellings grant an action
// ---------------------------------------------------------------------------------------------

#[test]
fn every_statement_counts_not_just_the_first() {
    // GIVEN a policy whose restricted grant is only in its third statement
    let policy = fixture("bucket-deletion-only-in-third-statement.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN the third statement (index 2) is reported, and only it
    assert_eq!(code, EXIT_RESTRICTED);
    let file = only_file(&report);
    assert_eq!(file["status"], "restricted");
    assert_eq!(flagged_statements(file), [2]);
    assert_eq!(only_finding(file)["sid"], "TearDownPreviewBuckets");
}

#[test]
fn action_names_are_case_insensitive() {
    // GIVEN a policy that spells the action `S3:deletebucket`
    let policy = fixture("action-name-in-odd-case.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is flagged as naming the action exactly, in the policy's own spelling
    assert_eq!(code, EXIT_RESTRICTED);
    let hit = only_hit(only_finding(only_file(&report)));
    assert_eq!(hit["restricted"], "s3:DeleteBucket");
    assert_eq!(hit["reason"], "exact");
    assert_eq!(strings(&hit["granted_by"]), ["S3:deletebucket"]);
    assert_eq!(strings(&hit["known_actions"]), ["s3:DeleteBucket"]);
}

#[test]
fn a_wildcard_in_the_policy_grants_the_restricted_action_it_covers() {
    // GIVEN a policy that allows `s3:Delete*` in its second statement
    let policy = fixture("s3-delete-wildcard.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN the wildcard is reported as granting it, with the concrete actions it grants
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["statement"], 1);
    assert_eq!(finding["sid"], "DataRetentionJanitor");
    let hit = only_hit(finding);
    assert_eq!(hit["reason"], "wildcard");
    assert_eq!(strings(&hit["granted_by"]), ["s3:Delete*"]);
    assert_eq!(strings(&hit["known_actions"]), ["s3:DeleteBucket"]);
    assert_eq!(hit["known_action_count"], 1);
}

// ---------------------------------------------------------------------------------------------
// 4-6. Wildcards in the restricted patterns, both directions, no prefix matches
// ---------------------------------------------------------------------------------------------

#[test]
fn a_restricted_action_wildcard_flags_the_statements_granting_a_matching_action() {
    // GIVEN a policy with one statement per service: s3 reads, s3 deletes, iam:PassRole, ec2
    let policy = fixture("one-statement-per-service.json");

    // WHEN it is checked against s3:Delete*
    let (code, report) = check_json("s3:Delete*", &[&policy]);

    // THEN only the s3 delete statement is flagged, listing the deletes it grants
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["sid"], "CleanUpScratchBuckets");
    let hit = only_hit(finding);
    assert_eq!(hit["restricted"], "s3:Delete*");
    assert_eq!(hit["reason"], "wildcard");
    assert_eq!(
        strings(&hit["known_actions"]),
        ["s3:DeleteBucket", "s3:DeleteObject"]
    );
    assert_eq!(hit["known_action_count"], 2);
}

#[test]
fn a_restricted_service_wildcard_flags_only_statements_of_that_service() {
    // GIVEN a policy with one statement per service
    let policy = fixture("one-statement-per-service.json");

    // WHEN it is checked against iam:*
    let (code, report) = check_json("iam:*", &[&policy]);

    // THEN only the iam:PassRole statement is flagged
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["sid"], "PassDeployRole");
    assert_eq!(
        strings(&only_hit(finding)["known_actions"]),
        ["iam:PassRole"]
    );
}

#[test]
fn a_restricted_star_flags_every_allow_statement() {
    // GIVEN a policy with four Allow statements
    let policy = fixture("one-statement-per-service.json");

    // WHEN it is checked against `*`
    let (code, report) = check_json("*", &[&policy]);

    // THEN every statement is flagged
    assert_eq!(code, EXIT_RESTRICTED);
    assert_eq!(flagged_statements(only_file(&report)), [0, 1, 2, 3]);
}

#[test]
fn a_restricted_wildcard_and_a_policy_wildcard_overlap_when_one_action_matches_both() {
    // GIVEN a policy that allows `iam:*User`
    let policy = fixture("iam-user-suffix-wildcard.json");

    // WHEN it is checked against iam:Create* (both cover iam:CreateUser)
    let (code, report) = check_json("iam:Create*", &[&policy]);

    // THEN it is flagged, and the known actions granted include iam:CreateUser
    assert_eq!(code, EXIT_RESTRICTED);
    let hit = only_hit(only_finding(only_file(&report)));
    assert_eq!(hit["reason"], "wildcard");
    assert_eq!(strings(&hit["granted_by"]), ["iam:*User"]);
    let known = strings(&hit["known_actions"]);
    assert!(known.contains(&"iam:CreateUser"), "{known:?}");
    assert!(
        known
            .iter()
            .all(|a| a.starts_with("iam:Create") && a.ends_with("User")),
        "{known:?}"
    );
}

#[test]
fn a_restricted_action_does_not_match_longer_action_names_that_start_with_it() {
    // GIVEN a policy granting s3:DeleteObjectVersion and s3:DeleteObjectTagging
    let policy = fixture("object-version-and-tagging-deletes.json");

    // WHEN it is checked against s3:DeleteObject
    let (code, report) = check_json("s3:DeleteObject", &[&policy]);

    // THEN it is clean
    assert_eq!(code, EXIT_CLEAN);
    let file = only_file(&report);
    assert_eq!(file["status"], "clean");
    assert!(findings(file).is_empty());
}

// ---------------------------------------------------------------------------------------------
// 7-10. NotAction and Deny
// ---------------------------------------------------------------------------------------------

#[test]
fn allow_with_not_action_grants_every_action_it_does_not_list() {
    // GIVEN a power-user policy: Allow NotAction [iam:*, organizations:*, account:*]
    let policy = fixture("power-user-not-action-iam.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN the NotAction statement is flagged, for the reason not_action
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["sid"], "PowerUserEverythingButIdentity");
    let hit = only_hit(finding);
    assert_eq!(hit["reason"], "not_action");
    assert!(strings(&hit["granted_by"]).is_empty());
    assert_eq!(strings(&hit["known_actions"]), ["s3:DeleteBucket"]);
}

#[test]
fn allow_with_not_action_does_not_grant_what_it_lists() {
    // GIVEN Allow NotAction [s3:Delete*, iam:*]
    let policy = fixture("not-action-excluding-s3-deletes.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is clean
    assert_eq!(code, EXIT_CLEAN);
    assert_eq!(only_file(&report)["status"], "clean");
}

#[test]
fn deny_statements_grant_nothing() {
    // GIVEN a document whose only statement denies s3:DeleteBucket
    let policy = fixture("deny-only-bucket-deletion.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is clean
    assert_eq!(code, EXIT_CLEAN);
    assert_eq!(only_file(&report)["status"], "clean");
}

#[test]
fn an_unconditional_deny_on_every_resource_removes_what_it_covers() {
    // GIVEN Allow s3:* and, unconditionally on "*", Deny s3:DeleteBucket
    let policy = fixture("s3-full-access-with-unconditional-deny-of-bucket-deletion.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is clean
    assert_eq!(code, EXIT_CLEAN);
    assert_eq!(only_file(&report)["status"], "clean");
}

#[test]
fn an_unconditional_deny_removes_only_what_it_covers() {
    // GIVEN Allow s3:* and an unconditional Deny of s3:DeleteBucket only
    let policy = fixture("s3-full-access-with-unconditional-deny-of-bucket-deletion.json");

    // WHEN it is checked against s3:DeleteBucket and s3:DeleteObject
    let (code, report) = check_json("s3:DeleteBucket,s3:DeleteObject", &[&policy]);

    // THEN s3:DeleteObject is still granted by s3:*, and s3:DeleteBucket is not reported
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["sid"], "S3FullAccess");
    let hit = only_hit(finding);
    assert_eq!(hit["restricted"], "s3:DeleteObject");
    assert_eq!(strings(&hit["granted_by"]), ["s3:*"]);
}

#[test]
fn a_deny_with_a_condition_removes_nothing() {
    // GIVEN Allow s3:* and a Deny of s3:DeleteBucket that applies only without MFA
    let policy = fixture("s3-full-access-with-deny-unless-mfa.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN the Allow still grants it (with MFA, the Deny does not apply)
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["sid"], "S3FullAccess");
    assert_eq!(only_hit(finding)["restricted"], "s3:DeleteBucket");
}

#[test]
fn a_deny_scoped_to_some_resources_removes_nothing() {
    // GIVEN Allow s3:* and a Deny of s3:DeleteBucket on the prod buckets only
    let policy = fixture("s3-full-access-with-deny-on-prod-buckets.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN the Allow still grants it (on every other bucket)
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["sid"], "S3FullAccess");
    assert_eq!(only_hit(finding)["restricted"], "s3:DeleteBucket");
}

// ---------------------------------------------------------------------------------------------
// 11. Scope: a limited grant is still a grant
// ---------------------------------------------------------------------------------------------

#[test]
fn a_grant_scoped_by_resource_still_counts_and_its_resources_are_reported() {
    // GIVEN s3:DeleteBucket allowed on the staging and QA buckets only
    let policy = fixture("bucket-deletion-scoped-to-staging-buckets.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is flagged, with the Resource scope reported
    assert_eq!(code, EXIT_RESTRICTED);
    let scope = &only_finding(only_file(&report))["scope"];
    assert_eq!(scope["resource_key"], "Resource");
    assert_eq!(
        strings(&scope["resources"]),
        ["arn:aws:s3:::acme-staging-*", "arn:aws:s3:::acme-qa-*"]
    );
    assert!(scope.get("condition").is_none(), "{scope:#}");
}

#[test]
fn a_grant_with_a_condition_still_counts_and_the_condition_is_reported() {
    // GIVEN s3:DeleteBucket allowed only with MFA
    let policy = fixture("bucket-deletion-requires-mfa.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is flagged, with the condition reported as written
    assert_eq!(code, EXIT_RESTRICTED);
    let scope = &only_finding(only_file(&report))["scope"];
    assert_eq!(scope["resource_key"], "Resource");
    assert_eq!(strings(&scope["resources"]), ["*"]);
    assert_eq!(
        scope["condition"],
        json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    );
}

#[test]
fn a_grant_through_not_resource_is_reported_as_not_resource() {
    // GIVEN s3:DeleteBucket allowed on everything but the prod buckets (NotResource)
    let policy = fixture("bucket-deletion-outside-prod-via-not-resource.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN it is flagged, with the NotResource scope reported as such
    assert_eq!(code, EXIT_RESTRICTED);
    let scope = &only_finding(only_file(&report))["scope"];
    assert_eq!(scope["resource_key"], "NotResource");
    assert_eq!(strings(&scope["resources"]), ["arn:aws:s3:::acme-prod-*"]);
}

// ---------------------------------------------------------------------------------------------
// 12. Actions newer than the catalog
// ---------------------------------------------------------------------------------------------

#[test]
fn an_action_missing_from_the_catalog_is_still_flagged_and_the_explanation_says_why() {
    // GIVEN a policy granting s3:DeleteSomethingAwsAddsNextYear, which no catalog knows
    let policy = fixture("action-newer-than-catalog.json");

    // WHEN it is checked against s3:Delete*
    let (code, report) = check_json("s3:Delete*", &[&policy]);

    // THEN it is flagged on the patterns alone, and the explanation says so
    assert_eq!(code, EXIT_RESTRICTED);
    let hit = only_hit(only_finding(only_file(&report)));
    assert_eq!(
        strings(&hit["granted_by"]),
        ["s3:DeleteSomethingAwsAddsNextYear"]
    );
    assert_eq!(hit["known_action_count"], 0);
    assert!(strings(&hit["known_actions"]).is_empty());
    let explanation = hit["explanation"].as_str().expect("explanation");
    assert!(
        explanation.contains("no catalogued action is granted"),
        "{explanation}"
    );
    assert!(explanation.contains("patterns overlap"), "{explanation}");
    assert!(
        explanation.contains("since the catalog was generated"),
        "{explanation}"
    );
}

// ---------------------------------------------------------------------------------------------
// 13-15. Input forms
// ---------------------------------------------------------------------------------------------

#[test]
fn a_percent_encoded_document_gives_the_same_verdict_as_the_raw_one() {
    // GIVEN the same policy raw and percent-encoded (as IAM's GetPolicyVersion returns it)
    let raw = fixture("my-bad-policy-aws-5-mins.json");
    let encoded = fixture("my-bad-policy-aws-5-mins.url-encoded.txt");
    assert!(
        read_fixture("my-bad-policy-aws-5-mins.url-encoded.txt")
            .starts_with("%7B%0A%20%20%22Version%22")
    );

    // WHEN both are checked against s3:DeleteBucket
    let (raw_code, raw_report) = check_json("s3:DeleteBucket", &[&raw]);
    let (encoded_code, encoded_report) = check_json("s3:DeleteBucket", &[&encoded]);

    // THEN the encoded one is accepted, with the same exit code and findings
    assert_eq!(encoded_code, EXIT_RESTRICTED);
    assert_eq!(encoded_code, raw_code);
    let encoded_file = only_file(&encoded_report);
    assert_eq!(encoded_file["status"], "restricted");
    assert_eq!(encoded_file["findings"], only_file(&raw_report)["findings"]);
}

#[test]
fn a_single_statement_object_is_checked_like_a_list_of_one() {
    // GIVEN a policy whose Statement is an object rather than an array
    let policy = fixture("single-statement-object.json");

    // WHEN it is checked against s3:DeleteBucket
    let (code, report) = check_json("s3:DeleteBucket", &[&policy]);

    // THEN that statement is flagged as statement 0
    assert_eq!(code, EXIT_RESTRICTED);
    let finding = only_finding(only_file(&report));
    assert_eq!(finding["statement"], 0);
    assert_eq!(finding["sid"], "BucketJanitor");
}

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
    assert_eq!(only_finding(file)["sid"], "VisualEditor0");
}

// ---------------------------------------------------------------------------------------------
// 16-17. Invalid input
// ---------------------------------------------------------------------------------------------

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

#[test]
fn a_file_that_is_not_json_is_invalid_and_the_message_says_so() {
    // GIVEN a policy written as YAML
    let yaml = fixture("cloudformation-yaml-not-json.yaml");

    // WHEN it is checked
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&yaml]);

    // THEN the input is invalid: not valid JSON, in a message naming the file
    assert_eq!(run.code, EXIT_INVALID);
    assert!(
        run.stderr.contains("cloudformation-yaml-not-json.yaml"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);
}

#[test]
fn truncated_json_is_invalid_and_the_message_says_where() {
    // GIVEN a document cut off in the middle of its Statement array
    let truncated = TempFile::new(
        "truncated.json",
        r#"{"Version": "2012-10-17", "Statement": ["#,
    );

    // WHEN it is checked
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&truncated.path()]);

    // THEN the input is invalid: not valid JSON, with the position
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stderr.contains(&truncated.path()), "{}", run.stderr);
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);
    assert!(run.stderr.contains("line 1"), "{}", run.stderr);
}

#[test]
fn a_lowercase_effect_is_invalid_and_the_message_names_the_statement_and_its_sid() {
    // GIVEN a policy whose second statement says `"Effect": "allow"`
    let policy = fixture("lowercase-effect-allow.json");

    // WHEN it is checked
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&policy]);

    // THEN the input is invalid, and stderr names the file, statement 1, its Sid and the value
    assert_eq!(run.code, EXIT_INVALID);
    let message = run.stderr.trim();
    assert!(message.contains("lowercase-effect-allow.json"), "{message}");
    assert!(
        message.ends_with(r#"statement 1 (Sid "AllowBucketCleanup"): Effect must be "Allow" or "Deny", not "allow""#),
        "{message}"
    );
}

#[test]
fn an_unknown_statement_key_is_invalid_and_the_message_names_the_key() {
    // GIVEN a policy with `Actions` where `Action` was meant
    let policy = fixture("misspelled-actions-key.json");

    // WHEN it is checked
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&policy]);

    // THEN the input is invalid, and stderr names the file, the statement and the key
    assert_eq!(run.code, EXIT_INVALID);
    assert!(
        run.stderr.contains("misspelled-actions-key.json"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("statement 0"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown field `Actions`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_policy_action_without_a_service_prefix_is_invalid() {
    // GIVEN a policy whose Action is `DeleteBucket`, with no `s3:`
    let policy = fixture("action-without-service-prefix.json");

    // WHEN it is checked
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&policy]);

    // THEN the input is invalid, and stderr names the statement, its Sid and the action
    assert_eq!(run.code, EXIT_INVALID);
    assert!(
        run.stderr.contains("action-without-service-prefix.json"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#"statement 0 (Sid "BucketJanitor"): Action "DeleteBucket" is not of the form service:action"#),
        "{}",
        run.stderr
    );
}

#[test]
fn a_typo_in_the_restricted_patterns_is_invalid_and_the_message_suggests_the_known_action() {
    // GIVEN a restricted list with a typo: s3:DeleteBuckett
    let policy = fixture("my-bad-policy-aws-5-mins.json");

    // WHEN a policy is checked against it
    let run = check(&["--restricted", "s3:DeleteBuckett"], &[&policy]);

    // THEN nothing is checked, and stderr names the typo and the action probably meant
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("--restricted"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(r#""s3:DeleteBuckett" matches no known IAM action"#),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#"did you mean "s3:DeleteBucket"?"#),
        "{}",
        run.stderr
    );
}

#[test]
fn an_empty_restricted_list_is_invalid() {
    // GIVEN an empty restricted list
    let policy = fixture("my-bad-policy-aws-5-mins.json");

    // WHEN a policy is checked against it
    let run = check(&["--restricted", ""], &[&policy]);

    // THEN nothing is checked, and stderr says the list is empty
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("--restricted: the restricted action list is empty"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_restricted_pattern_without_a_service_prefix_is_invalid() {
    // GIVEN a restricted pattern `DeleteBucket`, with no `s3:`
    let policy = fixture("my-bad-policy-aws-5-mins.json");

    // WHEN a policy is checked against it
    let run = check(&["--restricted", "DeleteBucket"], &[&policy]);

    // THEN nothing is checked, and stderr names the pattern and the rule it breaks
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains(r#"restricted action "DeleteBucket" is not of the form service:action"#),
        "{}",
        run.stderr
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

// ---------------------------------------------------------------------------------------------
// 18. The JSON report
// ---------------------------------------------------------------------------------------------

#[test]
fn the_json_report_has_the_restricted_list_the_catalog_provenance_and_a_status_per_file() {
    // GIVEN a clean, a flagged and an invalid policy
    let clean = fixture("read-only-reports-bucket.json");
    let flagged = fixture("my-bad-policy-aws-5-mins.json");
    let invalid = fixture("misspelled-actions-key.json");

    // WHEN they are checked with --format json
    let (code, report) = check_json(
        "s3:DeleteBucket,s3:DeleteObject",
        &[&clean, &flagged, &invalid],
    );

    // THEN the report lists the restricted patterns, where the catalog came from, and each file
    assert_eq!(code, EXIT_INVALID);
    assert_eq!(
        strings(&report["restricted"]),
        ["s3:DeleteBucket", "s3:DeleteObject"]
    );
    assert!(report["catalog"]["actions"].as_u64().expect("catalog size") > 10_000);
    let provenance = strings(&report["catalog"]["provenance"]);
    assert!(
        provenance.iter().any(|line| line.starts_with("source:")),
        "{provenance:?}"
    );
    assert!(
        provenance
            .iter()
            .any(|line| line.starts_with("data-version:")),
        "{provenance:?}"
    );

    let files = report["files"].as_array().expect("files");
    let names: Vec<&str> = files
        .iter()
        .map(|f| f["file"].as_str().expect("file name"))
        .collect();
    assert_eq!(names, [clean.as_str(), flagged.as_str(), invalid.as_str()]);
    let statuses: Vec<&str> = files
        .iter()
        .map(|f| f["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["clean", "restricted", "invalid"]);
    assert!(findings(&files[0]).is_empty());
    assert_eq!(findings(&files[1]).len(), 1);
    assert!(
        files[2]["error"]
            .as_str()
            .expect("error")
            .contains("unknown field `Actions`")
    );
}

// ---------------------------------------------------------------------------------------------
// 19-20. --fix: the quarantined document
// ---------------------------------------------------------------------------------------------

#[test]
fn the_quarantined_document_checks_clean() {
    // GIVEN the AWS walkthrough's my-bad-policy-aws-5-mins
    let policy = fixture("my-bad-policy-aws-5-mins.json");
    let restricted = "s3:DeleteBucket,s3:DeleteObject";

    // WHEN it is checked with --fix
    let (code, quarantine) = fix_json(restricted, "managed", &policy);

    // THEN the quarantined document, checked again, grants nothing restricted
    assert_eq!(code, EXIT_RESTRICTED);
    assert_eq!(recheck_quarantine(restricted, &quarantine), EXIT_CLEAN);
}

#[test]
fn the_quarantine_keeps_the_non_restricted_actions_of_the_offending_statement() {
    // GIVEN Allow s3:GetBucketObjectLockConfiguration, s3:DeleteObjectVersion, s3:DeleteBucket
    let policy = fixture("my-bad-policy-aws-5-mins.json");

    // WHEN it is quarantined against s3:DeleteBucket and s3:DeleteObject
    let (_, quarantine) = fix_json("s3:DeleteBucket,s3:DeleteObject", "managed", &policy);

    // THEN only s3:DeleteBucket is removed from the statement
    let statement = &statements(&quarantine["document"])[0];
    assert_eq!(statement["Sid"], "VisualEditor0");
    assert_eq!(
        strings(&statement["Action"]),
        [
            "s3:GetBucketObjectLockConfiguration",
            "s3:DeleteObjectVersion"
        ]
    );
    assert_eq!(statement["Resource"], "*");
    assert_eq!(change_kinds(&quarantine), ["removed_actions"]);
    assert_eq!(
        strings(&quarantine["changes"][0]["actions"]),
        ["s3:DeleteBucket"]
    );
}

#[test]
fn a_not_action_statement_gets_the_restricted_patterns_added_to_its_not_action() {
    // GIVEN a power-user policy: Allow NotAction [iam:*, organizations:*, account:*]
    let policy = fixture("power-user-not-action-iam.json");
    let original: Value =
        serde_json::from_str(&read_fixture("power-user-not-action-iam.json")).unwrap();

    // WHEN it is quarantined against s3:DeleteBucket
    let (_, quarantine) = fix_json("s3:DeleteBucket", "managed", &policy);

    // THEN s3:DeleteBucket joins the NotAction list, the other statement is untouched, and the
    // result checks clean
    let rewritten = statements(&quarantine["document"]);
    assert_eq!(
        strings(&rewritten[0]["NotAction"]),
        ["iam:*", "organizations:*", "account:*", "s3:DeleteBucket"]
    );
    assert_eq!(rewritten[1], statements(&original)[1]);
    assert_eq!(change_kinds(&quarantine), ["added_to_not_action"]);
    assert_eq!(
        recheck_quarantine("s3:DeleteBucket", &quarantine),
        EXIT_CLEAN
    );
}

#[test]
fn action_star_becomes_a_not_action_of_the_restricted_patterns() {
    // GIVEN AdministratorAccess: Allow Action "*" on "*"
    let policy = fixture("administrator-access.json");
    let restricted = "s3:DeleteBucket,s3:DeleteObject";

    // WHEN it is quarantined against s3:DeleteBucket and s3:DeleteObject
    let (_, quarantine) = fix_json(restricted, "managed", &policy);

    // THEN the statement allows everything but those, through NotAction
    let statement = &statements(&quarantine["document"])[0];
    assert_eq!(statement["Effect"], "Allow");
    assert!(statement.get("Action").is_none(), "{statement:#}");
    assert_eq!(
        strings(&statement["NotAction"]),
        ["s3:DeleteBucket", "s3:DeleteObject"]
    );
    assert_eq!(statement["Resource"], "*");
    assert_eq!(recheck_quarantine(restricted, &quarantine), EXIT_CLEAN);
}

#[test]
fn the_quarantine_never_adds_a_deny_statement() {
    // GIVEN offending policies without any Deny, and the patterns they grant
    let cases = [
        (
            "my-bad-policy-aws-5-mins.json",
            "s3:DeleteBucket,s3:DeleteObject",
        ),
        ("power-user-not-action-iam.json", "s3:DeleteBucket"),
        ("administrator-access.json", "iam:*"),
        ("s3-delete-wildcard.json", "s3:DeleteBucket"),
        ("one-statement-per-service.json", "*"),
        (
            "ec2-full-access-inline-user-policy.json",
            "ec2:TerminateInstances",
        ),
    ];
    for (name, restricted) in cases {
        // WHEN each is quarantined
        let (code, quarantine) = fix_json(restricted, "managed", &fixture(name));
        assert_eq!(code, EXIT_RESTRICTED, "{name}");

        // THEN no statement of the quarantine is a Deny, and it checks clean
        let denies: Vec<&Value> = statements(&quarantine["document"])
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .collect();
        assert!(
            denies.is_empty(),
            "{name} against {restricted}: {denies:#?}"
        );
        assert_eq!(
            recheck_quarantine(restricted, &quarantine),
            EXIT_CLEAN,
            "{name}"
        );
    }
}

#[test]
fn a_wildcard_whose_expansion_cannot_fit_a_user_inline_policy_is_dropped_rather_than_the_limit_exceeded()
 {
    // GIVEN a user inline policy allowing ec2:* plus two CloudWatch reads, and restricted
    // ec2:*Instances, which no `ec2:Prefix*` avoids: ec2:* minus it is ~800 names, far over 2,048
    let policy = fixture("ec2-operator-inline-user-policy.json");
    let restricted = "ec2:*Instances";

    // WHEN it is quarantined with --kind user
    let (_, quarantine) = fix_json(restricted, "user", &policy);

    // THEN ec2:* is dropped (and said so), the rest of the statement stays, the result fits in
    // 2,048 characters and checks clean
    let dropped = &quarantine["changes"][0];
    assert_eq!(change_kinds(&quarantine), ["dropped_wildcard"]);
    assert_eq!(dropped["wildcard"], "ec2:*");
    assert!(
        dropped["reason"].as_str().unwrap().contains("2048"),
        "{dropped:#}"
    );
    let statement = &statements(&quarantine["document"])[0];
    assert_eq!(
        strings(&statement["Action"]),
        ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]
    );
    let size = quarantine["size"].as_u64().expect("size");
    assert!(size <= USER_INLINE_LIMIT, "{size}");
    assert_eq!(
        size,
        quarantine["document"].to_string().chars().count() as u64
    );
    assert_eq!(recheck_quarantine(restricted, &quarantine), EXIT_CLEAN);
}

#[test]
fn a_wildcard_whose_expansion_fits_is_expanded_rather_than_dropped() {
    // GIVEN a user inline policy allowing ec2:*, and restricted ec2:TerminateInstances
    let policy = fixture("ec2-full-access-inline-user-policy.json");
    let restricted = "ec2:TerminateInstances";

    // WHEN it is quarantined with --kind user
    let (_, quarantine) = fix_json(restricted, "user", &policy);

    // THEN ec2:* is replaced by patterns covering the rest of ec2, within 2,048 characters:
    // the result no longer grants ec2:TerminateInstances but still grants ec2:DescribeInstances
    assert_eq!(change_kinds(&quarantine), ["expanded_wildcard"]);
    assert_eq!(quarantine["changes"][0]["wildcard"], "ec2:*");
    assert!(quarantine["size"].as_u64().expect("size") <= USER_INLINE_LIMIT);
    assert_eq!(recheck_quarantine(restricted, &quarantine), EXIT_CLEAN);
    assert_eq!(
        recheck_quarantine("ec2:DescribeInstances", &quarantine),
        EXIT_RESTRICTED
    );
}

#[test]
fn a_statement_emptied_by_a_dropped_wildcard_still_says_the_wildcard_was_dropped_for_size() {
    // GIVEN a user inline policy whose first statement allows only ec2:*, and restricted
    // ec2:*Instances, so ec2:* minus the restricted actions cannot fit in 2,048 characters
    let policy = fixture("ec2-full-access-inline-user-policy.json");
    let restricted = "ec2:*Instances";

    // WHEN it is quarantined with --kind user
    let (_, quarantine) = fix_json(restricted, "user", &policy);

    // THEN the result fits and is clean, and the changes say ec2:* was dropped for its size
    assert!(quarantine["size"].as_u64().expect("size") <= USER_INLINE_LIMIT);
    assert_eq!(recheck_quarantine(restricted, &quarantine), EXIT_CLEAN);
    let changes = quarantine["changes"].as_array().expect("changes");
    assert!(
        changes
            .iter()
            .any(|c| c["change"] == "dropped_wildcard" && c["wildcard"] == "ec2:*"),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .all(|c| c["reason"]
                != "nothing it granted is left once the restricted actions are removed"),
        "ec2:DescribeInstances and hundreds more were granted and are not restricted: {changes:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 21-22. Configuration from the environment, and the human output
// ---------------------------------------------------------------------------------------------

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
        only_hit(only_finding(only_file(&report)))["restricted"],
        "s3:DeleteBucket"
    );
}

#[test]
fn a_clean_file_exits_zero_and_the_human_output_says_ok() {
    // GIVEN a read-only policy
    let policy = fixture("read-only-reports-bucket.json");

    // WHEN it is checked against s3:DeleteBucket and s3:DeleteObject, for people
    let run = check(
        &["--restricted", "s3:DeleteBucket,s3:DeleteObject"],
        &[&policy],
    );

    // THEN it exits 0 and says the file is ok
    assert_eq!(run.code, EXIT_CLEAN);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("{policy}: ok, grants no restricted action\n")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 document checked against s3:DeleteBucket,s3:DeleteObject: 0 restricted, 1 clean, 0 invalid"));
}

#[test]
fn the_human_output_names_the_file_the_statement_its_sid_and_the_restricted_action() {
    // GIVEN a policy whose third statement grants s3:DeleteBucket
    let policy = fixture("bucket-deletion-only-in-third-statement.json");

    // WHEN it is checked for people
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&policy]);

    // THEN the output says where and why
    assert_eq!(run.code, EXIT_RESTRICTED);
    let expected = [
        format!("{policy}: GRANTS RESTRICTED ACTIONS"),
        r#"  statement 2 (Sid "TearDownPreviewBuckets"), on every resource, unconditionally:"#
            .into(),
        r#"    s3:DeleteBucket  [exact] Action "s3:DeleteBucket" names it"#.into(),
        "      grants s3:DeleteBucket".into(),
        String::new(),
        "1 document checked against s3:DeleteBucket: 1 restricted, 0 clean, 0 invalid".into(),
    ];
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn the_human_output_shows_a_limited_grant_with_its_resources_and_condition() {
    // GIVEN s3:DeleteBucket allowed on "*" only with MFA
    let policy = fixture("bucket-deletion-requires-mfa.json");

    // WHEN it is checked for people
    let run = check(&["--restricted", "s3:DeleteBucket"], &[&policy]);

    // THEN the finding says the grant is limited by a Condition
    assert_eq!(run.code, EXIT_RESTRICTED);
    assert!(
        run.stdout.contains(
            r#"statement 0 (Sid "DeleteBucketsWithMfa"), on Resource *, with a Condition:"#
        ),
        "{}",
        run.stdout
    );
}
