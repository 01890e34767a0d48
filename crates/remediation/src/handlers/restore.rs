//! Restore (approval given): acts only as the Restore step of a running execution of this
//! deployment, on the quarantine and the decision that step was entered with (read from the
//! history), and only when the decision carries the approval API's proof. Reads what IAM holds
//! now, lets `incident::restore` decide whether the original goes back (only while the
//! quarantine is what is in force), then writes.

use approval::{ApprovalId, approval_requests, decision_message, decode_proof};
use incident::boundary::{BoundaryRestoreNow, ledger_after_restore, restore_boundary};
use incident::decision_log::{GrantKey, quarantined_target};
use incident::membership::group_document;
use incident::restore::{
    AttachmentRestoreNow, InlineRestoreNow, ManagedRestoreNow, MembershipRestoreNow, Places,
    RestorePlan, RestoreWrite, approved_attachments, forecast_count_quota, refused_over_quota,
    replaced_since, restore_attachment, restore_inline, restore_managed, restore_membership,
};
use incident::{
    Decision, DecisionRecord, Principal, PrincipalId, QuarantineAction, QuarantineRecord,
    RestoreRecord, RestoreStatus, Target,
};
use time::OffsetDateTime;

use crate::boundaries::{self, InForce};
use crate::decisions::DecisionTable;
use crate::documents::DocumentStore;
use crate::error::{AwsFailure, StepError, invalid_input};
use crate::executions::Executions;
use crate::handlers::{StepInvocation, alert_if_refused, state_part};
use crate::iam::IamPolicies;
use crate::kms::MacKey;
use crate::principals::{group_policies, other_inline_documents};
use crate::publisher::Notifier;

pub struct RestoreDeps {
    pub iam: IamPolicies,
    /// Where the original and quarantined documents are read back, checked against the hashes
    /// the history holds.
    pub documents: DocumentStore,
    pub executions: Executions,
    /// Verifies the approval API's proof on the decision.
    pub decision_keys: MacKey,
    /// The operators' topic: told of every refused call.
    pub alerts: Notifier,
    /// Where a restored grant is recorded `approved`, so the sweep leaves it alone; and the
    /// boundary ledger, which an approved boundary change updates.
    pub decisions: DecisionTable,
}

/// The state's name in the state machine.
const STEP: &str = "Restore";

pub async fn handle(
    invocation: StepInvocation,
    deps: &RestoreDeps,
) -> Result<RestoreRecord, StepError> {
    let quarantine = approved_quarantine(&invocation, deps).await;
    let quarantine = alert_if_refused(
        quarantine,
        "restore-policy",
        &invocation.execution_arn,
        &deps.alerts,
    )
    .await?;
    let Restored { record, original } = restore(quarantine.clone(), deps).await?;
    if record.status == RestoreStatus::Restored {
        record_approval(&quarantine, &original, &invocation.execution_arn, deps).await?;
    }
    Ok(record)
}

/// Records the grant this restore put back (`original`, the quarantine's original document) as
/// `approved`: the only writer of approved grant records, and only here, after the decision's
/// proof verified and the original is back. A customer managed policy's document is approved on
/// the users, roles and groups it was attached to when quarantined and still is, each recorded
/// as its attachment's grant: the sweep leaves any other attachment alone only once that is
/// approved too. A retried step finds the restore done and records it again (the same items).
async fn record_approval(
    quarantine: &QuarantineRecord,
    original: &str,
    execution_arn: &str,
    deps: &RestoreDeps,
) -> Result<(), StepError> {
    let Some(applied) = quarantine.applied() else {
        return Ok(());
    };
    let target = quarantined_target(&applied.action);
    // Every original the quarantine keeps is JSON; one that is not names no grant to record.
    let Some(key) = GrantKey::of(&target, original) else {
        tracing::warn!("the restored original is not JSON: no grant recorded");
        return Ok(());
    };
    let mut approved = vec![(key, target)];
    if let QuarantineAction::NewDefaultVersion { policy_arn, .. } = &applied.action {
        // None kept (or unreadable): none is approved, and the sweep asks about each.
        let quarantined = (deps.documents)
            .attachments(applied.action.attachments())
            .await?
            .unwrap_or_default();
        let now = deps.iam.attached_to(policy_arn).await?;
        for principal in approved_attachments(&quarantined, now) {
            let attachment = Target::Attachment {
                principal,
                policy_arn: policy_arn.clone(),
            };
            approved.push((approved[0].0.on(&attachment), attachment));
        }
    }
    // `approved_quarantine` proved it an execution of this state machine: it has a name.
    let incident = ApprovalId::of_execution(execution_arn).map_err(invalid_input)?;
    let now = OffsetDateTime::now_utc();
    for (key, target) in &approved {
        deps.decisions
            .record_approved(key, target, incident.as_str(), now)
            .await?;
    }
    tracing::info!(grant = %approved[0].0.item_key(), attachments = approved.len() - 1, "approval recorded");
    Ok(())
}

