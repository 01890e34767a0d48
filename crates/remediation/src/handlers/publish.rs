//! Publish an outcome: one SNS notification for people, one EventBridge event for tools. Which
//! outcome is the state machine's decision: each outcome has its own publish state.

use incident::{Outcome, OutcomeState, event_detail, notification};
use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::publisher::Publisher;

pub struct PublishDeps {
    pub publisher: Publisher,
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
    deps.publisher.notify(&message).await?;
    deps.publisher
        .publish_event(outcome.detail_type(), &detail)
        .await?;
    if !state.unreadable.is_empty() {
        tracing::warn!(problems = ?state.unreadable, "published with unreadable parts of the state");
    }
    tracing::info!(?outcome, subject = %message.subject, "published");
    Ok(Published {
        outcome,
        subject: message.subject,
    })
}
