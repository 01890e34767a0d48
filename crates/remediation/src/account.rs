//! The whole account's IAM, as the sweep reads it: GetAccountAuthorizationDetails, every page
//! (IAM may answer fewer items than asked and say `IsTruncated`: the SDK's paginator follows
//! each `Marker`), converted field by field into the engine's `AuthorizationDetails`. Documents
//! stay as IAM sends them (percent-encoded); the engine decodes them.

use aws_sdk_iam::Client;
use aws_sdk_iam::types as sdk;
use policy_engine::account::{
    AttachedPermissionsBoundary, AttachedPolicy, AuthorizationDetails, GroupDetail,
    InstanceProfile, ManagedPolicyDetail, PolicyDetail, PolicyVersion, RoleDetail, Tag, UserDetail,
};

use crate::error::AwsFailure;

const CALL: &str = "IAM GetAccountAuthorizationDetails";
/// The most IAM answers per page.
const PAGE: i32 = 1000;

/// Every user, group, role and managed policy (AWS managed ones only where attached) of the
/// account.
pub async fn authorization_details(client: &Client) -> Result<AuthorizationDetails, AwsFailure> {
    let pages = client
        .get_account_authorization_details()
        .max_items(PAGE)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| AwsFailure::from_sdk(CALL, e))?;
    let mut details = AuthorizationDetails::default();
    for page in &pages {
        for user in page.user_detail_list() {
            details.users.push(user_of(user)?);
        }
        for group in page.group_detail_list() {
            details.groups.push(group_of(group)?);
        }
        for role in page.role_detail_list() {
            details.roles.push(role_of(role)?);
        }
        for policy in page.policies() {
            details.policies.push(managed_policy_of(policy)?);
        }
    }
    Ok(details)
}

/// A field IAM always sets: its absence makes the answer unusable.
fn required(value: Option<&str>, what: &str) -> Result<String, AwsFailure> {
    value
        .map(str::to_owned)
        .ok_or_else(|| AwsFailure::unusable_answer(CALL, &format!("answered without {what}")))
}

/// A date IAM gave, as RFC 3339 text.
fn rfc3339(date: &aws_sdk_iam::primitives::DateTime) -> Result<String, AwsFailure> {
    date.fmt(aws_sdk_iam::primitives::DateTimeFormat::DateTime)
        .map_err(|e| AwsFailure::unusable_answer(CALL, &format!("a date: {e}")))
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

fn user_of(user: &sdk::UserDetail) -> Result<UserDetail, AwsFailure> {
    Ok(UserDetail {
        user_name: required(user.user_name(), "a UserName")?,
        user_id: owned(user.user_id()),
        create_date: user.create_date().map(rfc3339).transpose()?,
        arn: owned(user.arn()),
        path: owned(user.path()),
        user_policy_list: inline_policies(user.user_policy_list())?,
        group_list: user.group_list().to_vec(),
        attached_managed_policies: attached(user.attached_managed_policies())?,
        permissions_boundary: boundary(user.permissions_boundary())?,
        tags: tags(user.tags()),
    })
}

fn group_of(group: &sdk::GroupDetail) -> Result<GroupDetail, AwsFailure> {
    Ok(GroupDetail {
        group_name: required(group.group_name(), "a GroupName")?,
        group_id: owned(group.group_id()),
        create_date: group.create_date().map(rfc3339).transpose()?,
        arn: owned(group.arn()),
        path: owned(group.path()),
        group_policy_list: inline_policies(group.group_policy_list())?,
        attached_managed_policies: attached(group.attached_managed_policies())?,
    })
}

fn role_of(role: &sdk::RoleDetail) -> Result<RoleDetail, AwsFailure> {
    Ok(RoleDetail {
        role_name: required(role.role_name(), "a RoleName")?,
        role_id: owned(role.role_id()),
        create_date: role.create_date().map(rfc3339).transpose()?,
        arn: owned(role.arn()),
        path: owned(role.path()),
        assume_role_policy_document: owned(role.assume_role_policy_document()),
        instance_profile_list: role
            .instance_profile_list()
            .iter()
            .map(|profile| InstanceProfile {
                instance_profile_name: profile.instance_profile_name().to_owned(),
                instance_profile_id: Some(profile.instance_profile_id().to_owned()),
                arn: Some(profile.arn().to_owned()),
                path: Some(profile.path().to_owned()),
            })
            .collect(),
        role_policy_list: inline_policies(role.role_policy_list())?,
        attached_managed_policies: attached(role.attached_managed_policies())?,
        permissions_boundary: boundary(role.permissions_boundary())?,
        tags: tags(role.tags()),
    })
}

fn managed_policy_of(policy: &sdk::ManagedPolicyDetail) -> Result<ManagedPolicyDetail, AwsFailure> {
    Ok(ManagedPolicyDetail {
        policy_name: owned(policy.policy_name()),
        policy_id: owned(policy.policy_id()),
        arn: required(policy.arn(), "a managed policy's Arn")?,
        path: owned(policy.path()),
        default_version_id: owned(policy.default_version_id()),
        attachment_count: policy
            .attachment_count()
            .and_then(|n| u64::try_from(n).ok()),
        permissions_boundary_usage_count: policy
            .permissions_boundary_usage_count()
            .and_then(|n| u64::try_from(n).ok()),
        is_attachable: Some(policy.is_attachable()),
        policy_version_list: policy
            .policy_version_list()
            .iter()
            .map(|version| PolicyVersion {
                document: owned(version.document()),
                version_id: owned(version.version_id()),
                is_default_version: version.is_default_version(),
            })
            .collect(),
    })
}

fn inline_policies(policies: &[sdk::PolicyDetail]) -> Result<Vec<PolicyDetail>, AwsFailure> {
    policies
        .iter()
        .map(|policy| {
            Ok(PolicyDetail {
                policy_name: required(policy.policy_name(), "an inline PolicyName")?,
                policy_document: required(policy.policy_document(), "an inline PolicyDocument")?,
            })
        })
        .collect()
}

fn attached(policies: &[sdk::AttachedPolicy]) -> Result<Vec<AttachedPolicy>, AwsFailure> {
    policies
        .iter()
        .map(|policy| {
            Ok(AttachedPolicy {
                policy_name: owned(policy.policy_name()),
                policy_arn: required(policy.policy_arn(), "an attached PolicyArn")?,
            })
        })
        .collect()
}

fn boundary(
    boundary: Option<&sdk::AttachedPermissionsBoundary>,
) -> Result<Option<AttachedPermissionsBoundary>, AwsFailure> {
    boundary
        .map(|b| {
            Ok(AttachedPermissionsBoundary {
                permissions_boundary_type: b
                    .permissions_boundary_type()
                    .map(|t| t.as_str().to_owned()),
                permissions_boundary_arn: required(
                    b.permissions_boundary_arn(),
                    "a PermissionsBoundaryArn",
                )?,
            })
        })
        .transpose()
}

fn tags(tags: &[sdk::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|tag| Tag {
            key: tag.key().to_owned(),
            value: tag.value().to_owned(),
        })
        .collect()
}