/// The quarantine the Restore step was entered with, once its approval is proven to be the
/// approval API's.
async fn approved_quarantine(
    invocation: &StepInvocation,
    deps: &RestoreDeps,
) -> Result<QuarantineRecord, StepError> {
    let execution_arn = &invocation.execution_arn;
    let step = deps.executions.entered_state(execution_arn, STEP).await?;
    let state = &step.input;
    let approval: DecisionRecord = state_part(state, "approval")?;
    if approval.decision != Decision::Approve {
        return Err(StepError::UnprovenDecision(format!(
            "the decision is {:?}, not approve",
            approval.decision
        )));
    }
    let Some(proof) = decode_proof(&approval) else {
        return Err(StepError::UnprovenDecision(
            "the approve decision carries no proof that the approval page took it: it was sent              to Step Functions some other way"
                .into(),
        ));
    };
    // The decision answers the execution's last approval request (a newer one closes older ones).
    let answered = approval_requests(&step.events)
        .map_err(|e| invalid_input(e.to_string()))?
        .pop()
        .ok_or_else(|| {
            StepError::UnprovenDecision("the history holds no approval request".into())
        })?;
    if !deps
        .decision_keys
        .verify(
            &decision_message(execution_arn, &answered.token, &approval),
            &proof,
        )
        .await?
    {
        return Err(StepError::UnprovenDecision(
            "the approve decision's proof does not verify: it was not taken on the approval page              for this execution"
                .into(),
        ));
    }
    state_part(state, "quarantine")
}

/// What a restore did, and the quarantine's original document it read from the store.
#[derive(Debug)]
pub struct Restored {
    pub record: RestoreRecord,
    pub original: String,
}

/// What restoring would do, and the quarantine's original document it was planned on.
pub struct PlannedRestore {
    pub plan: RestorePlan,
    pub original: String,
}

/// Puts back what `quarantine` took out of force, while the quarantine is what IAM holds.
pub async fn restore(
    quarantine: QuarantineRecord,
    deps: &RestoreDeps,
) -> Result<Restored, StepError> {
    let iam = &deps.iam;
    let action = quarantine.applied().map(|q| q.action.clone());
    let PlannedRestore {
        plan: RestorePlan { writes, mut record },
        original,
    } = plan_restore(quarantine, iam, &deps.documents).await?;
    for (index, write) in writes.iter().enumerate() {
        match apply(write, iam).await {
            Ok(()) => {}
            // A quota IAM holds the principal to (a count, or a size the plan counted
            // otherwise) leaves no place for the original: nothing was written. Only a first
            // write is skipped so: after another, the record would hide what was done.
            Err(StepError::Aws(refused)) if refused.is("LimitExceeded") && index == 0 => {
                let Some(skipped) = refused_over_quota(write, &refused.to_string()) else {
                    return Err(StepError::Aws(refused));
                };
                tracing::warn!(error = %refused, "IAM refused the restore over a quota");
                record = skipped;
                break;
            }
            Err(failure) => return Err(failure),
        }
    }
    // The approved boundary is the one in force now: what a later change is compared with.
    if let Some((principal, boundary_arn)) = action
        .as_ref()
        .and_then(|action| ledger_after_restore(action, record.status))
    {
        let source = "restore-policy: approved";
        // Its document as IAM holds it now: what a later change is compared with.
        let read = match boundary_arn {
            Some(arn) => boundaries::boundary(iam, arn).await?,
            None => None,
        };
        let seen = InForce::named(boundary_arn, read.as_ref());
        boundaries::record(&deps.decisions, principal, seen, source).await?;
    }
    match record.status {
        RestoreStatus::Restored => tracing::info!(detail = %record.detail, "restored"),
        RestoreStatus::Skipped => tracing::warn!(detail = %record.detail, "restore skipped"),
        RestoreStatus::Gone => tracing::warn!(detail = %record.detail, "nothing to restore: gone"),
    }
    Ok(Restored { record, original })
}

