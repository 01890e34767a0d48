//! The `request-approval` Lambda function: wiring only (see
//! `remediation::handlers::request_approval`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::error::parse_input;
use remediation::handlers::request_approval::{RequestApprovalDeps, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::FUNCTION_TIMEOUT)?;
    let deps = RequestApprovalDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<Value>| async {
        handle(parse_input(event.payload)?, &deps).await
    }))
    .await
}
