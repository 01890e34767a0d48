//! The reads the permissions-boundary grant path shares between Analyse and Quarantine: the
//! previous boundary (the ledger's, with its document from IAM), the stack's quarantine boundary,
//! and a boundary policy's document. `incident::boundary` decides.

use incident::Principal;
use incident::boundary::{Boundary, Previous, PreviousArn, previous_from_ledger, previous_policy};
use incident::decision_log::{boundary_key, canonical_digest};
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

/// The previous boundary by name, with its document: a policy that no longer exists, or whose
/// document is no longer the one seen, cannot be compared with or put back, so it reads as
/// unknown (`incident::boundary::previous_policy`).
pub async fn resolve(iam: &IamPolicies, previous: PreviousArn) -> Result<Previous, StepError> {
    Ok(match previous {
        PreviousArn::Unknown => Previous::Unknown,
        PreviousArn::NoBoundary => Previous::NoBoundary,
        PreviousArn::Policy { arn, digest } => {
            previous_policy(digest.as_deref(), boundary(iam, &arn).await?)
        }
    })
}

/// The boundary the ledger saw in force for `principal`, created at `created`, before a change
/// made at `event_time`.
pub async fn previous(
    decisions: &DecisionTable,
    iam: &IamPolicies,
    principal: &Principal,
    created: Option<OffsetDateTime>,
    event_time: &str,
) -> Result<Previous, StepError> {
    let seen = decisions
        .boundary_seen(&boundary_key(principal.kind, &principal.name))
        .await?;
    let changed_at = OffsetDateTime::parse(event_time, &Rfc3339).ok();
    resolve(
        iam,
        previous_from_ledger(seen.as_ref(), created, changed_at),
    )
    .await
}

/// What the ledger records of a boundary in force: its ARN (`None`: none), and the digest of
/// its document (`None` when it could not be read: a later change then compares with an
/// unknown boundary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce<'a> {
    pub arn: Option<&'a str>,
    pub digest: Option<String>,
}

impl<'a> InForce<'a> {
    /// A boundary policy whose document was read.
    pub fn policy(boundary: &'a Boundary) -> Self {
        InForce {
            arn: Some(&boundary.arn),
            digest: canonical_digest(&boundary.document),
        }
    }

    /// The boundary named `arn` (`None`: none), with its document where it was read (`read`);
    /// one named but not read (gone, or unreadable) is known by name only.
    pub fn named(arn: Option<&'a str>, read: Option<&'a Boundary>) -> Self {
        match read {
            Some(boundary) => InForce::policy(boundary),
            None => InForce { arn, digest: None },
        }
    }
}

/// Records in the ledger that `principal` has `in_force` now.
pub async fn record(
    decisions: &DecisionTable,
    principal: &Principal,
    in_force: InForce<'_>,
    source: &str,
) -> Result<(), StepError> {
    decisions
        .put_boundary(
            &boundary_key(principal.kind, &principal.name),
            in_force.arn,
            in_force.digest.as_deref(),
            source,
            OffsetDateTime::now_utc(),
        )
        .await
}
