//! The error types the state machine's Retry and Catch match (docs/workflow-contract.md):
//! `Retryable` for throttling, service errors and no answer; `NonRetryable` for access denied;
//! `InvalidInput` for malformed events and states. AWS's answers come from the SDK's replay
//! client (support::replay); no answer at all from a loopback port nothing listens on.

use incident::quarantine::QuarantineError;
use incident::{DocumentRef, Outcome, OutcomeState, Principal, PrincipalKind, QuarantineRecord};
use lambda_runtime::Diagnostic;
use policy_engine::{PlanError, PolicyError};
use remediation::StepError;
use remediation::error::AwsFailure;
use remediation::handlers::analyse::{AnalyseDeps, handle as analyse_change};
use remediation::handlers::publish::{Published, publish};
use remediation::handlers::quarantine::{QuarantineDeps, quarantine};
use remediation::handlers::restore::restore;
use remediation::iam::IamPolicies;
use remediation::publisher::{Notifier, Publisher};
use serde_json::json;

use crate::support::*;

/// IAM's answer to a call over its rate limit.
const THROTTLING: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>0d2f5c4a-8e3b-4f3e-9a51-3c7e1b2d4f60</RequestId></ErrorResponse>"#;

/// IAM's answer when the caller's role lacks the permission.
const ACCESS_DENIED: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/quarantine-policy is not authorized to perform: iam:GetUser on resource: user carol because no identity-based policy allows the iam:GetUser action</Message></Error><RequestId>5b7c1e2f-1a2b-4c3d-8e9f-0a1b2c3d4e5f</RequestId></ErrorResponse>"#;

/// SNS's answer to a Publish on a KMS-encrypted topic when KMS throttles (documented for Publish:
/// `KMSThrottling`, HTTP 400, "The request was denied due to request throttling").
const SNS_KMS_THROTTLING: &str = r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>KMSThrottling</Code><Message>The request was denied due to request throttling.</Message></Error><RequestId>2e6c7f8a-9b0c-4d1e-a2f3-b4c5d6e7f809</RequestId></ErrorResponse>"#;

/// EventBridge's answer to PutEvents when its one entry failed inside the service.
const REJECTED: &str = r#"{"FailedEntryCount":1,"Entries":[{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service error."}]}"#;

/// Quarantines put-user-policy.json (carol's inline policy) with `iam` (the document store on
/// moto, holding the document Analyse kept).
async fn quarantine_against(iam: aws_sdk_iam::Client) -> StepError {
    let moto = Moto::start();
    let change = change_of(&event("put-user-policy.json"));
    moto.keep(change.document.as_deref().expect("a document"))
        .await;
    let deps = QuarantineDeps {
        iam: IamPolicies::new(iam),
        ..quarantine_deps(&moto)
    };
    let incident = assessment_for(change);
    quarantine(INCIDENT, incident, &deps)
        .await
        .expect_err("the step must fail")
}

fn analyse_without_iam() -> AnalyseDeps {
    // The events these tests analyse never reach IAM.
    let nowhere = refused_endpoint();
    analyse_deps(
        IamPolicies::new(iam_client_at(&nowhere)),
        documents_at(&nowhere),
    )
}

/// IAM answering every call with `status`, `content_type` and `body` (four calls at most).
fn iam_answering(status: u16, content_type: &'static str, body: &'static str) -> Replay {
    Replay::answering(4, || answer(status, content_type, body))
}

#[tokio::test]
async fn iam_throttling_is_retryable_and_names_the_call() {
    // GIVEN IAM answers every call with 400 Throttling
    let iam = iam_answering(400, "text/xml", THROTTLING);
    // WHEN the quarantine step runs
    let error = quarantine_against(iam.iam()).await;
    // THEN the step fails Retryable, naming the call and the code, after one request (the state
    // machine does the retrying)
    assert_eq!(error.error_type(), "Retryable", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("GetUser failed") && message.contains("Throttling"),
        "{message}"
    );
    let requests = iam.request_bodies();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].contains("Action=GetUser&"), "{}", requests[0]);
}

