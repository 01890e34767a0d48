//! Effective access: which restricted patterns one principal can perform, given every identity
//! policy in force for it (inline, attached, through its groups) and its permissions boundary.
//!
//! IAM's evaluation for identity policies and a boundary ("Policy evaluation logic"): an
//! explicit Deny in any of them wins; otherwise an action is allowed when an identity policy
//! allows it and, when there is a boundary, the boundary allows it too. Read on the safe side,
//! as [`analyse`](crate::analyse) reads one document: a conditional `Allow` grants, a
//! conditional `Deny` or one narrower in resources than the grant removes nothing, and a
//! boundary allows whatever one of its `Allow` statements could allow. A principal with one
//! policy and no boundary gets exactly the per-document verdict: the same code decides both.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::analysis::{self, Denials, Grant, Hit, Limit, Resources};
use crate::catalog::Catalog;
use crate::document::{Effect, Policy, PolicyError, Statement, decode};
use crate::pattern::{Language, PatternSet};
use crate::restricted::{Restricted, RestrictedActions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrincipalKind {
    User,
    Role,
    Group,
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Group => "group",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalRef {
    pub kind: PrincipalKind,
    pub name: String,
}

impl fmt::Display for PrincipalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.name)
    }
}

/// Where a document comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum PolicySource {
    /// An inline policy of a user, role or group.
    #[serde(rename_all = "camelCase")]
    Inline {
        owner: PrincipalRef,
        policy_name: String,
    },
    #[serde(rename_all = "camelCase")]
    Managed {
        policy_arn: String,
        version_id: Option<String>,
    },
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::Inline { owner, policy_name } => {
                write!(f, "inline policy {policy_name:?} of {owner}")
            }
            PolicySource::Managed {
                policy_arn,
                version_id: Some(version),
            } => write!(f, "managed policy {policy_arn} ({version})"),
            PolicySource::Managed { policy_arn, .. } => write!(f, "managed policy {policy_arn}"),
        }
    }
}

/// One document in force for a principal. The text is shared: a managed policy attached to
/// thousands of principals is held once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourcedPolicy {
    pub source: PolicySource,
    /// The group the principal has it through, if any.
    pub through_group: Option<String>,
    /// Raw or percent-encoded JSON.
    pub document: Arc<str>,
}

/// Something in force for a principal whose documents are not known: `aws iam
/// get-account-authorization-details --filter` may leave out AWS managed policies, or groups.
/// What it grants is unknown, so the principal's verdict is incomplete, and says so. An unknown
/// boundary is read as no boundary: what is reported is then a superset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Unresolved {
    #[serde(rename_all = "camelCase")]
    ManagedPolicy {
        policy_arn: String,
        through_group: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Boundary { policy_arn: String },
    #[serde(rename_all = "camelCase")]
    Group { group_name: String },
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unresolved::ManagedPolicy {
                policy_arn,
                through_group,
            } => write!(f, "managed policy {policy_arn}{}", through(through_group)),
            Unresolved::Boundary { policy_arn } => {
                write!(f, "permissions boundary {policy_arn}")
            }
            Unresolved::Group { group_name } => write!(f, "group {group_name:?}"),
        }
    }
}

/// Everything in force for one user or role.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalPolicies {
    pub principal: PrincipalRef,
    pub arn: Option<String>,
    pub path: Option<String>,
    pub identity: Vec<SourcedPolicy>,
    pub boundary: Option<SourcedPolicy>,
    /// Attachments whose documents are unknown: reported, never silently dropped.
    pub unresolved: Vec<Unresolved>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalAccess {
    pub principal: PrincipalRef,
    /// Restricted patterns the principal can perform, in the order they are configured.
    pub grants: Vec<EffectiveGrant>,
    /// Restricted patterns some statement grants but the principal cannot perform.
    pub removed: Vec<RemovedGrant>,
}

