//! Proof that a decision was taken on the approval page. Anyone allowed `states:SendTaskSuccess`
//! can hand the approval task an output saying "approve"; only approval-api can MAC it with the
//! decision key (KMS), and restore-policy restores nothing whose MAC does not verify. What is
//! MACed binds the decision to its execution, so a proof cannot be carried to another one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use incident::{Decision, DecisionRecord};

/// Domain separation: a MAC of this message is good for nothing but decisions.
const PROOF_CONTEXT: &[u8] = b"iam-sentinel decision v1\0";

/// What approval-api MACs for `decision` in `execution_arn` (and restore-policy verifies).
pub fn decision_message(execution_arn: &str, decision: &DecisionRecord) -> Vec<u8> {
    let choice = match decision.decision {
        Decision::Approve => "approve",
        Decision::Deny => "deny",
        Decision::Unrecognised => "unrecognised",
    };
    let decided_at = decision.decided_at.as_deref().unwrap_or_default();
    [
        PROOF_CONTEXT,
        execution_arn.as_bytes(),
        b"\0",
        choice.as_bytes(),
        b"\0",
        decided_at.as_bytes(),
    ]
    .concat()
}

/// The MAC as the decision record carries it.
pub fn encode_proof(mac: &[u8]) -> String {
    STANDARD.encode(mac)
}

/// The MAC a decision record carries, if it carries one that decodes.
pub fn decode_proof(decision: &DecisionRecord) -> Option<Vec<u8>> {
    decision
        .proof
        .as_deref()
        .and_then(|proof| STANDARD.decode(proof).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approve(at: &str) -> DecisionRecord {
        DecisionRecord {
            decision: Decision::Approve,
            decided_at: Some(at.into()),
            ..DecisionRecord::default()
        }
    }

    #[test]
    fn the_message_binds_the_execution_the_decision_and_its_time() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:run-1";
        let base = decision_message(arn, &approve("2026-11-21T09:47:12Z"));
        assert_eq!(
            base,
            b"iam-sentinel decision v1\0arn:aws:states:us-east-1:123456789012:execution:m:run-1\0approve\x002026-11-21T09:47:12Z"
        );
        let others = [
            decision_message(&format!("{arn}2"), &approve("2026-11-21T09:47:12Z")),
            decision_message(arn, &approve("2026-11-21T09:47:13Z")),
            decision_message(
                arn,
                &DecisionRecord {
                    decision: Decision::Deny,
                    ..approve("2026-11-21T09:47:12Z")
                },
            ),
        ];
        for other in others {
            assert_ne!(other, base);
        }
    }

    #[test]
    fn the_comment_and_context_are_not_part_of_the_proof() {
        // They are shown to people, never acted on.
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:run-1";
        let with_context = DecisionRecord {
            comment: Some("ok".into()),
            source_ip: Some("198.51.100.7".into()),
            ..approve("2026-11-21T09:47:12Z")
        };
        assert_eq!(
            decision_message(arn, &with_context),
            decision_message(arn, &approve("2026-11-21T09:47:12Z"))
        );
    }

    #[test]
    fn a_proof_round_trips_and_garbage_is_no_proof() {
        let mut decision = approve("t");
        decision.proof = Some(encode_proof(&[1, 2, 3]));
        assert_eq!(decode_proof(&decision), Some(vec![1, 2, 3]));
        decision.proof = Some("%%%".into());
        assert_eq!(decode_proof(&decision), None);
        decision.proof = None;
        assert_eq!(decode_proof(&decision), None);
    }
}
