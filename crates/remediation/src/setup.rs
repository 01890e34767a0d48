//! What every function's `main` does once at start-up: load the SDK configuration, build the
//! clients, read and validate the configuration, failing fast with the variable's name.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_iam::config::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use incident::{EventScope, OwnRoles, WriterSessions};
use policy_engine::{Catalog, RestrictedActions, Rules};
use tracing_subscriber::filter::LevelFilter;

use crate::decisions::DecisionTable;
use crate::documents::DocumentStore;
use crate::error::{StepError, required_env};
use crate::executions::{Executions, IncidentStarter};
use crate::handlers::{
    analyse::AnalyseDeps, approval_api::ApprovalApiDeps, publish::PublishDeps,
    quarantine::QuarantineDeps, request_approval::RequestApprovalDeps, restore::RestoreDeps,
    start::StartDeps, sweep::SweepDeps,
};
use crate::iam::IamPolicies;
use crate::incident_queue::IncidentQueue;
use crate::kms::MacKey;
use crate::publisher::{Notifier, Publisher};
use crate::rules_record::RulesRecord;

/// The functions' own timeouts (template.yaml: Globals `Timeout`, and the two functions that set
/// their own; scripts/lint-asl.py checks they agree). Every Task's `TimeoutSeconds` is longer
/// than the Globals one, so a function is always over before its step is retried.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(50);
pub const START_INCIDENT_TIMEOUT: Duration = Duration::from_secs(30);
/// API Gateway gives up on an integration after 30 s, and a person is waiting for the page.
pub const APPROVAL_API_TIMEOUT: Duration = Duration::from_secs(10);
/// Lambda's longest: a sweep reads the whole account (GetAccountAuthorizationDetails, 1,000
/// items a page) and writes a ledger item per user and role.
pub const SWEEP_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(900);

/// Every AWS call's limits for a function that runs at most `function_timeout`, set once for
/// every client: a call that hangs ends as a `Retryable` error well inside the function's time,
/// so the function still answers and the state machine retries the step
/// (docs/workflow-contract.md#timeouts-and-retries). One call may take two fifths of the
/// function's time (20 s of 50, 4 s of the approval API's 10), one attempt two fifths of that.
pub fn sdk_timeouts(function_timeout: Duration) -> TimeoutConfig {
    let operation = function_timeout * 2 / 5;
    let attempt = operation * 2 / 5;
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3).min(attempt / 2))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The SDK's own retries, for what passes within seconds (throttling, 5xx, timeouts): adaptive,
/// so a function instance that is throttled slows its own calls down during a burst. Retries
/// over minutes are the state machine's. IAM writes make one attempt only (`iam::one_attempt`):
/// a write whose answer was lost is retried by the step, which reads first and recognises it.
pub fn sdk_retries() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(3)
        .with_max_backoff(Duration::from_secs(5))
}

/// The SDK configuration of a function that runs at most `function_timeout`, from what Lambda
/// gives every function: its role's credentials and its region in the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`). Nothing
/// else is looked for: `aws_config`'s default chains (profile files, web identity through STS,
/// container and instance metadata) were a tenth of each package, and a function that finds no
/// credentials stops at start-up naming them rather than at its first call. `AWS_ENDPOINT_URL`,
/// `AWS_USE_FIPS_ENDPOINT` and `AWS_USE_DUALSTACK_ENDPOINT` are read as the SDK reads them.
pub fn sdk_config(function_timeout: Duration) -> Result<aws_config::SdkConfig, StepError> {
    init_logging();
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        required_env(name)?;
    }
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| {
            let region = std::env::var(name).ok()?;
            Some(region.trim().to_owned()).filter(|r| !r.is_empty())
        })
        .ok_or_else(|| {
            StepError::Configuration("environment variable AWS_REGION is not set".into())
        })?;
    // HTTPS with rustls on ring: the SDK's default client is the same rustls on aws-lc-rs,
    // which adds megabytes to every Lambda package.
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .identity_cache(IdentityCache::lazy().build())
        .http_client(https)
        .timeout_config(sdk_timeouts(function_timeout))
        .retry_config(sdk_retries())
        .use_fips(env_flag("AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(env_flag("AWS_USE_DUALSTACK_ENDPOINT"));
    Ok(match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => config.endpoint_url(url),
        _ => config,
    }
    .build())
}