/// IAM's answer to a sixth version of a managed policy.
const VERSION_LIMIT: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>LimitExceeded</Code><Message>A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.</Message></Error><RequestId>7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d</RequestId></ErrorResponse>"#;

#[tokio::test]
async fn a_version_limit_met_creating_the_quarantine_version_is_retryable() {
    // GIVEN IAM answers CreatePolicyVersion that the policy has five versions (one it did not
    // list when the step made room, or one made since)
    let iam = iam_answering(409, "text/xml", VERSION_LIMIT);
    // WHEN the quarantine version is created
    let error = IamPolicies::new(iam.iam())
        .create_default_version(DATA_PLATFORM, "{}")
        .await
        .expect_err("IAM refused it");
    // THEN the step fails Retryable (its retry reads the versions again), not NonRetryable
    // with the restricted default left in force
    assert_eq!(StepError::from(error).error_type(), "Retryable");
    // BUT the same code for a document over IAM's size quota is not retried: nothing mends it
    let iam = iam_answering(409, "text/xml", SIZE_LIMIT);
    let error = IamPolicies::new(iam.iam())
        .create_default_version(DATA_PLATFORM, "{}")
        .await
        .expect_err("IAM refused it");
    assert_eq!(StepError::from(error).error_type(), "NonRetryable");
}

/// IAM's answer to a version over the managed policy size quota.
const SIZE_LIMIT: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>LimitExceeded</Code><Message>Cannot exceed quota for PolicySize: 6144</Message></Error><RequestId>8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e</RequestId></ErrorResponse>"#;

/// IAM's answer about a policy, a version or a principal it does not have.
const NO_SUCH_ENTITY: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The entity cannot be found.</Message></Error><RequestId>3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f</RequestId></ErrorResponse>"#;

/// GetPolicy's answer: DataPlatform, its default v3.
const POLICY_WITH_DEFAULT_V3: &str = r#"<GetPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetPolicyResult><Policy><PolicyName>DataPlatform</PolicyName><DefaultVersionId>v3</DefaultVersionId><PolicyId>ANPA0000000000000000</PolicyId><Path>/</Path><Arn>arn:aws:iam::123456789012:policy/DataPlatform</Arn><AttachmentCount>1</AttachmentCount><CreateDate>2026-12-01T10:00:00Z</CreateDate><UpdateDate>2026-12-03T10:00:00Z</UpdateDate><IsAttachable>true</IsAttachable></Policy></GetPolicyResult><ResponseMetadata><RequestId>4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a</RequestId></ResponseMetadata></GetPolicyResponse>"#;

const DATA_PLATFORM: &str = "arn:aws:iam::123456789012:policy/DataPlatform";

#[tokio::test]
async fn a_detachment_iam_no_longer_has_is_read_again_not_failed() {
    // GIVEN IAM answers the detachment NoSuchEntity (an earlier attempt's, whose answer was
    // lost, read back from a list that still showed it)
    let iam = iam_answering(404, "text/xml", NO_SUCH_ENTITY);
    let role = Principal {
        kind: PrincipalKind::Role,
        name: "data-pipeline".into(),
    };
    // WHEN the quarantine detaches the policy
    let error = IamPolicies::new(iam.iam())
        .detach(&role, DATA_PLATFORM)
        .await
        .expect_err("IAM refused it");
    // THEN the step fails Retryable: its retry reads IAM again
    assert_eq!(StepError::from(error).error_type(), "Retryable");
}

#[tokio::test]
async fn a_version_deleted_already_is_deleted() {
    // GIVEN IAM answers DeletePolicyVersion NoSuchEntity (an earlier attempt deleted it)
    let iam = iam_answering(404, "text/xml", NO_SUCH_ENTITY);
    // WHEN the version is deleted THEN that is done
    IamPolicies::new(iam.iam())
        .delete_version(DATA_PLATFORM, "v2")
        .await
        .expect("gone is what was wanted");
}

