//! The verdict: which restricted actions a document grants, through which statements, and why.

use std::cell::{OnceCell, RefCell};
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, TypeId};
use crate::document::{ActionClause, Condition, Effect, Policy, ResourceClause, Statement};
use crate::pattern::{self, Language, PatternSet};
use crate::resource::{self, Arn};
use crate::restricted::{Restricted, RestrictedActions, Touched};

/// How many concrete catalog actions a finding lists (the count is always complete).
pub const LISTED_ACTIONS_CAP: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub findings: Vec<Finding>,
}

impl Analysis {
    pub fn grants_restricted(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// One statement that grants at least one restricted action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub statement: usize,
    pub sid: Option<String>,
    pub hits: Vec<Hit>,
    pub scope: Scope,
}

/// One restricted pattern a statement grants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub restricted: String,
    pub reason: Reason,
    /// The statement's `Action` entries that grant it (empty for `NotAction`).
    pub granted_by: Vec<String>,
    /// Known actions granted, in catalog order, at most [`LISTED_ACTIONS_CAP`].
    pub known_actions: Vec<String>,
    pub known_action_count: usize,
    pub explanation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The statement names the restricted action itself (in any case).
    Exact,
    /// A wildcard, in the statement or in the restricted pattern, covers it.
    Wildcard,
    /// `Allow` with `NotAction` grants everything it does not list.
    NotAction,
}

/// Where a grant applies: a grant limited by resources or conditions is still a grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// `Resource` or `NotResource`.
    pub resource_key: String,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition<'static>>,
}

impl Scope {
    fn of(statement: &Statement<'_>) -> Scope {
        let (resource_key, values) = match &statement.resources {
            ResourceClause::Resource(v) => ("Resource", v),
            ResourceClause::NotResource(v) => ("NotResource", v),
        };
        Scope {
            resource_key: resource_key.to_owned(),
            resources: values.iter().map(str::to_owned).collect(),
            condition: statement.condition.clone().map(Condition::into_owned),
        }
    }

    /// True when the grant applies to every resource, unconditionally.
    pub fn is_unlimited(&self) -> bool {
        self.resource_key == "Resource"
            && self.resources.iter().any(|r| r == "*")
            && self.condition.is_none()
    }
}

/// Analyses a document against the restricted patterns.
pub fn analyse(policy: &Policy<'_>, restricted: &RestrictedActions, catalog: &Catalog) -> Analysis {
    let denials = Denials::of(&policy.statements);
    let findings = statement_grants(&policy.statements, restricted, &denials, catalog)
        .map(|(index, statement, grants)| Finding {
            statement: index,
            sid: statement.sid.as_deref().map(str::to_owned),
            hits: grants.into_iter().map(|g| g.hit).collect(),
            scope: Scope::of(statement),
        })
        .collect();
    Analysis { findings }
}

/// The `Allow` statements that grant a restricted pattern under `denials`, each with its index
/// and its grants: what `analyse` reports, and what an account's analysis compiles a document
/// into.
pub(crate) fn statement_grants<'s, 'p>(
    statements: &'s [Statement<'p>],
    restricted: &'s RestrictedActions,
    denials: &'s Denials<'_>,
    catalog: &'s Catalog,
) -> impl Iterator<Item = (usize, &'s Statement<'p>, Vec<Grant>)> + 's {
    statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.effect == Effect::Allow)
        .filter_map(move |(index, statement)| {
            // Cheap: a pattern no entry may overlap is not granted (most statements are of
            // another service than most patterns).
            let touched = match &statement.actions {
                ActionClause::Action(entries) => restricted.touched_by(entries.iter()),
                ActionClause::NotAction(_) => Touched::EVERY,
            };
            if touched.is_none() {
                return None;
            }
            let resources = Resources::of(statement);
            let grants: Vec<Grant> = restricted
                .counted_in(statement, touched)
                .filter_map(|r| grant(statement, &resources, r, denials, None, None, catalog))
                .collect();
            (!grants.is_empty()).then_some((index, statement, grants))
        })
}

