//! Permissions boundaries as a grant path, pure. Deleting a user's or role's boundary, or
//! replacing it with a wider one, grants no new statement, yet turns on what the principal's own
//! policies grant and the boundary held back. A boundary change is restricted when the principal
//! can now perform, for some action, a restricted pattern the previous boundary did not let
//! through for certain (`beyond`: what it let through is under-estimated, so nothing it held
//! back is missed); the quarantine puts a boundary back that takes those grants out of force
//! again, and never one that would let the principal do anything restricted that the boundary
//! in force does not let through for certain.
//!
//! The previous boundary is the one iam-sentinel last saw in force (the boundary ledger). When
//! it is not known (never seen, or its policy is gone), it is read as allowing nothing
//! restricted (fail closed), and the principal is held, if need be, by the stack's quarantine
//! boundary, which allows everything but the RestrictedActions parameter's patterns (no
//! narrower than it must be). That boundary cannot exclude what only the rules file
//! restricts: where it would not take an added grant out of force, nothing is put back and the
//! step fails closed to a notification (`NoSafeBoundary`).

use std::borrow::Cow;
use std::sync::Arc;

use policy_engine::document::{ActionClause, Effect, ResourceClause, Statement, Values};
use policy_engine::pattern::{Language, PatternSet};
use policy_engine::{
    Catalog, DocumentError, EffectiveGrant, Policy, PolicySource, PrincipalPolicies,
    RestrictedActions, SourcedPolicy, Unresolved, decode, effective_access,
};
use serde::{Deserialize, Serialize};

use crate::decision_log::canonical_digest;
use crate::event::Principal;
use crate::quarantine::QuarantineError;
use crate::record::{
    AddedGrant, AppliedQuarantine, DocumentRef, QuarantineAction, RestoreStatus,
    carried_added_grants,
};
use crate::restore::{RestorePlan, RestoreWrite, gone, restored, skipped};

/// What a principal without a permissions boundary is limited by: nothing. The document a
/// record names for "no boundary" (what a deletion put in force, what approval of a deletion
/// restores), so that every boundary change has a document to show and to hash.
pub const NO_BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoPermissionsBoundary","Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A managed policy used as a permissions boundary, with its default document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    pub arn: String,
    pub document: String,
}

impl Boundary {
    fn sourced(&self) -> SourcedPolicy {
        SourcedPolicy {
            source: PolicySource::Managed {
                policy_arn: self.arn.clone(),
                version_id: None,
            },
            through_group: None,
            document: Arc::from(self.document.as_str()),
        }
    }
}

/// The boundary in force before the change, as the ledger remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previous {
    /// Never seen, or its policy no longer exists: read as allowing nothing restricted.
    Unknown,
    /// The principal had no boundary.
    NoBoundary,
    Policy(Boundary),
}

/// What the boundary ledger remembers of a principal: the boundary iam-sentinel last saw in
/// force (`None`: none), the canonical digest of that policy's document as it was then, and
/// when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundarySeen {
    pub boundary_arn: Option<String>,
    /// `decision_log::canonical_digest` of the boundary's default document when seen; `None`
    /// for no boundary, a document that could not be read, or an entry written without it.
    pub document_digest: Option<String>,
    pub seen_at: time::OffsetDateTime,
}

/// One boundary ledger entry to write: a principal's key (`decision_log::boundary_key`), the
/// boundary in force (`None`: none) and the digest of its document (`None`: none, or unread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub key: String,
    pub boundary_arn: Option<String>,
    pub document_digest: Option<String>,
}

/// The previous boundary by name, before its document is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviousArn {
    Unknown,
    NoBoundary,
    /// A policy, with the digest of its document when it was seen in force: only that
    /// document is the previous boundary (see [`previous_policy`]).
    Policy {
        arn: String,
        digest: Option<String>,
    },
}

