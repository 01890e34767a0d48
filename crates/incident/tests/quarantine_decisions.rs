//! What a quarantine writes, decided from what IAM holds now (no AWS: the handlers read IAM
//! into these snapshot values and carry out the decision). The moto tests in
//! crates/remediation show the same paths through real IAM calls.

use incident::quarantine::{
    AttachmentDecision, AttachmentNow, InlineDecision, InlinePolicyNow, Intended, ManagedDecision,
    ManagedPolicyNow, MembershipDecision, MembershipNow, QuarantineError, Recorded, VersionSummary,
    decide_attachment, decide_inline, decide_managed, decide_membership, decide_missing,
    inline_budget, rewrite,
};
use incident::{
    AddedGrant, DocumentRef, Principal, PrincipalId, PrincipalKind, QuarantineAction, Target,
    TargetKey,
};
use policy_engine::{Catalog, PolicyKind, RestrictedActions};

const POLICY: &str = "arn:aws:iam::123456789012:policy/my-bad-policy-aws-5-mins";
const OFFENDING: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"VisualEditor0","Effect":"Allow","Action":["s3:GetBucketObjectLockConfiguration","s3:DeleteObjectVersion","s3:DeleteBucket"],"Resource":"*"}]}"#;
const CLEAN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;

fn restricted() -> RestrictedActions {
    RestrictedActions::parse("s3:DeleteBucket,s3:DeleteObject", Catalog::embedded()).unwrap()
}

/// What the quarantine of OFFENDING puts in force (the planner's own output).
fn quarantine_of_offending() -> String {
    rewrite(OFFENDING, PolicyKind::Managed.size_limit(), &restricted())
        .unwrap()
        .expect("OFFENDING grants a restricted action")
        .quarantined
}

fn version(id: &str, is_default: bool, created: i64) -> VersionSummary {
    VersionSummary {
        version_id: id.into(),
        is_default,
        created,
    }
}

fn managed(default: (&str, &str), versions: Vec<VersionSummary>) -> ManagedPolicyNow {
    ManagedPolicyNow {
        policy_arn: POLICY.into(),
        default_version_id: default.0.into(),
        default_document: default.1.into(),
        analysed: None,
        event_version_id: None,
        versions,
        attached_to: vec![PrincipalId {
            principal: Principal {
                kind: PrincipalKind::Role,
                name: "data-pipeline".into(),
            },
            id: Some("AROAEXAMPLEDATAPIPE".into()),
        }],
    }
}

#[test]
fn a_restricted_default_version_gets_a_new_default_version_without_the_grant() {
    let now = managed(("v1", OFFENDING), vec![version("v1", true, 10)]);
    let ManagedDecision::NewDefaultVersion {
        rewrite,
        offending_version_id,
        make_room,
    } = decide_managed(&now, false, &restricted()).unwrap()
    else {
        panic!("expected a new default version");
    };
    assert_eq!(offending_version_id, "v1");
    assert_eq!(make_room, None, "one version of five: no room to make");
    assert_eq!(rewrite.original, OFFENDING);
    assert!(!rewrite.quarantined.contains("s3:DeleteBucket"));
    assert!(rewrite.quarantined.contains("s3:DeleteObjectVersion"));
}

#[test]
fn at_the_version_limit_the_oldest_spare_version_makes_room() {
    // (versions as IAM lists them, expected version to delete)
    let cases: &[(&str, Vec<VersionSummary>, Option<&str>)] = &[
        (
            "four versions: no room needed",
            vec![
                version("v1", false, 1),
                version("v2", false, 2),
                version("v3", false, 3),
                version("v4", true, 4),
            ],
            None,
        ),
        (
            "five versions: the oldest that is not the default",
            vec![
                version("v5", true, 5),
                version("v2", false, 2),
                version("v1", false, 1),
                version("v3", false, 3),
                version("v4", false, 4),
            ],
            Some("v1"),
        ),
        (
            "the oldest is the default (set back by hand): the next oldest",
            vec![
                version("v1", true, 1),
                version("v2", false, 2),
                version("v3", false, 3),
                version("v4", false, 4),
                version("v5", false, 5),
            ],
            Some("v2"),
        ),
        (
            "created in the same second: the lower version number first",
            vec![
                version("v10", false, 7),
                version("v9", false, 7),
                version("v11", false, 8),
                version("v12", false, 9),
                version("v13", true, 9),
            ],
            Some("v9"),
        ),
    ];
    for (case, versions, expected) in cases {
        let default = versions.iter().find(|v| v.is_default).unwrap();
        let now = managed((&default.version_id, OFFENDING), versions.clone());
        let ManagedDecision::NewDefaultVersion { make_room, .. } =
            decide_managed(&now, false, &restricted()).unwrap()
        else {
            panic!("{case}: expected a new default version");
        };
        assert_eq!(make_room.as_deref(), *expected, "{case}");
    }
}

