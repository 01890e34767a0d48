//! The `restore-policy` Lambda function: wiring only (see `remediation::handlers::restore`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::StepInvocation;
use remediation::handlers::restore::{RestoreDeps, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::FUNCTION_TIMEOUT)?;
    let deps = RestoreDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<Value>| async {
        let invocation =
            StepInvocation::read(event.payload, "restore-policy", &deps.alerts).await?;
        handle(invocation, &deps).await
    }))
    .await
}
