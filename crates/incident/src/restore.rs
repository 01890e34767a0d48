//! Deciding a restore, pure: approval was given for the state the quarantine left, so the
//! original goes back only while that state is still in force. Three cases for each kind of
//! quarantine: restored already (an earlier attempt's answer was lost, or a person did it), the
//! quarantine still in force (restore), or someone changed the policy since (their change wins:
//! skipped, and the record says why), plus the case where what would be restored was deleted
//! meanwhile (gone). The approval page shows the same plan before anyone decides.

use crate::event::Principal;
use crate::quarantine::{inline_budget, inline_characters, inline_quota};
use crate::record::{PrincipalId, RestoreRecord, RestoreStatus, same_document};

/// One IAM write of a restore, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreWrite {
    SetDefaultVersion {
        policy_arn: String,
        version_id: String,
    },
    DeleteVersion {
        policy_arn: String,
        version_id: String,
    },
    PutInline {
        principal: Principal,
        policy_name: String,
        document: String,
    },
    Attach {
        principal: Principal,
        policy_arn: String,
    },
    AddToGroup {
        user: String,
        group: String,
    },
    PutBoundary {
        principal: Principal,
        boundary_arn: String,
    },
    DeleteBoundary {
        principal: Principal,
    },
}

/// The writes to make, then the record to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub writes: Vec<RestoreWrite>,
    pub record: RestoreRecord,
}

pub(crate) fn restored(writes: Vec<RestoreWrite>, detail: String) -> RestorePlan {
    RestorePlan {
        writes,
        record: RestoreRecord {
            status: RestoreStatus::Restored,
            detail,
        },
    }
}

pub(crate) fn gone(detail: String) -> RestorePlan {
    RestorePlan {
        writes: Vec::new(),
        record: RestoreRecord {
            status: RestoreStatus::Gone,
            detail,
        },
    }
}

impl RestorePlan {
    /// What approving would do now, for the approval page (the Restore step decides again,
    /// on what IAM holds then).
    pub fn approve_would(&self) -> String {
        match self.record.status {
            RestoreStatus::Restored if self.writes.is_empty() => format!(
                "Approve changes nothing more: the original is in force already ({}).",
                self.record.detail
            ),
            RestoreStatus::Restored => {
                let writes: Vec<String> = self.writes.iter().map(RestoreWrite::describe).collect();
                format!("Approve will {}.", writes.join(", then "))
            }
            RestoreStatus::Skipped | RestoreStatus::Gone => format!(
                "Approve will restore nothing: {}. Deny keeps the quarantine as it is.",
                self.record.detail
            ),
        }
    }
}

impl RestoreWrite {
    fn describe(&self) -> String {
        match self {
            RestoreWrite::SetDefaultVersion {
                policy_arn,
                version_id,
            } => format!("make version {version_id} of {policy_arn} the default again"),
            RestoreWrite::DeleteVersion { version_id, .. } => {
                format!("delete the quarantine version {version_id}")
            }
            RestoreWrite::PutInline {
                principal,
                policy_name,
                ..
            } => format!(
                "put inline policy {policy_name} of {principal} back as the change wrote it"
            ),
            RestoreWrite::Attach {
                principal,
                policy_arn,
            } => format!("attach {policy_arn} to {principal} again"),
            RestoreWrite::AddToGroup { user, group } => {
                format!("add user {user} to group {group} again")
            }
            RestoreWrite::PutBoundary {
                principal,
                boundary_arn,
            } => format!("make {boundary_arn} the permissions boundary of {principal} again"),
            RestoreWrite::DeleteBoundary { principal } => {
                format!("delete the permissions boundary of {principal} again")
            }
        }
    }
}

pub(crate) fn skipped(detail: String) -> RestorePlan {
    RestorePlan {
        writes: Vec::new(),
        record: RestoreRecord {
            status: RestoreStatus::Skipped,
            detail,
        },
    }
}

