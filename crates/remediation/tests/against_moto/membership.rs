//! Group memberships (AddUserToGroup) and trust policies (CreateRole, UpdateAssumeRolePolicy):
//! a membership that adds a restricted grant is held back (RemoveUserFromGroup) and given back
//! on approval (AddUserToGroup), only while the group grants what was approved; a trust policy
//! is reported.

use incident::membership::group_document;
use incident::{PrincipalKind, QuarantineAction, RestoreStatus, Verdict};
use remediation::handlers::analyse::{AnalyseOutput, handle as analyse_change};
use remediation::handlers::quarantine::quarantine;
use remediation::handlers::restore::restore;
use remediation::principals::group_policies;

use crate::support::*;

/// The groups IAM lists for `user`, straight through the SDK.
async fn groups_of(moto: &Moto, user: &str) -> Vec<String> {
    moto.iam_client()
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .expect("ListGroupsForUser")
        .groups()
        .iter()
        .map(|g| g.group_name().to_owned())
        .collect()
}

/// carol (no policy of her own) and the group admins, whose inline policy `admins-all` is
/// `document`; carol is in admins when `member`.
async fn carol_and_admins(moto: &Moto, document: &str, member: bool) {
    let iam = moto.iam_client();
    create_principal(&iam, &principal(PrincipalKind::User, "carol")).await;
    let admins = principal(PrincipalKind::Group, "admins");
    create_principal(&iam, &admins).await;
    put_inline_policy(&iam, &admins, "admins-all", document).await;
    if member {
        add_to_group(&moto.iam_client(), "carol", "admins").await;
    }
}

/// Analyse's output for add-user-to-group.json (alice adds carol to admins), against moto.
async fn membership_analysed(moto: &Moto) -> AnalyseOutput {
    analyse_change(
        event("add-user-to-group.json"),
        &analyse_deps(moto.iam(), moto.documents()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_membership_that_adds_a_restricted_grant_is_held_back_and_given_back_on_approval() {
    // GIVEN alice added carol (who can do nothing) to admins, which grants everything
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("administrator-access.json"), true).await;
    // WHEN the event is analysed
    let output = membership_analysed(&moto).await;
    // THEN it is restricted: the membership adds both restricted patterns, and the group's
    // policies are kept as the document analysed
    let analysed = restricted_analysis(&output.incident);
    let patterns: Vec<&str> = analysed
        .group_grants
        .iter()
        .map(|g| g.pattern.as_str())
        .collect();
    assert_eq!(patterns, ["s3:DeleteBucket", "s3:DeleteObject"]);
    assert!(analysed.findings.is_empty());
    let group = group_policies(&moto.iam(), "admins")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored(&moto, &analysed.document).await,
        json(&group_document("admins", &group))
    );
    // WHEN it is quarantined
    let record = quarantined(&moto, &output.incident).await;
    // THEN carol is out of admins, and only that: the group keeps its policy
    assert_eq!(
        applied(&record).action,
        QuarantineAction::RemovedFromGroup {
            user: "carol".into(),
            group: "admins".into()
        }
    );
    assert!(groups_of(&moto, "carol").await.is_empty());
    assert!(
        group_policies(&moto.iam(), "admins")
            .await
            .unwrap()
            .unwrap()
            .len()
            == 1
    );
    // WHEN approval restores it
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN carol is in admins again
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    assert_eq!(groups_of(&moto, "carol").await, ["admins"]);
}

#[tokio::test]
async fn a_membership_of_a_group_that_grants_nothing_restricted_is_clean() {
    // GIVEN carol added to admins, which only reads the reports bucket
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("read-only-reports-bucket.json"), true).await;
    // WHEN the event is analysed
    let output = membership_analysed(&moto).await;
    // THEN it is clean, and carol stays in the group
    let analysed = clean_analysis(&output.incident);
    assert!(analysed.group_grants.is_empty());
    assert_eq!(groups_of(&moto, "carol").await, ["admins"]);
}

#[tokio::test]
async fn approval_does_not_add_the_user_back_to_a_group_whose_policies_changed() {
    // GIVEN carol's membership of admins held back
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("administrator-access.json"), true).await;
    let output = membership_analysed(&moto).await;
    let record = quarantined(&moto, &output.incident).await;
    // AND someone put another policy into admins while the approval waited
    put_inline_policy(
        &moto.iam_client(),
        &principal(PrincipalKind::Group, "admins"),
        "more",
        &policy("s3-delete-wildcard.json"),
    )
    .await;
    // WHEN approval restores it
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN nothing is restored: the group grants what nobody approved; carol stays out
    assert_eq!(restored.status, RestoreStatus::Skipped, "{restored:?}");
    assert!(groups_of(&moto, "carol").await.is_empty());
}

