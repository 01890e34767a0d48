//! The `restore-policy` Lambda function: wiring only (see `remediation::handlers::restore`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::error::parse_input;
use remediation::handlers::restore::{RestoreDeps, RestoreInput, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config().await;
    let deps = RestoreDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<Value>| async {
        handle(parse_input::<RestoreInput>(event.payload)?, &deps).await
    }))
    .await
}
