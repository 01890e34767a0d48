//! What the workflow carries from state to state: the assessment of the change, the quarantine
//! applied, the administrator's decision and the restore. Each record is an enum tagged the way
//! the state machine's Choice states read it, so a record cannot say "applied" without the
//! action to undo, or "restricted" without the findings; every applied quarantine keeps the
//! original document, so it is recoverable on every path. Documents travel as `DocumentRef`s:
//! the texts are in the document store.

use policy_engine::{Edit, EffectiveGrant, Finding};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::boundary::BoundaryChange;
use crate::event::{PolicyChange, Principal};
use crate::rules::RulesReport;

/// A policy document as the workflow state names it. The text itself is in the document store,
/// under this hash: IAM accepts documents of 131,072 characters, the state holds 256 KiB. The
/// hash, written in the execution's history by Step Functions, is what a reader trusts: a text
/// read back from the store that does not hash to it is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRef {
    /// SHA-256 of the exact text (UTF-8), lowercase hex: the store's key.
    pub sha256: String,
    /// Its length in characters, white space included.
    pub characters: usize,
}

impl DocumentRef {
    pub fn of(text: &str) -> DocumentRef {
        let sha256 = Sha256::digest(text.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        DocumentRef {
            sha256,
            characters: text.chars().count(),
        }
    }

    /// Whether `text` is exactly the document this names.
    pub fn names(&self, text: &str) -> bool {
        DocumentRef::of(text) == *self
    }
}

/// At most this much of a change's findings, and of a quarantine's edits (each as JSON),
/// travels in the state: they quote the document (Sids, actions, resources, conditions), and a
/// document IAM accepts can make hundreds of them, or hold 120,000 characters of white space
/// inside one condition value.
pub const CARRIED_BUDGET: usize = 8 * 1024;
/// A quoted text is cut to this many characters, and a list of texts to `LISTED_VALUES`.
const QUOTED_CHARS: usize = 200;
const LISTED_VALUES: usize = 10;

/// The findings as the state carries them (`carried`), with how many grants (hits) were left
/// out. The verdict and the quarantine are worked out on the whole document; only what people
/// read is shortened.
pub fn carried_findings(findings: Vec<Finding>) -> (Vec<Finding>, usize) {
    let mut omitted = 0;
    let findings = findings
        .into_iter()
        .map(|mut finding| {
            omitted += finding.hits.len().saturating_sub(LISTED_VALUES);
            finding.hits.truncate(LISTED_VALUES);
            finding
        })
        .collect();
    let (carried, left_out) = carried(findings);
    (
        carried,
        omitted + left_out.iter().map(|f| f.hits.len()).sum::<usize>(),
    )
}

/// The edits as the state carries them (`carried`), with how many were left out.
pub fn carried_edits(edits: Vec<Edit>) -> (Vec<Edit>, usize) {
    let (carried, left_out) = carried(edits);
    (carried, left_out.len())
}

/// Grants a grant path added, as the state carries them, with how many were left out: each via line
/// cut short, at most `LISTED_VALUES` of them per pattern.
pub fn carried_added_grants(grants: Vec<AddedGrant>) -> (Vec<AddedGrant>, usize) {
    let (carried, left_out) = carried(grants);
    (carried, left_out.len())
}

/// The users, roles and groups a managed policy is attached to, with their unique ids, as the
/// document store keeps them for its quarantine's record (`attached_to`): a JSON list.
pub fn attachments_document(attached: &[PrincipalId]) -> String {
    serde_json::to_string(attached).expect("principals always serialise")
}

/// The attachments a record's document lists (without ids, `id: None`, in one kept before ids
/// were); None when it does not read as such a list.
pub fn attachments_of(document: &str) -> Option<Vec<PrincipalId>> {
    serde_json::from_str(document).ok()
}

/// Each item with its quotes cut short, in order while they fit `CARRIED_BUDGET`; and the items
/// left out.
pub(crate) fn carried<T: Serialize + DeserializeOwned>(items: Vec<T>) -> (Vec<T>, Vec<T>) {
    let mut used = 0;
    let (mut carried, mut left_out) = (Vec::new(), Vec::new());
    for item in items {
        let Ok(mut json) = serde_json::to_value(&item) else {
            left_out.push(item);
            continue;
        };
        shorten(&mut json);
        let size = json.to_string().len();
        match serde_json::from_value::<T>(json) {
            Ok(short) if used + size <= CARRIED_BUDGET => {
                used += size;
                carried.push(short);
            }
            _ => left_out.push(item),
        }
    }
    (carried, left_out)
}

/// Cuts every text to `QUOTED_CHARS` and every list of texts to `LISTED_VALUES` (saying how
/// many more there were).
fn shorten(json: &mut Value) {
    match json {
        Value::String(text) if text.chars().count() > QUOTED_CHARS => {
            *text = format!("{}...", text.chars().take(QUOTED_CHARS).collect::<String>());
        }
        Value::Array(values) => {
            if values.len() > LISTED_VALUES && values.iter().all(Value::is_string) {
                let more = values.len() - LISTED_VALUES;
                values.truncate(LISTED_VALUES);
                values.push(Value::String(format!("... and {more} more")));
            }
            values.iter_mut().for_each(shorten);
        }
        Value::Object(fields) => fields.values_mut().for_each(shorten),
        _ => {}
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The output of the Analyse step (`$.incident` in the state): the verdict on one CloudTrail
/// event. The state machine routes on `verdict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    /// The CloudTrail event ID of the change.
    pub id: String,
    pub event_name: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The change grants at least one action an enforced rule restricts: quarantine and ask.
    Restricted(Analysed),
    /// The change grants actions only rules in alert mode restrict: notified and published,
    /// nothing written.
    Alerted(Analysed),
    /// Every restricted grant of the change is covered by an exemption of the rules file:
    /// published (and notified when the deployment notifies clean changes), nothing written.
    Exempted(Analysed),
    /// The change grants no restricted action.
    Clean(Analysed),
    /// The change grants a restricted action on one of iam-sentinel's own roles: told, never
    /// quarantined.
    Reported(ReportedGrant),
    /// A role's trust policy was set: who may now assume the role is told, never quarantined.
    TrustReported(TrustReport),
    /// Nothing to analyse: a failed call, iam-sentinel's own change, a version not made the
    /// default, a policy already gone.
    #[serde(rename_all = "camelCase")]
    Ignored {
        ignored_reason: String,
        /// Present when the event named a change whose policy no longer exists.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        change: Option<PolicyChange>,
    },
}

/// A change whose document was read and analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Analysed {
    pub change: PolicyChange,
    /// Whether the outcome is notified: always for restricted changes, for clean ones when the
    /// deployment asks for it (NotifyOnCleanChanges). The state machine reads it.
    pub notify: bool,
    /// The document analysed, as read (from the event, or from IAM).
    pub document: DocumentRef,
    /// For managed policies: the version analysed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// As `carried_findings` shortens them.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Grants found but left out of `findings` (`carried_findings`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_grants: usize,
    /// For a group membership (whose `document` is the group's policies, `findings` empty):
    /// the restricted patterns the membership adds to what the user can do without it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_grants: Vec<AddedGrant>,
    /// For a permissions-boundary change (whose `document` is the boundary it put in force,
    /// `findings` empty): the boundaries before and after, and what the principal can do since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<BoundaryChange>,
    /// What the rules file says beyond the quarantined grants: alerted, exempted, expired.
    #[serde(flatten)]
    pub rules: RulesReport,
}

/// A restricted pattern a grant path (a group membership, a permissions boundary) adds to a
/// principal's effective access, and the statements that grant it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddedGrant {
    pub pattern: String,
    /// One line per granting statement ("inline policy ops of group admins, statement Admin:
    /// iam:*"), as `carried_added_grants` shortens them.
    pub via: Vec<String>,
}

