//! The durable record of decisions (the stack's `DecisionTable`), as plain values: what an
//! incident's record holds, built from the workflow state Step Functions recorded; the grant
//! records that tell the sweep a grant in force was approved (or is being decided); and the
//! canonical digest that names a document whatever its white space, key order or encoding.
//!
//! Item keys: `incident#<execution name>`, `quarantine#<execution name>` ([`intent_key`]),
//! `grant#<target key>#<canonical digest>` (approvals), `claim#<target key>#<canonical digest>`
//! (the sweep's claims), `sweep#baseline`, `boundary#<role|user>#<name lowercased>`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::event::{Actor, EventFacts, PrincipalKind, Target};
use crate::name::TargetKey;
use crate::outcome::{Outcome, OutcomeState};
use crate::record::{Decision, QuarantineAction, QuarantineRecord, RestoreStatus};

/// The key of what an incident's quarantine step is about to take away (`quarantine#<execution
/// name>`: the target, and its original document's reference), recorded before it writes IAM:
/// a retry after a lost answer finds there the detachment or group removal it made, which IAM
/// cannot tell from somebody else's.
pub fn intent_key(incident: &str) -> String {
    format!("quarantine#{incident}")
}

/// The key of the incident starter's record of the execution it is about to start (`start#<execution
/// name>`: the digest of its input, `history::StartRecord`): the writers act only in executions
/// it started.
pub fn start_key(incident: &str) -> String {
    format!("start#{incident}")
}

/// The key of the one item that says the account's first sweep (the baseline) has run.
pub const BASELINE_KEY: &str = "sweep#baseline";

/// SHA-256 of the document re-serialised with its object keys sorted and no white space, so
/// that the text an event carried, the text IAM hands out (percent-encoded) and the text a
/// person wrote name one document (and an execution's input, as started and as Step Functions
/// hands it back, one input). Not JSON at all: None.
pub fn canonical_digest(document: &str) -> Option<String> {
    let decoded = policy_engine::decode(document).ok()?;
    let value: Value = serde_json::from_str(&decoded).ok()?;
    Some(hex(&Sha256::digest(canonical(&value).as_bytes())))
}

/// `value` as compact JSON with every object's keys in sorted order (serde_json keeps insertion
/// order here: the workspace enables `preserve_order`).
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&fields[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        scalar => scalar.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const GRANT_PREFIX: &str = "grant#";
const CLAIM_PREFIX: &str = "claim#";

/// One document in force on one target: what a grant record is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantKey {
    pub target: String,
    pub digest: String,
}

impl GrantKey {
    /// The grant of `document` on `target` (None when the document is not JSON).
    pub fn of(target: &Target, document: &str) -> Option<GrantKey> {
        Some(GrantKey {
            target: TargetKey::of(target).to_string(),
            digest: canonical_digest(document)?,
        })
    }

    /// The grant of the same document on `target` (e.g. a managed policy's document on one of
    /// its attachments).
    pub fn on(&self, target: &Target) -> GrantKey {
        GrantKey {
            target: TargetKey::of(target).to_string(),
            digest: self.digest.clone(),
        }
    }

    /// The table's key of the grant's record (an approval): `grant#<target key>#<digest>`.
    pub fn item_key(&self) -> String {
        format!("{GRANT_PREFIX}{}#{}", self.target, self.digest)
    }

    /// The table's key of a sweep's claim on the grant: `claim#<target key>#<digest>`. Claims
    /// have keys of their own so that the sweep's role may write no `grant#` item: an approval
    /// is restore-policy's alone, in IAM (`dynamodb:LeadingKeys`), not only in code.
    pub fn claim_key(&self) -> String {
        format!("{CLAIM_PREFIX}{}#{}", self.target, self.digest)
    }

    /// Reads a grant record's key back; anything else is None.
    pub fn from_item_key(key: &str) -> Option<GrantKey> {
        Self::after(GRANT_PREFIX, key)
    }

    /// Reads a claim's key back; anything else is None.
    pub fn from_claim_key(key: &str) -> Option<GrantKey> {
        Self::after(CLAIM_PREFIX, key)
    }

    fn after(prefix: &str, key: &str) -> Option<GrantKey> {
        let rest = key.strip_prefix(prefix)?;
        let (target, digest) = rest.split_once('#')?;
        let hex_of = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        (hex_of(target, 16) && hex_of(digest, 64)).then(|| GrantKey {
            target: target.to_owned(),
            digest: digest.to_owned(),
        })
    }
}

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantStatus {
    /// The sweep has started an incident for it: the decision is pending. Kept under the
    /// grant's `claim#` key; a `grant#` record may say so only if written before 4 Dec 2026.
    Deciding,
    /// A person approved it and restore-policy put it back (its decision proven).
    Approved,
}

