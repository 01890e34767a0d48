//! Verdicts: which statements of a document grant which restricted patterns, how, and where.

use policy_engine::document::Condition;
use policy_engine::{Policy, Reason, Scope, analyse, decode};
use serde_json::json;

use crate::support::{analysis_of, catalog, fixture, restricted};

// ---------------------------------------------------------------------------------------------
// Which statements are flagged
// ---------------------------------------------------------------------------------------------

/// Every flagged statement (index and Sid), and no other.
#[test]
fn the_statements_flagged() {
    struct Case {
        name: &'static str,
        fixture: &'static str,
        restricted: &'static str,
        flagged: &'static [(usize, &'static str)],
    }
    let cases = [
        Case {
            name: "every statement counts, not just the first",
            fixture: "bucket-deletion-only-in-third-statement.json",
            restricted: "s3:DeleteBucket",
            flagged: &[(2, "TearDownPreviewBuckets")],
        },
        Case {
            name: "a restricted `*` flags every Allow statement",
            fixture: "one-statement-per-service.json",
            restricted: "*",
            flagged: &[
                (0, "ReadReports"),
                (1, "CleanUpScratchBuckets"),
                (2, "PassDeployRole"),
                (3, "DescribeFleet"),
            ],
        },
        Case {
            name: "a restricted action does not match longer action names that start with it",
            fixture: "object-version-and-tagging-deletes.json",
            restricted: "s3:DeleteObject",
            flagged: &[],
        },
        Case {
            name: "Allow with NotAction does not grant what it lists",
            fixture: "not-action-excluding-s3-deletes.json",
            restricted: "s3:DeleteBucket",
            flagged: &[],
        },
        Case {
            name: "Deny statements grant nothing",
            fixture: "deny-only-bucket-deletion.json",
            restricted: "s3:DeleteBucket",
            flagged: &[],
        },
        Case {
            name: "an unconditional Deny on every resource removes what it covers",
            fixture: "s3-full-access-with-unconditional-deny-of-bucket-deletion.json",
            restricted: "s3:DeleteBucket",
            flagged: &[],
        },
        Case {
            name: "`s3:?*` denies all of `s3:*`: `s3:`, with an empty name, is no action",
            fixture: "s3-full-access-denied-every-named-action.json",
            restricted: "s3:*",
            flagged: &[],
        },
        Case {
            name: "a single statement object is checked like a list of one",
            fixture: "single-statement-object.json",
            restricted: "s3:DeleteBucket",
            flagged: &[(0, "BucketJanitor")],
        },
    ];
    for case in cases {
        let analysis = analysis_of(case.fixture, case.restricted);
        let flagged: Vec<(usize, &str)> = analysis
            .findings
            .iter()
            .map(|f| (f.statement, f.sid.as_deref().unwrap_or("(no Sid)")))
            .collect();
        assert_eq!(
            flagged, case.flagged,
            "{}: {} against {}",
            case.name, case.fixture, case.restricted
        );
        assert_eq!(
            analysis.grants_restricted(),
            !case.flagged.is_empty(),
            "{}",
            case.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// How a restricted pattern is granted
// ---------------------------------------------------------------------------------------------

/// Documents with one flagged statement that grants one restricted pattern: that statement,
/// and the hit: the pattern, why (exact, wildcard, NotAction), the statement's entries that
/// grant it, and the known actions granted.
#[test]
fn how_the_restricted_pattern_is_granted() {
    struct Case {
        name: &'static str,
        fixture: &'static str,
        restricted: &'static str,
        statement: (usize, &'static str),
        hit: &'static str,
        reason: Reason,
        granted_by: &'static [&'static str],
        known_actions: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "action names are case-insensitive, reported in the policy's own spelling",
            fixture: "action-name-in-odd-case.json",
            restricted: "s3:DeleteBucket",
            statement: (0, "LegacyCleanupScript"),
            hit: "s3:DeleteBucket",
            reason: Reason::Exact,
            granted_by: &["S3:deletebucket"],
            known_actions: &["s3:DeleteBucket"],
        },
        Case {
            name: "a wildcard in the policy grants the restricted action it covers",
            fixture: "s3-delete-wildcard.json",
            restricted: "s3:DeleteBucket",
            statement: (1, "DataRetentionJanitor"),
            hit: "s3:DeleteBucket",
            reason: Reason::Wildcard,
            granted_by: &["s3:Delete*"],
            known_actions: &["s3:DeleteBucket"],
        },
        Case {
            name: "a restricted action wildcard flags the statement granting matching actions",
            fixture: "one-statement-per-service.json",
            restricted: "s3:Delete*",
            statement: (1, "CleanUpScratchBuckets"),
            hit: "s3:Delete*",
            reason: Reason::Wildcard,
            granted_by: &["s3:DeleteObject", "s3:DeleteBucket"],
            known_actions: &["s3:DeleteBucket", "s3:DeleteObject"],
        },
        Case {
            name: "a restricted service wildcard flags only statements of that service",
            fixture: "one-statement-per-service.json",
            restricted: "iam:*",
            statement: (2, "PassDeployRole"),
            hit: "iam:*",
            reason: Reason::Wildcard,
            granted_by: &["iam:PassRole"],
            known_actions: &["iam:PassRole"],
        },
        Case {
            name: "Allow with NotAction grants every action it does not list",
            fixture: "power-user-not-action-iam.json",
            restricted: "s3:DeleteBucket",
            statement: (0, "PowerUserEverythingButIdentity"),
            hit: "s3:DeleteBucket",
            reason: Reason::NotAction,
            granted_by: &[],
            known_actions: &["s3:DeleteBucket"],
        },
        Case {
            name: "an unconditional Deny removes only what it covers",
            fixture: "s3-full-access-with-unconditional-deny-of-bucket-deletion.json",
            restricted: "s3:DeleteBucket,s3:DeleteObject",
            statement: (0, "S3FullAccess"),
            hit: "s3:DeleteObject",
            reason: Reason::Wildcard,
            granted_by: &["s3:*"],
            known_actions: &["s3:DeleteObject"],
        },
        Case {
            name: "a Deny with a Condition removes nothing (it may not apply)",
            fixture: "s3-full-access-with-deny-unless-mfa.json",
            restricted: "s3:DeleteBucket",
            statement: (0, "S3FullAccess"),
            hit: "s3:DeleteBucket",
            reason: Reason::Wildcard,
            granted_by: &["s3:*"],
            known_actions: &["s3:DeleteBucket"],
        },
        Case {
            name: "a Deny scoped to some resources removes nothing (the others stay granted)",
            fixture: "s3-full-access-with-deny-on-prod-buckets.json",
            restricted: "s3:DeleteBucket",
            statement: (0, "S3FullAccess"),
            hit: "s3:DeleteBucket",
            reason: Reason::Wildcard,
            granted_by: &["s3:*"],
            known_actions: &["s3:DeleteBucket"],
        },
    ];
    for case in cases {
        let analysis = analysis_of(case.fixture, case.restricted);
        let [finding] = analysis.findings.as_slice() else {
            panic!(
                "{}: expected one finding, got {:#?}",
                case.name, analysis.findings
            );
        };
        let [hit] = finding.hits.as_slice() else {
            panic!("{}: expected one hit, got {:#?}", case.name, finding.hits);
        };
        let statement = (
            finding.statement,
            finding.sid.as_deref().unwrap_or("(no Sid)"),
        );
        assert_eq!(statement, case.statement, "{}: the statement", case.name);
        assert_eq!(hit.restricted, case.hit, "{}: the pattern", case.name);
        assert_eq!(hit.reason, case.reason, "{}: the reason", case.name);
        assert_eq!(hit.granted_by, case.granted_by, "{}: granted by", case.name);
        assert_eq!(
            hit.known_actions, case.known_actions,
            "{}: the known actions",
            case.name
        );
        assert_eq!(
            hit.known_action_count,
            case.known_actions.len(),
            "{}: the count of known actions",
            case.name
        );
    }
}

#[test]
fn a_restricted_wildcard_and_a_policy_wildcard_overlap_when_one_action_matches_both() {
    // GIVEN a policy that allows `iam:*User`, and restricted iam:Create* (both cover
    // iam:CreateUser)
    let analysis = analysis_of("iam-user-suffix-wildcard.json", "iam:Create*");

    // THEN it is flagged, and the known actions granted include iam:CreateUser, and only
    // actions both patterns match
    let hit = &analysis.findings[0].hits[0];
    assert_eq!(hit.reason, Reason::Wildcard);
    assert_eq!(hit.granted_by, ["iam:*User"]);
    assert!(
        hit.known_actions.iter().any(|a| a == "iam:CreateUser"),
        "{hit:#?}"
    );
    assert!(
        hit.known_actions
            .iter()
            .all(|a| a.starts_with("iam:Create") && a.ends_with("User")),
        "{hit:#?}"
    );
}

/// IAM accepts characters up to U+00FF in a document; a `Resource` or `NotResource` holding one
/// (in an `Allow` or a `Deny`) is read as any other ARN. Byte slicing inside such a character
/// once crashed the analysis: a document anyone with iam:PutUserPolicy can write stopped the
/// sentinel (THREAT-MODEL T23).
#[test]
fn a_resource_outside_ascii_is_read_not_a_crash() {
    let cases = [
        (
            "an Allow on a bucket named in Latin-1",
            json!([{"Effect": "Allow", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::café"}]),
            vec![0],
        ),
        (
            "an Allow outside a bucket named in Latin-1",
            json!([{"Effect": "Allow", "Action": "s3:Delete*", "NotResource": "arn:aws:s3:::café"}]),
            vec![0],
        ),
        (
            "a Deny of one bucket's objects leaves the rest granted",
            json!([
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::café/*"},
            ]),
            vec![0],
        ),
        (
            "a Deny outside one Latin-1 bucket leaves that bucket granted",
            json!([
                {"Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::ré-sumé"},
            ]),
            vec![0],
        ),
    ];
    for (name, statements, flagged) in cases {
        let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        let policy = Policy::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let analysis = analyse(&policy, &restricted("s3:Delete*"), catalog());
        let statements: Vec<usize> = analysis.findings.iter().map(|f| f.statement).collect();
        assert_eq!(statements, flagged, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Where: a limited grant is still a grant
// ---------------------------------------------------------------------------------------------

/// A grant limited by resources or a condition is flagged, with its scope reported as written.
#[test]
fn a_limited_grant_still_counts_and_its_scope_is_reported() {
    let scope = |key: &str, resources: &[&str], condition: Option<serde_json::Value>| Scope {
        resource_key: key.into(),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        condition: condition.map(Condition::from_value),
    };
    let cases = [
        (
            "a grant scoped by Resource",
            "bucket-deletion-scoped-to-staging-buckets.json",
            scope(
                "Resource",
                &["arn:aws:s3:::acme-staging-*", "arn:aws:s3:::acme-qa-*"],
                None,
            ),
        ),
        (
            "a grant with a Condition",
            "bucket-deletion-requires-mfa.json",
            scope(
                "Resource",
                &["*"],
                Some(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
            ),
        ),
        (
            "a grant through NotResource",
            "bucket-deletion-outside-prod-via-not-resource.json",
            scope("NotResource", &["arn:aws:s3:::acme-prod-*"], None),
        ),
    ];
    for (name, fixture, expected) in cases {
        let analysis = analysis_of(fixture, "s3:DeleteBucket");
        assert_eq!(analysis.findings.len(), 1, "{name}: {analysis:#?}");
        let reported = &analysis.findings[0].scope;
        assert_eq!(reported, &expected, "{name}");
        assert!(!reported.is_unlimited(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Resource types
// ---------------------------------------------------------------------------------------------

/// A statement grants a known action only on resources of a type the action accepts; an
/// unconditional Deny removes it only when it covers every such resource. What the catalog
/// does not know is on the safe side: an Allow applies, a scoped Deny does not remove it.
#[test]
fn resource_types_decide_where_a_known_action_is_granted() {
    struct Case {
        name: &'static str,
        fixture: &'static str,
        restricted: &'static str,
        /// The known actions granted, by statement.
        granted: &'static [(usize, &'static [&'static str])],
    }
    let cases = [
        Case {
            name: "an Allow of s3:DeleteBucket on object ARNs grants nothing",
            fixture: "bucket-deletion-on-objects-only.json",
            restricted: "s3:DeleteBucket",
            granted: &[],
        },
        Case {
            name: "objects reached through a Multi-Region Access Point (no region in its ARN)",
            fixture: "object-deletion-through-a-multi-region-access-point.json",
            restricted: "s3:DeleteObject",
            granted: &[(0, &["s3:DeleteObject"])],
        },
        Case {
            name: "on object ARNs, s3:DeleteObject is granted and s3:DeleteBucket is not",
            fixture: "bucket-deletion-on-objects-only.json",
            restricted: "s3:Delete*",
            granted: &[(0, &["s3:DeleteObject"])],
        },
        Case {
            name: "a Deny on arn:*:s3:::* covers every bucket",
            fixture: "s3-full-access-with-deny-on-every-bucket.json",
            restricted: "s3:DeleteBucket",
            granted: &[],
        },
        Case {
            name: "a Deny on arn:aws:s3:::* leaves the buckets of other partitions",
            fixture: "s3-full-access-with-deny-on-aws-partition-buckets.json",
            restricted: "s3:DeleteBucket",
            granted: &[(0, &["s3:DeleteBucket"])],
        },
        Case {
            name: "a Deny on some buckets leaves the others",
            fixture: "s3-full-access-with-deny-on-prod-buckets.json",
            restricted: "s3:DeleteBucket",
            granted: &[(0, &["s3:DeleteBucket"])],
        },
        Case {
            name: "role ARNs grant role actions, not iam:CreateUser",
            fixture: "iam-role-management-on-roles-only.json",
            restricted: "iam:Create*",
            granted: &[(0, &["iam:CreateRole"])],
        },
        Case {
            name: "an IAM path may hold a colon: role/*:* still names roles",
            fixture: "iam-all-on-roles-with-a-colon-in-their-path.json",
            restricted: "iam:PassRole",
            granted: &[(0, &["iam:PassRole"])],
        },
        Case {
            name: "a policy variable in an Allow's Resource may be any user",
            fixture: "own-access-keys-via-policy-variable.json",
            restricted: "iam:CreateAccessKey",
            granted: &[(0, &["iam:CreateAccessKey"])],
        },
        Case {
            name: "NotResource excluding only prod buckets still grants bucket deletion",
            fixture: "bucket-deletion-outside-prod-via-not-resource.json",
            restricted: "s3:DeleteBucket",
            granted: &[(0, &["s3:DeleteBucket"])],
        },
    ];
    for case in cases {
        let analysis = analysis_of(case.fixture, case.restricted);
        let granted: Vec<(usize, Vec<&str>)> = analysis
            .findings
            .iter()
            .map(|f| {
                let known = f.hits.iter().flat_map(|h| h.known_actions.iter());
                (f.statement, known.map(String::as_str).collect())
            })
            .collect();
        let expected: Vec<(usize, Vec<&str>)> =
            case.granted.iter().map(|(i, a)| (*i, a.to_vec())).collect();
        assert_eq!(granted, expected, "{}: {}", case.name, case.fixture);
    }
}

#[test]
fn an_action_missing_from_the_catalog_applies_on_any_resource_and_no_scoped_deny_removes_it() {
    // GIVEN an unknown s3 action allowed on one bucket, and s3:Delete* denied on every bucket
    // WHEN it is checked against s3:Delete*
    let analysis = analysis_of(
        "newer-action-on-one-bucket-with-deny-on-every-bucket.json",
        "s3:Delete*",
    );

    // THEN it is flagged: its resource types are unknown, so the Allow may apply and the Deny
    // may not cover it
    assert_eq!(analysis.findings.len(), 1, "{analysis:#?}");
    assert_eq!(analysis.findings[0].hits[0].known_action_count, 0);
}

// ---------------------------------------------------------------------------------------------
// Actions newer than the catalog
// ---------------------------------------------------------------------------------------------

#[test]
fn an_action_missing_from_the_catalog_is_still_flagged_and_the_explanation_says_why() {
    // GIVEN a policy granting s3:DeleteSomethingAwsAddsNextYear, which no catalog knows
    // WHEN it is checked against s3:Delete*
    let analysis = analysis_of("action-newer-than-catalog.json", "s3:Delete*");

    // THEN it is flagged on the patterns alone, and the explanation says so
    let hit = &analysis.findings[0].hits[0];
    assert_eq!(hit.granted_by, ["s3:DeleteSomethingAwsAddsNextYear"]);
    assert_eq!(hit.known_action_count, 0);
    assert!(hit.known_actions.is_empty());
    for words in [
        "no catalogued action is granted",
        "patterns overlap",
        "since the catalog was generated",
    ] {
        assert!(hit.explanation.contains(words), "{}", hit.explanation);
    }
}

// ---------------------------------------------------------------------------------------------
// Input forms
// ---------------------------------------------------------------------------------------------

#[test]
fn a_percent_encoded_document_gives_the_same_verdict_as_the_raw_one() {
    // GIVEN the same policy raw and percent-encoded (as IAM's GetPolicyVersion returns it)
    let raw = fixture("my-bad-policy-aws-5-mins.json");
    let encoded = fixture("my-bad-policy-aws-5-mins.url-encoded.txt");
    assert!(encoded.starts_with("%7B%0A%20%20%22Version%22"));

    // WHEN both are decoded and checked against s3:DeleteBucket
    let restricted = restricted("s3:DeleteBucket");
    let verdict = |text: &str| {
        let json = decode(text).expect("decodes");
        analyse(
            &Policy::parse(&json).expect("parses"),
            &restricted,
            catalog(),
        )
    };

    // THEN the encoded one is accepted, with the same findings
    let (raw, encoded) = (verdict(&raw), verdict(&encoded));
    assert!(encoded.grants_restricted());
    assert_eq!(encoded, raw);
}
