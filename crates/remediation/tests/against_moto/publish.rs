//! Publishing an outcome against moto: the SNS notification and the EventBridge event, read back
//! from SQS queues subscribed to the topic and targeted by a rule on the stack's event bus.
//!
//! Raw delivery (RawMessageDelivery=true) puts only the message body on the queue: moto, like
//! SNS, leaves the subject out. The subject is read from a second subscription without raw
//! delivery, whose messages are SNS's JSON envelope with a "Subject" field.

use incident::{DocumentRef, Outcome, OutcomeState, notification};
use remediation::StepError;
use remediation::handlers::analyse::handle as analyse_change;
use remediation::handlers::publish::{Published, publish};
use remediation::handlers::quarantine::quarantine;
use remediation::publisher::{Notifier, Publisher};
use serde_json::{Value, json};

use crate::support::*;

const EXECUTION_ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:iam-sentinel-remediation:3f6c2a9e-5d1b-4c7a-9e8f-1a2b3c4d5e6f";
const ACTOR_ARN: &str = "arn:aws:iam::123456789012:user/alice";

/// The topic, the rule and the queues that see what gets published.
struct Audience {
    topic_arn: String,
    /// Subscribed with RawMessageDelivery=true: the message body as published.
    raw: Queue,
    /// Subscribed without raw delivery: SNS's JSON envelope (with the subject).
    envelope: Queue,
    /// Target of a rule on the stack's bus (`BUS`) matching {"source":["iam-sentinel"]}.
    events: Queue,
}

/// The stack's own event bus, as the template names it for the stack `iam-sentinel`.
const BUS: &str = "iam-sentinel-events";

async fn audience(moto: &Moto) -> Audience {
    let (sns, sqs, events) = (moto.sns(), moto.sqs(), moto.events());
    let topic_arn = sns
        .create_topic()
        .name("iam-sentinel-alerts")
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .unwrap();
    let raw = create_queue(&sqs, "alerts-raw").await;
    let envelope = create_queue(&sqs, "alerts-envelope").await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&raw.arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("Subscribe (raw)");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&envelope.arn)
        .send()
        .await
        .expect("Subscribe");
    let events_queue = create_queue(&sqs, "sentinel-events").await;
    events
        .create_event_bus()
        .name(BUS)
        .send()
        .await
        .expect("CreateEventBus");
    events
        .put_rule()
        .name("iam-sentinel-outcomes")
        .event_bus_name(BUS)
        .event_pattern(r#"{"source":["iam-sentinel"]}"#)
        .send()
        .await
        .expect("PutRule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("sentinel-events")
        .arn(&events_queue.arn)
        .build()
        .unwrap();
    let added = events
        .put_targets()
        .rule("iam-sentinel-outcomes")
        .event_bus_name(BUS)
        .targets(target)
        .send()
        .await
        .expect("PutTargets");
    assert_eq!(added.failed_entry_count(), 0);
    Audience {
        topic_arn,
        raw,
        envelope,
        events: events_queue,
    }
}

fn publisher(moto: &Moto, topic_arn: &str) -> Publisher {
    Publisher {
        notifier: Notifier {
            sns: moto.sns(),
            topic_arn: topic_arn.to_owned(),
        },
        events: moto.events(),
        event_bus_name: BUS.into(),
    }
}

/// The state PublishQuarantined is entered with, from real Analyse and Quarantine steps on
/// create-policy.json (the walkthrough's bad policy, created in moto), as JSON and read back.
async fn quarantined_state(moto: &Moto) -> OutcomeState {
    let incident = analyse_change(
        event("create-policy.json"),
        &analyse_deps(moto.iam(), moto.documents()),
    )
    .await
    .unwrap()
    .incident;
    restricted_analysis(&incident);
    create_managed_policy(&moto.iam_client(), "my-bad-policy-aws-5-mins", &original()).await;
    let record = quarantine(INCIDENT, incident.clone(), &quarantine_deps(moto))
        .await
        .unwrap();
    applied(&record);
    OutcomeState::from_value(json!({"incident": incident, "quarantine": record}))
}

/// Publishes the quarantine `state` to `topic_arn` and the stack's bus.
async fn published_quarantine(
    moto: &Moto,
    state: &OutcomeState,
    topic_arn: &str,
) -> Result<Published, StepError> {
    publish(
        Outcome::Quarantined,
        state,
        EXECUTION_ARN,
        &publisher(moto, topic_arn),
    )
    .await
}

fn original() -> String {
    document_of(&event("create-policy.json"))
}

#[tokio::test]
async fn a_quarantine_is_told_to_people_with_the_actor_the_restricted_action_and_the_original() {
    // GIVEN a topic with a raw-delivery SQS subscriber, and a real quarantine to publish
    let moto = Moto::start();
    let audience = audience(&moto).await;
    let state = quarantined_state(&moto).await;
    let expected = notification(Outcome::Quarantined, &state, EXECUTION_ARN);
    // WHEN the outcome is published
    let published = published_quarantine(&moto, &state, &audience.topic_arn)
        .await
        .unwrap();
    // THEN the subscriber gets exactly one message: the notification's body
    assert_eq!(published.outcome, Outcome::Quarantined);
    let messages = receive(&moto.sqs(), &audience.raw, 5).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let body = &messages[0];
    assert_eq!(body, &expected.body);
    // AND it names who did it, what restricted action was granted, and the original by the
    // SHA-256 under which the document store holds it exactly
    assert!(body.contains(ACTOR_ARN), "{body}");
    assert!(body.contains("s3:DeleteBucket"), "{body}");
    let kept = DocumentRef::of(&original());
    assert!(
        body.contains(&format!(
            "original: {} characters, SHA-256 {}",
            kept.characters, kept.sha256
        )),
        "{body}"
    );
    assert_eq!(stored(&moto, &kept).await, json(&original()));
    assert!(body.contains(EXECUTION_ARN), "{body}");
}

#[tokio::test]
async fn the_sns_subject_is_the_notifications_subject() {
    // GIVEN a topic with a subscriber that receives SNS's JSON envelope (no raw delivery)
    let moto = Moto::start();
    let audience = audience(&moto).await;
    let state = quarantined_state(&moto).await;
    // WHEN the outcome is published
    let published = published_quarantine(&moto, &state, &audience.topic_arn)
        .await
        .unwrap();
    // THEN the envelope's Subject is the subject the step returned
    assert_eq!(
        published.subject,
        "iam-sentinel: Restricted grant quarantined (managed policy my-bad-policy-aws-5-mins)"
    );
    let messages = receive(&moto.sqs(), &audience.envelope, 5).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let envelope = json(&messages[0]);
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], audience.topic_arn.as_str());
    assert_eq!(envelope["Subject"], published.subject.as_str());
    // AND the raw-delivery body does not carry it (only the message is delivered raw)
    let raw = receive(&moto.sqs(), &audience.raw, 5).await;
    assert_eq!(raw.len(), 1);
    assert!(!raw[0].contains(&published.subject), "{}", raw[0]);
}

