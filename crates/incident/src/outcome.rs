//! The end of every path: an outcome, and what the workflow knew when it got there. Told to
//! people by `notification` (SNS) and to other tools by `event_detail` (EventBridge).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use policy_engine::Finding;

use crate::event::{EventFacts, PolicyChange, Reading, event_facts, read_unscoped};
use crate::history::FORGED_START;
use crate::record::{
    AddedGrant, Assessment, DecisionRecord, DocumentRef, QuarantineRecord, RestoreRecord, Verdict,
    current_findings,
};

/// The EventBridge `source` of every event iam-sentinel publishes.
pub const EVENT_SOURCE: &str = "iam-sentinel";

/// Which publish state of the state machine was reached. Routing is the state machine's: each
/// outcome has its own state, so this is told, never worked out here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Quarantined,
    Restored,
    /// Approved, but the policy changed after the quarantine: restoring would undo that change
    /// (or an inline original no longer fits the room the principal's other policies leave).
    RestoreSkipped,
    /// Approved, but the policy (or the version, inline policy or principal restored) was
    /// deleted while the decision waited: nothing to restore.
    TargetGone,
    Kept,
    TimedOut,
    Clean,
    Superseded,
    /// A newer change to the same target started an incident that asks instead: this one's
    /// request is closed, its quarantine stays.
    ApprovalSuperseded,
    /// A restricted grant on iam-sentinel's own roles: told, never quarantined.
    Reported,
    /// A role's trust policy was set: who may assume it is told, never quarantined.
    TrustReported,
    /// Grants of rules in alert mode: told, nothing written.
    Alerted,
    /// Every restricted grant was covered by an exemption: published, nothing written.
    Exempted,
    Failed,
}