/// The boundary in force before a change made at `changed_at` to a principal IAM created at
/// `created`: what the ledger saw, only when it saw it before the change (a sweep or step that
/// looked after it saw the change itself) and after the principal was created (the ledger is
/// keyed by name: an entry from before is about an earlier user or role of that name, deleted
/// since). Both times are whole seconds: a tie says neither, so the boundary is unknown.
pub fn previous_from_ledger(
    seen: Option<&BoundarySeen>,
    created: Option<time::OffsetDateTime>,
    changed_at: Option<time::OffsetDateTime>,
) -> PreviousArn {
    match (seen, created, changed_at) {
        (Some(seen), Some(created), Some(changed_at))
            if created < seen.seen_at && seen.seen_at < changed_at =>
        {
            match &seen.boundary_arn {
                Some(arn) => PreviousArn::Policy {
                    arn: arn.clone(),
                    digest: seen.document_digest.clone(),
                },
                None => PreviousArn::NoBoundary,
            }
        }
        _ => PreviousArn::Unknown,
    }
}

/// The previous boundary policy with its document as IAM holds it now (`now`: `None` when the
/// policy no longer exists), given the digest of the document seen in force (`seen_digest`).
/// A policy keeps its ARN while its default version changes: a document other than the one
/// seen (or one seen without a digest) is not the boundary that was in force, so the previous
/// boundary is unknown and read as allowing nothing restricted. Otherwise a new default version
/// staged just before a deletion would make the deletion look clean.
pub fn previous_policy(seen_digest: Option<&str>, now: Option<Boundary>) -> Previous {
    match (seen_digest, now) {
        (Some(seen), Some(boundary))
            if canonical_digest(&boundary.document).as_deref() == Some(seen) =>
        {
            Previous::Policy(boundary)
        }
        _ => Previous::Unknown,
    }
}

impl BoundaryChange {
    /// The previous boundary the assessment compared with, by name.
    pub fn previous_arn(&self) -> PreviousArn {
        match &self.previous {
            None => PreviousArn::Unknown,
            Some(PreviousBoundary {
                boundary_arn: None, ..
            }) => PreviousArn::NoBoundary,
            Some(PreviousBoundary {
                boundary_arn: Some(arn),
                document_digest,
            }) => PreviousArn::Policy {
                arn: arn.clone(),
                digest: document_digest.clone(),
            },
        }
    }
}

/// The assessment of a boundary change (`Analysed.boundary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoundaryChange {
    /// The boundary in force before, as iam-sentinel last saw it: `None` when not known.
    pub previous: Option<PreviousBoundary>,
    /// The boundary IAM holds now; `None`: the principal has none.
    pub now: Option<String>,
    /// What the principal can perform now and could not before (the previous boundary unknown:
    /// every restricted pattern it can perform now), as `carried_added_grants` shortens them.
    pub added: Vec<AddedGrant>,
}

/// A boundary seen in force: a policy, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousBoundary {
    pub boundary_arn: Option<String>,
    /// The canonical digest of the policy's document the assessment compared with: the
    /// quarantine reads the same document or none (an assessment without it: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_digest: Option<String>,
}

impl BoundaryChange {
    pub fn restricted(&self) -> bool {
        !self.added.is_empty()
    }

    /// "the previous boundary B" / "no boundary" / "not known (read as allowing nothing
    /// restricted)", for people.
    pub fn describe_previous(&self) -> String {
        match &self.previous {
            None => "not known to iam-sentinel (read as allowing nothing restricted)".to_owned(),
            Some(PreviousBoundary {
                boundary_arn: Some(arn),
                ..
            }) => arn.clone(),
            Some(PreviousBoundary {
                boundary_arn: None, ..
            }) => "no boundary".to_owned(),
        }
    }
}

/// The restricted patterns `policies` can perform (with their boundary as it is), by pattern.
fn grants(
    policies: &PrincipalPolicies,
    restricted: &RestrictedActions,
) -> Result<Vec<EffectiveGrant>, QuarantineError> {
    effective_access(policies, restricted, Catalog::embedded())
        .map(|access| access.grants)
        .map_err(unreadable)
}

fn unreadable(error: DocumentError) -> QuarantineError {
    QuarantineError::UnreadablePolicy(error.to_string())
}

/// The same principal under another boundary (`None`: no boundary).
fn under(policies: &PrincipalPolicies, boundary: Option<&Boundary>) -> PrincipalPolicies {
    PrincipalPolicies {
        boundary: boundary.map(Boundary::sourced),
        unresolved: policies
            .unresolved
            .iter()
            .filter(|u| !matches!(u, Unresolved::Boundary { .. }))
            .cloned()
            .collect(),
        ..policies.clone()
    }
}

