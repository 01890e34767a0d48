//! IAM, as the workflow needs it: read documents (raw or percent-encoded), write quarantines,
//! restore originals. A missing entity reads as `None`; every other failure is classified.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::SummaryKeyType;
use incident::quarantine::VersionSummary;
use incident::{Principal, PrincipalId, PrincipalKind};

use crate::error::AwsFailure;

type Result<T> = std::result::Result<T, AwsFailure>;

/// IAM's user, role and group flavours of a call differ only in names. Runs `body` with
/// `request` bound to the right builder (principal name already set) and `call` to the
/// operation's name, so one body serves all three kinds.
macro_rules! for_principal {
    ($client:expr, $principal:expr,
     [$user:ident: $user_call:literal, $role:ident: $role_call:literal, $group:ident: $group_call:literal],
     |$request:ident, $call:ident| $body:expr) => {{
        let name = $principal.name.as_str();
        match $principal.kind {
            PrincipalKind::User => {
                let ($request, $call) = ($client.$user().user_name(name), $user_call);
                $body
            }
            PrincipalKind::Role => {
                let ($request, $call) = ($client.$role().role_name(name), $role_call);
                $body
            }
            PrincipalKind::Group => {
                let ($request, $call) = ($client.$group().group_name(name), $group_call);
                $body
            }
        }
    }};
}

#[derive(Clone)]
pub struct IamPolicies {
    client: Client,
}

/// IAM writes make one attempt: the SDK would retry a write whose answer timed out although
/// IAM made it (a second quarantine version, or NoSuchEntity detaching what is detached). The
/// step is retried instead, and reads first, so it recognises its own earlier work.
fn one_attempt() -> aws_sdk_iam::config::Builder {
    aws_sdk_iam::config::Builder::default()
        .retry_config(aws_sdk_iam::config::retry::RetryConfig::standard().with_max_attempts(1))
}

/// `Ok(None)` for IAM's NoSuchEntity, so callers can tell "gone" from "failed".
pub(crate) fn absent_if_missing<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(failure) if failure.is("NoSuchEntity") => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// IAM hands documents out percent-encoded (and some emulators as raw JSON): return JSON text.
fn readable(document: &str) -> String {
    policy_engine::decode(document).map_or_else(|_| document.to_owned(), |json| json.into_owned())
}

impl IamPolicies {
    pub fn new(client: Client) -> Self {
        IamPolicies { client }
    }

    /// The default version of a managed policy and its document.
    pub async fn default_version(&self, policy_arn: &str) -> Result<Option<(String, String)>> {
        let policy = self.client.get_policy().policy_arn(policy_arn).send().await;
        let Some(policy) =
            absent_if_missing(policy.map_err(|e| AwsFailure::from_sdk("GetPolicy", e)))?
        else {
            return Ok(None);
        };
        let Some(version_id) = policy.policy().and_then(|p| p.default_version_id()) else {
            return Ok(None);
        };
        match self.version_document(policy_arn, version_id).await? {
            Some(document) => Ok(Some((version_id.to_owned(), document))),
            // The policy is there but not its default: one read is stale (the default just
            // changed), not the policy gone. The step's retry reads both again.
            None => {
                let mut failure = AwsFailure::with_code(
                    "GetPolicyVersion",
                    Some("NoSuchEntity".into()),
                    &format!(
                        "{policy_arn} names {version_id} its default, which IAM does not have"
                    ),
                );
                failure.retryable = true;
                Err(failure)
            }
        }
    }

    pub async fn version_document(
        &self,
        policy_arn: &str,
        version_id: &str,
    ) -> Result<Option<String>> {
        let version = self
            .client
            .get_policy_version()
            .policy_arn(policy_arn)
            .version_id(version_id)
            .send()
            .await;
        let version =
            absent_if_missing(version.map_err(|e| AwsFailure::from_sdk("GetPolicyVersion", e)))?;
        Ok(version.and_then(|v| v.policy_version().and_then(|p| p.document()).map(readable)))
    }

