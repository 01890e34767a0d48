//! Start an incident: the trigger rule delivers each CloudTrail event to a queue, and each
//! message starts the workflow with the event, unchanged, as its input, in an execution named
//! after the event (`incident::IncidentName`). EventBridge delivers at least once and SQS too,
//! so the same event can arrive twice; Step Functions starts one Standard execution per name,
//! so the second delivery starts nothing.
//!
//! A message that did not start its execution (throttling, an error, no answer, a body that is
//! not JSON) is reported in `batchItemFailures`: SQS delivers it again after the queue's
//! visibility timeout and, after the redrive policy's last attempt, moves it to the dead-letter
//! queue, which has an alarm. Nothing is dropped.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use incident::IncidentName;
use serde_json::Value;

use crate::error::{StepError, invalid_input};
use crate::executions::{IncidentStarter, Start};

pub struct StartDeps {
    pub starter: IncidentStarter,
}

/// Starts one execution per message; the messages that did not are the batch's failures.
pub async fn handle(batch: SqsEvent, deps: &StartDeps) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let attempt = message
            .attributes
            .get("ApproximateReceiveCount")
            .map_or("?", String::as_str);
        if let Err(error) = start(&message, deps).await {
            tracing::error!(
                message_id,
                attempt,
                error_type = error.error_type(),
                %error,
                "not started: the message stays in the queue for another attempt, then the dead-letter queue"
            );
            response.add_failure(message_id);
        }
    }
    response
}

async fn start(message: &SqsMessage, deps: &StartDeps) -> Result<(), StepError> {
    let body = message.body.as_deref().unwrap_or_default();
    // Any JSON starts the workflow, which reads it and fails closed with a notice if it is not
    // an IAM change; only what no execution can take as input stays with the queue.
    let event: Value = serde_json::from_str(body)
        .map_err(|e| invalid_input(format!("the message body is not JSON: {e}")))?;
    let name = IncidentName::of(&event).to_string();
    let event_id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    let detail = |field: &str| {
        event
            .pointer(&format!("/detail/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (cloudtrail_event_id, event_name) = (detail("eventID"), detail("eventName"));
    match deps.starter.start(&name, body).await? {
        Start::Running { execution_arn } => tracing::info!(
            incident = %name, event_id, cloudtrail_event_id, event_name, execution_arn,
            "incident running (started now, or by an earlier delivery of this event)"
        ),
        Start::NameTaken => tracing::warn!(
            incident = %name, event_id, cloudtrail_event_id, event_name,
            "duplicate delivery: this event's incident exists already; nothing started"
        ),
    }
    Ok(())
}
