//! `scan`: a whole account's users and roles, from `aws iam get-account-authorization-details`.
//! What the engine decides per principal is specified on its API
//! (`crates/policy-engine/tests/specification/access.rs`); these tests own the report and the
//! exit codes.

use serde_json::{Value, json};

use crate::support::{
    EXIT_CLEAN, EXIT_INVALID, EXIT_RESTRICTED, TempFile, account_fixture, scan, strings,
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
                "via": [{"source": admin, "throughGroup": "Admins", "statement": "#0", "actions": ["*"]}],
                "knownActionCount": 1
            }],
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