impl Outcome {
    /// One EventBridge detail-type per outcome, so rules can subscribe to just one.
    pub fn detail_type(self) -> &'static str {
        match self {
            Outcome::Quarantined => "IAM Sentinel Policy Quarantined",
            Outcome::Restored => "IAM Sentinel Policy Restored",
            Outcome::RestoreSkipped => "IAM Sentinel Restore Skipped",
            Outcome::TargetGone => "IAM Sentinel Restore Target Gone",
            Outcome::Kept => "IAM Sentinel Quarantine Kept",
            Outcome::TimedOut => "IAM Sentinel Approval Timed Out",
            Outcome::Clean => "IAM Sentinel Clean Change",
            Outcome::Superseded => "IAM Sentinel Change Superseded",
            Outcome::ApprovalSuperseded => "IAM Sentinel Approval Superseded",
            Outcome::Reported => "IAM Sentinel Own Role Grant Reported",
            Outcome::TrustReported => "IAM Sentinel Trust Policy Changed",
            Outcome::Alerted => "IAM Sentinel Grant Alerted",
            Outcome::Exempted => "IAM Sentinel Grant Exempted",
            Outcome::Failed => "IAM Sentinel Incident Failed",
        }
    }

    /// The state machine's publish state for this outcome (`Publish<Outcome>`): the step whose
    /// input in the history is the state the outcome's record is built from.
    pub fn publish_state(self) -> &'static str {
        match self {
            Outcome::Quarantined => "PublishQuarantined",
            Outcome::Restored => "PublishRestored",
            Outcome::RestoreSkipped => "PublishRestoreSkipped",
            Outcome::TargetGone => "PublishTargetGone",
            Outcome::Kept => "PublishKept",
            Outcome::TimedOut => "PublishTimedOut",
            Outcome::Clean => "PublishClean",
            Outcome::Superseded => "PublishSuperseded",
            Outcome::ApprovalSuperseded => "PublishApprovalSuperseded",
            Outcome::Reported => "PublishReported",
            Outcome::TrustReported => "PublishTrustReported",
            Outcome::Alerted => "PublishAlerted",
            Outcome::Exempted => "PublishExempted",
            Outcome::Failed => "PublishFailed",
        }
    }

    /// Whether people are emailed: always, except for an exempted change when the deployment
    /// does not notify clean changes (the assessment's `notify`); its event is published.
    pub fn emails(self, state: &OutcomeState) -> bool {
        self != Outcome::Exempted
            || state
                .incident
                .as_ref()
                .and_then(Assessment::analysed)
                .is_none_or(|analysed| analysed.notify)
    }

    pub(crate) fn headline(self) -> &'static str {
        match self {
            Outcome::Quarantined => "Restricted grant quarantined",
            Outcome::Restored => "Approved and restored",
            Outcome::RestoreSkipped => "Approved, but not restored",
            Outcome::TargetGone => "Approved, but deleted: nothing restored",
            Outcome::Kept => "Denied: quarantine kept",
            Outcome::TimedOut => "No decision in time: quarantine kept",
            Outcome::Clean => "Policy change checked: clean",
            Outcome::Superseded => "Policy changed again: nothing to quarantine",
            Outcome::ApprovalSuperseded => "Superseded by a newer change",
            Outcome::Reported => "Own role: restricted grant reported",
            Outcome::TrustReported => "Trust policy changed: who may assume the role",
            Outcome::Alerted => "Alert: restricted grant (alert mode)",
            Outcome::Exempted => "Restricted grant exempted",
            Outcome::Failed => "FAILED: needs a person",
        }
    }

    pub(crate) fn what_happens(self) -> &'static str {
        match self {
            Outcome::Quarantined => {
                "The restricted grants were taken out of force at once. An approval request \
                 follows: approve restores the original, deny or no answer keeps the quarantine."
            }
            Outcome::Restored => "The original policy is back in force, exactly as it was.",
            Outcome::RestoreSkipped => {
                "Someone changed the policy after the quarantine, so putting the original back would \
                 have undone their change, or IAM's quotas leave no place for it now (the \
                 principal's other inline policies fill its room, or other policies or groups took \
                 the place the quarantine freed): see Restore below. Nothing was restored: IAM \
                 holds the policy as it is now. The original document is kept (Documents, below), \
                 to restore by hand if that is still wanted."
            }
            Outcome::TargetGone => {
                "The approval was given, but what it would have restored was deleted while the \
                 decision waited (see Restore below), so nothing was restored and nothing was \
                 re-created. The original document is kept (Documents, below), to restore by hand \
                 if that is still wanted."
            }
            Outcome::Kept => {
                "The quarantine stays. The original document is kept (Documents, below; for \
                 managed policies also in the policy's versions), so it can still be restored \
                 by hand."
            }
            Outcome::TimedOut => {
                "Nobody decided before the deadline, so the quarantine stays (fail closed). The \
                 original document is kept (Documents, below)."
            }
            Outcome::Clean => "The change grants no restricted action. Nothing was done.",
            Outcome::Superseded => {
                "By the time iam-sentinel looked, the policy had changed again and no longer grants \
                 a restricted action (or is gone). Nothing was done."
            }
            Outcome::ApprovalSuperseded => {
                "The same target was changed again while this incident waited for a decision. \
                 The newer change has an incident of its own (named under Error below), which \
                 asks about the policy as it is now: decide there. This incident's request is \
                 closed and its link decides nothing; the quarantine it applied stays unless the \
                 newer incident's decision changes it."
            }
            Outcome::Reported => {
                "The change grants a restricted action to one of iam-sentinel's own roles, which it \
                 never quarantines. Nothing was changed. Why it was reported is below."
            }
            Outcome::TrustReported => {
                "A role's trust policy was set: it says who may assume the role and so act with \
                 its permissions. iam-sentinel reports trust policies and never quarantines \
                 them. Nothing was changed. Check the principals below, above all anyone \
                 (\"*\") and other accounts."
            }
            Outcome::Alerted => {
                "The change grants actions that rules in alert mode restrict (listed below). \
                 Nothing was written to IAM: the grant is in force. If it should not be, remove \
                 it; if it is expected, add an exemption to the rules file; to quarantine such \
                 grants, switch the rule to enforce."
            }
            Outcome::Exempted => {
                "The change grants restricted actions, and an exemption of the rules file covers \
                 each (listed below, with its owner, reason and expiry). Nothing was done."
            }
            Outcome::Failed => {
                "The workflow stopped on an error. The policy may or may not be quarantined: check it \
                 now. What the workflow knew is below."
            }
        }
    }
}