    pub async fn versions(&self, policy_arn: &str) -> Result<Vec<VersionSummary>> {
        let output = self
            .client
            .list_policy_versions()
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("ListPolicyVersions", e))?;
        let versions = output
            .versions()
            .iter()
            .filter_map(|v| {
                Some(VersionSummary {
                    version_id: v.version_id()?.to_owned(),
                    is_default: v.is_default_version(),
                    created: v.create_date().map_or(0, |d| d.secs()),
                })
            })
            .collect();
        Ok(versions)
    }

    /// Creates a version and makes it the default; returns its id.
    pub async fn create_default_version(&self, policy_arn: &str, document: &str) -> Result<String> {
        let output = self
            .client
            .create_policy_version()
            .policy_arn(policy_arn)
            .policy_document(document)
            .set_as_default(true)
            .customize()
            .config_override(one_attempt())
            .send()
            .await
            .map_err(|e| {
                let mut failure = AwsFailure::from_sdk("CreatePolicyVersion", e);
                // Five versions already: one IAM did not list yet when the step made room, or
                // one created since. The step's retry reads the versions again and makes room.
                // (IAM gives the same code for a document over its size quota, "PolicySize",
                // which no retry mends.)
                failure.retryable |=
                    failure.is("LimitExceeded") && !failure.message.contains("PolicySize");
                failure
            })?;
        output
            .policy_version()
            .and_then(|v| v.version_id())
            .map(str::to_owned)
            .ok_or_else(|| {
                AwsFailure::unusable_answer("CreatePolicyVersion", "returned no version id")
            })
    }

    pub async fn delete_version(&self, policy_arn: &str, version_id: &str) -> Result<()> {
        let deleted = self
            .client
            .delete_policy_version()
            .policy_arn(policy_arn)
            .version_id(version_id)
            .customize()
            .config_override(one_attempt())
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DeletePolicyVersion", e));
        // Gone already (an earlier attempt's deletion whose answer was lost): what was wanted.
        absent_if_missing(deleted).map(drop)
    }

    pub async fn set_default_version(&self, policy_arn: &str, version_id: &str) -> Result<()> {
        self.client
            .set_default_policy_version()
            .policy_arn(policy_arn)
            .version_id(version_id)
            .customize()
            .config_override(one_attempt())
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("SetDefaultPolicyVersion", e))?;
        Ok(())
    }

    /// An inline policy's document, or None when it does not exist.
    pub async fn inline_document(
        &self,
        principal: &Principal,
        policy_name: &str,
    ) -> Result<Option<String>> {
        let document = for_principal!(
            self.client, principal, [get_user_policy: "GetUserPolicy", get_role_policy: "GetRolePolicy", get_group_policy: "GetGroupPolicy"],
            |request, call| request
                .policy_name(policy_name)
                .send()
                .await
                .map(|o| o.policy_document().to_owned())
                .map_err(|e| AwsFailure::from_sdk(call, e))
        );
        Ok(absent_if_missing(document)?.map(|d| readable(&d)))
    }

    /// The names of all the principal's inline policies.
    pub async fn inline_policy_names(&self, principal: &Principal) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let (page, truncated, next) = for_principal!(
                self.client, principal, [list_user_policies: "ListUserPolicies", list_role_policies: "ListRolePolicies", list_group_policies: "ListGroupPolicies"],
                |request, call| request
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map(|o| (o.policy_names().to_vec(), o.is_truncated(), o.marker().map(str::to_owned)))
                    .map_err(|e| AwsFailure::from_sdk(call, e))
            )?;
            names.extend(page);
            match next {
                Some(next) if truncated => marker = Some(next),
                _ => return Ok(names),
            }
        }
    }

    pub async fn put_inline(
        &self,
        principal: &Principal,
        policy_name: &str,
        document: &str,
    ) -> Result<()> {
        for_principal!(
            self.client, principal, [put_user_policy: "PutUserPolicy", put_role_policy: "PutRolePolicy", put_group_policy: "PutGroupPolicy"],
            |request, call| request
                .policy_name(policy_name)
                .policy_document(document)
                .customize()
                .config_override(one_attempt())
                .send()
                .await
                .map(drop)
                .map_err(|e| AwsFailure::from_sdk(call, e))
        )
    }

    pub async fn delete_inline(&self, principal: &Principal, policy_name: &str) -> Result<()> {
        for_principal!(
            self.client, principal, [delete_user_policy: "DeleteUserPolicy", delete_role_policy: "DeleteRolePolicy", delete_group_policy: "DeleteGroupPolicy"],
            |request, call| request.policy_name(policy_name).customize().config_override(one_attempt()).send().await.map(drop).map_err(|e| read_again_if_missing(AwsFailure::from_sdk(call, e)))
        )
    }

    /// The unique id IAM gave the user, role or group (GetUser, GetRole, GetGroup); `None` when
    /// it does not exist.
    pub async fn principal_id(&self, principal: &Principal) -> Result<Option<String>> {
        if principal.kind != PrincipalKind::Group {
            return Ok(self.principal_info(principal).await?.map(|info| info.id));
        }
        // One member is enough: only the group itself is read.
        let group = (self.client.get_group())
            .group_name(&principal.name)
            .max_items(1)
            .send()
            .await
            .map(|o| o.group().map(|g| g.group_id().to_owned()))
            .map_err(|e| AwsFailure::from_sdk("GetGroup", e));
        Ok(absent_if_missing(group)?.flatten())
    }

    /// Each principal with the unique id IAM has for it now (`principal_id`).
    pub async fn principal_ids(&self, principals: Vec<Principal>) -> Result<Vec<PrincipalId>> {
        let mut ids = Vec::with_capacity(principals.len());
        for principal in principals {
            let id = self.principal_id(&principal).await?;
            ids.push(PrincipalId { principal, id });
        }
        Ok(ids)
    }

    /// The ARNs of the managed policies attached to the principal; `None` when it is gone.
    pub async fn attached_policy_arns(&self, principal: &Principal) -> Result<Option<Vec<String>>> {
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = for_principal!(
                self.client, principal, [list_attached_user_policies: "ListAttachedUserPolicies", list_attached_role_policies: "ListAttachedRolePolicies", list_attached_group_policies: "ListAttachedGroupPolicies"],
                |request, call| request
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map(|o| (attached_arns(o.attached_policies()), o.is_truncated(), o.marker().map(str::to_owned)))
                    .map_err(|e| AwsFailure::from_sdk(call, e))
            );
            let Some((page, truncated, next)) = absent_if_missing(page)? else {
                return Ok(None);
            };
            arns.extend(page);
            match next {
                Some(next) if truncated => marker = Some(next),
                _ => return Ok(Some(arns)),
            }
        }
    }

    /// The users, roles and groups a managed policy is attached to as a permissions policy (not
    /// those it bounds), every page; none when the policy is gone.
    pub async fn attached_to(&self, policy_arn: &str) -> Result<Vec<PrincipalId>> {
        let mut attached = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_entities_for_policy()
                .policy_arn(policy_arn)
                .policy_usage_filter(aws_sdk_iam::types::PolicyUsageType::PermissionsPolicy)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsFailure::from_sdk("ListEntitiesForPolicy", e));
            let Some(page) = absent_if_missing(page)? else {
                return Ok(Vec::new());
            };
            let principal = |kind, name: Option<&str>, id: Option<&str>| {
                name.map(|name| PrincipalId {
                    principal: Principal {
                        kind,
                        name: name.to_owned(),
                    },
                    id: id.map(str::to_owned),
                })
            };
            attached.extend(
                (page.policy_users().iter())
                    .filter_map(|u| principal(PrincipalKind::User, u.user_name(), u.user_id()))
                    .chain(
                        (page.policy_roles().iter()).filter_map(|r| {
                            principal(PrincipalKind::Role, r.role_name(), r.role_id())
                        }),
                    )
                    .chain((page.policy_groups().iter()).filter_map(|g| {
                        principal(PrincipalKind::Group, g.group_name(), g.group_id())
                    })),
            );
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => return Ok(attached),
            }
        }
    }

    /// Whether a managed policy is attached to the principal (false when the principal is gone).
    pub async fn is_attached(&self, principal: &Principal, policy_arn: &str) -> Result<bool> {
        Ok(self
            .attached_policy_arns(principal)
            .await?
            .is_some_and(|arns| arns.iter().any(|a| a == policy_arn)))
    }

    pub async fn attach(&self, principal: &Principal, policy_arn: &str) -> Result<()> {
        for_principal!(
            self.client, principal, [attach_user_policy: "AttachUserPolicy", attach_role_policy: "AttachRolePolicy", attach_group_policy: "AttachGroupPolicy"],
            |request, call| request.policy_arn(policy_arn).customize().config_override(one_attempt()).send().await.map(drop).map_err(|e| AwsFailure::from_sdk(call, e))
        )
    }

    pub async fn detach(&self, principal: &Principal, policy_arn: &str) -> Result<()> {
        for_principal!(
            self.client, principal, [detach_user_policy: "DetachUserPolicy", detach_role_policy: "DetachRolePolicy", detach_group_policy: "DetachGroupPolicy"],
            |request, call| request.policy_arn(policy_arn).customize().config_override(one_attempt()).send().await.map(drop).map_err(|e| read_again_if_missing(AwsFailure::from_sdk(call, e)))
        )
    }
}