impl AddedGrant {
    /// An effective grant of the engine, as the records carry it.
    pub fn of(grant: EffectiveGrant) -> AddedGrant {
        AddedGrant {
            pattern: grant.pattern,
            via: grant
                .via
                .iter()
                .map(|statement| {
                    format!(
                        "{}, statement {}{}",
                        statement.source,
                        statement.statement,
                        if statement.actions.is_empty() {
                            " (NotAction)".to_owned()
                        } else {
                            format!(": {}", statement.actions.join(", "))
                        }
                    )
                })
                .collect(),
        }
    }
}

impl std::fmt::Display for AddedGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} through {}", self.pattern, self.via.join("; "))
    }
}

/// A role's trust policy as set by the change: who may assume the role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustReport {
    pub change: PolicyChange,
    /// The trust policy, as the change set it (event or IAM).
    pub document: DocumentRef,
    /// One line per principal a statement names (`trust::who_may_assume`).
    pub trusted: Vec<String>,
    /// What deserves a look: anyone, other accounts, conditions missing.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A restricted grant on one of iam-sentinel's own roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportedGrant {
    #[serde(flatten)]
    pub analysed: Analysed,
    /// Why it is reported instead of quarantined, and by whom it was made.
    pub reported_because: String,
}

impl Assessment {
    /// The change the event made, when the event named one.
    pub fn change(&self) -> Option<&PolicyChange> {
        match &self.verdict {
            Verdict::Restricted(analysed)
            | Verdict::Alerted(analysed)
            | Verdict::Exempted(analysed)
            | Verdict::Clean(analysed) => Some(&analysed.change),
            Verdict::Reported(reported) => Some(&reported.analysed.change),
            Verdict::TrustReported(report) => Some(&report.change),
            Verdict::Ignored { change, .. } => change.as_ref(),
        }
    }

