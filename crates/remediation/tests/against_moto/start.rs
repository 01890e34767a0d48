//! The starter: one execution per CloudTrail event, named after it, however often SQS delivers
//! it; a message that did not start its execution is a batch item failure, so SQS delivers it
//! again (and, after the last attempt, to the dead-letter queue).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sfn::types::ExecutionStatus;
use incident::{IncidentName, canonical_digest};
use remediation::executions::{IncidentStarter, Start};
use remediation::handlers::start::{StartDeps, handle};
use remediation::incident_queue::IncidentQueue;
use remediation::publisher::Notifier;
use serde_json::{Value, json};

use crate::support::*;

/// Step Functions' answer to a StartExecution over its rate limit.
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

/// This deployment's starter in moto, with its queue and the operators' topic read back.
struct Deployment {
    deps: StartDeps,
    queue: Queue,
    operators: Queue,
}

/// This deployment's state machine in moto (not executing: executions stay RUNNING), its
/// incident queue, and the operators' topic.
async fn deployment(moto: &Moto) -> Deployment {
    let arn = moto
        .sfn()
        .create_state_machine()
        .name("iam-sentinel-remediation")
        .definition(deployed_definition().to_string())
        .role_arn("arn:aws:iam::123456789012:role/iam-sentinel-state-machine")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn
        .clone();
    assert_eq!(arn, STATE_MACHINE_ARN);
    let queue = create_queue(&moto.sqs(), "iam-sentinel-incidents").await;
    let (operators_topic, operators) = topic_and_queue(moto, "iam-sentinel-operators", true).await;
    Deployment {
        deps: StartDeps {
            starter: IncidentStarter {
                client: moto.sfn(),
                state_machine_arn: arn,
                records: moto.decisions(),
            },
            queue: IncidentQueue {
                client: moto.sqs(),
                url: queue.url.clone(),
            },
            queue_arn: queue.arn.clone(),
            alerts: Notifier {
                sns: moto.sns(),
                topic_arn: operators_topic,
            },
        },
        queue,
        operators,
    }
}

/// `bodies` sent to the queue, and received as Lambda's event source mapping hands them to the
/// function: one batch, in the order sent, each record as SQS gave it (its receipt handle).
async fn delivered(moto: &Moto, queue: &Queue, bodies: &[&str]) -> SqsEvent {
    let sqs = moto.sqs();
    for body in bodies {
        sqs.send_message()
            .queue_url(&queue.url)
            .message_body(*body)
            .send()
            .await
            .expect("SendMessage");
    }
    let mut messages = Vec::new();
    while messages.len() < bodies.len() {
        messages.extend(received(&sqs, queue).await);
    }
    let position =
        |m: &aws_sdk_sqs::types::Message| bodies.iter().position(|b| Some(*b) == m.body()).unwrap();
    messages.sort_by_key(position);
    batch_of(
        messages
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "eventSourceARN": queue.arn,
                })
            })
            .collect(),
    )
}

