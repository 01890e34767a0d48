//! Quarantine: take the restricted grants out of force at once, keeping the original.
//! Always works on the policy as it is now: if it changed since the event, the newer state is
//! what gets analysed and quarantined (never clobbered with an older document).

use incident::{
    DeletedVersion, Incident, PrincipalKind, QuarantineAction, QuarantineRecord, QuarantineStatus,
    Target,
};
use policy_engine::{Catalog, Policy, PolicyKind, RestrictedActions, analyse, plan};
use serde::Deserialize;

use crate::error::{StepError, invalid_input};
use crate::handlers::same_json;
use crate::iam::IamPolicies;

/// IAM keeps at most this many versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

pub struct QuarantineDeps {
    pub iam: IamPolicies,
    pub restricted: RestrictedActions,
}

#[derive(Deserialize)]
pub struct QuarantineInput {
    pub incident: Incident,
}

pub async fn handle(
    input: QuarantineInput,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let incident = input.incident;
    let change = incident
        .change
        .ok_or_else(|| invalid_input("the incident has no change to quarantine"))?;
    let record = match change.target {
        Target::ManagedPolicy { policy_arn } => {
            quarantine_managed(&policy_arn, incident.version_id.as_deref(), deps).await?
        }
        Target::InlinePolicy {
            principal,
            policy_name,
        } => {
            let Some(current) = deps.iam.inline_document(&principal, &policy_name).await? else {
                return Ok(not_needed("the inline policy no longer exists"));
            };
            let budget = inline_budget(&deps.iam, &principal, &policy_name).await?;
            let mut record = match rewrite(&current, budget, deps)? {
                Some(record) => {
                    let quarantined = record.quarantined_document.as_deref().unwrap_or_default();
                    deps.iam
                        .put_inline(&principal, &policy_name, quarantined)
                        .await?;
                    record
                }
                None => match own_earlier_quarantine(
                    incident.document.as_deref(),
                    &current,
                    budget,
                    deps,
                )? {
                    Some(record) => record,
                    None => {
                        return Ok(not_needed(
                            "the inline policy, as it is now, grants no restricted action",
                        ));
                    }
                },
            };
            record.action = Some(QuarantineAction::InlineRewritten {
                principal,
                policy_name,
            });
            record
        }
        Target::Attachment {
            principal,
            policy_arn,
        } => {
            if !deps.iam.is_attached(&principal, &policy_arn).await? {
                return Ok(not_needed("the policy is no longer attached"));
            }
            let Some((_, document)) = deps.iam.default_version(&policy_arn).await? else {
                return Ok(not_needed("the attached policy no longer exists"));
            };
            let findings = findings_of(&document, deps)?;
            if findings.is_empty() {
                return Ok(not_needed(
                    "the attached policy, as it is now, grants no restricted action",
                ));
            }
            deps.iam.detach(&principal, &policy_arn).await?;
            QuarantineRecord {
                status: QuarantineStatus::Applied,
                reason: None,
                action: Some(QuarantineAction::Detached {
                    principal,
                    policy_arn,
                }),
                original_document: Some(document),
                quarantined_document: None,
                changes: Vec::new(),
                findings,
            }
        }
    };
    tracing::info!(action = ?record.action, "quarantined");
    Ok(record)
}

async fn quarantine_managed(
    policy_arn: &str,
    analysed_version: Option<&str>,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let Some((current_version_id, current)) = deps.iam.default_version(policy_arn).await? else {
        return Ok(not_needed("the policy no longer exists"));
    };
    let limit = PolicyKind::Managed.size_limit();
    let Some(mut record) = rewrite(&current, limit, deps)? else {
        // The default version is clean. It may be this step's own quarantine version, made by
        // an attempt whose answer Step Functions did not get before it retried.
        if let Some(offending) = analysed_version.filter(|v| *v != current_version_id)
            && let Some(original) = deps.iam.version_document(policy_arn, offending).await?
            && let Some(mut record) =
                own_earlier_quarantine(Some(&original), &current, limit, deps)?
        {
            record.action = Some(QuarantineAction::NewDefaultVersion {
                policy_arn: policy_arn.to_owned(),
                offending_version_id: offending.to_owned(),
                quarantine_version_id: current_version_id,
                deleted_version: None,
            });
            return Ok(record);
        }
        return Ok(not_needed(&format!(
            "the policy's default version ({current_version_id}) grants no restricted action"
        )));
    };
    let offending_version_id = current_version_id;
    let deleted_version = make_room(policy_arn, &offending_version_id, &deps.iam).await?;
    let quarantined = record.quarantined_document.as_deref().unwrap_or_default();
    let quarantine_version_id = deps
        .iam
        .create_default_version(policy_arn, quarantined)
        .await?;
    record.action = Some(QuarantineAction::NewDefaultVersion {
        policy_arn: policy_arn.to_owned(),
        offending_version_id,
        quarantine_version_id,
        deleted_version,
    });
    Ok(record)
}

