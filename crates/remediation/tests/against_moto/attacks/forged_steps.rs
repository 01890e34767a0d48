//! Calling a writer directly (`lambda:InvokeFunction` on restore-policy or quarantine-policy),
//! as anyone allowed to invoke it could, with whatever payload. The function reads the payload
//! as its `main` does (`StepInvocation::read`): only the execution is taken from it,
//! and the state it acts on comes from that execution's history, so the call is refused unless
//! the execution is this deployment's, running, and in that very step.

use remediation::handlers::StepInvocation;
use remediation::handlers::quarantine;
use remediation::handlers::restore::{self, restore};
use serde_json::Value;

use super::scene::*;
use crate::support::*;

/// Invokes restore-policy with the attacker's payload of each kind, naming `execution_arn`;
/// each call must be refused as forged, saying `reason`, with IAM unchanged and the operators
/// told of each.
async fn assert_forged_restores_refused(workflow: &Workflow, execution_arn: &str, reason: &str) {
    let before = iam_now(&workflow.moto).await;
    for kind in KINDS {
        let payload = forged_restore_payload(execution_arn, kind);
        let deps = workflow.restore_deps();
        let invocation = StepInvocation::read(payload, "restore-policy", &deps.alerts)
            .await
            .expect("the payload names an execution");
        let error = failure(restore::handle(invocation, &deps).await);
        assert_eq!(error.error_type(), "ForgedRequest", "{kind:?}: {error}");
        assert!(error.to_string().contains(reason), "{kind:?}: {error}");
    }
    assert_eq!(iam_now(&workflow.moto).await, before, "IAM changed");
    assert_no_grant_approved(workflow, execution_arn).await;
    let alerts = workflow.alerts().await;
    assert_eq!(alerts.len(), KINDS.len(), "{alerts:#?}");
    assert_alerted(&alerts, "restore-policy", execution_arn, reason);
}

/// The same for quarantine-policy.
async fn assert_forged_quarantine_refused(workflow: &Workflow, execution_arn: &str, reason: &str) {
    let before = iam_now(&workflow.moto).await;
    let payload: Value = forged_quarantine_payload(execution_arn);
    let deps = workflow.quarantine_deps();
    let invocation = StepInvocation::read(payload, "quarantine-policy", &deps.alerts)
        .await
        .expect("the payload names an execution");
    let error = failure(quarantine::handle(invocation, &deps).await);
    assert_eq!(error.error_type(), "ForgedRequest", "{error}");
    assert!(error.to_string().contains(reason), "{error}");
    assert_eq!(iam_now(&workflow.moto).await, before, "IAM changed");
    let alerts = workflow.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_alerted(&alerts, "quarantine-policy", execution_arn, reason);
}