impl PrincipalAccess {
    /// The distinct sources of the effective grants, in order of first appearance.
    pub fn sources(&self) -> Vec<&PolicySource> {
        let mut sources: Vec<&PolicySource> = Vec::new();
        for via in self.grants.iter().flat_map(|g| &g.via) {
            if !sources.contains(&&via.source) {
                sources.push(&via.source);
            }
        }
        sources
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectiveGrant {
    pub pattern: String,
    pub via: Vec<GrantingStatement>,
    /// Known actions matching the pattern the principal can perform, through any statement
    /// (0 when only an action the catalog does not know could be: see `analyse`).
    pub known_action_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantingStatement {
    pub source: PolicySource,
    pub through_group: Option<String>,
    /// The statement's Sid, or `#<index>` when it has none.
    pub statement: String,
    /// The statement's `Action` entries that grant the pattern (empty for `NotAction`).
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedGrant {
    pub pattern: String,
    pub by: Removal,
}

/// What removed a grant. A pattern removed by several `Deny` statements together is listed
/// once for each of them whose actions overlap it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Removal {
    /// An unconditional `Deny` of an identity policy or of the boundary.
    Denied {
        source: PolicySource,
        statement: String,
    },
    /// No `Allow` of the permissions boundary allows it.
    OutsideBoundary,
}

/// A document that does not parse, named by where it comes from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{policy}{}: {error}", through(.through_group))]
pub struct DocumentError {
    pub policy: PolicySource,
    pub through_group: Option<String>,
    pub error: Box<PolicyError>,
}

fn through(group: &Option<String>) -> String {
    group
        .as_ref()
        .map(|g| format!(" (through group {g:?})"))
        .unwrap_or_default()
}

/// The effective access of one principal. For many principals sharing policies, use
/// [`AccessAnalyser`], which parses and analyses each shared document once.
pub fn effective_access(
    principal: &PrincipalPolicies,
    restricted: &RestrictedActions,
    catalog: &Catalog,
) -> Result<PrincipalAccess, DocumentError> {
    AccessAnalyser::new(restricted, catalog).effective_access(principal)
}

/// Effective access for many principals, with each document parsed and analysed once by its
/// source (a managed policy's ARN and version, an inline policy's owner and name).
pub struct AccessAnalyser<'a> {
    restricted: Cow<'a, RestrictedActions>,
    catalog: &'a Catalog,
    documents: HashMap<PolicySource, Compiled>,
}

/// One parsed document and what it grants on its own, before any denial or boundary: the
/// statements that can grant a restricted pattern whatever else is in force.
struct Compiled {
    text: Arc<str>,
    policy: Policy<'static>,
    candidates: Vec<(usize, Vec<Grant>)>,
    denies: bool,
}

impl Compiled {
    fn of(
        sourced: &SourcedPolicy,
        restricted: &RestrictedActions,
        catalog: &Catalog,
    ) -> Result<Compiled, DocumentError> {
        let fail = |error| DocumentError {
            policy: sourced.source.clone(),
            through_group: sourced.through_group.clone(),
            error: Box::new(error),
        };
        let json = decode(&sourced.document).map_err(fail)?;
        let policy = Policy::parse(&json).map_err(fail)?.into_owned();
        // Each statement's grants on their own: what a principal gets when nothing else it
        // has removes anything.
        let candidates =
            analysis::statement_grants(&policy.statements, restricted, &Denials::of([]), catalog)
                .map(|(index, _, grants)| (index, grants))
                .collect();
        let denies = policy
            .statements
            .iter()
            .any(|s| s.effect == Effect::Deny && s.condition.is_none());
        Ok(Compiled {
            text: sourced.document.clone(),
            policy,
            candidates,
            denies,
        })
    }
}

/// One identity document of the principal, with where it came from.
struct InForce<'d> {
    sourced: &'d SourcedPolicy,
    compiled: &'d Compiled,
}

impl<'a> AccessAnalyser<'a> {
    pub fn new(restricted: &'a RestrictedActions, catalog: &'a Catalog) -> Self {
        AccessAnalyser {
            restricted: Cow::Borrowed(restricted),
            catalog,
            documents: HashMap::new(),
        }
    }

