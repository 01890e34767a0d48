//! The decision record (DynamoDB in moto): a `deciding` claim is one conditional write, so two
//! sweeps at once claim a grant once (as in AWS, where each write is atomic), and an approved grant is never claimed; an incident's
//! record and its approved grant are written from what the execution's history proves, never
//! from what a caller says.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use incident::decision_log::{GrantKey, GrantStatus, IncidentRecord, canonical_digest};
use incident::quarantine::Intended;
use incident::{
    Decision, DocumentRef, Outcome, Principal, PrincipalId, PrincipalKind, RestoreStatus, Target,
    TargetKey,
};
use remediation::decisions::{Claim, DecisionTable, Intent};
use remediation::handlers::publish::{self, PublishInput};
use time::OffsetDateTime;

use crate::attacks::scene::*;
use crate::support::*;

const TWO_DAYS: Duration = Duration::from_secs(48 * 3600);

fn data_platform() -> Target {
    Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/DataPlatform".into(),
    }
}

fn grant() -> GrantKey {
    GrantKey::of(&data_platform(), &document_of(&event("create-policy.json"))).unwrap()
}

/// The incident record `name` holds now.
pub(crate) async fn incident_record(moto: &Moto, name: &str) -> IncidentRecord {
    let item = moto
        .decisions()
        .item(&format!("incident#{name}"))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no record of {name}"));
    serde_json::from_str(&item["record"]).unwrap()
}

#[tokio::test]
async fn claims_at_once_on_one_grant_make_one_claim() {
    // GIVEN a grant nobody holds
    let moto = Moto::start();
    let table = moto.decisions();
    let now = OffsetDateTime::now_utc();
    let (key, target) = (grant(), data_platform());
    // WHEN twelve sweeps claim it at the same moment (DynamoDB's writes are atomic; the harness's
    // moto is made so, which this attacks), for its principal created in that very second
    let sweeps: Vec<String> = (0..12).map(|n| format!("sweep-{n}-0")).collect();
    let created = Some(now);
    let claims = futures_util::future::join_all(
        sweeps
            .iter()
            .map(|sweep| table.claim(&key, &target, sweep, now, TWO_DAYS, created)),
    )
    .await;
    // THEN exactly one holds it, and the record names that one
    let claimed: Vec<&String> = sweeps
        .iter()
        .zip(&claims)
        .filter(|(_, claim)| *claim.as_ref().unwrap() == Claim::Claimed)
        .map(|(sweep, _)| sweep)
        .collect();
    assert_eq!(claimed.len(), 1, "{claims:?}");
    let grants = table.grants().await.unwrap();
    let record = &grants[&grant()];
    assert_eq!(record.status, GrantStatus::Deciding);
    assert_eq!(&record.incident, claimed[0]);
}

