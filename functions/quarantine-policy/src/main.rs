//! The `quarantine-policy` Lambda function: wiring only (see `remediation::handlers::quarantine`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::StepInvocation;
use remediation::handlers::quarantine::{QuarantineDeps, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::FUNCTION_TIMEOUT)?;
    let rules = remediation::setup::rules(deployed_rules::TEXT, deployed_rules::FILE)?;
    let deps = QuarantineDeps::from_env(&config, rules)?;
    run(service_fn(|event: LambdaEvent<Value>| async {
        let invocation =
            StepInvocation::read(event.payload, "quarantine-policy", &deps.alerts).await?;
        handle(invocation, &deps).await
    }))
    .await
}
