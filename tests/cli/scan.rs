//! `scan`: a whole account's users and roles, from `aws iam get-account-authorization-details`.
//! What the engine decides per principal is specified on its API
//! (`crates/policy-engine/tests/specification/access.rs`), and how the rules classify each
//! grant, for the sweep and `scan --rules` alike, in `policy_engine::in_force`; these tests own
//! the report and the exit codes.

use serde_json::{Value, json};

use crate::support::{
    EXIT_CLEAN, EXIT_INVALID, EXIT_RESTRICTED, TempFile, account_fixture, rules_fixture, scan,
    strings,
};

const RESTRICTED: &str = "iam:*,s3:DeleteBucket";

fn scan_json(file: &str, input: Option<&str>) -> (i32, Value) {
    let run = scan(
        &["--restricted", RESTRICTED, "--format", "json"],
        file,
        input,
    );
    (run.code, run.report())
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array of principals")
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["kind"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_json_report_lists_the_principals_that_can_perform_restricted_actions_and_why() {
    // GIVEN the CLI's output for an account (Carol: admin through a group, iam:* denied by another)
    // WHEN it is scanned with --format json
    let (code, report) = scan_json(&account_fixture("cli-output.json"), None);

    // THEN only principals with a grant are listed, each grant with the statements behind it
    assert_eq!(code, EXIT_RESTRICTED);
    assert_eq!(strings(&report["restricted"]), ["iam:*", "s3:DeleteBucket"]);
    assert_eq!(names(&report["principals"]), ["user/Alice", "user/Carol"]);
    let admin = json!({"kind": "managed", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "versionId": "v1"});
    assert_eq!(
        report["principals"][1],
        json!({
            "kind": "user",
            "name": "Carol",
            "arn": "arn:aws:iam::123456789012:user/contractors/Carol",
            "grants": [{
                "pattern": "s3:DeleteBucket",
                "mode": "enforce",
                "via": [{"source": admin, "throughGroup": "Admins", "statement": "#0", "actions": ["*"]}],
                "knownActionCount": 1,
                "exempted": [],
                "expired": []
            }],
            "alerted": [],
            "exempted": [],
            "removed": [{
                "pattern": "iam:*",
                "by": {
                    "kind": "denied",
                    "source": {"kind": "inline", "owner": {"kind": "group", "name": "Contractors"}, "policyName": "NoIdentityChanges"},
                    "statement": "NoIdentityChanges"
                }
            }],
            "unresolved": []
        })
    );
    // AND a principal whose attachments are not all in the file is listed as incomplete
    assert_eq!(names(&report["incomplete"]), ["role/EC2role"]);
    assert_eq!(
        report["incomplete"][0]["unresolved"],
        json!([{"kind": "managedPolicy", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess", "throughGroup": null}])
    );
    assert_eq!(report["invalid"], json!([]));
    assert_eq!(
        report["examined"],
        json!({"users": 3, "roles": 2, "groups": 2, "policies": 2})
    );
}

#[test]
fn the_human_report_says_through_what_and_what_removed_the_rest() {
    // GIVEN the API's form of the same account (documents percent-encoded)
    // WHEN it is scanned for people
    let run = scan(
        &["--restricted", RESTRICTED],
        &account_fixture("api-encoded.json"),
        None,
    );

    // THEN each principal's grants, removals and unresolved attachments are lines
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    for line in [
        "user \"Carol\" (arn:aws:iam::123456789012:user/contractors/Carol): CAN PERFORM RESTRICTED ACTIONS",
        "  s3:DeleteBucket (1 known action)",
        "    via managed policy arn:aws:iam::aws:policy/AdministratorAccess (v1) through group \"Admins\", statement #0: *",
        "  removed: iam:*: denied by inline policy \"NoIdentityChanges\" of group \"Contractors\", statement NoIdentityChanges",
        "user \"Bob\" (arn:aws:iam::123456789012:user/Bob): can perform no restricted action",
        "  removed: iam:*: not allowed by the permissions boundary",
        "  unresolved: managed policy arn:aws:iam::aws:policy/AmazonS3FullAccess: its document is not in the file; not analysed",
        "3 users, 2 roles, 2 groups and 2 managed policies examined against iam:*,s3:DeleteBucket: \
         2 can perform restricted actions, 1 incomplete (unresolved attachments), 0 invalid",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "no line {line:?} in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn an_account_where_nobody_can_perform_a_restricted_action_exits_clean() {
    // GIVEN an account of one read-only role, piped in
    let account = json!({"RoleDetailList": [{
        "RoleName": "reader", "Arn": "arn:aws:iam::123456789012:role/reader",
        "RolePolicyList": [{"PolicyName": "Read", "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]
        }}]
    }]});

    // WHEN it is scanned from standard input
    let (code, report) = scan_json("-", Some(&account.to_string()));

    // THEN nothing is listed and the exit code says clean
    assert_eq!(code, EXIT_CLEAN);
    assert_eq!(report["principals"], json!([]));
    assert_eq!(report["examined"]["roles"], 1);
}

#[test]
fn unreadable_input_exits_invalid_and_says_where() {
    let bad_shape = TempFile::new(
        "bad-shape.json",
        r#"{"UserDetailList": [{"UserName": "u", "GroupList": "Admins"}]}"#,
    );
    let bad_policy = TempFile::new(
        "bad-policy.json",
        r#"{"RoleDetailList": [
            {"RoleName": "broken", "RolePolicyList": [{"PolicyName": "P", "PolicyDocument": {"Statement": []}}]},
            {"RoleName": "admin", "RolePolicyList": [{"PolicyName": "A", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}
        ]}"#,
    );
    let cases = [
        (
            bad_shape.path(),
            "at UserDetailList[0].GroupList: invalid type: string \"Admins\", expected a sequence",
        ),
        (
            bad_policy.path(),
            "role \"broken\": inline policy \"P\" of role \"broken\": the policy document has an empty Statement list",
        ),
        (
            "no-such-file.json".to_owned(),
            "no-such-file.json: cannot read it",
        ),
    ];
    for (file, expected) in cases {
        let run = scan(&["--restricted", RESTRICTED], &file, None);
        assert_eq!(run.code, EXIT_INVALID, "{file}");
        assert!(run.stderr.contains(expected), "{file}: {}", run.stderr);
    }
    // A principal that cannot be analysed does not hide the others.
    let (code, report) = scan_json(&bad_policy.path(), None);
    assert_eq!(code, EXIT_INVALID);
    assert_eq!(names(&report["principals"]), ["role/admin"]);
    assert_eq!(names(&report["invalid"]), ["role/broken"]);

    let run = scan(
        &["--restricted", "iam:Nope"],
        &account_fixture("cli-output.json"),
        None,
    );
    assert_eq!(run.code, EXIT_INVALID);
    assert!(run.stderr.contains("--restricted"), "{}", run.stderr);
}

/// The baseline of `rollout-baseline.json` against the rules `name`, with `extra` arguments.
fn scan_rules(name: &str, extra: &[&str], format: &str) -> crate::support::Run {
    let rules = rules_fixture(name);
    let mut args = vec!["--rules", rules.as_str(), "--format", format];
    args.extend_from_slice(extra);
    scan(&args, &account_fixture("rollout-baseline.json"), None)
}

/// Each listed principal as `kind/name: enforced [..] alerted [..] exempted [pattern by
/// exemption, ..] expired [pattern by exemption, ..]`.
fn classified(report: &Value) -> Vec<String> {
    let patterns = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|g| g["pattern"].as_str().unwrap().to_owned())
            .collect()
    };
    // Every grant's statements an exemption covers (`exempted`) or covered (`expired`).
    let covered = |p: &Value, key: &str| -> Vec<String> {
        ["grants", "alerted", "exempted"]
            .iter()
            .flat_map(|list| p[list].as_array().unwrap())
            .flat_map(|g| {
                g[key].as_array().unwrap().iter().flat_map(move |c| {
                    c["by"].as_array().unwrap().iter().map(move |by| {
                        format!(
                            "{} by {}",
                            g["pattern"].as_str().unwrap(),
                            by["exemption"]["name"].as_str().unwrap()
                        )
                    })
                })
            })
            .collect()
    };
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}/{}: enforced {:?} alerted {:?} exempted {:?} expired {:?}",
                p["kind"].as_str().unwrap(),
                p["name"].as_str().unwrap(),
                patterns(&p["grants"]),
                patterns(&p["alerted"]),
                covered(p, "exempted"),
                covered(p, "expired"),
            )
        })
        .collect()
}