#[tokio::test]
async fn a_default_version_iam_does_not_show_yet_is_read_again_not_taken_for_the_policy_gone() {
    // GIVEN GetPolicy names v3 the default and GetPolicyVersion has no v3 yet (IAM's lag)
    let iam = Replay::in_turn(vec![
        answer(200, "text/xml", POLICY_WITH_DEFAULT_V3),
        answer(404, "text/xml", NO_SUCH_ENTITY),
    ]);
    // WHEN the default version is read
    let error = IamPolicies::new(iam.iam())
        .default_version(DATA_PLATFORM)
        .await
        .expect_err("not readable yet");
    // THEN it is Retryable, not "no such policy" (a restore would read that as the policy gone)
    assert_eq!(StepError::from(error).error_type(), "Retryable");
}

#[tokio::test]
async fn an_iam_server_error_is_retryable() {
    // GIVEN IAM (or a proxy in front of it) answers 500 with no IAM error document
    let iam = iam_answering(500, "text/plain", "Internal Server Error");
    // WHEN the quarantine step runs
    let error = quarantine_against(iam.iam()).await;
    // THEN the step fails Retryable, naming the call
    assert_eq!(error.error_type(), "Retryable", "{error}");
    assert!(error.to_string().contains("GetUser failed"), "{error}");
    assert_eq!(iam.request_bodies().len(), 1);
}

#[tokio::test]
async fn access_denied_is_not_retryable() {
    // GIVEN the policy-writer role may not read carol's inline policy
    let iam = iam_answering(403, "text/xml", ACCESS_DENIED);
    // WHEN the quarantine step runs
    let error = quarantine_against(iam.iam()).await;
    // THEN the step fails NonRetryable, naming the call and IAM's reason
    assert_eq!(error.error_type(), "NonRetryable", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("GetUser failed") && message.contains("AccessDenied"),
        "{message}"
    );
    assert!(
        message.contains("not authorized to perform: iam:GetUser"),
        "{message}"
    );
}

#[tokio::test]
async fn no_answer_from_iam_is_retryable() {
    // GIVEN nothing listens where IAM should be (connection refused)
    let endpoint = refused_endpoint();
    // WHEN the quarantine step runs
    let error = quarantine_against(iam_client_at(&endpoint)).await;
    // THEN the step fails Retryable, naming the call
    assert_eq!(error.error_type(), "Retryable", "{error}");
    assert!(error.to_string().contains("GetUser failed"), "{error}");
}

#[tokio::test]
async fn an_incident_without_a_change_is_invalid_input_to_the_quarantine_step() {
    // GIVEN states whose incident has no change: an ignored one (which has none), and one that
    // says restricted but lacks it
    let ignored = json!({"incident": {
        "id": "b3d0c1f2-0000-4000-8000-000000000001", "eventName": "PutUserPolicy",
        "verdict": "ignored", "ignoredReason": "the call failed (AccessDenied): it changed nothing"
    }});
    let restricted_without_change = json!({"incident": {
        "id": "b3d0c1f2-0000-4000-8000-000000000001", "eventName": "PutUserPolicy",
        "verdict": "restricted", "notify": true, "document": DocumentRef::of(CLEAN_DOCUMENT),
        "findings": []
    }});
    // AND the Quarantine state executing in moto, its function served by the real handler
    let workflow = Workflow::start(one_state_definition("Quarantine")).await;
    for (n, (state, what)) in [
        (ignored, "restricted"),
        (restricted_without_change, "change"),
    ]
    .into_iter()
    .enumerate()
    {
        // WHEN the Quarantine step runs with it, as the state machine runs it (the function
        // reads the state its step was entered with from the history, then handles it)
        let execution = workflow
            .start_execution(&format!("invalid-{n}"), &state)
            .await;
        let output = workflow.output(&execution).await;
        // THEN it fails InvalidInput, saying what is wrong
        assert_eq!(output["error"]["Error"], "InvalidInput", "{output}");
        let cause = output["error"]["Cause"].as_str().unwrap_or_default();
        assert!(cause.contains(what), "{what}: {cause}");
    }
}

