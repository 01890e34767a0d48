//! Deciding a restore, pure: approval was given for the state the quarantine left, so the
//! original goes back only while that state is still in force. Three cases for each kind of
//! quarantine: restored already (an earlier attempt's answer was lost, or a person did it), the
//! quarantine still in force (restore), or someone changed the policy since (their change wins:
//! skipped, and the record says why).

use crate::event::Principal;
use crate::record::{RestoreRecord, RestoreStatus, same_document};

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
}

/// The writes to make, then the record to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub writes: Vec<RestoreWrite>,
    pub record: RestoreRecord,
}

fn restored(writes: Vec<RestoreWrite>, detail: String) -> RestorePlan {
    RestorePlan {
        writes,
        record: RestoreRecord {
            status: RestoreStatus::Restored,
            detail,
        },
    }
}

fn skipped(detail: String) -> RestorePlan {
    RestorePlan {
        writes: Vec::new(),
        record: RestoreRecord {
            status: RestoreStatus::Skipped,
            detail,
        },
    }
}

/// A managed policy quarantined with a new default version, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedRestoreNow {
    pub policy_arn: String,
    pub offending_version_id: String,
    pub quarantine_version_id: String,
    /// `None` when the policy is gone.
    pub default_version_id: Option<String>,
    pub quarantine_version_exists: bool,
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
    match now.default_version_id.as_deref() {
        Some(current) if current == offending => restored(
            if now.quarantine_version_exists {
                vec![delete_quarantine]
            } else {
                Vec::new()
            },
            format!(
                "version {offending} of {policy_arn} was the default again already; quarantine \
                 version {quarantine} deleted"
            ),
        ),
        Some(current) if current == quarantine => restored(
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
            "the default version of {policy_arn} is now {}, not the quarantine version \
             {quarantine}: someone changed the policy since, and restoring would undo their change",
            current.unwrap_or("gone")
        )),
    }
}

/// An inline policy quarantined by a rewrite, as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineRestoreNow {
    pub principal: Principal,
    pub policy_name: String,
    pub original: String,
    pub quarantined: Option<String>,
    /// `None` when the inline policy is gone.
    pub current: Option<String>,
}

pub fn restore_inline(now: &InlineRestoreNow) -> RestorePlan {
    let InlineRestoreNow {
        principal,
        policy_name,
        ..
    } = now;
    let current = now.current.as_deref();
    if current.is_some_and(|c| same_document(c, &now.original)) {
        return restored(
            Vec::new(),
            format!(
                "inline policy {policy_name} of {principal} held its original document already"
            ),
        );
    }
    let still_quarantined = matches!(
        (current, now.quarantined.as_deref()),
        (Some(current), Some(quarantined)) if same_document(current, quarantined)
    );
    if !still_quarantined {
        return skipped(format!(
            "inline policy {policy_name} of {principal} changed after the quarantine: restoring \
             would undo that change"
        ));
    }
    restored(
        vec![RestoreWrite::PutInline {
            principal: principal.clone(),
            policy_name: policy_name.clone(),
            document: now.original.clone(),
        }],
        format!("inline policy {policy_name} of {principal} holds its original document again"),
    )
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
        return skipped(format!(
            "{policy_arn} no longer exists: nothing to re-attach"
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