/// A Boolean environment variable as the SDK reads one: `true` in any case, else false.
fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Logs to stdout, as JSON lines when the function's log format is JSON (template.yaml:
/// `LoggingConfig`), at `log_level`. What lambda_runtime's `init_default_subscriber` does, but
/// with a plain level filter: its per-target `RUST_LOG` directives need tracing-subscriber's
/// `env-filter`, a regex engine in every package (docs/BENCHMARKS.md).
fn init_logging() {
    let level = log_level(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// Lambda's log level (`AWS_LAMBDA_LOG_LEVEL`, set with a JSON log format) first, then
/// `RUST_LOG`, as one level (`info`, `WARN`...): Lambda's `FATAL` is tracing's `error`, and what
/// is not a level is `info`, so a typo never silences the errors. (Release builds have no debug
/// or trace events to show: Cargo.toml compiles them out.)
fn log_level(lambda: Option<&str>, rust_log: Option<&str>) -> LevelFilter {
    let Some(level) = lambda.or(rust_log).map(str::trim) else {
        return LevelFilter::INFO;
    };
    if level.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    level.parse().unwrap_or(LevelFilter::INFO)
}

/// The rules the function was built with (`text`, read from `file`: `deployed_rules`), with
/// `RESTRICTED_ACTIONS` (the deployment's parameter, which may be empty) as one more enforced
/// rule. A problem in the file or the parameter, or nothing restricted at all, stops the
/// function at start-up.
pub fn rules(text: &str, file: &str) -> Result<Rules, StepError> {
    let rules = rules_with(
        text,
        file,
        &std::env::var("RESTRICTED_ACTIONS").unwrap_or_default(),
    )?;
    tracing::info!(
        file,
        digest = rules.digest(),
        rules = rules.rules().len(),
        exemptions = rules.exemptions().len(),
        "rules loaded"
    );
    Ok(rules)
}

fn rules_with(text: &str, file: &str, parameter: &str) -> Result<Rules, StepError> {
    let rules = Rules::parse(text, Catalog::embedded())
        .map_err(|e| StepError::Configuration(format!("the rules file {file}, {e}")))?;
    let parameter = Some(parameter.trim())
        .filter(|list| !list.is_empty())
        .map(|list| {
            RestrictedActions::parse(list, Catalog::embedded())
                .map_err(|e| StepError::Configuration(format!("RESTRICTED_ACTIONS: {e}")))
        })
        .transpose()?;
    if rules.restricts_nothing() && parameter.is_none() {
        return Err(StepError::Configuration(format!(
            "nothing is restricted: the rules file {file} has no rule in enforce or alert mode, \
             and RESTRICTED_ACTIONS is empty"
        )));
    }
    Ok(rules.with_parameter(parameter.as_ref()))
}

/// `APPROVAL_URL`: the approval API's own address, nothing else. The emailed link carries the
/// key, so a URL pointed elsewhere (by whoever may change the function's configuration) would
/// hand the key to that host: only an API Gateway endpoint (`https://<id>.execute-api.<region>.
/// amazonaws.com`) is accepted, or a loopback address for the local stack.
pub fn approval_url(value: &str) -> Result<String, String> {
    let url = value.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .map(|rest| (rest, true))
        .or_else(|| url.strip_prefix("http://").map(|rest| (rest, false)));
    let Some((rest, tls)) = host else {
        return Err(format!("{value:?} is not an http(s) URL"));
    };
    if rest.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "{value:?} must be the API's base URL, with no path"
        ));
    }
    let name = rest.split(':').next().unwrap_or_default();
    let api_gateway = tls
        && !rest.contains(':')
        && name.ends_with(".amazonaws.com")
        && name.split('.').nth(1) == Some("execute-api")
        && name.split('.').count() == 5;
    let loopback = !tls && matches!(name, "127.0.0.1" | "localhost");
    if api_gateway || loopback {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "{value:?} is not this stack's approval API (https://<id>.execute-api.<region>.amazonaws.com)"
        ))
    }
}

/// The longest deadline a Standard workflow can wait out: its executions end after one year.
const MAX_APPROVAL_TIMEOUT_SECONDS: u64 = 365 * 24 * 3600;

