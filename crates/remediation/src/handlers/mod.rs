//! One module per Lambda function: a thin `handle(input, &deps)` over the domain and adapters.

pub mod analyse;
pub mod approval_api;
pub mod publish;
pub mod quarantine;
pub mod request_approval;
pub mod restore;
pub mod start;
pub mod sweep;

use approval::ApprovalId;
use incident::history::{FORGED_START, NotThisStep, started_by_the_starter};
use incident::refusal_alert;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use time::OffsetDateTime;

use crate::decisions::DecisionTable;
use crate::error::{StepError, invalid_input};
use crate::executions::{EnteredStep, Executions};
use crate::publisher::Notifier;

/// How the state machine calls a function that writes IAM: with its execution only. The
/// function reads the state its step was entered with from the execution's history, which no
/// caller can forge.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepInvocation {
    pub execution_arn: String,
}

impl StepInvocation {
    /// Reads a writer's payload. The state machine sends exactly `{"executionArn": ...}`, so
    /// anything else (a forged record, say) is refused and alerted like any call that is not
    /// the workflow's own.
    pub async fn read(
        payload: serde_json::Value,
        function: &str,
        alerts: &Notifier,
    ) -> Result<StepInvocation, StepError> {
        let read = serde_json::from_value::<StepInvocation>(payload.clone())
            .map_err(|e| StepError::NotTheWorkflow(NotThisStep::NotAnInvocation(e.to_string())));
        let given = payload
            .get("executionArn")
            .map_or_else(|| "(none)".to_owned(), |arn| arn.to_string());
        alert_if_refused(read, function, &given, alerts).await
    }
}

/// One part of a state read from the history (`incident`, `quarantine`, `approval`).
fn state_part<T: DeserializeOwned>(state: &serde_json::Value, part: &str) -> Result<T, StepError> {
    let value = state.get(part).cloned().unwrap_or_default();
    serde_json::from_value(value)
        .map_err(|e| invalid_input(format!("the state's {part} in the history: {e}")))
}

/// A refused call (naming `execution_arn`) is logged and told to the operators before the
/// refusal is returned (the alert's own failure is logged, never hides the refusal).
async fn alert_if_refused<T>(
    result: Result<T, StepError>,
    function: &str,
    execution_arn: &str,
    alerts: &Notifier,
) -> Result<T, StepError> {
    if let Err(error) = &result
        && matches!(error.error_type(), "ForgedRequest" | FORGED_START)
    {
        tracing::error!(function, execution_arn, %error, "refused a call that is not the workflow's own");
        let alert = refusal_alert(function, execution_arn, &error.to_string());
        if let Err(failure) = alerts.notify(&alert).await {
            tracing::error!(error = %failure, "the operators could not be alerted");
        }
    }
    result
}

/// The execution's name and the state its step `state` was entered with, when the execution
/// is one of this state machine's, running in that step, and one the incident starter started:
/// the starter's record names the input the history says it started with (T25). Anything else
/// is `NotThisStep` (`ForgedRequest`, or `ForgedStart` for a start made by hand).
async fn started_step(
    executions: &Executions,
    decisions: &DecisionTable,
    execution_arn: &str,
    state: &str,
) -> Result<(ApprovalId, EnteredStep), StepError> {
    let step = executions.entered_state(execution_arn, state).await?;
    // `entered_state` proved it an execution of this state machine: it has a name.
    let name = ApprovalId::of_execution(execution_arn).map_err(invalid_input)?;
    let record = decisions.start_record(name.as_str()).await?;
    started_by_the_starter(&step.events, record.as_ref(), OffsetDateTime::now_utc())?;
    Ok((name, step))
}