/// A user or role as IAM describes it: its ARN, path, creation time, permissions boundary (the
/// policy ARN) and, for a role, its trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    pub arn: String,
    /// The unique id IAM gave it (`AIDA…`, `AROA…`).
    pub id: String,
    pub path: String,
    /// IAM's `CreateDate`, in whole seconds: a user or role deleted and created again under the
    /// same name is a new principal from then on. `None` when it cannot be read as a time.
    pub created: Option<time::OffsetDateTime>,
    pub boundary_arn: Option<String>,
    /// A role's trust policy (JSON text).
    pub trust_policy: Option<String>,
}

impl IamPolicies {
    /// GetUser or GetRole; `None` when the principal is gone (a group has no boundary: `None`).
    pub async fn principal_info(&self, principal: &Principal) -> Result<Option<PrincipalInfo>> {
        let boundary = |b: Option<&aws_sdk_iam::types::AttachedPermissionsBoundary>| {
            b.and_then(|b| b.permissions_boundary_arn())
                .map(str::to_owned)
        };
        let created = |d: &aws_sdk_iam::primitives::DateTime| {
            time::OffsetDateTime::from_unix_timestamp(d.secs()).ok()
        };
        let info = match principal.kind {
            PrincipalKind::User => self
                .client
                .get_user()
                .user_name(&principal.name)
                .send()
                .await
                .map_err(|e| AwsFailure::from_sdk("GetUser", e))
                .map(|o| {
                    o.user().map(|u| PrincipalInfo {
                        arn: u.arn().to_owned(),
                        id: u.user_id().to_owned(),
                        path: u.path().to_owned(),
                        created: created(u.create_date()),
                        boundary_arn: boundary(u.permissions_boundary()),
                        trust_policy: None,
                    })
                }),
            PrincipalKind::Role => self
                .client
                .get_role()
                .role_name(&principal.name)
                .send()
                .await
                .map_err(|e| AwsFailure::from_sdk("GetRole", e))
                .map(|o| {
                    o.role().map(|r| PrincipalInfo {
                        arn: r.arn().to_owned(),
                        id: r.role_id().to_owned(),
                        path: r.path().to_owned(),
                        created: created(r.create_date()),
                        boundary_arn: boundary(r.permissions_boundary()),
                        trust_policy: r.assume_role_policy_document().map(readable),
                    })
                }),
            PrincipalKind::Group => return Ok(None),
        };
        Ok(absent_if_missing(info)?.flatten())
    }

