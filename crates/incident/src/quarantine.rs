//! Deciding a quarantine, pure: the shell reads what IAM holds now into a snapshot value, one of
//! these functions decides what to write, the shell writes it. Each decision always works on the
//! policy as it is now: if it changed since the event, the newer state is what is analysed and
//! quarantined (never clobbered with an older document). While IAM may still be catching up
//! with the event (`consistency::may_lag`, the `lagging` argument), a snapshot that does not show
//! the event's change is `NotYetConsistent`, not a conclusion.

use policy_engine::{
    Catalog, Edit, Finding, PlanError, Policy, PolicyError, PolicyKind, RestrictedActions, analyse,
    plan,
};

use crate::event::{Principal, PrincipalKind, Target};
use crate::name::TargetKey;
use crate::record::{
    AddedGrant, AppliedQuarantine, DocumentRef, PrincipalId, QuarantineAction,
    attachments_document, carried_edits, carried_findings, same_document,
};

/// IAM keeps at most this many versions of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// The document in IAM is not a policy the engine can read.
    #[error("the {which} policy: {source}")]
    Unreadable {
        which: &'static str,
        #[source]
        source: PolicyError,
    },
    /// No quarantine fits IAM's size limit.
    #[error("cannot quarantine: {0}")]
    DoesNotFit(#[from] PlanError),
    /// IAM's version limit is reached and no version can be deleted to make room.
    #[error("{policy_arn} has {versions} versions and none can be deleted to make room")]
    NoRoom { policy_arn: String, versions: usize },
    /// IAM does not show the event's change yet, and the event is recent enough that this may
    /// be IAM's lag: look again later.
    #[error("IAM does not show the change yet: {0}")]
    NotYetConsistent(String),
    /// A policy in force for the principal is not one the engine can read.
    #[error("a policy of the principal: {0}")]
    UnreadablePolicy(String),
    /// No boundary can be put back without granting what the quarantine must hold back.
    #[error("cannot quarantine: {0}")]
    NoSafeBoundary(String),
}

/// The conclusion when IAM does not show the event's change: wait while IAM may lag, else
/// `settled`.
fn unless_lagging<T>(lagging: bool, what: &str, settled: T) -> Result<T, QuarantineError> {
    if lagging {
        Err(QuarantineError::NotYetConsistent(what.to_owned()))
    } else {
        Ok(settled)
    }
}

/// When the policy (or the principal, or the attachment) the event changed is not there: gone
/// for good, or not visible yet.
pub fn decide_missing(what: &str, lagging: bool) -> Result<String, QuarantineError> {
    unless_lagging(lagging, what, what.to_owned())
}

/// The narrowest rewrite of one document that takes its restricted grants out of force.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    pub original: String,
    pub quarantined: String,
    pub edits: Vec<Edit>,
    pub findings: Vec<Finding>,
}

impl Rewrite {
    /// The record of this rewrite once `action` has put it in force.
    pub fn applied(self, action: QuarantineAction) -> AppliedQuarantine {
        let (findings, omitted_grants) = carried_findings(self.findings);
        let (edits, omitted_changes) = carried_edits(self.edits);
        AppliedQuarantine {
            action,
            original_document: DocumentRef::of(&self.original),
            quarantined_document: Some(DocumentRef::of(&self.quarantined)),
            edits,
            omitted_changes,
            findings,
            omitted_grants,
            principal_ids: Vec::new(),
        }
    }
}

/// Plans the quarantine of a document; `None` when it grants nothing restricted.
pub fn rewrite(
    document: &str,
    size_limit: usize,
    restricted: &RestrictedActions,
) -> Result<Option<Rewrite>, QuarantineError> {
    let policy = Policy::parse(document).map_err(|source| QuarantineError::Unreadable {
        which: "current",
        source,
    })?;
    let catalog = Catalog::embedded();
    let analysis = analyse(&policy, restricted, catalog);
    if !analysis.grants_restricted() {
        return Ok(None);
    }
    let quarantine = plan(&policy, restricted, catalog, size_limit)?;
    Ok(Some(Rewrite {
        original: document.to_owned(),
        quarantined: quarantine.policy.to_json(),
        edits: quarantine.edits,
        findings: analysis.findings,
    }))
}

