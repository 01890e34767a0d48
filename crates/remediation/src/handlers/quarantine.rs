//! Quarantine: take the restricted grants out of force at once, keeping the original. Acts only
//! as the Quarantine step of a running execution of this deployment, on the assessment that step
//! was entered with (read from the history); reads what IAM holds now, lets
//! `incident::quarantine` decide, then writes.

use crate::boundaries::{self, InForce};
use crate::decisions::{DecisionTable, Intent};
use crate::documents::DocumentStore;
use crate::error::{StepError, invalid_input};
use crate::executions::Executions;
use crate::handlers::{StepInvocation, alert_if_refused, started_step, state_part};
use crate::iam::IamPolicies;
use crate::principals::{group_policies, other_inline_documents, principal_policies};
use crate::publisher::Notifier;
use incident::boundary::{
    Boundary, BoundaryDecision, BoundaryNow, boundary_in_force, decide_put_back,
};
use incident::consistency::may_lag;
use incident::decision_log::quarantined_target;
use incident::membership::{added_grants, group_document};
use incident::quarantine::{
    AttachmentDecision, AttachmentNow, InlineDecision, InlinePolicyNow, Intended, ManagedDecision,
    ManagedPolicyNow, MembershipDecision, MembershipNow, Recorded, Rewrite, decide_attachment,
    decide_inline, decide_managed, decide_membership, decide_missing, deletion,
};
use incident::record::{AppliedQuarantine, DocumentRef, attachments_document};
use incident::{
    Analysed, Assessment, ChangeContext, DeletedVersion, Principal, PrincipalId, PrincipalKind,
    QuarantineAction, QuarantineRecord, Target, Verdict,
};
use policy_engine::rules::Mode;
use policy_engine::{Catalog, RestrictedActions, Rules};

pub struct QuarantineDeps {
    pub iam: IamPolicies,
    /// Every document the record names is kept here before the record (or the quarantine)
    /// exists: the original is recoverable on every path.
    pub documents: DocumentStore,
    /// The rules the function was built with: only their enforced grants are quarantined.
    pub rules: Rules,
    pub executions: Executions,
    /// The operators' topic: told of every refused call.
    pub alerts: Notifier,
    /// The boundary ledger: a put-back boundary is the one in force.
    pub decisions: DecisionTable,
    /// The stack's quarantine boundary (`QUARANTINE_BOUNDARY_ARN`).
    pub quarantine_boundary_arn: String,
}

/// The state's name in the state machine.
const STEP: &str = "Quarantine";

pub async fn handle(
    invocation: StepInvocation,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let (name, step) = alert_if_refused(
        started_step(
            &deps.executions,
            &deps.decisions,
            &invocation.execution_arn,
            STEP,
        )
        .await,
        "quarantine-policy",
        &invocation.execution_arn,
        &deps.alerts,
    )
    .await?;
    quarantine(name.as_str(), state_part(&step.input, "incident")?, deps).await
}

/// Quarantines what `incident` (the assessment of the execution named `name`) found, as IAM
/// holds it now.
pub async fn quarantine(
    name: &str,
    incident: Assessment,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let Verdict::Restricted(analysed) = incident.verdict else {
        return Err(invalid_input(
            "only a change assessed as restricted is quarantined",
        ));
    };
    // Whether a read that does not show the event's change may be IAM's lag.
    let now = time::OffsetDateTime::now_utc();
    let lagging = may_lag(&analysed.change.event_time, now);
    // The enforced rules for this change, with the same context as Analyse, on today's date
    // (an exemption that expired since Analyse no longer spares a grant: the safe side):
    // alert-mode and off rules are never written.
    let context = ChangeContext::of(&analysed.change);
    let Some(restricted) = deps
        .rules
        .restricted(Mode::Enforce, &context.context(), now.date())
    else {
        return Ok(not_needed(
            "no enforced rule restricts anything in this change now (an exemption covers it)",
        ));
    };
    let restricted = &restricted;
    let attempt = &Attempt::begin(name, &analysed.change.target, deps).await?;
    let record = match &analysed.change.target {
        Target::ManagedPolicy { policy_arn } => {
            managed(
                policy_arn,
                analysed.version_id.as_deref(),
                lagging,
                restricted,
                deps,
            )
            .await?
        }
        Target::InlinePolicy {
            principal,
            policy_name,
        } => {
            let analysed_document = deps.documents.get(&analysed.document).await?;
            inline(
                attempt,
                principal,
                policy_name,
                &analysed_document,
                lagging,
                restricted,
                deps,
            )
            .await?
        }
        Target::Attachment {
            principal,
            policy_arn,
        } => attachment(attempt, principal, policy_arn, lagging, restricted, deps).await?,
        Target::GroupMembership { user, group } => {
            membership(attempt, user, group, lagging, restricted, deps).await?
        }
        Target::TrustPolicy { .. } => {
            return Err(invalid_input(
                "a trust policy change is reported, never quarantined",
            ));
        }
        Target::PermissionsBoundary { principal } => {
            boundary_put_back(attempt, principal, &analysed, lagging, restricted, deps).await?
        }
    };
    Ok(match record {
        QuarantineRecord::Applied(mut applied) => {
            tracing::info!(action = ?applied.action, "quarantined");
            applied.principal_ids = attempt.principal_ids.clone();
            QuarantineRecord::Applied(applied)
        }
        QuarantineRecord::NotNeeded { reason } => {
            tracing::info!(reason, "no quarantine needed");
            QuarantineRecord::NotNeeded { reason }
        }
    })
}