/// A grant record as read from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub status: GrantStatus,
    /// The execution name of the incident that claimed or approved it.
    pub incident: String,
    pub at: OffsetDateTime,
    /// The target it was written for, in full (`TargetKey::canonical`): its key is only 64
    /// bits. Absent from records written before 3 Dec 2026.
    pub target: Option<String>,
}

impl GrantRecord {
    /// Whether the record was written for `target` as it is held now: not for another target
    /// whose key collides with its own (a record that does not say, written before targets
    /// were kept, is taken as its key says), nor for an earlier user, role or group of the same
    /// name (written before `principals_since`, when the latest of the target's principals was
    /// created: an approval is for the principal it was given to, T28). IAM dates to the
    /// second: a claim written in the second its principal was created is for it (a sweep
    /// claims once it has read the principals), an approval is not (restore-policy records one
    /// long after its principal was created; one created in the same second replaced it).
    pub fn is_for(&self, target: &Target, principals_since: Option<OffsetDateTime>) -> bool {
        self.is_for_written(&TargetKey::canonical(target), principals_since)
    }

    /// `is_for`, the target given in full (`TargetKey::canonical`).
    pub fn is_for_written(&self, target: &str, principals_since: Option<OffsetDateTime>) -> bool {
        let after = |created: OffsetDateTime| match self.status {
            GrantStatus::Approved => self.at > created,
            GrantStatus::Deciding => self.at >= created,
        };
        self.target
            .as_deref()
            .is_none_or(|written| written == target)
            && principals_since.is_none_or(after)
    }

    /// Whether the sweep leaves the grant alone: approved, or claimed for an incident recently
    /// enough that its decision may still be pending. A claim older than `stale_after` (the
    /// approval deadline and a margin) belongs to an incident that has ended without approval.
    /// A claim dated more than [`CLAIM_CLOCK_SKEW`] ahead of `now` was not written by a sweep
    /// (it writes its own time) and holds nothing: it would otherwise hold for ever.
    pub fn holds(&self, now: OffsetDateTime, stale_after: Duration) -> bool {
        match self.status {
            GrantStatus::Approved => true,
            GrantStatus::Deciding => {
                self.at - now <= CLAIM_CLOCK_SKEW && now - self.at < stale_after
            }
        }
    }

    /// Of two records of one grant (its approval and a claim, or two claims: one under its
    /// `claim#` key, one written under `grant#` before claims had a key of their own), the one
    /// the sweep goes by: the later, an approval of the same second as a claim. A claim is later
    /// than an approval only when the approval was for a principal created again since (the
    /// claim transaction lets no other through): the claim is the one deciding now.
    pub fn either(self, other: GrantRecord) -> GrantRecord {
        match (self.status, other.status) {
            _ if other.at > self.at => other,
            _ if self.at > other.at => self,
            (_, GrantStatus::Approved) => other,
            _ => self,
        }
    }
}

/// How far two sweeps' clocks may differ: a claim dated further ahead holds nothing.
pub const CLAIM_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// How long after its claim a `deciding` record stops holding: the approval deadline, plus a
/// day for the steps before and after it (retries, the consistency window).
pub fn claim_lifetime(approval_timeout_seconds: u64) -> Duration {
    Duration::from_secs(approval_timeout_seconds + 24 * 3600)
}

/// The boundary ledger's key for a user or role (`boundary#<role|user>#<name lowercased>`):
/// IAM's names are not distinguished by case.
pub fn boundary_key(kind: PrincipalKind, name: &str) -> String {
    format!("boundary#{kind}#{}", name.to_lowercase())
}

/// Who decided, and how: the approval page's record of the decision (its proof left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecidedBy {
    pub decision: Decision,
    /// True only for an approval whose proof restore-policy verified (it restores nothing, and
    /// records no restore, otherwise). Anyone allowed `states:SendTaskSuccess` can send a
    /// decision around the page: a deny, or a refused approve, and its who, where and why are
    /// only what the sender claimed.
    pub verified: bool,
    pub decided_at: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub comment: Option<String>,
}

