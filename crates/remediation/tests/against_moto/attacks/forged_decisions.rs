//! Sending the approval task an "approve" around the approval page: anyone allowed
//! `states:SendTaskSuccess` who reads the task token in the execution's history can. The whole
//! workflow runs in moto (statemachine/remediation.asl.json, every function the real handler):
//! the decision takes it to Restore, whose function finds no proof the approval page took the
//! decision, restores nothing and is caught as ForgedRequest; the execution fails through
//! PublishFailed and the operators are told.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::scene::*;
use crate::support::*;

async fn deployment() -> Workflow {
    Workflow::start(deployed_definition()).await
}

/// Mallory's SendTaskSuccess: the token read from the history, `decision` as the output.
async fn approve_around_the_page(workflow: &Workflow, incident: &Incident, decision: &Value) {
    let token = workflow.token_of(&incident.execution_arn).await;
    workflow
        .moto
        .sfn()
        .send_task_success()
        .task_token(token)
        .output(decision.to_string())
        .send()
        .await
        .expect("Step Functions takes any output");
}

/// The workflow went to Restore, which refused (saying `reason`); it failed through
/// PublishFailed, IAM is as it was (`before`), and the operators were told.
async fn assert_refused_by_restore(
    workflow: &Workflow,
    incident: &Incident,
    before: &[String],
    reason: &str,
) {
    let ended = workflow.ended(&incident.execution_arn).await;
    assert_eq!(ended.status().as_str(), "FAILED");
    assert_eq!(ended.error(), Some("IamSentinel.IncidentFailed"));
    let states = workflow.states_entered(&incident.execution_arn).await;
    let after_approval: Vec<&str> = states
        .iter()
        .skip_while(|s| *s != "RequestApproval")
        .map(String::as_str)
        .collect();
    assert_eq!(
        after_approval,
        [
            "RequestApproval",
            "CheckDecision",
            "Restore",
            "PublishFailed",
            "Failed"
        ]
    );
    let failed = workflow
        .entered_with(&incident.execution_arn, "PublishFailed")
        .await
        .unwrap();
    assert_eq!(failed["error"]["Error"], "ForgedRequest", "{failed}");
    let cause = failed["error"]["Cause"].as_str().unwrap();
    assert!(cause.contains(reason), "{cause}");
    assert_eq!(iam_now(&workflow.moto).await, before, "IAM changed");
    assert_eq!(incident.policy_now(workflow).await.0, "v2");
    assert_no_grant_approved(workflow, &incident.execution_arn).await;
    // The durable record keeps the decision as sent, marked as not verified: what it says of
    // who decided, from where and why is only mallory's claim.
    let name = incident.execution_arn.rsplit(':').next().unwrap();
    let record = crate::decisions::incident_record(&workflow.moto, name).await;
    let decided = record.decision.expect("the decision as sent");
    assert_eq!(decided.decision, incident::Decision::Approve);
    assert!(!decided.verified, "{decided:?}");
    let alerts = workflow.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_alerted(&alerts, "restore-policy", &incident.execution_arn, reason);
}

#[tokio::test]
async fn an_approve_sent_around_the_approval_page_without_a_proof_restores_nothing() {
    // GIVEN a real incident, quarantined, waiting for approval
    let workflow = deployment().await;
    let incident = incident_waiting_for_approval(&workflow, "incident-no-proof").await;
    let before = iam_now(&workflow.moto).await;
    workflow.alerts().await;
    // WHEN mallory reads the task token in the history and sends "approve" herself, shaped
    // like the page's decision but without its proof
    let decision = json!({
        "decision": "approve",
        "decidedAt": "2026-11-21T09:47:12.123456789Z",
        "sourceIp": "198.51.100.77",
        "comment": "Needed for the bucket migration, OPS-1234"
    });
    approve_around_the_page(&workflow, &incident, &decision).await;
    // THEN Restore refuses it as forged, the workflow fails, the quarantine stays, and the
    // operators are told
    assert_refused_by_restore(&workflow, &incident, &before, "carries no proof").await;
}

#[tokio::test]
async fn an_approve_with_a_made_up_proof_restores_nothing() {
    // GIVEN a real incident, quarantined, waiting for approval
    let workflow = deployment().await;
    let incident = incident_waiting_for_approval(&workflow, "incident-garbage-proof").await;
    let before = iam_now(&workflow.moto).await;
    workflow.alerts().await;
    // WHEN mallory sends "approve" with a proof of the right shape (a 32-byte MAC) she made up
    let decision = json!({
        "decision": "approve",
        "decidedAt": "2026-11-21T09:47:12.123456789Z",
        "proof": STANDARD.encode([0x5a_u8; 32])
    });
    approve_around_the_page(&workflow, &incident, &decision).await;
    // THEN Restore refuses it as forged, the workflow fails, the quarantine stays, and the
    // operators are told
    assert_refused_by_restore(&workflow, &incident, &before, "proof does not verify").await;
}

#[tokio::test]
async fn an_approve_carrying_another_executions_real_proof_restores_nothing() {
    // GIVEN one incident approved on the page (its decision and proof are in its history,
    // readable by anyone who may read histories), and a second one waiting for approval
    let workflow = deployment().await;
    let approved = incident_waiting_for_approval(&workflow, "incident-approved").await;
    let page = approved.decide_on_the_page(&workflow, "approve.json").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        workflow
            .ended(&approved.execution_arn)
            .await
            .status()
            .as_str(),
        "SUCCEEDED"
    );
    let real_approval = workflow
        .entered_with(&approved.execution_arn, "Restore")
        .await
        .unwrap()["approval"]
        .clone();
    assert!(real_approval["proof"].is_string(), "{real_approval}");
    let incident = incident_waiting_for_approval(&workflow, "incident-replayed").await;
    let before = iam_now(&workflow.moto).await;
    workflow.alerts().await;
    // WHEN mallory sends the second one that approval, proof and all, word for word
    approve_around_the_page(&workflow, &incident, &real_approval).await;
    // THEN the proof does not verify for this execution: nothing is restored, the workflow
    // fails, and the operators are told
    assert_refused_by_restore(&workflow, &incident, &before, "proof does not verify").await;
}

#[tokio::test]
async fn the_same_workflow_approved_on_the_approval_page_restores_the_policy() {
    // GIVEN a real incident, quarantined, waiting for approval
    let workflow = deployment().await;
    let incident = incident_waiting_for_approval(&workflow, "incident-approved").await;
    assert_eq!(incident.policy_now(&workflow).await.0, "v2");
    workflow.alerts().await;
    // WHEN the administrator approves on the page
    let page = incident.decide_on_the_page(&workflow, "approve.json").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // THEN the proof verifies: the original version is the default again, the quarantine
    // version is gone, the workflow succeeds, and the operators hear nothing
    let ended = workflow.ended(&incident.execution_arn).await;
    assert_eq!(ended.status().as_str(), "SUCCEEDED");
    let states = workflow.states_entered(&incident.execution_arn).await;
    assert!(
        states.ends_with(&[
            "Restore".into(),
            "CheckRestore".into(),
            "PublishRestored".into(),
            "Done".into()
        ]),
        "{states:?}"
    );
    let (version, document) = incident.policy_now(&workflow).await;
    assert_eq!(version, "v1");
    assert_eq!(
        json(&document),
        json(&document_of(&event("create-policy.json")))
    );
    let versions = workflow
        .moto
        .iam()
        .versions(&incident.policy_arn)
        .await
        .unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(workflow.alerts().await.is_empty());
}