/// The restricted patterns `now` can perform for some known action (or one the catalog does not
/// know) that the `earlier` boundary did not let through for certain, with the statements that
/// grant them. "For certain" is read on the safe side (what `earlier` let through is
/// under-estimated, so nothing it held back is missed): an unconditional `Allow` of the action
/// on every resource the action accepts, and no `Deny` of the action, whatever its resources or
/// condition. `Previous::Unknown`, or a boundary whose document does not read: nothing. No
/// boundary: everything (the identity policies are the same before and after).
///
/// Decided by the engine's own evaluation, per action: `now` with, as identity policies, the
/// `Allow`s of `earlier` turned into `Deny`s (what survives them was not let through), then once
/// for each `Deny` of `earlier`, a `Deny` of every other action (what survives it is one it
/// denied).
fn beyond(
    now: &PrincipalPolicies,
    earlier: &Previous,
    restricted: &RestrictedActions,
) -> Result<Vec<EffectiveGrant>, QuarantineError> {
    let statements = match earlier {
        Previous::NoBoundary => return Ok(Vec::new()),
        Previous::Unknown => return grants(now, restricted),
        Previous::Policy(boundary) => match decode(&boundary.document)
            .ok()
            .and_then(|json| Policy::parse(&json).ok().map(Policy::into_owned))
        {
            Some(policy) => policy.statements,
            None => return grants(now, restricted),
        },
    };
    let outside_allows: Vec<Statement> = statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.condition.is_none())
        .map(|s| Statement {
            sid: None,
            effect: Effect::Deny,
            ..s.clone()
        })
        .collect();
    let inside_each_deny = statements
        .iter()
        .filter(|s| s.effect == Effect::Deny)
        .map(|s| {
            vec![Statement {
                sid: None,
                effect: Effect::Deny,
                actions: match &s.actions {
                    ActionClause::Action(v) => ActionClause::NotAction(v.clone()),
                    ActionClause::NotAction(v) => ActionClause::Action(v.clone()),
                },
                resources: ResourceClause::Resource(Values::list([Cow::Borrowed("*")])),
                condition: None,
            }]
        });
    let mut beyond: Vec<EffectiveGrant> = Vec::new();
    for denials in std::iter::once(outside_allows).chain(inside_each_deny) {
        for grant in grants(&with_denials(now, denials), restricted)? {
            match beyond.iter_mut().find(|b| b.pattern == grant.pattern) {
                Some(known) => {
                    for via in grant.via {
                        if !known.via.contains(&via) {
                            known.via.push(via);
                        }
                    }
                    known.known_action_count =
                        known.known_action_count.max(grant.known_action_count);
                }
                None => beyond.push(grant),
            }
        }
    }
    let order = |g: &EffectiveGrant| restricted.patterns().position(|p| p == g.pattern);
    beyond.sort_by_key(order);
    Ok(beyond)
}

/// `policies` with `denials` as one more identity policy (none: as they are).
fn with_denials(
    policies: &PrincipalPolicies,
    denials: Vec<Statement<'static>>,
) -> PrincipalPolicies {
    let mut with = policies.clone();
    if !denials.is_empty() {
        let document = Policy {
            version: Some(Cow::Borrowed("2012-10-17")),
            id: None,
            statements: denials,
        };
        with.identity.push(SourcedPolicy {
            source: PolicySource::Inline {
                owner: policies.principal.clone(),
                policy_name: "iam-sentinel: the previous boundary, as denials".to_owned(),
            },
            through_group: None,
            document: Arc::from(document.to_json()),
        });
    }
    with
}

/// What the principal, as `now` holds it (its boundary included), can perform that the
/// boundary before did not let through for certain (`beyond`): per known action, conditional
/// `Allow`s of the boundary before not counted. A previous boundary that is not known is read as
/// one that allows nothing restricted (fail closed): every restricted pattern the principal can
/// perform now is added. The quarantine boundary is never compared with: the deployment's rules
/// file may restrict patterns it allows (it excludes the RestrictedActions parameter's only),
/// and an altered one would hide what it allows.
pub fn added_grants(
    now: &PrincipalPolicies,
    previous: &Previous,
    restricted: &RestrictedActions,
) -> Result<Vec<AddedGrant>, QuarantineError> {
    Ok(beyond(now, previous, restricted)?
        .into_iter()
        .map(AddedGrant::of)
        .collect())
}