#[tokio::test]
async fn a_quarantine_record_without_an_action_is_invalid_input_to_the_restore_step() {
    // GIVEN a restore state whose quarantine record did nothing (not_needed: no action to undo)
    let record = QuarantineRecord::NotNeeded {
        reason: "the inline policy no longer exists".into(),
    };
    let nowhere = refused_endpoint();
    let deps = restore_deps_with(
        IamPolicies::new(iam_client_at(&nowhere)),
        documents_at(&nowhere),
    );
    // WHEN the restore step's IAM work runs on it
    let error = restore(record, &deps)
        .await
        .expect_err("the step must fail");
    // THEN it fails InvalidInput, saying what is missing
    assert_eq!(error.error_type(), "InvalidInput", "{error}");
    assert!(error.to_string().contains("applied quarantine"), "{error}");
}

#[tokio::test]
async fn an_event_that_is_not_an_eventbridge_event_is_invalid_input_to_analyse() {
    // GIVEN something that is not an EventBridge event at all
    let event = json!({"hello": 1});
    // WHEN it is analysed
    let error = analyse_change(event, &analyse_without_iam())
        .await
        .expect_err("the step must fail");
    // THEN it fails InvalidInput, naming the problem
    assert_eq!(error.error_type(), "InvalidInput", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("not an EventBridge event") && message.contains("detail"),
        "{message}"
    );
}

#[tokio::test]
async fn an_s3_event_is_invalid_input_to_analyse() {
    // GIVEN an S3 CloudTrail event (a misconfigured rule would send one)
    let mut event = event("create-policy.json");
    event["source"] = json!("aws.s3");
    event["detail"]["eventSource"] = json!("s3.amazonaws.com");
    event["detail"]["eventName"] = json!("DeleteBucket");
    event["detail"]["requestParameters"] =
        json!({"bucketName": "acme-team-data", "Host": "acme-team-data.s3.amazonaws.com"});
    // WHEN it is analysed
    let error = analyse_change(event, &analyse_without_iam())
        .await
        .expect_err("the step must fail");
    // THEN it fails InvalidInput, naming the source it got
    assert_eq!(error.error_type(), "InvalidInput", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("not a CloudTrail record of an IAM call") && message.contains("aws.s3"),
        "{message}"
    );
}

#[test]
fn the_lambda_error_type_is_the_name_asl_matches() {
    // GIVEN one error of each variant (and of each kind of AWS failure and quarantine error)
    let errors = [
        (
            StepError::Aws(AwsFailure::with_code(
                "GetUserPolicy",
                Some("Throttling".into()),
                "Rate exceeded",
            )),
            "Retryable",
        ),
        (
            StepError::Aws(AwsFailure::with_code(
                "GetUserPolicy",
                Some("AccessDenied".into()),
                "not authorized",
            )),
            "NonRetryable",
        ),
        (
            StepError::Quarantine(QuarantineError::Unreadable {
                which: "current",
                source: PolicyError::Empty,
            }),
            "InvalidInput",
        ),
        (
            StepError::Quarantine(QuarantineError::NoRoom {
                policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access".into(),
                versions: 5,
            }),
            "PolicyConflict",
        ),
        (
            StepError::Quarantine(QuarantineError::DoesNotFit(PlanError::DoesNotFit {
                size: 2_100,
                limit: 2_048,
            })),
            "NonRetryable",
        ),
        (
            StepError::InvalidInput("only a change assessed as restricted is quarantined".into()),
            "InvalidInput",
        ),
        (
            StepError::Configuration("environment variable TOPIC_ARN is not set".into()),
            "NonRetryable",
        ),
    ];
    for (error, name) in errors {
        let message = error.to_string();
        // WHEN the Lambda runtime turns it into its error payload
        let diagnostic = Diagnostic::from(error);
        // THEN errorType is the name the state machine matches, and errorMessage the message
        assert_eq!(diagnostic.error_type, name, "{message}");
        assert_eq!(diagnostic.error_message, message);
    }
}

