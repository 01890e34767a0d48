//! What a restore writes, decided from what IAM holds now: the original goes back only while
//! the quarantine is what is in force (approval was given for that state); restored already is
//! finished, not skipped; anyone else's change since wins.

use incident::quarantine::{inline_characters, inline_quota};
use incident::restore::{
    AttachmentRestoreNow, InlineRestoreNow, ManagedRestoreNow, MembershipRestoreNow, Places,
    RestorePlan, RestoreWrite, approved_attachments, forecast_count_quota, refused_over_quota,
    replaced_since, restore_attachment, restore_inline, restore_managed, restore_membership,
};
use incident::{Principal, PrincipalId, PrincipalKind, RestoreRecord, RestoreStatus};

const POLICY: &str = "arn:aws:iam::123456789012:policy/team-s3-access";
const ORIGINAL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
const QUARANTINED: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"*"}]}"#;
const SOMEONE_ELSES: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn set_default(version: &str) -> RestoreWrite {
    RestoreWrite::SetDefaultVersion {
        policy_arn: POLICY.into(),
        version_id: version.into(),
    }
}

fn delete(version: &str) -> RestoreWrite {
    RestoreWrite::DeleteVersion {
        policy_arn: POLICY.into(),
        version_id: version.into(),
    }
}

/// The managed policy as IAM holds it now: its default version's id, and the documents the
/// quarantine version v2 and the offending version v1 hold (`None`: deleted).
fn managed(default: Option<&str>, v2: Option<&str>, v1: Option<&str>) -> ManagedRestoreNow {
    ManagedRestoreNow {
        policy_arn: POLICY.into(),
        offending_version_id: "v1".into(),
        quarantine_version_id: "v2".into(),
        original: ORIGINAL.into(),
        quarantined: QUARANTINED.into(),
        default_version_id: default.map(str::to_owned),
        quarantine_document: v2.map(str::to_owned),
        offending_document: v1.map(str::to_owned),
    }
}

#[test]
fn managed_policy_restores() {
    // (case, default version now, v2's document now, v1's document now, status, writes)
    let cases = [
        (
            "the quarantine is the default: make v1 the default, delete v2",
            Some("v2"),
            Some(QUARANTINED),
            Some(ORIGINAL),
            RestoreStatus::Restored,
            vec![set_default("v1"), delete("v2")],
        ),
        (
            "restored already, quarantine version left",
            Some("v1"),
            Some(QUARANTINED),
            Some(ORIGINAL),
            RestoreStatus::Restored,
            vec![delete("v2")],
        ),
        (
            "restored already and cleaned up (a retried restore)",
            Some("v1"),
            None,
            Some(ORIGINAL),
            RestoreStatus::Restored,
            vec![],
        ),
        (
            "someone made v3 the default since",
            Some("v3"),
            Some(QUARANTINED),
            Some(ORIGINAL),
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the offending version was deleted: the quarantine stays the default",
            Some("v2"),
            Some(QUARANTINED),
            None,
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "the policy is gone",
            None,
            None,
            None,
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "created again under its ARN, v1 holding another document: never made the default",
            Some("v2"),
            Some(QUARANTINED),
            Some(SOMEONE_ELSES),
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "created again, v1 another document and the default already",
            Some("v1"),
            Some(QUARANTINED),
            Some(SOMEONE_ELSES),
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "created again, v1 the original but v2 another document: theirs stands",
            Some("v2"),
            Some(SOMEONE_ELSES),
            Some(ORIGINAL),
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the documents as IAM hands them back, white space and key order aside",
            Some("v2"),
            Some(
                r#"{ "Statement": [ { "Resource": "*", "NotAction": "s3:DeleteBucket", "Effect": "Allow" } ], "Version": "2012-10-17" }"#,
            ),
            Some(
                r#"{"Statement":[{"Resource":"*","Action":"s3:*","Effect":"Allow"}],"Version":"2012-10-17"}"#,
            ),
            RestoreStatus::Restored,
            vec![set_default("v1"), delete("v2")],
        ),
    ];
    for (case, default, v2, v1, status, writes) in cases {
        let plan = restore_managed(&managed(default, v2, v1));
        assert_eq!(plan.record.status, status, "{case}: {}", plan.record.detail);
        assert_eq!(plan.writes, writes, "{case}");
    }
}

#[test]
fn a_restore_deletes_only_the_version_that_holds_the_quarantine() {
    // GIVEN the policy created again, v1 the original and the default, v2 someone's version
    let now = managed(Some("v1"), Some(SOMEONE_ELSES), Some(ORIGINAL));
    // WHEN the restore is planned
    let plan = restore_managed(&now);
    // THEN the original is in force (restored) and their v2 stays
    assert_eq!(plan.record.status, RestoreStatus::Restored);
    assert_eq!(plan.writes, vec![]);
}

