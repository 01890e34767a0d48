//! Customer managed policies: analyse, quarantine as a new default version, restore.

use incident::{QuarantineAction, RestoreStatus};
use remediation::handlers::analyse::handle as analyse_change;
use remediation::handlers::restore::restore;

use crate::support::*;

async fn default_document(moto: &Moto, arn: &str) -> (String, String) {
    moto.iam()
        .default_version(arn)
        .await
        .unwrap()
        .expect("the policy exists")
}

/// The walkthrough's bad policy (create-policy.json) created in IAM as its event says: moto,
/// the policy's ARN and its original document.
async fn walkthrough_policy() -> (Moto, String, String) {
    let moto = Moto::start();
    let original = document_of(&event("create-policy.json"));
    let arn =
        create_managed_policy(&moto.iam_client(), "my-bad-policy-aws-5-mins", &original).await;
    (moto, arn, original)
}

/// The walkthrough's assessment: alice's CreatePolicy, restricted.
fn walkthrough_incident() -> incident::Assessment {
    assessment_for(change_of(&event("create-policy.json")))
}

#[tokio::test]
async fn a_new_policy_granting_a_restricted_action_is_found_restricted() {
    // GIVEN the walkthrough's CreatePolicy event
    let moto = Moto::start();
    let deps = analyse_deps(moto.iam(), moto.documents());
    // WHEN it is analysed
    let output = analyse_change(event("create-policy.json"), &deps)
        .await
        .unwrap();
    // THEN the restricted grant is found in statement 0, and the document is kept
    let analysed = restricted_analysis(&output.incident);
    assert_eq!(analysed.findings[0].hits[0].restricted, "s3:DeleteBucket");
    assert_eq!(
        stored(&moto, &analysed.document).await,
        json(&document_of(&event("create-policy.json")))
    );
}

#[tokio::test]
async fn a_default_version_set_later_is_read_from_iam() {
    // GIVEN team-s3-access whose v2 grants s3:* and an event making v2 the default
    let moto = Moto::start();
    let iam = moto.iam_client();
    let arn = create_managed_policy(&iam, "team-s3-access", CLEAN_DOCUMENT).await;
    let bad = document_of(&event("create-policy-version-default.json"));
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(&bad)
        .send()
        .await
        .unwrap();
    let deps = analyse_deps(moto.iam(), moto.documents());
    // WHEN the SetDefaultPolicyVersion event is analysed
    let output = analyse_change(event("set-default-policy-version.json"), &deps)
        .await
        .unwrap();
    // THEN the document came from IAM's v2
    let analysed = restricted_analysis(&output.incident);
    assert_eq!(analysed.version_id.as_deref(), Some("v2"));
}

#[tokio::test]
async fn quarantine_makes_a_clean_default_version_and_keeps_the_original_version() {
    // GIVEN the bad policy exists in IAM, as the event says
    let (moto, arn, original) = walkthrough_policy().await;
    let incident = walkthrough_incident();
    // WHEN it is quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN a new default version grants nothing restricted but keeps the other actions
    let applied = applied(&record);
    let (default_id, quarantined) = default_document(&moto, &arn).await;
    assert_eq!(default_id, "v2");
    assert!(!grants_restricted(&quarantined));
    assert!(quarantined.contains("s3:GetBucketObjectLockConfiguration"));
    // AND the original is still v1, and in the record
    let v1 = moto
        .iam()
        .version_document(&arn, "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(json(&v1), json(&original));
    assert_eq!(
        stored(&moto, &applied.original_document).await,
        json(&original)
    );
    assert!(
        matches!(applied.action, QuarantineAction::NewDefaultVersion { ref offending_version_id, .. } if offending_version_id == "v1")
    );
}

#[tokio::test]
async fn approval_restores_the_original_version_and_deletes_the_quarantine_version() {
    // GIVEN a quarantined managed policy
    let (moto, arn, original) = walkthrough_policy().await;
    let incident = walkthrough_incident();
    let record = quarantined(&moto, &incident).await;
    // WHEN it is restored
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN v1 is the default again and the quarantine version is gone
    assert_eq!(restored.status, RestoreStatus::Restored);
    let (default_id, document) = default_document(&moto, &arn).await;
    assert_eq!(
        (default_id.as_str(), json(&document)),
        ("v1", json(&original))
    );
    let versions = moto.iam().versions(&arn).await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.version_id.as_str())
            .collect::<Vec<_>>(),
        ["v1"]
    );
}

