//! The starter's queue (`IncidentQueue`), for the sweep: its findings start incidents through
//! the same starter as CloudTrail's events, so there is one way into the workflow.

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
}