/// The document's unconditional `Deny` statements: what they cover is not granted by any
/// `Allow` in the same document. A denial on every resource (`*`) removes any action it names,
/// known or not; one scoped to resources removes a known action only when it covers every
/// resource type the action accepts. Conditional denials may not apply, so they remove nothing.
pub(crate) struct Denials<'p> {
    /// Each denial on every resource as "the actions that survive it".
    survivors: Vec<PatternSet<'p>>,
    clauses: Vec<&'p ActionClause<'p>>,
    /// Denials scoped to resources: their actions, and their resources compiled.
    scoped: Vec<(&'p ActionClause<'p>, Resources<'p>)>,
}

impl<'p> Denials<'p> {
    /// The unconditional denials among `statements` (of one document, or of all the policies
    /// in force for a principal).
    pub(crate) fn of<I>(statements: I) -> Self
    where
        I: IntoIterator<Item = &'p Statement<'p>>,
    {
        let unconditional = statements
            .into_iter()
            .filter(|s| s.effect == Effect::Deny && s.condition.is_none());
        let (everywhere, scoped): (Vec<_>, Vec<_>) = unconditional
            .map(|s| (&s.actions, Resources::of(s)))
            .partition(|(_, resources)| resources.is_everything());
        let clauses: Vec<&ActionClause> = everywhere.into_iter().map(|(a, _)| a).collect();
        let survivors = clauses
            .iter()
            .map(|clause| match clause {
                ActionClause::Action(v) => PatternSet::none_of(v.iter()),
                ActionClause::NotAction(v) => PatternSet::any_of(v.iter()),
            })
            .collect();
        Denials {
            survivors,
            clauses,
            scoped,
        }
    }

    /// True when some unconditional denial removes the known action at `action` (its index
    /// in the catalog) on every resource it accepts.
    pub(crate) fn denies(&self, action: usize, catalog: &Catalog) -> bool {
        let name = catalog.actions()[action];
        self.clauses
            .iter()
            .any(|clause| clause_covers(clause, name))
            || self.scoped.iter().any(|(clause, resources)| {
                clause_covers(clause, name) && resources.deny_covers(action, catalog)
            })
    }

    /// True when some action is in every one of `sets` and survives every denial (and, under
    /// a limit, is allowed by one of its statements and survives its denials).
    fn leaves_some(&self, sets: &[PatternSet<'_>], limit: Option<&Limit<'_>>) -> bool {
        let mut all = sets.to_vec();
        all.extend(self.survivors.iter().cloned());
        let Some(limit) = limit else {
            return Language::all(&all);
        };
        all.extend(limit.denials.survivors.iter().cloned());
        limit.allows.iter().any(|(clause, _)| {
            let mut within = all.clone();
            within.push(language(clause));
            Language::all(&within)
        })
    }
}

/// A permissions boundary, as a limit on what identity policies grant: an action passes when
/// one of its `Allow` statements may allow it (conditions ignored: it could apply) and no
/// unconditional `Deny` of it removes it.
pub(crate) struct Limit<'p> {
    allows: Vec<(&'p ActionClause<'p>, Resources<'p>)>,
    denials: Denials<'p>,
}

impl<'p> Limit<'p> {
    pub(crate) fn of<I>(statements: I) -> Self
    where
        I: IntoIterator<Item = &'p Statement<'p>> + Clone,
    {
        let allows = statements
            .clone()
            .into_iter()
            .filter(|s| s.effect == Effect::Allow)
            .map(|s| (&s.actions, Resources::of(s)))
            .collect();
        Limit {
            allows,
            denials: Denials::of(statements),
        }
    }

    /// The same boundary without its denials: what its `Allow` statements alone let through.
    pub(crate) fn allows_only(&self) -> Limit<'p> {
        Limit {
            allows: self.allows.clone(),
            denials: Denials::of([]),
        }
    }

    /// Does the boundary let a known action (its index in the catalog) through?
    fn admits(&self, action: usize, catalog: &Catalog) -> bool {
        let name = catalog.actions()[action];
        self.allows.iter().any(|(clause, resources)| {
            clause_covers(clause, name) && resources.allow_applies(action, catalog)
        }) && !self.denials.denies(action, catalog)
    }

    /// True when resources (of an `Allow`, or of a scoped denial) narrow which known actions
    /// pass beyond what their action patterns say.
    fn narrows(&self) -> bool {
        !self.denials.scoped.is_empty() || self.allows.iter().any(|(_, r)| !r.is_everything())
    }
}

