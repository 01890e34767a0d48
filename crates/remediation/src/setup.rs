//! What every function's `main` does once at start-up: load the SDK configuration, build the
//! clients, read and validate the configuration, failing fast with the variable's name.

use policy_engine::{Catalog, RestrictedActions};

use crate::error::{StepError, required_env};
use crate::executions::ApprovalTasks;
use crate::handlers::{
    analyse::AnalyseDeps, approval_api::ApprovalApiDeps, publish::PublishDeps,
    quarantine::QuarantineDeps, request_approval::RequestApprovalDeps, restore::RestoreDeps,
};
use crate::iam::IamPolicies;
use crate::publisher::{Notifier, Publisher};

pub async fn sdk_config() -> aws_config::SdkConfig {
    lambda_runtime::tracing::init_default_subscriber();
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// `RESTRICTED_ACTIONS`, validated against the catalog: a typo stops the function at start-up.
pub fn restricted_actions() -> Result<RestrictedActions, StepError> {
    let list = required_env("RESTRICTED_ACTIONS")?;
    RestrictedActions::parse(&list, Catalog::embedded())
        .map_err(|e| StepError::NonRetryable(format!("configuration: RESTRICTED_ACTIONS: {e}")))
}

fn flag(name: &str) -> Result<bool, StepError> {
    match std::env::var(name).unwrap_or_default().trim() {
        "" | "false" => Ok(false),
        "true" => Ok(true),
        other => Err(StepError::NonRetryable(format!(
            "configuration: {name} must be true or false, not {other:?}"
        ))),
    }
}

impl AnalyseDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(AnalyseDeps {
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
            restricted: restricted_actions()?,
            own_role_arn: required_env("SENTINEL_ROLE_ARN")?,
            notify_on_clean: flag("NOTIFY_ON_CLEAN_CHANGES")?,
        })
    }
}

impl QuarantineDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(QuarantineDeps {
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
            restricted: restricted_actions()?,
        })
    }
}

impl RestoreDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(RestoreDeps {
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
        })
    }
}

impl PublishDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(PublishDeps {
            publisher: Publisher {
                notifier: Notifier::from_env(config)?,
                events: aws_sdk_eventbridge::Client::new(config),
                event_bus_name: std::env::var("EVENT_BUS_NAME")
                    .unwrap_or_else(|_| "default".into()),
            },
        })
    }
}

impl Notifier {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(Notifier {
            sns: aws_sdk_sns::Client::new(config),
            topic_arn: required_env("TOPIC_ARN")?,
        })
    }
}

impl RequestApprovalDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        let approval_url = required_env("APPROVAL_URL")?;
        if !(approval_url.starts_with("https://") || approval_url.starts_with("http://")) {
            return Err(StepError::NonRetryable(format!(
                "configuration: APPROVAL_URL must be an http(s) URL, not {approval_url:?}"
            )));
        }
        Ok(RequestApprovalDeps {
            notifier: Notifier::from_env(config)?,
            approval_url,
        })
    }
}

impl ApprovalApiDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        let state_machine = approval::StateMachine::parse(&required_env("STATE_MACHINE_ARN")?)
            .map_err(|e| {
                StepError::NonRetryable(format!("configuration: STATE_MACHINE_ARN: {e}"))
            })?;
        Ok(ApprovalApiDeps {
            tasks: ApprovalTasks {
                client: aws_sdk_sfn::Client::new(config),
                state_machine,
            },
        })
    }
}
