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
use crate::publisher::Publisher;

pub struct PublishDeps {
    pub publisher: Publisher,
    /// Where the state the publish step was entered with is read: the incident's record is
    /// built from it, never from the caller's payload.
    pub executions: Executions,
    pub decisions: DecisionTable,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishInput {
    pub outcome: Outcome,
    pub execution_arn: String,
    /// Read part by part (see `OutcomeState::from_value`): publishing must not fail on its shape.
    pub state: serde_json::Value,
}

#[derive(Serialize)]
pub struct Published {
    pub outcome: Outcome,
    pub subject: String,
}

pub async fn handle(input: PublishInput, deps: &PublishDeps) -> Result<Published, StepError> {
    let state = OutcomeState::from_value(input.state);
    let outcome = input.outcome;
    let message = notification(outcome, &state, &input.execution_arn);
    let detail = event_detail(outcome, &state, &input.execution_arn);
    if outcome.emails(&state) {
        deps.publisher.notify(&message).await?;
    }
    deps.publisher
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
    record_incident(outcome, &input.execution_arn, deps).await?;
    Ok(Published {
        outcome,
        subject: message.subject,
    })
}

/// Writes the incident's record at `outcome`, from the state Step Functions recorded as this
/// publish step's input: a caller can name any outcome and state in its payload, not the
/// history. A call that is not that step of a running execution records nothing.
async fn record_incident(
    outcome: Outcome,
    execution_arn: &str,
    deps: &PublishDeps,
) -> Result<(), StepError> {
    let step = match deps
        .executions
        .entered_state(execution_arn, outcome.publish_state())
        .await
    {
        Ok(step) => step,
        Err(error) if error.error_type() == "ForgedRequest" => {
            tracing::error!(%execution_arn, %error, "not this execution's publish step: nothing recorded");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    // `entered_state` proved it an execution of this state machine: it has a name.
    let incident = ApprovalId::of_execution(execution_arn).map_err(invalid_input)?;
    let now = OffsetDateTime::now_utc();
    let state = OutcomeState::from_value(step.input);
    let record = IncidentRecord::of(incident.as_str(), outcome, &state, now);
    deps.decisions.put_incident(&record, now).await?;
    tracing::info!(record = %record.item_key(), "incident recorded");
    Ok(())
}