    /// The document analysed and what was found in it.
    pub fn analysed(&self) -> Option<&Analysed> {
        match &self.verdict {
            Verdict::Restricted(analysed)
            | Verdict::Alerted(analysed)
            | Verdict::Exempted(analysed)
            | Verdict::Clean(analysed) => Some(analysed),
            Verdict::Reported(reported) => Some(&reported.analysed),
            Verdict::TrustReported(_) | Verdict::Ignored { .. } => None,
        }
    }
}

/// A policy version deleted to make room for the quarantine version (IAM keeps at most five).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedVersion {
    pub version_id: String,
    pub document: DocumentRef,
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
        deleted_version: Option<Box<DeletedVersion>>,
        /// The users, roles and groups the policy was attached to when it was quarantined, as
        /// the document store keeps them (`attachments_document`): the attachments an approval
        /// covers. One made while the approval is pending is not (its `Attach*Policy` event was
        /// analysed against the quarantine version); the sweep asks about it. Kept out of the
        /// state, which a policy attached to thousands would outgrow.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attached_to: Option<Box<DocumentRef>>,
    },
    /// The inline policy was overwritten with the quarantined document.
    #[serde(rename_all = "camelCase")]
    InlineRewritten {
        principal: Principal,
        policy_name: String,
    },
    /// The inline policy was deleted: no rewrite without its restricted grants fits what the
    /// principal's other inline policies leave of IAM's quota (a grants-nothing placeholder
    /// included). Its document is the original, kept; approval puts it back.
    #[serde(rename_all = "camelCase")]
    InlineDeleted {
        principal: Principal,
        policy_name: String,
    },
    /// The managed policy was detached from the principal.
    #[serde(rename_all = "camelCase")]
    Detached {
        principal: Principal,
        policy_arn: String,
    },
    /// The user was removed from the group (RemoveUserFromGroup); the original document is the
    /// group's policies as they were then.
    RemovedFromGroup { user: String, group: String },
    /// The boundary in force before the change (or, when that is unknown or would grant more
    /// than the quarantine allows, the stack's quarantine boundary) was put back.
    #[serde(rename_all = "camelCase")]
    BoundaryPutBack {
        principal: Principal,
        previous_boundary_arn: String,
        /// The boundary the change set (what approval puts back); `None`: it deleted it.
        changed_to: Option<String>,
    },
}

