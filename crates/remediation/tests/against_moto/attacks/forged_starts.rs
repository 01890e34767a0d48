//! Starting the workflow by hand (`states:StartExecution`, a power user's right: PowerUserAccess
//! holds it) with a made-up CloudTrail event, to have the sentinel quarantine a grant that is
//! really in force (a break-glass role's, one approved before) and email its administrators the
//! made-up claims. The writers act only in executions the incident starter started: it records
//! each (`start#<execution name>`, the digest of its input) before it starts it, where nobody
//! else may write, and Analyse (then quarantine-policy again) reads that record back.

use serde_json::json;

use super::scene::*;
use crate::support::*;

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

/// The execution failed closed at its first step: Analyse refused it, nothing else ran, IAM is
/// as `before`, and the one email is a failure notice that names the execution and repeats
/// nothing its input claims (`claims`). The operators hear of it from the tamper rule (its
/// StartExecution), not from the workflow.
async fn assert_refused_at_analyse(
    workflow: &Workflow,
    execution_arn: &str,
    before: &[String],
    claims: &[&str],
) {
    let ended = workflow.ended(execution_arn).await;
    assert_eq!(ended.status().as_str(), "FAILED", "{ended:?}");
    let entered = workflow.states_entered(execution_arn).await;
    assert_eq!(
        entered,
        ["Analyse", "PublishFailed", "Failed"],
        "{entered:?}"
    );
    assert_eq!(iam_now(&workflow.moto).await, before, "IAM changed");
    let emails: Vec<Email> = workflow
        .emails()
        .await
        .into_iter()
        .filter(|e| e.body.contains(execution_arn))
        .collect();
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let notice = &emails[0];
    assert!(
        notice.subject.contains("an execution started by hand"),
        "{notice:#?}"
    );
    assert!(notice.body.contains("ForgedStart"), "{}", notice.body);
    for claim in claims {
        assert!(
            !notice.body.contains(claim) && !notice.subject.contains(claim),
            "{claim:?} repeated: {notice:#?}"
        );
    }
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
    // THEN it is refused before anything is analysed: data-pipeline keeps its policy, nobody is
    // asked to approve, and the notice names neither the role, nor the policy, nor the actor
    let claims = ["data-pipeline", ADMINISTRATOR_ACCESS, "DevOpsRole"];
    assert_refused_at_analyse(&workflow, &execution_arn, &before, &claims).await;
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
    assert_refused_at_analyse(&workflow, &execution_arn, &before, &[]).await;
    // AND the genuine incident still waits for its administrator
    assert_eq!(workflow.status(&genuine.execution_arn).await, "RUNNING");
}
