//! The reads the permissions-boundary grant path shares between Analyse and Quarantine: the
//! previous boundary (the ledger's, with its document from IAM), the stack's quarantine boundary,
//! and a boundary policy's document. `incident::boundary` decides.

use incident::Principal;
use incident::boundary::{Boundary, Previous, PreviousArn, previous_from_ledger};
use incident::decision_log::boundary_key;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::decisions::DecisionTable;
use crate::error::StepError;
use crate::iam::IamPolicies;

/// A boundary policy and its default document; `None` when the policy no longer exists.
pub async fn boundary(iam: &IamPolicies, arn: &str) -> Result<Option<Boundary>, StepError> {
    Ok(iam
        .default_version(arn)
        .await?
        .map(|(_, document)| Boundary {
            arn: arn.to_owned(),
            document,
        }))
}

/// The stack's quarantine boundary (`QUARANTINE_BOUNDARY_ARN`): the stack creates it, so its
/// absence is a broken deployment, not a conclusion.
pub async fn quarantine_boundary(iam: &IamPolicies, arn: &str) -> Result<Boundary, StepError> {
    boundary(iam, arn).await?.ok_or_else(|| {
        StepError::Configuration(format!(
            "the quarantine boundary {arn} (QUARANTINE_BOUNDARY_ARN) does not exist"
        ))
    })
}

/// The previous boundary by name, with its document: a policy that no longer exists cannot be
/// compared with or put back, so it reads as unknown.
pub async fn resolve(iam: &IamPolicies, previous: PreviousArn) -> Result<Previous, StepError> {
    Ok(match previous {
        PreviousArn::Unknown => Previous::Unknown,
        PreviousArn::NoBoundary => Previous::NoBoundary,
        PreviousArn::Policy(arn) => match boundary(iam, &arn).await? {
            Some(boundary) => Previous::Policy(boundary),
            None => Previous::Unknown,
        },
    })
}

/// The boundary the ledger saw in force for `principal` before a change made at `event_time`.
pub async fn previous(
    decisions: &DecisionTable,
    iam: &IamPolicies,
    principal: &Principal,
    event_time: &str,
) -> Result<Previous, StepError> {
    let seen = decisions
        .boundary_seen(&boundary_key(principal.kind, &principal.name))
        .await?;
    let changed_at = OffsetDateTime::parse(event_time, &Rfc3339).ok();
    resolve(iam, previous_from_ledger(seen.as_ref(), changed_at)).await
}

/// Records in the ledger that `principal` has `boundary_arn` (`None`: none) in force now.
pub async fn record(
    decisions: &DecisionTable,
    principal: &Principal,
    boundary_arn: Option<&str>,
    source: &str,
) -> Result<(), StepError> {
    decisions
        .put_boundary(
            &boundary_key(principal.kind, &principal.name),
            boundary_arn,
            source,
            OffsetDateTime::now_utc(),
        )
        .await
}
