//! Publish an outcome: one SNS notification for people, one EventBridge event for tools.

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
    pub state: OutcomeState,
}

#[derive(Serialize)]
pub struct Published {
    pub outcome: Outcome,
    pub subject: String,
}

pub async fn handle(input: PublishInput, deps: &PublishDeps) -> Result<Published, StepError> {
    let message = notification(input.outcome, &input.state, &input.execution_arn);
    let detail = event_detail(input.outcome, &input.state, &input.execution_arn);
    deps.publisher.notify(&message).await?;
    deps.publisher
        .publish_event(input.outcome.detail_type(), &detail)
        .await?;
    tracing::info!(outcome = ?input.outcome, subject = %message.subject, "published");
    Ok(Published {
        outcome: input.outcome,
        subject: message.subject,
    })
}