/// This attempt of the step: its execution's name, what an earlier attempt recorded before its
/// write, and the ids of the principals the change names.
struct Attempt<'a> {
    name: &'a str,
    earlier: Option<Intent>,
    principal_ids: Vec<PrincipalId>,
}

impl<'a> Attempt<'a> {
    /// The ids are those the execution's first attempt to write read, before any write: a
    /// retry that reports that attempt's work names the principals it acted on, never one
    /// deleted and created again since (`restore::replaced_since`). Read from IAM otherwise.
    async fn begin(
        name: &'a str,
        target: &Target,
        deps: &QuarantineDeps,
    ) -> Result<Attempt<'a>, StepError> {
        let principals = target.principals();
        if principals.is_empty() {
            return Ok(Attempt {
                name,
                earlier: None,
                principal_ids: Vec::new(),
            });
        }
        let earlier = deps.decisions.intent(name).await?;
        let principal_ids = match earlier.as_ref().and_then(|e| e.principal_ids.clone()) {
            Some(ids) => ids,
            None => deps.iam.principal_ids(principals).await?,
        };
        Ok(Attempt {
            name,
            earlier,
            principal_ids,
        })
    }
}

async fn managed(
    policy_arn: &str,
    analysed_version: Option<&str>,
    lagging: bool,
    restricted: &RestrictedActions,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let iam = &deps.iam;
    let Some((default_version_id, default_document)) = iam.default_version(policy_arn).await?
    else {
        return Ok(not_needed(&decide_missing(
            "the policy no longer exists",
            lagging,
        )?));
    };
    let analysed = match analysed_version.filter(|v| *v != default_version_id) {
        Some(version) => iam
            .version_document(policy_arn, version)
            .await?
            .map(|document| (version.to_owned(), document)),
        None => None,
    };
    let now = ManagedPolicyNow {
        policy_arn: policy_arn.to_owned(),
        default_version_id,
        default_document,
        analysed,
        event_version_id: analysed_version.map(str::to_owned),
        versions: iam.versions(policy_arn).await?,
        attached_to: iam.attached_to(policy_arn).await?,
    };
    let decision = decide_managed(&now, lagging, restricted)?;
    // What an approval will cover, kept before IAM holds the quarantine.
    let attachments = match decision {
        ManagedDecision::NotNeeded(_) => None,
        _ => Some(
            deps.documents
                .put(&attachments_document(&now.attached_to))
                .await?,
        ),
    };
    Ok(match decision {
        ManagedDecision::NotNeeded(reason) => not_needed(&reason),
        ManagedDecision::InPlace { rewrite, action } => in_place(rewrite, action, deps).await?,
        ManagedDecision::NewDefaultVersion {
            rewrite,
            offending_version_id,
            make_room,
        } => {
            keep(&rewrite, &deps.documents).await?;
            let deleted_version = match make_room {
                Some(version_id) => delete_spare_version(policy_arn, version_id, deps).await?,
                None => None,
            };
            let quarantine_version_id = iam
                .create_default_version(policy_arn, &rewrite.quarantined)
                .await?;
            QuarantineRecord::Applied(Box::new(rewrite.applied(
                QuarantineAction::NewDefaultVersion {
                    policy_arn: policy_arn.to_owned(),
                    offending_version_id,
                    quarantine_version_id,
                    deleted_version: deleted_version.map(Box::new),
                    attached_to: attachments.map(Box::new),
                },
            )))
        }
    })
}