#[tokio::test]
async fn the_page_says_the_user_stays_out_once_her_groups_fill_its_quota() {
    // GIVEN carol's membership of admins held back
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("administrator-access.json"), true).await;
    let output = membership_analysed(&moto).await;
    let record = quarantined(&moto, &output.incident).await;
    // AND, while the approval waited, she joined ten other groups: as many as the account
    // summary says a user may be in (GroupsPerUserQuota; moto, unlike IAM, would add her)
    let iam = moto.iam_client();
    for n in 0..10 {
        let group = format!("team-{n}");
        create_principal(&iam, &principal(PrincipalKind::Group, &group)).await;
        add_to_group(&iam, "carol", &group).await;
    }
    // WHEN the approval page asks what approving would do THEN nothing, and why: IAM would
    // refuse the membership
    let forecast = forecast_skipped(&moto, record).await;
    assert!(
        forecast
            .record
            .detail
            .starts_with("user carol is in 10 groups now, and the account's quota is 10"),
        "{}",
        forecast.record.detail
    );
}

#[tokio::test]
async fn approval_does_not_add_the_user_to_a_group_deleted_and_created_again_under_its_name() {
    // GIVEN carol's membership of admins held back
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("administrator-access.json"), true).await;
    let output = membership_analysed(&moto).await;
    let record = quarantined(&moto, &output.incident).await;
    // AND admins deleted, and created again with the same policy, while the approval waited
    let iam = moto.iam_client();
    let admins = principal(PrincipalKind::Group, "admins");
    delete_inline_policy(
        &iam,
        &principal(PrincipalKind::Group, "admins"),
        "admins-all",
    )
    .await;
    delete_principal(&iam, &admins).await;
    create_principal(&iam, &admins).await;
    put_inline_policy(
        &iam,
        &admins,
        "admins-all",
        &policy("administrator-access.json"),
    )
    .await;
    // WHEN approval restores it
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN carol stays out: the approval was for the group she was taken out of
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
    assert!(
        restored
            .detail
            .starts_with("group admins was deleted and created again after the quarantine"),
        "{}",
        restored.detail
    );
    assert!(groups_of(&moto, "carol").await.is_empty());
}

#[tokio::test]
async fn a_group_removal_whose_answer_was_lost_is_reported_applied_by_the_retry() {
    // GIVEN carol taken out of admins by the quarantine step, whose answer was then lost
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("administrator-access.json"), true).await;
    let output = membership_analysed(&moto).await;
    let first = quarantined(&moto, &output.incident).await;
    assert!(groups_of(&moto, "carol").await.is_empty());
    // WHEN Step Functions retries the step
    let retried = quarantined(&moto, &output.incident).await;
    // THEN the retry reports the removal it recorded before making it, and leaves IAM alone
    assert_eq!(retried, first);
    assert!(groups_of(&moto, "carol").await.is_empty());
    // AND another incident about the same membership, which recorded nothing, is superseded
    let other = quarantine("another-incident", output.incident, &quarantine_deps(&moto))
        .await
        .unwrap();
    let reason = not_needed_reason(&other);
    assert!(reason.contains("no longer in group admins"), "{reason}");
}

#[tokio::test]
async fn an_event_naming_a_user_who_is_not_in_the_group_removes_and_adds_nobody() {
    // GIVEN an AddUserToGroup event (made up, or undone since) for carol and admins, which
    // grants everything, while IAM has carol outside admins
    let moto = Moto::start();
    carol_and_admins(&moto, &policy("administrator-access.json"), false).await;
    let output = membership_analysed(&moto).await;
    // WHEN it reaches the quarantine step (the event is days old: IAM is not lagging)
    let record = quarantined(&moto, &output.incident).await;
    // THEN nothing is quarantined, so there is nothing to approve or restore; carol is still out
    let reason = not_needed_reason(&record);
    assert!(reason.contains("no longer in group admins"), "{reason}");
    assert!(groups_of(&moto, "carol").await.is_empty());
}

#[tokio::test]
async fn a_trust_policy_change_is_reported_with_who_may_assume_the_role() {
    // GIVEN UpdateAssumeRolePolicy of data-pipeline (another account among its principals), and
    // CreateRole of partner-access whose event lacks its document (read from IAM)
    let moto = Moto::start();
    let mut created = event("create-role.json");
    let document = created["detail"]["requestParameters"]["assumeRolePolicyDocument"].take();
    moto.iam_client()
        .create_role()
        .role_name("partner-access")
        .assume_role_policy_document(document.as_str().unwrap())
        .send()
        .await
        .expect("CreateRole");
    let updated = event("update-assume-role-policy.json");
    let update_document = document_of(&updated);
    let cases = [
        (updated, "444455556666", json(&update_document)),
        (created, "anyone", json(document.as_str().unwrap())),
    ];
    for (event, warned, trust_policy) in cases {
        // WHEN it is analysed
        let output = analyse_change(event, &analyse_deps(moto.iam(), moto.documents()))
            .await
            .unwrap();
        // THEN it is reported, never restricted, with the warning
        let Verdict::TrustReported(report) = &output.incident.verdict else {
            panic!("expected a trust report, got {:?}", output.incident.verdict);
        };
        assert!(
            report.warnings.iter().any(|w| w.contains(warned)),
            "{report:?}"
        );
        // AND the trust policy kept is the event's, or IAM's when the event has none
        assert_eq!(stored(&moto, &report.document).await, trust_policy);
    }
}