/// `APPROVAL_TIMEOUT`: a whole number of hours, minutes or seconds (`24h`, `90m`, `8s`).
pub fn approval_timeout_seconds(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let (number, unit_seconds) = match value.char_indices().last() {
        Some((at, 'h')) => (&value[..at], 3600),
        Some((at, 'm')) => (&value[..at], 60),
        Some((at, 's')) => (&value[..at], 1),
        _ => {
            return Err(format!(
                "{value:?} is not a duration such as 24h, 90m or 30s"
            ));
        }
    };
    let seconds = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_seconds))
        .filter(|s| (1..MAX_APPROVAL_TIMEOUT_SECONDS).contains(s))
        .ok_or_else(|| {
            format!("{value:?} is not a whole number of h, m or s between 1 s and one year")
        })?;
    Ok(seconds)
}

fn flag(name: &str) -> Result<bool, StepError> {
    match std::env::var(name).unwrap_or_default().trim() {
        "" | "false" => Ok(false),
        "true" => Ok(true),
        other => Err(StepError::Configuration(format!(
            "{name} must be true or false, not {other:?}"
        ))),
    }
}

impl AnalyseDeps {
    /// `rules`: as `rules` reads them.
    pub fn from_env(config: &aws_config::SdkConfig, rules: Rules) -> Result<Self, StepError> {
        Ok(AnalyseDeps {
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
            documents: DocumentStore::from_env(config)?,
            rules,
            scope: EventScope::new(
                &required_env("ACCOUNT_ID")?,
                WriterSessions::parse(&required_env("WRITER_SESSION_ARNS")?)
                    .map_err(|e| StepError::Configuration(format!("WRITER_SESSION_ARNS: {e}")))?,
            )
            .map_err(|e| StepError::Configuration(format!("ACCOUNT_ID: {e}")))?,
            own_roles: OwnRoles::parse(&required_env("OWN_ROLE_NAMES")?),
            notify_on_clean: flag("NOTIFY_ON_CLEAN_CHANGES")?,
            approval_timeout_seconds: approval_timeout_seconds(&required_env("APPROVAL_TIMEOUT")?)
                .map_err(|e| StepError::Configuration(format!("APPROVAL_TIMEOUT: {e}")))?,
            decisions: DecisionTable::from_env(config)?,
            executions: Executions::from_env(config)?,
        })
    }
}

impl QuarantineDeps {
    /// `rules`: as `rules` reads them.
    pub fn from_env(config: &aws_config::SdkConfig, rules: Rules) -> Result<Self, StepError> {
        Ok(QuarantineDeps {
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
            documents: DocumentStore::from_env(config)?,
            rules,
            executions: Executions::from_env(config)?,
            alerts: Notifier::from_env(config, "OPERATOR_TOPIC_ARN")?,
            decisions: DecisionTable::from_env(config)?,
            quarantine_boundary_arn: quarantine_boundary_arn()?,
        })
    }
}

/// `QUARANTINE_BOUNDARY_ARN`: the stack's quarantine boundary, a customer managed policy.
fn quarantine_boundary_arn() -> Result<String, StepError> {
    let arn = required_env("QUARANTINE_BOUNDARY_ARN")?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, resource]
            if account.len() == 12 && resource.starts_with("policy/") =>
        {
            Ok(arn)
        }
        _ => Err(StepError::Configuration(format!(
            "QUARANTINE_BOUNDARY_ARN must be a customer managed policy's ARN, not {arn:?}"
        ))),
    }
}

impl RestoreDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(RestoreDeps {
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
            documents: DocumentStore::from_env(config)?,
            executions: Executions::from_env(config)?,
            decision_keys: MacKey::from_env(config, "DECISION_KEY_ID")?,
            alerts: Notifier::from_env(config, "OPERATOR_TOPIC_ARN")?,
            decisions: DecisionTable::from_env(config)?,
        })
    }
}

