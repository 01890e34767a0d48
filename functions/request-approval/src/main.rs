//! The `request-approval` Lambda function: wiring only (see
//! `remediation::handlers::request_approval`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::error::parse_input;
use remediation::handlers::request_approval::{ApprovalRequest, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    remediation::setup::sdk_config().await;
    run(service_fn(|event: LambdaEvent<Value>| async {
        handle(parse_input::<ApprovalRequest>(event.payload)?).await
    }))
    .await
}
