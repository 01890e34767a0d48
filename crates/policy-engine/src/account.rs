//! A whole account's IAM configuration, as `aws iam get-account-authorization-details` prints it
//! (the GetAccountAuthorizationDetails response: `UserDetailList`, `GroupDetailList`,
//! `RoleDetailList`, `Policies`), and the policies in force for each user and role.
//!
//! The types are 1:1 with AWS's (PascalCase keys), so a shell can fill them from SDK output
//! field by field. Documents arrive as JSON objects (the CLI prints them decoded) or as
//! percent-encoded strings (the API's form); both are kept as text for the engine's `decode`.
//! Unknown fields are ignored; an error names the JSON path at fault.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::access::{
    PolicySource, PrincipalKind, PrincipalPolicies, PrincipalRef, SourcedPolicy, Unresolved,
};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountError {
    #[error("the authorization details are not valid JSON: {0}")]
    Json(String),
    #[error("the authorization details at {path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error(
        "not the output of `aws iam get-account-authorization-details`: {0} (it is a JSON object \
         holding UserDetailList, GroupDetailList, RoleDetailList or Policies)"
    )]
    NotAuthorizationDetails(&'static str),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AuthorizationDetails {
    #[serde(rename = "UserDetailList", default)]
    pub users: Vec<UserDetail>,
    #[serde(rename = "GroupDetailList", default)]
    pub groups: Vec<GroupDetail>,
    #[serde(rename = "RoleDetailList", default)]
    pub roles: Vec<RoleDetail>,
    #[serde(rename = "Policies", default)]
    pub policies: Vec<ManagedPolicyDetail>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserDetail {
    pub user_name: String,
    #[serde(default)]
    pub user_id: Option<String>,
    /// When IAM created it (RFC 3339): one deleted and created again under the same name is
    /// another user, created later.
    #[serde(default, deserialize_with = "optional_text")]
    pub create_date: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub user_policy_list: Vec<PolicyDetail>,
    #[serde(default)]
    pub group_list: Vec<String>,
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(default)]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    pub group_name: String,
    #[serde(default)]
    pub group_id: Option<String>,
    /// When IAM created it (RFC 3339): one deleted and created again under the same name is
    /// another group, created later.
    #[serde(default, deserialize_with = "optional_text")]
    pub create_date: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub group_policy_list: Vec<PolicyDetail>,
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDetail {
    pub role_name: String,
    #[serde(default)]
    pub role_id: Option<String>,
    /// When IAM created it (RFC 3339): one deleted and created again under the same name is
    /// another role, created later.
    #[serde(default, deserialize_with = "optional_text")]
    pub create_date: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// The trust policy (who may assume the role): not an identity policy.
    #[serde(default, deserialize_with = "optional_document")]
    pub assume_role_policy_document: Option<String>,
    #[serde(default)]
    pub instance_profile_list: Vec<InstanceProfile>,
    #[serde(default)]
    pub role_policy_list: Vec<PolicyDetail>,
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    #[serde(default)]
    pub permissions_boundary: Option<AttachedPermissionsBoundary>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An inline policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDetail {
    pub policy_name: String,
    #[serde(deserialize_with = "document")]
    pub policy_document: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    #[serde(default)]
    pub policy_name: Option<String>,
    pub policy_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPermissionsBoundary {
    #[serde(default)]
    pub permissions_boundary_type: Option<String>,
    pub permissions_boundary_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceProfile {
    pub instance_profile_name: String,
    #[serde(default)]
    pub instance_profile_id: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicyDetail {
    #[serde(default)]
    pub policy_name: Option<String>,
    #[serde(default)]
    pub policy_id: Option<String>,
    pub arn: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub default_version_id: Option<String>,
    #[serde(default)]
    pub attachment_count: Option<u64>,
    #[serde(default)]
    pub permissions_boundary_usage_count: Option<u64>,
    #[serde(default)]
    pub is_attachable: Option<bool>,
    #[serde(default)]
    pub policy_version_list: Vec<PolicyVersion>,
}

impl ManagedPolicyDetail {
    /// Its default version: the one flagged so, or else the one `DefaultVersionId` names.
    pub fn default_version(&self) -> Option<&PolicyVersion> {
        let versions = &self.policy_version_list;
        versions.iter().find(|v| v.is_default_version).or_else(|| {
            versions
                .iter()
                .find(|v| v.version_id.is_some() && v.version_id == self.default_version_id)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    #[serde(default, deserialize_with = "optional_document")]
    pub document: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
    #[serde(default)]
    pub is_default_version: bool,
}

/// A document as text: a JSON object is kept as written, a string (percent-encoded JSON) is
/// unquoted.
fn document<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    let text = raw.get();
    if text.starts_with('"') {
        serde_json::from_str(text).map_err(serde::de::Error::custom)
    } else if text.starts_with('{') {
        Ok(text.to_owned())
    } else {
        Err(serde::de::Error::custom(
            "a policy document must be a JSON object or a string",
        ))
    }
}

fn optional_document<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    document(d).map(Some)
}

/// A string, or nothing: a value of another kind (a date written as a number by some other
/// tool) is left out, not a reason to refuse the whole account.
fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(text)) => Some(text),
        _ => None,
    })
}

impl AuthorizationDetails {
    pub fn from_json(text: &str) -> Result<Self, AccountError> {
        // Every list defaults to empty, so anything else (a policy, `{}`, another command's
        // output) would read as an account with nobody in it: a verdict that passes.
        if !text.trim_start().starts_with('{') {
            return Err(AccountError::NotAuthorizationDetails("not a JSON object"));
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let details: AuthorizationDetails = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    AccountError::Json(inner.to_string())
                } else {
                    AccountError::Invalid {
                        path,
                        problem: inner.to_string(),
                    }
                }
            })?;
        deserializer
            .end()
            .map_err(|e| AccountError::Json(e.to_string()))?;
        refuse_one_page_or_another_document(text)?;
        Ok(details)
    }

    /// Every user and role with the policies in force for it (inline, attached, through its
    /// groups) and its permissions boundary, resolved against `policies` (default version).
    /// An attachment or group the details do not hold is listed in `unresolved`.
    pub fn principals(&self) -> Result<Vec<PrincipalPolicies>, AccountError> {
        let managed = self.default_documents()?;
        let groups: HashMap<&str, &GroupDetail> = self
            .groups
            .iter()
            .map(|g| (g.group_name.as_str(), g))
            .collect();
        let mut principals = Vec::with_capacity(self.users.len() + self.roles.len());
        for user in &self.users {
            let owner = PrincipalRef {
                kind: PrincipalKind::User,
                name: user.user_name.clone(),
            };
            let mut p = Resolver::new(&managed, owner.clone(), &user.arn, &user.path);
            p.inline(&owner, &user.user_policy_list, None);
            p.attached(&user.attached_managed_policies, None);
            for name in &user.group_list {
                match groups.get(name.as_str()) {
                    Some(group) => {
                        let group_ref = PrincipalRef {
                            kind: PrincipalKind::Group,
                            name: group.group_name.clone(),
                        };
                        p.inline(&group_ref, &group.group_policy_list, Some(name));
                        p.attached(&group.attached_managed_policies, Some(name));
                    }
                    None => p.policies.unresolved.push(Unresolved::Group {
                        group_name: name.clone(),
                    }),
                }
            }
            p.boundary(user.permissions_boundary.as_ref());
            principals.push(p.policies);
        }
        for role in &self.roles {
            let owner = PrincipalRef {
                kind: PrincipalKind::Role,
                name: role.role_name.clone(),
            };
            let mut p = Resolver::new(&managed, owner.clone(), &role.arn, &role.path);
            p.inline(&owner, &role.role_policy_list, None);
            p.attached(&role.attached_managed_policies, None);
            p.boundary(role.permissions_boundary.as_ref());
            principals.push(p.policies);
        }
        Ok(principals)
    }

    /// Each managed policy's ARN -> its default version's id and document, shared.
    fn default_documents(&self) -> Result<DefaultDocuments<'_>, AccountError> {
        self.policies
            .iter()
            .enumerate()
            .map(|(i, policy)| {
                let default = policy.default_version();
                let Some((version, Some(document))) = default.map(|v| (v, &v.document)) else {
                    return Err(AccountError::Invalid {
                        path: format!("Policies[{i}]"),
                        problem: format!(
                            "managed policy {} has no default version with a Document",
                            policy.arn
                        ),
                    });
                };
                let version_id = version
                    .version_id
                    .clone()
                    .or(policy.default_version_id.clone());
                Ok((
                    policy.arn.as_str(),
                    (version_id, Arc::from(document.as_str())),
                ))
            })
            .collect()
    }
}