#[test]
fn with_no_spare_version_to_delete_the_quarantine_is_a_policy_conflict() {
    // Five versions listed, every one of them the default: nothing can make room.
    let versions = (1..=5)
        .map(|n| version(&format!("v{n}"), true, n))
        .collect();
    let now = managed(("v5", OFFENDING), versions);
    let error = decide_managed(&now, false, &restricted()).unwrap_err();
    assert!(
        matches!(error, QuarantineError::NoRoom { versions: 5, .. }),
        "{error}"
    );
}

#[test]
fn a_clean_default_version_needs_no_quarantine() {
    let now = managed(("v2", CLEAN), vec![version("v2", true, 2)]);
    assert_eq!(
        decide_managed(&now, false, &restricted()).unwrap(),
        ManagedDecision::NotNeeded(
            "the policy's default version (v2) grants no restricted action".into()
        )
    );
}

#[test]
fn a_retried_quarantine_recognises_its_own_version_and_reports_it_applied() {
    // GIVEN v2, the quarantine of v1, is the default: an earlier attempt made it, and its answer
    // was lost before Step Functions retried
    let mut now = managed(
        ("v2", &quarantine_of_offending()),
        vec![version("v1", false, 1), version("v2", true, 2)],
    );
    now.analysed = Some(("v1".into(), OFFENDING.into()));
    // WHEN the retried attempt decides
    let ManagedDecision::InPlace { rewrite, action } =
        decide_managed(&now, false, &restricted()).unwrap()
    else {
        panic!("expected the quarantine recognised in place");
    };
    // THEN it stands as applied, with the original kept for the restore
    assert_eq!(rewrite.original, OFFENDING);
    assert_eq!(
        action,
        QuarantineAction::NewDefaultVersion {
            policy_arn: POLICY.into(),
            offending_version_id: "v1".into(),
            quarantine_version_id: "v2".into(),
            deleted_version: None,
            attached_to: Some(Box::new(DocumentRef::of(
                r#"[{"kind":"role","name":"data-pipeline","id":"AROAEXAMPLEDATAPIPE"}]"#
            ))),
        }
    );
}

#[test]
fn a_clean_default_that_is_not_our_quarantine_is_a_newer_change() {
    let mut now = managed(
        ("v2", CLEAN),
        vec![version("v1", false, 1), version("v2", true, 2)],
    );
    now.analysed = Some(("v1".into(), OFFENDING.into()));
    assert!(matches!(
        decide_managed(&now, false, &restricted()).unwrap(),
        ManagedDecision::NotNeeded(_)
    ));
}

#[test]
fn a_document_iam_holds_that_the_engine_cannot_read_is_invalid_input() {
    let now = managed(("v1", "not a policy"), vec![version("v1", true, 1)]);
    let error = decide_managed(&now, false, &restricted()).unwrap_err();
    assert!(
        matches!(error, QuarantineError::Unreadable { .. }),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("the current policy: "),
        "{error}"
    );
}

fn role() -> Principal {
    Principal {
        kind: PrincipalKind::Role,
        name: "data-pipeline".into(),
    }
}

