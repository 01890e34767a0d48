//! RequestApproval: called with the task token of the approval wait. Emails one approval request
//! whose link carries the approval id and a key derived from the token, never the token itself;
//! the approval API finds the token again in the execution's history.

use approval::{
    ApprovalId, ApprovalKey, ApprovalRequest, approval_link, approval_request_email, utc,
};
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{AwsFailure, StepError, invalid_input};
use crate::kms::MacKey;
use crate::publisher::Notifier;

pub struct RequestApprovalDeps {
    pub notifier: Notifier,
    /// Makes the link's key: a MAC of the task token that only the approval API can check.
    pub link_keys: MacKey,
    /// The approval API's base URL (no trailing slash needed).
    pub approval_url: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    pub incident_id: String,
    pub approval_id: String,
    pub deadline: String,
}

pub async fn handle(
    request: ApprovalRequest,
    deps: &RequestApprovalDeps,
) -> Result<ApprovalRequested, StepError> {
    if request.task_token.expose().trim().is_empty() {
        return Err(invalid_input("the approval request has no task token"));
    }
    let id = ApprovalId::of_execution(&request.execution_arn)
        .map_err(|e| invalid_input(format!("the approval request's executionArn: {e}")))?;
    let mac = deps
        .link_keys
        .generate(&ApprovalKey::message(&request.task_token))
        .await?;
    let key = ApprovalKey::from_mac(&mac)
        .map_err(|e| AwsFailure::unusable_answer("KMS GenerateMac", &e.to_string()))?;
    let link = approval_link(&deps.approval_url, &id, &key);
    let timeout = i64::try_from(request.approval_timeout_seconds).unwrap_or(i64::MAX);
    let deadline = OffsetDateTime::now_utc()
        .checked_add(time::Duration::seconds(timeout))
        .map_or_else(|| "no deadline".to_owned(), utc);
    let email = approval_request_email(&request, &link, &deadline);
    deps.notifier.notify(&email).await?;
    // The id, never the key or the token: whoever holds those can decide.
    tracing::info!(incident = %request.incident.id, approval_id = %id, %deadline, "approval requested");
    Ok(ApprovalRequested {
        incident_id: request.incident.id,
        approval_id: id.to_string(),
        deadline,
    })
}