/// Each managed policy's ARN -> its default version's id and document.
type DefaultDocuments<'d> = HashMap<&'d str, (Option<String>, Arc<str>)>;

/// Refuses one page of several: the API's `IsTruncated` (with its `Marker`), or the CLI's
/// `NextToken` (`--max-items`). Principals or policies on other pages would be missing, and a
/// verdict without them would look complete. Refuses an object with none of the four lists
/// too. A second pass that skips every value is cheap.
fn refuse_one_page_or_another_document(text: &str) -> Result<(), AccountError> {
    #[derive(Deserialize)]
    struct Outline {
        #[serde(rename = "IsTruncated", default)]
        is_truncated: bool,
        #[serde(rename = "NextToken", default)]
        next_token: Option<IgnoredAny>,
        #[serde(rename = "UserDetailList", default)]
        users: Option<IgnoredAny>,
        #[serde(rename = "GroupDetailList", default)]
        groups: Option<IgnoredAny>,
        #[serde(rename = "RoleDetailList", default)]
        roles: Option<IgnoredAny>,
        #[serde(rename = "Policies", default)]
        policies: Option<IgnoredAny>,
    }
    let outline: Outline =
        serde_json::from_str(text).map_err(|e| AccountError::Json(e.to_string()))?;
    let lists = [
        &outline.users,
        &outline.groups,
        &outline.roles,
        &outline.policies,
    ];
    if lists.iter().all(|list| list.is_none()) {
        return Err(AccountError::NotAuthorizationDetails(
            "it holds none of their lists",
        ));
    }
    let key = match (outline.is_truncated, outline.next_token.is_some()) {
        (true, _) => "IsTruncated",
        (false, true) => "NextToken",
        (false, false) => return Ok(()),
    };
    Err(AccountError::Invalid {
        path: key.to_owned(),
        problem: "the file is one page of several; save every page as one document (the AWS \
                  CLI does by default: without --max-items or --no-paginate)"
            .to_owned(),
    })
}