/// The actions a clause names, as a pattern set.
pub(crate) fn language<'p>(clause: &'p ActionClause<'p>) -> PatternSet<'p> {
    match clause {
        ActionClause::Action(v) => PatternSet::any_of(v.iter()),
        ActionClause::NotAction(v) => PatternSet::none_of(v.iter()),
    }
}

/// True when a statement's action clause covers `action` (a concrete name).
pub fn clause_covers(clause: &ActionClause<'_>, action: &str) -> bool {
    match clause {
        ActionClause::Action(v) => v.iter().any(|p| pattern::matches(p, action)),
        ActionClause::NotAction(v) => !v.iter().any(|p| pattern::matches(p, action)),
    }
}

/// What a statement grants of one restricted pattern: the finding's hit, and every known
/// action granted (catalog indices, in catalog order).
pub(crate) struct Grant {
    pub(crate) hit: Hit,
    pub(crate) known: Vec<usize>,
}

/// What `statement` (its `resources` compiled) grants of the restricted pattern `restricted`,
/// once `denials` (and a boundary's `limit`) removed what they remove; None when nothing is
/// left. `own_known`, when given, is the `known` of the grant without denials or limit for the
/// same statement and pattern (computed once for a document shared by many principals).
pub(crate) fn grant(
    statement: &Statement<'_>,
    resources: &Resources<'_>,
    pattern: Restricted<'_>,
    denials: &Denials<'_>,
    limit: Option<&Limit<'_>>,
    own_known: Option<&[usize]>,
    catalog: &Catalog,
) -> Option<Grant> {
    let restricted = pattern.text;
    // Built only where a denial or a limit needs it: most grants have neither.
    let target = || PatternSet::any_of([restricted]);
    let (reason, granted_by, explanation) = match &statement.actions {
        ActionClause::Action(entries) => {
            let granted_by: Vec<String> = entries
                .iter()
                .filter(|e| pattern::overlaps(restricted, e))
                .filter(|e| {
                    (denials.survivors.is_empty() && limit.is_none())
                        || denials.leaves_some(&[target(), PatternSet::any_of([*e])], limit)
                })
                .map(str::to_owned)
                .collect();
            let first = granted_by.first()?;
            let exact = pattern::is_literal(restricted)
                && granted_by.iter().any(|e| pattern::is_literal(e));
            if exact {
                (
                    Reason::Exact,
                    granted_by.clone(),
                    format!("Action {first:?} names it"),
                )
            } else {
                let named = quoted_list(&granted_by);
                (
                    Reason::Wildcard,
                    granted_by,
                    format!("Action {named} and {restricted:?} overlap"),
                )
            }
        }
        ActionClause::NotAction(excluded) => {
            if !denials.leaves_some(&[target(), PatternSet::none_of(excluded.iter())], limit) {
                return None;
            }
            let named = quoted_list(excluded.iter());
            (
                Reason::NotAction,
                Vec::new(),
                format!("NotAction {named} does not exclude it"),
            )
        }
    };
    let known: Vec<usize> = match own_known {
        Some(own) => own
            .iter()
            .copied()
            .filter(|&a| survives(a, denials, limit, catalog))
            .collect(),
        None => known_granted(
            statement,
            resources,
            &granted_by,
            pattern,
            denials,
            limit,
            catalog,
        ),
    };
    let known_actions: Vec<String> = known
        .iter()
        .take(LISTED_ACTIONS_CAP)
        .map(|&a| catalog.actions()[a].to_owned())
        .collect();
    let known_action_count = known.len();
    // No known action is granted where this statement's resources or the scoped denials say so;
    // only an action the catalog does not know could still be (it is assumed to apply anywhere).
    let narrowed = !resources.is_everything()
        || !denials.scoped.is_empty()
        || limit.is_some_and(Limit::narrows);
    if known_action_count == 0 && narrowed && !may_match_unknown(restricted, &granted_by, catalog) {
        return None;
    }
    let explanation = if known_action_count == 0 {
        format!(
            "{explanation}; no catalogued action is granted, flagged because the patterns overlap \
             (AWS may have added a matching action since the catalog was generated)"
        )
    } else {
        explanation
    };
    let hit = Hit {
        restricted: restricted.to_owned(),
        reason,
        granted_by,
        known_actions,
        known_action_count,
        explanation,
    };
    Some(Grant { hit, known })
}

