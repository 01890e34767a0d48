//! The report: one JSON document for pipelines, or lines for people.

use serde_json::json;

use crate::support::{
    EXIT_CLEAN, EXIT_INVALID, EXIT_RESTRICTED, check, check_json, findings, fixture, strings,
};

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

#[test]
fn a_finding_in_the_json_report_has_its_statement_hits_and_scope_field_for_field() {
    // GIVEN a grant limited by a Condition, and a grant through NotAction
    let conditional = fixture("bucket-deletion-requires-mfa.json");
    let not_action = fixture("power-user-not-action-iam.json");

    // WHEN they are checked with --format json
    let (code, report) = check_json("s3:DeleteBucket", &[&conditional, &not_action]);

    // THEN each finding reads exactly so: the condition as written, and no `condition` key
    // where there is none
    assert_eq!(code, EXIT_RESTRICTED);
    let files = report["files"].as_array().expect("files");
    assert_eq!(
        files[0]["findings"],
        json!([{
            "statement": 0,
            "sid": "DeleteBucketsWithMfa",
            "hits": [{
                "restricted": "s3:DeleteBucket",
                "reason": "exact",
                "granted_by": ["s3:DeleteBucket"],
                "known_actions": ["s3:DeleteBucket"],
                "known_action_count": 1,
                "explanation": "Action \"s3:DeleteBucket\" names it",
            }],
            "scope": {
                "resource_key": "Resource",
                "resources": ["*"],
                "condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            },
        }])
    );
    assert_eq!(
        files[1]["findings"],
        json!([{
            "statement": 0,
            "sid": "PowerUserEverythingButIdentity",
            "hits": [{
                "restricted": "s3:DeleteBucket",
                "reason": "not_action",
                "granted_by": [],
                "known_actions": ["s3:DeleteBucket"],
                "known_action_count": 1,
                "explanation":
                    "NotAction [\"iam:*\", \"organizations:*\", \"account:*\"] does not exclude it",
            }],
            "scope": {"resource_key": "Resource", "resources": ["*"]},
        }])
    );
}

/// The output for people, byte for byte: per file a verdict line (and, when flagged, where and
/// why), then a count.
#[test]
fn the_human_output() {
    struct Case {
        name: &'static str,
        restricted: &'static str,
        fixtures: &'static [&'static str],
        code: i32,
        /// `{0}`, `{1}`, ... stand for the fixtures' paths.
        lines: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "a clean file exits 0 and says ok",
            restricted: "s3:DeleteBucket,s3:DeleteObject",
            fixtures: &["read-only-reports-bucket.json"],
            code: EXIT_CLEAN,
            lines: &[
                "{0}: ok, grants no restricted action",
                "",
                "1 document checked against s3:DeleteBucket,s3:DeleteObject: 0 restricted, 1 clean, 0 invalid",
            ],
        },
        Case {
            name: "a flagged file: the statement, its Sid and the restricted action",
            restricted: "s3:DeleteBucket",
            fixtures: &["bucket-deletion-only-in-third-statement.json"],
            code: EXIT_RESTRICTED,
            lines: &[
                "{0}: GRANTS RESTRICTED ACTIONS",
                r#"  statement 2 (Sid "TearDownPreviewBuckets"), on every resource, unconditionally:"#,
                r#"    s3:DeleteBucket  [exact] Action "s3:DeleteBucket" names it"#,
                "      grants s3:DeleteBucket",
                "",
                "1 document checked against s3:DeleteBucket: 1 restricted, 0 clean, 0 invalid",
            ],
        },
        Case {
            name: "a limited grant, with its resources and condition",
            restricted: "s3:DeleteBucket",
            fixtures: &["bucket-deletion-requires-mfa.json"],
            code: EXIT_RESTRICTED,
            lines: &[
                "{0}: GRANTS RESTRICTED ACTIONS",
                r#"  statement 0 (Sid "DeleteBucketsWithMfa"), on Resource *, with a Condition:"#,
                r#"    s3:DeleteBucket  [exact] Action "s3:DeleteBucket" names it"#,
                "      grants s3:DeleteBucket",
                "",
                "1 document checked against s3:DeleteBucket: 1 restricted, 0 clean, 0 invalid",
            ],
        },
        Case {
            name: "several files, in order, an invalid one with its reason, then the counts",
            restricted: "s3:DeleteBucket",
            fixtures: &[
                "read-only-reports-bucket.json",
                "lowercase-effect-allow.json",
                "power-user-not-action-iam.json",
            ],
            code: EXIT_INVALID,
            lines: &[
                "{0}: ok, grants no restricted action",
                r#"{1}: INVALID: statement 1 (Sid "AllowBucketCleanup"): Effect must be "Allow" or "Deny", not "allow""#,
                "{2}: GRANTS RESTRICTED ACTIONS",
                r#"  statement 0 (Sid "PowerUserEverythingButIdentity"), on every resource, unconditionally:"#,
                r#"    s3:DeleteBucket  [NotAction] NotAction ["iam:*", "organizations:*", "account:*"] does not exclude it"#,
                "      grants s3:DeleteBucket",
                "",
                "3 documents checked against s3:DeleteBucket: 1 restricted, 1 clean, 1 invalid",
            ],
        },
    ];
    for case in cases {
        let paths: Vec<String> = case.fixtures.iter().map(|f| fixture(f)).collect();
        let files: Vec<&str> = paths.iter().map(String::as_str).collect();

        let run = check(&["--restricted", case.restricted], &files);

        assert_eq!(run.code, case.code, "{}: {}", case.name, run.stderr);
        let mut expected = String::new();
        for line in case.lines {
            let mut line = line.to_string();
            for (i, path) in paths.iter().enumerate() {
                line = line.replace(&format!("{{{i}}}"), path);
            }
            expected += &line;
            expected.push('\n');
        }
        assert_eq!(run.stdout, expected, "{}", case.name);
    }
}