#[tokio::test]
async fn a_real_step_failure_reaches_the_runtime_as_its_variant_name() {
    // GIVEN IAM throttles the quarantine step
    let iam = iam_answering(400, "text/xml", THROTTLING);
    let error = quarantine_against(iam.iam()).await;
    // WHEN the Lambda runtime turns the error into its payload
    let diagnostic = Diagnostic::from(error);
    // THEN errorType is "Retryable", which the Retry of every Task matches
    assert_eq!(diagnostic.error_type, "Retryable");
    assert!(
        diagnostic
            .error_message
            .contains("GetUser failed: Throttling"),
        "{}",
        diagnostic.error_message
    );
}

const PUBLISHED_EXECUTION: &str =
    "arn:aws:states:us-east-1:123456789012:execution:iam-sentinel:b3d0c1f2";

/// A failure to publish, with a real-shaped assessment as the execution's state.
async fn publish_failed(publisher: &Publisher) -> Result<Published, StepError> {
    let state = OutcomeState::from_value(
        json!({"incident": assessment_for(change_of(&event("put-user-policy.json")))}),
    );
    publish(Outcome::Failed, &state, PUBLISHED_EXECUTION, publisher).await
}

#[tokio::test]
async fn sns_kms_throttling_on_publish_is_retryable() {
    // GIVEN SNS answers Publish with KMSThrottling (a KMS-encrypted topic, KMS over its rate)
    let sns = Replay::answering(4, || answer(400, "text/xml", SNS_KMS_THROTTLING));
    let publisher = Publisher {
        notifier: Notifier {
            sns: sns.sns(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:iam-sentinel".into(),
        },
        events: events_client_at(&refused_endpoint()),
        event_bus_name: "default".into(),
    };
    // WHEN an outcome is published
    let error = failure(publish_failed(&publisher).await);
    // THEN the step fails Retryable, as the contract says for throttling
    assert!(
        error
            .to_string()
            .contains("SNS Publish failed: KMSThrottling"),
        "{error}"
    );
    assert_eq!(error.error_type(), "Retryable", "{error}");
}

#[tokio::test]
async fn an_event_entry_eventbridge_rejects_as_an_internal_failure_is_retryable() {
    // GIVEN SNS works (moto) and EventBridge answers 200 with the one entry failed
    let moto = Moto::start();
    let topic_arn = moto
        .sns()
        .create_topic()
        .name("iam-sentinel")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let events = Replay::answering(4, || answer(200, "application/x-amz-json-1.1", REJECTED));
    let publisher = Publisher {
        notifier: Notifier {
            sns: moto.sns(),
            topic_arn,
        },
        events: events.events(),
        event_bus_name: "default".into(),
    };
    // WHEN an outcome is published
    let error = failure(publish_failed(&publisher).await);
    // THEN the 200 answer is still a failure, and a retryable one, naming the call, the entry's
    // code and its reason
    assert_eq!(error.error_type(), "Retryable", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("EventBridge PutEvents")
            && message.contains("InternalFailure: Internal service error."),
        "{message}"
    );
}

#[tokio::test]
async fn an_iam_answer_cut_off_mid_body_is_retryable() {
    // GIVEN IAM's 200 answer to GetUser breaks off after a few bytes of its 600-byte body
    // (the connection dropped mid-answer)
    let sent = r#"<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User><UserName>car"#;
    let iam = Replay::answering(4, || cut_off("text/xml", 600, sent));
    // WHEN the quarantine step runs
    let error = quarantine_against(iam.iam()).await;
    // THEN the step fails Retryable (a transport failure, like no answer at all), naming the call
    assert!(error.to_string().contains("GetUser failed"), "{error}");
    assert_eq!(error.error_type(), "Retryable", "{error}");
}