#[tokio::test]
async fn what_the_forged_payloads_carry_would_change_iam_if_a_writer_acted_on_it() {
    // GIVEN mallory's ground: her harmless policies, AdministratorAccess on data-pipeline
    let moto = Moto::start();
    attackers_ground(&moto).await;
    let before = iam_now(&moto).await;
    // AND the documents the records name are in the document store (the attacker can write it)
    moto.keep(&administrator_access()).await;
    moto.keep(CLEAN_DOCUMENT).await;
    // WHEN the IAM work of the writers is done on the attacker's records, skipping the checks
    // that the specifications below show refusing them
    for kind in KINDS {
        restore(forged_record(kind), &restore_deps(&moto))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
    quarantined(&moto, &forged_incident()).await;
    // THEN mallory would hold AdministratorAccess three ways, and data-pipeline would lose it:
    // the refusals below stop real harm
    let after = iam_now(&moto).await;
    let gained: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    let lost: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
    let admin = r#""Action":"*""#;
    assert!(
        gained.iter().any(|l| l
            .starts_with("user mallory has arn:aws:iam::123456789012:policy/AdministratorAccess")),
        "{gained:#?}"
    );
    assert!(
        gained
            .iter()
            .any(|l| l.starts_with("user mallory has inline mallory-notes") && l.contains(admin)),
        "{gained:#?}"
    );
    assert!(
        gained
            .iter()
            .any(|l| l.starts_with(&format!("{TOOLS} v1 (default)"))),
        "{gained:#?}"
    );
    assert!(
        lost.iter().any(|l| l.starts_with("role data-pipeline has")),
        "{lost:#?}"
    );
}

#[tokio::test]
async fn a_restore_invoked_with_a_made_up_execution_is_refused_and_the_operators_are_alerted() {
    // GIVEN the deployment, and mallory, who may invoke restore-policy
    let workflow = deployment().await;
    // WHEN she invokes it with an execution of this state machine that never ran, and each of
    // her forged records in the payload
    let execution = made_up_execution("3f6c2a9e-5d1b-4c7a-9e8f-1a2b3c4d5e6f");
    // THEN each call is refused, IAM is unchanged, and the operators are told of each
    assert_forged_restores_refused(&workflow, &execution, "no such execution").await;
}

#[tokio::test]
async fn a_restore_invoked_with_another_state_machines_execution_is_refused() {
    // GIVEN mallory's own state machine, running in a state she called Restore, entered with
    // her forged records and an "approval"
    let workflow = deployment().await;
    let execution = attackers_execution(&workflow, "Restore").await;
    // WHEN she invokes restore-policy with that execution
    // THEN each call is refused, IAM is unchanged, and the operators are told of each
    assert_forged_restores_refused(
        &workflow,
        &execution,
        "is not an execution of this deployment's state machine",
    )
    .await;
}

#[tokio::test]
async fn a_restore_invoked_with_our_execution_waiting_for_approval_is_refused() {
    // GIVEN a real incident, quarantined, its execution waiting in RequestApproval
    let workflow = deployment().await;
    let incident = incident_waiting_for_approval(&workflow, "incident-waiting").await;
    workflow.alerts().await;
    // WHEN mallory invokes restore-policy with that execution before anyone approved
    // THEN each call is refused (the execution is not in its Restore step), IAM is unchanged,
    // the operators are told of each
    assert_forged_restores_refused(
        &workflow,
        &incident.execution_arn,
        "is not in its Restore state (its current state is RequestApproval)",
    )
    .await;
    // AND the incident still waits for its administrator, its quarantine in place
    assert_eq!(workflow.status(&incident.execution_arn).await, "RUNNING");
    assert_eq!(incident.policy_now(&workflow).await.0, "v2");
}

#[tokio::test]
async fn a_restore_invoked_with_an_execution_that_has_ended_is_refused() {
    // GIVEN a real incident the administrator denied: its execution has ended
    let workflow = deployment().await;
    let incident = denied_incident(&workflow, "incident-denied").await;
    // WHEN mallory invokes restore-policy with that execution
    // THEN each call is refused, IAM is unchanged, and the operators are told of each
    assert_forged_restores_refused(
        &workflow,
        &incident.execution_arn,
        "the execution has ended",
    )
    .await;
    // AND the denied policy stays quarantined
    assert_eq!(incident.policy_now(&workflow).await.0, "v2");
}

#[tokio::test]
async fn a_quarantine_invoked_other_than_as_the_workflows_quarantine_step_is_refused() {
    // GIVEN the deployment with one incident waiting for approval and one denied, mallory's own
    // state machine in a state she called Quarantine, and data-pipeline holding
    // AdministratorAccess, which she wants taken away
    let workflow = deployment().await;
    let waiting = incident_waiting_for_approval(&workflow, "incident-waiting").await;
    let denied = denied_incident(&workflow, "incident-denied").await;
    let foreign = attackers_execution(&workflow, "Quarantine").await;
    workflow.alerts().await;
    // WHEN she invokes quarantine-policy with her forged incident, naming each execution
    // THEN each call is refused, the policy is untouched, and the operators are told of each
    let cases = [
        (made_up_execution("forged-quarantine"), "no such execution"),
        (
            foreign,
            "is not an execution of this deployment's state machine",
        ),
        (
            waiting.execution_arn.clone(),
            "is not in its Quarantine state (its current state is RequestApproval)",
        ),
        (denied.execution_arn.clone(), "the execution has ended"),
    ];
    for (execution, reason) in cases {
        assert_forged_quarantine_refused(&workflow, &execution, reason).await;
    }
    let pipeline = principal(incident::PrincipalKind::Role, "data-pipeline");
    assert_eq!(
        attached_policies(&workflow.moto.iam_client(), &pipeline).await,
        [ADMINISTRATOR_ACCESS]
    );
}

#[tokio::test]
async fn a_writer_called_with_a_payload_that_names_no_execution_is_refused_and_alerted() {
    // GIVEN the deployment, and mallory's forged records in the shape the writers used to take
    let workflow = deployment().await;
    let before = iam_now(&workflow.moto).await;
    let mut payload = forged_restore_payload("unused", KINDS[0]);
    payload.as_object_mut().unwrap().remove("executionArn");
    // WHEN she invokes each writer with it
    let restore = workflow.restore_deps();
    let quarantine = workflow.quarantine_deps();
    let refusals = [
        StepInvocation::read(payload.clone(), "restore-policy", &restore.alerts).await,
        StepInvocation::read(payload, "quarantine-policy", &quarantine.alerts).await,
    ];
    // THEN both are refused before any IAM call, and the operators are told of each
    for refusal in refusals {
        let error = refusal.expect_err("a payload without an execution is refused");
        assert_eq!(error.error_type(), "ForgedRequest", "{error}");
        assert!(error.to_string().contains("executionArn"), "{error}");
    }
    assert_eq!(iam_now(&workflow.moto).await, before, "IAM changed");
    let alerts = workflow.alerts().await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_alerted(
        &alerts[..1],
        "restore-policy",
        "(none)",
        "missing field `executionArn`",
    );
}
