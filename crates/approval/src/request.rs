//! The approval request: what the state machine hands RequestApproval while it waits (and what
//! the approval page reads back from the execution history). The task token is a bearer
//! credential for the decision, so it is kept in a type that never prints it.

use incident::{AddedGrant, Assessment, QuarantineRecord, current_findings};
use policy_engine::Finding;
use serde::{Deserialize, Serialize};

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

/// The RequestApproval task's payload (see docs/workflow-contract.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    pub task_token: TaskToken,
    pub execution_arn: String,
    pub incident: Assessment,
    pub quarantine: QuarantineRecord,
    /// How long the state machine waits for a decision.
    pub approval_timeout_seconds: u64,
}

impl ApprovalRequest {
    pub fn findings(&self) -> Option<&[Finding]> {
        current_findings(Some(&self.quarantine), Some(&self.incident))
    }

    /// What a group membership adds, when the change is one (its findings are empty).
    pub fn group_grants(&self) -> &[AddedGrant] {
        self.incident
            .analysed()
            .map_or(&[][..], |a| a.group_grants.as_slice())
    }
}
