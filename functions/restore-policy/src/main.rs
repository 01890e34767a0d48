//! The `restore-policy` Lambda function: wiring only (see `remediation::handlers::restore`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::restore::{RestoreDeps, RestoreInput, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config().await;
    let deps = RestoreDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<RestoreInput>| {
        handle(event.payload, &deps)
    }))
    .await
}