#[test]
fn the_rules_classify_each_grant_as_enforced_alerted_or_exempted() {
    // GIVEN an account's baseline and the rules a team has after a week of alerts
    // WHEN it is scanned with the rules
    let run = scan_rules("baseline.toml", &[], "json");

    // THEN each principal's grants are in the mode of their rules, each exemption named where
    // it covers a statement, the expired one where it no longer does
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    let report = run.report();
    assert_eq!(
        classified(&report),
        [
            r#"user/alice: enforced ["*", "s3:DeleteBucket"] alerted ["iam:PassRole", "iam:CreateAccessKey"] exempted [] expired []"#,
            // Through the group data-engineers, whose exemption expired on 2026-06-30.
            r#"user/dave: enforced ["s3:DeleteBucket"] alerted [] exempted [] expired ["s3:DeleteBucket by data-team-cleanup"]"#,
            r#"role/break-glass: enforced [] alerted [] exempted ["* by break-glass", "s3:DeleteBucket by break-glass", "iam:PassRole by break-glass", "iam:CreateAccessKey by break-glass"] expired []"#,
            r#"role/preview-deployer: enforced [] alerted [] exempted ["s3:DeleteBucket by preview-teardown"] expired []"#,
            // The platform policy's statement is exempt, the inline one still grants it; the
            // statement within the acceptable scope grants nothing.
            r#"role/lambda-deployer: enforced [] alerted ["iam:PassRole"] exempted ["iam:PassRole by platform-pass-role"] expired []"#,
            // An exemption of an actor never covers a grant in force: nobody is making it.
            r#"role/ci-deploy: enforced [] alerted ["iam:PassRole", "iam:CreateAccessKey"] exempted [] expired []"#,
        ]
    );
    // AND an exemption is named in full, with the rule whose grant it covers
    assert_eq!(
        report["principals"][3]["exempted"][0]["exempted"][0],
        json!({
            "source": {"kind": "inline", "owner": {"kind": "role", "name": "preview-deployer"}, "policyName": "PreviewEnvironments"},
            "throughGroup": null,
            "statement": "TearDownPreviewBuckets",
            "actions": ["s3:DeleteBucket"],
            "by": [{"rule": "bucket-deletion", "exemption": {
                "name": "preview-teardown", "owner": "web-platform@example.com",
                "reason": "Preview environments delete their own buckets when the pull request closes",
                "expires": "2099-12-31"
            }}]
        })
    );
    // AND the report says which rules it applied
    assert_eq!(strings(&report["restricted"]), ["*", "s3:DeleteBucket"]);
    assert_eq!(
        strings(&report["alerting"]),
        ["iam:PassRole", "iam:CreateAccessKey"]
    );
    assert_eq!(
        report["rules"]["file"].as_str(),
        Some(rules_fixture("baseline.toml").as_str())
    );
    assert_eq!(report["rules"]["digest"].as_str().map(str::len), Some(64));
    assert_eq!(names(&report["incomplete"]), Vec::<String>::new());
}

