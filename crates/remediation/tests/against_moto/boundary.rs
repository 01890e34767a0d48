//! Permissions boundaries against moto: Analyse compares the role as IAM holds it with the
//! boundary the ledger saw in force before the change; Quarantine puts that boundary (or the
//! stack's quarantine boundary) back and records it; Restore puts the change back on approval
//! and records that. The role is `data-pipeline` with the inline policy of
//! `put-role-policy.json` (`s3:Delete*` on its staging bucket).
//!
//! moto 5.2.5 implements boundaries for roles only (no Put/DeleteUserPermissionsBoundary, and
//! GetUser shows none), so users' boundaries are read and decided as roles' are but not
//! exercised here.

use incident::decision_log::{boundary_key, canonical_digest};
use incident::quarantine::Intended;
use incident::{Assessment, PrincipalKind, QuarantineAction, RestoreStatus, Verdict};
use remediation::handlers::analyse::{AnalyseDeps, handle as analyse_change};
use remediation::handlers::quarantine::quarantine;
use remediation::handlers::restore::{RestoreDeps, restore};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::*;

const ROLE: &str = "data-pipeline";

fn arn(name: &str) -> String {
    format!("arn:aws:iam::123456789012:policy/{name}")
}

/// The role with its inline policy and `boundary` (a fixture policy's name) in force, each
/// boundary policy named in `policies` created, and the stack's quarantine boundary.
async fn pipeline(moto: &Moto, boundary: Option<&str>, policies: &[&str]) {
    let iam = moto.iam_client();
    let role = principal(PrincipalKind::Role, ROLE);
    create_principal(&iam, &role).await;
    put_inline_policy(
        &iam,
        &role,
        "pipeline-s3-access",
        &document_of(&event("put-role-policy.json")),
    )
    .await;
    for name in policies {
        create_managed_policy(&iam, name, &policy(&format!("{name}.json"))).await;
    }
    // The stack's own, as the template creates it for the restricted actions.
    create_managed_policy(
        &iam,
        "iam-sentinel-quarantine-boundary",
        &policy("quarantine-boundary.json"),
    )
    .await;
    if let Some(boundary) = boundary {
        set_boundary(moto, Some(boundary)).await;
    }
}

/// Someone's boundary change, straight through the SDK.
async fn set_boundary(moto: &Moto, boundary: Option<&str>) {
    let iam = moto.iam_client();
    match boundary {
        Some(name) => drop(
            iam.put_role_permissions_boundary()
                .role_name(ROLE)
                .permissions_boundary(arn(name))
                .send()
                .await
                .expect("PutRolePermissionsBoundary"),
        ),
        None => drop(
            iam.delete_role_permissions_boundary()
                .role_name(ROLE)
                .send()
                .await
                .expect("DeleteRolePermissionsBoundary"),
        ),
    }
}

/// data-pipeline as IAM holds it now.
async fn the_role(moto: &Moto) -> aws_sdk_iam::types::Role {
    let read = moto
        .iam_client()
        .get_role()
        .role_name(ROLE)
        .send()
        .await
        .expect("GetRole");
    read.role().expect("the role").clone()
}

async fn boundary_now(moto: &Moto) -> Option<String> {
    the_role(moto)
        .await
        .permissions_boundary()
        .and_then(|b| b.permissions_boundary_arn())
        .map(str::to_owned)
}

/// The ledger has seen `boundary` (a fixture policy's name; `None`: none) on the role a second
/// after IAM created it, with the digest of the fixture's document, as a sweep would have; and
/// the change comes later. IAM's creation times are whole seconds, and the ledger counts only
/// what it saw strictly after the role's creation and before the change.
async fn ledger_saw(moto: &Moto, boundary: Option<&str>) {
    let seen_at = role_created(moto).await + time::Duration::seconds(1);
    ledger_saw_at(moto, boundary, seen_at).await;
    // Tokio sleeps on the monotonic clock, which may drift from the wall clock while NTP slews
    // it: look again after each sleep.
    let change_from = seen_at + time::Duration::seconds(1);
    loop {
        let wait = change_from - OffsetDateTime::now_utc();
        if !wait.is_positive() {
            return;
        }
        tokio::time::sleep(wait.unsigned_abs() + std::time::Duration::from_millis(10)).await;
    }
}