impl QuarantineAction {
    /// Where the document store keeps the users, roles and groups a managed policy was attached
    /// to when quarantined (what an approval covers); `None` for any other quarantine, or one
    /// made before they were kept.
    pub fn attachments(&self) -> Option<&DocumentRef> {
        match self {
            QuarantineAction::NewDefaultVersion { attached_to, .. } => attached_to.as_deref(),
            _ => None,
        }
    }
}

/// The output of the Quarantine step (`$.quarantine`). The state machine routes on `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum QuarantineRecord {
    /// The quarantine is in place.
    Applied(Box<AppliedQuarantine>),
    /// By the time the step looked, the policy no longer granted a restricted action (or was
    /// gone): a newer change superseded this one.
    NotNeeded { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedQuarantine {
    pub action: QuarantineAction,
    /// The document as it was when quarantined: what approval restores.
    pub original_document: DocumentRef,
    /// The document now in force (absent when the policy was detached instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined_document: Option<DocumentRef>,
    /// What the planner did to each statement, as `carried_edits` shortens them.
    #[serde(default, rename = "changes")]
    pub edits: Vec<Edit>,
    /// Edits left out of `edits`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_changes: usize,
    /// The findings on the state actually quarantined (it may be newer than the event's), as
    /// `carried_findings` shortens them.
    pub findings: Vec<Finding>,
    /// Grants found but left out of `findings`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_grants: usize,
    /// The users, roles and groups the change named, with the unique ids IAM gave them, read
    /// before the quarantine acted: approval is for these principals, not for one deleted and
    /// created again under the same name since (`restore::replaced_since`). Empty for a
    /// managed policy's new version, and in a record made before ids were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principal_ids: Vec<PrincipalId>,
}

/// A user, role or group and the unique id IAM gave it (`AIDA…`, `AROA…`, `AGPA…`): a
/// principal deleted and created again under the same name gets a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalId {
    #[serde(flatten)]
    pub principal: Principal,
    /// `None`: no such principal when IAM was asked (or, in a list of attachments kept before
    /// ids were, not known).
    #[serde(default)]
    pub id: Option<String>,
}

impl QuarantineRecord {
    pub fn applied(&self) -> Option<&AppliedQuarantine> {
        match self {
            QuarantineRecord::Applied(applied) => Some(applied),
            QuarantineRecord::NotNeeded { .. } => None,
        }
    }
}

/// The findings on the state quarantined, else the assessment's (the policy may have changed
/// between the event and the quarantine).
pub fn current_findings<'a>(
    quarantine: Option<&'a QuarantineRecord>,
    assessment: Option<&'a Assessment>,
) -> Option<&'a [Finding]> {
    quarantine
        .and_then(QuarantineRecord::applied)
        .map(|q| q.findings.as_slice())
        .filter(|f| !f.is_empty())
        .or(assessment
            .and_then(Assessment::analysed)
            .map(|a| a.findings.as_slice()))
}

/// The grants left out of `current_findings`.
pub fn current_omitted_grants(
    quarantine: Option<&QuarantineRecord>,
    assessment: Option<&Assessment>,
) -> usize {
    quarantine
        .and_then(QuarantineRecord::applied)
        .filter(|q| !q.findings.is_empty())
        .map(|q| q.omitted_grants)
        .or(assessment
            .and_then(Assessment::analysed)
            .map(|a| a.omitted_grants))
        .unwrap_or_default()
}

/// The administrator's decision with its context, as the approval step returns it (`$.approval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
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
    /// The approval API's MAC of the decision (`approval::proof`): what tells a decision taken
    /// on the page from one sent to Step Functions by anyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
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
    /// What the approval would restore was deleted meanwhile: nothing to restore.
    Gone,
}

/// The output of the Restore step (`$.restore`). The state machine routes on `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRecord {
    pub status: RestoreStatus,
    pub detail: String,
}

/// Documents compared as JSON values: IAM may hand back different white space or encoding.
/// Anything that is not JSON is never the same as anything.
pub fn same_document(a: &str, b: &str) -> bool {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    matches!((parse(a), parse(b)), (Some(a), Some(b)) if a == b)
}