#[test]
fn the_human_report_has_a_section_per_mode_and_names_each_exemption() {
    let run = scan_rules("baseline.toml", &[], "human");

    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    for block in [
        // Enforced and alerted grants apart, each pattern with its rules.
        r#"user "alice" (arn:aws:iam::123456789012:user/alice): CAN PERFORM RESTRICTED ACTIONS
  enforced (fails the scan):
    * (22321 known actions; rule full-admin)
      via managed policy arn:aws:iam::aws:policy/AdministratorAccess (v1) through group "admins", statement #0: *
    s3:DeleteBucket (1 known action; rule bucket-deletion)
      via managed policy arn:aws:iam::aws:policy/AdministratorAccess (v1) through group "admins", statement #0: *
  alerted (reported, not failing):
    iam:PassRole (1 known action; rule privilege-escalation)"#,
        // An expired exemption: named under the statement it no longer covers.
        r#"    s3:DeleteBucket (1 known action; rule bucket-deletion)
      via inline policy "ExperimentCleanup" of group "data-engineers" through group "data-engineers", statement DeleteExperimentBuckets: s3:DeleteBucket
        no longer exempted, the exemption expired (rule bucket-deletion): exemption "data-team-cleanup" (owner data-team@example.com, until 2026-06-30: The data team's nightly job removes the buckets of finished experiments)"#,
        // An exempted grant: the statement, the rule, the exemption's name, owner, expiry and
        // reason.
        r#"role "preview-deployer" (arn:aws:iam::123456789012:role/preview-deployer): can perform no restricted action
  exempted:
    s3:DeleteBucket (1 known action; rule bucket-deletion)
      exempted: inline policy "PreviewEnvironments" of role "preview-deployer", statement TearDownPreviewBuckets: s3:DeleteBucket
        rule bucket-deletion: exemption "preview-teardown" (owner web-platform@example.com, until 2099-12-31: Preview environments delete their own buckets when the pull request closes)"#,
        // A grant that counts through one statement while another is exempted.
        r#"role "lambda-deployer" (arn:aws:iam::123456789012:role/platform/lambda-deployer): alerts only: can perform actions of alert rules (reported, not failing)
  alerted (reported, not failing):
    iam:PassRole (1 known action; rule privilege-escalation)
      via inline policy "Debugging" of role "lambda-deployer", statement #0: iam:PassRole
      exempted: managed policy arn:aws:iam::123456789012:policy/platform/LambdaDeploy (v1), statement PassDeployRoles: iam:PassRole
        rule privilege-escalation: exemption "platform-pass-role" (owner platform-team@example.com, until 2099-12-31: The platform's deploy policies pass the roles they deploy with)"#,
    ] {
        assert!(
            run.stdout.contains(block),
            "no block\n{block}\nin:\n{}",
            run.stdout
        );
    }
    let summary = format!(
        "2 users, 5 roles, 2 groups and 4 managed policies examined against the rules of {}: \
         2 can perform restricted actions, 2 alerted only, 2 exempted only, \
         0 incomplete (unresolved attachments), 0 invalid",
        rules_fixture("baseline.toml")
    );
    assert!(
        run.stdout.lines().any(|l| l == summary),
        "no line {summary:?} in:\n{}",
        run.stdout
    );
    // The read-only role grants nothing of the rules: not listed.
    assert!(!run.stdout.contains("app-reader"), "{}", run.stdout);
}

#[test]
fn only_a_grant_of_an_enforce_rule_fails_the_scan() {
    // (rules, extra arguments, exit code, alice's enforced and alerted patterns)
    type Case<'c> = (&'c str, &'c [&'c str], i32, &'c [&'c str], &'c [&'c str]);
    let cases: [Case; 3] = [
        // The rollout's first step: everything alerted, nothing fails.
        (
            "alert-mode.toml",
            &[],
            EXIT_CLEAN,
            &[],
            &[
                "*",
                "s3:DeleteBucket",
                "iam:PassRole",
                "iam:CreateAccessKey",
            ],
        ),
        // --restricted is one more enforced rule; enforce wins over alert for its pattern.
        (
            "alert-mode.toml",
            &["--restricted", "s3:DeleteBucket"],
            EXIT_RESTRICTED,
            &["s3:DeleteBucket"],
            &["*", "iam:PassRole", "iam:CreateAccessKey"],
        ),
        (
            "baseline.toml",
            &[],
            EXIT_RESTRICTED,
            &["*", "s3:DeleteBucket"],
            &["iam:PassRole", "iam:CreateAccessKey"],
        ),
    ];
    for (rules, extra, code, enforced, alerted) in cases {
        let run = scan_rules(rules, extra, "json");
        assert_eq!(run.code, code, "{rules} {extra:?}: {}", run.stderr);
        let report = run.report();
        let alice = &report["principals"][0];
        assert_eq!(alice["name"], "alice");
        let patterns = |list: &Value| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|g| g["pattern"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(patterns(&alice["grants"]), enforced, "{rules} {extra:?}");
        assert_eq!(patterns(&alice["alerted"]), alerted, "{rules} {extra:?}");
    }
}