/// Approval was given for the users, roles and groups the quarantine acted on (`recorded`,
/// with the ids IAM had given them). One deleted since has nothing to get back; one deleted and
/// created again under the same name has a new id: it is another principal, and restoring
/// would grant it what nobody approved for it. Either way nothing is restored (gone). `now`
/// holds the same principals as IAM has them now.
pub fn replaced_since(recorded: &[PrincipalId], now: &[PrincipalId]) -> Option<RestorePlan> {
    recorded.iter().find_map(|then| {
        let now_id = now
            .iter()
            .find(|now| now.principal == then.principal)
            .and_then(|now| now.id.as_deref());
        let principal = &then.principal;
        match (then.id.as_deref(), now_id) {
            (Some(then_id), Some(now_id)) if then_id == now_id => None,
            (None, None) => None,
            (Some(then_id), Some(now_id)) => Some(gone(format!(
                "{principal} was deleted and created again after the quarantine (IAM id \
                 {then_id} then, {now_id} now): the approval was for the earlier one"
            ))),
            (Some(then_id), None) => Some(gone(format!(
                "{principal} no longer exists (deleted after the quarantine; IAM id {then_id}): \
                 nothing to give back"
            ))),
            (None, Some(now_id)) => Some(gone(format!(
                "{principal} did not exist when the quarantine acted and was created since (IAM \
                 id {now_id}): the approval was not for it"
            ))),
        }
    })
}

/// A managed policy quarantined with a new default version, as it is now. Versions are
/// compared by their documents too: a policy deleted and created again under its ARN numbers
/// its versions from v1 again, and a version id alone would let approving put another document
/// in force than the one approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedRestoreNow {
    pub policy_arn: String,
    pub offending_version_id: String,
    pub quarantine_version_id: String,
    /// The offending version's document as the quarantine kept it: what the approval was for.
    pub original: String,
    /// The quarantine version's document as the quarantine wrote it.
    pub quarantined: String,
    /// `None` when the policy is gone.
    pub default_version_id: Option<String>,
    /// The document the quarantine version holds now (the default's, when it is the default);
    /// `None` when it was deleted.
    pub quarantine_document: Option<String>,
    /// The document the offending version holds now (the default's, when it is the default);
    /// `None` when it was deleted.
    pub offending_document: Option<String>,
}

pub fn restore_managed(now: &ManagedRestoreNow) -> RestorePlan {
    let ManagedRestoreNow {
        policy_arn,
        offending_version_id: offending,
        quarantine_version_id: quarantine,
        ..
    } = now;
    let delete_quarantine = RestoreWrite::DeleteVersion {
        policy_arn: policy_arn.clone(),
        version_id: quarantine.clone(),
    };
    // Only the version holding the quarantine's document is the quarantine's to delete.
    let quarantine_is_ours = now
        .quarantine_document
        .as_deref()
        .is_some_and(|document| same_document(document, &now.quarantined));
    let Some(current) = &now.default_version_id else {
        return gone(format!(
            "policy {policy_arn} no longer exists (deleted after the quarantine)"
        ));
    };
    if let Some(offending_document) = &now.offending_document
        && !same_document(offending_document, &now.original)
    {
        return gone(format!(
            "version {offending} of {policy_arn} no longer holds the document the approval was \
             for (the policy was deleted and created again since): making it the default would \
             put another document in force"
        ));
    }
    match current.as_str() {
        current if current == quarantine && now.offending_document.is_none() => gone(format!(
            "version {offending} of {policy_arn}, which approving would make the default again, \
             was deleted after the quarantine; the quarantine version {quarantine} stays the \
             default"
        )),
        current if current == quarantine && !quarantine_is_ours => skipped(format!(
            "the default version {quarantine} of {policy_arn} no longer holds the \
                 quarantine's document: someone changed the policy since, and restoring would \
                 undo their change"
        )),
        current if current == offending => restored(
            if quarantine_is_ours {
                vec![delete_quarantine]
            } else {
                Vec::new()
            },
            format!(
                "version {offending} of {policy_arn} was the default again already; quarantine \
                 version {quarantine} deleted"
            ),
        ),
        current if current == quarantine => restored(
            vec![
                RestoreWrite::SetDefaultVersion {
                    policy_arn: policy_arn.clone(),
                    version_id: offending.clone(),
                },
                delete_quarantine,
            ],
            format!(
                "version {offending} of {policy_arn} is the default again; quarantine version \
                 {quarantine} deleted"
            ),
        ),
        current => skipped(format!(
            "the default version of {policy_arn} is now {current}, not the quarantine version \
             {quarantine}: someone changed the policy since, and restoring would undo their change"
        )),
    }
}

