//! A deployment in moto: the state machine executing (the real ASL, or a part of it), the real
//! handlers answering its Lambda calls in-process (support::functions), the two KMS HMAC keys
//! (approval links, decision proofs), the administrators' topic (read back from an SQS queue,
//! SNS's JSON envelope with the subject) and the operators' topic (raw delivery: each alert's
//! body as published).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::HistoryEvent;
use remediation::executions::{Executions, IncidentStarter, Start};
use remediation::handlers::approval_api::ApprovalApiDeps;
use remediation::handlers::publish::PublishDeps;
use remediation::handlers::quarantine::QuarantineDeps;
use remediation::handlers::request_approval::RequestApprovalDeps;
use remediation::handlers::restore::RestoreDeps;
use remediation::kms::MacKey;
use remediation::publisher::{Notifier, Publisher};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::fixtures::rules;
use super::functions::{FUNCTION_ARN_PREFIX, Functions, serve};
use super::moto::{Moto, sfn_client_at};
use super::queues::{Queue, create_queue, take};
use super::steps::{QUARANTINE_BOUNDARY_ARN, STATE_MACHINE_ARN, analyse_deps};

/// The approval API's base URL (APPROVAL_URL).
pub const API_URL: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";
const MACHINE_NAME: &str = "iam-sentinel-remediation";
/// The approval deadline Analyse hands the workflow (APPROVAL_TIMEOUT=1h).
const APPROVAL_TIMEOUT_SECONDS: u64 = 3600;

/// statemachine/remediation.asl.json with the functions' ARNs substituted, as deployed.
pub fn deployed_definition() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../statemachine/remediation.asl.json"
    );
    let mut text = std::fs::read_to_string(path).unwrap();
    for (placeholder, function) in [
        ("AnalyseChangeFunctionArn", "analyse-change"),
        ("QuarantinePolicyFunctionArn", "quarantine-policy"),
        ("RestorePolicyFunctionArn", "restore-policy"),
        ("PublishOutcomeFunctionArn", "publish-outcome"),
        ("RequestApprovalFunctionArn", "request-approval"),
    ] {
        text = text.replace(
            &format!("${{{placeholder}}}"),
            &format!("{FUNCTION_ARN_PREFIX}{function}"),
        );
    }
    assert!(!text.contains("${"), "a placeholder is left: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The deployed state `name` alone: it goes on to `Done`, and what it catches ends in `Caught`
/// (with the error at `$.error`).
pub fn one_state_definition(name: &str) -> Value {
    let mut state = deployed_definition()["States"][name].clone();
    state["Next"] = json!("Done");
    state["Catch"] =
        json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]);
    json!({
        "StartAt": name,
        "States": {
            name: state,
            "Done": {"Type": "Pass", "End": true},
            "Caught": {"Type": "Pass", "End": true}
        }
    })
}

/// One message to the administrators.
#[derive(Debug, Clone)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

pub struct Workflow {
    pub moto: Moto,
    pub machine_arn: String,
    pub link_keys: MacKey,
    pub decision_keys: MacKey,
    administrators_topic: String,
    administrators: Queue,
    operators_topic: String,
    operators: Queue,
    /// Messages to the administrators already taken from their queue.
    inbox: Mutex<Vec<Email>>,
}

impl Workflow {
    /// This deployment, its state machine executing `definition`.
    pub async fn start(definition: Value) -> Workflow {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let lambda_port = listener.local_addr().unwrap().port().to_string();
        let moto = Moto::start_with_env(&[("MOTO_PORT", &lambda_port)]);
        moto.execute_state_machines();
        let link_keys = hmac_key(&moto, "iam-sentinel approval links").await;
        let decision_keys = hmac_key(&moto, "iam-sentinel decisions").await;
        let (administrators_topic, administrators) =
            topic_and_queue(&moto, "iam-sentinel-notifications", false).await;
        let (operators_topic, operators) =
            topic_and_queue(&moto, "iam-sentinel-operators", true).await;
        let machine_arn = moto
            .sfn()
            .create_state_machine()
            .name(MACHINE_NAME)
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/iam-sentinel-state-machine")
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_owned();
        assert_eq!(machine_arn, STATE_MACHINE_ARN);
        let executions = Executions {
            client: moto.sfn(),
            state_machine: approval::StateMachine::parse(&machine_arn).unwrap(),
        };
        let notifier = |topic_arn: &str| Notifier {
            sns: moto.sns(),
            topic_arn: topic_arn.to_owned(),
        };
        let mut analyse = analyse_deps(moto.iam(), moto.documents());
        analyse.approval_timeout_seconds = APPROVAL_TIMEOUT_SECONDS;
        analyse.decisions = moto.decisions();
        analyse.executions = executions.clone();
        let functions = Functions {
            analyse,
            quarantine: QuarantineDeps {
                iam: moto.iam(),
                documents: moto.documents(),
                rules: rules(),
                executions: executions.clone(),
                alerts: notifier(&operators_topic),
                decisions: moto.decisions(),
                quarantine_boundary_arn: QUARANTINE_BOUNDARY_ARN.into(),
            },
            publish: PublishDeps {
                publisher: Publisher {
                    notifier: notifier(&administrators_topic),
                    events: moto.events(),
                    event_bus_name: "default".into(),
                },
                executions: executions.clone(),
                decisions: moto.decisions(),
                alerts: notifier(&operators_topic),
            },
            request_approval: RequestApprovalDeps {
                notifier: notifier(&administrators_topic),
                link_keys: link_keys.clone(),
                approval_url: API_URL.into(),
                executions: executions.clone(),
                alerts: notifier(&operators_topic),
                documents: moto.documents(),
            },
            restore: RestoreDeps {
                iam: moto.iam(),
                documents: moto.documents(),
                executions,
                decision_keys: decision_keys.clone(),
                alerts: notifier(&operators_topic),
                decisions: moto.decisions(),
            },
        };
        tokio::spawn(serve(listener, Arc::new(functions)));
        Workflow {
            moto,
            machine_arn,
            link_keys,
            decision_keys,
            administrators_topic,
            administrators,
            operators_topic,
            operators,
            inbox: Mutex::new(Vec::new()),
        }
    }

