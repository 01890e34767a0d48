//! The end of every path: an outcome, told to people (SNS) and to other tools (EventBridge).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use policy_engine::{Change, Finding};

use crate::event::{PolicyChange, Target};
use crate::record::{
    Approval, Incident, QuarantineAction, QuarantineRecord, RestoreRecord, RestoreStatus,
    current_findings,
};

/// The EventBridge `source` of every event iam-sentinel publishes.
pub const EVENT_SOURCE: &str = "iam-sentinel";

/// SNS refuses subjects of 100 characters or more.
pub(crate) const SUBJECT_LIMIT: usize = 99;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Quarantined,
    Restored,
    /// Approved, but the policy changed after the quarantine: restoring would undo that change.
    RestoreSkipped,
    Kept,
    TimedOut,
    Clean,
    Superseded,
    Failed,
}

impl Outcome {
    /// The outcome the records show: the state machine publishes "restored" after every
    /// Restore step, but a restore that was skipped must not be announced as done.
    pub fn as_recorded(self, state: &OutcomeState) -> Outcome {
        let skipped = state
            .restore
            .as_ref()
            .is_some_and(|r| r.status == RestoreStatus::Skipped);
        if self == Outcome::Restored && skipped {
            Outcome::RestoreSkipped
        } else {
            self
        }
    }

    /// One EventBridge detail-type per outcome, so rules can subscribe to just one.
    pub fn detail_type(self) -> &'static str {
        match self {
            Outcome::Quarantined => "IAM Sentinel Policy Quarantined",
            Outcome::Restored => "IAM Sentinel Policy Restored",
            Outcome::RestoreSkipped => "IAM Sentinel Restore Skipped",
            Outcome::Kept => "IAM Sentinel Quarantine Kept",
            Outcome::TimedOut => "IAM Sentinel Approval Timed Out",
            Outcome::Clean => "IAM Sentinel Clean Change",
            Outcome::Superseded => "IAM Sentinel Change Superseded",
            Outcome::Failed => "IAM Sentinel Incident Failed",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            Outcome::Quarantined => "Restricted grant quarantined",
            Outcome::Restored => "Approved and restored",
            Outcome::RestoreSkipped => "Approved, but not restored",
            Outcome::Kept => "Denied: quarantine kept",
            Outcome::TimedOut => "No decision in time: quarantine kept",
            Outcome::Clean => "Policy change checked: clean",
            Outcome::Superseded => "Policy changed again: nothing to quarantine",
            Outcome::Failed => "FAILED: needs a person",
        }
    }

    fn what_happens(self) -> &'static str {
        match self {
            Outcome::Quarantined => {
                "The restricted grants were removed at once; everything else the policy grants still \
                 works. An approval request follows: approve restores the original, deny or no \
                 answer keeps the quarantine."
            }
            Outcome::Restored => "The original policy is back in force, exactly as it was.",
            Outcome::RestoreSkipped => {
                "Someone changed the policy after the quarantine, so putting the original back would \
                 have undone their change. Nothing was restored: the policy is as they left it. The \
                 original document is below, to restore by hand if that is still wanted."
            }
            Outcome::Kept => {
                "The quarantine stays. The original document is below and in the policy's \
                 version history (managed policies), so it can still be restored by hand."
            }
            Outcome::TimedOut => {
                "Nobody decided before the deadline, so the quarantine stays (fail closed). The \
                 original document is below."
            }
            Outcome::Clean => "The change grants no restricted action. Nothing was done.",
            Outcome::Superseded => {
                "By the time iam-sentinel looked, the policy had changed again and no longer grants \
                 a restricted action (or is gone). Nothing was done."
            }
            Outcome::Failed => {
                "The workflow stopped on an error. The policy may or may not be quarantined: check it \
                 now. What the workflow knew is below."
            }
        }
    }
}