#[test]
fn a_skipped_managed_restore_says_what_is_in_force_and_why_nothing_was_done() {
    let plan = restore_managed(&managed(Some("v3"), Some(QUARANTINED), Some(ORIGINAL)));
    assert_eq!(
        plan.record.detail,
        format!(
            "the default version of {POLICY} is now v3, not the quarantine version v2: someone \
             changed the policy since, and restoring would undo their change"
        )
    );
}

fn role() -> Principal {
    Principal {
        kind: PrincipalKind::Role,
        name: "data-pipeline".into(),
    }
}

#[test]
fn inline_policy_restores() {
    let put_original = RestoreWrite::PutInline {
        principal: role(),
        policy_name: "cleanup".into(),
        document: ORIGINAL.into(),
    };
    // (case, document now, status, writes); documents compare as JSON, not as text
    let reformatted_quarantine = QUARANTINED.replace(',', ",\n  ");
    let cases = [
        (
            "the quarantine in force",
            Some(QUARANTINED),
            RestoreStatus::Restored,
            vec![put_original.clone()],
        ),
        (
            "the quarantine in force, white space differs",
            Some(reformatted_quarantine.as_str()),
            RestoreStatus::Restored,
            vec![put_original],
        ),
        (
            "the original back already",
            Some(ORIGINAL),
            RestoreStatus::Restored,
            vec![],
        ),
        (
            "someone else's document since",
            Some(SOMEONE_ELSES),
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the inline policy (or its role) deleted since",
            None,
            RestoreStatus::Gone,
            vec![],
        ),
        ("not JSON at all", Some("{"), RestoreStatus::Skipped, vec![]),
    ];
    for (case, current, status, writes) in cases {
        let plan = restore_inline(&InlineRestoreNow {
            principal: role(),
            policy_name: "cleanup".into(),
            original: ORIGINAL.into(),
            quarantined: Some(QUARANTINED.into()),
            current: current.map(str::to_owned),
            principal_exists: true,
            other_documents: Vec::new(),
        });
        assert_eq!(plan.record.status, status, "{case}: {}", plan.record.detail);
        assert_eq!(plan.writes, writes, "{case}");
    }
}

#[test]
fn deleted_inline_policy_restores() {
    let put_original = RestoreWrite::PutInline {
        principal: role(),
        policy_name: "cleanup".into(),
        document: ORIGINAL.into(),
    };
    // (case, document now, the role exists, status, writes)
    let cases = [
        (
            "still deleted: put back",
            None,
            true,
            RestoreStatus::Restored,
            vec![put_original],
        ),
        (
            "the original back already",
            Some(ORIGINAL),
            true,
            RestoreStatus::Restored,
            vec![],
        ),
        (
            "written again since by someone else",
            Some(SOMEONE_ELSES),
            true,
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the role deleted since: nothing to put it back on",
            None,
            false,
            RestoreStatus::Gone,
            vec![],
        ),
    ];
    for (case, current, principal_exists, status, writes) in cases {
        let plan = restore_inline(&InlineRestoreNow {
            principal: role(),
            policy_name: "cleanup".into(),
            original: ORIGINAL.into(),
            quarantined: None,
            current: current.map(str::to_owned),
            principal_exists,
            other_documents: Vec::new(),
        });
        assert_eq!(plan.record.status, status, "{case}: {}", plan.record.detail);
        assert_eq!(plan.writes, writes, "{case}");
    }
}

#[test]
fn an_original_the_other_inline_policies_left_no_room_for_is_not_put_back() {
    let quota = inline_quota(PrincipalKind::Role);
    let room_for_the_original = "x".repeat(quota - inline_characters(ORIGINAL));
    let one_more = format!("{room_for_the_original}x");
    // (case, what the quarantine wrote (None: deleted), the other policies now, status)
    let cases = [
        (
            "rewritten, the others leave exactly its room",
            Some(QUARANTINED),
            &room_for_the_original,
            RestoreStatus::Restored,
        ),
        (
            "rewritten, the others grew by one character",
            Some(QUARANTINED),
            &one_more,
            RestoreStatus::Skipped,
        ),
        (
            "deleted, the others leave exactly its room",
            None,
            &room_for_the_original,
            RestoreStatus::Restored,
        ),
        (
            "deleted, the others grew by one character",
            None,
            &one_more,
            RestoreStatus::Skipped,
        ),
    ];
    for (case, quarantined, others, status) in cases {
        let plan = restore_inline(&InlineRestoreNow {
            principal: role(),
            policy_name: "cleanup".into(),
            original: ORIGINAL.into(),
            quarantined: quarantined.map(str::to_owned),
            current: quarantined.map(str::to_owned),
            principal_exists: true,
            other_documents: vec![others.clone()],
        });
        assert_eq!(plan.record.status, status, "{case}: {}", plan.record.detail);
        if status == RestoreStatus::Skipped {
            assert!(plan.writes.is_empty(), "{case}");
            assert_eq!(
                plan.record.detail,
                format!(
                    "inline policy cleanup of role data-pipeline no longer fits the role's \
                     inline-policy quota: its other inline policies leave {} of 10240 characters \
                     now, and the original needs {}; IAM would refuse it (the original is kept)",
                    inline_characters(ORIGINAL) - 1,
                    inline_characters(ORIGINAL)
                ),
                "{case}"
            );
        }
    }
}

