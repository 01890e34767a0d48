//! Calling request-approval directly (`lambda:InvokeFunction`), as anyone allowed to invoke it
//! could: with a waiting execution's task token (readable in its history: T2) and a request of
//! her own making. The function takes only the execution and the token from its payload, and
//! emails the request Step Functions recorded with that token: mallory sends nothing of her own
//! making under the stack's name, and with anything but the waiting token, nothing at all.

use remediation::error::parse_input;
use remediation::handlers::request_approval::{self, ApprovalInvocation};
use serde_json::{Value, json};

use super::scene::*;
use crate::support::*;

/// A request of mallory's making: the incident asks to approve AdministratorAccess on
/// data-pipeline, with a deadline of her choosing.
fn forged_request(execution_arn: &str, token: &str) -> Value {
    json!({
        "taskToken": token,
        "executionArn": execution_arn,
        "incident": forged_incident(),
        "quarantine": forged_record(KINDS[0]),
        "approvalTimeoutSeconds": 31_536_000
    })
}

async fn invoke(workflow: &Workflow, payload: Value) -> Result<Value, remediation::StepError> {
    let invocation: ApprovalInvocation = parse_input(payload)?;
    request_approval::handle(invocation, &workflow.request_approval_deps())
        .await
        .map(|answered| serde_json::to_value(answered).unwrap())
}

#[tokio::test]
async fn a_request_invoked_with_the_waiting_token_emails_only_what_the_history_holds() {
    // GIVEN an incident waiting for approval (its email sent), and its task token, which
    // mallory read in the execution's history
    let workflow = deployment().await;
    let incident = incident_waiting_for_approval(&workflow, "incident-waiting").await;
    let token = workflow.token_of(&incident.execution_arn).await;
    let before = workflow.emails().await.len();
    // WHEN she invokes request-approval with it and a request of her own making
    let answered = invoke(&workflow, forged_request(&incident.execution_arn, &token))
        .await
        .expect("the waiting request is emailed again");
    // THEN the one email it sends is the incident's own request: its policy, its deadline,
    // none of her incident
    let emails = workflow.emails().await;
    assert_eq!(emails.len(), before + 1, "{emails:#?}");
    let sent = emails.last().unwrap();
    assert!(sent.body.contains("incident-waiting"), "{}", sent.body);
    for forged in ["data-pipeline", "AdministratorAccess"] {
        assert!(!sent.body.contains(forged), "{forged} in {}", sent.body);
    }
    assert_eq!(answered["approvalId"], "incident-waiting");
    let deadline = time::PrimitiveDateTime::parse(
        answered["deadline"]
            .as_str()
            .unwrap()
            .trim_end_matches(" UTC"),
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .unwrap()
    .assume_utc();
    // the workflow's hour, not her year
    assert!(
        deadline < time::OffsetDateTime::now_utc() + time::Duration::hours(2),
        "deadline {deadline}"
    );
    // AND the incident still waits for its administrator
    assert_eq!(workflow.status(&incident.execution_arn).await, "RUNNING");
}

#[tokio::test]
async fn a_request_invoked_with_any_other_token_or_execution_sends_nothing() {
    // GIVEN one incident waiting for approval and one denied (mallory kept its old token)
    let workflow = deployment().await;
    let waiting = incident_waiting_for_approval(&workflow, "incident-waiting").await;
    let denied = incident_waiting_for_approval(&workflow, "incident-denied").await;
    let denied_token = workflow.token_of(&denied.execution_arn).await;
    let page = denied.decide_on_the_page(&workflow, "deny.json").await;
    assert_eq!(page.status, 200, "{}", page.body);
    workflow.ended(&denied.execution_arn).await;
    let waiting_token = workflow.token_of(&waiting.execution_arn).await;
    let before = workflow.emails().await.len();
    workflow.alerts().await;
    // WHEN she invokes request-approval with her request, naming each
    let cases = [
        (
            waiting.execution_arn.clone(),
            "AAAAKgAAAAIAAAAAAAAAAf-made-up".to_owned(),
            "is not the one the execution's approval request waits with",
        ),
        (
            denied.execution_arn.clone(),
            denied_token,
            "the execution has ended",
        ),
        (
            made_up_execution("forged-request"),
            waiting_token,
            "no such execution",
        ),
    ];
    for (execution, token, reason) in cases {
        let error = invoke(&workflow, forged_request(&execution, &token))
            .await
            .expect_err("refused");
        // THEN each call is refused as forged, saying why, and the operators are told
        assert_eq!(error.error_type(), "ForgedRequest", "{execution}: {error}");
        assert!(error.to_string().contains(reason), "{execution}: {error}");
        let alerts = workflow.alerts().await;
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_alerted(&alerts, "request-approval", &execution, reason);
    }
    // AND no email went out, and the waiting incident still waits
    assert_eq!(workflow.emails().await.len(), before);
    assert_eq!(workflow.status(&waiting.execution_arn).await, "RUNNING");
}
