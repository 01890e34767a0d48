//! The approval key: the unguessable half of an approval link. It is derived from the task token
//! Step Functions keeps in the execution's history, so the API can check it without a database,
//! and the link never carries the token itself (the hash cannot be turned back into it).

use crate::request::TaskToken;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Domain separation: this hash of a token is good for nothing but approval links.
const KEY_CONTEXT: &[u8] = b"iam-sentinel approval key v1\0";

/// 192 bits: unguessable (at least 128 bits is the requirement), and 32 characters in a link.
const KEY_BYTES: usize = 24;

#[derive(Clone, PartialEq, Eq)]
pub struct ApprovalKey([u8; KEY_BYTES]);

impl ApprovalKey {
    pub fn for_token(token: &TaskToken) -> ApprovalKey {
        let digest = Sha256::new()
            .chain_update(KEY_CONTEXT)
            .chain_update(token.expose().as_bytes())
            .finalize();
        let mut key = [0; KEY_BYTES];
        key.copy_from_slice(&digest[..KEY_BYTES]);
        ApprovalKey(key)
    }

    /// The key as it appears in a link (base64url, no padding: nothing to escape).
    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Whether `provided` (as found in a link or form) is this key. The comparison takes the
    /// same time wherever the first wrong byte is.
    pub fn matches(&self, provided: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(provided.trim()) {
            Ok(bytes) => bytes.ct_eq(&self.0).into(),
            Err(_) => false,
        }
    }
}

impl std::fmt::Debug for ApprovalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovalKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str) -> TaskToken {
        TaskToken::new(text)
    }

    #[test]
    fn a_key_is_32_url_safe_characters_carrying_192_bits() {
        let key = ApprovalKey::for_token(&token("AQCEAAAAKgAAAA+/=")).encoded();
        assert_eq!(key.len(), 32);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn the_same_token_always_gives_the_same_key() {
        assert_eq!(
            ApprovalKey::for_token(&token("t-1")),
            ApprovalKey::for_token(&token("t-1"))
        );
    }

    #[test]
    fn different_tokens_give_different_keys() {
        assert_ne!(
            ApprovalKey::for_token(&token("t-1")),
            ApprovalKey::for_token(&token("t-2"))
        );
    }

    #[test]
    fn a_key_does_not_contain_its_token() {
        let secret = "579467e1-0860-43df-bab8-55c12c022a6a";
        let key = ApprovalKey::for_token(&token(secret)).encoded();
        assert!(!key.contains(secret) && !secret.contains(&key));
    }

    #[test]
    fn a_key_matches_its_own_encoding_only() {
        let key = ApprovalKey::for_token(&token("t-1"));
        assert!(key.matches(&key.encoded()));
        let other = ApprovalKey::for_token(&token("t-2")).encoded();
        assert!(!key.matches(&other));
    }

    #[test]
    fn truncated_extended_or_garbled_keys_do_not_match() {
        let key = ApprovalKey::for_token(&token("t-1"));
        let good = key.encoded();
        for bad in [
            &good[..31],
            &format!("{good}AA"),
            "",
            "!!!!",
            &good.replace(&good[..1], "%"),
        ] {
            assert!(!key.matches(bad), "{bad:?} matched");
        }
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = ApprovalKey::for_token(&token("t-1"));
        assert!(!format!("{key:?}").contains(&key.encoded()));
    }
}
