//! Publish an outcome: one SNS notification for people (not for an exempted change the
//! deployment does not notify), one EventBridge event for tools. Which
//! outcome is the state machine's decision: each outcome has its own publish state.

use approval::ApprovalId;
use incident::decision_log::IncidentRecord;
use incident::{Outcome, OutcomeState, event_detail, notification};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::decisions::DecisionTable;
use crate::error::{StepError, invalid_input};
use crate::executions::Executions;
use crate::handlers::alert_if_refused;
use crate::publisher::{Notifier, Publisher};

pub struct PublishDeps {
    pub publisher: Publisher,
    /// Where the state the publish step was entered with is read: what is published and the
    /// incident's record are built from it, never from the caller's payload.
    pub executions: Executions,
    pub decisions: DecisionTable,
    /// The operators' topic: told of every refused call.
    pub alerts: Notifier,
}

/// How the state machine calls a publish step: which outcome (each has its own publish
/// state), and the execution, whose history holds the state to publish.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishInput {
    pub outcome: Outcome,
    pub execution_arn: String,
}

#[derive(Serialize)]
pub struct Published {
    pub outcome: Outcome,
    pub subject: String,
}

/// Publishes `input.outcome` of the execution, from the state its publish step was entered
/// with (the history, which only Step Functions writes), and records the incident at it. A call
/// that is not that step of a running execution (anyone allowed to invoke the function, with a
/// state of their making) publishes nothing, and the operators are told.
pub async fn handle(input: PublishInput, deps: &PublishDeps) -> Result<Published, StepError> {
    let outcome = input.outcome;
    let step = alert_if_refused(
        deps.executions
            .entered_state(&input.execution_arn, outcome.publish_state())
            .await,
        "publish-outcome",
        &input.execution_arn,
        &deps.alerts,
    )
    .await?;
    let state = OutcomeState::from_value(step.input);
    let published = publish(outcome, &state, &input.execution_arn, &deps.publisher).await?;
    record_incident(outcome, &input.execution_arn, &state, deps).await?;
    Ok(published)
}

/// Tells people (one SNS notification, unless the outcome does not email) and tools (one
/// EventBridge event) of `outcome`, with `state` as the execution's state.
pub async fn publish(
    outcome: Outcome,
    state: &OutcomeState,
    execution_arn: &str,
    publisher: &Publisher,
) -> Result<Published, StepError> {
    let message = notification(outcome, state, execution_arn);
    let detail = event_detail(outcome, state, execution_arn);
    if outcome.emails(state) {
        publisher.notify(&message).await?;
    }
    publisher
        .publish_event(outcome.detail_type(), &detail)
        .await?;
    if !state.unreadable.is_empty() {
        tracing::warn!(problems = ?state.unreadable, "published with unreadable parts of the state");
    }
    let exemptions = state
        .incident
        .as_ref()
        .and_then(incident::Assessment::analysed)
        .map(|a| a.rules.exemption_names())
        .unwrap_or_default();
    tracing::info!(?outcome, subject = %message.subject, ?exemptions, "published");
    Ok(Published {
        outcome,
        subject: message.subject,
    })
}

/// Writes the incident's record at `outcome`, from `state`, the one its publish step was
/// entered with.
async fn record_incident(
    outcome: Outcome,
    execution_arn: &str,
    state: &OutcomeState,
    deps: &PublishDeps,
) -> Result<(), StepError> {
    // `entered_state` proved it an execution of this state machine: it has a name.
    let incident = ApprovalId::of_execution(execution_arn).map_err(invalid_input)?;
    let now = OffsetDateTime::now_utc();
    let record = IncidentRecord::of(incident.as_str(), outcome, state, now);
    deps.decisions.put_incident(&record, now).await?;
    tracing::info!(record = %record.item_key(), "incident recorded");
    Ok(())
}