    /// How many managed policies IAM lets a principal of `kind` have attached in this account,
    /// as GetAccountSummary reports it (10 by default); `None` when it does not.
    pub async fn attached_policies_quota(&self, kind: PrincipalKind) -> Result<Option<usize>> {
        self.account_quota(match kind {
            PrincipalKind::User => SummaryKeyType::AttachedPoliciesPerUserQuota,
            PrincipalKind::Role => SummaryKeyType::AttachedPoliciesPerRoleQuota,
            PrincipalKind::Group => SummaryKeyType::AttachedPoliciesPerGroupQuota,
        })
        .await
    }

    /// How many groups IAM lets a user be in, as GetAccountSummary reports it (10); `None`
    /// when it does not.
    pub async fn groups_per_user_quota(&self) -> Result<Option<usize>> {
        self.account_quota(SummaryKeyType::GroupsPerUserQuota).await
    }

    async fn account_quota(&self, key: SummaryKeyType) -> Result<Option<usize>> {
        let summary = (self.client.get_account_summary().send().await)
            .map_err(|e| AwsFailure::from_sdk("GetAccountSummary", e))?;
        Ok(summary
            .summary_map()
            .and_then(|map| map.get(&key))
            .and_then(|&quota| usize::try_from(quota).ok()))
    }

