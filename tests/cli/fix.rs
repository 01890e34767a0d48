//! `--fix`: the quarantined document in the report, within the quota `--kind` sets. What the
//! quarantine is, is the engine's specification (`quarantine.rs`).

use serde_json::{Value, json};

use crate::support::{
    EXIT_CLEAN, EXIT_RESTRICTED, TempFile, check, check_stdin, fixture, only_file,
};

#[test]
fn fix_adds_the_quarantine_to_the_json_entry_of_each_flagged_file_and_keeps_the_exit_code() {
    // GIVEN the AWS walkthrough's my-bad-policy-aws-5-mins, and a clean policy
    let flagged = fixture("my-bad-policy-aws-5-mins.json");
    let clean = fixture("read-only-reports-bucket.json");
    let restricted = "s3:DeleteBucket,s3:DeleteObject";

    // WHEN they are checked with --fix
    let run = check(
        &["--restricted", restricted, "--format", "json", "--fix"],
        &[&flagged, &clean],
    );

    // THEN the flagged file still exits 1, and its entry has the quarantined document, its
    // size and the edits; the clean file has no quarantine
    assert_eq!(run.code, EXIT_RESTRICTED, "{}", run.stderr);
    let report = run.report();
    let quarantine = &report["files"][0]["quarantine"];
    assert_eq!(
        quarantine,
        &json!({
            "document": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "VisualEditor0",
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketObjectLockConfiguration", "s3:DeleteObjectVersion"],
                    "Resource": "*",
                }],
            },
            "size": 168,
            "changes": [{
                "change": "removed_actions",
                "statement": 0,
                "sid": "VisualEditor0",
                "actions": ["s3:DeleteBucket"],
            }],
        })
    );
    assert!(report["files"][1].get("quarantine").is_none(), "{report:#}");

    // AND the quarantined document, saved as a file, checks clean
    let saved = TempFile::new("quarantined.json", &quarantine["document"].to_string());
    let again = check(&["--restricted", restricted], &[&saved.path()]);
    assert_eq!(again.code, EXIT_CLEAN, "{}{}", again.stdout, again.stderr);
}

#[test]
fn fix_prints_each_edit_and_the_quarantined_document_under_the_findings() {
    // GIVEN the AWS walkthrough's my-bad-policy-aws-5-mins
    let policy = fixture("my-bad-policy-aws-5-mins.json");

    // WHEN it is checked with --fix, for people
    let run = check(
        &["--restricted", "s3:DeleteBucket,s3:DeleteObject", "--fix"],
        &[&policy],
    );

    // THEN the findings are followed by the quarantine's size, one line per edit, and the
    // document, indented
    assert_eq!(run.code, EXIT_RESTRICTED);
    let expected = format!(
        r#"{policy}: GRANTS RESTRICTED ACTIONS
  statement 0 (Sid "VisualEditor0"), on every resource, unconditionally:
    s3:DeleteBucket  [exact] Action "s3:DeleteBucket" names it
      grants s3:DeleteBucket
  quarantine (168 characters):
    - statement 0 (Sid "VisualEditor0"): removed s3:DeleteBucket
    {{
      "Version": "2012-10-17",
      "Statement": [
        {{
          "Sid": "VisualEditor0",
          "Effect": "Allow",
          "Action": [
            "s3:GetBucketObjectLockConfiguration",
            "s3:DeleteObjectVersion"
          ],
          "Resource": "*"
        }}
      ]
    }}

1 document checked against s3:DeleteBucket,s3:DeleteObject: 1 restricted, 0 clean, 0 invalid
"#
    );
    assert_eq!(run.stdout, expected);
}

/// `--kind` says where the document lives, which sets IAM's quota for the quarantine: ec2:*
/// minus ec2:*Instances is ~800 names, too many for any quota, so the wildcard is dropped, and
/// the reason names the quota applied.
#[test]
fn kind_sets_the_size_quota_the_quarantine_must_fit() {
    let policy = fixture("ec2-operator-inline-user-policy.json");
    let cases: [(&[&str], u64); 5] = [
        (&[], 6_144),
        (&["--kind", "managed"], 6_144),
        (&["--kind", "user"], 2_048),
        (&["--kind", "group"], 5_120),
        (&["--kind", "role"], 10_240),
    ];
    for (kind, limit) in cases {
        let mut args = vec![
            "--restricted",
            "ec2:*Instances",
            "--format",
            "json",
            "--fix",
        ];
        args.extend(kind);

        let run = check(&args, &[&policy]);

        assert_eq!(run.code, EXIT_RESTRICTED, "{kind:?}: {}", run.stderr);
        let report = run.report();
        let quarantine = &only_file(&report)["quarantine"];
        assert_eq!(
            quarantine["changes"][0]["reason"],
            format!("its expansion does not fit in {limit} characters"),
            "{kind:?}"
        );
        assert!(
            quarantine["size"].as_u64().expect("size") <= limit,
            "{kind:?}"
        );
    }
}

#[test]
fn a_document_that_cannot_be_quarantined_is_still_flagged_and_the_report_says_why() {
    // GIVEN, for a user's inline quota of 2,048 characters, a clean statement that alone is
    // larger, and a statement granting s3:DeleteBucket
    let reports: Vec<Value> = (0..80)
        .map(|i| json!(format!("arn:aws:s3:::acme-reports-{i:03}/*")))
        .collect();
    let document = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": reports},
        {"Sid": "Janitor", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"},
    ]})
    .to_string();
    let reason = "the quarantined document needs 2834 characters but only 2048 are allowed, even \
                  after dropping every offending statement";
    let args = ["--restricted", "s3:DeleteBucket", "--fix", "--kind", "user"];

    // WHEN it is checked with --fix, as JSON and for people
    let json = check_stdin(&[&args[..], &["--format", "json"]].concat(), &document);
    let human = check_stdin(&args, &document);

    // THEN it is still flagged (exit 1), and the quarantine is the reason there is none
    assert_eq!(json.code, EXIT_RESTRICTED, "{}", json.stderr);
    let report = json.report();
    assert_eq!(only_file(&report)["quarantine"], json!({"error": reason}));
    assert_eq!(human.code, EXIT_RESTRICTED);
    assert!(
        human
            .stdout
            .contains(&format!("\n  cannot quarantine: {reason}\n")),
        "{}",
        human.stdout
    );
}