impl StartDeps {
    /// `STATE_MACHINE_ARN`: the one state machine whose incidents it starts;
    /// `INCIDENT_QUEUE_URL` and `INCIDENT_QUEUE_ARN`: the queue whose messages alone start
    /// them; `OPERATOR_TOPIC_ARN`: told of records refused; `DECISION_TABLE` (and
    /// `DECISION_RETENTION_DAYS`): where each start is recorded first.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        let state_machine_arn = required_env("STATE_MACHINE_ARN")?;
        approval::StateMachine::parse(&state_machine_arn)
            .map_err(|e| StepError::Configuration(format!("STATE_MACHINE_ARN: {e}")))?;
        Ok(StartDeps {
            starter: IncidentStarter {
                client: aws_sdk_sfn::Client::new(config),
                state_machine_arn,
                records: DecisionTable::from_env(config)?,
            },
            queue: IncidentQueue {
                client: aws_sdk_sqs::Client::new(config),
                url: required_env("INCIDENT_QUEUE_URL")?,
            },
            queue_arn: required_env("INCIDENT_QUEUE_ARN")?,
            alerts: Notifier::from_env(config, "OPERATOR_TOPIC_ARN")?,
        })
    }
}

impl DocumentStore {
    /// `DOCUMENT_TABLE`: the stack's document store.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(DocumentStore {
            client: aws_sdk_dynamodb::Client::new(config),
            table: required_env("DOCUMENT_TABLE")?,
        })
    }
}

impl SweepDeps {
    /// `rules`: as `rules` reads them.
    pub fn from_env(config: &aws_config::SdkConfig, rules: Rules) -> Result<Self, StepError> {
        let approval_timeout = approval_timeout_seconds(&required_env("APPROVAL_TIMEOUT")?)
            .map_err(|e| StepError::Configuration(format!("APPROVAL_TIMEOUT: {e}")))?;
        Ok(SweepDeps {
            iam: aws_sdk_iam::Client::new(config),
            decisions: DecisionTable::from_env(config)?,
            queue: IncidentQueue {
                client: aws_sdk_sqs::Client::new(config),
                url: required_env("INCIDENT_QUEUE_URL")?,
            },
            publisher: Publisher::from_env(config)?,
            rules,
            own_roles: OwnRoles::parse(&required_env("OWN_ROLE_NAMES")?),
            mode: required_env("SWEEP_MODE")?
                .parse()
                .map_err(|e| StepError::Configuration(format!("SWEEP_MODE: {e}")))?,
            claim_lifetime: incident::decision_log::claim_lifetime(approval_timeout),
            region: config
                .region()
                .map(|r| r.to_string())
                .ok_or_else(|| StepError::Configuration("no AWS region (AWS_REGION)".into()))?,
        })
    }
}

impl DecisionTable {
    /// `DECISION_TABLE`: the stack's decision record; `DECISION_RETENTION_DAYS`: how long an
    /// item stays after its last write (the template's DecisionRetentionDays).
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        let days = required_env("DECISION_RETENTION_DAYS")?;
        let days = days
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .ok_or_else(|| {
                StepError::Configuration(format!(
                    "DECISION_RETENTION_DAYS must be a whole number of days from 1 to 36500, not {days:?}"
                ))
            })?;
        Ok(DecisionTable {
            client: aws_sdk_dynamodb::Client::new(config),
            table: required_env("DECISION_TABLE")?,
            retention: Duration::from_secs(days * 24 * 3600),
        })
    }
}

impl Executions {
    /// `STATE_MACHINE_ARN`: this deployment's state machine, the only one read or decided.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        let state_machine = approval::StateMachine::parse(&required_env("STATE_MACHINE_ARN")?)
            .map_err(|e| StepError::Configuration(format!("STATE_MACHINE_ARN: {e}")))?;
        Ok(Executions {
            client: aws_sdk_sfn::Client::new(config),
            state_machine,
        })
    }
}

impl MacKey {
    /// A KMS HMAC key named by the environment variable `name` (its id or ARN).
    pub fn from_env(config: &aws_config::SdkConfig, name: &str) -> Result<Self, StepError> {
        Ok(MacKey {
            client: aws_sdk_kms::Client::new(config),
            key_id: required_env(name)?,
        })
    }
}

impl PublishDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(PublishDeps {
            publisher: Publisher::from_env(config)?,
            executions: Executions::from_env(config)?,
            decisions: DecisionTable::from_env(config)?,
            alerts: Notifier::from_env(config, "OPERATOR_TOPIC_ARN")?,
        })
    }
}

impl Publisher {
    /// `TOPIC_ARN` and `EVENT_BUS_NAME` (the stack's own bus: required, so that a function
    /// never falls back to the default bus, where anyone may put events in its name).
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(Publisher {
            notifier: Notifier::from_env(config, "TOPIC_ARN")?,
            events: aws_sdk_eventbridge::Client::new(config),
            event_bus_name: required_env("EVENT_BUS_NAME")?,
        })
    }
}