    /// The names of the groups a user is in; `None` when the user is gone.
    pub async fn groups_for_user(&self, user: &str) -> Result<Option<Vec<String>>> {
        let mut groups = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_groups_for_user()
                .user_name(user)
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| AwsFailure::from_sdk("ListGroupsForUser", e));
            let Some(page) = absent_if_missing(page)? else {
                return Ok(None);
            };
            groups.extend(page.groups().iter().map(|g| g.group_name().to_owned()));
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => return Ok(Some(groups)),
            }
        }
    }

    pub async fn add_user_to_group(&self, user: &str, group: &str) -> Result<()> {
        self.client
            .add_user_to_group()
            .user_name(user)
            .group_name(group)
            .customize()
            .config_override(one_attempt())
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsFailure::from_sdk("AddUserToGroup", e))
    }

    pub async fn remove_user_from_group(&self, user: &str, group: &str) -> Result<()> {
        self.client
            .remove_user_from_group()
            .user_name(user)
            .group_name(group)
            .customize()
            .config_override(one_attempt())
            .send()
            .await
            .map(drop)
            .map_err(|e| read_again_if_missing(AwsFailure::from_sdk("RemoveUserFromGroup", e)))
    }
}

/// A detachment, deletion or group removal IAM answers NoSuchEntity: done already (an earlier
/// attempt whose answer was lost, then a stale read still showing it) or the principal gone.
/// Either way the step's retry reads IAM again, and recognises its own work or the principal
/// gone.
fn read_again_if_missing(mut failure: AwsFailure) -> AwsFailure {
    failure.retryable |= failure.is("NoSuchEntity");
    failure
}

fn attached_arns(policies: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<String> {
    policies
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

/// An IAM write, made once (`one_attempt`), its failure named after `call`.
macro_rules! write_once {
    ($request:expr, $call:literal) => {
        $request
            .customize()
            .config_override(one_attempt())
            .send()
            .await
            .map(drop)
            .map_err(|e| AwsFailure::from_sdk($call, e))
    };
}

/// Permissions boundaries: users and roles have one, groups none.
impl IamPolicies {
    /// Makes `boundary_arn` the principal's permissions boundary.
    pub async fn put_boundary(&self, principal: &Principal, boundary_arn: &str) -> Result<()> {
        let name = principal.name.as_str();
        match principal.kind {
            PrincipalKind::User => write_once!(
                self.client
                    .put_user_permissions_boundary()
                    .user_name(name)
                    .permissions_boundary(boundary_arn),
                "PutUserPermissionsBoundary"
            ),
            PrincipalKind::Role => write_once!(
                self.client
                    .put_role_permissions_boundary()
                    .role_name(name)
                    .permissions_boundary(boundary_arn),
                "PutRolePermissionsBoundary"
            ),
            PrincipalKind::Group => Err(no_group_boundary("PutPermissionsBoundary")),
        }
    }

    /// Deletes the principal's permissions boundary.
    pub async fn delete_boundary(&self, principal: &Principal) -> Result<()> {
        let name = principal.name.as_str();
        match principal.kind {
            PrincipalKind::User => write_once!(
                self.client
                    .delete_user_permissions_boundary()
                    .user_name(name),
                "DeleteUserPermissionsBoundary"
            ),
            PrincipalKind::Role => write_once!(
                self.client
                    .delete_role_permissions_boundary()
                    .role_name(name),
                "DeleteRolePermissionsBoundary"
            ),
            PrincipalKind::Group => Err(no_group_boundary("DeletePermissionsBoundary")),
        }
    }
}

fn no_group_boundary(call: &str) -> AwsFailure {
    AwsFailure::unusable_answer(call, "is not a call for a group: groups have no boundary")
}
