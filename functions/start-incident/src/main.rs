//! The `start-incident` Lambda function, fed by the trigger rule's queue: wiring only (see
//! `remediation::handlers::start`).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::StepError;
use remediation::error::parse_input;
use remediation::handlers::start::{StartDeps, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::START_INCIDENT_TIMEOUT)?;
    let deps = StartDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<Value>| async {
        let batch = parse_input::<SqsEvent>(event.payload)?;
        Ok::<SqsBatchResponse, StepError>(handle(batch, &deps).await)
    }))
    .await
}
