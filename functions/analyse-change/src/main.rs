//! The `analyse-change` Lambda function: wiring only (see `remediation::handlers::analyse`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::analyse::{AnalyseDeps, handle};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::FUNCTION_TIMEOUT).await;
    let rules = remediation::setup::rules(deployed_rules::TEXT, deployed_rules::FILE)?;
    let deps = AnalyseDeps::from_env(&config, rules)?;
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        handle(event.payload, &deps)
    }))
    .await
}
