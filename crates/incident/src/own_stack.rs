//! iam-sentinel's own roles. The policy writer may not touch them (the template denies it), so
//! a restricted grant on one is reported, never quarantined: the stack's own updates are not
//! fought, and anyone else's change to them is told loudly.

use crate::event::{PolicyChange, Principal, PrincipalKind, Target};

/// CloudTrail's name for changes CloudFormation made (the deployment itself).
const CLOUDFORMATION: &str = "cloudformation.amazonaws.com";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnRoles(Vec<String>);

impl OwnRoles {
    /// A comma-separated list of role names.
    pub fn parse(list: &str) -> OwnRoles {
        OwnRoles(
            list.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether `role` is one of these roles, in any case: IAM's role names are unique whatever
    /// their case, and a call may name a role in another case than it was created with.
    pub fn contains(&self, role: &str) -> bool {
        self.0.iter().any(|name| name.eq_ignore_ascii_case(role))
    }

    /// Why a grant made by `change` is reported instead of quarantined, when its target is one
    /// of these roles (a trust policy is always reported: then why it deserves a look).
    pub fn protects(&self, change: &PolicyChange) -> Option<String> {
        let role;
        let principal = match &change.target {
            Target::InlinePolicy { principal, .. }
            | Target::Attachment { principal, .. }
            | Target::PermissionsBoundary { principal } => principal,
            // Whoever an own role's trust policy lets in acts as iam-sentinel.
            Target::TrustPolicy { role_name } => {
                role = Principal {
                    kind: PrincipalKind::Role,
                    name: role_name.clone(),
                };
                &role
            }
            Target::ManagedPolicy { .. } | Target::GroupMembership { .. } => return None,
        };
        if principal.kind != PrincipalKind::Role || !self.contains(&principal.name) {
            return None;
        }
        let by_the_deployment = change.actor.invoked_by.as_deref() == Some(CLOUDFORMATION)
            || change.source_ip.as_deref() == Some(CLOUDFORMATION);
        Some(if by_the_deployment {
            format!(
                "{} is one of iam-sentinel's own roles, changed through CloudFormation (its \
                 deployment, or any other stack: CloudTrail's userIdentity says whose). \
                 iam-sentinel never quarantines its own roles; check that this grant belongs in \
                 its template.",
                principal.name
            )
        } else {
            format!(
                "{} is one of iam-sentinel's own roles, changed outside its deployment by {}. \
                 iam-sentinel's policy writer may not touch its own roles, so nothing was \
                 quarantined: someone is changing the security control itself. Look at this now.",
                principal.name,
                change.actor.display_name()
            )
        })
    }
}