    /// The functions' own dependencies, as deployed (the operators alerted for real).
    pub fn quarantine_deps(&self) -> QuarantineDeps {
        QuarantineDeps {
            iam: self.moto.iam(),
            documents: self.moto.documents(),
            rules: rules(),
            executions: self.executions_at(&self.moto.endpoint),
            alerts: self.operators_notifier(),
            decisions: self.moto.decisions(),
            quarantine_boundary_arn: QUARANTINE_BOUNDARY_ARN.into(),
        }
    }

    pub fn restore_deps(&self) -> RestoreDeps {
        RestoreDeps {
            iam: self.moto.iam(),
            documents: self.moto.documents(),
            executions: self.executions_at(&self.moto.endpoint),
            decision_keys: self.decision_keys.clone(),
            alerts: self.operators_notifier(),
            decisions: self.moto.decisions(),
        }
    }

    pub fn request_approval_deps(&self) -> RequestApprovalDeps {
        RequestApprovalDeps {
            notifier: Notifier {
                sns: self.moto.sns(),
                topic_arn: self.administrators_topic.clone(),
            },
            link_keys: self.link_keys.clone(),
            approval_url: API_URL.into(),
            executions: self.executions_at(&self.moto.endpoint),
            alerts: self.operators_notifier(),
            documents: self.moto.documents(),
        }
    }

    /// publish-outcome's dependencies, as deployed.
    pub fn publish_deps(&self) -> PublishDeps {
        PublishDeps {
            publisher: Publisher {
                notifier: Notifier {
                    sns: self.moto.sns(),
                    topic_arn: self.administrators_topic.clone(),
                },
                events: self.moto.events(),
                event_bus_name: "default".into(),
            },
            executions: self.executions_at(&self.moto.endpoint),
            decisions: self.moto.decisions(),
            alerts: self.operators_notifier(),
        }
    }

    pub fn api(&self) -> ApprovalApiDeps {
        self.api_at(&self.moto.endpoint)
    }

    /// The approval API with its Step Functions calls sent to `endpoint`.
    pub fn api_at(&self, endpoint: &str) -> ApprovalApiDeps {
        ApprovalApiDeps {
            executions: self.executions_at(endpoint),
            iam: self.moto.iam(),
            documents: self.moto.documents(),
            link_keys: self.link_keys.clone(),
            decision_keys: self.decision_keys.clone(),
            host: approval::link_host(API_URL).to_owned(),
        }
    }

    fn executions_at(&self, endpoint: &str) -> Executions {
        Executions {
            client: sfn_client_at(endpoint),
            state_machine: approval::StateMachine::parse(&self.machine_arn).unwrap(),
        }
    }

    fn operators_notifier(&self) -> Notifier {
        Notifier {
            sns: self.moto.sns(),
            topic_arn: self.operators_topic.clone(),
        }
    }

    /// Starts an execution named `name` with `input` as the incident starter does (recorded
    /// first: the writers act only in executions it started); its ARN.
    pub async fn start_execution(&self, name: &str, input: &Value) -> String {
        let starter = IncidentStarter {
            client: self.moto.sfn(),
            state_machine_arn: self.machine_arn.clone(),
            records: self.moto.decisions(),
        };
        match starter.start(name, &input.to_string()).await.unwrap() {
            Start::Running { execution_arn } => execution_arn,
            Start::NameTaken | Start::TakenByAnother { .. } => {
                panic!("the execution {name} exists already")
            }
            Start::RecordedWithAnotherInput => panic!("{name} was recorded with another input"),
        }
    }