/// The assessment of a boundary change (`now` is the principal as IAM holds it), with how many
/// added grants were left out of it. `restricted`: `None` when nothing is restricted (every
/// pattern exempted), then nothing is added.
pub fn assess(
    now: &PrincipalPolicies,
    previous: &Previous,
    restricted: Option<&RestrictedActions>,
) -> Result<(BoundaryChange, usize), QuarantineError> {
    let added = match restricted {
        Some(restricted) => added_grants(now, previous, restricted)?,
        None => Vec::new(),
    };
    let (added, omitted) = carried_added_grants(added);
    let change = BoundaryChange {
        previous: match previous {
            Previous::Unknown => None,
            Previous::NoBoundary => Some(PreviousBoundary {
                boundary_arn: None,
                document_digest: None,
            }),
            Previous::Policy(boundary) => Some(PreviousBoundary {
                boundary_arn: Some(boundary.arn.clone()),
                document_digest: canonical_digest(&boundary.document),
            }),
        },
        now: boundary_arn(now),
        added,
    };
    Ok((change, omitted))
}

/// The boundary IAM says the principal has, whether or not its document could be read.
pub fn boundary_arn(policies: &PrincipalPolicies) -> Option<String> {
    let unresolved = policies.unresolved.iter().find_map(|u| match u {
        Unresolved::Boundary { policy_arn } => Some(policy_arn.clone()),
        _ => None,
    });
    policies
        .boundary
        .as_ref()
        .and_then(|b| match &b.source {
            PolicySource::Managed { policy_arn, .. } => Some(policy_arn.clone()),
            PolicySource::Inline { .. } => None,
        })
        .or(unresolved)
}

/// The boundary in force, with its document (empty when IAM could not give it).
pub fn boundary_in_force(policies: &PrincipalPolicies) -> Option<Boundary> {
    let arn = boundary_arn(policies)?;
    let document = policies
        .boundary
        .as_ref()
        .map(|b| b.document.to_string())
        .unwrap_or_default();
    Some(Boundary { arn, document })
}

/// A principal's boundary as it is now, for the Quarantine step.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryNow {
    pub principal: Principal,
    /// Its policies and the boundary IAM holds; `None`: the principal is gone.
    pub policies: Option<PrincipalPolicies>,
    /// The boundary IAM holds now, with its document (`None`: no boundary).
    pub current: Option<Boundary>,
    /// The boundary the assessment found in force (`None`: none), with its document now (empty
    /// when its policy was deleted since: approval then restores nothing). What an earlier
    /// attempt of this step overrode.
    pub assessed: Option<Boundary>,
    pub previous: Previous,
    pub quarantine: Boundary,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BoundaryDecision {
    NotNeeded(String),
    /// Put the boundary back on the principal.
    PutBack(PutBack),
    /// The put-back boundary is in force already (an earlier attempt's answer was lost).
    InPlace(PutBack),
}

/// A boundary put back in place of the one the change set, and the record once it is there.
#[derive(Debug, Clone, PartialEq)]
pub struct PutBack {
    pub boundary: Boundary,
    /// The changed-to boundary's document (`NO_BOUNDARY` for a deletion): what approval
    /// restores, kept before the record names it.
    pub original: String,
    pub record: AppliedQuarantine,
}

impl PutBack {
    /// `put_back` in force instead of `changed_to` (`None`: the change deleted the boundary).
    fn new(principal: &Principal, put_back: &Boundary, changed_to: Option<&Boundary>) -> PutBack {
        let original = changed_to.map_or(NO_BOUNDARY, |b| &b.document).to_owned();
        let record = AppliedQuarantine {
            action: QuarantineAction::BoundaryPutBack {
                principal: principal.clone(),
                previous_boundary_arn: put_back.arn.clone(),
                changed_to: changed_to.map(|b| b.arn.clone()),
            },
            original_document: DocumentRef::of(&original),
            quarantined_document: Some(DocumentRef::of(&put_back.document)),
            edits: Vec::new(),
            omitted_changes: 0,
            findings: Vec::new(),
            omitted_grants: 0,
            principal_ids: Vec::new(),
        };
        PutBack {
            boundary: put_back.clone(),
            original,
            record,
        }
    }
}