/// What the workflow knew when it reached an outcome: the state machine passes its whole state.
/// Deserialised only as [`OutcomeState::from_value`] reads it: part by part, never failing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "Value")]
pub struct OutcomeState {
    #[serde(default)]
    pub incident: Option<Assessment>,
    #[serde(default)]
    pub quarantine: Option<QuarantineRecord>,
    #[serde(default)]
    pub approval: Option<DecisionRecord>,
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
        let error = parts.remove("error").filter(|e| !e.is_null());
        if error_name(error.as_ref()) == Some(FORGED_START) {
            // Started by hand, with an input the starter never vouched for: nothing it claims,
            // nor anything read from it, is read, told or recorded (THREAT-MODEL T25).
            return OutcomeState {
                error,
                ..OutcomeState::default()
            };
        }
        let mut unreadable = Vec::new();
        let incident = read_part(&mut parts, "incident", &mut unreadable);
        let quarantine = read_part(&mut parts, "quarantine", &mut unreadable);
        let approval = read_part(&mut parts, "approval", &mut unreadable);
        let restore = read_part(&mut parts, "restore", &mut unreadable);
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

    /// Whether a step refused the execution as one the incident starter did not start.
    pub fn is_made_up_start(&self) -> bool {
        error_name(self.error.as_ref()) == Some(FORGED_START)
    }

    /// The change, from the assessment or, failing that, from the execution input.
    pub fn change(&self) -> Option<PolicyChange> {
        if let Some(change) = self.incident.as_ref().and_then(Assessment::change) {
            return Some(change.clone());
        }
        let input = Value::Object(self.execution_input.clone());
        match read_unscoped(&input) {
            Ok(Reading::Change(change)) => Some(*change),
            _ => None,
        }
    }

    /// When no change can be read (the event itself could not be), every fact the execution
    /// input (the CloudTrail event) still names: the failure notice says what it knows.
    pub fn facts(&self) -> Option<EventFacts> {
        if self.change().is_some() {
            return None;
        }
        event_facts(&Value::Object(self.execution_input.clone()))
    }

    /// The findings on the state quarantined, else the assessment's.
    pub(crate) fn findings(&self) -> Option<&[Finding]> {
        current_findings(self.quarantine.as_ref(), self.incident.as_ref())
    }

    /// What a group membership adds, when the change is one.
    pub(crate) fn group_grants(&self) -> Option<&[AddedGrant]> {
        self.incident
            .as_ref()
            .and_then(Assessment::analysed)
            .map(|a| a.group_grants.as_slice())
            .filter(|g| !g.is_empty())
    }

    /// The original document, wherever the workflow got to.
    pub(crate) fn original_document(&self) -> Option<&DocumentRef> {
        self.quarantine
            .as_ref()
            .and_then(QuarantineRecord::applied)
            .map(|q| &q.original_document)
            .or_else(|| {
                self.incident.as_ref().and_then(|i| match &i.verdict {
                    Verdict::TrustReported(report) => Some(&report.document),
                    _ => i.analysed().map(|a| &a.document),
                })
            })
    }
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

/// The event for other tools: the whole record, machine-readable.
pub fn event_detail(outcome: Outcome, state: &OutcomeState, execution_arn: &str) -> Value {
    json!({
        "outcome": outcome,
        "executionArn": execution_arn,
        "incidentId": state.incident.as_ref().map(|i| i.id.as_str()),
        "change": state.change(),
        "eventFacts": state.facts(),
        "findings": state.findings(),
        "groupGrants": state.group_grants(),
        "rules": state.incident.as_ref().and_then(Assessment::analysed).map(|a| &a.rules).filter(|r| !r.is_empty()),
        "trust": state.incident.as_ref().and_then(|i| match &i.verdict {
            Verdict::TrustReported(report) => {
                Some(json!({"trusted": report.trusted, "warnings": report.warnings}))
            }
            _ => None,
        }),
        "quarantine": state.quarantine,
        "approval": state.approval,
        "restore": state.restore,
        "error": state.error,
        "unreadable": state.unreadable,
        "originalDocument": state.original_document(),
    })
}

impl From<Value> for OutcomeState {
    fn from(state: Value) -> OutcomeState {
        OutcomeState::from_value(state)
    }
}

/// The `Error` of a caught error (`{"Error": ..., "Cause": ...}`).
fn error_name(error: Option<&Value>) -> Option<&str> {
    error?.get("Error")?.as_str()
}