impl RulesRecord {
    /// `DECISION_TABLE` (its `rules#current` item) and `EVENT_BUS_NAME` (required, as the
    /// publisher's); the function's name as Lambda gives it.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(RulesRecord {
            decisions: DecisionTable::from_env(config)?,
            events: aws_sdk_eventbridge::Client::new(config),
            event_bus_name: required_env("EVENT_BUS_NAME")?,
            seen_by: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "an unnamed function".into()),
            checked: Default::default(),
        })
    }
}

impl Notifier {
    /// The topic named by the environment variable `name`.
    pub fn from_env(config: &aws_config::SdkConfig, name: &str) -> Result<Self, StepError> {
        Ok(Notifier {
            sns: aws_sdk_sns::Client::new(config),
            topic_arn: required_env(name)?,
        })
    }
}

/// `APPROVAL_URL`, checked ([`approval_url`]).
fn configured_approval_url() -> Result<String, StepError> {
    approval_url(&required_env("APPROVAL_URL")?)
        .map_err(|e| StepError::Configuration(format!("APPROVAL_URL: {e}")))
}

impl RequestApprovalDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        let approval_url = configured_approval_url()?;
        Ok(RequestApprovalDeps {
            notifier: Notifier::from_env(config, "TOPIC_ARN")?,
            link_keys: MacKey::from_env(config, "LINK_KEY_ID")?,
            approval_url,
            executions: Executions::from_env(config)?,
            alerts: Notifier::from_env(config, "OPERATOR_TOPIC_ARN")?,
            documents: DocumentStore::from_env(config)?,
        })
    }
}