fn inline(document: Option<&str>, others: &[&str]) -> InlinePolicyNow {
    InlinePolicyNow {
        principal: role(),
        policy_name: "cleanup".into(),
        document: document.map(str::to_owned),
        other_documents: others.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn inline_decisions() {
    let quarantined = quarantine_of_offending();
    // (case, the policy now, the document the assessment analysed, expected decision kind)
    let cases: &[(&str, InlinePolicyNow, Option<&str>, &str)] = &[
        (
            "restricted now: rewrite",
            inline(Some(OFFENDING), &[]),
            Some(OFFENDING),
            "rewrite",
        ),
        ("gone", inline(None, &[]), Some(OFFENDING), "not needed"),
        (
            "clean now, written by someone else",
            inline(Some(CLEAN), &[]),
            Some(OFFENDING),
            "not needed",
        ),
        (
            "clean now, our own quarantine",
            inline(Some(&quarantined), &[]),
            Some(OFFENDING),
            "in place",
        ),
    ];
    for (case, now, analysed, expected) in cases {
        let got = match decide_inline(now, *analysed, false, &restricted(), None).unwrap() {
            InlineDecision::Rewrite(_) => "rewrite",
            InlineDecision::NotNeeded(_) => "not needed",
            InlineDecision::InPlace { rewrite, .. } => {
                assert_eq!(rewrite.original, OFFENDING, "{case}");
                "in place"
            }
            InlineDecision::Delete(_) => "delete",
            InlineDecision::DeletedBefore(_) => "deleted before",
        };
        assert_eq!(got, *expected, "{case}");
    }
}

#[test]
fn the_inline_budget_is_the_principals_quota_less_its_other_inline_policies() {
    let clean_size = policy_engine::Policy::parse(CLEAN).unwrap().size();
    let cases: &[(&str, PrincipalKind, Vec<String>, usize)] = &[
        ("a role alone", PrincipalKind::Role, vec![], 10_240),
        ("a user alone", PrincipalKind::User, vec![], 2_048),
        ("a group alone", PrincipalKind::Group, vec![], 5_120),
        (
            "a role with two others, counted as IAM counts (no white space)",
            PrincipalKind::Role,
            vec![CLEAN.into(), format!("{CLEAN}\n\n   ")],
            10_240 - 2 * clean_size,
        ),
        (
            "escapes count as written, as IAM holds them (26 characters, not 10)",
            PrincipalKind::User,
            vec![r#"{"a":"\u0041\u0042\u0043"}"#.into()],
            2_048 - 26,
        ),
        (
            "only JSON's white space is left out: a non-breaking space counts",
            PrincipalKind::User,
            vec!["{\"a\":\"\u{a0}\u{a0}\"}".into()],
            2_048 - 10,
        ),
        (
            "a document the engine cannot read counts too",
            PrincipalKind::User,
            vec!["x".repeat(100)],
            2_048 - 100,
        ),
        (
            "others over the quota leave nothing",
            PrincipalKind::User,
            vec!["x".repeat(3_000)],
            0,
        ),
    ];
    for (case, kind, others, expected) in cases {
        assert_eq!(inline_budget(*kind, others), *expected, "{case}");
    }
}

#[test]
fn an_inline_policy_no_rewrite_of_which_fits_the_quota_is_deleted_keeping_its_original() {
    // Other inline policies use the whole quota: no rewrite fits, not even one that grants
    // nothing, and deleting it is the only quarantine left.
    let now = inline(Some(OFFENDING), &[&"x".repeat(10_240)]);
    let InlineDecision::Delete(applied) =
        decide_inline(&now, Some(OFFENDING), false, &restricted(), None).unwrap()
    else {
        panic!("expected a deletion");
    };
    assert_eq!(
        applied.action,
        QuarantineAction::InlineDeleted {
            principal: role(),
            policy_name: "cleanup".into()
        }
    );
    assert_eq!(applied.original_document, DocumentRef::of(OFFENDING));
    assert_eq!(applied.quarantined_document, None);
    let granted: Vec<&str> = applied
        .findings
        .iter()
        .flat_map(|f| &f.hits)
        .map(|h| h.restricted.as_str())
        .collect();
    assert_eq!(granted, ["s3:DeleteBucket"]);
}

#[test]
fn a_retry_reports_its_own_recorded_inline_deletion_and_nobody_elses() {
    let full = &"x".repeat(10_240);
    let InlineDecision::Delete(first) = decide_inline(
        &inline(Some(OFFENDING), &[full]),
        Some(OFFENDING),
        false,
        &restricted(),
        None,
    )
    .unwrap() else {
        panic!("expected a deletion");
    };
    let deletion_of = |policy_name: &str| Target::InlinePolicy {
        principal: role(),
        policy_name: policy_name.into(),
    };
    let own = recorded(&deletion_of("cleanup"));
    let rewrite_since = Recorded {
        intended: Intended::Rewrite,
        ..own.clone()
    };
    let other_policy = recorded(&deletion_of("reports"));
    let detachment = recorded(&detachment_of(POLICY));
    // (case, the policy now, what was recorded, decision)
    let cases: &[(&str, Option<&str>, Option<&Recorded>, &str)] = &[
        (
            "deleted, this deletion recorded",
            None,
            Some(&own),
            "deleted before",
        ),
        (
            "deleted, nothing recorded: superseded",
            None,
            None,
            "not needed",
        ),
        (
            "deleted after a later attempt rewrote it instead (its rewrite recorded): superseded",
            None,
            Some(&rewrite_since),
            "not needed",
        ),
        (
            "deleted, another inline policy's deletion recorded",
            None,
            Some(&other_policy),
            "not needed",
        ),
        (
            "deleted, a detachment recorded",
            None,
            Some(&detachment),
            "not needed",
        ),
        (
            "written again since: delete again",
            Some(OFFENDING),
            Some(&own),
            "delete",
        ),
    ];
    for (case, document, recorded, expected) in cases {
        let now = inline(*document, &[full]);
        let decided = decide_inline(&now, Some(OFFENDING), false, &restricted(), *recorded)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = match &decided {
            InlineDecision::NotNeeded(_) => "not needed",
            InlineDecision::Delete(_) => "delete",
            InlineDecision::DeletedBefore(reported) => {
                assert_eq!(
                    reported, &first,
                    "{case}: reported as the first attempt did"
                );
                "deleted before"
            }
            other => panic!("{case}: {other:?}"),
        };
        assert_eq!(got, *expected, "{case}");
    }
}

fn attachment(attached: bool, document: Option<&str>) -> AttachmentNow {
    AttachmentNow {
        principal: role(),
        policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        attached,
        document: document.map(str::to_owned),
    }
}

#[test]
fn attachment_decisions() {
    let cases: &[(&str, AttachmentNow, &str)] = &[
        (
            "attached and restricted: detach",
            attachment(true, Some(OFFENDING)),
            "detach",
        ),
        (
            "no longer attached",
            attachment(false, None),
            "the policy is no longer attached",
        ),
        (
            "attached, policy gone",
            attachment(true, None),
            "the attached policy no longer exists",
        ),
        (
            "attached, clean now",
            attachment(true, Some(CLEAN)),
            "the attached policy, as it is now, grants no restricted action",
        ),
    ];
    for (case, now, expected) in cases {
        match decide_attachment(now, false, &restricted(), None).unwrap() {
            AttachmentDecision::Detach(applied) => {
                assert_eq!(*expected, "detach", "{case}");
                assert_eq!(
                    applied.original_document,
                    DocumentRef::of(OFFENDING),
                    "{case}"
                );
                assert_eq!(applied.quarantined_document, None, "{case}");
                assert!(!applied.findings.is_empty(), "{case}");
            }
            AttachmentDecision::NotNeeded(reason) => assert_eq!(reason, *expected, "{case}"),
            AttachmentDecision::DetachedBefore(_) => panic!("{case}: nothing was recorded"),
        }
    }
}

/// What a decision came to, in a word: the consistency tables compare these.
fn kind<T>(
    decision: Result<T, QuarantineError>,
    kind_of: impl Fn(&T) -> &'static str,
) -> &'static str {
    match decision {
        Ok(decided) => kind_of(&decided),
        Err(QuarantineError::NotYetConsistent(_)) => "not yet consistent",
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn managed_kind(decision: &ManagedDecision) -> &'static str {
    match decision {
        ManagedDecision::NotNeeded(_) => "not needed",
        ManagedDecision::InPlace { .. } => "in place",
        ManagedDecision::NewDefaultVersion { .. } => "new default version",
    }
}

/// A policy whose event made v2 (OFFENDING) the default, as IAM shows it now.
fn after_event_v2(default: (&str, &str), analysed_v2: bool) -> ManagedPolicyNow {
    let mut now = managed(
        default,
        vec![version("v1", false, 10), version("v2", false, 20)],
    );
    now.event_version_id = Some("v2".into());
    if analysed_v2 && default.0 != "v2" {
        now.analysed = Some(("v2".into(), OFFENDING.into()));
    }
    now
}

#[test]
fn managed_reads_that_do_not_show_the_event_wait_while_iam_may_lag() {
    let quarantined = quarantine_of_offending();
    // (case, the policy now, IAM may still lag?, expected)
    let cases: &[(&str, ManagedPolicyNow, bool, &str)] = &[
        (
            "the event's version in force",
            after_event_v2(("v2", OFFENDING), true),
            true,
            "new default version",
        ),
        (
            "still the previous default, within the window",
            after_event_v2(("v1", CLEAN), false),
            true,
            "not yet consistent",
        ),
        (
            "a previous restricted default is not quarantined in its place",
            after_event_v2(("v1", OFFENDING), false),
            true,
            "not yet consistent",
        ),
        (
            "an older default after the window: a revert, analysed as it is",
            after_event_v2(("v1", CLEAN), false),
            false,
            "not needed",
        ),
        (
            "a newer clean default within the window: the event may have set an older \
             version back (SetDefaultPolicyVersion) that IAM does not show yet",
            after_event_v2(("v3", CLEAN), true),
            true,
            "not yet consistent",
        ),
        (
            "a newer clean default after the window: a real supersession",
            after_event_v2(("v3", CLEAN), true),
            false,
            "not needed",
        ),
        (
            "a newer default that is our own quarantine",
            after_event_v2(("v3", &quarantined), true),
            true,
            "in place",
        ),
        (
            "a newer restricted default is quarantined at once",
            after_event_v2(("v3", OFFENDING), true),
            true,
            "new default version",
        ),
        (
            "no version in the event: nothing to compare",
            managed(("v1", CLEAN), vec![version("v1", true, 10)]),
            true,
            "not needed",
        ),
        (
            "v10 is newer than v9: a newer restricted default, quarantined at once",
            {
                let mut now = after_event_v2(("v10", OFFENDING), false);
                now.event_version_id = Some("v9".into());
                now
            },
            true,
            "new default version",
        ),
    ];
    for (case, now, lagging, expected) in cases {
        let got = kind(decide_managed(now, *lagging, &restricted()), managed_kind);
        assert_eq!(got, *expected, "{case}");
    }
}

#[test]
fn missing_is_not_yet_visible_within_the_window_and_gone_after_it() {
    let what = "the policy no longer exists";
    assert!(matches!(
        decide_missing(what, true),
        Err(QuarantineError::NotYetConsistent(reason)) if reason == what
    ));
    assert_eq!(decide_missing(what, false).unwrap(), what);
}

#[test]
fn inline_reads_that_do_not_show_the_event_wait_while_iam_may_lag() {
    let quarantined = quarantine_of_offending();
    let inline_kind = |d: &InlineDecision| match d {
        InlineDecision::NotNeeded(_) => "not needed",
        InlineDecision::InPlace { .. } => "in place",
        InlineDecision::Rewrite(_) => "rewrite",
        InlineDecision::Delete(_) | InlineDecision::DeletedBefore(_) => "delete",
    };
    // The event put OFFENDING in force. (case, the policy now, IAM may still lag?, expected)
    let other_restricted = OFFENDING.replace("VisualEditor0", "Older");
    let cases: &[(&str, InlinePolicyNow, bool, &str)] = &[
        (
            "the event's document",
            inline(Some(OFFENDING), &[]),
            true,
            "rewrite",
        ),
        (
            "missing, within the window",
            inline(None, &[]),
            true,
            "not yet consistent",
        ),
        (
            "missing, after the window: gone",
            inline(None, &[]),
            false,
            "not needed",
        ),
        (
            "the previous clean document, within the window",
            inline(Some(CLEAN), &[]),
            true,
            "not yet consistent",
        ),
        (
            "a clean document after the window: superseded",
            inline(Some(CLEAN), &[]),
            false,
            "not needed",
        ),
        (
            "another restricted document is not quarantined while IAM may lag",
            inline(Some(&other_restricted), &[]),
            true,
            "not yet consistent",
        ),
        (
            "another restricted document after the window: quarantined as it is",
            inline(Some(&other_restricted), &[]),
            false,
            "rewrite",
        ),
        (
            "our own quarantine, within the window",
            inline(Some(&quarantined), &[]),
            true,
            "in place",
        ),
    ];
    for (case, now, lagging, expected) in cases {
        let got = kind(
            decide_inline(now, Some(OFFENDING), *lagging, &restricted(), None),
            inline_kind,
        );
        assert_eq!(got, *expected, "{case}");
    }
}

#[test]
fn attachments_not_yet_visible_wait_while_iam_may_lag() {
    let attachment_kind = |d: &AttachmentDecision| match d {
        AttachmentDecision::NotNeeded(_) => "not needed",
        AttachmentDecision::Detach(_) => "detach",
        AttachmentDecision::DetachedBefore(_) => "detached before",
    };
    let cases: &[(&str, AttachmentNow, bool, &str)] = &[
        (
            "attached and restricted",
            attachment(true, Some(OFFENDING)),
            true,
            "detach",
        ),
        (
            "not attached yet, within the window",
            attachment(false, None),
            true,
            "not yet consistent",
        ),
        (
            "not attached after the window: detached since",
            attachment(false, None),
            false,
            "not needed",
        ),
        (
            "the policy not visible yet",
            attachment(true, None),
            true,
            "not yet consistent",
        ),
    ];
    for (case, now, lagging, expected) in cases {
        let got = kind(
            decide_attachment(now, *lagging, &restricted(), None),
            attachment_kind,
        );
        assert_eq!(got, *expected, "{case}");
    }
}

fn membership(member: bool, group_document: Option<&str>, added: &[&str]) -> MembershipNow {
    MembershipNow {
        user: "carol".into(),
        group: "admins".into(),
        member,
        group_document: group_document.map(str::to_owned),
        added: added
            .iter()
            .map(|pattern| AddedGrant {
                pattern: (*pattern).into(),
                via: vec!["managed policy arn:aws:iam::aws:policy/AdministratorAccess (v1), statement #0: *".into()],
            })
            .collect(),
    }
}

#[test]
fn membership_decisions() {
    // (case, the membership now, IAM may still lag, decision)
    let cases: &[(&str, MembershipNow, bool, &str)] = &[
        (
            "a member, the group adds a restricted grant: remove",
            membership(true, Some(OFFENDING), &["s3:DeleteBucket"]),
            false,
            "remove",
        ),
        (
            "a member, the group adds nothing restricted (now)",
            membership(true, Some(CLEAN), &[]),
            false,
            "group admins, as it is now, gives user carol no restricted action it lacks",
        ),
        (
            "no longer a member",
            membership(false, Some(OFFENDING), &[]),
            false,
            "user carol is no longer in group admins",
        ),
        (
            "not a member yet, just after the event",
            membership(false, Some(OFFENDING), &[]),
            true,
            "not yet consistent",
        ),
        (
            "the group is gone",
            membership(false, None, &[]),
            false,
            "group admins no longer exists",
        ),
    ];
    for (case, now, lagging, expected) in cases {
        let decided = kind(
            decide_membership(now, *lagging, None),
            |decision| match decision {
                MembershipDecision::Remove(applied) => {
                    assert_eq!(
                        applied.action,
                        QuarantineAction::RemovedFromGroup {
                            user: "carol".into(),
                            group: "admins".into()
                        },
                        "{case}"
                    );
                    // The group's policies as they were: what an approval re-adds the user to.
                    assert_eq!(
                        applied.original_document,
                        DocumentRef::of(OFFENDING),
                        "{case}"
                    );
                    assert_eq!(applied.quarantined_document, None, "{case}");
                    "remove"
                }
                MembershipDecision::NotNeeded(reason) => {
                    assert_eq!(reason, expected, "{case}");
                    "not needed"
                }
                MembershipDecision::RemovedBefore(_) => panic!("{case}: nothing was recorded"),
            },
        );
        match *expected {
            "remove" | "not yet consistent" => assert_eq!(decided, *expected, "{case}"),
            _ => assert_eq!(decided, "not needed", "{case}"),
        }
    }
}

/// What the step records just before it detaches `attachment(true, OFFENDING)` (or takes carol
/// out of admins): the target, and the original document it kept.
fn recorded(target: &Target) -> Recorded {
    Recorded {
        target: TargetKey::canonical(target),
        original: OFFENDING.into(),
        intended: Intended::TakeAway,
    }
}

fn detachment_of(policy_arn: &str) -> Target {
    Target::Attachment {
        principal: role(),
        policy_arn: policy_arn.into(),
    }
}

fn removal_from(group: &str) -> Target {
    Target::GroupMembership {
        user: "carol".into(),
        group: group.into(),
    }
}

#[test]
fn a_retry_reports_its_own_recorded_detachment_and_nobody_elses() {
    // A detachment leaves nothing in IAM to tell it from somebody else's: what an earlier
    // attempt recorded before it wrote is what tells the retry the policy is detached because
    // the step did it (its answer lost), not because a newer change superseded the event.
    let AttachmentDecision::Detach(first) = decide_attachment(
        &attachment(true, Some(OFFENDING)),
        false,
        &restricted(),
        None,
    )
    .unwrap() else {
        panic!("expected a detachment");
    };
    let own = recorded(&detachment_of(
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ));
    let other_policy = recorded(&detachment_of(POLICY));
    let other_kind = recorded(&removal_from("admins"));
    // (case, attached now, IAM may lag, what was recorded, decision)
    let cases: &[(&str, bool, bool, Option<&Recorded>, &str)] = &[
        (
            "detached, this detachment recorded",
            false,
            false,
            Some(&own),
            "detached before",
        ),
        (
            "detached just after the event, this detachment recorded",
            false,
            true,
            Some(&own),
            "detached before",
        ),
        (
            "detached, nothing recorded: superseded",
            false,
            false,
            None,
            "not needed",
        ),
        (
            "detached, another policy's detachment recorded",
            false,
            false,
            Some(&other_policy),
            "not needed",
        ),
        (
            "detached, a group removal recorded",
            false,
            false,
            Some(&other_kind),
            "not needed",
        ),
        (
            "attached again since: detach again",
            true,
            false,
            Some(&own),
            "detach",
        ),
    ];
    for (case, attached, lagging, recorded, expected) in cases {
        let now = attachment(*attached, attached.then_some(OFFENDING));
        let decided = decide_attachment(&now, *lagging, &restricted(), *recorded)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let got = match &decided {
            AttachmentDecision::NotNeeded(_) => "not needed",
            AttachmentDecision::Detach(_) => "detach",
            AttachmentDecision::DetachedBefore(reported) => {
                assert_eq!(
                    reported, &first,
                    "{case}: reported as the first attempt did"
                );
                "detached before"
            }
        };
        assert_eq!(got, *expected, "{case}");
    }
}

#[test]
fn a_retry_reports_its_own_recorded_group_removal_and_nobody_elses() {
    let MembershipDecision::Remove(first) = decide_membership(
        &membership(true, Some(OFFENDING), &["s3:DeleteBucket"]),
        false,
        None,
    )
    .unwrap() else {
        panic!("expected a removal");
    };
    let own = recorded(&removal_from("admins"));
    let other_group = recorded(&removal_from("auditors"));
    let detachment = recorded(&detachment_of(POLICY));
    // (case, a member now, what was recorded, decision)
    let cases: &[(&str, bool, Option<&Recorded>, &str)] = &[
        (
            "removed, this removal recorded",
            false,
            Some(&own),
            "removed before",
        ),
        (
            "removed, nothing recorded: superseded",
            false,
            None,
            "not needed",
        ),
        (
            "removed, a removal from another group recorded",
            false,
            Some(&other_group),
            "not needed",
        ),
        (
            "removed, a detachment recorded",
            false,
            Some(&detachment),
            "not needed",
        ),
        (
            "a member again since: remove again",
            true,
            Some(&own),
            "remove",
        ),
    ];
    for (case, member, recorded, expected) in cases {
        let now = membership(*member, Some(OFFENDING), &["s3:DeleteBucket"]);
        let got = match decide_membership(&now, false, *recorded)
            .unwrap_or_else(|e| panic!("{case}: {e}"))
        {
            MembershipDecision::NotNeeded(_) => "not needed",
            MembershipDecision::Remove(_) => "remove",
            MembershipDecision::RemovedBefore(reported) => {
                assert_eq!(reported, first, "{case}: reported as the first attempt did");
                "removed before"
            }
        };
        assert_eq!(got, *expected, "{case}");
    }
}
