//! The starter's queue (`IncidentQueue`). The sweep sends its findings there, so they start
//! incidents through the same starter as CloudTrail's events: one way into the workflow. The
//! starter asks it whether a record it was handed is a message it holds.

use serde_json::Value;

use crate::error::AwsFailure;

#[derive(Clone)]
pub struct IncidentQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl IncidentQueue {
    /// Sends one event, as EventBridge delivers one to the queue (the event is the body).
    pub async fn send(&self, event: &Value) -> Result<(), AwsFailure> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(event.to_string())
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("SQS SendMessage", e))?;
        Ok(())
    }

    /// Whether the queue holds the message whose receipt handle this is in flight (handed
    /// over, not yet deleted), keeping it so for `seconds`: ChangeMessageVisibility, which SQS
    /// refuses with `ReceiptHandleIsInvalid` for a handle it never gave.
    pub async fn holds(&self, receipt_handle: &str, seconds: i32) -> Result<bool, AwsFailure> {
        let changed = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await;
        match changed {
            Ok(_) => Ok(true),
            Err(error) => {
                let failure = AwsFailure::from_sdk("SQS ChangeMessageVisibility", error);
                if failure.is("ReceiptHandleIsInvalid") {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }
}