/// Deletes a version to make room, its document kept first so nothing is lost; `None` when it
/// is gone already (someone else made the room).
async fn delete_spare_version(
    policy_arn: &str,
    version_id: String,
    deps: &QuarantineDeps,
) -> Result<Option<DeletedVersion>, StepError> {
    let iam = &deps.iam;
    let Some(text) = iam.version_document(policy_arn, &version_id).await? else {
        return Ok(None);
    };
    let document = deps.documents.put(&text).await?;
    // Logged before it goes: if this attempt's answer is lost and the step retried, the
    // record no longer names it, and the log says where its document is kept.
    tracing::warn!(policy = policy_arn, version = %version_id, sha256 = %document.sha256, "deleting the oldest spare version to make room; its document is in the document store");
    iam.delete_version(policy_arn, &version_id).await?;
    Ok(Some(DeletedVersion {
        version_id,
        document,
    }))
}

/// Rewrites the inline policy in place while it grants a restricted action; deletes it when no
/// rewrite fits the principal's quota, recording that first, as for [`attachment`].
async fn inline(
    attempt: &Attempt<'_>,
    principal: &Principal,
    policy_name: &str,
    analysed_document: &str,
    lagging: bool,
    restricted: &RestrictedActions,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let iam = &deps.iam;
    let document = iam.inline_document(principal, policy_name).await?;
    let other_documents = match document {
        Some(_) => other_inline_documents(iam, principal, policy_name).await?,
        None => Vec::new(),
    };
    let recorded = recorded_before(attempt, document.is_some(), deps).await?;
    let now = InlinePolicyNow {
        principal: principal.clone(),
        policy_name: policy_name.to_owned(),
        document,
        other_documents,
    };
    let decision = decide_inline(
        &now,
        Some(analysed_document),
        lagging,
        restricted,
        recorded.as_ref(),
    )?;
    Ok(match decision {
        InlineDecision::NotNeeded(reason) => not_needed(&reason),
        InlineDecision::DeletedBefore(applied) => already_applied(applied),
        InlineDecision::Delete(applied) => delete_inline(attempt, &now, applied, deps).await?,
        InlineDecision::InPlace { rewrite, action } => in_place(rewrite, action, deps).await?,
        InlineDecision::Rewrite(rewrite) => {
            keep(&rewrite, &deps.documents).await?;
            // Over an earlier attempt's recorded deletion: a later retry must not take the
            // policy's absence for that deletion.
            let target = Target::InlinePolicy {
                principal: principal.clone(),
                policy_name: policy_name.to_owned(),
            };
            let original = DocumentRef::of(&rewrite.original);
            about_to_write(attempt, &target, &original, Intended::Rewrite, deps).await?;
            match iam
                .put_inline(principal, policy_name, &rewrite.quarantined)
                .await
            {
                Ok(()) => QuarantineRecord::Applied(Box::new(rewrite.applied(
                    QuarantineAction::InlineRewritten {
                        principal: principal.clone(),
                        policy_name: policy_name.to_owned(),
                    },
                ))),
                // IAM counted the principal's quota otherwise than the budget: deleting fits
                // where the rewrite did not, and leaves the grant in force no longer.
                Err(refused) if refused.is("LimitExceeded") => {
                    tracing::warn!(error = %refused, "IAM refused the rewrite for its size: deleting instead");
                    let applied = deletion(&now, &rewrite.original, restricted)?;
                    delete_inline(attempt, &now, applied, deps).await?
                }
                Err(failure) => return Err(failure.into()),
            }
        }
    })
}

/// Deletes the inline policy `now` shows, as `applied` records it, after keeping its document
/// and recording the deletion (as for a detachment).
async fn delete_inline(
    attempt: &Attempt<'_>,
    now: &InlinePolicyNow,
    applied: AppliedQuarantine,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    about_to_take_away(attempt, now.document.as_deref(), &applied, deps).await?;
    deps.iam
        .delete_inline(&now.principal, &now.policy_name)
        .await?;
    Ok(QuarantineRecord::Applied(Box::new(applied)))
}

