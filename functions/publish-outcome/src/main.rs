//! The `publish-outcome` Lambda function: wiring only (see `remediation::handlers::publish`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::publish::{PublishDeps, PublishInput, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config().await;
    let deps = PublishDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<PublishInput>| {
        handle(event.payload, &deps)
    }))
    .await
}