#[tokio::test]
async fn at_the_five_version_limit_the_oldest_spare_version_is_deleted_and_recorded() {
    // GIVEN a policy with five versions, the newest (v5) the offending default
    let moto = Moto::start();
    let iam = moto.iam_client();
    let arn = create_managed_policy(&iam, "my-bad-policy-aws-5-mins", CLEAN_DOCUMENT).await;
    for _ in 2..=4 {
        iam.create_policy_version()
            .policy_arn(&arn)
            .policy_document(CLEAN_DOCUMENT)
            .send()
            .await
            .unwrap();
    }
    let bad = document_of(&event("create-policy.json"));
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(&bad)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let incident = assessment_for(change_of(&event("create-policy.json")));
    // WHEN it is quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN v1 (oldest, not default, not offending) made room, and its document is in the record
    let QuarantineAction::NewDefaultVersion {
        offending_version_id,
        quarantine_version_id,
        deleted_version,
        ..
    } = applied(&record).action.clone()
    else {
        panic!("expected a new default version, got {record:?}");
    };
    assert_eq!(offending_version_id, "v5");
    let deleted = deleted_version.expect("a version was deleted");
    assert_eq!(deleted.version_id, "v1");
    assert_eq!(stored(&moto, &deleted.document).await, json(CLEAN_DOCUMENT));
    let ids: Vec<_> = moto
        .iam()
        .versions(&arn)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version_id)
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids.contains(&"v5".to_owned())
            && ids.contains(&quarantine_version_id)
            && !ids.contains(&"v1".to_owned())
    );
}

#[tokio::test]
async fn a_newer_clean_version_means_no_quarantine() {
    // GIVEN the bad policy was replaced by a clean default version after the event
    let moto = Moto::start();
    let arn = with_a_clean_default(&moto, &document_of(&event("create-policy.json"))).await;
    let incident = assessment_for(change_of(&event("create-policy.json")));
    // WHEN the incident reaches the quarantine step
    let record = quarantined(&moto, &incident).await;
    // THEN nothing is written: the newer change stands
    not_needed_reason(&record);
    assert_eq!(default_document(&moto, &arn).await.0, "v2");
}

#[tokio::test]
async fn a_newer_restricted_version_is_what_gets_quarantined() {
    // GIVEN a newer default version (v2) that grants a different restricted action
    let moto = Moto::start();
    let iam = moto.iam_client();
    let arn = create_managed_policy(
        &iam,
        "my-bad-policy-aws-5-mins",
        &document_of(&event("create-policy.json")),
    )
    .await;
    let newer = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:DeleteObject","s3:GetObject"],"Resource":"*"}]}"#;
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(newer)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let incident = assessment_for(change_of(&event("create-policy.json")));
    // WHEN quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN the current state (v2) was analysed and is the original kept
    assert_eq!(
        stored(&moto, &applied(&record).original_document).await,
        json(newer)
    );
    let (default_id, quarantined) = default_document(&moto, &arn).await;
    assert_eq!(default_id, "v3");
    assert_eq!(
        json(&quarantined)["Statement"][0]["Action"],
        serde_json::json!(["s3:GetObject"])
    );
}

#[tokio::test]
async fn a_deleted_policy_needs_no_quarantine() {
    // GIVEN the event's policy no longer exists
    let moto = Moto::start();
    let incident = assessment_for(change_of(&event("create-policy.json")));
    // WHEN quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN there is nothing to do, and the record says why
    assert!(not_needed_reason(&record).contains("no longer exists"));
}

#[tokio::test]
async fn restore_leaves_a_change_made_after_the_quarantine_alone() {
    // GIVEN a quarantined policy that someone changed again afterwards (new default v3)
    let (moto, arn, _) = walkthrough_policy().await;
    let record = quarantined(&moto, &walkthrough_incident()).await;
    make_a_clean_default(&moto, &arn).await;
    // WHEN approval tries to restore
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN the newer change stays, and the record explains
    assert_eq!(restored.status, RestoreStatus::Skipped);
    assert_eq!(default_document(&moto, &arn).await.0, "v3");
}