/// Detaches the policy while it grants a restricted action. What it is about to do is recorded
/// first (`DecisionTable::record_intent`): after a lost answer, a retry that finds the policy
/// detached reads there that the detachment was its own.
async fn attachment(
    attempt: &Attempt<'_>,
    principal: &Principal,
    policy_arn: &str,
    lagging: bool,
    restricted: &RestrictedActions,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let iam = &deps.iam;
    let attached = iam.is_attached(principal, policy_arn).await?;
    let document = if attached {
        iam.default_version(policy_arn).await?.map(|(_, d)| d)
    } else {
        None
    };
    let now = AttachmentNow {
        principal: principal.clone(),
        policy_arn: policy_arn.to_owned(),
        attached,
        document,
    };
    let recorded = recorded_before(attempt, attached, deps).await?;
    Ok(
        match decide_attachment(&now, lagging, restricted, recorded.as_ref())? {
            AttachmentDecision::NotNeeded(reason) => not_needed(&reason),
            AttachmentDecision::DetachedBefore(applied) => already_applied(applied),
            AttachmentDecision::Detach(applied) => {
                about_to_take_away(attempt, now.document.as_deref(), &applied, deps).await?;
                iam.detach(principal, policy_arn).await?;
                QuarantineRecord::Applied(Box::new(applied))
            }
        },
    )
}

/// Takes the user out of the group while the membership adds a restricted grant; the group's
/// policies are kept first (what an approval re-adds the user to), and what it is about to do
/// recorded, as for [`attachment`].
async fn membership(
    attempt: &Attempt<'_>,
    user: &str,
    group: &str,
    lagging: bool,
    restricted: &RestrictedActions,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let iam = &deps.iam;
    let member = iam
        .groups_for_user(user)
        .await?
        .is_some_and(|groups| groups.iter().any(|g| g.eq_ignore_ascii_case(group)));
    let group_policies = group_policies(iam, group).await?;
    let mut added = Vec::new();
    if member && let Some(group_policies) = &group_policies {
        let principal = Principal {
            kind: PrincipalKind::User,
            name: user.to_owned(),
        };
        if let Some(policies) = principal_policies(iam, &principal).await? {
            added = added_grants(
                &policies,
                group,
                group_policies,
                restricted,
                Catalog::embedded(),
            )
            .map_err(|e| invalid_input(format!("a policy of user {user}: {e}")))?
            .0;
        }
    }
    let now = MembershipNow {
        user: user.to_owned(),
        group: group.to_owned(),
        member,
        group_document: group_policies.map(|p| group_document(group, &p)),
        added,
    };
    let recorded = recorded_before(attempt, member, deps).await?;
    Ok(match decide_membership(&now, lagging, recorded.as_ref())? {
        MembershipDecision::NotNeeded(reason) => not_needed(&reason),
        MembershipDecision::RemovedBefore(applied) => already_applied(applied),
        MembershipDecision::Remove(applied) => {
            about_to_take_away(attempt, now.group_document.as_deref(), &applied, deps).await?;
            iam.remove_user_from_group(user, group).await?;
            QuarantineRecord::Applied(Box::new(applied))
        }
    })
}

/// Before a detachment, a deletion or a group removal: the original kept in the document
/// store, then what `applied` is about to take away recorded (`recorded_before` reads it back
/// after a lost answer).
async fn about_to_take_away(
    attempt: &Attempt<'_>,
    original: Option<&str>,
    applied: &AppliedQuarantine,
    deps: &QuarantineDeps,
) -> Result<(), StepError> {
    if let Some(original) = original {
        deps.documents.put(original).await?;
    }
    let target = quarantined_target(&applied.action);
    let original = &applied.original_document;
    about_to_write(attempt, &target, original, Intended::TakeAway, deps).await
}

/// Records the write this attempt is about to make to `target`, with the principals' ids
/// (`recorded_before` and `Attempt::begin` read it back after a lost answer).
async fn about_to_write(
    attempt: &Attempt<'_>,
    target: &Target,
    original: &DocumentRef,
    intended: Intended,
    deps: &QuarantineDeps,
) -> Result<(), StepError> {
    let now = time::OffsetDateTime::now_utc();
    let ids = &attempt.principal_ids;
    (deps.decisions)
        .record_intent(attempt.name, target, original, intended, ids, now)
        .await
}

