//! Quarantines: the narrowest rewrite that grants no restricted action, within IAM's quota,
//! and the one line each edit reads as.

use policy_engine::document::Effect;
use policy_engine::{Edit, PlanError, Policy, PolicyKind, analyse, plan};
use serde_json::{Value, json};

use crate::support::{catalog, policy, quarantine_of, restricted};

/// The quarantined document's statements, as the JSON IAM is sent.
fn statements(quarantine: &policy_engine::Quarantine) -> Vec<Value> {
    let document: Value = serde_json::from_str(&quarantine.policy.to_json()).expect("JSON");
    document["Statement"].as_array().expect("a list").clone()
}

fn denials(policy: &Policy<'_>) -> Vec<String> {
    let denials = policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Deny);
    denials.map(|s| serde_json::to_string(s).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// What every quarantine is
// ---------------------------------------------------------------------------------------------

/// Every quarantine of an offending document, once sent to IAM as JSON, checks clean, fits the
/// quota of where the document lives, and adds no Deny (which would also cut access the
/// principal has from other policies).
#[test]
fn every_quarantine_checks_clean_fits_and_adds_no_deny() {
    let cases = [
        (
            "my-bad-policy-aws-5-mins.json",
            "s3:DeleteBucket,s3:DeleteObject",
            PolicyKind::Managed,
        ),
        (
            "power-user-not-action-iam.json",
            "s3:DeleteBucket",
            PolicyKind::Managed,
        ),
        ("administrator-access.json", "iam:*", PolicyKind::Managed),
        (
            "administrator-access.json",
            "s3:DeleteBucket,s3:DeleteObject",
            PolicyKind::Managed,
        ),
        (
            "s3-delete-wildcard.json",
            "s3:DeleteBucket",
            PolicyKind::Managed,
        ),
        ("one-statement-per-service.json", "*", PolicyKind::Managed),
        (
            "ec2-full-access-inline-user-policy.json",
            "ec2:TerminateInstances",
            PolicyKind::Managed,
        ),
        (
            "ec2-full-access-inline-user-policy.json",
            "ec2:TerminateInstances",
            PolicyKind::UserInline,
        ),
        (
            "ec2-full-access-inline-user-policy.json",
            "ec2:*Instances",
            PolicyKind::UserInline,
        ),
        (
            "ec2-operator-inline-user-policy.json",
            "ec2:*Instances",
            PolicyKind::UserInline,
        ),
    ];
    for (fixture, list, kind) in cases {
        let case = format!("{fixture} against {list} ({kind:?})");
        let original = policy(fixture);
        let restricted = restricted(list);
        assert!(
            analyse(&original, &restricted, catalog()).grants_restricted(),
            "{case}: the original must offend"
        );

        let quarantine = quarantine_of(fixture, list, kind);

        let sent = quarantine.policy.to_json();
        let received = Policy::parse(&sent).unwrap_or_else(|e| panic!("{case}: {e}\n{sent}"));
        let again = analyse(&received, &restricted, catalog());
        assert!(
            !again.grants_restricted(),
            "{case}: still grants {again:#?}"
        );
        assert!(
            quarantine.size <= kind.size_limit(),
            "{case}: {} characters",
            quarantine.size
        );
        assert_eq!(quarantine.size, sent.chars().count(), "{case}: the size");
        assert_eq!(
            denials(&received),
            denials(&original),
            "{case}: the Deny statements"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The narrowest rewrite of each kind of statement
// ---------------------------------------------------------------------------------------------

#[test]
fn the_quarantine_keeps_the_non_restricted_actions_of_the_offending_statement() {
    // GIVEN Allow s3:GetBucketObjectLockConfiguration, s3:DeleteObjectVersion, s3:DeleteBucket
    // WHEN it is quarantined against s3:DeleteBucket and s3:DeleteObject
    let quarantine = quarantine_of(
        "my-bad-policy-aws-5-mins.json",
        "s3:DeleteBucket,s3:DeleteObject",
        PolicyKind::Managed,
    );

    // THEN only s3:DeleteBucket is removed from the statement
    assert_eq!(
        statements(&quarantine),
        [json!({
            "Sid": "VisualEditor0",
            "Effect": "Allow",
            "Action": ["s3:GetBucketObjectLockConfiguration", "s3:DeleteObjectVersion"],
            "Resource": "*",
        })]
    );
    assert_eq!(
        quarantine.edits,
        [Edit::RemovedActions {
            statement: 0,
            sid: Some("VisualEditor0".into()),
            actions: vec!["s3:DeleteBucket".into()],
        }]
    );
}

#[test]
fn a_not_action_statement_gets_the_restricted_patterns_added_to_its_not_action() {
    // GIVEN a power-user policy: Allow NotAction [iam:*, organizations:*, account:*]
    let fixture = "power-user-not-action-iam.json";

    // WHEN it is quarantined against s3:DeleteBucket
    let quarantine = quarantine_of(fixture, "s3:DeleteBucket", PolicyKind::Managed);

    // THEN s3:DeleteBucket joins the NotAction list, and the other statement is untouched
    let rewritten = statements(&quarantine);
    assert_eq!(
        rewritten[0]["NotAction"],
        json!(["iam:*", "organizations:*", "account:*", "s3:DeleteBucket"])
    );
    assert_eq!(
        quarantine.policy.statements[1],
        policy(fixture).statements[1]
    );
    assert_eq!(
        quarantine.edits,
        [Edit::AddedToNotAction {
            statement: 0,
            sid: Some("PowerUserEverythingButIdentity".into()),
            patterns: vec!["s3:DeleteBucket".into()],
        }]
    );
}

#[test]
fn action_star_becomes_a_not_action_of_the_restricted_patterns() {
    // GIVEN AdministratorAccess: Allow Action "*" on "*"
    // WHEN it is quarantined against s3:DeleteBucket and s3:DeleteObject
    let quarantine = quarantine_of(
        "administrator-access.json",
        "s3:DeleteBucket,s3:DeleteObject",
        PolicyKind::Managed,
    );

    // THEN the statement allows everything but those, through NotAction
    assert_eq!(
        statements(&quarantine),
        [json!({
            "Sid": "AdministratorAccess",
            "Effect": "Allow",
            "NotAction": ["s3:DeleteBucket", "s3:DeleteObject"],
            "Resource": "*",
        })]
    );
}

#[test]
fn action_star_under_hundreds_of_restricted_actions_keeps_its_other_grants() {
    // GIVEN AdministratorAccess, and the `destructive` preset's actions restricted: one
    // exclusion each would not fit a managed policy
    let preset = policy_engine::presets::get("destructive").expect("the preset");
    let list = preset.actions.join(",");
    let one_each: usize = preset.actions.iter().map(|a| a.len() + 3).sum();
    assert!(one_each > PolicyKind::Managed.size_limit(), "{one_each}");

    // WHEN it is quarantined as a managed policy
    let quarantine = quarantine_of("administrator-access.json", &list, PolicyKind::Managed);

    // THEN it still allows everything but those, through prefixes where every known action
    // under one is restricted: not dropped whole
    let [statement] = statements(&quarantine).try_into().expect("one statement");
    let excluded: Vec<&str> = statement["NotAction"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p.as_str().expect("a pattern"))
        .collect();
    assert!(excluded.len() < preset.actions.len(), "{excluded:?}");
    assert!(excluded.iter().any(|p| p.ends_with('*')), "{excluded:?}");
    let catalog = catalog();
    for action in catalog.actions() {
        let withheld = excluded
            .iter()
            .any(|p| policy_engine::pattern::matches(p, action));
        let restricted = preset
            .actions
            .iter()
            .any(|r| r.eq_ignore_ascii_case(action));
        assert_eq!(withheld, restricted, "{action}");
    }
}

#[test]
fn exclusions_are_shortened_before_any_expansion_is_dropped() {
    // GIVEN `Action: "*"` from the office beside `s3:Delete*` on a scratch bucket; the
    // `destructive` preset restricted (12 of S3's 23 Delete actions among its 230)
    let preset = policy_engine::presets::get("destructive").expect("the preset");

    // WHEN it is quarantined as a managed policy
    let quarantine = quarantine_of(
        "conditional-admin-beside-scratch-cleanup.json",
        &preset.actions.join(","),
        PolicyKind::Managed,
    );

    // THEN the exclusions, written shorter, leave room for the cleanup's expansion: it still
    // grants the deletions the preset leaves out (shortening withholds no known action more;
    // dropping the expansion would have withheld these)
    let [admin, cleanup] = statements(&quarantine).try_into().expect("two statements");
    assert!(admin["NotAction"].is_array(), "{admin}");
    let kept: Vec<&str> = cleanup["Action"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p.as_str().expect("a pattern"))
        .collect();
    for deletion in [
        "s3:DeleteObjectTagging",
        "s3:DeleteBucketPolicy",
        "s3:DeleteJobTagging",
    ] {
        assert!(
            kept.iter()
                .any(|p| policy_engine::pattern::matches(p, deletion)),
            "{deletion} not in {kept:?}"
        );
    }
    assert!(
        !kept
            .iter()
            .any(|p| policy_engine::pattern::matches(p, "s3:DeleteBucket")),
        "{kept:?}"
    );
}

#[test]
fn a_statement_dropped_first_is_put_back_when_a_later_drop_made_room() {
    // GIVEN a user's inline policy over the 2,048 characters once quarantined: an audit reader
    // with the most actions, and a team clean-up with few actions but a long Condition, both
    // also granting s3:DeleteBucket
    // WHEN it is quarantined against s3:DeleteBucket
    let quarantine = quarantine_of(
        "audit-reader-beside-a-team-cleanup-with-a-long-condition.json",
        "s3:DeleteBucket",
        PolicyKind::UserInline,
    );

    // THEN the reader, dropped first (it has the most actions), is back once the clean-up's
    // drop made room; the clean-up stays dropped, as it does not fit beside it
    let sids: Vec<Value> = statements(&quarantine)
        .iter()
        .map(|s| s["Sid"].clone())
        .collect();
    assert_eq!(sids, [json!("AuditReports"), json!("ListAll")]);
    assert!(
        quarantine.edits.iter().any(|e| matches!(
            e,
            Edit::DroppedStatement { sid: Some(sid), .. } if sid == "TeamsCleanUp"
        )),
        "{:?}",
        quarantine.edits
    );
}

#[test]
fn the_statement_whose_exclusions_cannot_fit_goes_and_the_reader_beside_it_stays() {
    // GIVEN a user's inline policy: `Action: "*"`, and a reader of reports that may also
    // delete their bucket; the `destructive` preset restricted, whose exclusions cannot fit a
    // user's 2,048 characters even shortened
    let preset = policy_engine::presets::get("destructive").expect("the preset");

    // WHEN it is quarantined
    let quarantine = quarantine_of(
        "admin-beside-a-reports-reader-in-one-user-policy.json",
        &preset.actions.join(","),
        PolicyKind::UserInline,
    );

    // THEN the admin statement goes (its exclusions count in its size) and the reader stays,
    // without the deletion
    assert_eq!(
        statements(&quarantine),
        [json!({
            "Sid": "ReportsReadAndCleanUp",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"],
        })]
    );
}

#[test]
fn a_statement_the_quarantine_leaves_is_written_back_as_it_was_numbers_included() {
    // GIVEN iam:* beside a Deny whose condition compares a tag, as text, with unquoted numbers
    // (IAM reads `1.50` under StringNotEquals as the text "1.50")
    // WHEN it is quarantined against iam:CreateUser
    let quarantine = quarantine_of(
        "iam-admin-with-a-numeric-tag-deny.json",
        "iam:CreateUser",
        PolicyKind::Managed,
    );
    // THEN the Deny's condition is the text written, not the numbers read back: 1.50 as
    // 1.5 would allow an object tagged "1.5" that the original denied
    let json = quarantine.policy.to_json();
    assert!(
        json.contains(
            r#""Condition":{"StringNotEquals":{"s3:ExistingObjectTag/level":[1.50,12345678901234567890123,-0]},"NumericLessThan":{"s3:max-keys":1e2}}"#
        ),
        "{json}"
    );
}

#[test]
fn a_character_iam_takes_only_escaped_is_written_back_escaped() {
    // GIVEN s3:DeleteBucket beside a statement whose resources name keys in Chinese, an emoji
    // and Latin-1, written as `\u` escapes (IAM refuses U+0100 and above written as they are)
    // WHEN it is quarantined against s3:DeleteBucket
    let quarantine = quarantine_of(
        "bucket-deletion-beside-keys-written-as-unicode-escapes.json",
        "s3:DeleteBucket",
        PolicyKind::Managed,
    );
    // THEN they go back escaped, a pair for the emoji, and Latin-1 as it is: the document is
    // in IAM's characters, reads back the same, and is counted as sent
    let json = quarantine.policy.to_json();
    assert!(
        json.contains(
            r#""Resource":["arn:aws:s3:::reports/\u4e2d\u6587/*","arn:aws:s3:::reports/charts-\ud83d\udcca/*","arn:aws:s3:::reports/café/*"]"#
        ),
        "{json}"
    );
    assert_eq!(
        Policy::parse(&json).expect("IAM's characters"),
        quarantine.policy
    );
    assert_eq!(quarantine.policy.size(), json.chars().count());
}

#[test]
fn action_star_colon_star_becomes_a_not_action_of_the_restricted_patterns_too() {
    // GIVEN AdministratorAccess written `*:*`, which is every action as `*` is
    // WHEN it is quarantined against iam:CreateUser
    let quarantine = quarantine_of(
        "administrator-access-as-star-colon-star.json",
        "iam:CreateUser",
        PolicyKind::Managed,
    );
    // THEN everything else stays granted (expanded service by service it would not fit, and
    // dropping it took every grant away)
    assert_eq!(
        statements(&quarantine),
        [json!({
            "Sid": "Admin",
            "Effect": "Allow",
            "NotAction": ["iam:CreateUser"],
            "Resource": "*",
        })]
    );
}

// ---------------------------------------------------------------------------------------------
// IAM's size quota
// ---------------------------------------------------------------------------------------------

#[test]
fn a_wildcard_whose_expansion_cannot_fit_a_user_inline_policy_is_dropped_rather_than_the_limit_exceeded()
 {
    // GIVEN a user inline policy allowing ec2:* plus two CloudWatch reads, and restricted
    // ec2:*Instances, which no `ec2:Prefix*` avoids: ec2:* minus it is ~800 names, far over 2,048
    // WHEN it is quarantined within a user's inline quota
    let quarantine = quarantine_of(
        "ec2-operator-inline-user-policy.json",
        "ec2:*Instances",
        PolicyKind::UserInline,
    );

    // THEN ec2:* is dropped (and said so), and the rest of the statement stays
    assert_eq!(
        quarantine.edits,
        [Edit::DroppedWildcard {
            statement: 0,
            sid: Some("Ec2OperatorWithMetrics".into()),
            wildcard: "ec2:*".into(),
            reason: "its expansion does not fit in 2048 characters".into(),
        }]
    );
    assert_eq!(
        statements(&quarantine)[0]["Action"],
        json!(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"])
    );
}

#[test]
fn a_wildcard_whose_expansion_fits_is_expanded_rather_than_dropped() {
    // GIVEN a user inline policy allowing ec2:*, and restricted ec2:TerminateInstances
    // WHEN it is quarantined within a user's inline quota
    let quarantine = quarantine_of(
        "ec2-full-access-inline-user-policy.json",
        "ec2:TerminateInstances",
        PolicyKind::UserInline,
    );

    // THEN ec2:* is replaced by patterns covering the rest of ec2: the result still grants
    // ec2:DescribeInstances
    let [Edit::ExpandedWildcard { wildcard, .. }] = quarantine.edits.as_slice() else {
        panic!("expected one expanded wildcard: {:#?}", quarantine.edits);
    };
    assert_eq!(wildcard, "ec2:*");
    let describe = restricted("ec2:DescribeInstances");
    assert!(analyse(&quarantine.policy, &describe, catalog()).grants_restricted());
}

#[test]
fn when_one_expansion_must_go_the_redundant_one_goes_not_the_largest() {
    // GIVEN s3:* and s3:Get*, restricted s3:GetObject: both are expanded, and every action the
    // expansion of s3:Get* keeps, the larger expansion of s3:* keeps too
    let text = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "S3", "Effect": "Allow", "Action": ["s3:*", "s3:Get*"], "Resource": "*"},
    ]})
    .to_string();
    let document = Policy::parse(&text).unwrap();
    let get_object = restricted("s3:GetObject");
    let roomy = plan(&document, &get_object, catalog(), 100_000).unwrap();

    // WHEN the quota is one character short of both expansions
    let quarantine = plan(&document, &get_object, catalog(), roomy.size - 1).unwrap();

    // THEN s3:Get*'s expansion goes, and every other s3 action stays granted (the largest-first
    // rule dropped s3:* and with it hundreds of actions)
    let dropped: Vec<&str> = quarantine
        .edits
        .iter()
        .filter_map(|e| match e {
            Edit::DroppedWildcard { wildcard, .. } => Some(wildcard.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, ["s3:Get*"], "{:#?}", quarantine.edits);
    for kept in ["s3:PutObject", "s3:GetBucketPolicy", "s3:ListBucket"] {
        let still = analyse(&quarantine.policy, &restricted(kept), catalog());
        assert!(still.grants_restricted(), "{kept} lost");
    }
}

#[test]
fn a_statement_emptied_by_a_dropped_wildcard_still_says_the_wildcard_was_dropped_for_size() {
    // GIVEN a user inline policy whose first statement allows only ec2:*, and restricted
    // ec2:*Instances, so ec2:* minus the restricted actions cannot fit in 2,048 characters
    // WHEN it is quarantined within a user's inline quota
    let quarantine = quarantine_of(
        "ec2-full-access-inline-user-policy.json",
        "ec2:*Instances",
        PolicyKind::UserInline,
    );

    // THEN the edits say ec2:* was dropped for its size, and not that nothing it granted was
    // left: ec2:DescribeInstances and hundreds more were granted and are not restricted
    let (statement, sid) = (0, Some("Ec2FullAccess".to_owned()));
    assert_eq!(
        quarantine.edits,
        [
            Edit::DroppedWildcard {
                statement,
                sid: sid.clone(),
                wildcard: "ec2:*".into(),
                reason: "its expansion does not fit in 2048 characters".into(),
            },
            Edit::DroppedStatement {
                statement,
                sid,
                reason: "no action is left once the restricted ones are removed and the \
                         wildcards dropped"
                    .into(),
            },
        ]
    );
}

#[test]
fn a_document_that_cannot_fit_even_without_its_offending_statements_is_not_quarantined() {
    // GIVEN a clean statement of over 2,048 characters, and one granting s3:DeleteBucket
    let reports: Vec<String> = (0..80)
        .map(|i| format!("arn:aws:s3:::acme-reports-{i:03}/*"))
        .collect();
    let text = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": reports},
        {"Sid": "Janitor", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"},
    ]})
    .to_string();
    let document = Policy::parse(&text).unwrap();

    // WHEN it is quarantined within a user's inline quota
    let planned = plan(&document, &restricted("s3:DeleteBucket"), catalog(), 2_048);

    // THEN there is no quarantine, and the error says how large it would be
    let Err(PlanError::DoesNotFit { size, limit }) = planned else {
        panic!("expected DoesNotFit: {planned:#?}");
    };
    assert_eq!(limit, 2_048);
    assert!(size > limit, "{size}");
}

// ---------------------------------------------------------------------------------------------
// Each edit, in words
// ---------------------------------------------------------------------------------------------

#[test]
fn each_edit_reads_as_one_line() {
    let sid = Some("Janitor".to_owned());
    let cases = [
        (
            Edit::RemovedActions {
                statement: 0,
                sid: sid.clone(),
                actions: vec!["s3:DeleteBucket".into(), "s3:DeleteObject".into()],
            },
            r#"statement 0 (Sid "Janitor"): removed s3:DeleteBucket, s3:DeleteObject"#,
        ),
        (
            Edit::RemovedActions {
                statement: 3,
                sid: None,
                actions: vec!["s3:DeleteBucket".into()],
            },
            "statement 3: removed s3:DeleteBucket",
        ),
        (
            Edit::ExpandedWildcard {
                statement: 1,
                sid: sid.clone(),
                wildcard: "ec2:*".into(),
                into: vec!["ec2:A*".into(), "ec2:B*".into()],
            },
            r#"statement 1 (Sid "Janitor"): replaced ec2:* with 2 patterns covering the same actions minus the restricted ones"#,
        ),
        (
            Edit::ExpandedWildcard {
                statement: 1,
                sid: None,
                wildcard: "s3:Delete*".into(),
                into: vec!["s3:DeleteObject".into()],
            },
            "statement 1: replaced s3:Delete* with 1 pattern covering the same actions minus the restricted ones",
        ),
        (
            Edit::DroppedWildcard {
                statement: 0,
                sid: sid.clone(),
                wildcard: "ec2:*".into(),
                reason: "its expansion does not fit in 2048 characters".into(),
            },
            r#"statement 0 (Sid "Janitor"): dropped ec2:*: its expansion does not fit in 2048 characters"#,
        ),
        (
            Edit::AddedToNotAction {
                statement: 0,
                sid: sid.clone(),
                patterns: vec!["s3:DeleteBucket".into(), "iam:*".into()],
            },
            r#"statement 0 (Sid "Janitor"): excluded s3:DeleteBucket, iam:* through NotAction"#,
        ),
        (
            Edit::DroppedStatement {
                statement: 2,
                sid,
                reason: "every action it granted is restricted".into(),
            },
            r#"statement 2 (Sid "Janitor"): dropped the statement: every action it granted is restricted"#,
        ),
        (
            Edit::AddedEmptyStatement,
            "no statement was left: added one that grants nothing",
        ),
    ];
    for (edit, line) in cases {
        assert_eq!(edit.to_string(), line, "{edit:?}");
    }
}