#[tokio::test]
async fn a_quarantine_retried_after_it_worked_reports_the_same_quarantine() {
    // GIVEN the quarantine worked, but its answer never reached Step Functions
    let (moto, arn, original) = walkthrough_policy().await;
    let incident = walkthrough_incident();
    let first = quarantined(&moto, &incident).await;
    // WHEN the step is retried
    let retried = quarantined(&moto, &incident).await;
    // THEN it reports the quarantine in place (so approval is still asked), and adds nothing
    assert_eq!(applied(&retried).action, applied(&first).action);
    assert_eq!(
        stored(&moto, &applied(&retried).original_document).await,
        json(&original)
    );
    assert_eq!(moto.iam().versions(&arn).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_restore_retried_after_it_worked_reports_restored() {
    // GIVEN the restore worked, but its answer never reached Step Functions
    let (moto, arn, _) = walkthrough_policy().await;
    let incident = walkthrough_incident();
    let record = quarantined(&moto, &incident).await;
    restored(&moto, &record).await;
    // WHEN the step is retried
    let retried = restored(&moto, &record).await;
    // THEN it reports the original restored (not skipped), and v1 alone is left
    assert_eq!(retried.status, RestoreStatus::Restored, "{retried:?}");
    assert_eq!(default_document(&moto, &arn).await.0, "v1");
    assert_eq!(moto.iam().versions(&arn).await.unwrap().len(), 1);
}

#[tokio::test]
async fn restore_reports_a_deleted_offending_version_as_gone() {
    // GIVEN a quarantined policy whose offending version v1 was deleted while the approval waited
    let (moto, arn, _) = walkthrough_policy().await;
    let record = quarantined(&moto, &walkthrough_incident()).await;
    delete_version(&moto, &arn, "v1").await;
    // WHEN approval tries to restore
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN nothing is restored, the quarantine version stays the default, the record says why
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
    assert!(restored.detail.contains("v1"), "{}", restored.detail);
    assert!(
        restored.detail.contains("was deleted"),
        "{}",
        restored.detail
    );
    assert_eq!(default_document(&moto, &arn).await.0, "v2");
}

#[tokio::test]
async fn restore_reports_a_deleted_policy_as_gone() {
    // GIVEN a quarantined policy deleted (with its versions) while the approval waited
    let (moto, arn, _) = walkthrough_policy().await;
    let record = quarantined(&moto, &walkthrough_incident()).await;
    delete_quarantined_policy(&moto, &arn).await;
    // WHEN approval tries to restore
    // THEN nothing is restored or re-created, and the record says it no longer exists
    nothing_restored(&moto, record, "no longer exists").await;
}

#[tokio::test]
async fn restore_never_makes_the_default_a_version_that_holds_another_document() {
    // GIVEN a quarantined policy its author then deleted and created again under its ARN, as
    // versions with the same ids: v1 now allows every action, v2 is a harmless default
    let (moto, arn, _) = walkthrough_policy().await;
    let record = quarantined(&moto, &walkthrough_incident()).await;
    delete_quarantined_policy(&moto, &arn).await;
    let every_action =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    assert_eq!(with_a_clean_default(&moto, every_action).await, arn);
    assert_eq!(default_document(&moto, &arn).await.0, "v2");
    // WHEN approval tries to restore
    // THEN v1 is not made the default: it is not the document approved, and the record says so
    nothing_restored(&moto, record, "created again").await;
    let (default_id, document) = default_document(&moto, &arn).await;
    assert_eq!(
        (default_id.as_str(), json(&document)),
        ("v2", json(CLEAN_DOCUMENT))
    );
}

/// The walkthrough's policy created with `first` as v1, then a clean v2 made the default: its
/// ARN.
async fn with_a_clean_default(moto: &Moto, first: &str) -> String {
    let arn = create_managed_policy(&moto.iam_client(), "my-bad-policy-aws-5-mins", first).await;
    make_a_clean_default(moto, &arn).await;
    arn
}

/// A new version of `arn`, clean, made the default.
async fn make_a_clean_default(moto: &Moto, arn: &str) {
    moto.iam_client()
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(CLEAN_DOCUMENT)
        .set_as_default(true)
        .send()
        .await
        .expect("CreatePolicyVersion");
}

/// Deletes the quarantined policy: its offending version v1 first (IAM deletes a policy only
/// once its default is its one version), then the policy.
async fn delete_quarantined_policy(moto: &Moto, arn: &str) {
    delete_version(moto, arn, "v1").await;
    moto.iam_client()
        .delete_policy()
        .policy_arn(arn)
        .send()
        .await
        .expect("DeletePolicy");
}

/// Approval tries to restore `record`: nothing is restored (`gone`), for the reason `why`.
async fn nothing_restored(moto: &Moto, record: incident::QuarantineRecord, why: &str) {
    let restored = restore(record, &restore_deps(moto)).await.unwrap().record;
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
    assert!(restored.detail.contains(why), "{}", restored.detail);
}

async fn delete_version(moto: &Moto, arn: &str, version_id: &str) {
    moto.iam_client()
        .delete_policy_version()
        .policy_arn(arn)
        .version_id(version_id)
        .send()
        .await
        .expect("DeletePolicyVersion");
}