/// An inline policy the quarantine rewrote or deleted, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineRestoreNow {
    pub principal: Principal,
    pub policy_name: String,
    pub original: String,
    /// The document the quarantine wrote; `None` when it deleted the policy.
    pub quarantined: Option<String>,
    /// `None` when the inline policy is gone.
    pub current: Option<String>,
    /// Whether the user, role or group still exists. Read only for a deleted policy still
    /// absent (IAM is asked only then); `true` otherwise.
    pub principal_exists: bool,
    /// The principal's other inline policies now: what they leave of its quota is the room
    /// the original must fit to go back.
    pub other_documents: Vec<String>,
}

/// The attachments an approved managed policy's document is approved on: those it had when it
/// was quarantined (`quarantined`, the record's) that it still has (`now`), each still the
/// principal it was then (the same unique id). One made while the approval was pending, on a
/// principal created again under an earlier one's name too, and every one of a list kept
/// without ids, is left to the sweep, which asks about it.
pub fn approved_attachments(quarantined: &[PrincipalId], now: Vec<PrincipalId>) -> Vec<Principal> {
    now.into_iter()
        .filter(|now| {
            now.id.is_some()
                && quarantined
                    .iter()
                    .any(|then| then.principal == now.principal && then.id == now.id)
        })
        .map(|now| now.principal)
        .collect()
}

pub fn restore_inline(now: &InlineRestoreNow) -> RestorePlan {
    let InlineRestoreNow {
        principal,
        policy_name,
        ..
    } = now;
    let put_original = || RestoreWrite::PutInline {
        principal: principal.clone(),
        policy_name: policy_name.clone(),
        document: now.original.clone(),
    };
    // The principal's other inline policies may have grown into the room since: IAM would
    // refuse the original.
    let room = inline_budget(principal.kind, &now.other_documents);
    let needed = inline_characters(&now.original);
    let does_not_fit = || {
        skipped(format!(
            "inline policy {policy_name} of {principal} no longer fits the {}'s inline-policy \
             quota: its other inline policies leave {room} of {} characters now, and the \
             original needs {needed}; IAM would refuse it (the original is kept)",
            principal.kind_name(),
            inline_quota(principal.kind),
        ))
    };
    let deleted_by_the_quarantine = now.quarantined.is_none();
    let Some(current) = now.current.as_deref() else {
        if !deleted_by_the_quarantine {
            return gone(format!(
                "inline policy {policy_name} of {principal} no longer exists (it, or its {}, was \
                 deleted after the quarantine)",
                principal.kind_name()
            ));
        }
        if !now.principal_exists {
            return gone(format!(
                "{principal} no longer exists (deleted after the quarantine): nothing to put \
                 inline policy {policy_name} back on"
            ));
        }
        if needed > room {
            return does_not_fit();
        }
        return restored(
            vec![put_original()],
            format!(
                "inline policy {policy_name} of {principal}, deleted by the quarantine, holds its \
                 original document again"
            ),
        );
    };
    if same_document(current, &now.original) {
        return restored(
            Vec::new(),
            format!(
                "inline policy {policy_name} of {principal} held its original document already"
            ),
        );
    }
    let still_quarantined = now
        .quarantined
        .as_deref()
        .is_some_and(|quarantined| same_document(current, quarantined));
    if !still_quarantined {
        let since = if deleted_by_the_quarantine {
            "was written again after the quarantine deleted it"
        } else {
            "changed after the quarantine"
        };
        return skipped(format!(
            "inline policy {policy_name} of {principal} {since}: restoring would undo that change"
        ));
    }
    if needed > room {
        return does_not_fit();
    }
    restored(
        vec![put_original()],
        format!("inline policy {policy_name} of {principal} holds its original document again"),
    )
}

/// The record of a restore whose `write` IAM refused over a quota (`LimitExceeded`, `refusal`
/// its answer): an inline policy the principal's other inline policies leave no room for
/// (counted otherwise than the plan counted), a policy to attach to a principal whose managed
/// policies fill its quota, a user to add to a group when it is in as many groups as it may be
/// (which the Restore step leaves to IAM). `None` for any other write, which no quota IAM holds
/// a principal to can refuse.
pub fn refused_over_quota(write: &RestoreWrite, refusal: &str) -> Option<RestoreRecord> {
    let detail = match write {
        RestoreWrite::PutInline {
            principal,
            policy_name,
            ..
        } => format!(
            "inline policy {policy_name} of {principal} no longer fits the {}'s inline-policy \
             quota: IAM refused to put the original back ({refusal}); the original is kept",
            principal.kind_name()
        ),
        RestoreWrite::Attach {
            principal,
            policy_arn,
        } => format!(
            "{principal} has as many managed policies attached as its quota allows: IAM refused \
             to attach {policy_arn} again ({refusal}); it stays detached"
        ),
        RestoreWrite::AddToGroup { user, group } => format!(
            "user {user} is in as many groups as its quota allows: IAM refused to add it to \
             group {group} again ({refusal}); it stays out"
        ),
        _ => return None,
    };
    Some(RestoreRecord {
        status: RestoreStatus::Skipped,
        detail,
    })
}

