//! Restore (approval given): reads what IAM holds now, lets `incident::restore` decide whether
//! the original goes back (only while the quarantine is what is in force), then writes.

use incident::restore::{
    AttachmentRestoreNow, InlineRestoreNow, ManagedRestoreNow, RestorePlan, RestoreWrite,
    restore_attachment, restore_inline, restore_managed,
};
use incident::{Assessment, QuarantineAction, QuarantineRecord, RestoreRecord, RestoreStatus};
use serde::Deserialize;

use crate::error::{StepError, invalid_input};
use crate::iam::IamPolicies;

pub struct RestoreDeps {
    pub iam: IamPolicies,
}

#[derive(Deserialize)]
pub struct RestoreInput {
    pub incident: Assessment,
    pub quarantine: QuarantineRecord,
}

pub async fn handle(input: RestoreInput, deps: &RestoreDeps) -> Result<RestoreRecord, StepError> {
    let QuarantineRecord::Applied(applied) = input.quarantine else {
        return Err(invalid_input("only an applied quarantine can be restored"));
    };
    let iam = &deps.iam;
    let plan = match applied.action {
        QuarantineAction::NewDefaultVersion {
            policy_arn,
            offending_version_id,
            quarantine_version_id,
            ..
        } => {
            let default_version_id = iam.default_version(&policy_arn).await?.map(|(id, _)| id);
            let quarantine_version_exists = iam
                .versions(&policy_arn)
                .await?
                .iter()
                .any(|v| v.version_id == quarantine_version_id);
            restore_managed(&ManagedRestoreNow {
                policy_arn,
                offending_version_id,
                quarantine_version_id,
                default_version_id,
                quarantine_version_exists,
            })
        }
        QuarantineAction::InlineRewritten {
            principal,
            policy_name,
        } => {
            let current = iam.inline_document(&principal, &policy_name).await?;
            restore_inline(&InlineRestoreNow {
                principal,
                policy_name,
                original: applied.original_document,
                quarantined: applied.quarantined_document,
                current,
            })
        }
        QuarantineAction::Detached {
            principal,
            policy_arn,
        } => {
            let attached = iam.is_attached(&principal, &policy_arn).await?;
            let current = if attached {
                None
            } else {
                iam.default_version(&policy_arn).await?.map(|(_, d)| d)
            };
            restore_attachment(&AttachmentRestoreNow {
                principal,
                policy_arn,
                original: applied.original_document,
                attached,
                current,
            })
        }
    };
    let RestorePlan { writes, record } = plan;
    for write in &writes {
        apply(write, iam).await?;
    }
    match record.status {
        RestoreStatus::Restored => {
            tracing::info!(incident = %input.incident.id, detail = %record.detail, "restored")
        }
        RestoreStatus::Skipped => {
            tracing::warn!(incident = %input.incident.id, detail = %record.detail, "restore skipped")
        }
    }
    Ok(record)
}

async fn apply(write: &RestoreWrite, iam: &IamPolicies) -> Result<(), StepError> {
    match write {
        RestoreWrite::SetDefaultVersion {
            policy_arn,
            version_id,
        } => iam.set_default_version(policy_arn, version_id).await?,
        RestoreWrite::DeleteVersion {
            policy_arn,
            version_id,
        } => iam.delete_version(policy_arn, version_id).await?,
        RestoreWrite::PutInline {
            principal,
            policy_name,
            document,
        } => iam.put_inline(principal, policy_name, document).await?,
        RestoreWrite::Attach {
            principal,
            policy_arn,
        } => iam.attach(principal, policy_arn).await?,
    }
    Ok(())
}