/// Step Functions retries a step whose answer it did not get, even when the step did its work.
/// A retried quarantine then finds the policy clean: when the document in force is exactly the
/// quarantine of `original`, it is the step's own, and it stands as if just applied (so the
/// approval request still goes out) instead of reading as superseded.
fn own_earlier_rewrite(
    original: &str,
    current: &str,
    size_limit: usize,
    restricted: &RestrictedActions,
) -> Result<Option<Rewrite>, QuarantineError> {
    match rewrite(original, size_limit, restricted) {
        // No rewrite of it fits: what IAM holds cannot be one.
        Err(QuarantineError::DoesNotFit(_)) => Ok(None),
        planned => Ok(planned?.filter(|rewrite| same_document(&rewrite.quarantined, current))),
    }
}

/// A version of a managed policy, as IAM lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSummary {
    pub version_id: String,
    pub is_default: bool,
    /// Seconds since the epoch; versions IAM lists without a date sort first.
    pub created: i64,
}

/// A managed policy as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyNow {
    pub policy_arn: String,
    pub default_version_id: String,
    pub default_document: String,
    /// The version the assessment analysed and its document, when it is no longer the default
    /// (and still exists).
    pub analysed: Option<(String, String)>,
    /// The version the event made the default, when it says.
    pub event_version_id: Option<String>,
    pub versions: Vec<VersionSummary>,
    /// The users, roles and groups it is attached to (as a permissions policy), with their ids.
    pub attached_to: Vec<PrincipalId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ManagedDecision {
    NotNeeded(String),
    /// This step's own quarantine is in force already (an earlier attempt's answer was lost).
    InPlace {
        rewrite: Rewrite,
        action: QuarantineAction,
    },
    /// Create a new default version holding the rewrite, after deleting `make_room` if set.
    NewDefaultVersion {
        rewrite: Rewrite,
        offending_version_id: String,
        make_room: Option<String>,
    },
}

/// A default version older than the event's is what IAM showed before the change (or a later
/// revert, once IAM has caught up); a newer restricted one is quarantined at once, a newer
/// clean one (not our own quarantine) is a real newer change only once IAM has caught up.
pub fn decide_managed(
    now: &ManagedPolicyNow,
    lagging: bool,
    restricted: &RestrictedActions,
) -> Result<ManagedDecision, QuarantineError> {
    if let Some(event_version) = &now.event_version_id
        && version_number(&now.default_version_id) < version_number(event_version)
    {
        unless_lagging(
            lagging,
            &format!(
                "the default version is {}, older than the event's {event_version}",
                now.default_version_id
            ),
            (),
        )?;
    }
    let limit = PolicyKind::Managed.size_limit();
    if let Some(rewrite) = rewrite(&now.default_document, limit, restricted)? {
        return Ok(ManagedDecision::NewDefaultVersion {
            rewrite,
            offending_version_id: now.default_version_id.clone(),
            make_room: version_to_delete(now)?,
        });
    }
    if let Some((offending, original)) = &now.analysed
        && let Some(rewrite) =
            own_earlier_rewrite(original, &now.default_document, limit, restricted)?
    {
        return Ok(ManagedDecision::InPlace {
            rewrite,
            action: QuarantineAction::NewDefaultVersion {
                policy_arn: now.policy_arn.clone(),
                offending_version_id: offending.clone(),
                quarantine_version_id: now.default_version_id.clone(),
                deleted_version: None,
                attached_to: Some(Box::new(DocumentRef::of(&attachments_document(
                    &now.attached_to,
                )))),
            },
        });
    }
    // A clean default other than the event's, while IAM may lag: the event's version may be
    // the default already (SetDefaultPolicyVersion back to an older, restricted version, IAM
    // still showing the newer clean one). Only after the window is it a real supersession.
    if let Some(event_version) = &now.event_version_id
        && now.default_version_id != *event_version
    {
        unless_lagging(
            lagging,
            &format!(
                "the default version is {}, not the event's {event_version}",
                now.default_version_id
            ),
            (),
        )?;
    }
    Ok(ManagedDecision::NotNeeded(format!(
        "the policy's default version ({}) grants no restricted action",
        now.default_version_id
    )))
}

