//! IAM set-up and read-back straight through the SDK, independent of the code under test.

use incident::{Principal, PrincipalKind};

/// Creates the managed policy an event names, with the given document, in moto.
pub async fn create_managed_policy(
    iam: &aws_sdk_iam::Client,
    name: &str,
    document: &str,
) -> String {
    let output = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .expect("CreatePolicy");
    output
        .policy()
        .and_then(|p| p.arn())
        .expect("an ARN")
        .to_owned()
}

/// A trust policy that lets Lambda assume a role (moto requires one to create a role).
const LAMBDA_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Creates the user, role or group in moto.
pub async fn create_principal(iam: &aws_sdk_iam::Client, principal: &Principal) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.create_user()
                .user_name(name)
                .send()
                .await
                .expect("CreateUser"),
        ),
        PrincipalKind::Role => drop(
            iam.create_role()
                .role_name(name)
                .assume_role_policy_document(LAMBDA_TRUST)
                .send()
                .await
                .expect("CreateRole"),
        ),
        PrincipalKind::Group => drop(
            iam.create_group()
                .group_name(name)
                .send()
                .await
                .expect("CreateGroup"),
        ),
    }
}

/// Deletes the user, role or group from moto (it must hold no policy and, for a group, no
/// member), as someone does before creating another under the same name.
pub async fn delete_principal(iam: &aws_sdk_iam::Client, principal: &Principal) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.delete_user()
                .user_name(name)
                .send()
                .await
                .expect("DeleteUser"),
        ),
        PrincipalKind::Role => drop(
            iam.delete_role()
                .role_name(name)
                .send()
                .await
                .expect("DeleteRole"),
        ),
        PrincipalKind::Group => drop(
            iam.delete_group()
                .group_name(name)
                .send()
                .await
                .expect("DeleteGroup"),
        ),
    }
}

/// Deletes an inline policy straight through the SDK, as its owner would.
pub async fn delete_inline_policy(iam: &aws_sdk_iam::Client, principal: &Principal, name: &str) {
    let principal_name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.delete_user_policy()
                .user_name(principal_name)
                .policy_name(name)
                .send()
                .await
                .expect("DeleteUserPolicy"),
        ),
        PrincipalKind::Role => drop(
            iam.delete_role_policy()
                .role_name(principal_name)
                .policy_name(name)
                .send()
                .await
                .expect("DeleteRolePolicy"),
        ),
        PrincipalKind::Group => drop(
            iam.delete_group_policy()
                .group_name(principal_name)
                .policy_name(name)
                .send()
                .await
                .expect("DeleteGroupPolicy"),
        ),
    }
}

/// The unique id moto gave the user, role or group.
pub async fn principal_id(iam: &aws_sdk_iam::Client, principal: &Principal) -> String {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => {
            iam.get_user()
                .user_name(name)
                .send()
                .await
                .expect("GetUser")
                .user
                .expect("a user")
                .user_id
        }
        PrincipalKind::Role => {
            iam.get_role()
                .role_name(name)
                .send()
                .await
                .expect("GetRole")
                .role
                .expect("a role")
                .role_id
        }
        PrincipalKind::Group => {
            iam.get_group()
                .group_name(name)
                .send()
                .await
                .expect("GetGroup")
                .group
                .expect("a group")
                .group_id
        }
    }
}

/// Writes an inline policy straight through the SDK (set-up, independent of the code under test).
pub async fn put_inline_policy(
    iam: &aws_sdk_iam::Client,
    principal: &Principal,
    policy_name: &str,
    document: &str,
) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.put_user_policy()
                .user_name(name)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .expect("PutUserPolicy"),
        ),
        PrincipalKind::Role => drop(
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .expect("PutRolePolicy"),
        ),
        PrincipalKind::Group => drop(
            iam.put_group_policy()
                .group_name(name)
                .policy_name(policy_name)
                .policy_document(document)
                .send()
                .await
                .expect("PutGroupPolicy"),
        ),
    }
}

/// An inline policy's document as IAM hands it out now (decoded), read straight through the SDK.
pub async fn inline_policy(
    iam: &aws_sdk_iam::Client,
    principal: &Principal,
    policy_name: &str,
) -> String {
    let name = principal.name.as_str();
    let document = match principal.kind {
        PrincipalKind::User => {
            iam.get_user_policy()
                .user_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .expect("GetUserPolicy")
                .policy_document
        }
        PrincipalKind::Role => {
            iam.get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .expect("GetRolePolicy")
                .policy_document
        }
        PrincipalKind::Group => {
            iam.get_group_policy()
                .group_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .expect("GetGroupPolicy")
                .policy_document
        }
    };
    policy_engine::decode(&document)
        .expect("a decodable document")
        .into_owned()
}

pub async fn attach_policy(iam: &aws_sdk_iam::Client, principal: &Principal, policy_arn: &str) {
    let name = principal.name.as_str();
    match principal.kind {
        PrincipalKind::User => drop(
            iam.attach_user_policy()
                .user_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .expect("AttachUserPolicy"),
        ),
        PrincipalKind::Role => drop(
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .expect("AttachRolePolicy"),
        ),
        PrincipalKind::Group => drop(
            iam.attach_group_policy()
                .group_name(name)
                .policy_arn(policy_arn)
                .send()
                .await
                .expect("AttachGroupPolicy"),
        ),
    }
}

/// The ARNs `ListAttached{User,Role,Group}Policies` lists for the principal (first page: tests
/// attach a handful at most).
pub async fn attached_policies(iam: &aws_sdk_iam::Client, principal: &Principal) -> Vec<String> {
    let name = principal.name.as_str();
    let attached = match principal.kind {
        PrincipalKind::User => {
            iam.list_attached_user_policies()
                .user_name(name)
                .send()
                .await
                .expect("ListAttachedUserPolicies")
                .attached_policies
        }
        PrincipalKind::Role => {
            iam.list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .expect("ListAttachedRolePolicies")
                .attached_policies
        }
        PrincipalKind::Group => {
            iam.list_attached_group_policies()
                .group_name(name)
                .send()
                .await
                .expect("ListAttachedGroupPolicies")
                .attached_policies
        }
    };
    attached
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.policy_arn)
        .collect()
}

/// Adds a user to a group straight through the SDK.
pub async fn add_to_group(iam: &aws_sdk_iam::Client, user: &str, group: &str) {
    iam.add_user_to_group()
        .user_name(user)
        .group_name(group)
        .send()
        .await
        .expect("AddUserToGroup");
}