/// The grant recorded approved (by `approved-incident`) `at`.
async fn approved_at(table: &DecisionTable, at: OffsetDateTime) {
    table
        .record_approved(&grant(), &data_platform(), "approved-incident", at)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_approved_grant_is_never_claimed_and_a_stale_claim_is_taken_over() {
    let moto = Moto::start();
    let table = moto.decisions();
    let now = OffsetDateTime::now_utc();
    // GIVEN a claim made three days ago (its incident must have ended)
    let three_days_ago = now - time::Duration::days(3);
    assert_eq!(
        table
            .claim(
                &grant(),
                &data_platform(),
                "old-sweep",
                three_days_ago,
                TWO_DAYS,
                None
            )
            .await
            .unwrap(),
        Claim::Claimed
    );
    // WHEN a sweep claims it now THEN it takes it over
    assert_eq!(
        table
            .claim(&grant(), &data_platform(), "new-sweep", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Claimed
    );
    // AND a third, a moment later, finds it held
    assert_eq!(
        table
            .claim(&grant(), &data_platform(), "third", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Held
    );
    // GIVEN the incident of that claim is approved (a restore put the grant back)
    approved_at(&table, now + time::Duration::seconds(1)).await;
    // WHEN a sweep claims it THEN it stays approved
    assert_eq!(
        table
            .claim(&grant(), &data_platform(), "sweep", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Held
    );
    let grants = table.grants().await.unwrap();
    assert_eq!(grants[&grant()].status, GrantStatus::Approved);
    assert_eq!(grants[&grant()].incident, "approved-incident");
    // AND the record names its target in full, not only by its 64-bit key
    assert_eq!(
        grants[&grant()].target,
        Some(TargetKey::canonical(&data_platform()))
    );
    assert!(grants[&grant()].is_for(&data_platform(), None));
}

#[tokio::test]
async fn a_record_written_before_the_principal_was_created_holds_no_claim_off() {
    let moto = Moto::start();
    let table = moto.decisions();
    let now = OffsetDateTime::now_utc();
    // GIVEN the grant was approved a week ago
    approved_at(&table, now - time::Duration::days(7)).await;
    let week_ago = now - time::Duration::days(7);
    let (key, target) = (grant(), data_platform());
    let claim = |incident: &'static str, created: OffsetDateTime| {
        table.claim(&key, &target, incident, now, TWO_DAYS, Some(created))
    };
    // WHEN a sweep claims it for the principal created a month ago THEN the approval holds
    let month_ago = now - time::Duration::days(30);
    assert_eq!(claim("sweep", month_ago).await.unwrap(), Claim::Held);
    // WHEN for a principal of that name created in the second the approval was recorded (it
    // replaced the one approved, T28) THEN the sweep claims it: the approval was for the earlier
    assert_eq!(claim("sweep", week_ago).await.unwrap(), Claim::Claimed);
    // AND the approval itself is left as it was, while the sweep goes by the claim: it decides
    let approval = table.item(&grant().item_key()).await.unwrap().unwrap();
    assert_eq!(approval["status"], "approved");
    let grants = table.grants().await.unwrap();
    assert_eq!(grants[&grant()].status, GrantStatus::Deciding);
    // WHEN a sweep claims it a moment later for the same principal THEN that claim holds it
    assert_eq!(claim("later", week_ago).await.unwrap(), Claim::Held);
    // WHEN for a principal created again since that claim THEN the claim holds nothing either
    let claimed = table.item(&grant().claim_key()).await.unwrap().unwrap();
    assert_eq!(claimed["incident"], "sweep");
    let since_the_claim = now + time::Duration::seconds(1);
    assert_eq!(
        claim("after", since_the_claim).await.unwrap(),
        Claim::Claimed
    );
    let claimed = table.item(&grant().claim_key()).await.unwrap().unwrap();
    assert_eq!(claimed["incident"], "after");
}

/// A `deciding` item under `pk`, as written by something other than today's claim: a sweep of
/// the version before (under `grant#`), or someone's made-up date.
async fn put_deciding(table: &DecisionTable, pk: String, incident: &str, at: OffsetDateTime) {
    table
        .client
        .put_item()
        .table_name(&table.table)
        .item("pk", AttributeValue::S(pk))
        .item("status", AttributeValue::S("deciding".into()))
        .item("incident", AttributeValue::S(incident.into()))
        .item("at", AttributeValue::N(at.unix_timestamp().to_string()))
        .send()
        .await
        .unwrap();
}

/// A `quarantine#` item written straight to the table, as an earlier version of the step (or a
/// corruption) left it: `principals` as given, no `intended`.
async fn put_intent_item(
    table: &DecisionTable,
    incident: &str,
    target: &Target,
    principals: Option<&str>,
) {
    let mut put = table
        .client
        .put_item()
        .table_name(&table.table)
        .item("pk", AttributeValue::S(format!("quarantine#{incident}")))
        .item("target", AttributeValue::S(TargetKey::canonical(target)))
        .item("original", AttributeValue::S(DocumentRef::of("{}").sha256))
        .item("characters", AttributeValue::N("2".into()));
    if let Some(principals) = principals {
        put = put.item("principals", AttributeValue::S(principals.into()));
    }
    put.send().await.unwrap();
}

#[tokio::test]
async fn an_intended_quarantine_reads_back_as_recorded_and_one_whose_ids_do_not_read_fails() {
    let moto = Moto::start();
    let table = moto.decisions();
    let carol = principal(PrincipalKind::User, "carol");
    let target = Target::InlinePolicy {
        principal: carol.clone(),
        policy_name: "cleanup".into(),
    };
    let ids = [PrincipalId {
        principal: carol,
        id: Some("AIDAEXAMPLECAROL0001".into()),
    }];
    // GIVEN a rewrite recorded WHEN read back THEN it reads as recorded
    let now = OffsetDateTime::now_utc();
    (table.record_intent(
        "rewrite",
        &target,
        &DocumentRef::of("{}"),
        Intended::Rewrite,
        &ids,
        now,
    ))
    .await
    .unwrap();
    assert_eq!(
        table.intent("rewrite").await.unwrap(),
        Some(Intent {
            target: TargetKey::canonical(&target),
            original: DocumentRef::of("{}"),
            intended: Intended::Rewrite,
            principal_ids: Some(ids.to_vec()),
        })
    );
    // GIVEN an item from before rewrites and ids were recorded THEN a take-away without ids
    put_intent_item(&table, "older", &target, None).await;
    let older = table.intent("older").await.unwrap().expect("an intent");
    assert_eq!(
        (older.intended, older.principal_ids),
        (Intended::TakeAway, None)
    );
    // GIVEN ids that do not read THEN the step fails rather than read them again from IAM
    put_intent_item(&table, "garbled", &target, Some("[{\"kind\":")).await;
    let error = table.intent("garbled").await.expect_err("unreadable ids");
    assert!(
        error.to_string().contains("principals that do not read"),
        "{error}"
    );
}

#[tokio::test]
async fn a_claim_is_kept_under_its_own_key_and_an_older_one_holds_unless_dated_ahead() {
    let moto = Moto::start();
    let table = moto.decisions();
    let now = OffsetDateTime::now_utc();
    // GIVEN a sweep claims a grant
    assert_eq!(
        table
            .claim(&grant(), &data_platform(), "sweep", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Claimed
    );
    // THEN the claim is a `claim#` item and no `grant#` item is written: the sweep's role may
    // write no `grant#` item (template.yaml, tests/template/test_decision_keys.py)
    let claim = table.item(&grant().claim_key()).await.unwrap().unwrap();
    assert_eq!(claim["status"], "deciding");
    assert_eq!(claim["incident"], "sweep");
    assert_eq!(table.item(&grant().item_key()).await.unwrap(), None);
    // GIVEN another grant claimed an hour ago by a sweep of the version before, under `grant#`
    let other = grant().on(&Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/Other".into(),
    });
    put_deciding(
        &table,
        other.item_key(),
        "earlier-version",
        now - time::Duration::hours(1),
    )
    .await;
    // WHEN a sweep claims it THEN that claim still holds it
    let other_target = Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/Other".into(),
    };
    assert_eq!(
        table
            .claim(&other, &other_target, "sweep", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Held
    );
    // AND both grants read as being decided, each by the sweep that claimed it
    let grants = table.grants().await.unwrap();
    assert_eq!(grants[&grant()].status, GrantStatus::Deciding);
    assert_eq!(grants[&grant()].incident, "sweep");
    assert_eq!(grants[&other].status, GrantStatus::Deciding);
    assert_eq!(grants[&other].incident, "earlier-version");
    // GIVEN a claim dated a year ahead (no sweep writes one: it would hold for ever)
    let third_target = Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/Third".into(),
    };
    let third = grant().on(&third_target);
    put_deciding(
        &table,
        third.claim_key(),
        "from-the-future",
        now + time::Duration::days(365),
    )
    .await;
    // WHEN a sweep claims that grant THEN it takes it over
    assert_eq!(
        table
            .claim(&third, &third_target, "sweep", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Claimed
    );
    // GIVEN a grant approved and never claimed WHEN a sweep claims it THEN it is not claimed
    let approved_target = Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/Approved".into(),
    };
    let approved = grant().on(&approved_target);
    table
        .record_approved(&approved, &approved_target, "approved-incident", now)
        .await
        .unwrap();
    assert_eq!(
        table
            .claim(&approved, &approved_target, "sweep", now, TWO_DAYS, None)
            .await
            .unwrap(),
        Claim::Held
    );
    assert_eq!(table.item(&approved.claim_key()).await.unwrap(), None);
    // AND a grant approved while claimed reads as approved
    table
        .record_approved(&grant(), &data_platform(), "approved-incident", now)
        .await
        .unwrap();
    let grants = table.grants().await.unwrap();
    assert_eq!(grants[&grant()].status, GrantStatus::Approved);
    assert_eq!(grants[&grant()].incident, "approved-incident");
}

#[tokio::test]
async fn an_approval_proven_and_restored_is_recorded_with_who_decided_and_the_grant_approved() {
    // GIVEN a real incident about a policy attached to a role, quarantined, waiting for
    // approval: its record says so
    let workflow = Workflow::start(deployed_definition()).await;
    let role = principal(PrincipalKind::Role, "data-pipeline");
    let bob = principal(PrincipalKind::User, "bob");
    let incident = incident_attached_and_waiting_for_approval(
        &workflow,
        "incident-recorded",
        &[role.clone(), bob.clone()],
    )
    .await;
    // (the email says approving covers the user and the role it was attached to)
    assert!(
        incident.email.contains(
            "Approving also approves it where it was attached when quarantined: user bob, role \
             data-pipeline."
        ),
        "{}",
        incident.email
    );
    let waiting = incident_record(&workflow.moto, "incident-recorded").await;
    assert_eq!(waiting.outcome, Outcome::Quarantined);
    assert_eq!(waiting.quarantine.as_deref(), Some("newDefaultVersion"));
    assert!(waiting.decision.is_none());
    // AND, while the approval is pending, someone attaches it to a group too (its
    // AttachGroupPolicy event is analysed against the quarantine version: clean)
    let iam = workflow.moto.iam_client();
    let group = principal(PrincipalKind::Group, "analysts");
    create_principal(&iam, &group).await;
    attach_policy(&iam, &group, &incident.policy_arn).await;
    // AND bob is deleted, another bob created, and the policy attached to him
    iam.detach_user_policy()
        .user_name("bob")
        .policy_arn(&incident.policy_arn)
        .send()
        .await
        .expect("DetachUserPolicy");
    delete_principal(&iam, &bob).await;
    create_principal(&iam, &bob).await;
    attach_policy(&iam, &bob, &incident.policy_arn).await;
    // WHEN the administrator approves on the page
    let page = incident.decide_on_the_page(&workflow, "approve.json").await;
    assert_eq!(page.status, 200, "{}", page.body);
    workflow.ended(&incident.execution_arn).await;
    // THEN the incident's record says restored, who decided from where and why
    let record = incident_record(&workflow.moto, "incident-recorded").await;
    assert_eq!(record.outcome, Outcome::Restored);
    assert_eq!(record.restore, Some(RestoreStatus::Restored));
    assert_eq!(record.event_name.as_deref(), Some("CreatePolicy"));
    assert_eq!(
        record.actor.and_then(|a| a.arn).as_deref(),
        Some("arn:aws:iam::123456789012:user/alice")
    );
    assert!(record.patterns.contains(&"s3:DeleteBucket".to_owned()));
    let decided = record.decision.expect("who decided");
    assert_eq!(decided.decision, Decision::Approve);
    assert!(decided.verified, "{decided:?}");
    assert_eq!(decided.source_ip.as_deref(), Some("198.51.100.77"));
    assert_eq!(
        decided.comment.as_deref(),
        Some("Needed for the bucket migration, OPS-1234")
    );
    // AND the grant in force now (IAM's text of the restored policy) is recorded approved
    let (_, in_force) = incident.policy_now(&workflow).await;
    assert_eq!(
        record.original_document_sha256,
        Some(incident::DocumentRef::of(&document_of(&event("create-policy.json"))).sha256)
    );
    let target = Target::ManagedPolicy {
        policy_arn: incident.policy_arn.clone(),
    };
    let key = GrantKey::of(&target, &in_force).unwrap();
    assert_eq!(Some(key.digest.clone()), canonical_digest(&in_force));
    // AND so is the document on the attachment it had when quarantined (what the sweep checks
    // an attachment against), not on those made while the approval was pending, the new bob's
    // among them: the approver was never shown them, and the sweep asks about each
    let on = |principal: &Principal| {
        key.on(&Target::Attachment {
            principal: principal.clone(),
            policy_arn: incident.policy_arn.clone(),
        })
    };
    let approved = [key.clone(), on(&role)];
    let grants = workflow.moto.decisions().grants().await.unwrap();
    assert_eq!(grants.len(), approved.len(), "{grants:?}");
    for key in &approved {
        assert_eq!(grants[key].status, GrantStatus::Approved, "{key:?}");
        assert_eq!(grants[key].incident, "incident-recorded");
    }
    assert!(!grants.contains_key(&on(&group)), "{grants:?}");
    assert!(!grants.contains_key(&on(&bob)), "{grants:?}");
}

#[tokio::test]
async fn a_forged_publish_call_publishes_nothing_and_cannot_rewrite_an_incidents_record() {
    // GIVEN a real incident waiting for approval, recorded as quarantined, its emails read
    let workflow = Workflow::start(deployed_definition()).await;
    let incident = incident_waiting_for_approval(&workflow, "incident-forged-publish").await;
    let emails_before = workflow.emails().await.len();
    workflow.alerts().await;
    // WHEN mallory invokes publish-outcome naming that execution, as restored (its state, the
    // decision and the restore of her making can no longer be given: the input is the outcome
    // and the execution only)
    let forged = PublishInput {
        outcome: Outcome::Restored,
        execution_arn: incident.execution_arn.clone(),
    };
    let refused = publish::handle(forged, &workflow.publish_deps()).await;
    // THEN the call is refused: the execution is not in its PublishRestored step
    assert_eq!(failure(refused).error_type(), "ForgedRequest");
    // AND nothing reached the administrators, and the operators were told, naming the execution
    assert_eq!(workflow.emails().await.len(), emails_before);
    let alerts = workflow.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].contains(&incident.execution_arn), "{}", alerts[0]);
    // AND the record is still the history's: quarantined, nobody decided, no grant approved
    let record = incident_record(&workflow.moto, "incident-forged-publish").await;
    assert_eq!(record.outcome, Outcome::Quarantined);
    assert!(record.decision.is_none(), "{record:?}");
    assert!(workflow.moto.decisions().grants().await.unwrap().is_empty());
}
