//! Reading the IAM policy changes iam-sentinel handles, from the real-shaped EventBridge "AWS
//! API Call via CloudTrail" fixtures in `tests/fixtures/events/` (see its README.md): what
//! changed, the document and version, who changed it, from where and when.

mod support;

use incident::{Actor, PrincipalKind, Target};
use serde_json::{Value, json};
use support::{
    ALICE, BOB, DEVOPS_ROLE, change, change_of, detail_mut, fixture, principal, recorded_document,
};

// ---------------------------------------------------------------------------------------------
// Targets: what each event name changed
// ---------------------------------------------------------------------------------------------

#[test]
fn each_handled_event_names_what_it_changed() {
    let managed = |arn: &str| Target::ManagedPolicy {
        policy_arn: arn.into(),
    };
    let inline = |kind, name, policy: &str| Target::InlinePolicy {
        principal: principal(kind, name),
        policy_name: policy.into(),
    };
    let attachment = |kind, name, arn: &str| Target::Attachment {
        principal: principal(kind, name),
        policy_arn: arn.into(),
    };
    let boundary = |kind, name| Target::PermissionsBoundary {
        principal: principal(kind, name),
    };
    let cases = [
        (
            "alice's CreatePolicy: the new policy, by the ARN in the response",
            "create-policy.json",
            "CreatePolicy",
            managed("arn:aws:iam::123456789012:policy/my-bad-policy-aws-5-mins"),
        ),
        (
            "root's CreatePolicy: a change like any other",
            "create-policy-by-root.json",
            "CreatePolicy",
            managed("arn:aws:iam::123456789012:policy/staging-bucket-cleanup"),
        ),
        (
            "bob's CreatePolicyVersion set as default: the policy it versions",
            "create-policy-version-default.json",
            "CreatePolicyVersion",
            managed("arn:aws:iam::123456789012:policy/team-s3-access"),
        ),
        (
            "alice's SetDefaultPolicyVersion: the policy whose default changed",
            "set-default-policy-version.json",
            "SetDefaultPolicyVersion",
            managed("arn:aws:iam::123456789012:policy/team-s3-access"),
        ),
        (
            "bob's PutUserPolicy: the user's inline policy",
            "put-user-policy.json",
            "PutUserPolicy",
            inline(PrincipalKind::User, "carol", "carol-power-user"),
        ),
        (
            "alice's PutRolePolicy: the role's inline policy",
            "put-role-policy.json",
            "PutRolePolicy",
            inline(PrincipalKind::Role, "data-pipeline", "pipeline-s3-access"),
        ),
        (
            "bob's PutGroupPolicy: the group's inline policy",
            "put-group-policy.json",
            "PutGroupPolicy",
            inline(PrincipalKind::Group, "admins", "admins-break-glass"),
        ),
        (
            "alice's AttachUserPolicy: the attachment to the user",
            "attach-user-policy.json",
            "AttachUserPolicy",
            attachment(
                PrincipalKind::User,
                "carol",
                "arn:aws:iam::123456789012:policy/team-s3-access",
            ),
        ),
        (
            "bob's AttachRolePolicy: an AWS managed policy's ARN",
            "attach-role-policy.json",
            "AttachRolePolicy",
            attachment(
                PrincipalKind::Role,
                "data-pipeline",
                "arn:aws:iam::aws:policy/AdministratorAccess",
            ),
        ),
        (
            "alice's AttachGroupPolicy: the full ARN, path included",
            "attach-group-policy.json",
            "AttachGroupPolicy",
            attachment(
                PrincipalKind::Group,
                "admins",
                "arn:aws:iam::123456789012:policy/teams/ops-break-glass",
            ),
        ),
        (
            "alice's AddUserToGroup: the user's membership of the group",
            "add-user-to-group.json",
            "AddUserToGroup",
            Target::GroupMembership {
                user: "carol".into(),
                group: "admins".into(),
            },
        ),
        (
            "alice's UpdateAssumeRolePolicy: the role's trust policy",
            "update-assume-role-policy.json",
            "UpdateAssumeRolePolicy",
            Target::TrustPolicy {
                role_name: "data-pipeline".into(),
            },
        ),
        (
            "alice's CreateRole: the new role's trust policy",
            "create-role.json",
            "CreateRole",
            Target::TrustPolicy {
                role_name: "partner-access".into(),
            },
        ),
        (
            "bob's DeleteRolePermissionsBoundary: the role's boundary",
            "delete-role-permissions-boundary.json",
            "DeleteRolePermissionsBoundary",
            boundary(PrincipalKind::Role, "data-pipeline"),
        ),
        (
            "bob's PutRolePermissionsBoundary: the role's boundary",
            "put-role-permissions-boundary.json",
            "PutRolePermissionsBoundary",
            boundary(PrincipalKind::Role, "data-pipeline"),
        ),
        (
            "alice's DeleteUserPermissionsBoundary: the user's boundary",
            "delete-user-permissions-boundary.json",
            "DeleteUserPermissionsBoundary",
            boundary(PrincipalKind::User, "carol"),
        ),
        (
            "alice's PutUserPermissionsBoundary: the user's boundary",
            "put-user-permissions-boundary.json",
            "PutUserPermissionsBoundary",
            boundary(PrincipalKind::User, "carol"),
        ),
    ];
    for (case, name, event_name, target) in cases {
        // GIVEN the event of the case
        // WHEN it is read
        let change = change_of(name);
        // THEN it is a change of that name, to that target
        assert_eq!(change.event_name, event_name, "{case} ({name})");
        assert_eq!(change.target, target, "{case} ({name})");
    }
}

