//! What the workflow carries from state to state: the incident, the quarantine applied, the
//! approval decision and the restore. Every record keeps the original document, so it is
//! recoverable on every path.

use policy_engine::{Change, Finding};
use serde::{Deserialize, Serialize};

use crate::event::{PolicyChange, Principal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Restricted,
    Clean,
    Ignored,
}

/// The output of the Analyse step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// The CloudTrail event ID of the change.
    pub id: String,
    pub event_name: String,
    pub verdict: Verdict,
    /// Whether a clean change is still notified (deployment parameter).
    pub notify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<PolicyChange>,
    pub restricted_actions: String,
    /// The document analysed, as read (from the event, or from IAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// For managed policies: the version analysed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineStatus {
    /// The quarantine is in place.
    Applied,
    /// By the time we looked, the policy no longer granted a restricted action (or was gone).
    NotNeeded,
}

/// A policy version deleted to make room for the quarantine version (IAM keeps at most five).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedVersion {
    pub version_id: String,
    pub document: String,
}

/// How the quarantine was applied, with what a restore needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum QuarantineAction {
    /// A new default version holds the quarantined document; the offending one stays, not default.
    #[serde(rename_all = "camelCase")]
    NewDefaultVersion {
        policy_arn: String,
        offending_version_id: String,
        quarantine_version_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deleted_version: Option<DeletedVersion>,
    },
    /// The inline policy was overwritten with the quarantined document.
    #[serde(rename_all = "camelCase")]
    InlineRewritten {
        principal: Principal,
        policy_name: String,
    },
    /// The managed policy was detached from the principal.
    #[serde(rename_all = "camelCase")]
    Detached {
        principal: Principal,
        policy_arn: String,
    },
}

/// The output of the Quarantine step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantineRecord {
    pub status: QuarantineStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<QuarantineAction>,
    /// The document as it was when quarantined: what approval restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined_document: Option<String>,
    #[serde(default)]
    pub changes: Vec<Change>,
    /// The findings on the state actually quarantined (it may be newer than the event's).
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// The findings on the state quarantined, else the incident's (the policy may have changed
/// between the event and the quarantine).
pub fn current_findings<'a>(
    quarantine: Option<&'a QuarantineRecord>,
    incident: Option<&'a Incident>,
) -> Option<&'a [Finding]> {
    quarantine
        .map(|q| q.findings.as_slice())
        .filter(|f| !f.is_empty())
        .or(incident.map(|i| i.findings.as_slice()))
}

/// The administrator's decision, as the approval step returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Missing or unrecognised decisions read as `Unrecognised`: the workflow keeps the
    /// quarantine for them, and the notification must still go out.
    #[serde(default)]
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
    #[default]
    #[serde(other)]
    Unrecognised,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreStatus {
    Restored,
    /// Someone changed the policy after the quarantine: restoring would clobber their change.
    Skipped,
}

/// The output of the Restore step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRecord {
    pub status: RestoreStatus,
    pub detail: String,
}
