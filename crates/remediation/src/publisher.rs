//! Telling people (SNS) and other tools (EventBridge) about an outcome.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use incident::{EVENT_SOURCE, Notification};
use serde_json::Value;

use crate::error::AwsFailure;

/// Emails people through the administrators' SNS topic.
#[derive(Clone)]
pub struct Notifier {
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
}

#[derive(Clone)]
pub struct Publisher {
    pub notifier: Notifier,
    pub events: aws_sdk_eventbridge::Client,
    pub event_bus_name: String,
}

impl Notifier {
    pub async fn notify(&self, notification: &Notification) -> Result<(), AwsFailure> {
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&notification.subject)
            .message(&notification.body)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("SNS Publish", e))?;
        Ok(())
    }
}

impl Publisher {
    pub async fn notify(&self, notification: &Notification) -> Result<(), AwsFailure> {
        self.notifier.notify(notification).await
    }

    /// Publishes one event on the stack's bus.
    pub async fn publish_event(&self, detail_type: &str, detail: &Value) -> Result<(), AwsFailure> {
        put_event(&self.events, &self.event_bus_name, detail_type, detail).await
    }
}

/// Puts one event on `event_bus_name`; a rejected entry is a failure too (PutEvents answers 200
/// for it).
pub async fn put_event(
    events: &aws_sdk_eventbridge::Client,
    event_bus_name: &str,
    detail_type: &str,
    detail: &Value,
) -> Result<(), AwsFailure> {
    let entry = PutEventsRequestEntry::builder()
        .source(EVENT_SOURCE)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .event_bus_name(event_bus_name)
        .build();
    let output = events
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk("EventBridge PutEvents", e))?;
    if output.failed_entry_count() > 0 {
        let entry = output.entries().first();
        return Err(AwsFailure::with_code(
            "EventBridge PutEvents (the entry)",
            entry.and_then(|e| e.error_code()).map(str::to_owned),
            entry
                .and_then(|e| e.error_message())
                .unwrap_or("no reason given"),
        ));
    }
    Ok(())
}