async fn ledger_saw_at(moto: &Moto, boundary: Option<&str>, seen_at: OffsetDateTime) {
    let digest = boundary.and_then(digest_of);
    moto.decisions()
        .put_boundary(
            &ledger_key(),
            boundary.map(arn).as_deref(),
            digest.as_deref(),
            "sweep",
            seen_at,
        )
        .await
        .expect("the ledger");
}

async fn role_created(moto: &Moto) -> OffsetDateTime {
    let created = the_role(moto).await.create_date().secs();
    OffsetDateTime::from_unix_timestamp(created).expect("a time")
}

fn digest_of(name: &str) -> Option<String> {
    canonical_digest(&policy(&format!("{name}.json")))
}

fn ledger_key() -> String {
    boundary_key(PrincipalKind::Role, ROLE)
}

/// What the ledger says is in force now: the boundary's ARN (`None`: none) and the digest of
/// its document.
async fn ledger_says(moto: &Moto) -> (Option<String>, Option<String>) {
    let seen = moto
        .decisions()
        .boundary_seen(&ledger_key())
        .await
        .expect("the ledger")
        .expect("an entry");
    (seen.boundary_arn, seen.document_digest)
}

/// The event `name`, made now (as if it had just arrived).
fn made_now(name: &str) -> Value {
    let mut event = event(name);
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    event["time"] = Value::from(now.clone());
    event["detail"]["eventTime"] = Value::from(now);
    event
}

fn analyse(moto: &Moto) -> AnalyseDeps {
    AnalyseDeps {
        decisions: moto.decisions(),
        ..analyse_deps(moto.iam(), moto.documents())
    }
}

fn restore_with(moto: &Moto) -> RestoreDeps {
    RestoreDeps {
        decisions: moto.decisions(),
        ..restore_deps(moto)
    }
}

async fn analysed(moto: &Moto, event: Value) -> Assessment {
    analyse_change(event, &analyse(moto))
        .await
        .expect("Analyse")
        .incident
}

fn added(assessment: &Assessment) -> Vec<String> {
    let analysed = assessment.analysed().expect("analysed");
    let boundary = analysed.boundary.as_ref().expect("a boundary change");
    boundary.added.iter().map(|a| a.pattern.clone()).collect()
}

/// The deletion of pipeline-boundary, assessed against an unknown previous boundary: restricted
/// (the inline policy's deletions are in force again), and quarantined with the stack's
/// quarantine boundary.
async fn assert_held_by_the_quarantine_boundary(moto: &Moto, incident: &Assessment) {
    assert!(
        matches!(incident.verdict, Verdict::Restricted(_)),
        "{incident:?}"
    );
    assert_eq!(added(incident), ["s3:DeleteBucket", "s3:DeleteObject"]);
    let analysed = incident.analysed().expect("analysed");
    assert_eq!(analysed.boundary.as_ref().unwrap().previous, None);
    quarantined(moto, incident).await;
    assert_eq!(
        boundary_now(moto).await,
        Some(arn("iam-sentinel-quarantine-boundary"))
    );
}