/// How many of something IAM lets one principal have (its quota as the account summary
/// reports it) and how many it has now: the managed policies attached to a user, role or group,
/// or the groups a user is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Places {
    pub used: usize,
    pub quota: usize,
}

/// What approving would do once IAM's count quotas are counted, for the approval page: a plan
/// that takes a place (re-attaches a policy, or adds a user back to a group) restores nothing
/// when the principal has no place free now (`places`). The detachment or removal freed one,
/// which others may have taken while the approval waited. The Restore step does not forecast:
/// it writes, and IAM's refusal is its record (`refused_over_quota`), since only IAM knows the
/// quota for certain.
pub fn forecast_count_quota(plan: RestorePlan, places: Places) -> RestorePlan {
    let Places { used, quota } = places;
    if used < quota {
        return plan;
    }
    match plan.writes.as_slice() {
        [
            RestoreWrite::Attach {
                principal,
                policy_arn,
            },
        ] => skipped(format!(
            "{principal} has {used} managed policies attached now, and the account's quota is \
             {quota}: IAM would refuse to attach {policy_arn} again (it stays detached)"
        )),
        [RestoreWrite::AddToGroup { user, group }] => skipped(format!(
            "user {user} is in {used} groups now, and the account's quota is {quota}: IAM would \
             refuse to add it to group {group} again (it stays out)"
        )),
        _ => plan,
    }
}

/// A detached policy, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRestoreNow {
    pub principal: Principal,
    pub policy_arn: String,
    /// The document approved: the one seen at quarantine time.
    pub original: String,
    pub attached: bool,
    /// The policy's default document now; `None` when the policy is gone.
    pub current: Option<String>,
}

pub fn restore_attachment(now: &AttachmentRestoreNow) -> RestorePlan {
    let AttachmentRestoreNow {
        principal,
        policy_arn,
        ..
    } = now;
    if now.attached {
        return restored(
            Vec::new(),
            format!("{policy_arn} was attached to {principal} already"),
        );
    }
    let Some(current) = &now.current else {
        return gone(format!(
            "{policy_arn} no longer exists (deleted after the quarantine): nothing to re-attach"
        ));
    };
    // Approval was given for the document seen at quarantine time: re-attach only that.
    if !same_document(current, &now.original) {
        return skipped(format!(
            "the document of {policy_arn} changed after the quarantine: re-attaching would grant \
             what nobody approved"
        ));
    }
    restored(
        vec![RestoreWrite::Attach {
            principal: principal.clone(),
            policy_arn: policy_arn.clone(),
        }],
        format!("{policy_arn} is attached to {principal} again"),
    )
}

/// A membership the quarantine removed, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRestoreNow {
    pub user: String,
    pub group: String,
    /// The group's policies approved: as they were when the user was removed.
    pub original: String,
    pub user_exists: bool,
    /// The group's policies now (`membership::group_document`); `None` when the group is gone.
    pub current: Option<String>,
    pub member: bool,
}

/// Adds back exactly the membership the quarantine removed, and only while the group grants
/// what was approved.
pub fn restore_membership(now: &MembershipRestoreNow) -> RestorePlan {
    let MembershipRestoreNow { user, group, .. } = now;
    if now.member {
        return restored(
            Vec::new(),
            format!("user {user} was in group {group} already"),
        );
    }
    if !now.user_exists {
        return gone(format!(
            "user {user} no longer exists (deleted after the quarantine): nobody to add back"
        ));
    }
    let Some(current) = &now.current else {
        return gone(format!(
            "group {group} no longer exists (deleted after the quarantine): nothing to add {user} to"
        ));
    };
    // Approval was given for the group's policies seen at quarantine time.
    if !same_document(current, &now.original) {
        return skipped(format!(
            "the policies of group {group} changed after the quarantine: adding user {user} \
             back would grant what nobody approved"
        ));
    }
    restored(
        vec![RestoreWrite::AddToGroup {
            user: user.clone(),
            group: group.clone(),
        }],
        format!("user {user} is in group {group} again"),
    )
}
