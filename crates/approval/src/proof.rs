//! Proof that a decision was taken on the approval page. Anyone allowed `states:SendTaskSuccess`
//! can hand the approval task an output saying "approve"; only approval-api can MAC it with the
//! decision key (KMS), and restore-policy restores nothing whose MAC does not verify. What is
//! MACed binds the decision to its execution and to the approval request it answers (the
//! request's task token, by its SHA-256), so a proof cannot be carried to another execution,
//! nor to a later one that reuses the name.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use incident::{Decision, DecisionRecord};
use sha2::{Digest, Sha256};

use crate::request::TaskToken;

/// Domain separation: a MAC of this message is good for nothing but decisions.
const PROOF_CONTEXT: &[u8] = b"iam-sentinel decision v2\0";

/// What approval-api MACs for `decision` on the request waiting with `token` in
/// `execution_arn` (and restore-policy verifies).
pub fn decision_message(
    execution_arn: &str,
    token: &TaskToken,
    decision: &DecisionRecord,
) -> Vec<u8> {
    let choice = match decision.decision {
        Decision::Approve => "approve",
        Decision::Deny => "deny",
        Decision::Unrecognised => "unrecognised",
    };
    let decided_at = decision.decided_at.as_deref().unwrap_or_default();
    let request = Sha256::digest(token.expose().as_bytes());
    [
        PROOF_CONTEXT,
        execution_arn.as_bytes(),
        b"\0",
        &request[..],
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

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:m:run-1";

    fn approve(at: &str) -> DecisionRecord {
        DecisionRecord {
            decision: Decision::Approve,
            decided_at: Some(at.into()),
            ..DecisionRecord::default()
        }
    }

    #[test]
    fn the_message_binds_the_execution_the_request_the_decision_and_its_time() {
        let token = TaskToken::new("t-1");
        let base = decision_message(ARN, &token, &approve("2026-11-21T09:47:12Z"));
        let mut expected = b"iam-sentinel decision v2\0".to_vec();
        expected.extend_from_slice(ARN.as_bytes());
        expected.push(0);
        expected.extend_from_slice(&Sha256::digest(b"t-1"));
        expected.extend_from_slice(b"\0approve\0");
        expected.extend_from_slice(b"2026-11-21T09:47:12Z");
        assert_eq!(base, expected);
        let others = [
            decision_message(&format!("{ARN}2"), &token, &approve("2026-11-21T09:47:12Z")),
            decision_message(
                ARN,
                &TaskToken::new("t-2"),
                &approve("2026-11-21T09:47:12Z"),
            ),
            decision_message(ARN, &token, &approve("2026-11-21T09:47:13Z")),
            decision_message(
                ARN,
                &token,
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
        let token = TaskToken::new("t-1");
        let with_context = DecisionRecord {
            comment: Some("ok".into()),
            source_ip: Some("198.51.100.7".into()),
            ..approve("2026-11-21T09:47:12Z")
        };
        assert_eq!(
            decision_message(ARN, &token, &with_context),
            decision_message(ARN, &token, &approve("2026-11-21T09:47:12Z"))
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