#[tokio::test]
async fn a_deleted_boundary_is_put_back_and_deleted_again_on_approval() {
    // GIVEN data-pipeline held back by pipeline-boundary, as the ledger saw, and then deleted
    let moto = Moto::start();
    pipeline(&moto, Some("pipeline-boundary"), &["pipeline-boundary"]).await;
    ledger_saw(&moto, Some("pipeline-boundary")).await;
    set_boundary(&moto, None).await;
    // WHEN the deletion is analysed
    let incident = analysed(&moto, made_now("delete-role-permissions-boundary.json")).await;
    // THEN it is restricted: the inline policy's deletions are in force again
    assert!(matches!(incident.verdict, Verdict::Restricted(_)));
    assert_eq!(added(&incident), ["s3:DeleteBucket", "s3:DeleteObject"]);
    // WHEN it is quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN the previous boundary is back, and the ledger says so
    assert_eq!(
        applied(&record).action,
        QuarantineAction::BoundaryPutBack {
            principal: principal(PrincipalKind::Role, ROLE),
            previous_boundary_arn: arn("pipeline-boundary"),
            changed_to: None,
        }
    );
    assert_eq!(boundary_now(&moto).await, Some(arn("pipeline-boundary")));
    assert_eq!(
        ledger_says(&moto).await,
        (
            Some(arn("pipeline-boundary")),
            digest_of("pipeline-boundary")
        )
    );
    // AND the record keeps what was put back
    assert_eq!(
        stored(
            &moto,
            applied(&record).quarantined_document.as_ref().unwrap()
        )
        .await,
        json(&policy("pipeline-boundary.json"))
    );
    // AND the put-back was recorded first with the role's id, which a retry's record names
    let intent = (moto.decisions().intent(INCIDENT).await.unwrap()).expect("the put-back recorded");
    assert_eq!(intent.intended, Intended::Rewrite);
    assert_eq!(
        Some(applied(&record).principal_ids.clone()),
        intent.principal_ids
    );
    // WHEN approval restores it
    let restored = restore(record, &restore_with(&moto)).await.unwrap().record;
    // THEN the boundary is deleted again, as the change did, and the ledger says none
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    assert_eq!(boundary_now(&moto).await, None);
    assert_eq!(ledger_says(&moto).await, (None, None));
}

#[tokio::test]
async fn a_boundary_whose_document_changed_since_the_ledger_saw_it_is_not_the_previous_one() {
    // GIVEN data-pipeline held back by pipeline-boundary, as the ledger saw it; then, staged
    // back to back, pipeline-boundary gets a new default version that allows all of S3 and the
    // boundary is deleted
    let moto = Moto::start();
    pipeline(&moto, Some("pipeline-boundary"), &["pipeline-boundary"]).await;
    ledger_saw(&moto, Some("pipeline-boundary")).await;
    moto.iam_client()
        .create_policy_version()
        .policy_arn(arn("pipeline-boundary"))
        .policy_document(policy("pipeline-boundary-wide.json"))
        .set_as_default(true)
        .send()
        .await
        .expect("CreatePolicyVersion");
    set_boundary(&moto, None).await;
    // WHEN the deletion is analysed
    let incident = analysed(&moto, made_now("delete-role-permissions-boundary.json")).await;
    // THEN the wide document is not taken for the boundary that was in force (under it the
    // deletion would add nothing): the previous boundary is unknown, the deletion restricted,
    // and the quarantine holds the role with the stack's quarantine boundary, not the widened one
    assert_held_by_the_quarantine_boundary(&moto, &incident).await;
}

#[tokio::test]
async fn what_the_ledger_saw_on_an_earlier_role_of_the_same_name_is_not_the_previous_boundary() {
    // GIVEN the ledger saw no boundary on a data-pipeline role an hour ago; that role was
    // deleted, and data-pipeline created again, held back by pipeline-boundary (CreateRole is
    // not watched); then someone deletes the new role's boundary
    let moto = Moto::start();
    let hour_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    ledger_saw_at(&moto, None, hour_ago).await;
    pipeline(&moto, Some("pipeline-boundary"), &["pipeline-boundary"]).await;
    set_boundary(&moto, None).await;
    // WHEN the deletion is analysed
    let incident = analysed(&moto, made_now("delete-role-permissions-boundary.json")).await;
    // THEN the earlier role's entry is not the boundary before the change (read as none, the
    // deletion would add nothing): the previous boundary is unknown, the deletion restricted,
    // and the quarantine holds the role with the stack's quarantine boundary
    assert_held_by_the_quarantine_boundary(&moto, &incident).await;
}

