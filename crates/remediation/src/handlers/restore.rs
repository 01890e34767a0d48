//! Restore (approval given): put exactly the original back, unless someone changed the policy
//! since the quarantine, in which case their change wins and the record says so.

use incident::{Incident, QuarantineAction, QuarantineRecord, RestoreRecord, RestoreStatus};
use serde::Deserialize;

use crate::error::{StepError, invalid_input};
use crate::handlers::same_json;
use crate::iam::IamPolicies;

pub struct RestoreDeps {
    pub iam: IamPolicies,
}

#[derive(Deserialize)]
pub struct RestoreInput {
    pub incident: Incident,
    pub quarantine: QuarantineRecord,
}

pub async fn handle(input: RestoreInput, deps: &RestoreDeps) -> Result<RestoreRecord, StepError> {
    let quarantine = input.quarantine;
    let action = quarantine
        .action
        .ok_or_else(|| invalid_input("the quarantine record has no action to undo"))?;
    let iam = &deps.iam;
    let record = match action {
        QuarantineAction::NewDefaultVersion {
            policy_arn,
            offending_version_id,
            quarantine_version_id,
            ..
        } => {
            let current = iam.default_version(&policy_arn).await?.map(|(id, _)| id);
            if current.as_deref() == Some(offending_version_id.as_str()) {
                // Restored already: by an attempt whose answer was lost before Step Functions
                // retried (or by hand). Finish it.
                if iam
                    .versions(&policy_arn)
                    .await?
                    .iter()
                    .any(|v| v.version_id == quarantine_version_id)
                {
                    iam.delete_version(&policy_arn, &quarantine_version_id)
                        .await?;
                }
                return Ok(restored(format!(
                    "version {offending_version_id} of {policy_arn} was the default again already; \
                     quarantine version {quarantine_version_id} deleted"
                )));
            }
            if current.as_deref() != Some(quarantine_version_id.as_str()) {
                return Ok(skipped(format!(
                    "the default version of {policy_arn} is now {}, not the quarantine version {quarantine_version_id}: \
                     someone changed the policy since, and restoring would undo their change",
                    current.as_deref().unwrap_or("gone")
                )));
            }
            iam.set_default_version(&policy_arn, &offending_version_id)
                .await?;
            iam.delete_version(&policy_arn, &quarantine_version_id)
                .await?;
            restored(format!(
                "version {offending_version_id} of {policy_arn} is the default again; quarantine version \
                 {quarantine_version_id} deleted"
            ))
        }
        QuarantineAction::InlineRewritten {
            principal,
            policy_name,
        } => {
            let original = quarantine
                .original_document
                .ok_or_else(|| invalid_input("the quarantine record has no original document"))?;
            let current = iam.inline_document(&principal, &policy_name).await?;
            if same_json(current.as_deref(), Some(&original)) {
                return Ok(restored(format!(
                    "inline policy {policy_name} of {principal} held its original document already"
                )));
            }
            let expected = quarantine.quarantined_document.as_deref();
            if !same_json(current.as_deref(), expected) {
                return Ok(skipped(format!(
                    "inline policy {policy_name} of {principal} changed after the quarantine: restoring would undo that change"
                )));
            }
            iam.put_inline(&principal, &policy_name, &original).await?;
            restored(format!(
                "inline policy {policy_name} of {principal} holds its original document again"
            ))
        }
        QuarantineAction::Detached {
            principal,
            policy_arn,
        } => {
            if iam.is_attached(&principal, &policy_arn).await? {
                return Ok(restored(format!(
                    "{policy_arn} was attached to {principal} already"
                )));
            }
            // Approval was given for the document seen at quarantine time: re-attach only that.
            let current = iam.default_version(&policy_arn).await?.map(|(_, d)| d);
            if current.is_none() {
                return Ok(skipped(format!(
                    "{policy_arn} no longer exists: nothing to re-attach"
                )));
            }
            if !same_json(current.as_deref(), quarantine.original_document.as_deref()) {
                return Ok(skipped(format!(
                    "the document of {policy_arn} changed after the quarantine: re-attaching would grant \
                     what nobody approved"
                )));
            }
            iam.attach(&principal, &policy_arn).await?;
            restored(format!("{policy_arn} is attached to {principal} again"))
        }
    };
    tracing::info!(incident = %input.incident.id, detail = %record.detail, "restored");
    Ok(record)
}

fn restored(detail: String) -> RestoreRecord {
    RestoreRecord {
        status: RestoreStatus::Restored,
        detail,
    }
}

fn skipped(detail: String) -> RestoreRecord {
    tracing::warn!(%detail, "restore skipped");
    RestoreRecord {
        status: RestoreStatus::Skipped,
        detail,
    }
}