/// At IAM's version limit, the oldest version that is neither the default nor the offending
/// one (versions created in the same second ordered by their number).
fn version_to_delete(now: &ManagedPolicyNow) -> Result<Option<String>, QuarantineError> {
    if now.versions.len() < MAX_POLICY_VERSIONS {
        return Ok(None);
    }
    now.versions
        .iter()
        .filter(|v| !v.is_default && v.version_id != now.default_version_id)
        .min_by_key(|v| (v.created, version_number(&v.version_id)))
        .map(|v| Some(v.version_id.clone()))
        .ok_or_else(|| QuarantineError::NoRoom {
            policy_arn: now.policy_arn.clone(),
            versions: now.versions.len(),
        })
}

/// `v12` -> 12.
fn version_number(version_id: &str) -> u32 {
    version_id.trim_start_matches('v').parse().unwrap_or(0)
}

/// An inline policy as it is now, with the principal's other inline policies (they share its
/// size quota).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicyNow {
    pub principal: Principal,
    pub policy_name: String,
    pub document: Option<String>,
    pub other_documents: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InlineDecision {
    NotNeeded(String),
    InPlace {
        rewrite: Rewrite,
        action: QuarantineAction,
    },
    /// Overwrite the inline policy with the rewrite.
    Rewrite(Rewrite),
    /// Delete the inline policy: no rewrite fits the principal's quota.
    Delete(AppliedQuarantine),
    /// Already deleted by this step: an earlier attempt recorded the deletion, made it and lost
    /// its answer. Reported again, as that attempt would have, written nothing.
    DeletedBefore(AppliedQuarantine),
}

/// `analysed` is the document the assessment analysed (the event's): what an earlier attempt
/// quarantined, and what IAM shows once it has caught up. `recorded`: as for
/// [`decide_attachment`]. A policy no rewrite of which fits the principal's quota is deleted:
/// the rewrite would have granted nothing either (every statement dropped), and the quota leaves
/// room only for less.
pub fn decide_inline(
    now: &InlinePolicyNow,
    analysed: Option<&str>,
    lagging: bool,
    restricted: &RestrictedActions,
    recorded: Option<&Recorded>,
) -> Result<InlineDecision, QuarantineError> {
    let Some(current) = &now.document else {
        let this = Target::InlinePolicy {
            principal: now.principal.clone(),
            policy_name: now.policy_name.clone(),
        };
        if let Some(recorded) = recorded.filter(|r| r.took_away(&this)) {
            return deletion(now, &recorded.original, restricted)
                .map(InlineDecision::DeletedBefore);
        }
        return decide_missing("the inline policy no longer exists", lagging)
            .map(InlineDecision::NotNeeded);
    };
    let budget = inline_budget(now.principal.kind, &now.other_documents);
    if let Some(original) = analysed
        && let Some(rewrite) = own_earlier_rewrite(original, current, budget, restricted)?
    {
        return Ok(InlineDecision::InPlace {
            rewrite,
            action: QuarantineAction::InlineRewritten {
                principal: now.principal.clone(),
                policy_name: now.policy_name.clone(),
            },
        });
    }
    if analysed.is_some_and(|original| !same_document(original, current)) {
        unless_lagging(
            lagging,
            "the inline policy does not hold the event's document",
            (),
        )?;
    }
    match rewrite(current, budget, restricted) {
        Ok(Some(rewrite)) => Ok(InlineDecision::Rewrite(rewrite)),
        Ok(None) => Ok(InlineDecision::NotNeeded(
            "the inline policy, as it is now, grants no restricted action".into(),
        )),
        Err(QuarantineError::DoesNotFit(_)) => {
            deletion(now, current, restricted).map(InlineDecision::Delete)
        }
        Err(other) => Err(other),
    }
}