/// Which boundary to put back, on the principal as IAM holds it now: the previous one, unless
/// it is unknown or would let the principal perform, for some action, anything restricted that
/// the boundary in force does not let through for certain (`beyond`: a stale or altered ledger
/// never widens access); then the quarantine boundary, under the same check, and only if it
/// leaves no action of a pattern the change added. Neither passing fails closed.
pub fn decide_put_back(
    now: &BoundaryNow,
    lagging: bool,
    restricted: &RestrictedActions,
) -> Result<BoundaryDecision, QuarantineError> {
    let Some(policies) = &now.policies else {
        return crate::quarantine::decide_missing(
            &format!("{} no longer exists", now.principal),
            lagging,
        )
        .map(BoundaryDecision::NotNeeded);
    };
    let arn = |b: Option<&Boundary>| b.map(|b| b.arn.to_lowercase());
    let mut candidates: Vec<&Boundary> = match &now.previous {
        Previous::Policy(previous) => vec![previous],
        Previous::Unknown | Previous::NoBoundary => Vec::new(),
    };
    // The check below is on restricted patterns only: in place of a boundary narrower than the
    // quarantine boundary, it would let the principal do everything else (`iam:*` included).
    if allows_all_the_quarantine_boundary_does(now.current.as_ref(), restricted) {
        candidates.push(&now.quarantine);
    }
    // A retried step: the boundary in force is one this step puts back, and the assessment
    // saw another. Its own earlier work (or someone's same fix) stands as just applied.
    if let Some(in_force) = candidates
        .iter()
        .find(|c| arn(Some(c)) == arn(now.current.as_ref()))
        && arn(now.assessed.as_ref()) != arn(now.current.as_ref())
    {
        return Ok(BoundaryDecision::InPlace(PutBack::new(
            &now.principal,
            in_force,
            now.assessed.as_ref(),
        )));
    }
    let added = added_grants(policies, &now.previous, restricted)?;
    if added.is_empty() {
        return Ok(BoundaryDecision::NotNeeded(format!(
            "as IAM holds it now, {} can perform no restricted action it could not before the \
             change",
            now.principal
        )));
    }
    let added: Vec<&str> = added.iter().map(|a| a.pattern.as_str()).collect();
    let in_force = match &now.current {
        Some(current) => Previous::Policy(current.clone()),
        None => Previous::NoBoundary,
    };
    for candidate in candidates {
        let under_it = under(policies, Some(candidate));
        // Never wider than now, per action: what it lets through, the boundary in force lets
        // through for certain. The previous boundary takes out what the change added by
        // definition; the quarantine boundary must leave no action of an added pattern.
        let wider = !beyond(&under_it, &in_force, restricted)?.is_empty();
        let keeps_added = candidate.arn.eq_ignore_ascii_case(&now.quarantine.arn)
            && grants(&under_it, restricted)?
                .iter()
                .any(|g| added.contains(&g.pattern.as_str()));
        if !wider && !keeps_added {
            return Ok(BoundaryDecision::PutBack(PutBack::new(
                &now.principal,
                candidate,
                now.current.as_ref(),
            )));
        }
    }
    Err(QuarantineError::NoSafeBoundary(format!(
        "neither the previous boundary nor the quarantine boundary {} takes out of force what \
         the change to {} added without letting it do anything restricted it cannot do now, or \
         (the quarantine boundary) anything at all that the boundary in force does not allow",
        now.quarantine.arn, now.principal
    )))
}