    pub async fn describe(&self, execution_arn: &str) -> DescribeExecutionOutput {
        self.moto
            .sfn()
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .unwrap()
    }

    pub async fn status(&self, execution_arn: &str) -> String {
        self.describe(execution_arn)
            .await
            .status()
            .as_str()
            .to_owned()
    }

    /// The execution, once it has ended (within 60 s).
    pub async fn ended(&self, execution_arn: &str) -> DescribeExecutionOutput {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let execution = self.describe(execution_arn).await;
            if execution.status().as_str() != "RUNNING" {
                return execution;
            }
            assert!(
                Instant::now() < deadline,
                "{execution_arn} did not end within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The execution's final output, once it has one.
    pub async fn output(&self, execution_arn: &str) -> Value {
        let ended = self.ended(execution_arn).await;
        let output = ended.output().unwrap_or_else(|| {
            panic!("{execution_arn} ended {:?}, without output", ended.status())
        });
        serde_json::from_str(output).unwrap()
    }

    /// The execution's history, as anyone allowed `states:GetExecutionHistory` reads it.
    pub async fn history(&self, execution_arn: &str) -> Vec<HistoryEvent> {
        self.moto
            .sfn()
            .get_execution_history()
            .execution_arn(execution_arn)
            .include_execution_data(true)
            .send()
            .await
            .unwrap()
            .events()
            .to_vec()
    }

    /// The names of the states the execution entered, in order.
    pub async fn states_entered(&self, execution_arn: &str) -> Vec<String> {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|e| e.state_entered_event_details())
            .map(|d| d.name().to_owned())
            .collect()
    }

    /// The input the execution last entered `state` with, if it entered it.
    pub async fn entered_with(&self, execution_arn: &str, state: &str) -> Option<Value> {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|e| e.state_entered_event_details())
            .filter(|d| d.name() == state)
            .filter_map(|d| d.input())
            .map(|input| serde_json::from_str(input).unwrap())
            .next_back()
    }

    /// The task token of the execution's (last) approval request, read from its history.
    pub async fn token_of(&self, execution_arn: &str) -> String {
        self.history(execution_arn)
            .await
            .iter()
            .filter_map(|event| {
                let parameters = event.task_scheduled_event_details()?.parameters();
                let parameters: Value = serde_json::from_str(parameters).ok()?;
                parameters["Payload"]["taskToken"]
                    .as_str()
                    .map(str::to_owned)
            })
            .next_back()
            .expect("a scheduled approval task")
    }

    /// The first message to the administrators whose body contains `needle` (within 60 s).
    pub async fn email_containing(&self, needle: &str) -> Email {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = self
                .inbox
                .lock()
                .unwrap()
                .iter()
                .find(|email| email.body.contains(needle))
            {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no email containing {needle:?} within 60 s"
            );
            self.receive().await;
        }
    }

    /// Every message to the administrators so far, oldest first. SNS delivers to the queue
    /// before Publish returns, so what was published is there.
    pub async fn emails(&self) -> Vec<Email> {
        while self.receive().await {}
        self.inbox.lock().unwrap().clone()
    }

    /// Moves what arrived in the administrators' queue to the inbox: whether anything did.
    async fn receive(&self) -> bool {
        let received = take(&self.moto.sqs(), &self.administrators).await;
        let emails = received.iter().map(|body| {
            let envelope: Value = serde_json::from_str(body).unwrap();
            Email {
                subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                body: envelope["Message"].as_str().unwrap_or_default().to_owned(),
            }
        });
        self.inbox.lock().unwrap().extend(emails);
        !received.is_empty()
    }

    /// The operators' alerts that arrived since the last look (their bodies). SNS delivers to
    /// the queue before Publish returns, so what was published is there.
    pub async fn alerts(&self) -> Vec<String> {
        let mut alerts = Vec::new();
        loop {
            let received = take(&self.moto.sqs(), &self.operators).await;
            if received.is_empty() {
                return alerts;
            }
            alerts.extend(received);
        }
    }
}

/// A KMS HMAC key (HMAC_256, GENERATE_VERIFY_MAC), as the template creates them.
async fn hmac_key(moto: &Moto, description: &str) -> MacKey {
    let client = moto.kms();
    let created = client
        .create_key()
        .description(description)
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .expect("CreateKey");
    let key_id = created
        .key_metadata()
        .expect("key metadata")
        .key_id()
        .to_owned();
    MacKey { client, key_id }
}

/// A topic, and a queue subscribed to it (raw delivery, or SNS's JSON envelope).
pub async fn topic_and_queue(moto: &Moto, name: &str, raw: bool) -> (String, Queue) {
    let sns = moto.sns();
    let topic_arn = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .unwrap();
    let queue = create_queue(&moto.sqs(), &format!("{name}-reader")).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue.arn)
        .attributes("RawMessageDelivery", raw.to_string())
        .send()
        .await
        .expect("Subscribe");
    (topic_arn, queue)
}
