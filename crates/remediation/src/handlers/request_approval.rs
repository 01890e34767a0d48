//! RequestApproval: called with the task token of the approval wait. Emails one approval request
//! whose link carries the approval id and a key derived from the token, never the token itself;
//! the approval API finds the token again in the execution's history. What the email says is
//! read from that history too (the request Step Functions recorded with that token), never from
//! the caller: whoever may invoke the function directly can send no email of their own making
//! under the stack's name, nor close other requests on a target of their choosing.

use approval::{
    ApprovalId, ApprovalKey, TaskToken, approval_link, approval_request_email, approval_requests,
    link_host, utc,
};
use incident::IncidentName;
use serde::{Deserialize, Serialize};

use crate::documents::DocumentStore;
use crate::error::{AwsFailure, StepError, invalid_input};
use crate::executions::{Executions, Sent};
use crate::handlers::alert_if_refused;
use crate::kms::MacKey;
use crate::publisher::Notifier;

pub struct RequestApprovalDeps {
    pub notifier: Notifier,
    /// Makes the link's key: a MAC of the task token that only the approval API can check.
    pub link_keys: MacKey,
    /// The approval API's base URL (no trailing slash needed).
    pub approval_url: String,
    /// The other incidents: one on the same target may supersede this one, or this one them;
    /// and this one's request, read from its history.
    pub executions: Executions,
    /// The operators' topic: told of every refused call.
    pub alerts: Notifier,
    /// Where a managed policy's quarantine kept its attachments: the email names them.
    pub documents: DocumentStore,
}

/// The state's name in the state machine.
const STEP: &str = "RequestApproval";

/// What request-approval takes from its payload: the execution, and the task token
/// `waitForTaskToken` hands over. The rest of the payload (the state machine sends the state
/// too) is ignored: the request is read from the execution's history.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalInvocation {
    pub task_token: TaskToken,
    pub execution_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    pub incident_id: String,
    pub approval_id: String,
    pub deadline: String,
}

pub async fn handle(
    invocation: ApprovalInvocation,
    deps: &RequestApprovalDeps,
) -> Result<ApprovalRequested, StepError> {
    if invocation.task_token.expose().trim().is_empty() {
        return Err(invalid_input("the approval request has no task token"));
    }
    let request = deps
        .executions
        .waiting_request(&invocation.execution_arn, STEP, &invocation.task_token)
        .await;
    let found = alert_if_refused(
        request,
        "request-approval",
        &invocation.execution_arn,
        &deps.alerts,
    )
    .await?;
    let request = found.request;
    let id = ApprovalId::of_execution(&request.execution_arn)
        .map_err(|e| invalid_input(format!("the approval request's executionArn: {e}")))?;
    take_over_target(&id, deps).await?;
    let mac = deps
        .link_keys
        .generate(&ApprovalKey::message(
            link_host(&deps.approval_url),
            &request.task_token,
        ))
        .await?;
    let key = ApprovalKey::from_mac(&mac)
        .map_err(|e| AwsFailure::unusable_answer("KMS GenerateMac", &e.to_string()))?;
    let link = approval_link(&deps.approval_url, &id, &key);
    // The deadline Step Functions counts (from the task's scheduling, as the page does), not
    // from now: this step's own run would make the email's later than the real one.
    let timeout = i64::try_from(request.approval_timeout_seconds).unwrap_or(i64::MAX);
    let deadline = found
        .deadline
        .or_else(|| {
            found
                .requested_at
                .checked_add(time::Duration::seconds(timeout))
        })
        .map_or_else(|| "no deadline".to_owned(), utc);
    let kept = request
        .quarantine
        .applied()
        .and_then(|q| q.action.attachments());
    let attached = deps.documents.attached_principals(kept).await?;
    let email = approval_request_email(&request, &link, &deadline, attached.as_deref());
    deps.notifier.notify(&email).await?;
    // The id, never the key or the token: whoever holds those can decide.
    tracing::info!(incident = %request.incident.id, approval_id = %id, %deadline, "approval requested");
    Ok(ApprovalRequested {
        incident_id: request.incident.id,
        approval_id: id.to_string(),
        deadline,
    })
}

/// One decision per target, about the policy as it is now: while a newer change to the same
/// target has an incident running, this one asks nothing (`Superseded`: no email, the
/// quarantine stays); otherwise the older incidents' open requests are closed, so their links
/// answer that this one replaced them. Executions not named by the starter are left alone.
///
/// Before the email goes out: a retry after a lost answer finds the older requests closed
/// already, and the email is sent once it did all this.
async fn take_over_target(id: &ApprovalId, deps: &RequestApprovalDeps) -> Result<(), StepError> {
    let Ok(mine) = id.as_str().parse::<IncidentName>() else {
        tracing::info!(approval_id = %id, "not an incident name: no other incident is compared");
        return Ok(());
    };
    let on_target: Vec<(String, IncidentName)> = deps
        .executions
        .running()
        .await?
        .into_iter()
        .filter_map(|(name, _)| Some((name.clone(), name.parse::<IncidentName>().ok()?)))
        .filter(|(_, theirs)| theirs.target == mine.target && *theirs != mine)
        .collect();
    if let Some((newer, _)) = on_target
        .iter()
        .find(|(_, theirs)| theirs.supersedes(&mine))
    {
        tracing::info!(approval_id = %id, %newer, "superseded by a newer incident on the target");
        return Err(StepError::Superseded(newer.clone()));
    }
    for (older, _) in on_target {
        let older_id = ApprovalId::parse(&older)
            .map_err(|e| invalid_input(format!("a running execution's name: {e}")))?;
        let Some(events) = deps.executions.history(&older_id).await? else {
            continue;
        };
        // Its latest request is the only one that can be open; none yet: it asks after this
        // one is running, and then finds it.
        let requests = approval_requests(&events).map_err(|e| invalid_input(e.to_string()))?;
        let Some(request) = requests.last() else {
            continue;
        };
        if deps
            .executions
            .supersede(&request.token, id.as_str())
            .await?
            == Sent::Recorded
        {
            tracing::info!(approval_id = %id, %older, "closed the older incident's request");
        }
    }
    Ok(())
}