/// What approving would do, as the approval page tells the administrator before they decide:
/// the Restore step's plan, and whether IAM's count quotas leave the principal a place for what
/// it gives back (`forecast_count_quota`; the step itself leaves that to IAM). A quota the
/// account summary does not report, or places IAM cannot count just now, are not forecast.
pub async fn forecast_restore(
    quarantine: QuarantineRecord,
    iam: &IamPolicies,
    documents: &DocumentStore,
) -> Result<PlannedRestore, StepError> {
    let PlannedRestore { plan, original } = plan_restore(quarantine, iam, documents).await?;
    let plan = match places(&plan, iam).await {
        Ok(Some(places)) => forecast_count_quota(plan, places),
        Ok(None) => plan,
        // The forecast is a courtesy: the page still says what the plan is.
        Err(e) => {
            tracing::warn!(error = %e, "cannot count the places approving would take");
            plan
        }
    };
    Ok(PlannedRestore { plan, original })
}

/// The places the principal of a plan that takes one (an attachment, a membership) has taken
/// now, against its quota; `None` for any other plan, a principal gone, or a quota the account
/// summary does not report.
async fn places(plan: &RestorePlan, iam: &IamPolicies) -> Result<Option<Places>, AwsFailure> {
    let (used, quota) = match plan.writes.as_slice() {
        [RestoreWrite::Attach { principal, .. }] => (
            iam.attached_policy_arns(principal).await?.map(|a| a.len()),
            iam.attached_policies_quota(principal.kind).await?,
        ),
        [RestoreWrite::AddToGroup { user, .. }] => (
            iam.groups_for_user(user).await?.map(|g| g.len()),
            iam.groups_per_user_quota().await?,
        ),
        _ => return Ok(None),
    };
    Ok(used.zip(quota).map(|(used, quota)| Places { used, quota }))
}

/// The document version `version_id` of `policy_arn` holds: the default's as read already,
/// another's read from IAM; none when the policy is gone (`default`: none), whose versions
/// cannot be read (NoSuchEntity).
async fn version_document(
    iam: &IamPolicies,
    policy_arn: &str,
    default: Option<&(String, String)>,
    version_id: &str,
) -> Result<Option<String>, StepError> {
    Ok(match default {
        None => None,
        Some((id, document)) if id == version_id => Some(document.clone()),
        Some(_) => iam.version_document(policy_arn, version_id).await?,
    })
}

