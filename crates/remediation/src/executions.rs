//! Step Functions, as this deployment's functions use it: an incident's execution started (the
//! starter), an execution's history (the approval API reads the request and its status there;
//! the writers, the state their own step was entered with; request-approval, the request it
//! emails), and the decision the approval API sends.

use approval::{ApprovalId, EventKind, HistoryEvent, SUPERSEDED, StateMachine};
use approval::{
    ApprovalStatus, FoundApproval, Lookup, TaskToken, approval_requests, find_approval,
};
use aws_sdk_sfn::config::http::HttpResponse;
use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent as SdkEvent, HistoryEventType};
use incident::history::{NotThisStep, entered_state};
use incident::{DecisionRecord, canonical_digest};
use time::OffsetDateTime;

use crate::decisions::DecisionTable;
use crate::error::{AwsFailure, StepError};

/// The state machine of this deployment: only its executions are read or decided.
#[derive(Clone)]
pub struct Executions {
    pub client: aws_sdk_sfn::Client,
    pub state_machine: StateMachine,
}

/// The state a writer's step was entered with, and the history it was read from.
#[derive(Debug)]
pub struct EnteredStep {
    pub input: serde_json::Value,
    pub events: Vec<HistoryEvent>,
}

/// A history read right after a state was entered may lag behind it: look again, briefly.
const STEP_LOOKS: u32 = 3;
const STEP_LOOK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(300);

/// Starts this deployment's incidents: executions of its one state machine, each recorded
/// first in the decision record (the writers act only in executions it recorded).
#[derive(Clone)]
pub struct IncidentStarter {
    pub client: aws_sdk_sfn::Client,
    pub state_machine_arn: String,
    pub records: DecisionTable,
}

/// What StartExecution did with an incident's name.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// An execution of that name runs with this input: just started, or started by an earlier
    /// delivery of the same event (Step Functions answers both alike while it runs).
    Running { execution_arn: String },
    /// The name is taken by this event's own execution, ended (a delivery after it). Nothing
    /// started.
    NameTaken,
    /// The name is taken by an execution with another input: someone started one under this
    /// event's name before the starter (T25's check fails it at its first step). This change
    /// has no incident: nothing started, and the operators must be told.
    TakenByAnother { execution_arn: String },
    /// The name was recorded with another input: the same CloudTrail event in another envelope,
    /// or a body made up under its event id. Nothing started.
    RecordedWithAnotherInput,
}