#[test]
fn detached_policy_restores() {
    let attach = RestoreWrite::Attach {
        principal: role(),
        policy_arn: POLICY.into(),
    };
    // (case, attached now, the policy's document now, status, writes)
    let cases = [
        (
            "detached, document as approved",
            false,
            Some(ORIGINAL),
            RestoreStatus::Restored,
            vec![attach],
        ),
        (
            "attached again already",
            true,
            None,
            RestoreStatus::Restored,
            vec![],
        ),
        (
            "the document changed since: re-attaching would grant what nobody approved",
            false,
            Some(SOMEONE_ELSES),
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the policy is gone",
            false,
            None,
            RestoreStatus::Gone,
            vec![],
        ),
    ];
    for (case, attached, current, status, writes) in cases {
        let plan = restore_attachment(&AttachmentRestoreNow {
            principal: role(),
            policy_arn: POLICY.into(),
            original: ORIGINAL.into(),
            attached,
            current: current.map(str::to_owned),
        });
        assert_eq!(plan.record.status, status, "{case}: {}", plan.record.detail);
        assert_eq!(plan.writes, writes, "{case}");
    }
}

#[test]
fn membership_restores() {
    // The quarantine removed carol from admins, whose policies were ORIGINAL then.
    // (case, carol exists, admins' policies now, carol in admins now, status, writes)
    let add_back = RestoreWrite::AddToGroup {
        user: "carol".into(),
        group: "admins".into(),
    };
    let cases = [
        (
            "still removed, the group unchanged: add her back",
            true,
            Some(ORIGINAL),
            false,
            RestoreStatus::Restored,
            vec![add_back],
        ),
        (
            "back in the group already (a retried restore, or a person)",
            true,
            Some(ORIGINAL),
            true,
            RestoreStatus::Restored,
            vec![],
        ),
        (
            "the group's policies changed since: adding her back would grant what nobody approved",
            true,
            Some(SOMEONE_ELSES),
            false,
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the user was deleted",
            false,
            Some(ORIGINAL),
            false,
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "the group was deleted",
            true,
            None,
            false,
            RestoreStatus::Gone,
            vec![],
        ),
    ];
    for (case, user_exists, current, member, status, writes) in cases {
        let plan = restore_membership(&MembershipRestoreNow {
            user: "carol".into(),
            group: "admins".into(),
            original: ORIGINAL.into(),
            user_exists,
            current: current.map(str::to_owned),
            member,
        });
        assert_eq!(plan.record.status, status, "{case}: {}", plan.record.detail);
        assert_eq!(plan.writes, writes, "{case}");
    }
}

