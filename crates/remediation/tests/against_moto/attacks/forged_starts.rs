//! Starting the workflow by hand (`states:StartExecution`, a power user's right: PowerUserAccess
//! holds it) with a made-up CloudTrail event, to have the sentinel quarantine a grant that is
//! really in force (a break-glass role's, one approved before) and email its administrators the
//! made-up claims. The writers act only in executions the incident starter started: it records
//! each (`start#<execution name>`, the digest of its input) before it starts it, where nobody
//! else may write, and quarantine-policy reads that record back.

use serde_json::json;

use super::scene::*;
use crate::support::*;

const NOT_STARTED: &str = "not started by this deployment's incident starter";

/// Mallory's StartExecution: `input` under `name`, as her own session would send it.
async fn started_by_hand(workflow: &Workflow, name: &str, input: &str) -> String {
    workflow
        .moto
        .sfn()
        .start_execution()
        .state_machine_arn(STATE_MACHINE_ARN)
        .name(name)
        .input(input)
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_owned()
}

/// The execution failed closed at its Quarantine step: IAM as `before`, no approval asked, and
/// one alert to the operators naming it and why.
async fn assert_refused_at_quarantine(workflow: &Workflow, execution_arn: &str, before: &[String]) {
    let ended = workflow.ended(execution_arn).await;
    assert_eq!(ended.status().as_str(), "FAILED", "{ended:?}");
    let entered = workflow.states_entered(execution_arn).await;
    assert!(entered.iter().any(|s| s == "Quarantine"), "{entered:?}");
    assert!(
        !entered.iter().any(|s| s == "RequestApproval"),
        "{entered:?}"
    );
    assert_eq!(iam_now(&workflow.moto).await, before, "IAM changed");
    let name = execution_arn.rsplit(':').next().unwrap();
    let link = format!("{API_URL}/approvals/{name}?key=");
    let emails = workflow.emails().await;
    assert!(
        !emails.iter().any(|e| e.body.contains(&link)),
        "{emails:#?}"
    );
    let alerts = workflow.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_alerted(&alerts, "quarantine-policy", execution_arn, NOT_STARTED);
}

#[tokio::test]
async fn an_incident_started_by_hand_with_a_made_up_event_quarantines_nothing() {
    // GIVEN the data-pipeline role holds AdministratorAccess, in force
    let workflow = deployment().await;
    let before = iam_now(&workflow.moto).await;
    // WHEN mallory starts the workflow herself, with an event saying it was just attached
    let mut made_up = event("attach-role-policy.json");
    made_up["detail"]["requestParameters"]["policyArn"] = json!(ADMINISTRATOR_ACCESS);
    let execution_arn =
        started_by_hand(&workflow, "made-up-attachment", &made_up.to_string()).await;
    // THEN the change is analysed as restricted, and its quarantine refused: data-pipeline
    // keeps its policy, nobody is asked to approve, the operators are told
    assert_refused_at_quarantine(&workflow, &execution_arn, &before).await;
}

#[tokio::test]
async fn a_genuine_incident_started_again_under_another_name_quarantines_nothing() {
    // GIVEN an incident the starter started, waiting for its approval
    let workflow = deployment().await;
    let genuine = incident_waiting_for_approval(&workflow, "incident-genuine").await;
    let input = workflow
        .describe(&genuine.execution_arn)
        .await
        .input()
        .expect("the execution's input")
        .to_owned();
    let before = iam_now(&workflow.moto).await;
    // WHEN mallory starts its very input again, under a name of her own
    let execution_arn = started_by_hand(&workflow, "incident-genuine-again", &input).await;
    // THEN the starter's record is the genuine execution's, not hers: refused
    assert_refused_at_quarantine(&workflow, &execution_arn, &before).await;
    // AND the genuine incident still waits for its administrator
    assert_eq!(workflow.status(&genuine.execution_arn).await, "RUNNING");
}
