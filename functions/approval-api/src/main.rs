//! The `approval-api` Lambda function behind API Gateway: wiring only (see
//! `remediation::handlers::approval_api`). Every request, even a malformed event, is answered
//! with a page, so it returns no error of its own.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use remediation::handlers::approval_api::{ApprovalApiDeps, handle_event};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = remediation::setup::sdk_config(remediation::setup::APPROVAL_API_TIMEOUT)?;
    let deps = ApprovalApiDeps::from_env(&config)?;
    run(service_fn(|event: LambdaEvent<Value>| async {
        Ok::<ApiGatewayV2httpResponse, Error>(handle_event(event.payload, &deps).await)
    }))
    .await
}
