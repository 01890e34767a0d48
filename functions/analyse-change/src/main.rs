//! The `analyse-change` Lambda function: wiring only (see `remediation::handlers::analyse`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::error::parse_input;
use remediation::handlers::analyse::{AnalyseDeps, handle_step};
use remediation::rules_record::RulesRecord;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::FUNCTION_TIMEOUT)?;
    let rules = remediation::setup::rules(deployed_rules::TEXT, deployed_rules::FILE)?;
    let record = RulesRecord::from_env(&config)?;
    let deps = AnalyseDeps::from_env(&config, rules)?;
    let (record, deps) = (&record, &deps);
    run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            // A change of the rules is published before they decide anything.
            record.check_once(&deps.rules).await?;
            handle_step(parse_input(event.payload)?, deps).await
        },
    ))
    .await
}