#[test]
fn the_approval_page_forecasts_a_place_taken_since_as_nothing_restored() {
    let attach = RestoreWrite::Attach {
        principal: role(),
        policy_arn: POLICY.into(),
    };
    let add_back = RestoreWrite::AddToGroup {
        user: "carol".into(),
        group: "admins".into(),
    };
    let restoring = |write: &RestoreWrite| RestorePlan {
        writes: vec![write.clone()],
        record: RestoreRecord {
            status: RestoreStatus::Restored,
            detail: "put back".into(),
        },
    };
    // (case, the plan, places used, the quota, what the page forecasts)
    let cases = [
        ("a place free: re-attached", restoring(&attach), 9, 10, None),
        (
            "the place the detachment freed was taken since",
            restoring(&attach),
            10,
            10,
            Some(
                "role data-pipeline has 10 managed policies attached now, and the account's \
                 quota is 10: IAM would refuse to attach \
                 arn:aws:iam::123456789012:policy/team-s3-access again (it stays detached)",
            ),
        ),
        (
            "more than the quota (it was lowered since)",
            restoring(&attach),
            12,
            10,
            Some(
                "role data-pipeline has 12 managed policies attached now, and the account's \
                 quota is 10: IAM would refuse to attach \
                 arn:aws:iam::123456789012:policy/team-s3-access again (it stays detached)",
            ),
        ),
        (
            "a raised quota, places free",
            restoring(&attach),
            12,
            20,
            None,
        ),
        (
            "the user's groups fill her quota",
            restoring(&add_back),
            10,
            10,
            Some(
                "user carol is in 10 groups now, and the account's quota is 10: IAM would \
                 refuse to add it to group admins again (it stays out)",
            ),
        ),
        (
            "a write that takes no place",
            restoring(&set_default("v2")),
            10,
            10,
            None,
        ),
    ];
    for (case, plan, used, quota, skipped) in cases {
        let forecast = forecast_count_quota(plan.clone(), Places { used, quota });
        match skipped {
            None => assert_eq!(forecast, plan, "{case}"),
            Some(detail) => {
                assert_eq!(forecast.record.status, RestoreStatus::Skipped, "{case}");
                assert_eq!(forecast.record.detail, detail, "{case}");
                assert!(forecast.writes.is_empty(), "{case}");
            }
        }
    }
}

#[test]
fn a_write_iam_refuses_over_a_quota_is_skipped_saying_which() {
    let refusal = "LimitExceeded: Cannot exceed quota";
    let writes = [
        (
            RestoreWrite::PutInline {
                principal: role(),
                policy_name: "cleanup".into(),
                document: ORIGINAL.into(),
            },
            Some(
                "inline policy cleanup of role data-pipeline no longer fits the role's \
                  inline-policy quota: IAM refused to put the original back (LimitExceeded: \
                  Cannot exceed quota); the original is kept",
            ),
        ),
        (
            RestoreWrite::Attach {
                principal: role(),
                policy_arn: POLICY.into(),
            },
            Some(
                "role data-pipeline has as many managed policies attached as its quota \
                  allows: IAM refused to attach arn:aws:iam::123456789012:policy/team-s3-access \
                  again (LimitExceeded: Cannot exceed quota); it stays detached",
            ),
        ),
        (
            RestoreWrite::AddToGroup {
                user: "carol".into(),
                group: "admins".into(),
            },
            Some(
                "user carol is in as many groups as its quota allows: IAM refused to add it to \
                  group admins again (LimitExceeded: Cannot exceed quota); it stays out",
            ),
        ),
        // No quota IAM holds a principal to can refuse these: the failure stands.
        (set_default("v2"), None),
        (delete("v3"), None),
    ];
    for (write, detail) in writes {
        let record = refused_over_quota(&write, refusal);
        assert_eq!(
            record.as_ref().map(|r| r.detail.as_str()),
            detail,
            "{write:?}"
        );
        assert!(
            record.is_none_or(|r| r.status == RestoreStatus::Skipped),
            "{write:?}"
        );
    }
}

#[test]
fn a_principal_deleted_and_created_again_since_the_quarantine_gets_nothing_back() {
    let with_id = |principal: Principal, id: Option<&str>| PrincipalId {
        principal,
        id: id.map(str::to_owned),
    };
    let user = |name: &str| Principal {
        kind: PrincipalKind::User,
        name: name.into(),
    };
    let group = Principal {
        kind: PrincipalKind::Group,
        name: "admins".into(),
    };
    // (case, recorded at quarantine, as IAM has them now, what the restore is told)
    let cases = [
        (
            "the same role",
            vec![with_id(role(), Some("AROAEXAMPLE1"))],
            vec![with_id(role(), Some("AROAEXAMPLE1"))],
            None,
        ),
        (
            "the role created again under its name",
            vec![with_id(role(), Some("AROAEXAMPLE1"))],
            vec![with_id(role(), Some("AROAEXAMPLE2"))],
            Some(
                "role data-pipeline was deleted and created again after the quarantine (IAM id \
                 AROAEXAMPLE1 then, AROAEXAMPLE2 now): the approval was for the earlier one",
            ),
        ),
        (
            "the role gone now",
            vec![with_id(role(), Some("AROAEXAMPLE1"))],
            vec![with_id(role(), None)],
            Some(
                "role data-pipeline no longer exists (deleted after the quarantine; IAM id \
                 AROAEXAMPLE1): nothing to give back",
            ),
        ),
        (
            "absent then and now: left to the kind's plan",
            vec![with_id(role(), None)],
            vec![with_id(role(), None)],
            None,
        ),
        (
            "absent when the quarantine acted, there now",
            vec![with_id(role(), None)],
            vec![with_id(role(), Some("AROAEXAMPLE2"))],
            Some(
                "role data-pipeline did not exist when the quarantine acted and was created since \
                 (IAM id AROAEXAMPLE2): the approval was not for it",
            ),
        ),
        (
            "a membership whose group was created again",
            vec![
                with_id(user("alice"), Some("AIDAEXAMPLE1")),
                with_id(group.clone(), Some("AGPAEXAMPLE1")),
            ],
            vec![
                with_id(user("alice"), Some("AIDAEXAMPLE1")),
                with_id(group.clone(), Some("AGPAEXAMPLE2")),
            ],
            Some(
                "group admins was deleted and created again after the quarantine (IAM id \
                 AGPAEXAMPLE1 then, AGPAEXAMPLE2 now): the approval was for the earlier one",
            ),
        ),
        (
            "a record made before ids were kept",
            Vec::new(),
            vec![with_id(role(), Some("AROAEXAMPLE2"))],
            None,
        ),
    ];
    for (case, recorded, now, told) in cases {
        let plan = replaced_since(&recorded, &now);
        assert_eq!(
            plan.as_ref().map(|plan| plan.record.detail.as_str()),
            told,
            "{case}"
        );
        if let Some(plan) = plan {
            assert_eq!(plan.record.status, RestoreStatus::Gone, "{case}");
            assert!(plan.writes.is_empty(), "{case}");
        }
    }
}

