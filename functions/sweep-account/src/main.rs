//! The `sweep-account` Lambda function: wiring only (see `remediation::handlers::sweep`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::error::parse_input;
use remediation::handlers::sweep::{SweepDeps, SweepRequest, handle};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::SWEEP_ACCOUNT_TIMEOUT).await;
    let deps = SweepDeps::from_env(&config)?;
    // The schedule, `aws lambda invoke` and `make sweep` send {"sweep": "<why>"}.
    let deps = &deps;
    run(service_fn(|event: LambdaEvent<Value>| async move {
        let request = parse_input::<SweepRequest>(event.payload)?;
        handle(request, &event.context.request_id, deps).await
    }))
    .await
}