/// An incident's durable record (`incident#<execution name>`): who changed what, what was
/// found, what was done, who decided and when, and the hash of the original document. Built
/// only from the state Step Functions recorded for the incident's publish step, rewritten at
/// each outcome it reaches (quarantined, then restored or kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentRecord {
    pub incident: String,
    pub outcome: Outcome,
    /// RFC 3339, when this outcome was recorded.
    pub recorded_at: String,
    pub event_name: Option<String>,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub actor: Option<Actor>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub target: Option<Target>,
    /// The restricted patterns found.
    pub patterns: Vec<String>,
    /// SHA-256 of the exact text of the original document (the document store's key).
    pub original_document_sha256: Option<String>,
    /// How the quarantine was applied (`newDefaultVersion`, `inlineRewritten`, `detached`).
    pub quarantine: Option<String>,
    pub decision: Option<DecidedBy>,
    pub restore: Option<RestoreStatus>,
}

impl IncidentRecord {
    /// The record of the incident `incident` (its execution name) at `outcome`, from the state
    /// its publish step was entered with.
    pub fn of(
        incident: &str,
        outcome: Outcome,
        state: &OutcomeState,
        at: OffsetDateTime,
    ) -> IncidentRecord {
        // The change as the assessment read it, else whatever the event named.
        let facts = match state.change() {
            Some(change) => EventFacts {
                event_id: Some(change.event_id),
                event_name: Some(change.event_name),
                event_time: Some(change.event_time),
                actor: Some(change.actor),
                source_ip: change.source_ip,
                user_agent: change.user_agent,
                target: Some(change.target),
                named: Default::default(),
            },
            None => state.facts().unwrap_or_default(),
        };
        let mut patterns: Vec<String> = state
            .findings()
            .unwrap_or_default()
            .iter()
            .flat_map(|f| f.hits.iter().map(|h| h.restricted.clone()))
            .collect();
        patterns.sort();
        patterns.dedup();
        let quarantine = state
            .quarantine
            .as_ref()
            .and_then(QuarantineRecord::applied)
            .map(|q| action_kind(&q.action).to_owned());
        IncidentRecord {
            incident: incident.to_owned(),
            outcome,
            recorded_at: rfc3339(at),
            event_name: facts.event_name,
            event_id: facts.event_id,
            event_time: facts.event_time,
            actor: facts.actor,
            source_ip: facts.source_ip,
            user_agent: facts.user_agent,
            target: facts.target,
            patterns,
            original_document_sha256: state.original_document().map(|d| d.sha256.clone()),
            quarantine,
            decision: state.approval.as_ref().map(|a| DecidedBy {
                decision: a.decision,
                verified: a.decision == Decision::Approve && state.restore.is_some(),
                decided_at: a.decided_at.clone(),
                source_ip: a.source_ip.clone(),
                user_agent: a.user_agent.clone(),
                comment: a.comment.clone(),
            }),
            restore: state.restore.as_ref().map(|r| r.status),
        }
    }

    /// The table's key: `incident#<execution name>`.
    pub fn item_key(&self) -> String {
        format!("incident#{}", self.incident)
    }
}

fn action_kind(action: &QuarantineAction) -> &'static str {
    match action {
        QuarantineAction::NewDefaultVersion { .. } => "newDefaultVersion",
        QuarantineAction::InlineRewritten { .. } => "inlineRewritten",
        QuarantineAction::InlineDeleted { .. } => "inlineDeleted",
        QuarantineAction::Detached { .. } => "detached",
        QuarantineAction::RemovedFromGroup { .. } => "removedFromGroup",
        QuarantineAction::BoundaryPutBack { .. } => "boundaryPutBack",
    }
}

/// The target a quarantine action took out of force: what an approval's grant record names.
pub fn quarantined_target(action: &QuarantineAction) -> Target {
    match action {
        QuarantineAction::NewDefaultVersion { policy_arn, .. } => Target::ManagedPolicy {
            policy_arn: policy_arn.clone(),
        },
        QuarantineAction::InlineRewritten {
            principal,
            policy_name,
        }
        | QuarantineAction::InlineDeleted {
            principal,
            policy_name,
        } => Target::InlinePolicy {
            principal: principal.clone(),
            policy_name: policy_name.clone(),
        },
        QuarantineAction::Detached {
            principal,
            policy_arn,
        } => Target::Attachment {
            principal: principal.clone(),
            policy_arn: policy_arn.clone(),
        },
        QuarantineAction::RemovedFromGroup { user, group } => Target::GroupMembership {
            user: user.clone(),
            group: group.clone(),
        },
        QuarantineAction::BoundaryPutBack { principal, .. } => Target::PermissionsBoundary {
            principal: principal.clone(),
        },
    }
}

/// RFC 3339 in UTC, whole seconds.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
