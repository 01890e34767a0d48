//! The policies in force for a user or role, read from IAM, for the engine's effective access
//! (`policy_engine::access`): its inline and attached policies, a user's groups' inline and
//! attached policies, and its permissions boundary, each managed policy at its default version.
//! Every list is read to its last page.

use incident::{Principal, PrincipalKind};
use policy_engine::access::{
    PolicySource, PrincipalPolicies, PrincipalRef, SourcedPolicy, Unresolved,
};
use time::OffsetDateTime;

use crate::error::AwsFailure;
use crate::iam::{IamPolicies, absent_if_missing};

type Result<T> = std::result::Result<T, AwsFailure>;

/// Everything in force for a user or role; `None` when it does not exist (or is a group). A
/// policy deleted between being listed and being read is no longer in force and is left out; a
/// boundary whose policy cannot be read is `unresolved` (nothing is known to limit the
/// principal).
pub async fn principal_policies(
    iam: &IamPolicies,
    principal: &Principal,
) -> Result<Option<PrincipalPolicies>> {
    Ok(principal_since(iam, principal)
        .await?
        .map(|(policies, _)| policies))
}

/// [`principal_policies`], with when IAM created the principal (`PrincipalInfo::created`).
pub async fn principal_since(
    iam: &IamPolicies,
    principal: &Principal,
) -> Result<Option<(PrincipalPolicies, Option<OffsetDateTime>)>> {
    let Some(info) = iam.principal_info(principal).await? else {
        return Ok(None);
    };
    let Some(mut identity) = own_policies(iam, principal, None).await? else {
        return Ok(None);
    };
    if principal.kind == PrincipalKind::User {
        let Some(groups) = iam.groups_for_user(&principal.name).await? else {
            return Ok(None);
        };
        for group in groups {
            // A group deleted since it was listed grants nothing.
            if let Some(policies) = group_policies(iam, &group).await? {
                identity.extend(policies);
            }
        }
    }
    let mut unresolved = Vec::new();
    let boundary = match info.boundary_arn {
        Some(policy_arn) => match iam.default_version(&policy_arn).await? {
            Some((version_id, document)) => Some(SourcedPolicy {
                source: PolicySource::Managed {
                    policy_arn,
                    version_id: Some(version_id),
                },
                through_group: None,
                document: document.into(),
            }),
            None => {
                unresolved.push(Unresolved::Boundary { policy_arn });
                None
            }
        },
        None => None,
    };
    let policies = PrincipalPolicies {
        principal: reference(principal),
        arn: Some(info.arn),
        path: Some(info.path),
        identity,
        boundary,
        unresolved,
    };
    Ok(Some((policies, info.created)))
}

/// The principal's inline policies other than `policy_name`, as IAM holds them: what shares
/// its inline-policy quota with that one. None when the principal is gone.
pub async fn other_inline_documents(
    iam: &IamPolicies,
    principal: &Principal,
    policy_name: &str,
) -> Result<Vec<String>> {
    let Some(names) = absent_if_missing(iam.inline_policy_names(principal).await)? else {
        return Ok(Vec::new());
    };
    let mut documents = Vec::new();
    for other in names {
        if other != policy_name
            && let Some(document) = iam.inline_document(principal, &other).await?
        {
            documents.push(document);
        }
    }
    Ok(documents)
}

/// A group's own inline and attached policies, each marked as through the group; `None` when
/// the group does not exist.
pub async fn group_policies(iam: &IamPolicies, group: &str) -> Result<Option<Vec<SourcedPolicy>>> {
    let group = Principal {
        kind: PrincipalKind::Group,
        name: group.to_owned(),
    };
    own_policies(iam, &group, Some(&group.name)).await
}

/// The principal's own inline and attached policies; `None` when it does not exist.
async fn own_policies(
    iam: &IamPolicies,
    principal: &Principal,
    through_group: Option<&str>,
) -> Result<Option<Vec<SourcedPolicy>>> {
    let Some(names) = absent_if_missing(iam.inline_policy_names(principal).await)? else {
        return Ok(None);
    };
    let Some(attached) = iam.attached_policy_arns(principal).await? else {
        return Ok(None);
    };
    let through_group = through_group.map(str::to_owned);
    let mut policies = Vec::new();
    for policy_name in names {
        if let Some(document) = iam.inline_document(principal, &policy_name).await? {
            policies.push(SourcedPolicy {
                source: PolicySource::Inline {
                    owner: reference(principal),
                    policy_name,
                },
                through_group: through_group.clone(),
                document: document.into(),
            });
        }
    }
    for policy_arn in attached {
        if let Some((version_id, document)) = iam.default_version(&policy_arn).await? {
            policies.push(SourcedPolicy {
                source: PolicySource::Managed {
                    policy_arn,
                    version_id: Some(version_id),
                },
                through_group: through_group.clone(),
                document: document.into(),
            });
        }
    }
    Ok(Some(policies))
}

fn reference(principal: &Principal) -> PrincipalRef {
    PrincipalRef {
        kind: principal.kind,
        name: principal.name.clone(),
    }
}