    /// An analyser that keeps its restricted patterns (one per mode of a rules file).
    pub fn owning(restricted: RestrictedActions, catalog: &'a Catalog) -> Self {
        AccessAnalyser {
            restricted: Cow::Owned(restricted),
            catalog,
            documents: HashMap::new(),
        }
    }

    pub fn effective_access(
        &mut self,
        principal: &PrincipalPolicies,
    ) -> Result<PrincipalAccess, DocumentError> {
        let all: Vec<&SourcedPolicy> = principal
            .identity
            .iter()
            .chain(principal.boundary.as_ref())
            .collect();
        // A source met again with another text (a caller's mistake, or two accounts' files)
        // is analysed on its own rather than taken from the cache.
        let mut own: Vec<Option<Compiled>> = Vec::with_capacity(all.len());
        for sourced in &all {
            match self.documents.get(&sourced.source) {
                Some(c) if c.text == sourced.document => own.push(None),
                Some(_) => own.push(Some(Compiled::of(sourced, &self.restricted, self.catalog)?)),
                None => {
                    let compiled = Compiled::of(sourced, &self.restricted, self.catalog)?;
                    self.documents.insert(sourced.source.clone(), compiled);
                    own.push(None);
                }
            }
        }
        let compiled: Vec<&Compiled> = all
            .iter()
            .zip(&own)
            .map(|(s, own)| own.as_ref().unwrap_or_else(|| &self.documents[&s.source]))
            .collect();
        let (identity, boundary) = compiled.split_at(principal.identity.len());
        let identity: Vec<InForce> = principal
            .identity
            .iter()
            .zip(identity)
            .map(|(sourced, compiled)| InForce { sourced, compiled })
            .collect();
        let boundary = principal
            .boundary
            .as_ref()
            .zip(boundary.first())
            .map(|(sourced, compiled)| InForce { sourced, compiled });
        Ok(Evaluation {
            identity: &identity,
            boundary: boundary.as_ref(),
            restricted: &self.restricted,
            catalog: self.catalog,
        }
        .access(&principal.principal))
    }
}

struct Evaluation<'d> {
    identity: &'d [InForce<'d>],
    boundary: Option<&'d InForce<'d>>,
    restricted: &'d RestrictedActions,
    catalog: &'d Catalog,
}

/// A candidate statement's grant of one pattern, under the principal's denials and boundary.
struct Granted<'d> {
    from: &'d InForce<'d>,
    statement: &'d Statement<'static>,
    index: usize,
    hit: Cow<'d, Hit>,
    /// The known actions the statement grants on its own (catalog indices).
    own_known: &'d [usize],
}

impl<'d> Evaluation<'d> {
    fn access(&self, principal: &PrincipalRef) -> PrincipalAccess {
        let denials = Denials::of(
            self.identity
                .iter()
                .flat_map(|d| &d.compiled.policy.statements),
        );
        let limit = self
            .boundary
            .map(|b| Limit::of(&b.compiled.policy.statements));
        let unlimited = limit.is_none() && !self.identity.iter().any(|d| d.compiled.denies);
        let mut grants = Vec::new();
        let mut removed = Vec::new();
        for restricted in self.restricted.iter() {
            let pattern = restricted.text;
            if !self.candidates(pattern).any(|_| true) {
                continue;
            }
            let granted: Vec<Granted> = if unlimited {
                // Nothing removes anything: each document's own reading stands.
                self.candidates(pattern)
                    .map(|(from, index, statement, candidate)| Granted {
                        from,
                        statement,
                        index,
                        hit: Cow::Borrowed(&candidate.hit),
                        own_known: &candidate.known,
                    })
                    .collect()
            } else {
                self.granted(restricted, &denials, limit.as_ref())
            };
            if granted.is_empty() {
                removed.extend(self.removals(restricted, &denials, limit.as_ref()));
            } else {
                let known_action_count = self.known_count(&granted, &denials, limit.as_ref());
                grants.push(EffectiveGrant {
                    pattern: pattern.to_owned(),
                    via: granted.iter().map(Granted::statement).collect(),
                    known_action_count,
                });
            }
        }
        PrincipalAccess {
            principal: principal.clone(),
            grants,
            removed,
        }
    }