/// True when the actions matching both `restricted` and one of `granted_by` (all of
/// `restricted` for a `NotAction` clause, where `granted_by` is empty) may include one the
/// catalog does not know: only two literals, or a known literal, rule that out.
fn may_match_unknown(restricted: &str, granted_by: &[String], catalog: &Catalog) -> bool {
    let unknown_literal = |p: &str| pattern::is_literal(p) && catalog.canonical(p).is_none();
    if pattern::is_literal(restricted) {
        return unknown_literal(restricted);
    }
    granted_by.is_empty()
        || granted_by
            .iter()
            .any(|e| !pattern::is_literal(e) || unknown_literal(e))
}

/// Known actions matching the restricted pattern that the statement grants, on resources it
/// names, that no unconditional Deny removes and the `limit`, if any, lets through (catalog
/// indices, in catalog order). For an `Action` clause only the entries that overlap `restricted`
/// (`granted_by`) can match such an action, and each only among the catalog's actions that
/// start with its literal prefix: a long list of literals looks at a few actions each.
fn known_granted(
    statement: &Statement<'_>,
    resources: &Resources<'_>,
    granted_by: &[String],
    restricted: Restricted<'_>,
    denials: &Denials<'_>,
    limit: Option<&Limit<'_>>,
    catalog: &Catalog,
) -> Vec<usize> {
    let (within, restricted) = (restricted.known, restricted.text);
    let names = catalog.actions();
    let mut known: Vec<usize> = match &statement.actions {
        ActionClause::Action(_) => {
            let mut known: Vec<usize> = granted_by
                .iter()
                .flat_map(|entry| {
                    catalog
                        .prefix_range_within(entry, within.clone())
                        .filter(move |&a| pattern::matches(entry, names[a]))
                })
                .filter(|&a| pattern::matches(restricted, names[a]))
                .collect();
            known.sort_unstable();
            known.dedup();
            known
        }
        ActionClause::NotAction(_) => within
            .clone()
            .filter(|&a| {
                pattern::matches(restricted, names[a])
                    && clause_covers(&statement.actions, names[a])
            })
            .collect(),
    };
    known.retain(|&a| resources.allow_applies(a, catalog) && survives(a, denials, limit, catalog));
    known
}

/// True when no unconditional Deny removes a known action (its index in the catalog) and the
/// `limit`, if any, lets it through.
pub(crate) fn survives(
    action: usize,
    denials: &Denials<'_>,
    limit: Option<&Limit<'_>>,
    catalog: &Catalog,
) -> bool {
    !denials.denies(action, catalog) && limit.is_none_or(|l| l.admits(action, catalog))
}

/// A statement's `Resource` or `NotResource`, compiled on first use, with what it was found to
/// say of each resource type asked about: many actions share a type, and each type is decided
/// once. A grant decided on the statement's actions alone never compiles them.
#[derive(Clone)]
pub(crate) struct Resources<'p> {
    statement: &'p Statement<'p>,
    compiled: OnceCell<Compiled>,
    allow_on: RefCell<Vec<(TypeId, bool)>>,
    deny_covers: RefCell<Vec<(TypeId, bool)>>,
}

#[derive(Clone)]
struct Compiled {
    arns: Arns,
    /// `Resource: "*"`: every resource, whatever the action.
    everything: bool,
}

#[derive(Clone)]
enum Arns {
    Resource(Vec<Arn>),
    NotResource(Vec<Arn>),
}

impl Compiled {
    fn of(statement: &Statement<'_>) -> Compiled {
        // `Resource: "*"`, the most common, needs nothing compiled.
        if let ResourceClause::Resource(v) = &statement.resources
            && v.iter().any(pattern::matches_everything)
        {
            return Compiled {
                arns: Arns::Resource(Vec::new()),
                everything: true,
            };
        }
        // A policy variable is read on the safe side: as any text where that widens an Allow
        // (in Resource) or narrows a Deny (in NotResource), as nothing otherwise.
        let widen = |not_resource: bool| match (statement.effect, not_resource) {
            (Effect::Allow, false) | (Effect::Deny, true) => Arn::pattern,
            _ => Arn::deny_pattern,
        };
        let arns = match &statement.resources {
            ResourceClause::Resource(v) => Arns::Resource(v.iter().map(widen(false)).collect()),
            ResourceClause::NotResource(v) => {
                Arns::NotResource(v.iter().map(widen(true)).collect())
            }
        };
        let everything =
            matches!(&arns, Arns::Resource(v) if v.iter().any(Arn::matches_everything));
        Compiled { arns, everything }
    }
}

