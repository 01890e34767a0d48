//! The `sweep-account` Lambda function: wiring only (see `remediation::handlers::sweep`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::error::parse_input;
use remediation::handlers::sweep::{SweepDeps, SweepRequest, handle};
use remediation::rules_record::RulesRecord;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::SWEEP_ACCOUNT_TIMEOUT)?;
    let rules = remediation::setup::rules(deployed_rules::TEXT, deployed_rules::FILE)?;
    let record = RulesRecord::from_env(&config)?;
    let deps = SweepDeps::from_env(&config, rules)?;
    // The schedule, `aws lambda invoke` and `make sweep` send {"sweep": "<why>"}.
    let (record, deps) = (&record, &deps);
    run(service_fn(|event: LambdaEvent<Value>| async move {
        // A change of the rules is published before they decide anything.
        record.check_once(&deps.rules).await?;
        let request = parse_input::<SweepRequest>(event.payload)?;
        handle(request, &event.context.request_id, deps).await
    }))
    .await
}