#[test]
fn a_boundary_put_names_the_new_boundary_and_a_deletion_none() {
    let cases = [
        (
            "put-role-permissions-boundary.json",
            Some("arn:aws:iam::123456789012:policy/pipeline-boundary-wide"),
        ),
        (
            "put-user-permissions-boundary.json",
            Some("arn:aws:iam::123456789012:policy/developer-boundary"),
        ),
        ("delete-role-permissions-boundary.json", None),
        ("delete-user-permissions-boundary.json", None),
    ];
    for (name, expected) in cases {
        let change = change_of(name);
        assert_eq!(change.boundary_arn.as_deref(), expected, "{name}");
        assert_eq!(change.document, None, "{name}: no document in the event");
    }
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

#[test]
fn a_trust_policy_comes_from_the_request_and_a_membership_carries_none() {
    // GIVEN CreateRole (assumeRolePolicyDocument), UpdateAssumeRolePolicy (policyDocument) and
    // AddUserToGroup (no document: the group's policies are read from IAM)
    let trust_of = |name: &str, field: &str| {
        fixture(name)["detail"]["requestParameters"][field]
            .as_str()
            .map(str::to_owned)
    };
    let cases = [
        (
            "create-role.json",
            trust_of("create-role.json", "assumeRolePolicyDocument"),
        ),
        (
            "update-assume-role-policy.json",
            trust_of("update-assume-role-policy.json", "policyDocument"),
        ),
        ("add-user-to-group.json", None),
    ];
    for (name, document) in cases {
        // WHEN it is read
        // THEN the document is the request's, exactly as recorded, or none
        assert_eq!(change_of(name).document, document, "{name}");
    }
}

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
fn an_event_that_names_a_policy_rather_than_a_document_carries_none() {
    for (case, name) in [
        ("AttachUserPolicy", "attach-user-policy.json"),
        ("AttachRolePolicy", "attach-role-policy.json"),
        ("AttachGroupPolicy", "attach-group-policy.json"),
        (
            "SetDefaultPolicyVersion (names a version)",
            "set-default-policy-version.json",
        ),
    ] {
        // GIVEN an event whose request names a policy or a version, not a document
        // WHEN it is read
        let change = change_of(name);
        // THEN there is no document: it has to be read from IAM
        assert_eq!(change.document, None, "{case} ({name})");
    }
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
fn each_event_gives_the_version_it_made_the_default() {
    let cases = [
        (
            "CreatePolicy makes v1 the default",
            "create-policy.json",
            Some("v1"),
        ),
        (
            "CreatePolicyVersion: the version in the response",
            "create-policy-version-default.json",
            Some("v2"),
        ),
        (
            "SetDefaultPolicyVersion: the request's versionId (its response is null)",
            "set-default-policy-version.json",
            Some("v2"),
        ),
        ("PutUserPolicy: inline", "put-user-policy.json", None),
        ("PutRolePolicy: inline", "put-role-policy.json", None),
        ("PutGroupPolicy: inline", "put-group-policy.json", None),
        ("AttachUserPolicy", "attach-user-policy.json", None),
        ("AttachRolePolicy", "attach-role-policy.json", None),
        ("AttachGroupPolicy", "attach-group-policy.json", None),
    ];
    for (case, name, version) in cases {
        // GIVEN the event of the case
        // WHEN it is read
        let change = change_of(name);
        // THEN its version is the one in force after the call; none for what has no versions
        assert_eq!(change.version_id.as_deref(), version, "{case} ({name})");
    }
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

// ---------------------------------------------------------------------------------------------
// Who, from where, when
// ---------------------------------------------------------------------------------------------

#[test]
fn each_kind_of_identity_is_read_as_recorded() {
    let alice = Actor {
        identity_type: "IAMUser".into(),
        arn: Some(ALICE.into()),
        principal_id: Some("AIDALRWFVEALKXWKKXZWW".into()),
        account_id: Some("123456789012".into()),
        session_issuer_arn: None,
        invoked_by: None,
    };
    let cases = [
        (
            "an IAM user's long-term key: type, ARN, principal id, account, no issuer",
            "create-policy.json",
            alice.clone(),
        ),
        (
            "an assumed role: the role that issued the session",
            "attach-role-policy.json",
            Actor {
                identity_type: "AssumedRole".into(),
                arn: Some(BOB.into()),
                principal_id: Some("AROA6Z65H7XEZH5VTGLTM:bob".into()),
                account_id: Some("123456789012".into()),
                session_issuer_arn: Some(DEVOPS_ROLE.into()),
                invoked_by: None,
            },
        ),
        (
            "an IAM user's console session (an empty sessionIssuer {}): still no issuer",
            "set-default-policy-version.json",
            alice,
        ),
        (
            "the root user: the account's root ARN, no issuer",
            "create-policy-by-root.json",
            Actor {
                identity_type: "Root".into(),
                arn: Some("arn:aws:iam::123456789012:root".into()),
                principal_id: Some("123456789012".into()),
                account_id: Some("123456789012".into()),
                session_issuer_arn: None,
                invoked_by: None,
            },
        ),
    ];
    for (case, name, actor) in cases {
        // GIVEN the event of the case
        // WHEN it is read
        let change = change_of(name);
        // THEN the actor is the record's, and is shown by its ARN
        assert_eq!(change.actor, actor, "{case} ({name})");
        assert_eq!(
            Some(change.actor.display_name()),
            actor.arn,
            "{case} ({name})"
        );
    }
}

#[test]
fn the_source_ip_and_user_agent_are_read_as_recorded() {
    let cases = [
        (
            "the AWS CLI",
            "create-policy.json",
            "203.0.113.24",
            "aws-cli/2.22.4 ",
        ),
        (
            "Terraform",
            "put-user-policy.json",
            "198.51.100.14",
            "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 ",
        ),
        (
            "the console",
            "set-default-policy-version.json",
            "203.0.113.24",
            "AWS Internal",
        ),
        (
            "root in a browser",
            "create-policy-by-root.json",
            "203.0.113.91",
            "Mozilla/5.0 ",
        ),
    ];
    for (case, name, ip, agent_start) in cases {
        // GIVEN an event from the case's client
        let event = fixture(name);
        // WHEN it is read
        let change = change(&event);
        // THEN the source IP and the whole user agent are the record's
        assert_eq!(change.source_ip.as_deref(), Some(ip), "{case}");
        assert_eq!(
            change.user_agent.as_deref(),
            event["detail"]["userAgent"].as_str(),
            "{case}"
        );
        assert!(
            change
                .user_agent
                .is_some_and(|agent| agent.starts_with(agent_start)),
            "{case}"
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
fn the_account_and_region_come_from_the_record_else_from_the_envelope() {
    // (Where the two name different accounts, the event is ignored: events_ignored.)
    type Alter = fn(&mut Value);
    let cases: [(&str, Alter, &str, &str); 3] = [
        (
            "as recorded (IAM is global, so it arrives in us-east-1)",
            |_| {},
            "123456789012",
            "us-east-1",
        ),
        (
            "the record's awsRegion wins over the envelope's",
            |event| {
                event["region"] = json!("eu-west-1");
            },
            "123456789012",
            "us-east-1",
        ),
        (
            "the envelope's, when the record lacks them",
            |event| {
                event["region"] = json!("eu-west-1");
                detail_mut(event).remove("recipientAccountId");
                detail_mut(event).remove("awsRegion");
            },
            "123456789012",
            "eu-west-1",
        ),
    ];
    for (case, alter, account, region) in cases {
        // GIVEN bob's PutGroupPolicy, altered as the case says
        let mut event = fixture("put-group-policy.json");
        alter(&mut event);
        // WHEN it is read
        let change = change(&event);
        // THEN the account and region are the case's
        assert_eq!(change.account, account, "{case}");
        assert_eq!(change.region, region, "{case}");
    }
}