/// What the workflow knew when it reached an outcome: the state machine passes its whole state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeState {
    #[serde(default)]
    pub incident: Option<Incident>,
    #[serde(default)]
    pub quarantine: Option<QuarantineRecord>,
    #[serde(default)]
    pub approval: Option<Approval>,
    #[serde(default)]
    pub restore: Option<RestoreRecord>,
    /// A caught error: `{"Error": ..., "Cause": ...}`.
    #[serde(default)]
    pub error: Option<Value>,
    /// Whatever else the state holds: when Analyse itself failed, the execution input (the
    /// CloudTrail event), from which the change can still be named.
    #[serde(flatten)]
    pub execution_input: serde_json::Map<String, Value>,
    /// Parts of the state that could not be read, kept as received: reported, never dropped,
    /// and never a reason not to notify.
    #[serde(skip)]
    pub unreadable: Vec<UnreadablePart>,
}

/// A part of the workflow state that is not what it should be.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadablePart {
    pub part: String,
    pub problem: String,
    pub received: Value,
}

impl OutcomeState {
    /// Reads whatever the state machine passed, part by part: the outcome must go out even
    /// when one part is not what it should be.
    pub fn from_value(state: Value) -> OutcomeState {
        let Value::Object(mut parts) = state else {
            let problem = "the state is not a JSON object".to_owned();
            let unreadable = vec![UnreadablePart {
                part: "state".into(),
                problem,
                received: state,
            }];
            return OutcomeState {
                unreadable,
                ..OutcomeState::default()
            };
        };
        let mut unreadable = Vec::new();
        let incident = read_part(&mut parts, "incident", &mut unreadable);
        let quarantine = read_part(&mut parts, "quarantine", &mut unreadable);
        let approval = read_part(&mut parts, "approval", &mut unreadable);
        let restore = read_part(&mut parts, "restore", &mut unreadable);
        let error = parts.remove("error").filter(|e| !e.is_null());
        OutcomeState {
            incident,
            quarantine,
            approval,
            restore,
            error,
            execution_input: parts,
            unreadable,
        }
    }

    /// The change, from the incident or, failing that, from the execution input.
    pub fn change(&self) -> Option<PolicyChange> {
        if let Some(change) = self.incident.as_ref().and_then(|i| i.change.clone()) {
            return Some(change);
        }
        let input = Value::Object(self.execution_input.clone());
        match crate::event::read_event(&input, "") {
            Ok(crate::event::Reading::Change(change)) => Some(*change),
            _ => None,
        }
    }

    /// The findings on the state quarantined, else the incident's.
    fn findings(&self) -> Option<&[Finding]> {
        current_findings(self.quarantine.as_ref(), self.incident.as_ref())
    }
}

pub struct Notification {
    pub subject: String,
    pub body: String,
}

/// Takes `key` out of the state and reads it; what cannot be read is recorded with its JSON.
fn read_part<T: serde::de::DeserializeOwned>(
    parts: &mut serde_json::Map<String, Value>,
    key: &str,
    unreadable: &mut Vec<UnreadablePart>,
) -> Option<T> {
    let received = parts.remove(key).filter(|v| !v.is_null())?;
    serde_json::from_value(received.clone())
        .map_err(|e| {
            unreadable.push(UnreadablePart {
                part: key.to_owned(),
                problem: e.to_string(),
                received,
            })
        })
        .ok()
}