impl<'p> Resources<'p> {
    pub(crate) fn of(statement: &'p Statement<'p>) -> Resources<'p> {
        Resources {
            statement,
            compiled: OnceCell::new(),
            allow_on: RefCell::default(),
            deny_covers: RefCell::default(),
        }
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| Compiled::of(self.statement))
    }

    /// True for `Resource: "*"`: every resource, whatever the action.
    fn is_everything(&self) -> bool {
        self.compiled().everything
    }

    /// Can an `Allow` with these resources apply to a known action (its index in the
    /// catalog)? Yes unless the catalog knows the action's resource types and none of their
    /// ARNs is named (or, for `NotResource`, every one is excluded). An action without resource
    /// types may apply anywhere.
    fn allow_applies(&self, action: usize, catalog: &Catalog) -> bool {
        if self.is_everything() {
            return true;
        }
        let Some(types) = catalog.resource_types(action) else {
            return true;
        };
        types.iter().any(|&t| {
            decided(&self.allow_on, t, || {
                let templates = catalog.templates(t);
                match &self.compiled().arns {
                    Arns::Resource(named) => named
                        .iter()
                        .any(|r| templates.iter().any(|t| resource::overlaps(r, t))),
                    Arns::NotResource(excluded) => {
                        templates.iter().any(|t| !resource::covers(excluded, t))
                    }
                }
            })
        })
    }

    /// Does a `Deny` with these resources remove a known action (its index in the catalog)
    /// wherever it applies? Only when the catalog knows its resource types and each one's every
    /// ARN is named (or, for `NotResource`, none is excluded).
    fn deny_covers(&self, action: usize, catalog: &Catalog) -> bool {
        if self.is_everything() {
            return true;
        }
        let Some(types) = catalog.resource_types(action) else {
            return false;
        };
        types.iter().all(|&t| {
            decided(&self.deny_covers, t, || {
                let templates = catalog.templates(t);
                match &self.compiled().arns {
                    Arns::Resource(named) => templates.iter().all(|t| resource::covers(named, t)),
                    Arns::NotResource(excluded) => templates
                        .iter()
                        .all(|t| !excluded.iter().any(|n| resource::overlaps(n, t))),
                }
            })
        })
    }
}

/// The answer `memo` holds for resource type `t`, or `decide`'s, kept there.
fn decided(memo: &RefCell<Vec<(TypeId, bool)>>, t: TypeId, decide: impl FnOnce() -> bool) -> bool {
    let known = memo
        .borrow()
        .iter()
        .find(|(id, _)| *id == t)
        .map(|&(_, d)| d);
    known.unwrap_or_else(|| {
        let d = decide();
        memo.borrow_mut().push((t, d));
        d
    })
}

/// Every known action matching a restricted pattern that the document grants (uncapped).
pub fn granted_known_actions(
    policy: &Policy<'_>,
    restricted: &RestrictedActions,
    catalog: &Catalog,
) -> BTreeSet<&'static str> {
    let denials = Denials::of(&policy.statements);
    let mut granted = BTreeSet::new();
    for statement in policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        let resources = Resources::of(statement);
        for r in restricted.iter() {
            if let Some(grant) = grant(statement, &resources, r, &denials, None, None, catalog) {
                granted.extend(grant.known.iter().map(|&a| catalog.actions()[a]));
            }
        }
    }
    granted
}

fn quoted_list<'s, I: IntoIterator<Item = S>, S: AsRef<str> + 's>(items: I) -> String {
    use std::fmt::Write;
    let mut items = items.into_iter().peekable();
    let Some(first) = items.next() else {
        return "[]".to_owned();
    };
    if items.peek().is_none() {
        return format!("{:?}", first.as_ref());
    }
    let mut list = format!("[{:?}", first.as_ref());
    for item in items {
        let _ = write!(list, ", {:?}", item.as_ref());
    }
    list.push(']');
    list
}