/// True when `current` (`None`: no boundary) lets through everything the quarantine boundary
/// does (every action but the restricted ones, anywhere): an unconditional `Allow` of all those
/// actions on `*`, and no `Deny` of any of them. Read on the safe side: anything else (a
/// condition, a resource, an unreadable document) may be narrower.
fn allows_all_the_quarantine_boundary_does(
    current: Option<&Boundary>,
    restricted: &RestrictedActions,
) -> bool {
    let Some(current) = current else {
        return true;
    };
    let Some(policy) = decode(&current.document)
        .ok()
        .and_then(|json| Policy::parse(&json).ok().map(Policy::into_owned))
    else {
        return false;
    };
    let others = PatternSet::none_of(restricted.patterns());
    fn actions<'p>(clause: &'p ActionClause<'p>) -> PatternSet<'p> {
        match clause {
            ActionClause::Action(v) => PatternSet::any_of(v.iter()),
            ActionClause::NotAction(v) => PatternSet::none_of(v.iter()),
        }
    }
    let allows_them = policy.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.condition.is_none()
            && s.resources.is_every_resource()
            && Language::is_subset(std::slice::from_ref(&others), &actions(&s.actions))
    });
    let denies_one = policy
        .statements
        .iter()
        .any(|s| s.effect == Effect::Deny && Language::all(&[actions(&s.actions), others.clone()]));
    allows_them && !denies_one
}

/// What the boundary ledger records once a restore of `action` ended with `status`: for a
/// boundary change restored, its principal and the approved boundary (`None`: no boundary), now
/// in force and what a later change is compared with. Any other restore leaves the ledger be.
pub fn ledger_after_restore(
    action: &QuarantineAction,
    status: RestoreStatus,
) -> Option<(&Principal, Option<&str>)> {
    match (action, status) {
        (
            QuarantineAction::BoundaryPutBack {
                principal,
                changed_to,
                ..
            },
            RestoreStatus::Restored,
        ) => Some((principal, changed_to.as_deref())),
        _ => None,
    }
}

/// A boundary quarantine, as it is now, for the Restore step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundaryRestoreNow {
    pub principal: Principal,
    /// The boundary the quarantine put back.
    pub put_back: String,
    /// The boundary the change set (`None`: it deleted the boundary).
    pub changed_to: Option<String>,
    /// The document approved: the changed-to boundary's as the quarantine saw it.
    pub original: String,
    /// Whether the principal still exists.
    pub exists: bool,
    /// The boundary IAM holds now (`None`: none).
    pub current: Option<String>,
    /// The changed-to boundary's default document now (`None`: its policy is gone).
    pub changed_to_document: Option<String>,
}

/// Approval puts the changed-to boundary back (or deletes the boundary), only while the
/// quarantine's boundary is what the principal holds and the changed-to policy still says what
/// was approved.
pub fn restore_boundary(now: &BoundaryRestoreNow) -> RestorePlan {
    let BoundaryRestoreNow {
        principal,
        put_back,
        changed_to,
        ..
    } = now;
    let same =
        |a: Option<&str>, b: Option<&str>| a.map(str::to_lowercase) == b.map(str::to_lowercase);
    if !now.exists {
        return gone(format!(
            "{principal} no longer exists (deleted after the quarantine)"
        ));
    }
    if same(now.current.as_deref(), changed_to.as_deref()) {
        return restored(
            Vec::new(),
            format!("the boundary of {principal} was as the change set it already"),
        );
    }
    if !same(now.current.as_deref(), Some(put_back)) {
        return skipped(format!(
            "the permissions boundary of {principal} is now {}, not {put_back}, which the \
             quarantine put back: someone changed it since, and restoring would undo their change",
            now.current.as_deref().unwrap_or("none")
        ));
    }
    let Some(changed_to) = changed_to else {
        return restored(
            vec![RestoreWrite::DeleteBoundary {
                principal: principal.clone(),
            }],
            format!("the permissions boundary of {principal} is deleted again, as the change did"),
        );
    };
    let Some(document) = &now.changed_to_document else {
        return gone(format!(
            "{changed_to}, the boundary approving would put back, no longer exists (deleted \
             after the quarantine); {put_back} stays the boundary"
        ));
    };
    // Approval was given for the boundary's document seen at quarantine time.
    if !crate::record::same_document(document, &now.original) {
        return skipped(format!(
            "the document of {changed_to} changed after the quarantine: making it the boundary \
             again would allow what nobody approved"
        ));
    }
    restored(
        vec![RestoreWrite::PutBoundary {
            principal: principal.clone(),
            boundary_arn: changed_to.clone(),
        }],
        format!("{changed_to} is the permissions boundary of {principal} again"),
    )
}