#[tokio::test]
async fn a_widening_put_with_no_known_previous_boundary_is_held_by_the_quarantine_boundary() {
    // GIVEN the ledger has never seen data-pipeline, and someone gives it a boundary that
    // allows everything
    let moto = Moto::start();
    pipeline(&moto, None, &["administrator-access"]).await;
    set_boundary(&moto, Some("administrator-access")).await;
    let mut event = made_now("put-role-permissions-boundary.json");
    event["detail"]["requestParameters"]["permissionsBoundary"] =
        Value::from(arn("administrator-access"));
    // WHEN it is analysed and quarantined
    let incident = analysed(&moto, event).await;
    assert!(matches!(incident.verdict, Verdict::Restricted(_)));
    let record = quarantined(&moto, &incident).await;
    // THEN the quarantine boundary holds it (fail closed: nothing restricted, all else allowed)
    assert_eq!(
        boundary_now(&moto).await,
        Some(arn("iam-sentinel-quarantine-boundary"))
    );
    // AND approval puts the changed-to boundary back
    let restored = restore(record, &restore_with(&moto)).await.unwrap().record;
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    assert_eq!(boundary_now(&moto).await, Some(arn("administrator-access")));
    assert_eq!(
        ledger_says(&moto).await,
        (
            Some(arn("administrator-access")),
            digest_of("administrator-access")
        )
    );
}

#[tokio::test]
async fn the_quarantine_boundary_never_replaces_a_narrower_boundary() {
    // GIVEN the ledger has never seen data-pipeline, and someone gives it a boundary that
    // allows S3 only (its deletions included)
    let moto = Moto::start();
    pipeline(&moto, None, &["pipeline-boundary-wide"]).await;
    set_boundary(&moto, Some("pipeline-boundary-wide")).await;
    let incident = analysed(&moto, made_now("put-role-permissions-boundary.json")).await;
    assert!(matches!(incident.verdict, Verdict::Restricted(_)));
    // WHEN it is quarantined
    let refused = quarantine(INCIDENT, incident, &quarantine_deps(&moto))
        .await
        .unwrap_err();
    // THEN the quarantine boundary, which would let the role use every other service (iam:*
    // included), is not put back: the step fails closed (PolicyConflict: notified), IAM as it was
    assert_eq!(refused.error_type(), "PolicyConflict", "{refused}");
    assert_eq!(
        boundary_now(&moto).await,
        Some(arn("pipeline-boundary-wide"))
    );
}

#[tokio::test]
async fn a_narrowing_put_is_clean_and_becomes_the_boundary_the_ledger_knows() {
    // GIVEN data-pipeline under the wide boundary, as the ledger saw, narrowed by someone
    let moto = Moto::start();
    pipeline(
        &moto,
        Some("pipeline-boundary-wide"),
        &["pipeline-boundary-wide", "pipeline-boundary"],
    )
    .await;
    ledger_saw(&moto, Some("pipeline-boundary-wide")).await;
    set_boundary(&moto, Some("pipeline-boundary")).await;
    let mut event = made_now("put-role-permissions-boundary.json");
    event["detail"]["requestParameters"]["permissionsBoundary"] =
        Value::from(arn("pipeline-boundary"));
    // WHEN it is analysed
    let incident = analysed(&moto, event).await;
    // THEN nothing is quarantined, and the ledger knows the narrow boundary
    assert!(
        matches!(incident.verdict, Verdict::Clean(_)),
        "{incident:?}"
    );
    assert!(added(&incident).is_empty());
    assert_eq!(
        ledger_says(&moto).await,
        (
            Some(arn("pipeline-boundary")),
            digest_of("pipeline-boundary")
        )
    );
}

#[tokio::test]
async fn a_boundary_changed_since_the_quarantine_is_not_restored_over() {
    // GIVEN a deletion quarantined (pipeline-boundary back), then someone sets the wide one
    let moto = Moto::start();
    pipeline(
        &moto,
        Some("pipeline-boundary"),
        &["pipeline-boundary", "pipeline-boundary-wide"],
    )
    .await;
    ledger_saw(&moto, Some("pipeline-boundary")).await;
    set_boundary(&moto, None).await;
    let incident = analysed(&moto, made_now("delete-role-permissions-boundary.json")).await;
    let record = quarantined(&moto, &incident).await;
    set_boundary(&moto, Some("pipeline-boundary-wide")).await;
    // WHEN approval comes
    let restored = restore(record, &restore_with(&moto)).await.unwrap().record;
    // THEN their change stands
    assert_eq!(restored.status, RestoreStatus::Skipped, "{restored:?}");
    assert_eq!(
        boundary_now(&moto).await,
        Some(arn("pipeline-boundary-wide"))
    );
}