/// Step Functions retries a step whose answer it did not get, even when the step did its work.
/// A retried quarantine then finds the policy clean: when the document in force is exactly the
/// quarantine of `original`, it is this step's own, and it stands as if just applied (and the
/// approval request still goes out), instead of reading as superseded.
fn own_earlier_quarantine(
    original: Option<&str>,
    current: &str,
    size_limit: usize,
    deps: &QuarantineDeps,
) -> Result<Option<QuarantineRecord>, StepError> {
    let Some(record) = original
        .map(|o| rewrite(o, size_limit, deps))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    if !same_json(record.quarantined_document.as_deref(), Some(current)) {
        return Ok(None);
    }
    tracing::info!("the quarantine is already in place: a retried attempt");
    Ok(Some(record))
}

/// At IAM's version limit, deletes the oldest version that is neither the default nor the
/// offending one, and returns its document so nothing is lost.
async fn make_room(
    policy_arn: &str,
    offending: &str,
    iam: &IamPolicies,
) -> Result<Option<DeletedVersion>, StepError> {
    let versions = iam.versions(policy_arn).await?;
    if versions.len() < MAX_POLICY_VERSIONS {
        return Ok(None);
    }
    let Some(oldest) = versions
        .iter()
        .find(|v| !v.is_default && v.version_id != offending)
    else {
        return Err(StepError::PolicyConflict(format!(
            "{policy_arn} has {} versions and none can be deleted to make room",
            versions.len()
        )));
    };
    let document = iam
        .version_document(policy_arn, &oldest.version_id)
        .await?
        .unwrap_or_default();
    // Logged before it goes: if this attempt's answer is lost and the step retried, the
    // record no longer names it, and the log is where its document stays.
    tracing::warn!(policy = policy_arn, version = %oldest.version_id, %document, "deleting the oldest spare version to make room");
    iam.delete_version(policy_arn, &oldest.version_id).await?;
    Ok(Some(DeletedVersion {
        version_id: oldest.version_id.clone(),
        document,
    }))
}

/// What is left of the principal's inline-policy quota for this policy.
async fn inline_budget(
    iam: &IamPolicies,
    principal: &incident::Principal,
    policy_name: &str,
) -> Result<usize, StepError> {
    let limit = match principal.kind {
        PrincipalKind::User => PolicyKind::UserInline,
        PrincipalKind::Role => PolicyKind::RoleInline,
        PrincipalKind::Group => PolicyKind::GroupInline,
    }
    .size_limit();
    let mut used = 0;
    for other in iam
        .inline_policy_names(principal)
        .await?
        .iter()
        .filter(|n| *n != policy_name)
    {
        if let Some(document) = iam.inline_document(principal, other).await? {
            used += Policy::parse(&document).map_or(document.len(), |p| p.size());
        }
    }
    Ok(limit.saturating_sub(used))
}

/// Plans the quarantine of a document; None when it grants nothing restricted.
fn rewrite(
    document: &str,
    size_limit: usize,
    deps: &QuarantineDeps,
) -> Result<Option<QuarantineRecord>, StepError> {
    let policy =
        Policy::parse(document).map_err(|e| invalid_input(format!("the current policy: {e}")))?;
    let catalog = Catalog::embedded();
    let analysis = analyse(&policy, &deps.restricted, catalog);
    if !analysis.grants_restricted() {
        return Ok(None);
    }
    let quarantine = plan(&policy, &deps.restricted, catalog, size_limit)
        .map_err(|e| StepError::NonRetryable(format!("cannot quarantine: {e}")))?;
    Ok(Some(QuarantineRecord {
        status: QuarantineStatus::Applied,
        reason: None,
        action: None,
        original_document: Some(document.to_owned()),
        quarantined_document: Some(quarantine.policy.to_json()),
        changes: quarantine.changes,
        findings: analysis.findings,
    }))
}

fn findings_of(
    document: &str,
    deps: &QuarantineDeps,
) -> Result<Vec<policy_engine::Finding>, StepError> {
    let policy =
        Policy::parse(document).map_err(|e| invalid_input(format!("the attached policy: {e}")))?;
    Ok(analyse(&policy, &deps.restricted, Catalog::embedded()).findings)
}

fn not_needed(reason: &str) -> QuarantineRecord {
    tracing::info!(reason, "no quarantine needed");
    QuarantineRecord {
        status: QuarantineStatus::NotNeeded,
        reason: Some(reason.to_owned()),
        action: None,
        original_document: None,
        quarantined_document: None,
        changes: Vec::new(),
        findings: Vec::new(),
    }
}
