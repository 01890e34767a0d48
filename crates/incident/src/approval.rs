//! The approval request: what the state machine hands RequestApproval while it waits, and the
//! email that asks a person to decide. The task token is a bearer credential for the decision,
//! so it is kept in a type that never prints it.

use serde::{Deserialize, Serialize};

use crate::outcome::{
    Notification, SUBJECT_LIMIT, change_section, describe_change, describe_target, grants_section,
    quarantine_section, truncate,
};
use policy_engine::Finding;

use crate::record::{Incident, QuarantineRecord, current_findings};

/// The Step Functions task token of the approval wait. Whoever holds it can decide, so it has
/// no `Display`, and `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl TaskToken {
    pub fn new(token: impl Into<String>) -> TaskToken {
        TaskToken(token.into())
    }

    /// The token itself: only for deriving the approval key and for SendTaskSuccess.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskToken(redacted)")
    }
}

/// The RequestApproval task's payload (see docs/workflow-contract.md). The approval page reads
/// the same payload back from the execution history, so this is also what it shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    pub task_token: TaskToken,
    pub execution_arn: String,
    pub incident: Incident,
    pub quarantine: QuarantineRecord,
    /// How long the state machine waits for a decision.
    pub approval_timeout_seconds: u64,
}

impl ApprovalRequest {
    pub fn findings(&self) -> Option<&[Finding]> {
        current_findings(Some(&self.quarantine), Some(&self.incident))
    }
}

/// The email asking for a decision: everything needed to judge the change, the deadline, and
/// one link to the approval page (which decides nothing until a button is pressed).
pub fn approval_request_notification(
    request: &ApprovalRequest,
    link: &str,
    deadline: &str,
) -> Notification {
    let change = request.incident.change.as_ref();
    let target = change.map_or("unknown policy".into(), describe_target);
    let subject = truncate(
        &format!("iam-sentinel: approval needed: {target}"),
        SUBJECT_LIMIT,
    );
    let mut body = format!(
        "Approval needed: {target}\n\n\
         A change granted restricted actions. Those grants are quarantined until you decide; \
         everything else the policy grants still works.\n\n\
         Review and decide: {link}\n\n\
         Decide before {deadline}.\n  \
         Approve: the change is restored exactly as it was made.\n  \
         Deny: the quarantine stays (the original stays recoverable).\n  \
         No decision by the deadline: the quarantine stays.\n"
    );
    if let Some(change) = change {
        body += &change_section(change);
    }
    if let Some(findings) = request.findings().filter(|f| !f.is_empty()) {
        body += &grants_section(findings);
    }
    body += &quarantine_section(&request.quarantine);
    for change in &request.quarantine.changes {
        body += &format!("  {}\n", describe_change(change));
    }
    body += &format!(
        "\nThe link opens a page that shows both documents; nothing is decided until you press \
         Approve or Deny there. Whoever holds the link can decide: do not forward this email.\n\
         \nIncident: {}\nExecution: {}\n",
        request.incident.id, request.execution_arn
    );
    Notification { subject, body }
}