/// The notification for people.
pub fn notification(outcome: Outcome, state: &OutcomeState, execution_arn: &str) -> Notification {
    let change = state.change();
    let change = change.as_ref();
    let subject = format!(
        "iam-sentinel: {} ({})",
        outcome.headline(),
        change.map_or("unknown policy".into(), describe_target)
    );
    let mut body = format!("{}\n\n{}\n", outcome.headline(), outcome.what_happens());
    if let Some(change) = change {
        body += &change_section(change);
    }
    if let Some(findings) = state.findings().filter(|f| !f.is_empty()) {
        body += &grants_section(findings);
    }
    if let Some(quarantine) = &state.quarantine {
        body += &quarantine_section(quarantine);
    }
    if let Some(approval) = &state.approval {
        body += &format!(
            "\nDecision\n  {:?} at {} from {}{}{}\n",
            approval.decision,
            approval.decided_at.as_deref().unwrap_or("an unknown time"),
            approval
                .source_ip
                .as_deref()
                .unwrap_or("an unknown address"),
            approval
                .user_agent
                .as_deref()
                .map(|ua| format!(" ({ua})"))
                .unwrap_or_default(),
            approval
                .comment
                .as_deref()
                .map(|c| format!(": \"{c}\""))
                .unwrap_or_default(),
        );
    }
    if let Some(restore) = &state.restore {
        body += &format!("\nRestore\n  {}\n", restore.detail);
    }
    if !state.unreadable.is_empty() {
        body += "\nUnreadable parts of the workflow state (reported as received)\n";
        for part in &state.unreadable {
            body += &format!("  {}: {}\n  {}\n", part.part, part.problem, part.received);
        }
    }
    if let Some(error) = &state.error {
        let kind = error
            .get("Error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
        body += &format!("\nError\n  {kind}: {cause}\n");
    }
    if let Some(original) = original_document(state) {
        body += &format!("\nOriginal document\n{}\n", pretty(original));
    }
    body += &format!("\nExecution: {execution_arn}\n");
    Notification {
        subject: truncate(&subject, SUBJECT_LIMIT),
        body,
    }
}

/// "Change": which call, on what, by whom, when and from where.
pub(crate) fn change_section(change: &PolicyChange) -> String {
    format!(
        "\nChange\n  {} on {}\n  by {}\n  at {} from {}\n",
        change.event_name,
        describe_target(change),
        describe_actor(change),
        change.event_time,
        describe_origin(change),
    )
}

/// "Restricted actions granted": one line per restricted pattern and statement.
pub(crate) fn grants_section(findings: &[Finding]) -> String {
    let mut section = "\nRestricted actions granted\n".to_owned();
    for line in grant_lines(findings) {
        section += &format!("  {line}\n");
    }
    section
}

pub(crate) fn quarantine_section(quarantine: &QuarantineRecord) -> String {
    format!("\nQuarantine\n  {}\n", describe_quarantine(quarantine))
}

/// "arn:aws:iam::123456789012:user/carol (IAMUser)".
pub fn describe_actor(change: &PolicyChange) -> String {
    format!(
        "{} ({})",
        change.actor.display_name(),
        change.actor.identity_type
    )
}

/// "203.0.113.7 (aws-cli/2.15.0 ...)": the source address and the client, as CloudTrail saw them.
pub fn describe_origin(change: &PolicyChange) -> String {
    format!(
        "{}{}",
        change.source_ip.as_deref().unwrap_or("an unknown address"),
        change
            .user_agent
            .as_deref()
            .map(|ua| format!(" ({ua})"))
            .unwrap_or_default(),
    )
}

/// "statement 0 (Sid Admin): s3:Delete* - explanation", one per restricted pattern hit.
pub fn grant_lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .flat_map(|finding| {
            let sid = finding
                .sid
                .as_ref()
                .map(|s| format!(" (Sid {s})"))
                .unwrap_or_default();
            finding.hits.iter().map(move |hit| {
                format!(
                    "statement {}{sid}: {} - {}",
                    finding.statement, hit.restricted, hit.explanation
                )
            })
        })
        .collect()
}

/// The event for other tools: the whole record, machine-readable.
pub fn event_detail(outcome: Outcome, state: &OutcomeState, execution_arn: &str) -> Value {
    let incident = state.incident.as_ref();
    json!({
        "outcome": outcome,
        "executionArn": execution_arn,
        "incidentId": incident.map(|i| i.id.as_str()),
        "change": state.change(),
        "findings": state.findings(),
        "quarantine": state.quarantine,
        "approval": state.approval,
        "restore": state.restore,
        "error": state.error,
        "unreadable": state.unreadable,
        "originalDocument": original_document(state),
    })
}

