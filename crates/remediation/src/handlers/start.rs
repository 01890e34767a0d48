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

use std::collections::{HashMap, HashSet};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use incident::IncidentName;
use serde_json::Value;

use crate::error::{AwsFailure, StepError, invalid_input};
use crate::executions::{IncidentStarter, Start};

pub struct StartDeps {
    pub starter: IncidentStarter,
}

/// What a message asks for: the execution `name`, with the message body as its input.
struct Incident<'a> {
    name: String,
    body: &'a str,
    event: Value,
}

/// Starts one execution per message; the messages that did not are the batch's failures.
pub async fn handle(batch: SqsEvent, deps: &StartDeps) -> SqsBatchResponse {
    let incidents: Vec<Result<Incident, StepError>> = batch.records.iter().map(read).collect();
    // One StartExecution per name (the deliveries of one event in a batch share it), all at
    // once: a batch takes about one call's time, well inside the function's timeout.
    let mut calls: Vec<(&str, &str)> = Vec::new();
    for incident in incidents.iter().flatten() {
        if !calls.iter().any(|(name, _)| *name == incident.name) {
            calls.push((&incident.name, incident.body));
        }
    }
    let starts = join_all(
        calls
            .iter()
            .map(|(name, body)| deps.starter.start(name, body)),
    )
    .await;
    let started: HashMap<&str, Result<Start, AwsFailure>> =
        calls.iter().map(|(name, _)| *name).zip(starts).collect();
    let mut logged = HashSet::new();
    let mut response = SqsBatchResponse::default();
    for (message, incident) in batch.records.iter().zip(&incidents) {
        let failure = match incident {
            Ok(incident) => match &started[incident.name.as_str()] {
                Ok(start) => {
                    log_start(incident, start, !logged.insert(&incident.name));
                    continue;
                }
                Err(failure) => (failure.retryable, failure.to_string()),
            },
            Err(error) => (false, error.to_string()),
        };
        let message_id = message.message_id.clone().unwrap_or_default();
        tracing::error!(
            message_id,
            attempt = message
                .attributes
                .get("ApproximateReceiveCount")
                .map_or("?", String::as_str),
            transient = failure.0,
            error = failure.1,
            "not started: the message stays in the queue for another attempt, then the dead-letter queue"
        );
        response.add_failure(message_id);
    }
    response
}

fn read(message: &SqsMessage) -> Result<Incident<'_>, StepError> {
    let body = message.body.as_deref().unwrap_or_default();
    // Any JSON starts the workflow, which reads it and fails closed with a notice if it is not
    // an IAM change; only what no execution can take as input stays with the queue.
    let event: Value = serde_json::from_str(body)
        .map_err(|e| invalid_input(format!("the message body is not JSON: {e}")))?;
    Ok(Incident {
        name: IncidentName::of(&event).to_string(),
        body,
        event,
    })
}

/// `again`: another message of the same batch carried this event already.
fn log_start(incident: &Incident, start: &Start, again: bool) {
    let event = &incident.event;
    let event_id = event.get("id").and_then(Value::as_str).unwrap_or_default();
    let detail = |field: &str| {
        event
            .pointer(&format!("/detail/{field}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (cloudtrail_event_id, event_name) = (detail("eventID"), detail("eventName"));
    let name = &incident.name;
    match start {
        _ if again => tracing::warn!(
            incident = %name, event_id, cloudtrail_event_id, event_name,
            "duplicate delivery in the same batch: one execution for both; nothing more started"
        ),
        Start::Running { execution_arn } => tracing::info!(
            incident = %name, event_id, cloudtrail_event_id, event_name, execution_arn,
            "incident running (started now, or by an earlier delivery of this event)"
        ),
        Start::NameTaken => tracing::warn!(
            incident = %name, event_id, cloudtrail_event_id, event_name,
            "duplicate delivery: this event's incident exists already; nothing started"
        ),
    }
}