impl IncidentStarter {
    /// Starts the execution `name` with `input`, at most once: a Standard execution's name is
    /// refused for 90 days after its first use. Records it first (`DecisionTable::record_start`):
    /// under a name recorded with another input nothing is started.
    pub async fn start(&self, name: &str, input: &str) -> Result<Start, AwsFailure> {
        let digest = canonical_digest(input)
            .ok_or_else(|| AwsFailure::unusable_answer("the incident's input", "is not JSON"))?;
        if !self
            .records
            .record_start(name, &digest, OffsetDateTime::now_utc())
            .await?
        {
            return Ok(Start::RecordedWithAnotherInput);
        }
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match started {
            Ok(output) => Ok(Start::Running {
                execution_arn: output.execution_arn().to_owned(),
            }),
            Err(error) => {
                let failure = AwsFailure::from_sdk("Step Functions StartExecution", error);
                if failure.is("ExecutionAlreadyExists") {
                    Ok(self.taken(name, &digest).await)
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// Whose the execution that holds `name` is: this event's (its input's digest `digest`),
    /// or another input's. Unreadable, it is taken as this event's, as before this check: the
    /// check only decides whether the operators are told.
    async fn taken(&self, name: &str, digest: &str) -> Start {
        let (Ok(machine), Ok(id)) = (
            StateMachine::parse(&self.state_machine_arn),
            ApprovalId::parse(name),
        ) else {
            return Start::NameTaken;
        };
        let execution_arn = machine.execution_arn(&id);
        match self
            .client
            .describe_execution()
            .execution_arn(&execution_arn)
            .send()
            .await
        {
            Ok(described)
                if described.input().and_then(canonical_digest).as_deref() != Some(digest) =>
            {
                Start::TakenByAnother { execution_arn }
            }
            Ok(_) => Start::NameTaken,
            Err(error) => {
                let failure = AwsFailure::from_sdk("Step Functions DescribeExecution", error);
                tracing::warn!(incident = name, error = %failure, "could not read the execution that holds this event's name: taken as this event's own");
                Start::NameTaken
            }
        }
    }
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

impl Executions {
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

    /// The input that the execution `execution_arn` entered its state `expected` with, when that
    /// is one of this state machine's executions, still running and in that state now: the
    /// state a writer acts on, which only Step Functions can have written. Anything else is
    /// `NotThisStep` (a forged or replayed invocation).
    pub async fn entered_state(
        &self,
        execution_arn: &str,
        expected: &str,
    ) -> Result<EnteredStep, StepError> {
        let id = ApprovalId::of_execution(execution_arn)
            .ok()
            .filter(|id| self.state_machine.execution_arn(id) == execution_arn)
            .ok_or_else(|| NotThisStep::ForeignExecution(execution_arn.to_owned()))?;
        let mut looks = 0;
        loop {
            looks += 1;
            let events = self
                .history(&id)
                .await?
                .ok_or(NotThisStep::NoSuchExecution)?;
            match entered_state(&events, expected) {
                Ok(input) => {
                    let input = serde_json::from_str(input).map_err(|e| {
                        StepError::InvalidInput(format!(
                            "the {expected} state's input in the history: {e}"
                        ))
                    })?;
                    return Ok(EnteredStep { input, events });
                }
                Err(NotThisStep::OtherState { .. }) if looks < STEP_LOOKS => {
                    tokio::time::sleep(STEP_LOOK_INTERVAL).await;
                }
                Err(not_this_step) => return Err(not_this_step.into()),
            }
        }
    }

    /// The approval request the execution `execution_arn` waits with in its state `expected`,
    /// when `token` is that request's: an execution of this state machine, running, in that
    /// state, its last request scheduled with this very token and still open. The request is
    /// read from the history (what Step Functions recorded as the task's payload), never taken
    /// from the caller; anything else is `NotThisStep`.
    pub async fn waiting_request(
        &self,
        execution_arn: &str,
        expected: &str,
        token: &TaskToken,
    ) -> Result<FoundApproval, StepError> {
        let mut looks = 0;
        loop {
            looks += 1;
            let events = self.entered_state(execution_arn, expected).await?.events;
            let unreadable =
                |e: approval::UnreadableRequest| StepError::InvalidInput(e.to_string());
            let requests = approval_requests(&events).map_err(unreadable)?;
            match requests.last() {
                Some(last) if last.token == *token => {
                    let now = OffsetDateTime::now_utc();
                    return match find_approval(&events, Some(last.index), now)
                        .map_err(unreadable)?
                    {
                        Lookup::Found(found) if found.status == ApprovalStatus::Open => Ok(*found),
                        _ => Err(NotThisStep::RequestClosed.into()),
                    };
                }
                // A history read just after the task was scheduled may not show it yet.
                _ if looks < STEP_LOOKS => tokio::time::sleep(STEP_LOOK_INTERVAL).await,
                _ => return Err(NotThisStep::NotTheWaitingToken.into()),
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
        spent_or(sent.map(|_| ()), "SendTaskSuccess")
    }
}

impl Executions {
    /// The names and ARNs of this state machine's running executions, newest first.
    pub async fn running(&self) -> Result<Vec<(String, String)>, AwsFailure> {
        let pages = self
            .client
            .list_executions()
            .state_machine_arn(self.state_machine.arn())
            .status_filter(ExecutionStatus::Running)
            .max_results(1000)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsFailure::from_sdk("Step Functions ListExecutions", e))?;
        Ok(pages
            .iter()
            .flat_map(|page| page.executions())
            .map(|e| (e.name().to_owned(), e.execution_arn().to_owned()))
            .collect())
    }

    /// Closes an approval request that a newer incident (`by`, its execution name) replaces:
    /// the task fails with `Superseded`, which the state machine catches. A token no longer
    /// waiting (decided or timed out first) is `NotOpen`: one answer per token, whichever came
    /// first.
    pub async fn supersede(&self, token: &TaskToken, by: &str) -> Result<Sent, AwsFailure> {
        let sent = self
            .client
            .send_task_failure()
            .task_token(token.expose())
            .error(SUPERSEDED)
            .cause(by)
            .send()
            .await;
        spent_or(sent.map(|_| ()), "SendTaskFailure")
    }
}

/// A token call's answer: `NotOpen` for a token no longer waiting; any other failure keeps
/// only its code (a service's message may quote the token it refused).
fn spent_or<E>(sent: Result<(), SdkError<E, HttpResponse>>, call: &str) -> Result<Sent, AwsFailure>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match sent {
        Ok(()) => Ok(Sent::Recorded),
        Err(error) => {
            let mut failure = AwsFailure::from_sdk(&format!("Step Functions {call}"), error);
            if SPENT_TOKEN_CODES.iter().any(|code| failure.is(code)) {
                return Ok(Sent::NotOpen);
            }
            if let Some(code) = &failure.code {
                failure.message = format!("Step Functions {call} failed: {code}");
            }
            Err(failure)
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

fn failed(error: Option<&str>, cause: Option<&str>) -> EventKind {
    EventKind::ApprovalFailed {
        error: error.map(str::to_owned),
        cause: cause.map(str::to_owned),
    }
}

fn reduce(event: &SdkEvent) -> HistoryEvent {
    let timestamp = event.timestamp();
    let at = OffsetDateTime::from_unix_timestamp(timestamp.secs())
        .map(|t| t + time::Duration::nanoseconds(timestamp.subsec_nanos().into()))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    if let Some(details) = event.execution_started_event_details() {
        return HistoryEvent {
            at,
            kind: EventKind::ExecutionStarted {
                input: details.input().map(str::to_owned),
            },
        };
    }
    if let Some(details) = event.state_entered_event_details() {
        return HistoryEvent {
            at,
            kind: EventKind::StateEntered {
                name: details.name().to_owned(),
                input: details.input().map(str::to_owned),
            },
        };
    }
    if let Some(details) = event.state_exited_event_details() {
        return HistoryEvent {
            at,
            kind: EventKind::StateExited {
                name: details.name().to_owned(),
            },
        };
    }
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
        HistoryEventType::TaskFailed => of_approval_task!(event.task_failed_event_details())
            .map(|d| failed(d.error(), d.cause())),
        HistoryEventType::TaskStartFailed => {
            of_approval_task!(event.task_start_failed_event_details())
                .map(|d| failed(d.error(), d.cause()))
        }
        HistoryEventType::TaskSubmitFailed => {
            of_approval_task!(event.task_submit_failed_event_details())
                .map(|d| failed(d.error(), d.cause()))
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
