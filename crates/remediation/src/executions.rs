//! Step Functions for the approval API: the approval's execution history, and the decision.

use approval::TaskToken;
use approval::{ApprovalId, EventKind, HistoryEvent};
use aws_sdk_sfn::types::{HistoryEvent as SdkEvent, HistoryEventType};
use incident::DecisionRecord;
use time::OffsetDateTime;

use crate::error::AwsFailure;

/// The state machine whose executions the approval links name.
#[derive(Clone)]
pub struct ApprovalTasks {
    pub client: aws_sdk_sfn::Client,
    pub state_machine: approval::StateMachine,
}

/// Whether SendTaskSuccess recorded the decision.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    Recorded,
    /// The task is no longer waiting: decided, timed out or closed (the token is spent).
    NotOpen,
}

/// The codes Step Functions gives for a token that is no longer waiting.
const SPENT_TOKEN_CODES: &[&str] = &["InvalidToken", "TaskDoesNotExist", "TaskTimedOut"];

impl ApprovalTasks {
    /// The execution's history, or `None` when there is no such execution.
    pub async fn history(&self, id: &ApprovalId) -> Result<Option<Vec<HistoryEvent>>, AwsFailure> {
        let pages = self
            .client
            .get_execution_history()
            .execution_arn(self.state_machine.execution_arn(id))
            .include_execution_data(true)
            .max_results(1000)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await;
        match pages {
            Ok(pages) => Ok(Some(
                pages
                    .iter()
                    .flat_map(|page| page.events())
                    .map(reduce)
                    .collect(),
            )),
            Err(error) => {
                let failure = AwsFailure::from_sdk("Step Functions GetExecutionHistory", error);
                if failure.is("ExecutionDoesNotExist") || failure.is("InvalidArn") {
                    Ok(None)
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// Sends the decision as the approval task's output. Exactly one call per token succeeds,
    /// so of two decisions sent at once, one is `Recorded` and the other `NotOpen`.
    pub async fn send_decision(
        &self,
        token: &TaskToken,
        decision: &DecisionRecord,
    ) -> Result<Sent, AwsFailure> {
        let output = serde_json::to_string(decision).map_err(|e| {
            AwsFailure::unusable_answer(
                "SendTaskSuccess",
                &format!("cannot take the decision as JSON: {e}"),
            )
        })?;
        let sent = self
            .client
            .send_task_success()
            .task_token(token.expose())
            .output(output)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Sent::Recorded),
            Err(error) => {
                let mut failure = AwsFailure::from_sdk("Step Functions SendTaskSuccess", error);
                if SPENT_TOKEN_CODES.iter().any(|code| failure.is(code)) {
                    return Ok(Sent::NotOpen);
                }
                // A service's message may quote the token it refused: keep only the code.
                if let Some(code) = &failure.code {
                    failure.message = format!("Step Functions SendTaskSuccess failed: {code}");
                }
                Err(failure)
            }
        }
    }
}

/// The approval task is the workflow's only `lambda:invoke.waitForTaskToken` task.
fn is_approval_task(resource_type: &str, resource: &str) -> bool {
    resource_type == "lambda" && resource == "invoke.waitForTaskToken"
}

/// An event's details, if they are the approval task's (each task event type has its own
/// details type, all with `resource_type` and `resource`).
macro_rules! of_approval_task {
    ($details:expr) => {
        $details.filter(|d| is_approval_task(d.resource_type(), d.resource()))
    };
}

fn reduce(event: &SdkEvent) -> HistoryEvent {
    let timestamp = event.timestamp();
    let at = OffsetDateTime::from_unix_timestamp(timestamp.secs())
        .map(|t| t + time::Duration::nanoseconds(timestamp.subsec_nanos().into()))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let kind = match event.r#type() {
        HistoryEventType::TaskScheduled => of_approval_task!(event.task_scheduled_event_details())
            .map(|d| EventKind::ApprovalScheduled {
                parameters: d.parameters().to_owned(),
                timeout_seconds: d.timeout_in_seconds(),
            }),
        HistoryEventType::TaskSucceeded => of_approval_task!(event.task_succeeded_event_details())
            .map(|d| EventKind::ApprovalSucceeded {
                output: d.output().map(str::to_owned),
            }),
        HistoryEventType::TaskTimedOut => of_approval_task!(event.task_timed_out_event_details())
            .map(|_| EventKind::ApprovalTimedOut),
        HistoryEventType::TaskFailed => {
            of_approval_task!(event.task_failed_event_details()).map(|_| EventKind::ApprovalFailed)
        }
        HistoryEventType::TaskStartFailed => {
            of_approval_task!(event.task_start_failed_event_details())
                .map(|_| EventKind::ApprovalFailed)
        }
        HistoryEventType::TaskSubmitFailed => {
            of_approval_task!(event.task_submit_failed_event_details())
                .map(|_| EventKind::ApprovalFailed)
        }
        HistoryEventType::ExecutionSucceeded
        | HistoryEventType::ExecutionFailed
        | HistoryEventType::ExecutionAborted
        | HistoryEventType::ExecutionTimedOut => Some(EventKind::ExecutionEnded),
        _ => None,
    };
    HistoryEvent {
        at,
        kind: kind.unwrap_or(EventKind::Other),
    }
}