/// Builds one principal's policies.
struct Resolver<'m> {
    managed: &'m DefaultDocuments<'m>,
    policies: PrincipalPolicies,
}

impl<'m> Resolver<'m> {
    fn new(
        managed: &'m DefaultDocuments<'m>,
        principal: PrincipalRef,
        arn: &Option<String>,
        path: &Option<String>,
    ) -> Self {
        Resolver {
            managed,
            policies: PrincipalPolicies {
                principal,
                arn: arn.clone(),
                path: path.clone(),
                identity: Vec::new(),
                boundary: None,
                unresolved: Vec::new(),
            },
        }
    }

    fn inline(&mut self, owner: &PrincipalRef, list: &[PolicyDetail], group: Option<&String>) {
        self.policies
            .identity
            .extend(list.iter().map(|policy| SourcedPolicy {
                source: PolicySource::Inline {
                    owner: owner.clone(),
                    policy_name: policy.policy_name.clone(),
                },
                through_group: group.cloned(),
                document: Arc::from(policy.policy_document.as_str()),
            }));
    }

    fn attached(&mut self, list: &[AttachedPolicy], group: Option<&String>) {
        for attached in list {
            match self.managed_policy(&attached.policy_arn, group) {
                Some(sourced) => self.policies.identity.push(sourced),
                None => self.policies.unresolved.push(Unresolved::ManagedPolicy {
                    policy_arn: attached.policy_arn.clone(),
                    through_group: group.cloned(),
                }),
            }
        }
    }

    fn boundary(&mut self, boundary: Option<&AttachedPermissionsBoundary>) {
        let Some(arn) = boundary.map(|b| &b.permissions_boundary_arn) else {
            return;
        };
        match self.managed_policy(arn, None) {
            Some(sourced) => self.policies.boundary = Some(sourced),
            None => self.policies.unresolved.push(Unresolved::Boundary {
                policy_arn: arn.clone(),
            }),
        }
    }

    fn managed_policy(&self, arn: &str, group: Option<&String>) -> Option<SourcedPolicy> {
        let (version_id, document) = self.managed.get(arn)?;
        Some(SourcedPolicy {
            source: PolicySource::Managed {
                policy_arn: arn.to_owned(),
                version_id: version_id.clone(),
            },
            through_group: group.cloned(),
            document: document.clone(),
        })
    }
}