/// The record of deleting the inline policy whose document is `document`: what
/// [`decide_inline`] decides when no rewrite fits, and what the shell does when IAM refuses a
/// rewrite for its size all the same.
pub fn deletion(
    now: &InlinePolicyNow,
    document: &str,
    restricted: &RestrictedActions,
) -> Result<AppliedQuarantine, QuarantineError> {
    let action = QuarantineAction::InlineDeleted {
        principal: now.principal.clone(),
        policy_name: now.policy_name.clone(),
    };
    taken_away(action, "current", document, restricted)
}

/// The record of `action`, which takes the whole of `document` (the `which` policy) out of
/// force: its findings, what it grants of `restricted`.
fn taken_away(
    action: QuarantineAction,
    which: &'static str,
    document: &str,
    restricted: &RestrictedActions,
) -> Result<AppliedQuarantine, QuarantineError> {
    let policy =
        Policy::parse(document).map_err(|source| QuarantineError::Unreadable { which, source })?;
    let (findings, omitted_grants) =
        carried_findings(analyse(&policy, restricted, Catalog::embedded()).findings);
    Ok(AppliedQuarantine {
        action,
        original_document: DocumentRef::of(document),
        quarantined_document: None,
        edits: Vec::new(),
        omitted_changes: 0,
        findings,
        omitted_grants,
        principal_ids: Vec::new(),
    })
}

/// What is left of the principal's inline-policy quota once its other inline policies are
/// counted. They are counted as IAM holds them, never re-written: an escape (`\u0041`) counts
/// as written, and only JSON's white space is left out. Counting more than IAM can only make
/// the quarantine delete where a rewrite would have fitted; counting less would make IAM refuse
/// the rewrite.
pub fn inline_budget(kind: PrincipalKind, other_documents: &[String]) -> usize {
    let used: usize = other_documents.iter().map(|d| inline_characters(d)).sum();
    inline_quota(kind).saturating_sub(used)
}

/// The characters of an inline policy's quota: 2,048 for a user, 10,240 for a role, 5,120 for
/// a group, all its inline policies together.
pub fn inline_quota(kind: PrincipalKind) -> usize {
    match kind {
        PrincipalKind::User => PolicyKind::UserInline,
        PrincipalKind::Role => PolicyKind::RoleInline,
        PrincipalKind::Group => PolicyKind::GroupInline,
    }
    .size_limit()
}

/// An inline policy's characters as `inline_budget` counts them: as written, JSON's white
/// space left out.
pub fn inline_characters(document: &str) -> usize {
    document
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .count()
}

/// An attachment as it is now: the document is read only while the policy is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentNow {
    pub principal: Principal,
    pub policy_arn: String,
    pub attached: bool,
    /// The attached policy's default document; `None` when the policy is gone.
    pub document: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentDecision {
    NotNeeded(String),
    Detach(AppliedQuarantine),
    /// Already detached by this step: an earlier attempt recorded the detachment, made it and
    /// lost its answer. Reported again, as that attempt would have, written nothing.
    DetachedBefore(AppliedQuarantine),
}

/// What an earlier attempt of this incident's quarantine step recorded just before its last
/// write (`decision_log::intent_key`): the target, in full (`TargetKey::canonical`), the
/// original document it kept, and which write. A detachment, an inline deletion or a removal
/// from a group leaves nothing in IAM to tell it from somebody else's; this does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub target: String,
    pub original: String,
    pub intended: Intended,
}

/// Which write an attempt recorded it was about to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intended {
    /// Take the grant away whole: detach, delete the inline policy, remove from the group.
    TakeAway,
    /// Rewrite the inline policy in place. Recorded so that a later attempt does not take an
    /// earlier attempt's recorded deletion for its own: the rewrite came after it.
    Rewrite,
}

impl Recorded {
    /// Whether this records taking `target` away: what makes its absence this step's doing.
    fn took_away(&self, target: &Target) -> bool {
        self.intended == Intended::TakeAway && self.target == TargetKey::canonical(target)
    }
}