#[tokio::test]
async fn a_quarantine_is_told_to_tools_as_an_event_on_the_stacks_bus() {
    // GIVEN a rule on the stack's bus matching source iam-sentinel, with an SQS target
    let moto = Moto::start();
    let audience = audience(&moto).await;
    let state = quarantined_state(&moto).await;
    let record = state.quarantine.clone().unwrap();
    // WHEN the outcome is published
    published_quarantine(&moto, &state, &audience.topic_arn)
        .await
        .unwrap();
    // THEN the rule delivers one event with the quarantine's detail-type and the whole record
    let messages = receive(&moto.sqs(), &audience.events, 5).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let event = json(&messages[0]);
    assert_eq!(event["source"], "iam-sentinel");
    assert_eq!(event["detail-type"], "IAM Sentinel Policy Quarantined");
    let detail = &event["detail"];
    assert_eq!(detail["outcome"], "quarantined");
    assert_eq!(detail["executionArn"], EXECUTION_ARN);
    assert_eq!(detail["change"]["actor"]["arn"], ACTOR_ARN);
    let reference: DocumentRef =
        serde_json::from_value(detail["originalDocument"].clone()).expect("a document reference");
    assert_eq!(stored(&moto, &reference).await, json(&original()));
    assert_eq!(detail["quarantine"], serde_json::to_value(&record).unwrap());
    assert_eq!(
        detail["findings"][0]["hits"][0]["restricted"],
        "s3:DeleteBucket"
    );
}

#[tokio::test]
async fn a_missing_topic_is_a_non_retryable_error_and_no_event_is_sent() {
    // GIVEN the configured topic does not exist (the rule and its queue do)
    let moto = Moto::start();
    let audience = audience(&moto).await;
    let state = quarantined_state(&moto).await;
    let missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic";
    // WHEN the outcome is published
    let error = failure(published_quarantine(&moto, &state, missing).await);
    // THEN the step fails NonRetryable, naming the call and SNS's NotFound
    assert_eq!(error.error_type(), "NonRetryable", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("SNS Publish") && message.contains("NotFound"),
        "{message}"
    );
    // AND no event was sent: the event queue stays empty (2 polls of 1 s)
    let events: Vec<Value> = receive(&moto.sqs(), &audience.events, 2)
        .await
        .iter()
        .map(|m| json(m))
        .collect();
    assert!(events.is_empty(), "{events:?}");
}