#[test]
fn an_invalid_rules_file_exits_invalid_with_its_line() {
    let run = scan_rules("unknown-action.toml", &[], "human");
    assert_eq!(run.code, EXIT_INVALID);
    assert!(
        run.stderr.contains("unknown-action.toml: line "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

/// Another document scanned by mistake (a policy, another command's output) is refused, not
/// read as an account with nobody in it, which would pass.
#[test]
fn a_file_that_is_not_the_authorization_details_fails_the_scan() {
    let policy = crate::support::fixture("my-bad-policy-aws-5-mins.json");
    let users = TempFile::new(
        "list-users.json",
        r#"{"Users": [{"UserName": "alice", "Arn": "arn:aws:iam::123456789012:user/alice"}]}"#,
    );
    for file in [policy, users.path()] {
        let run = scan(&["--restricted", RESTRICTED], &file, None);
        assert_eq!(run.code, EXIT_INVALID, "{file}: {}", run.stdout);
        assert!(
            run.stderr.starts_with(&format!(
                "iam-sentinel: {file}: not the output of `aws iam get-account-authorization-details`"
            )),
            "{file}: {}",
            run.stderr
        );
    }
}

/// Windows PowerShell's `Out-File -Encoding utf8` starts the file with a byte-order mark, which
/// a JSON reader may skip (RFC 8259): the scan reads the same account.
#[test]
fn account_details_with_a_byte_order_mark_read_the_same() {
    let file = account_fixture("cli-output.json");
    let text = std::fs::read_to_string(&file).expect("the fixture");
    let with_bom = TempFile::new("bom-account.json", &format!("\u{feff}{text}"));
    let plain = scan(
        &["--restricted", RESTRICTED, "--format", "json"],
        &file,
        None,
    );
    let marked = scan(
        &["--restricted", RESTRICTED, "--format", "json"],
        &with_bom.path(),
        None,
    );
    assert_eq!(marked.code, plain.code, "{}", marked.stderr);
    assert_eq!(marked.report()["principals"], plain.report()["principals"]);
}