/// `recorded`: what an earlier attempt of this step recorded before it wrote, if anything.
pub fn decide_attachment(
    now: &AttachmentNow,
    lagging: bool,
    restricted: &RestrictedActions,
    recorded: Option<&Recorded>,
) -> Result<AttachmentDecision, QuarantineError> {
    if !now.attached {
        let this = Target::Attachment {
            principal: now.principal.clone(),
            policy_arn: now.policy_arn.clone(),
        };
        if let Some(recorded) = recorded.filter(|r| r.took_away(&this)) {
            return detachment(now, &recorded.original, restricted)
                .map(AttachmentDecision::DetachedBefore);
        }
        return decide_missing("the policy is no longer attached", lagging)
            .map(AttachmentDecision::NotNeeded);
    }
    let Some(document) = &now.document else {
        return decide_missing("the attached policy no longer exists", lagging)
            .map(AttachmentDecision::NotNeeded);
    };
    let applied = detachment(now, document, restricted)?;
    if applied.findings.is_empty() {
        return Ok(AttachmentDecision::NotNeeded(
            "the attached policy, as it is now, grants no restricted action".into(),
        ));
    }
    Ok(AttachmentDecision::Detach(applied))
}

/// The record of detaching the policy whose document is `document`.
fn detachment(
    now: &AttachmentNow,
    document: &str,
    restricted: &RestrictedActions,
) -> Result<AppliedQuarantine, QuarantineError> {
    let action = QuarantineAction::Detached {
        principal: now.principal.clone(),
        policy_arn: now.policy_arn.clone(),
    };
    taken_away(action, "attached", document, restricted)
}

/// A group membership as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipNow {
    pub user: String,
    pub group: String,
    /// Whether IAM lists the user in the group (false when either is gone).
    pub member: bool,
    /// The group's policies (`membership::group_document`); `None` when the group is gone.
    pub group_document: Option<String>,
    /// What the membership adds to the user's effective access now (`membership::added_grants`).
    pub added: Vec<AddedGrant>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MembershipDecision {
    NotNeeded(String),
    /// Remove the user from the group.
    Remove(AppliedQuarantine),
    /// Already removed by this step: an earlier attempt recorded the removal, made it and lost
    /// its answer. Reported again, as that attempt would have, written nothing.
    RemovedBefore(AppliedQuarantine),
}

/// The user is taken out of the group only while the membership adds a restricted grant.
/// `recorded`: as for [`decide_attachment`].
pub fn decide_membership(
    now: &MembershipNow,
    lagging: bool,
    recorded: Option<&Recorded>,
) -> Result<MembershipDecision, QuarantineError> {
    let MembershipNow { user, group, .. } = now;
    if !now.member {
        let this = Target::GroupMembership {
            user: user.clone(),
            group: group.clone(),
        };
        if let Some(recorded) = recorded.filter(|r| r.took_away(&this)) {
            return Ok(MembershipDecision::RemovedBefore(removal(
                user,
                group,
                &recorded.original,
            )));
        }
    }
    let Some(group_document) = &now.group_document else {
        return decide_missing(&format!("group {group} no longer exists"), lagging)
            .map(MembershipDecision::NotNeeded);
    };
    if !now.member {
        return decide_missing(
            &format!("user {user} is no longer in group {group}"),
            lagging,
        )
        .map(MembershipDecision::NotNeeded);
    }
    if now.added.is_empty() {
        return Ok(MembershipDecision::NotNeeded(format!(
            "group {group}, as it is now, gives user {user} no restricted action it lacks"
        )));
    }
    Ok(MembershipDecision::Remove(removal(
        user,
        group,
        group_document,
    )))
}

/// The record of taking `user` out of `group`, whose policies were `group_document` then.
fn removal(user: &str, group: &str, group_document: &str) -> AppliedQuarantine {
    AppliedQuarantine {
        action: QuarantineAction::RemovedFromGroup {
            user: user.to_owned(),
            group: group.to_owned(),
        },
        original_document: DocumentRef::of(group_document),
        quarantined_document: None,
        edits: Vec::new(),
        omitted_changes: 0,
        findings: Vec::new(),
        omitted_grants: 0,
        principal_ids: Vec::new(),
    }
}
