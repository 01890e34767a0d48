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
//!
//! Only a message the queue handed over starts anything: whoever may invoke the function could
//! otherwise start incidents of their own making, unseen (an invocation is in no management
//! trail). Each record must name the queue as its source and carry a receipt handle the queue
//! holds in flight; any other is refused, told to the operators, and not retried.

use std::collections::{HashMap, HashSet};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use incident::{IncidentName, forged_delivery_alert, name_taken_alert};
use serde_json::Value;

use crate::error::AwsFailure;
use crate::executions::{IncidentStarter, Start};
use crate::incident_queue::IncidentQueue;
use crate::publisher::Notifier;

pub struct StartDeps {
    pub starter: IncidentStarter,
    /// The queue the trigger rule and the sweep deliver to: only its messages start anything.
    pub queue: IncidentQueue,
    pub queue_arn: String,
    /// The operators' topic: told of every record refused.
    pub alerts: Notifier,
}

/// How long a message the starter checked stays in flight: the queue's visibility timeout
/// (`IncidentQueue` in template.yaml, six times the function's).
const IN_FLIGHT_SECONDS: i32 = 180;

/// What a message asks for: the execution `name`, with the message body as its input.
struct Incident<'a> {
    name: String,
    body: &'a str,
    event: Value,
}

/// Why a message started nothing.
enum NotStarted {
    /// SQS delivers it again (`transient`: a later attempt may well succeed).
    Failed { transient: bool, error: String },
    /// Not a message the queue handed over: nothing to deliver again.
    Refused(String),
}

/// Starts one execution per message; the messages that did not are the batch's failures.
pub async fn handle(batch: SqsEvent, deps: &StartDeps) -> SqsBatchResponse {
    let held = join_all(batch.records.iter().map(|m| from_the_queue(m, deps))).await;
    let incidents: Vec<Result<Incident, NotStarted>> = batch
        .records
        .iter()
        .zip(held)
        .map(|(message, held)| held.and_then(|()| read(message)))
        .collect();
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
    let mut refused = Vec::new();
    let mut taken = Vec::new();
    for (message, incident) in batch.records.iter().zip(&incidents) {
        let (transient, error) = match incident {
            Ok(incident) => match &started[incident.name.as_str()] {
                Ok(start) => {
                    let first = logged.insert(&incident.name);
                    log_start(incident, start, !first);
                    if let (true, Start::TakenByAnother { execution_arn }) = (first, start) {
                        taken.push((&incident.event, execution_arn.as_str()));
                    }
                    continue;
                }
                Err(failure) => (failure.retryable, failure.to_string()),
            },
            Err(NotStarted::Failed { transient, error }) => (*transient, error.clone()),
            Err(NotStarted::Refused(reason)) => {
                let message_id = message.message_id.clone().unwrap_or_default();
                tracing::error!(
                    message_id,
                    reason,
                    "refused a record its queue did not hand over: nothing started"
                );
                refused.push((message_id, reason.clone()));
                continue;
            }
        };
        let message_id = message.message_id.clone().unwrap_or_default();
        tracing::error!(
            message_id,
            attempt = message
                .attributes
                .get("ApproximateReceiveCount")
                .map_or("?", String::as_str),
            transient,
            error,
            "not started: the message stays in the queue for another attempt, then the dead-letter queue"
        );
        response.add_failure(message_id);
    }
    if !refused.is_empty()
        && let Err(failure) = deps.alerts.notify(&forged_delivery_alert(&refused)).await
    {
        tracing::error!(error = %failure, "the operators could not be alerted");
    }
    if !taken.is_empty()
        && let Err(failure) = deps.alerts.notify(&name_taken_alert(&taken)).await
    {
        tracing::error!(error = %failure, "the operators could not be alerted");
    }
    response
}

/// Whether `message` is one the queue handed over and holds: its source, then its receipt
/// handle, which only SQS can check.
async fn from_the_queue(message: &SqsMessage, deps: &StartDeps) -> Result<(), NotStarted> {
    if message.event_source_arn.as_deref() != Some(deps.queue_arn.as_str()) {
        return Err(NotStarted::Refused(format!(
            "its source is {:?}, not this deployment's queue",
            message.event_source_arn.as_deref().unwrap_or("(none)")
        )));
    }
    let Some(receipt_handle) = message.receipt_handle.as_deref().filter(|h| !h.is_empty()) else {
        return Err(NotStarted::Refused("it has no receipt handle".into()));
    };
    match deps.queue.holds(receipt_handle, IN_FLIGHT_SECONDS).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(NotStarted::Refused(
            "the queue never handed over a message with its receipt handle".into(),
        )),
        Err(failure) => Err(NotStarted::Failed {
            transient: failure.retryable,
            error: failure.to_string(),
        }),
    }
}

fn read(message: &SqsMessage) -> Result<Incident<'_>, NotStarted> {
    let body = message.body.as_deref().unwrap_or_default();
    // Any JSON starts the workflow, which reads it and fails closed with a notice if it is not
    // an IAM change; only what no execution can take as input stays with the queue.
    let event: Value = serde_json::from_str(body).map_err(|e| NotStarted::Failed {
        transient: false,
        error: format!("the message body is not JSON: {e}"),
    })?;
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
        Start::TakenByAnother { execution_arn } => tracing::error!(
            incident = %name, event_id, cloudtrail_event_id, event_name, execution_arn,
            "this event's execution name was taken by an execution with another input: \
             nothing started, the change has no incident; the operators are told"
        ),
        Start::RecordedWithAnotherInput => tracing::warn!(
            incident = %name, event_id, cloudtrail_event_id, event_name,
            "this event's incident was recorded with another input (the same CloudTrail event \
             in another envelope, or a body made up under its id): nothing started"
        ),
    }
}
