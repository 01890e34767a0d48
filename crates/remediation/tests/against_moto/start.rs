//! The starter: one execution per CloudTrail event, named after it, however often SQS delivers
//! it; a message that did not start its execution is a batch item failure, so SQS delivers it
//! again (and, after the last attempt, to the dead-letter queue).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sfn::types::ExecutionStatus;
use incident::IncidentName;
use remediation::executions::IncidentStarter;
use remediation::handlers::start::{StartDeps, handle};
use serde_json::{Value, json};

use crate::support::*;

/// Step Functions' answer to a StartExecution over its rate limit.
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:iam-sentinel-incidents";

/// The batch Lambda's event source mapping hands the function: one message per body, each
/// received for the first time.
fn batch(messages: &[(&str, &str)]) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|(message_id, body)| {
            json!({
                "messageId": message_id,
                "receiptHandle": format!("AQEB{message_id}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764637323000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1764637323010"
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

fn failures(response: &SqsBatchResponse) -> Vec<&str> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// This deployment's state machine in moto (not executing: executions stay RUNNING).
async fn deployment(moto: &Moto) -> StartDeps {
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
    StartDeps {
        starter: IncidentStarter {
            client: moto.sfn(),
            state_machine_arn: arn,
        },
    }
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
    let deps = deployment(&moto).await;
    let body = event("create-policy.json").to_string();
    // WHEN the starter gets it
    let response = handle(batch(&[("m-1", &body)]), &deps).await;
    // THEN one execution runs, named after the event, with the message body as its input, and
    // the message is done with
    assert_eq!(failures(&response), Vec::<&str>::new());
    let name = IncidentName::of(&event("create-policy.json")).to_string();
    assert_eq!(
        executions(&moto).await,
        vec![(name, body, ExecutionStatus::Running)]
    );
}

#[tokio::test]
async fn a_duplicate_delivery_starts_nothing_and_is_no_failure_while_running_or_after() {
    // GIVEN an event delivered twice in one batch (EventBridge and SQS deliver at least once)
    let moto = Moto::start();
    let deps = deployment(&moto).await;
    let body = event("attach-user-policy.json").to_string();
    let first = handle(batch(&[("m-1", &body), ("m-2", &body)]), &deps).await;
    // THEN one execution runs and neither message failed
    assert_eq!(failures(&first), Vec::<&str>::new());
    let running = executions(&moto).await;
    assert_eq!(running.len(), 1, "{running:?}");
    // WHEN it comes a third time while the execution waits (same name, same input: Step
    // Functions answers with the running execution)
    let again = handle(batch(&[("m-3", &body)]), &deps).await;
    assert_eq!(failures(&again), Vec::<&str>::new());
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
    let late = handle(batch(&[("m-4", &body)]), &deps).await;
    // THEN still that one execution, and no message failed
    assert_eq!(failures(&late), Vec::<&str>::new());
    let after = executions(&moto).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].2, ExecutionStatus::Aborted);
}

#[tokio::test]
async fn a_throttled_start_is_a_batch_item_failure_for_sqs_to_deliver_again() {
    // GIVEN Step Functions answers StartExecution with 400 ThrottlingException
    let sfn = Replay::answering(2, || answer(400, "application/x-amz-json-1.0", THROTTLED));
    let deps = StartDeps {
        starter: IncidentStarter {
            client: sfn.sfn(),
            state_machine_arn: STATE_MACHINE_ARN.to_owned(),
        },
    };
    let managed = event("create-policy.json").to_string();
    let inline = event("put-user-policy.json").to_string();
    // WHEN a batch of two arrives
    let response = handle(batch(&[("m-1", &managed), ("m-2", &inline)]), &deps).await;
    // THEN both messages are reported, so SQS keeps both, after one request each
    assert_eq!(failures(&response), vec!["m-1", "m-2"]);
    let requests = sfn.request_bodies();
    assert_eq!(requests.len(), 2, "{requests:?}");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_batch_item_failure_and_starts_nothing() {
    // GIVEN a message whose body is not JSON, next to a valid event
    let moto = Moto::start();
    let deps = deployment(&moto).await;
    let body = event("create-policy.json").to_string();
    // WHEN the starter gets both
    let response = handle(batch(&[("m-1", "{not json"), ("m-2", &body)]), &deps).await;
    // THEN only the valid one starts an execution; the other stays with the queue (on to the
    // dead-letter queue after the last attempt), never dropped
    assert_eq!(failures(&response), vec!["m-1"]);
    assert_eq!(executions(&moto).await.len(), 1);
}
