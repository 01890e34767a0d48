//! The document store: policy documents kept out of the workflow state, in DynamoDB, each under
//! the SHA-256 of its exact text. IAM accepts documents of 131,072 characters and the state
//! holds 256 KiB, so the state carries `DocumentRef`s only. A text read back is checked against
//! the reference: whoever can write the table cannot put another document in its place, and a
//! missing or altered text fails the step (`DocumentUnavailable`), never a guess.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use incident::record::attachments_of;
use incident::{DocumentRef, Principal, PrincipalId};

use crate::error::{AwsFailure, StepError};

/// How long a document stays after its last write (DynamoDB TTL): longer than the longest
/// approval wait (a Standard execution ends within a year, `ApprovalTimeoutHours` < 8760) plus
/// five weeks to restore by hand after a deny or a timeout.
pub const RETENTION: Duration = Duration::from_secs(400 * 24 * 3600);

/// The table's attributes.
const KEY: &str = "sha256";
const TEXT: &str = "document";
const CHARACTERS: &str = "characters";
const EXPIRES_AT: &str = "expiresAt";

#[derive(Clone)]
pub struct DocumentStore {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentProblem {
    #[error("document {0} is not in the document store")]
    Missing(String),
    #[error("the document store's text under {0} is not that document: it was altered")]
    Altered(String),
}

impl DocumentStore {
    /// Keeps `text`, before anything refers to it; writing the same text again only renews it.
    pub async fn put(&self, text: &str) -> Result<DocumentRef, StepError> {
        let reference = DocumentRef::of(text);
        let expires_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(RETENTION)
            .as_secs();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(reference.sha256.clone()))
            .item(TEXT, AttributeValue::S(text.to_owned()))
            .item(
                CHARACTERS,
                AttributeValue::N(reference.characters.to_string()),
            )
            .item(EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB PutItem", e))?;
        Ok(reference)
    }

    /// The users, roles and groups a managed policy's quarantine kept (its record's
    /// `attachedTo`), read back; `None` when it kept none (a record made before they were kept)
    /// or the list does not read.
    pub async fn attachments(
        &self,
        reference: Option<&DocumentRef>,
    ) -> Result<Option<Vec<PrincipalId>>, StepError> {
        let Some(reference) = reference else {
            return Ok(None);
        };
        let attachments = attachments_of(&self.get(reference).await?);
        if attachments.is_none() {
            tracing::warn!(sha256 = %reference.sha256, "a quarantine's attachments do not read");
        }
        Ok(attachments)
    }

    /// [`attachments`](Self::attachments) by name: what the email and the page list.
    pub async fn attached_principals(
        &self,
        reference: Option<&DocumentRef>,
    ) -> Result<Option<Vec<Principal>>, StepError> {
        let attachments = self.attachments(reference).await?;
        Ok(attachments.map(|kept| kept.into_iter().map(|a| a.principal).collect()))
    }

    /// The text `reference` names, read consistently, exactly as it was put.
    pub async fn get(&self, reference: &DocumentRef) -> Result<String, StepError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(reference.sha256.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB GetItem", e))?;
        let text = output
            .item()
            .and_then(|item| item.get(TEXT))
            .and_then(|value| value.as_s().ok())
            .ok_or_else(|| DocumentProblem::Missing(reference.sha256.clone()))?;
        if !reference.names(text) {
            return Err(DocumentProblem::Altered(reference.sha256.clone()).into());
        }
        Ok(text.clone())
    }
}
