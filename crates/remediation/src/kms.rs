//! KMS HMAC keys: the approval links' keys and the decisions' proofs are MACs made with keys
//! that only the functions that must make or check them may use (the key policies in
//! template.yaml). No function ever holds key material.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;

use crate::error::AwsFailure;

/// One HMAC key, by id or ARN.
#[derive(Clone)]
pub struct MacKey {
    pub client: aws_sdk_kms::Client,
    pub key_id: String,
}

impl MacKey {
    pub async fn generate(&self, message: &[u8]) -> Result<Vec<u8>, AwsFailure> {
        let output = self
            .client
            .generate_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("KMS GenerateMac", e))?;
        output
            .mac()
            .map(|mac| mac.as_ref().to_vec())
            .ok_or_else(|| AwsFailure::unusable_answer("KMS GenerateMac", "returned no MAC"))
    }

    /// Whether `mac` is this key's MAC of `message` (KMS compares; a mismatch is `false`).
    pub async fn verify(&self, message: &[u8], mac: &[u8]) -> Result<bool, AwsFailure> {
        let verified = self
            .client
            .verify_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .send()
            .await;
        match verified {
            Ok(output) => Ok(output.mac_valid()),
            Err(error) => {
                let failure = AwsFailure::from_sdk("KMS VerifyMac", error);
                if failure.is("KMSInvalidMacException") {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }
}