    /// Every statement that grants `pattern` on its own, with its grant.
    fn candidates<'p>(
        &self,
        pattern: &'p str,
    ) -> impl Iterator<Item = (&'d InForce<'d>, usize, &'d Statement<'static>, &'d Grant)> + 'p
    where
        'd: 'p,
    {
        self.identity.iter().flat_map(move |from| {
            from.compiled
                .candidates
                .iter()
                .flat_map(move |(index, hits)| {
                    let statement = &from.compiled.policy.statements[*index];
                    hits.iter()
                        .filter(move |c| c.hit.restricted == pattern)
                        .map(move |hit| (from, *index, statement, hit))
                })
        })
    }

    fn granted(
        &self,
        pattern: Restricted<'_>,
        denials: &Denials<'_>,
        limit: Option<&Limit<'_>>,
    ) -> Vec<Granted<'d>> {
        self.candidates(pattern.text)
            .filter_map(|(from, index, statement, candidate)| {
                let own_known = candidate.known.as_slice();
                analysis::grant(
                    statement,
                    &Resources::of(statement),
                    pattern,
                    denials,
                    limit,
                    Some(own_known),
                    self.catalog,
                )
                .map(|grant| Granted {
                    from,
                    statement,
                    index,
                    hit: Cow::Owned(grant.hit),
                    own_known,
                })
            })
            .collect()
    }

    /// The union of known actions the statements grant: one statement's count stands alone.
    fn known_count(
        &self,
        granted: &[Granted<'_>],
        denials: &Denials<'_>,
        limit: Option<&Limit<'_>>,
    ) -> usize {
        if let [one] = granted {
            return one.hit.known_action_count;
        }
        let known: BTreeSet<usize> = granted
            .iter()
            .flat_map(|g| g.own_known.iter().copied())
            .filter(|&a| analysis::survives(a, denials, limit, self.catalog))
            .collect();
        known.len()
    }

    /// Why `restricted`, granted by some statement, is not performable: the identity denials
    /// whose actions overlap it, or else the boundary (its denials, or no Allow for it).
    fn removals(
        &self,
        restricted: Restricted<'_>,
        denials: &Denials<'_>,
        limit: Option<&Limit<'_>>,
    ) -> Vec<RemovedGrant> {
        let pattern = restricted.text;
        let removed = |by| RemovedGrant {
            pattern: pattern.to_owned(),
            by,
        };
        let by_identity = limit.is_none() || self.granted(restricted, denials, None).is_empty();
        if by_identity {
            return self
                .identity
                .iter()
                .flat_map(|d| overlapping_denials(d, pattern))
                .map(removed)
                .collect();
        }
        let (Some(boundary), Some(limit)) = (self.boundary, limit) else {
            return Vec::new();
        };
        if self
            .granted(restricted, denials, Some(&limit.allows_only()))
            .is_empty()
        {
            return vec![removed(Removal::OutsideBoundary)];
        }
        overlapping_denials(boundary, pattern)
            .map(removed)
            .collect()
    }
}

impl Granted<'_> {
    fn statement(&self) -> GrantingStatement {
        GrantingStatement {
            source: self.from.sourced.source.clone(),
            through_group: self.from.sourced.through_group.clone(),
            statement: label(self.statement, self.index),
            actions: self.hit.granted_by.clone(),
        }
    }
}

/// The unconditional `Deny` statements of a document whose actions overlap `pattern`.
fn overlapping_denials<'d>(
    document: &'d InForce<'d>,
    pattern: &'d str,
) -> impl Iterator<Item = Removal> + 'd {
    let target = PatternSet::any_of([pattern]);
    document
        .compiled
        .policy
        .statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Deny && s.condition.is_none())
        .filter(move |(_, s)| Language::all(&[target.clone(), analysis::language(&s.actions)]))
        .map(|(index, s)| Removal::Denied {
            source: document.sourced.source.clone(),
            statement: label(s, index),
        })
}

fn label(statement: &Statement<'_>, index: usize) -> String {
    match &statement.sid {
        Some(sid) => sid.to_string(),
        None => format!("#{index}"),
    }
}
