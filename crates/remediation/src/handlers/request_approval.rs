//! RequestApproval: called with the task token of the approval wait. The email and the approval
//! page come with the human-approval work; until then the request is recorded (never the token)
//! and, without a decision, the deadline keeps the quarantine.

use incident::{Incident, QuarantineRecord};
use serde::{Deserialize, Serialize};

use crate::error::{StepError, invalid_input};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    pub task_token: String,
    pub execution_arn: String,
    pub incident: Incident,
    pub quarantine: QuarantineRecord,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    pub incident_id: String,
}

pub async fn handle(request: ApprovalRequest) -> Result<ApprovalRequested, StepError> {
    if request.task_token.trim().is_empty() {
        return Err(invalid_input("the approval request has no task token"));
    }
    tracing::info!(incident = %request.incident.id, execution = %request.execution_arn, "approval requested");
    Ok(ApprovalRequested {
        incident_id: request.incident.id,
    })
}
