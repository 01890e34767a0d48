//! The approval key: the unguessable half of an approval link. It is a keyed MAC of the task
//! token and of the host the link points at, made with a KMS HMAC key that only
//! request-approval (to make it) and approval-api (to check it) may use. The token is readable
//! by anyone who may read the execution history; the key is not derivable from it without the
//! KMS key. The host is in it so that a link pointed elsewhere (request-approval's
//! `APPROVAL_URL` changed to an API of someone else's) hands over a key that opens nothing on
//! the real page (T27). Making and checking the MAC is the shell's (KMS); this module says what
//! is MACed and what a key looks like.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::request::TaskToken;

/// Domain separation: a MAC of this message is good for nothing but approval links.
const KEY_CONTEXT: &[u8] = b"iam-sentinel approval key v3\0";

/// HMAC-SHA-256: 256 bits, 43 characters in a link.
pub const KEY_BYTES: usize = 32;
const ENCODED_LEN: usize = 43;

#[derive(Clone, PartialEq, Eq)]
pub struct ApprovalKey([u8; KEY_BYTES]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is {0} characters long; a key from the email is {ENCODED_LEN}")]
    Length(usize),
    #[error("the key is not written as the email wrote it (base64url)")]
    NotAsIssued,
    #[error("a MAC of {0} bytes is not an approval key")]
    MacLength(usize),
}

impl ApprovalKey {
    /// What is MACed for the link to `host` (as the browser names it: `<id>.execute-api.<region>
    /// .amazonaws.com`, with its port when it has one) of the request waiting with `token`. A
    /// host holds no NUL, so the two parts cannot be shifted into each other.
    pub fn message(host: &str, token: &TaskToken) -> Vec<u8> {
        [
            KEY_CONTEXT,
            host.to_ascii_lowercase().as_bytes(),
            b"\0",
            token.expose().as_bytes(),
        ]
        .concat()
    }

    /// The key that a MAC of [`ApprovalKey::message`] is.
    pub fn from_mac(mac: &[u8]) -> Result<ApprovalKey, KeyError> {
        mac.try_into()
            .map(ApprovalKey)
            .map_err(|_| KeyError::MacLength(mac.len()))
    }

    /// A key exactly as the email wrote it: 43 characters of base64url without padding, whose
    /// encoding is the canonical one (no other spelling of the same bytes is accepted).
    pub fn parse(provided: &str) -> Result<ApprovalKey, KeyError> {
        if provided.len() != ENCODED_LEN {
            return Err(KeyError::Length(provided.chars().count()));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(provided)
            .map_err(|_| KeyError::NotAsIssued)?;
        let key = ApprovalKey::from_mac(&bytes).map_err(|_| KeyError::NotAsIssued)?;
        if key.encoded() != provided {
            return Err(KeyError::NotAsIssued);
        }
        Ok(key)
    }

    /// The key as it appears in a link (base64url, no padding: nothing to escape).
    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The MAC, for KMS to verify.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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

    const MAC: [u8; 32] = [
        0xfb, 0xff, 0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41,
        0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92,
        0x59, 0xa7,
    ];

    #[test]
    fn a_key_is_43_url_safe_characters_carrying_256_bits() {
        let key = ApprovalKey::from_mac(&MAC).unwrap().encoded();
        assert_eq!(key.len(), 43);
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn the_message_is_the_host_and_the_token_behind_a_context_of_its_own() {
        let message = ApprovalKey::message(
            "Abc.execute-api.us-east-1.amazonaws.com",
            &TaskToken::new("t-1"),
        );
        assert_eq!(
            message,
            b"iam-sentinel approval key v3\0abc.execute-api.us-east-1.amazonaws.com\0t-1"
        );
    }

    #[test]
    fn a_key_reads_back_only_exactly_as_issued() {
        let good = ApprovalKey::from_mac(&MAC).unwrap().encoded();
        assert_eq!(ApprovalKey::parse(&good).unwrap().as_bytes(), MAC);
        // The last character carries 2 spare bits: another letter there decodes to the same
        // bytes in a lenient decoder, and is refused here.
        let last = good.chars().last().unwrap();
        let sibling = if last == 'c' { 'd' } else { 'c' };
        let cases = [
            (good[..42].to_owned(), "truncated"),
            (format!("{good}A"), "extended"),
            (format!(" {}", &good[1..]), "a space"),
            (format!("{}=", &good[..42]), "padding"),
            (good.replace('_', "/").replace('-', "+"), "standard base64"),
            (format!("{}{sibling}", &good[..42]), "spare bits set"),
            (String::new(), "empty"),
        ];
        for (bad, case) in cases {
            if bad == good {
                continue; // "standard base64" when the key has neither '-' nor '_'
            }
            assert!(
                ApprovalKey::parse(&bad).is_err(),
                "{case}: {bad:?} accepted"
            );
        }
    }

    #[test]
    fn a_mac_of_another_length_is_not_a_key() {
        assert_eq!(
            ApprovalKey::from_mac(&MAC[..24]),
            Err(KeyError::MacLength(24))
        );
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = ApprovalKey::from_mac(&MAC).unwrap();
        assert!(!format!("{key:?}").contains(&key.encoded()));
    }
}