impl ApprovalApiDeps {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, StepError> {
        Ok(ApprovalApiDeps {
            executions: Executions::from_env(config)?,
            iam: IamPolicies::new(aws_sdk_iam::Client::new(config)),
            documents: DocumentStore::from_env(config)?,
            link_keys: MacKey::from_env(config, "LINK_KEY_ID")?,
            decision_keys: MacKey::from_env(config, "DECISION_KEY_ID")?,
            host: approval::link_host(&configured_approval_url()?).to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{
        APPROVAL_API_TIMEOUT, FUNCTION_TIMEOUT, START_INCIDENT_TIMEOUT, SWEEP_ACCOUNT_TIMEOUT,
        approval_timeout_seconds, approval_url, log_level, rules_with, sdk_timeouts,
    };
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn the_log_level_is_lambdas_then_rust_log_and_info_when_unreadable() {
        // (AWS_LAMBDA_LOG_LEVEL, RUST_LOG, level)
        let cases = [
            (None, None, LevelFilter::INFO),
            (None, Some("warn"), LevelFilter::WARN),
            (Some("DEBUG"), Some("warn"), LevelFilter::DEBUG),
            (Some("FATAL"), None, LevelFilter::ERROR),
            (Some("TRACE"), None, LevelFilter::TRACE),
            (None, Some("off"), LevelFilter::OFF),
            (None, Some("infoo"), LevelFilter::INFO),
            (
                None,
                Some("info,aws_smithy_runtime=debug"),
                LevelFilter::INFO,
            ),
        ];
        for (lambda, rust_log, expected) in cases {
            assert_eq!(
                log_level(lambda, rust_log),
                expected,
                "{lambda:?} {rust_log:?}"
            );
        }
    }

    #[test]
    fn the_deployed_rules_and_the_parameter_must_restrict_something_and_be_readable() {
        let alert =
            "version = 1\n[[rule]]\nname = \"a\"\nmode = \"alert\"\nactions = [\"iam:PassRole\"]\n";
        let off =
            "version = 1\n[[rule]]\nname = \"a\"\nmode = \"off\"\nactions = [\"iam:PassRole\"]\n";
        // (file, parameter, Ok(rule names) | Err(words the error names))
        type Case<'a> = (&'a str, &'a str, Result<&'a [&'a str], &'a [&'a str]>);
        let cases: &[Case] = &[
            (alert, "", Ok(&["a"])),
            (alert, "s3:DeleteBucket", Ok(&["a", "RestrictedActions"])),
            (off, "s3:DeleteBucket", Ok(&["a", "RestrictedActions"])),
            (
                "version = 1\n",
                "s3:DeleteBucket",
                Ok(&["RestrictedActions"]),
            ),
            (
                off,
                " ",
                Err(&["nothing is restricted", "rules.toml", "RESTRICTED_ACTIONS"]),
            ),
            ("version = 1\n", "", Err(&["nothing is restricted"])),
            (
                alert,
                "s3:DeleteBuckett",
                Err(&["RESTRICTED_ACTIONS", "s3:DeleteBuckett"]),
            ),
            (
                "version = 1\n[[rule]]\nname = \"a\"\nmode = \"enforced\"\nactions = [\"iam:PassRole\"]\n",
                "s3:DeleteBucket",
                Err(&["rules.toml", "line 4, column 8", "enforced"]),
            ),
        ];
        for (file, parameter, expected) in cases {
            let got = rules_with(file, "rules.toml", parameter);
            match (expected, got) {
                (Ok(names), Ok(rules)) => {
                    let got: Vec<&str> = rules.rules().iter().map(|r| r.name.as_str()).collect();
                    assert_eq!(&got, names, "{file:?} with {parameter:?}");
                }
                (Err(words), Err(error)) => {
                    let message = error.to_string();
                    for word in *words {
                        assert!(message.contains(word), "{word:?} not in {message:?}");
                    }
                }
                (expected, got) => {
                    panic!("{file:?} with {parameter:?}: {got:?}, expected {expected:?}")
                }
            }
        }
    }

    #[test]
    fn every_sdk_call_ends_well_before_the_function_does() {
        for function in [
            FUNCTION_TIMEOUT,
            START_INCIDENT_TIMEOUT,
            APPROVAL_API_TIMEOUT,
            SWEEP_ACCOUNT_TIMEOUT,
        ] {
            let limits = sdk_timeouts(function);
            let (connect, attempt, operation) = (
                limits.connect_timeout().expect("a connect timeout"),
                limits
                    .operation_attempt_timeout()
                    .expect("an attempt timeout"),
                limits.operation_timeout().expect("an operation timeout"),
            );
            assert!(connect < attempt && attempt < operation, "{limits:?}");
            // At least two whole calls fit in the function's time.
            assert!(operation * 2 < function, "{limits:?}");
        }
    }

    #[test]
    fn the_approval_url_is_the_api_gateway_endpoint_or_loopback_and_nothing_else() {
        let cases: &[(&str, bool)] = &[
            (
                "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                true,
            ),
            (
                "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/",
                true,
            ),
            ("http://127.0.0.1:51234", true),
            ("http://localhost:8080", true),
            (
                "http://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                false,
            ), // no TLS
            ("https://attacker.example", false),
            (
                "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com.attacker.example",
                false,
            ),
            (
                "https://execute-api.us-east-1.amazonaws.com.evil.com",
                false,
            ),
            (
                "https://x.execute-api.us-east-1.amazonaws.com@attacker.example",
                false,
            ),
            (
                "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/path",
                false,
            ),
            (
                "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com:8443",
                false,
            ),
            ("https://127.0.0.1:8080", false),
            ("http://10.0.0.1", false),
            ("ftp://localhost", false),
            ("", false),
        ];
        for (value, accepted) in cases {
            assert_eq!(
                approval_url(value).is_ok(),
                *accepted,
                "APPROVAL_URL={value:?}"
            );
        }
    }

    #[test]
    fn approval_timeout_reads_hours_minutes_and_seconds_and_refuses_the_rest() {
        let cases: &[(&str, Result<u64, ()>)] = &[
            ("24h", Ok(86_400)),
            ("1h", Ok(3_600)),
            ("90m", Ok(5_400)),
            ("8s", Ok(8)),
            (" 8s ", Ok(8)),
            ("8759h", Ok(8_759 * 3_600)),
            ("8760h", Err(())), // a Standard workflow ends after a year: it could never time out
            ("0h", Err(())),
            ("24", Err(())),
            ("h", Err(())),
            ("-1h", Err(())),
            ("1.5h", Err(())),
            ("24 h", Err(())),
            ("", Err(())),
            ("99999999999999999999h", Err(())),
        ];
        for (value, expected) in cases {
            let got = approval_timeout_seconds(value).map_err(|_| ());
            assert_eq!(&got, expected, "APPROVAL_TIMEOUT={value:?}");
        }
    }
}
