//! The `request-approval` Lambda function: wiring only (see
//! `remediation::handlers::request_approval`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::request_approval::{ApprovalRequest, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    remediation::setup::sdk_config().await;
    run(service_fn(|event: LambdaEvent<ApprovalRequest>| {
        handle(event.payload)
    }))
    .await
}