/// What an earlier attempt of this step recorded it was about to do, its original document
/// read back from the store: only when the grant is already gone (`in_force` false), the one
/// case where it can matter.
async fn recorded_before(
    attempt: &Attempt<'_>,
    in_force: bool,
    deps: &QuarantineDeps,
) -> Result<Option<Recorded>, StepError> {
    let Some(earlier) = attempt.earlier.as_ref().filter(|_| !in_force) else {
        return Ok(None);
    };
    Ok(Some(Recorded {
        target: earlier.target.clone(),
        intended: earlier.intended,
        original: deps.documents.get(&earlier.original).await?,
    }))
}

/// A retried attempt's record of the quarantine an earlier attempt made (its answer lost).
fn already_applied(applied: AppliedQuarantine) -> QuarantineRecord {
    tracing::info!("the quarantine is already in place: a retried attempt");
    QuarantineRecord::Applied(Box::new(applied))
}

/// Puts back the boundary in force before the change (or the quarantine boundary), as
/// `incident::boundary` decides on the principal as IAM holds it now, and records it in the
/// ledger: it is the boundary in force.
async fn boundary_put_back(
    attempt: &Attempt<'_>,
    principal: &Principal,
    analysed: &Analysed,
    lagging: bool,
    restricted: &RestrictedActions,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    let Some(assessed) = &analysed.boundary else {
        return Err(invalid_input(
            "the assessment of a boundary change names no boundaries",
        ));
    };
    let iam = &deps.iam;
    let policies = principal_policies(iam, principal).await?;
    let current = policies.as_ref().and_then(boundary_in_force);
    let assessed_boundary = match &assessed.now {
        None => None,
        Some(arn)
            if current
                .as_ref()
                .is_some_and(|c| c.arn.eq_ignore_ascii_case(arn)) =>
        {
            current.clone()
        }
        // Deleted since: its record shows an empty document, and approval restores nothing.
        Some(arn) => Some(boundaries::boundary(iam, arn).await?.unwrap_or(Boundary {
            arn: arn.clone(),
            document: String::new(),
        })),
    };
    let now = BoundaryNow {
        principal: principal.clone(),
        policies,
        current,
        assessed: assessed_boundary,
        previous: boundaries::resolve(iam, assessed.previous_arn()).await?,
        quarantine: boundaries::quarantine_boundary(iam, &deps.quarantine_boundary_arn).await?,
    };
    let (put_back, write) = match decide_put_back(&now, lagging, restricted)? {
        BoundaryDecision::NotNeeded(reason) => return Ok(not_needed(&reason)),
        BoundaryDecision::InPlace(put_back) => {
            tracing::info!("the boundary is already put back: a retried attempt");
            (put_back, false)
        }
        BoundaryDecision::PutBack(put_back) => (put_back, true),
    };
    // What approval restores, and what is in force, are kept before IAM holds the quarantine.
    deps.documents.put(&put_back.original).await?;
    deps.documents.put(&put_back.boundary.document).await?;
    if write {
        let target = Target::PermissionsBoundary {
            principal: principal.clone(),
        };
        let original = DocumentRef::of(&put_back.original);
        about_to_write(attempt, &target, &original, Intended::Rewrite, deps).await?;
        iam.put_boundary(principal, &put_back.boundary.arn).await?;
    }
    let source = format!(
        "quarantine-policy: put back after {} {}",
        analysed.change.event_name, analysed.change.event_id
    );
    let seen = InForce::policy(&put_back.boundary);
    boundaries::record(&deps.decisions, principal, seen, &source).await?;
    Ok(QuarantineRecord::Applied(Box::new(put_back.record)))
}

/// Keeps both documents of a rewrite before IAM holds it.
async fn keep(rewrite: &Rewrite, documents: &DocumentStore) -> Result<(), StepError> {
    documents.put(&rewrite.original).await?;
    documents.put(&rewrite.quarantined).await?;
    Ok(())
}

async fn in_place(
    rewrite: Rewrite,
    action: QuarantineAction,
    deps: &QuarantineDeps,
) -> Result<QuarantineRecord, StepError> {
    keep(&rewrite, &deps.documents).await?;
    Ok(already_applied(rewrite.applied(action)))
}

fn not_needed(reason: &str) -> QuarantineRecord {
    QuarantineRecord::NotNeeded {
        reason: reason.to_owned(),
    }
}