/// What restoring `quarantine` would do, given what IAM holds now (reads only): the Restore
/// step's plan.
pub async fn plan_restore(
    quarantine: QuarantineRecord,
    iam: &IamPolicies,
    documents: &DocumentStore,
) -> Result<PlannedRestore, StepError> {
    let QuarantineRecord::Applied(applied) = quarantine else {
        return Err(invalid_input("only an applied quarantine can be restored"));
    };
    let original = documents.get(&applied.original_document).await?;
    let recorded = &applied.principal_ids;
    let ids_now = iam
        .principal_ids(recorded.iter().map(|p| p.principal.clone()).collect())
        .await?;
    if let Some(plan) = replaced_since(recorded, &ids_now) {
        return Ok(PlannedRestore { plan, original });
    }
    let plan = match applied.action {
        QuarantineAction::NewDefaultVersion {
            policy_arn,
            offending_version_id,
            quarantine_version_id,
            ..
        } => {
            let Some(quarantined) = &applied.quarantined_document else {
                return Err(invalid_input(
                    "the record of a new default version names no quarantined document",
                ));
            };
            let quarantined = documents.get(quarantined).await?;
            let default_version = iam.default_version(&policy_arn).await?;
            let document_of = |version_id| {
                version_document(iam, &policy_arn, default_version.as_ref(), version_id)
            };
            let quarantine_document = document_of(&quarantine_version_id).await?;
            let offending_document = document_of(&offending_version_id).await?;
            restore_managed(&ManagedRestoreNow {
                quarantine_document,
                original: original.clone(),
                quarantined,
                offending_document,
                default_version_id: default_version.map(|(id, _)| id),
                policy_arn,
                offending_version_id,
                quarantine_version_id,
            })
        }
        QuarantineAction::InlineRewritten {
            principal,
            policy_name,
        } => {
            let Some(quarantined) = &applied.quarantined_document else {
                return Err(invalid_input(
                    "the record of an inline rewrite names no quarantined document",
                ));
            };
            let quarantined = Some(documents.get(quarantined).await?);
            let now = inline_now(
                iam,
                &ids_now,
                principal,
                policy_name,
                &original,
                quarantined,
            )
            .await?;
            restore_inline(&now)
        }
        QuarantineAction::InlineDeleted {
            principal,
            policy_name,
        } => restore_inline(
            &inline_now(iam, &ids_now, principal, policy_name, &original, None).await?,
        ),
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
                original: original.clone(),
                attached,
                current,
            })
        }
        QuarantineAction::RemovedFromGroup { user, group } => {
            let groups = iam.groups_for_user(&user).await?;
            let current = group_policies(iam, &group)
                .await?
                .map(|policies| group_document(&group, &policies));
            restore_membership(&MembershipRestoreNow {
                original: original.clone(),
                user_exists: groups.is_some(),
                member: groups
                    .is_some_and(|groups| groups.iter().any(|g| g.eq_ignore_ascii_case(&group))),
                current,
                user,
                group,
            })
        }
        QuarantineAction::BoundaryPutBack {
            principal,
            previous_boundary_arn,
            changed_to,
        } => {
            let info = iam.principal_info(&principal).await?;
            let changed_to_document = match &changed_to {
                Some(arn) => iam.default_version(arn).await?.map(|(_, d)| d),
                None => None,
            };
            restore_boundary(&BoundaryRestoreNow {
                original: original.clone(),
                exists: info.is_some(),
                current: info.and_then(|i| i.boundary_arn),
                principal,
                put_back: previous_boundary_arn,
                changed_to,
                changed_to_document,
            })
        }
    };
    Ok(PlannedRestore { plan, original })
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
        RestoreWrite::AddToGroup { user, group } => iam.add_user_to_group(user, group).await?,
        RestoreWrite::PutBoundary {
            principal,
            boundary_arn,
        } => iam.put_boundary(principal, boundary_arn).await?,
        RestoreWrite::DeleteBoundary { principal } => iam.delete_boundary(principal).await?,
    }
    Ok(())
}

/// An inline policy the quarantine rewrote (`quarantined`, what it wrote) or deleted, as IAM
/// holds it now; `ids_now`: the recorded principals as `plan_restore` read them.
async fn inline_now(
    iam: &IamPolicies,
    ids_now: &[PrincipalId],
    principal: Principal,
    policy_name: String,
    original: &str,
    quarantined: Option<String>,
) -> Result<InlineRestoreNow, StepError> {
    let current = iam.inline_document(&principal, &policy_name).await?;
    // Only a deletion's restore puts the policy back where it is absent.
    let principal_exists = match (&current, &quarantined) {
        (None, None) => match ids_now.iter().find(|read| read.principal == principal) {
            Some(read) => read.id.is_some(),
            None => iam.principal_id(&principal).await?.is_some(),
        },
        _ => true,
    };
    // What shares the quota with the original, where it may go back.
    let may_put_back = current.is_some() || (quarantined.is_none() && principal_exists);
    let other_documents = if may_put_back {
        other_inline_documents(iam, &principal, &policy_name).await?
    } else {
        Vec::new()
    };
    Ok(InlineRestoreNow {
        principal,
        policy_name,
        original: original.to_owned(),
        quarantined,
        current,
        principal_exists,
        other_documents,
    })
}