/// The original document, wherever the workflow got to.
fn original_document(state: &OutcomeState) -> Option<&str> {
    state
        .quarantine
        .as_ref()
        .and_then(|q| q.original_document.as_deref())
        .or_else(|| state.incident.as_ref().and_then(|i| i.document.as_deref()))
}

pub fn describe_target(change: &PolicyChange) -> String {
    match &change.target {
        Target::ManagedPolicy { policy_arn } => format!("managed policy {}", name_of(policy_arn)),
        Target::InlinePolicy {
            principal,
            policy_name,
        } => {
            format!("inline policy {policy_name} of {principal}")
        }
        Target::Attachment {
            principal,
            policy_arn,
        } => {
            format!("{} attached to {principal}", name_of(policy_arn))
        }
    }
}

/// What the quarantine did, in one sentence.
pub fn describe_quarantine(quarantine: &QuarantineRecord) -> String {
    match (&quarantine.action, &quarantine.reason) {
        (
            Some(QuarantineAction::NewDefaultVersion {
                offending_version_id,
                quarantine_version_id,
                deleted_version,
                ..
            }),
            _,
        ) => {
            let deleted = deleted_version
                .as_ref()
                .map(|d| format!("; version {} was deleted to make room (its document is in the event record)", d.version_id))
                .unwrap_or_default();
            format!(
                "new default version {quarantine_version_id} without the restricted grants; {offending_version_id} kept as a non-default version{deleted}"
            )
        }
        (Some(QuarantineAction::InlineRewritten { policy_name, .. }), _) => {
            format!("inline policy {policy_name} rewritten without the restricted grants")
        }
        (
            Some(QuarantineAction::Detached {
                policy_arn,
                principal,
            }),
            _,
        ) => {
            format!("{} detached from {principal}", name_of(policy_arn))
        }
        (None, Some(reason)) => reason.clone(),
        (None, None) => "nothing was changed".into(),
    }
}

/// What the quarantine planner did to one statement, in words.
pub fn describe_change(change: &Change) -> String {
    let statement = |index: &usize, sid: &Option<String>| match sid {
        Some(sid) => format!("statement {index} (Sid {sid})"),
        None => format!("statement {index}"),
    };
    match change {
        Change::RemovedActions {
            statement: i,
            sid,
            actions,
        } => format!("{}: removed {}", statement(i, sid), actions.join(", ")),
        Change::ExpandedWildcard {
            statement: i,
            sid,
            wildcard,
            into,
        } => format!(
            "{}: {wildcard} replaced by {} narrower entries that leave the restricted actions out",
            statement(i, sid),
            into.len()
        ),
        Change::DroppedWildcard {
            statement: i,
            sid,
            wildcard,
            reason,
        } => format!("{}: removed {wildcard} ({reason})", statement(i, sid)),
        Change::AddedToNotAction {
            statement: i,
            sid,
            patterns,
        } => format!(
            "{}: {} added to NotAction, so they are no longer granted",
            statement(i, sid),
            patterns.join(", ")
        ),
        Change::DroppedStatement {
            statement: i,
            sid,
            reason,
        } => format!("{}: removed ({reason})", statement(i, sid)),
        Change::AddedEmptyStatement => {
            "every statement had to go; an empty statement that grants nothing stands in (IAM refuses an empty policy)".into()
        }
    }
}

fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The document indented for reading; as received when it is not JSON.
pub fn pretty(document: &str) -> String {
    serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

/// SNS subjects: printable ASCII, no line breaks, under 100 characters.
pub(crate) fn truncate(text: &str, limit: usize) -> String {
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= limit {
        return ascii;
    }
    format!("{}...", &ascii[..limit - 3])
}
