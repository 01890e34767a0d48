//! A change of the deployed rules is published (T19 in docs/THREAT-MODEL.md): against moto,
//! a start with other rules than the recorded ones puts exactly one "IAM Sentinel Rules
//! Changed" event on the bus and moves the record; the same rules publish nothing; two starts at
//! once publish at least once and record once.

use std::sync::atomic::AtomicBool;

use incident::rules_changed::{RULES_CHANGED_DETAIL_TYPE, RULES_KEY};
use policy_engine::{Catalog, Rules};
use remediation::rules_record::{Announced, RulesRecord};
use serde_json::Value;
use time::OffsetDateTime;

use crate::support::*;

const ALERTING: &str = r#"version = 1
[[rule]]
name = "deletes"
mode = "alert"
actions = ["s3:DeleteBucket"]
"#;

fn rules(text: &str) -> Rules {
    Rules::parse(text, Catalog::embedded()).unwrap()
}

/// The stack's bus with a rule sending its rules-changed events to a queue, as a subscriber
/// would.
async fn watched_bus(moto: &Moto) -> Queue {
    let queue = create_queue(&moto.sqs(), "rules-changed").await;
    let events = moto.events();
    events
        .put_rule()
        .name("rules-changed")
        .event_pattern(serde_json::json!({"detail-type": [RULES_CHANGED_DETAIL_TYPE]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("rules-changed")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue.arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    queue
}

fn record(moto: &Moto, seen_by: &str) -> RulesRecord {
    RulesRecord {
        decisions: moto.decisions(),
        events: moto.events(),
        event_bus_name: "default".into(),
        seen_by: seen_by.into(),
        checked: AtomicBool::new(false),
    }
}

/// The rules-changed events published since the last look.
async fn published(moto: &Moto, queue: &Queue) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let bodies = take(&moto.sqs(), queue).await;
        if bodies.is_empty() {
            return all;
        }
        all.extend(bodies.iter().map(|b| serde_json::from_str(b).unwrap()));
    }
}

#[tokio::test]
async fn a_start_with_changed_rules_publishes_once_and_moves_the_record() {
    let moto = Moto::start();
    let queue = watched_bus(&moto).await;
    let analyse = record(&moto, "iam-sentinel-analyse-change");
    let first = rules(ALERTING);
    // WHEN the first start reads rules and none are recorded
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        analyse.announce(&first, now).await.unwrap(),
        Announced::Published { recorded: true }
    );
    // THEN one event, from nothing, and the record holds the digest
    let events = published(&moto, &queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], RULES_CHANGED_DETAIL_TYPE);
    assert_eq!(events[0]["source"], incident::EVENT_SOURCE);
    assert_eq!(events[0]["detail"]["digest"], first.digest());
    assert_eq!(events[0]["detail"]["previousDigest"], Value::Null);
    assert_eq!(events[0]["detail"]["rules"][0]["mode"], "alert");
    let table = moto.decisions();
    assert_eq!(
        table.rules_digest().await.unwrap().as_deref(),
        Some(first.digest())
    );
    // WHEN the same rules start again (another function, another instance) THEN nothing
    let sweep = record(&moto, "iam-sentinel-sweep-account");
    assert_eq!(
        sweep.announce(&first, now).await.unwrap(),
        Announced::Unchanged
    );
    sweep.check_once(&first).await.unwrap();
    assert!(published(&moto, &queue).await.is_empty());
    // WHEN a rule is switched to enforce (an attacker's or a reviewer's edit, deployed)
    let enforcing = rules(&ALERTING.replace("\"alert\"", "\"enforce\""));
    record(&moto, "iam-sentinel-analyse-change")
        .check_once(&enforcing)
        .await
        .unwrap();
    // THEN exactly one event names both digests, and the record moved
    let events = published(&moto, &queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["digest"], enforcing.digest());
    assert_eq!(events[0]["detail"]["previousDigest"], first.digest());
    assert_eq!(events[0]["detail"]["rules"][0]["mode"], "enforce");
    assert_eq!(
        table.item(RULES_KEY).await.unwrap().unwrap()["digest"],
        enforcing.digest()
    );
}

#[tokio::test]
async fn two_starts_at_once_publish_at_least_once_and_record_once() {
    let moto = Moto::start();
    let queue = watched_bus(&moto).await;
    let old = rules(ALERTING);
    let now = OffsetDateTime::now_utc();
    record(&moto, "f").announce(&old, now).await.unwrap();
    published(&moto, &queue).await;
    // WHEN two instances start at once with new rules
    let new = rules(&ALERTING.replace("DeleteBucket", "DeleteObject"));
    let (one, two) = (record(&moto, "analyse"), record(&moto, "sweep"));
    let (a, b) = tokio::join!(one.announce(&new, now), two.announce(&new, now));
    let outcomes = [a.unwrap(), b.unwrap()];
    // THEN at least one published, exactly one recorded, and the record is the new digest
    let recorded = outcomes
        .iter()
        .filter(|o| **o == Announced::Published { recorded: true })
        .count();
    assert_eq!(recorded, 1, "{outcomes:?}");
    let events = published(&moto, &queue).await;
    assert!(!events.is_empty());
    assert!(events.len() <= 2, "{events:?}");
    assert!(events.iter().all(|e| e["detail"]["digest"] == new.digest()));
    assert_eq!(
        moto.decisions().rules_digest().await.unwrap().as_deref(),
        Some(new.digest())
    );
}

#[tokio::test]
async fn a_change_that_cannot_be_published_is_not_recorded() {
    // GIVEN a bus that refuses the event (it does not exist)
    let moto = Moto::start();
    let mut record = record(&moto, "analyse");
    record.event_bus_name = "no-such-bus".into();
    // WHEN a start with rules cannot publish THEN it fails, and nothing is recorded: the next
    // start publishes
    let first = rules(ALERTING);
    assert!(record.check_once(&first).await.is_err());
    assert_eq!(moto.decisions().rules_digest().await.unwrap(), None);
}