#[test]
fn an_approval_covers_the_attachments_a_policy_had_when_quarantined_on_the_same_principals() {
    let attachment = |kind, name: &str, id: Option<&str>| PrincipalId {
        principal: Principal {
            kind,
            name: name.into(),
        },
        id: id.map(str::to_owned),
    };
    let quarantined = [
        attachment(PrincipalKind::Role, "data-pipeline", Some("AROAEXAMPLE1")),
        attachment(PrincipalKind::User, "bob", Some("AIDAEXAMPLE1")),
    ];
    // (case, kept in the record, attached now, approved)
    let cases = [
        (
            "both still attached",
            quarantined.to_vec(),
            quarantined.to_vec(),
            vec!["data-pipeline", "bob"],
        ),
        (
            "bob created again and the policy attached to him",
            quarantined.to_vec(),
            vec![
                attachment(PrincipalKind::Role, "data-pipeline", Some("AROAEXAMPLE1")),
                attachment(PrincipalKind::User, "bob", Some("AIDAEXAMPLE2")),
            ],
            vec!["data-pipeline"],
        ),
        (
            "a group attached while the approval waited",
            quarantined.to_vec(),
            vec![attachment(
                PrincipalKind::Group,
                "analysts",
                Some("AGPAEXAMPLE1"),
            )],
            Vec::<&str>::new(),
        ),
        (
            "a list kept before ids were: the sweep asks about each",
            vec![attachment(PrincipalKind::Role, "data-pipeline", None)],
            vec![attachment(
                PrincipalKind::Role,
                "data-pipeline",
                Some("AROAEXAMPLE1"),
            )],
            Vec::<&str>::new(),
        ),
    ];
    for (case, kept, now, approved) in cases {
        let names: Vec<String> = approved_attachments(&kept, now)
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, approved, "{case}");
    }
}

#[test]
fn the_approval_page_says_what_approving_would_do_now() {
    let managed_would = |default: &str, offending_exists: bool| {
        restore_managed(&managed(
            Some(default),
            Some(QUARANTINED),
            offending_exists.then_some(ORIGINAL),
        ))
        .approve_would()
    };
    assert_eq!(
        managed_would("v2", true),
        format!(
            "Approve will make version v1 of {POLICY} the default again, then delete the \
             quarantine version v2."
        )
    );
    assert_eq!(
        managed_would("v2", false),
        format!(
            "Approve will restore nothing: version v1 of {POLICY}, which approving would make the \
             default again, was deleted after the quarantine; the quarantine version v2 stays the \
             default. Deny keeps the quarantine as it is."
        )
    );
    assert!(
        managed_would("v3", true).starts_with("Approve will restore nothing: the default version")
    );
    let inline_gone = restore_inline(&InlineRestoreNow {
        principal: role(),
        policy_name: "cleanup".into(),
        original: ORIGINAL.into(),
        quarantined: Some(QUARANTINED.into()),
        current: None,
        principal_exists: true,
        other_documents: Vec::new(),
    });
    assert_eq!(
        inline_gone.approve_would(),
        "Approve will restore nothing: inline policy cleanup of role data-pipeline no longer \
         exists (it, or its role, was deleted after the quarantine). Deny keeps the quarantine \
         as it is."
    );
}