/// An SQS event of `records`, each completed as the event source mapping writes them.
fn batch_of(records: Vec<Value>) -> SqsEvent {
    let records: Vec<Value> = records
        .into_iter()
        .map(|mut record| {
            let defaults = json!({
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764637323000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1764637323010"
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1"
            });
            for (key, value) in defaults.as_object().unwrap() {
                record[key] = value.clone();
            }
            record
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// The positions, in `batch`, of the messages the response reports as failures.
fn failed(response: &SqsBatchResponse, batch: &SqsEvent) -> Vec<usize> {
    response
        .batch_item_failures
        .iter()
        .map(|f| {
            batch
                .records
                .iter()
                .position(|r| r.message_id.as_deref() == Some(f.item_identifier.as_str()))
                .expect("a failure names a message of the batch")
        })
        .collect()
}

/// (name, input, status) of every execution of the state machine.
async fn executions(moto: &Moto) -> Vec<(String, String, ExecutionStatus)> {
    let listed = moto
        .sfn()
        .list_executions()
        .state_machine_arn(STATE_MACHINE_ARN)
        .send()
        .await
        .expect("ListExecutions");
    let mut out = Vec::new();
    for execution in listed.executions() {
        let described = moto
            .sfn()
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .expect("DescribeExecution");
        out.push((
            described.name().unwrap_or_default().to_owned(),
            described.input().unwrap_or_default().to_owned(),
            described.status().clone(),
        ));
    }
    out
}

#[tokio::test]
async fn the_first_delivery_starts_one_execution_named_after_the_event_with_the_event_as_input() {
    // GIVEN the rule delivered create-policy.json's event to the queue
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let body = event("create-policy.json").to_string();
    // WHEN the starter gets it
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    let response = handle(batch.clone(), &deployed.deps).await;
    // THEN one execution runs, named after the event, with the message body as its input, and
    // the message is done with
    assert_eq!(failed(&response, &batch), Vec::<usize>::new());
    let name = IncidentName::of(&event("create-policy.json")).to_string();
    assert_eq!(
        executions(&moto).await,
        vec![(name.clone(), body.clone(), ExecutionStatus::Running)]
    );
    // AND its start is recorded under its name, with its input's digest, for a day: what the
    // writers check before they act in it
    let record = moto.decisions().start_record(&name).await.unwrap().unwrap();
    assert_eq!(record.input_digest, canonical_digest(&body).unwrap());
    let life = record.expires_at - time::OffsetDateTime::now_utc();
    assert!(
        life > time::Duration::hours(23) && life <= time::Duration::hours(24),
        "{life}"
    );
}

#[tokio::test]
async fn an_event_whose_name_was_recorded_with_another_input_starts_nothing() {
    // GIVEN the starter recorded the event's name with another input (a first delivery of a
    // different body under the same event id, say)
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let body = event("create-policy.json").to_string();
    let name = IncidentName::of(&event("create-policy.json")).to_string();
    let recorded = moto
        .decisions()
        .record_start(&name, "another-digest", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(recorded);
    // WHEN the event is delivered
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    let response = handle(batch.clone(), &deployed.deps).await;
    // THEN nothing starts (Step Functions would refuse the name anyway), the record keeps its
    // input, and the message is done with
    assert_eq!(failed(&response, &batch), Vec::<usize>::new());
    assert_eq!(executions(&moto).await, vec![]);
    let record = moto.decisions().start_record(&name).await.unwrap().unwrap();
    assert_eq!(record.input_digest, "another-digest");
    // AND the starter says so, apart from a name Step Functions refused
    let again = deployed.deps.starter.start(&name, &body).await.unwrap();
    assert_eq!(again, Start::RecordedWithAnotherInput);
}

#[tokio::test]
async fn a_duplicate_delivery_starts_nothing_and_is_no_failure_while_running_or_after() {
    // GIVEN an event delivered twice in one batch (EventBridge and SQS deliver at least once)
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let body = event("attach-user-policy.json").to_string();
    let batch = delivered(&moto, &deployed.queue, &[&body, &body]).await;
    let first = handle(batch.clone(), &deployed.deps).await;
    // THEN one execution runs and neither message failed
    assert_eq!(failed(&first, &batch), Vec::<usize>::new());
    let running = executions(&moto).await;
    assert_eq!(running.len(), 1, "{running:?}");
    // WHEN it comes a third time while the execution waits (same name, same input: Step
    // Functions answers with the running execution)
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    let again = handle(batch.clone(), &deployed.deps).await;
    assert_eq!(failed(&again, &batch), Vec::<usize>::new());
    assert_eq!(executions(&moto).await, running);
    // AND a fourth time after the execution ended (ExecutionAlreadyExists: the name is taken)
    let execution_arn = format!(
        "{}:{}",
        STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:"),
        running[0].0
    );
    moto.sfn()
        .stop_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .expect("StopExecution");
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    let late = handle(batch.clone(), &deployed.deps).await;
    // THEN still that one execution, and no message failed
    assert_eq!(failed(&late, &batch), Vec::<usize>::new());
    let after = executions(&moto).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].2, ExecutionStatus::Aborted);
}

#[tokio::test]
async fn a_throttled_start_is_a_batch_item_failure_for_sqs_to_deliver_again() {
    // GIVEN Step Functions answers StartExecution with 400 ThrottlingException
    let sfn = Replay::answering(2, || answer(400, "application/x-amz-json-1.0", THROTTLED));
    let moto = Moto::start();
    let mut deployed = deployment(&moto).await;
    deployed.deps.starter = IncidentStarter {
        client: sfn.sfn(),
        state_machine_arn: STATE_MACHINE_ARN.to_owned(),
        records: moto.decisions(),
    };
    let managed = event("create-policy.json").to_string();
    let inline = event("put-user-policy.json").to_string();
    // WHEN a batch of two arrives
    let batch = delivered(&moto, &deployed.queue, &[&managed, &inline]).await;
    let response = handle(batch.clone(), &deployed.deps).await;
    // THEN both messages are reported, so SQS keeps both, after one request each
    assert_eq!(failed(&response, &batch), vec![0, 1]);
    let requests = sfn.request_bodies();
    assert_eq!(requests.len(), 2, "{requests:?}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_batch_item_failure_and_starts_nothing() {
    // GIVEN a message whose body is not JSON, next to a valid event
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let body = event("create-policy.json").to_string();
    // WHEN the starter gets both
    let batch = delivered(&moto, &deployed.queue, &["{not json", &body]).await;
    let response = handle(batch.clone(), &deployed.deps).await;
    // THEN only the valid one starts an execution; the other stays with the queue (on to the
    // dead-letter queue after the last attempt), never dropped
    assert_eq!(failed(&response, &batch), vec![0]);
    assert_eq!(executions(&moto).await.len(), 1);
}

#[tokio::test]
async fn a_batch_made_up_by_whoever_may_invoke_the_starter_starts_nothing_and_is_alerted() {
    // GIVEN the deployment, one real delivery in its queue, and mallory, who may invoke the
    // starter (lambda:InvokeFunction) but not read the queue
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let genuine = event("create-policy.json").to_string();
    let real = delivered(&moto, &deployed.queue, &[&genuine]).await;
    // WHEN she invokes it with that delivery and records of her own: one naming the queue with
    // a receipt handle she made up, one from another queue (her own), one with no handle
    let forged = event("attach-role-policy.json").to_string();
    let mut records: Vec<Value> = vec![serde_json::to_value(&real.records[0]).unwrap()];
    records.push(
        json!({"messageId": "forged-1", "receiptHandle": "AQEBmadeup0123456789",
                        "body": forged, "eventSourceARN": deployed.queue.arn}),
    );
    records.push(
        json!({"messageId": "forged-2", "receiptHandle": "AQEBmadeup9876543210",
                        "body": forged,
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:mallory"}),
    );
    records.push(json!({"messageId": "forged-3", "body": forged,
                        "eventSourceARN": deployed.queue.arn}));
    let batch = batch_of(records);
    let response = handle(batch.clone(), &deployed.deps).await;
    // THEN only the real delivery starts its execution; hers start nothing and are no batch
    // failures (there is nothing for SQS to deliver again)
    assert_eq!(failed(&response, &batch), Vec::<usize>::new());
    let started = executions(&moto).await;
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].1, genuine);
    // AND the operators are told once, of each of her records and why
    let alerts = receive(&moto.sqs(), &deployed.operators, 3).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert!(
        alert.contains("refused 3 record(s) not from its queue"),
        "{alert}"
    );
    for (id, why) in [
        (
            "forged-1",
            "never handed over a message with its receipt handle",
        ),
        ("forged-2", "arn:aws:sqs:us-east-1:123456789012:mallory"),
        ("forged-3", "no receipt handle"),
    ] {
        assert!(alert.contains(id) && alert.contains(why), "{id}: {alert}");
    }
}

#[tokio::test]
async fn an_event_whose_execution_name_someone_took_first_is_told_to_the_operators() {
    // GIVEN mallory saw the event (a rule of her own on the default bus) and started an
    // execution under its incident's name, with an input of hers, before the starter did
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let genuine = event("create-policy.json");
    let name = IncidentName::of(&genuine).to_string();
    moto.sfn()
        .start_execution()
        .state_machine_arn(STATE_MACHINE_ARN)
        .name(&name)
        .input("{}")
        .send()
        .await
        .expect("StartExecution");
    // WHEN the event is delivered
    let body = genuine.to_string();
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    let response = handle(batch.clone(), &deployed.deps).await;
    // THEN nothing more starts and no message fails (no delivery can take that name back)
    assert_eq!(failed(&response, &batch), Vec::<usize>::new());
    assert_eq!(executions(&moto).await.len(), 1);
    // AND the operators are told that this change has no incident, and which execution holds
    // its name
    let alerts = receive(&moto.sqs(), &deployed.operators, 1).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert!(alert.contains("change(s) have no incident"), "{alert}");
    assert!(alert.contains("CreatePolicy"), "{alert}");
    assert!(alert.contains(&name), "{alert}");
    // AND a delivery of the event after its own execution ended tells nobody (a duplicate)
    let moto = Moto::start();
    let deployed = deployment(&moto).await;
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    handle(batch, &deployed.deps).await;
    moto.sfn()
        .stop_execution()
        .execution_arn(format!(
            "{}:{name}",
            STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")
        ))
        .send()
        .await
        .expect("StopExecution");
    let batch = delivered(&moto, &deployed.queue, &[&body]).await;
    handle(batch, &deployed.deps).await;
    assert_eq!(
        receive(&moto.sqs(), &deployed.operators, 1).await,
        Vec::<String>::new()
    );
}
