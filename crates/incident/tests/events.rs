//! Reading EventBridge "AWS API Call via CloudTrail" IAM events, from the real-shaped fixtures in
//! `tests/fixtures/events/` (see its README.md): what changed, who changed it, from where; which
//! events are ignored and why; clear errors for what is not an IAM policy change; and no panic
//! on any JSON at all.

use incident::{
    Actor, EventError, PolicyChange, Principal, PrincipalKind, Reading, Target, read_event,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The role iam-sentinel writes policies with (its quarantines and restores).
const OWN_ROLE: &str = "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer";

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:sts::123456789012:assumed-role/DevOpsRole/bob";
const DEVOPS_ROLE: &str = "arn:aws:iam::123456789012:role/DevOpsRole";

/// The event names iam-sentinel handles.
const HANDLED: [&str; 9] = [
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
];

fn fixture(name: &str) -> Value {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events/").to_owned() + name;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `requestParameters.policyDocument` string of a fixture, exactly as recorded.
fn recorded_document(event: &Value) -> String {
    event
        .pointer("/detail/requestParameters/policyDocument")
        .and_then(Value::as_str)
        .expect("the fixture records a policyDocument")
        .to_owned()
}

fn read(event: &Value) -> Result<Reading, EventError> {
    read_event(event, OWN_ROLE)
}

/// Reads an event that must be a change.
fn change(event: &Value) -> PolicyChange {
    match read(event) {
        Ok(Reading::Change(change)) => *change,
        other => panic!("expected a policy change, got {other:?}"),
    }
}

fn change_of(name: &str) -> PolicyChange {
    change(&fixture(name))
}

/// Reads an event that must be ignored, and returns the reason.
fn ignored_reason(event: &Value) -> (String, String) {
    match read(event) {
        Ok(Reading::Ignored { event_name, reason }) => (event_name, reason),
        other => panic!("expected the event to be ignored, got {other:?}"),
    }
}

fn detail_mut(event: &mut Value) -> &mut Map<String, Value> {
    event["detail"]
        .as_object_mut()
        .expect("detail is an object")
}

fn user_identity_mut(event: &mut Value) -> &mut Map<String, Value> {
    event["detail"]["userIdentity"]
        .as_object_mut()
        .expect("userIdentity is an object")
}

fn principal(kind: PrincipalKind, name: &str) -> Principal {
    Principal {
        kind,
        name: name.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Targets: what each event name changed
// ---------------------------------------------------------------------------------------------

#[test]
fn create_policy_targets_the_new_managed_policy_by_the_arn_in_the_response() {
    // GIVEN alice's CreatePolicy of my-bad-policy-aws-5-mins
    let event = fixture("create-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN it changed that managed policy, named by the ARN IAM returned
    assert_eq!(change.event_name, "CreatePolicy");
    assert_eq!(
        change.target,
        Target::ManagedPolicy {
            policy_arn: "arn:aws:iam::123456789012:policy/my-bad-policy-aws-5-mins".into()
        }
    );
}

#[test]
fn create_policy_version_set_as_default_targets_the_managed_policy_it_versions() {
    // GIVEN bob's CreatePolicyVersion of team-s3-access with setAsDefault true
    let event = fixture("create-policy-version-default.json");
    // WHEN it is read
    let change = change(&event);
    // THEN it changed that managed policy
    assert_eq!(change.event_name, "CreatePolicyVersion");
    assert_eq!(
        change.target,
        Target::ManagedPolicy {
            policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access".into()
        }
    );
}

#[test]
fn set_default_policy_version_targets_the_managed_policy_whose_default_changed() {
    // GIVEN alice's SetDefaultPolicyVersion of team-s3-access in the console
    let event = fixture("set-default-policy-version.json");
    // WHEN it is read
    let change = change(&event);
    // THEN it changed that managed policy
    assert_eq!(change.event_name, "SetDefaultPolicyVersion");
    assert_eq!(
        change.target,
        Target::ManagedPolicy {
            policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access".into()
        }
    );
}

#[test]
fn put_user_policy_targets_the_inline_policy_of_the_user() {
    // GIVEN bob's Terraform PutUserPolicy of carol-power-user on user carol
    let event = fixture("put-user-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN it changed carol's inline policy carol-power-user
    assert_eq!(change.event_name, "PutUserPolicy");
    assert_eq!(
        change.target,
        Target::InlinePolicy {
            principal: principal(PrincipalKind::User, "carol"),
            policy_name: "carol-power-user".into()
        }
    );
}

#[test]
fn put_role_policy_targets_the_inline_policy_of_the_role() {
    // GIVEN alice's PutRolePolicy of pipeline-s3-access on role data-pipeline
    let event = fixture("put-role-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN it changed data-pipeline's inline policy pipeline-s3-access
    assert_eq!(change.event_name, "PutRolePolicy");
    assert_eq!(
        change.target,
        Target::InlinePolicy {
            principal: principal(PrincipalKind::Role, "data-pipeline"),
            policy_name: "pipeline-s3-access".into()
        }
    );
}

#[test]
fn put_group_policy_targets_the_inline_policy_of_the_group() {
    // GIVEN bob's PutGroupPolicy of admins-break-glass on group admins
    let event = fixture("put-group-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN it changed the admins group's inline policy admins-break-glass
    assert_eq!(change.event_name, "PutGroupPolicy");
    assert_eq!(
        change.target,
        Target::InlinePolicy {
            principal: principal(PrincipalKind::Group, "admins"),
            policy_name: "admins-break-glass".into()
        }
    );
}

#[test]
fn attach_user_policy_targets_the_attachment_of_the_policy_to_the_user() {
    // GIVEN alice attaching team-s3-access to user carol
    let event = fixture("attach-user-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the change is that attachment
    assert_eq!(change.event_name, "AttachUserPolicy");
    assert_eq!(
        change.target,
        Target::Attachment {
            principal: principal(PrincipalKind::User, "carol"),
            policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access".into()
        }
    );
}

#[test]
fn attach_role_policy_targets_the_attachment_of_an_aws_managed_policy_to_the_role() {
    // GIVEN bob attaching the AWS managed AdministratorAccess to role data-pipeline
    let event = fixture("attach-role-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the change is that attachment, with the AWS managed policy's ARN
    assert_eq!(change.event_name, "AttachRolePolicy");
    assert_eq!(
        change.target,
        Target::Attachment {
            principal: principal(PrincipalKind::Role, "data-pipeline"),
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
        }
    );
}

#[test]
fn attach_group_policy_targets_the_attachment_of_a_policy_with_a_path_to_the_group() {
    // GIVEN alice attaching teams/ops-break-glass (a policy with a path) to group admins
    let event = fixture("attach-group-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the change is that attachment, with the full ARN, path included
    assert_eq!(change.event_name, "AttachGroupPolicy");
    assert_eq!(
        change.target,
        Target::Attachment {
            principal: principal(PrincipalKind::Group, "admins"),
            policy_arn: "arn:aws:iam::123456789012:policy/teams/ops-break-glass".into()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

#[test]
fn every_event_that_carries_a_document_gives_it_exactly_as_recorded() {
    for name in [
        "create-policy.json",
        "create-policy-by-root.json",
        "create-policy-version-default.json",
        "put-user-policy.json",
        "put-role-policy.json",
        "put-group-policy.json",
    ] {
        // GIVEN an event whose request carries a policyDocument
        let event = fixture(name);
        // WHEN it is read
        let change = change(&event);
        // THEN the document is the recorded string, byte for byte (indentation, final newline)
        assert_eq!(
            change.document.as_deref(),
            Some(recorded_document(&event).as_str()),
            "{name}"
        );
    }
}

#[test]
fn attachments_carry_no_document() {
    for name in [
        "attach-user-policy.json",
        "attach-role-policy.json",
        "attach-group-policy.json",
    ] {
        // GIVEN an Attach*Policy event (its request names a policy, not a document)
        let event = fixture(name);
        // WHEN it is read
        let change = change(&event);
        // THEN there is no document: it has to be read from IAM
        assert_eq!(change.document, None, "{name}");
    }
}

#[test]
fn set_default_policy_version_carries_no_document() {
    // GIVEN a SetDefaultPolicyVersion event (its request names a version, not a document)
    let event = fixture("set-default-policy-version.json");
    // WHEN it is read
    let change = change(&event);
    // THEN there is no document: it has to be read from IAM
    assert_eq!(change.document, None);
}

#[test]
fn a_percent_encoded_document_is_carried_as_is() {
    // GIVEN alice's boto3 CreatePolicy whose policyDocument is percent-encoded
    let event = fixture("create-policy-percent-encoded.json");
    let recorded = recorded_document(&event);
    assert!(
        recorded.starts_with("%7B"),
        "the fixture is percent-encoded"
    );
    // WHEN it is read
    let change = change(&event);
    // THEN the document is still percent-encoded, as recorded (decoding is the engine's job)
    assert_eq!(change.document, Some(recorded));
}

#[test]
fn the_engine_decodes_the_percent_encoded_document_to_the_same_json_as_create_policy() {
    // GIVEN the percent-encoded document and the plain one of create-policy.json
    let encoded = change_of("create-policy-percent-encoded.json")
        .document
        .expect("a document");
    let plain = change_of("create-policy.json")
        .document
        .expect("a document");
    // WHEN the engine decodes the encoded one
    let decoded = policy_engine::decode(&encoded).expect("it decodes");
    // THEN it is JSON, and the same JSON as the plain document (only white space differs)
    let decoded: Value = serde_json::from_str(&decoded).expect("decoded JSON");
    let plain: Value = serde_json::from_str(&plain).expect("plain JSON");
    assert_eq!(decoded, plain);
}

// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

#[test]
fn create_policy_makes_version_v1_the_default() {
    // GIVEN a CreatePolicy event
    let event = fixture("create-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the version in force is v1
    assert_eq!(change.version_id.as_deref(), Some("v1"));
}

#[test]
fn create_policy_version_takes_its_version_from_the_response() {
    // GIVEN a CreatePolicyVersion event whose response says version v2 was created
    let mut event = fixture("create-policy-version-default.json");
    assert_eq!(
        event["detail"]["responseElements"]["policyVersion"]["versionId"],
        "v2"
    );
    // AND (to tell the sources apart) a response saying v4 instead
    event["detail"]["responseElements"]["policyVersion"]["versionId"] = json!("v4");
    // WHEN both are read
    let original = change_of("create-policy-version-default.json");
    let altered = change(&event);
    // THEN the version is the one the response gives
    assert_eq!(original.version_id.as_deref(), Some("v2"));
    assert_eq!(altered.version_id.as_deref(), Some("v4"));
}

#[test]
fn set_default_policy_version_takes_its_version_from_the_request() {
    // GIVEN a SetDefaultPolicyVersion event whose request sets v2 (its response is null)
    let event = fixture("set-default-policy-version.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the version is the request's versionId
    assert_eq!(change.version_id.as_deref(), Some("v2"));
}

#[test]
fn inline_policies_and_attachments_have_no_version() {
    for name in [
        "put-user-policy.json",
        "put-role-policy.json",
        "put-group-policy.json",
        "attach-user-policy.json",
        "attach-role-policy.json",
        "attach-group-policy.json",
    ] {
        // GIVEN an event that changes no managed policy's versions
        let event = fixture(name);
        // WHEN it is read
        let change = change(&event);
        // THEN it has no version id
        assert_eq!(change.version_id, None, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Who, from where, when
// ---------------------------------------------------------------------------------------------

#[test]
fn an_iam_user_is_read_with_type_arn_principal_id_and_account_and_no_session_issuer() {
    // GIVEN alice's CLI call with her long-term key
    let event = fixture("create-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the actor is the IAM user alice
    assert_eq!(
        change.actor,
        Actor {
            identity_type: "IAMUser".into(),
            arn: Some(ALICE.into()),
            principal_id: Some("AIDALRWFVEALKXWKKXZWW".into()),
            account_id: Some("123456789012".into()),
            session_issuer_arn: None,
            invoked_by: None,
        }
    );
    assert_eq!(change.actor.display_name(), ALICE);
}

#[test]
fn an_assumed_role_is_read_with_the_role_that_issued_the_session() {
    // GIVEN bob's call through the DevOpsRole session
    let event = fixture("attach-role-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the actor is bob's assumed-role session, issued by DevOpsRole
    assert_eq!(
        change.actor,
        Actor {
            identity_type: "AssumedRole".into(),
            arn: Some(BOB.into()),
            principal_id: Some("AROA6Z65H7XEZH5VTGLTM:bob".into()),
            account_id: Some("123456789012".into()),
            session_issuer_arn: Some(DEVOPS_ROLE.into()),
            invoked_by: None,
        }
    );
}

#[test]
fn a_console_session_of_an_iam_user_has_no_session_issuer() {
    // GIVEN alice's console call (sessionContext with an empty sessionIssuer {})
    let event = fixture("set-default-policy-version.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the actor is still the IAM user alice, with no issuer
    assert_eq!(change.actor.identity_type, "IAMUser");
    assert_eq!(change.actor.arn.as_deref(), Some(ALICE));
    assert_eq!(change.actor.session_issuer_arn, None);
}

#[test]
fn the_root_user_is_read_as_root_with_the_account_root_arn() {
    // GIVEN root's CreatePolicy in the console
    let event = fixture("create-policy-by-root.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the actor is the account's root, with no issuer
    assert_eq!(
        change.actor,
        Actor {
            identity_type: "Root".into(),
            arn: Some("arn:aws:iam::123456789012:root".into()),
            principal_id: Some("123456789012".into()),
            account_id: Some("123456789012".into()),
            session_issuer_arn: None,
            invoked_by: None,
        }
    );
    // AND root's change is a change like any other
    assert_eq!(
        change.target,
        Target::ManagedPolicy {
            policy_arn: "arn:aws:iam::123456789012:policy/staging-bucket-cleanup".into()
        }
    );
}

#[test]
fn the_source_ip_and_user_agent_are_read_as_recorded() {
    // GIVEN events from the CLI, from Terraform and from the console
    let cases = [
        ("create-policy.json", "203.0.113.24", "aws-cli/2.22.4 "),
        (
            "put-user-policy.json",
            "198.51.100.14",
            "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 ",
        ),
        (
            "set-default-policy-version.json",
            "203.0.113.24",
            "AWS Internal",
        ),
        ("create-policy-by-root.json", "203.0.113.91", "Mozilla/5.0 "),
    ];
    for (name, ip, agent_start) in cases {
        let event = fixture(name);
        // WHEN each is read
        let change = change(&event);
        // THEN the source IP and the whole user agent are the record's
        assert_eq!(change.source_ip.as_deref(), Some(ip), "{name}");
        assert_eq!(
            change.user_agent.as_deref(),
            event["detail"]["userAgent"].as_str(),
            "{name}"
        );
        assert!(
            change.user_agent.unwrap().starts_with(agent_start),
            "{name}"
        );
    }
}

#[test]
fn the_event_time_and_id_are_the_cloudtrail_records_not_the_envelopes() {
    // GIVEN alice's CreatePolicy, whose EventBridge id differs from its CloudTrail eventID
    let event = fixture("create-policy.json");
    assert_ne!(event["id"], event["detail"]["eventID"]);
    // WHEN it is read
    let change = change(&event);
    // THEN the event id and time are the CloudTrail record's
    assert_eq!(change.event_id, "47e675e7-a06b-499a-961b-2284a99aba5a");
    assert_eq!(change.event_time, "2026-11-21T09:30:00Z");
}

#[test]
fn the_account_and_region_are_the_records() {
    // GIVEN an IAM event (IAM is global, so it arrives in us-east-1)
    let event = fixture("put-group-policy.json");
    // WHEN it is read
    let change = change(&event);
    // THEN the account is the recipient account and the region us-east-1
    assert_eq!(change.account, "123456789012");
    assert_eq!(change.region, "us-east-1");
}

#[test]
fn the_account_and_region_come_from_the_record_before_the_envelope() {
    // GIVEN an event whose record and envelope disagree on account and region
    let mut event = fixture("put-group-policy.json");
    event["account"] = json!("999999999999");
    event["region"] = json!("eu-west-1");
    // WHEN it is read
    let change = change(&event);
    // THEN the record's recipientAccountId and awsRegion win
    assert_eq!(change.account, "123456789012");
    assert_eq!(change.region, "us-east-1");
}

#[test]
fn the_account_and_region_fall_back_to_the_envelope_when_the_record_lacks_them() {
    // GIVEN an event whose record has no recipientAccountId nor awsRegion
    let mut event = fixture("put-group-policy.json");
    event["account"] = json!("210987654321");
    event["region"] = json!("eu-west-1");
    detail_mut(&mut event).remove("recipientAccountId");
    detail_mut(&mut event).remove("awsRegion");
    // WHEN it is read
    let change = change(&event);
    // THEN the envelope's account and region are used
    assert_eq!(change.account, "210987654321");
    assert_eq!(change.region, "eu-west-1");
}

// ---------------------------------------------------------------------------------------------
// Ignored events
// ---------------------------------------------------------------------------------------------

#[test]
fn a_create_policy_denied_access_is_ignored_naming_the_error_code() {
    // GIVEN bob's CreatePolicy that failed with AccessDenied (its request still has a document)
    let event = fixture("create-policy-access-denied.json");
    // WHEN it is read
    let (event_name, reason) = ignored_reason(&event);
    // THEN it is ignored, and the reason names the error code
    assert_eq!(event_name, "CreatePolicy");
    assert!(reason.contains("AccessDenied"), "{reason}");
}

#[test]
fn a_put_role_policy_with_a_malformed_document_is_ignored_naming_the_error_code() {
    // GIVEN alice's PutRolePolicy refused as MalformedPolicyDocumentException
    let event = fixture("put-role-policy-malformed.json");
    // WHEN it is read
    let (event_name, reason) = ignored_reason(&event);
    // THEN it is ignored, and the reason names the error code
    assert_eq!(event_name, "PutRolePolicy");
    assert!(
        reason.contains("MalformedPolicyDocumentException"),
        "{reason}"
    );
}

#[test]
fn a_policy_version_not_set_as_default_is_ignored_with_a_reason() {
    // GIVEN bob's CreatePolicyVersion v3 with setAsDefault false
    let event = fixture("create-policy-version-not-default.json");
    // WHEN it is read
    let (event_name, reason) = ignored_reason(&event);
    // THEN it is ignored, and the reason says it is not the default
    assert_eq!(event_name, "CreatePolicyVersion");
    assert!(reason.contains("default"), "{reason}");
}

#[test]
fn a_policy_version_without_set_as_default_is_ignored() {
    // GIVEN a CreatePolicyVersion whose request has no setAsDefault (IAM's default is false)
    let mut event = fixture("create-policy-version-default.json");
    event["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("setAsDefault");
    // WHEN it is read
    let (_, reason) = ignored_reason(&event);
    // THEN it is ignored
    assert!(reason.contains("default"), "{reason}");
}

#[test]
fn set_as_default_given_as_the_string_true_still_counts() {
    for text in ["true", "True", "TRUE"] {
        // GIVEN a CreatePolicyVersion whose setAsDefault is the string "true"
        let mut event = fixture("create-policy-version-default.json");
        event["detail"]["requestParameters"]["setAsDefault"] = json!(text);
        // WHEN it is read
        let change = change(&event);
        // THEN it is a change to the managed policy, as with the boolean
        assert_eq!(
            change,
            change_of("create-policy-version-default.json"),
            "{text}"
        );
    }
}

#[test]
fn set_as_default_given_as_the_string_false_is_ignored() {
    // GIVEN a CreatePolicyVersion whose setAsDefault is the string "false"
    let mut event = fixture("create-policy-version-default.json");
    event["detail"]["requestParameters"]["setAsDefault"] = json!("false");
    // WHEN it is read
    let (_, reason) = ignored_reason(&event);
    // THEN it is ignored
    assert!(reason.contains("default"), "{reason}");
}

#[test]
fn the_services_own_change_is_ignored_by_its_session_issuer() {
    // GIVEN the quarantine write-back, made by a session of the policy-writer role
    let event = fixture("put-role-policy-by-sentinel.json");
    assert_eq!(
        event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        OWN_ROLE
    );
    // WHEN it is read
    let (event_name, reason) = ignored_reason(&event);
    // THEN it is ignored as iam-sentinel's own change
    assert_eq!(event_name, "PutRolePolicy");
    assert!(reason.contains("iam-sentinel"), "{reason}");
}

#[test]
fn the_services_own_change_is_ignored_by_its_assumed_role_arn_alone() {
    // GIVEN the write-back with no sessionContext: only the assumed-role ARN names the role
    let mut event = fixture("put-role-policy-by-sentinel.json");
    user_identity_mut(&mut event).remove("sessionContext");
    // WHEN it is read
    let (_, reason) = ignored_reason(&event);
    // THEN it is still ignored as iam-sentinel's own change
    assert!(reason.contains("iam-sentinel"), "{reason}");
}

#[test]
fn the_services_own_change_is_recognised_when_its_role_has_a_path() {
    // GIVEN the role is deployed with a path (the assumed-role ARN never shows paths)
    let own_role = "arn:aws:iam::123456789012:role/service-role/iam-sentinel-policy-writer";
    // AND the write-back with no sessionContext
    let mut event = fixture("put-role-policy-by-sentinel.json");
    user_identity_mut(&mut event).remove("sessionContext");
    // WHEN it is read
    let reading = read_event(&event, own_role);
    // THEN it is ignored as iam-sentinel's own change
    assert!(
        matches!(reading, Ok(Reading::Ignored { .. })),
        "{reading:?}"
    );
}

/// The write-back, as if made by another role: `role_arn` issuing a session named like ours.
fn write_back_by(role_arn: &str, assumed_role_arn: &str) -> Value {
    let mut event = fixture("put-role-policy-by-sentinel.json");
    event["detail"]["userIdentity"]["arn"] = json!(assumed_role_arn);
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(role_arn);
    event
}

#[test]
fn a_role_whose_name_only_starts_with_the_services_role_name_is_not_ignored() {
    // GIVEN the same write-back made by iam-sentinel-policy-writer-2
    let event = write_back_by(
        "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer-2",
        "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer-2/quarantine-policy",
    );
    // WHEN it is read
    let change = change(&event);
    // THEN it is a change, to be analysed like any other
    assert_eq!(change.event_name, "PutRolePolicy");
}

#[test]
fn a_similarly_named_role_is_not_ignored_without_session_context_either() {
    // GIVEN the write-back by iam-sentinel-policy-writer-2, with only its assumed-role ARN
    let mut event = write_back_by(
        "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer-2",
        "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer-2/quarantine-policy",
    );
    user_identity_mut(&mut event).remove("sessionContext");
    // WHEN it is read
    let reading = read(&event);
    // THEN it is a change
    assert!(matches!(reading, Ok(Reading::Change(_))), "{reading:?}");
}

#[test]
fn the_services_role_name_in_another_account_is_not_ignored() {
    // GIVEN the write-back made by a role of the same name in account 210987654321
    let event = write_back_by(
        "arn:aws:iam::210987654321:role/iam-sentinel-policy-writer",
        "arn:aws:sts::210987654321:assumed-role/iam-sentinel-policy-writer/quarantine-policy",
    );
    // WHEN it is read, with or without its sessionContext
    let mut without_context = event.clone();
    user_identity_mut(&mut without_context).remove("sessionContext");
    // THEN both are changes
    assert!(matches!(read(&event), Ok(Reading::Change(_))));
    assert!(matches!(read(&without_context), Ok(Reading::Change(_))));
}

#[test]
fn an_iam_user_named_like_the_services_role_is_not_ignored() {
    // GIVEN the write-back made by an IAM user called iam-sentinel-policy-writer
    let mut event = fixture("put-role-policy-by-sentinel.json");
    let identity = user_identity_mut(&mut event);
    identity.remove("sessionContext");
    identity.insert("type".into(), json!("IAMUser"));
    identity.insert(
        "arn".into(),
        json!("arn:aws:iam::123456789012:user/iam-sentinel-policy-writer"),
    );
    // WHEN it is read
    let reading = read(&event);
    // THEN it is a change
    assert!(matches!(reading, Ok(Reading::Change(_))), "{reading:?}");
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn a_json_value_that_is_not_an_object_is_not_an_event() {
    for value in [
        json!(null),
        json!(42),
        json!("CreatePolicy"),
        json!([]),
        json!(true),
    ] {
        // GIVEN JSON that is not an object
        // WHEN it is read
        let result = read(&value);
        // THEN it is NotAnEvent
        assert!(
            matches!(result, Err(EventError::NotAnEvent(_))),
            "{value}: {result:?}"
        );
    }
}

#[test]
fn an_object_without_detail_is_not_an_event() {
    // GIVEN an event with its detail removed
    let mut event = fixture("create-policy.json");
    event.as_object_mut().unwrap().remove("detail");
    // WHEN it is read
    let result = read(&event);
    // THEN it is NotAnEvent, and the message says what is missing
    let Err(error @ EventError::NotAnEvent(_)) = result else {
        panic!("expected NotAnEvent, got {result:?}");
    };
    let message = error.to_string();
    assert!(message.contains("not an EventBridge event"), "{message}");
    assert!(message.contains("detail"), "{message}");
}

#[test]
fn an_s3_call_recorded_by_cloudtrail_is_not_iam() {
    // GIVEN a CloudTrail S3 DeleteBucket event (source aws.s3)
    let mut event = fixture("create-policy.json");
    event["source"] = json!("aws.s3");
    event["detail"]["eventSource"] = json!("s3.amazonaws.com");
    event["detail"]["eventName"] = json!("DeleteBucket");
    event["detail"]["requestParameters"] = json!({"bucketName": "acme-pipeline-staging", "Host": "acme-pipeline-staging.s3.amazonaws.com"});
    event["detail"]["responseElements"] = Value::Null;
    // WHEN it is read
    let result = read(&event);
    // THEN it is NotIam, naming both sources
    assert_eq!(
        result,
        Err(EventError::NotIam {
            origin: "aws.s3".into(),
            event_source: "s3.amazonaws.com".into()
        })
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("aws.s3"), "{message}");
    assert!(message.contains("s3.amazonaws.com"), "{message}");
}

#[test]

fn an_s3_object_created_event_is_not_iam() {
    // GIVEN an S3 "Object Created" event, as S3 sends it to EventBridge
    let event = json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-21T09:31:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::acme-raw-data"],
        "detail": {
            "version": "0",
            "bucket": {"name": "acme-raw-data"},
            "object": {"key": "2026/11/21/batch.csv", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "203.0.113.24",
            "reason": "PutObject"
        }
    });
    // WHEN it is read
    let result = read(&event);
    // THEN it is NotIam (it is an EventBridge event, just not an IAM one)
    assert!(
        matches!(&result, Err(EventError::NotIam { origin, .. }) if origin == "aws.s3"),
        "{result:?}"
    );
}

#[test]
fn an_iam_source_with_another_event_source_is_not_iam() {
    // GIVEN an event claiming source aws.iam but recording an STS call
    let mut event = fixture("create-policy.json");
    event["detail"]["eventSource"] = json!("sts.amazonaws.com");
    // WHEN it is read
    let result = read(&event);
    // THEN it is NotIam
    assert_eq!(
        result,
        Err(EventError::NotIam {
            origin: "aws.iam".into(),
            event_source: "sts.amazonaws.com".into()
        })
    );
}

#[test]
fn an_iam_event_the_service_does_not_handle_is_unhandled_naming_it() {
    // GIVEN a successful DeletePolicy
    let mut event = fixture("create-policy.json");
    event["detail"]["eventName"] = json!("DeletePolicy");
    event["detail"]["requestParameters"] =
        json!({"policyArn": "arn:aws:iam::123456789012:policy/my-bad-policy-aws-5-mins"});
    event["detail"]["responseElements"] = Value::Null;
    // WHEN it is read
    let result = read(&event);
    // THEN it is UnhandledEvent, and the message names DeletePolicy
    assert_eq!(
        result,
        Err(EventError::UnhandledEvent {
            event_name: "DeletePolicy".into()
        })
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("DeletePolicy"), "{message}");
    assert!(message.contains("not a policy change"), "{message}");
}

#[test]
fn a_put_role_policy_without_role_name_is_missing_that_field() {
    // GIVEN a PutRolePolicy whose request lost its roleName
    let mut event = fixture("put-role-policy.json");
    event["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("roleName");
    // WHEN it is read
    let result = read(&event);
    // THEN it is MissingField naming roleName, and the message names the event and the field
    assert_eq!(
        result,
        Err(EventError::MissingField {
            event_name: "PutRolePolicy".into(),
            field: "roleName"
        })
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("PutRolePolicy"), "{message}");
    assert!(message.contains("roleName"), "{message}");
}

#[test]
fn a_create_policy_without_the_new_arn_is_missing_that_field() {
    // GIVEN a successful CreatePolicy whose response is null
    let mut event = fixture("create-policy.json");
    event["detail"]["responseElements"] = Value::Null;
    // WHEN it is read
    let result = read(&event);
    // THEN it is MissingField naming where the ARN should have been
    assert_eq!(
        result,
        Err(EventError::MissingField {
            event_name: "CreatePolicy".into(),
            field: "responseElements.policy.arn"
        })
    );
}

#[test]
fn a_document_that_is_not_a_string_is_missing() {
    // GIVEN a PutUserPolicy whose policyDocument is a JSON object instead of a string
    let mut event = fixture("put-user-policy.json");
    let document: Value = serde_json::from_str(&recorded_document(&event)).unwrap();
    event["detail"]["requestParameters"]["policyDocument"] = document;
    // WHEN it is read
    let result = read(&event);
    // THEN it is MissingField policyDocument (never a guess at the document's text)
    assert_eq!(
        result,
        Err(EventError::MissingField {
            event_name: "PutUserPolicy".into(),
            field: "policyDocument"
        })
    );
}

#[test]
fn a_detail_without_event_name_is_not_an_event_and_says_so() {
    // GIVEN an event whose record has no eventName
    let mut event = fixture("attach-user-policy.json");
    detail_mut(&mut event).remove("eventName");
    // WHEN it is read
    let result = read(&event);
    // THEN it is NotAnEvent, and the message names eventName
    let Err(error @ EventError::NotAnEvent(_)) = result else {
        panic!("expected NotAnEvent, got {result:?}");
    };
    assert!(error.to_string().contains("eventName"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// No panic, whatever the JSON
// ---------------------------------------------------------------------------------------------

/// Keys of the event and record, so random objects often look like parts of an event.
const KEYS: &[&str] = &[
    "source",
    "detail",
    "account",
    "region",
    "eventSource",
    "eventName",
    "eventID",
    "eventTime",
    "awsRegion",
    "recipientAccountId",
    "errorCode",
    "errorMessage",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "userIdentity",
    "sessionContext",
    "sessionIssuer",
    "type",
    "arn",
    "principalId",
    "accountId",
    "invokedBy",
];

/// Keys of `requestParameters`.
const PARAMETER_KEYS: &[&str] = &[
    "policyDocument",
    "policyArn",
    "policyName",
    "roleName",
    "userName",
    "groupName",
    "setAsDefault",
    "versionId",
];

/// Strings that mean something to the reader, and arbitrary ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "aws.iam",
            "aws.s3",
            "iam.amazonaws.com",
            "s3.amazonaws.com",
            "CreatePolicy",
            "CreatePolicyVersion",
            "SetDefaultPolicyVersion",
            "PutUserPolicy",
            "PutRolePolicy",
            "PutGroupPolicy",
            "AttachUserPolicy",
            "AttachRolePolicy",
            "AttachGroupPolicy",
            "DeletePolicy",
            "AssumedRole",
            "true",
            "false",
            "",
            ":",
            "/",
            OWN_ROLE,
            "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/quarantine-policy",
            "arn:aws:sts::123456789012:assumed-role/",
            "arn:aws:sts::123456789012:assumed-role",
            "arn:aws:iam::123456789012:role/",
            "%7B%22Version%22",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,24}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select([KEYS, PARAMETER_KEYS, &["policy", "policyVersion"]].concat())
            .prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 96, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..10)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Events shaped like the real ones, with every part possibly wrong.
fn near_event() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        5 => prop::sample::select(HANDLED.to_vec()).prop_map(Value::from),
        1 => scalar(),
    ];
    // Mostly strings, sometimes anything.
    let field = || prop_oneof![4 => text().prop_map(Value::from), 1 => scalar()];
    // Each request parameter present or not.
    let parameters = prop_oneof![
        4 => prop::collection::vec(
            proptest::option::weighted(0.8, field()),
            PARAMETER_KEYS.len()
        )
        .prop_map(|values| {
            Value::Object(
                PARAMETER_KEYS
                    .iter()
                    .zip(values)
                    .filter_map(|(key, value)| Some(((*key).to_owned(), value?)))
                    .collect(),
            )
        }),
        1 => json_value(),
    ];
    let identity = prop_oneof![
        json_value(),
        (text(), text(), proptest::option::of(text())).prop_map(|(kind, arn, issuer)| {
            let mut identity = json!({"type": kind, "arn": arn});
            if let Some(issuer) = issuer {
                identity["sessionContext"] = json!({"sessionIssuer": {"arn": issuer}});
            }
            identity
        }),
    ];
    let response = prop_oneof![
        1 => json_value(),
        2 => (field(), field()).prop_map(|(arn, version)| {
            json!({"policy": {"arn": arn}, "policyVersion": {"versionId": version}})
        }),
    ];
    let error = prop_oneof![
        4 => Just(None),
        1 => text().prop_map(|code| Some(Value::from(code))),
        1 => scalar().prop_map(Some),
    ];
    (
        prop_oneof![7 => Just(json!("aws.iam")), 1 => scalar()],
        prop_oneof![7 => Just(json!("iam.amazonaws.com")), 1 => scalar()],
        name,
        error,
        identity,
        parameters,
        response,
    )
        .prop_map(
            |(source, event_source, name, error, identity, parameters, response)| {
                let mut event = json!({
                    "source": source,
                    "detail": {
                        "eventSource": event_source,
                        "eventName": name,
                        "userIdentity": identity,
                        "requestParameters": parameters,
                        "responseElements": response,
                    }
                });
                if let Some(error) = error {
                    event["detail"]["errorCode"] = error;
                }
                event
            },
        )
}

proptest! {
    #[test]
    fn read_event_never_panics_on_arbitrary_json(
        event in json_value(),
        own_role in prop_oneof![Just(OWN_ROLE.to_owned()), text()],
    ) {
        // GIVEN any JSON value, and any own-role ARN
        // WHEN it is read
        let _reading = read_event(&event, &own_role);
        // THEN it returns (a reading or an error) without panicking
    }

    #[test]
    fn read_event_never_panics_on_events_shaped_like_real_ones(
        event in near_event(),
        own_role in prop_oneof![3 => Just(OWN_ROLE.to_owned()), 1 => text()],
    ) {
        // GIVEN an event shaped like an IAM event, with any part possibly wrong
        // WHEN it is read
        let result = read_event(&event, &own_role);
        // THEN it returns without panicking, and a change is only ever one of the handled calls
        if let Ok(Reading::Change(change)) = &result {
            prop_assert!(HANDLED.contains(&change.event_name.as_str()), "{result:?}");
            prop_assert!(event["detail"].get("errorCode").is_none_or(Value::is_null));
        }
    }
}
