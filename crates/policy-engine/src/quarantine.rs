//! Quarantine planning: the narrowest rewrite of a document that grants no restricted action,
//! grants nothing the original did not, and fits IAM's size quota.
//!
//! Per offending statement, narrowest first:
//! - an `Action` entry inside the restricted patterns is removed;
//! - a wildcard entry that also covers other actions is replaced by patterns covering the same
//!   actions minus the restricted ones (compressed to prefixes such as `s3:Get*` where that is
//!   provably safe, otherwise the catalog's concrete names);
//! - `Action: "*"`, and `Allow` + `NotAction`, get the restricted patterns in `NotAction`;
//! - only when the expansions do not all fit the size quota are some wildcards dropped: those
//!   kept are chosen to keep the most known non-restricted grants (an exact optimisation, see
//!   `choose_expansions`); only when even dropping every wildcard does not fit is a whole
//!   statement dropped.
//!
//! It never adds a `Deny`: that would also cut access the principal has from other policies.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analysis::{Finding, analyse};
use crate::catalog::Catalog;
use crate::document::{ActionClause, Effect, Policy, ResourceClause, SidLabel, Statement, Values};
use crate::pattern::{self, Language, PatternSet};
use crate::restricted::{RestrictedActions, Touched};

/// Where a document lives decides how large IAM lets it be (characters, white space excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Managed,
    UserInline,
    GroupInline,
    RoleInline,
}

impl PolicyKind {
    /// IAM's quota. For inline policies it is the aggregate of all the principal's inline
    /// policies: pass what remains of it to [`plan`].
    pub fn size_limit(self) -> usize {
        match self {
            PolicyKind::Managed => 6_144,
            PolicyKind::UserInline => 2_048,
            PolicyKind::GroupInline => 5_120,
            PolicyKind::RoleInline => 10_240,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the quarantined document needs {size} characters but only {limit} are allowed, even \
         after dropping every offending statement"
    )]
    DoesNotFit { size: usize, limit: usize },
}

/// What the planner did to one statement, in the order it did it.
///
/// Serialised with the tag `change` (`{"change": "removed_actions", ...}`), as the incident
/// records and the CLI's JSON have always carried it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Edit {
    RemovedActions {
        statement: usize,
        sid: Option<String>,
        actions: Vec<String>,
    },
    ExpandedWildcard {
        statement: usize,
        sid: Option<String>,
        wildcard: String,
        into: Vec<String>,
    },
    DroppedWildcard {
        statement: usize,
        sid: Option<String>,
        wildcard: String,
        reason: String,
    },
    AddedToNotAction {
        statement: usize,
        sid: Option<String>,
        patterns: Vec<String>,
    },
    DroppedStatement {
        statement: usize,
        sid: Option<String>,
        reason: String,
    },
    /// IAM refuses a document without statements; this one grants nothing.
    AddedEmptyStatement,
}

/// One line, for people: `statement 0 (Sid "Janitor"): removed s3:DeleteBucket`.
impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |statement: &usize, sid: &Option<String>| {
            format!("statement {statement}{}", SidLabel(sid.clone()))
        };
        match self {
            Edit::RemovedActions {
                statement,
                sid,
                actions,
            } => write!(f, "{}: removed {}", at(statement, sid), actions.join(", ")),
            Edit::ExpandedWildcard {
                statement,
                sid,
                wildcard,
                into,
            } => {
                let patterns = match into.len() {
                    1 => "1 pattern".to_owned(),
                    n => format!("{n} patterns"),
                };
                write!(
                    f,
                    "{}: replaced {wildcard} with {patterns} covering the same actions minus the \
                     restricted ones",
                    at(statement, sid),
                )
            }
            Edit::DroppedWildcard {
                statement,
                sid,
                wildcard,
                reason,
            } => write!(f, "{}: dropped {wildcard}: {reason}", at(statement, sid)),
            Edit::AddedToNotAction {
                statement,
                sid,
                patterns,
            } => write!(
                f,
                "{}: excluded {} through NotAction",
                at(statement, sid),
                patterns.join(", ")
            ),
            Edit::DroppedStatement {
                statement,
                sid,
                reason,
            } => write!(f, "{}: dropped the statement: {reason}", at(statement, sid)),
            Edit::AddedEmptyStatement => {
                f.write_str("no statement was left: added one that grants nothing")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Quarantine {
    pub policy: Policy<'static>,
    pub edits: Vec<Edit>,
    /// [`Policy::size`] of the quarantined document.
    pub size: usize,
}

/// Sid of the statement that stands in when every statement had to go: `Allow` with
/// `NotAction: "*"` allows nothing.
pub const EMPTY_STATEMENT_SID: &str = "IamSentinelQuarantineGrantsNothing";

/// Plans the quarantine of `policy`. A document that grants nothing restricted comes back
/// unchanged, with no edits.
pub fn plan(
    policy: &Policy<'_>,
    restricted: &RestrictedActions,
    catalog: &Catalog,
    size_limit: usize,
) -> Result<Quarantine, PlanError> {
    let analysis = analyse(policy, restricted, catalog);
    let mut rewrites: Vec<Rewrite> = analysis
        .findings
        .iter()
        .map(|f| Rewrite::narrowest(&policy.statements[f.statement], f, restricted, catalog))
        .collect();

    // Exclusions one restricted action each can be many (a preset of hundreds). Where the
    // document does not fit with them, they are written shorter first: that withholds no known
    // action more, and every other step (an expansion or a statement dropped) would.
    if assemble(policy, &rewrites).size > size_limit {
        for rewrite in &mut rewrites {
            rewrite.shorten_exclusions(catalog);
        }
    }
    choose_expansions(policy, &mut rewrites, size_limit);
    // The choice counts each expansion's own characters; a statement's brackets and keys can
    // add a few more. Widen the cut, one step at a time, until the document fits.
    loop {
        let quarantine = assemble(policy, &rewrites);
        if quarantine.size <= size_limit {
            let quarantine =
                put_back_what_fits(policy, &mut rewrites, size_limit).unwrap_or(quarantine);
            return Ok(verified(quarantine, policy, rewrites, restricted, catalog));
        }
        let least_valuable = rewrites
            .iter_mut()
            .flat_map(|r| r.entries.iter_mut())
            .filter_map(|e| match e {
                Entry::Expanded { known, into, .. } => {
                    Some(((known.len(), std::cmp::Reverse(cost_of(into))), e))
                }
                _ => None,
            })
            .min_by_key(|(key, _)| *key);
        if let Some((_, entry)) = least_valuable {
            entry.drop_expansion(size_limit);
            continue;
        }
        match rewrites
            .iter_mut()
            .filter(|r| r.dropped.is_none())
            .max_by_key(|r| r.size())
        {
            Some(rewrite) => rewrite.dropped = Some(Dropped::TooLarge { limit: size_limit }),
            None => {
                return Err(PlanError::DoesNotFit {
                    size: quarantine.size,
                    limit: size_limit,
                });
            }
        }
    }
}

/// Every rewrite is proven safe by construction; this re-analysis makes the guarantee hold even
/// if that reasoning had a hole: should anything restricted remain, every offending statement is
/// dropped instead (which always analyses clean, as the other statements had no findings).
fn verified(
    quarantine: Quarantine,
    policy: &Policy<'_>,
    mut rewrites: Vec<Rewrite>,
    restricted: &RestrictedActions,
    catalog: &Catalog,
) -> Quarantine {
    if !analyse(&quarantine.policy, restricted, catalog).grants_restricted() {
        return quarantine;
    }
    for rewrite in &mut rewrites {
        rewrite.dropped = Some(Dropped::StillRestricted);
    }
    assemble(policy, &rewrites)
}

/// Decides which wildcard expansions stay so that the quarantine keeps as many of the original's
/// known non-restricted grants as the quota allows (a grant is a known action in a statement;
/// an action also granted by the statement's kept entries, or by another kept expansion, counts
/// once); among equally good choices, the one keeping the most expansions (they keep granting
/// actions AWS adds later), then the smallest. Exact: see [`most_coverage_within`], with each
/// choice's size counted as the compact JSON will have it.
fn choose_expansions(policy: &Policy<'_>, rewrites: &mut [Rewrite], size_limit: usize) {
    let mut without: Vec<Rewrite> = rewrites.to_vec();
    for entry in without.iter_mut().flat_map(|r| r.entries.iter_mut()) {
        entry.drop_expansion(size_limit);
    }
    let base = assemble(policy, &without).size;
    let mut items = Vec::new();
    let mut groups = Vec::new();
    let mut ids: HashMap<(usize, &'static str), u32> = HashMap::new();
    for (r, rewrite) in rewrites.iter().enumerate() {
        let kept: Vec<&str> = rewrite
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Kept(a) => Some(a.as_str()),
                _ => None,
            })
            .collect();
        let first = rewrite
            .entries
            .iter()
            .position(|e| matches!(e, Entry::Expanded { .. }));
        let Some(first) = first else { continue };
        let group = groups.len();
        groups.push(Group {
            kept: kept.len(),
            is_list: rewrite.is_list,
            reopening: (kept.is_empty() && rewrite.excluded.is_none()).then(|| {
                reopening_cost(
                    policy,
                    &without,
                    r,
                    first,
                    &rewrites[r].entries[first],
                    base,
                )
            }),
        });
        for (e, entry) in rewrite.entries.iter().enumerate() {
            if let Entry::Expanded { into, known, .. } = entry {
                let grants = known
                    .iter()
                    .filter(|a| !kept.iter().any(|k| pattern::matches(k, a)))
                    .map(|&a| {
                        let next = u32::try_from(ids.len()).expect("fewer grants than u32::MAX");
                        *ids.entry((r, a)).or_insert(next)
                    })
                    .collect();
                let item = Item {
                    group,
                    cost: cost_of(into),
                    patterns: into.len(),
                    grants,
                };
                items.push(((r, e), item));
            }
        }
    }
    if items.is_empty() {
        return;
    }
    let budget = size_limit.saturating_sub(base);
    let just_items: Vec<Item> = items.iter().map(|(_, item)| item.clone()).collect();
    let chosen = most_coverage_within(&just_items, &groups, budget, ids.len());
    for (((r, e), _), keep) in items.iter().zip(chosen) {
        if !keep {
            rewrites[*r].entries[*e].drop_expansion(size_limit);
        }
    }
}

/// Characters a statement emptied of its actions costs to bring back, beyond its first
/// pattern's own: measured by assembling it with one pattern.
fn reopening_cost(
    policy: &Policy<'_>,
    without: &[Rewrite],
    r: usize,
    e: usize,
    entry: &Entry,
    base: usize,
) -> usize {
    let Entry::Expanded { wildcard, into, .. } = entry else {
        unreachable!("an expansion")
    };
    let mut one = without.to_vec();
    one[r].entries[e] = Entry::Expanded {
        wildcard: wildcard.clone(),
        into: vec![into[0].clone()],
        known: Vec::new(),
    };
    assemble(policy, &one)
        .size
        .saturating_sub(base + into[0].len() + 3)
}

/// Characters an expansion adds to the compact JSON: each pattern, its quotes and a comma.
fn cost_of(into: &[String]) -> usize {
    into.iter().map(|p| p.len() + 3).sum()
}

/// One expansion for the choice: its statement, what it costs and which grants (ids) it keeps.
#[derive(Debug, Clone)]
struct Item {
    group: usize,
    /// [`cost_of`] its patterns.
    cost: usize,
    patterns: usize,
    grants: Vec<u32>,
}

/// What an item's real cost depends on, per statement: the JSON around its action list.
#[derive(Debug, Clone)]
struct Group {
    /// Entries the statement keeps whatever is chosen.
    kept: usize,
    /// The original wrote `Action` as a list (else one action is a bare string).
    is_list: bool,
    /// When nothing else keeps the statement: what bringing it back costs (its keys, brackets
    /// and the comma before it), less one (its first pattern has no comma).
    reopening: Option<usize>,
}

impl Group {
    /// Characters `[` and `]` cost with `entries` actions.
    fn brackets(&self, entries: usize) -> usize {
        if !self.is_list && entries >= 2 { 2 } else { 0 }
    }

    /// What adding `item` costs when `patterns` chosen ones are already in.
    fn added_cost(&self, item: &Item, patterns: usize) -> usize {
        let (before, after) = (self.kept + patterns, self.kept + patterns + item.patterns);
        let reopen = match self.reopening {
            Some(cost) if patterns == 0 => cost,
            _ => 0,
        };
        item.cost + reopen + self.brackets(after) - self.brackets(before)
    }
}

/// Most nodes the exact search visits; past it, the best selection found so far is returned.
/// Never reached below 20 expansions (2^21 nodes at most); a document has a handful.
const SEARCH_NODES: usize = 1 << 22;

/// Budgeted maximum coverage: the items whose total cost is within `budget` that cover the most
/// distinct grants (ties: the most items, then the cheapest). Exact by branch and bound over
/// every subset: an item is tried in and out, and a branch is cut only when even taking every
/// remaining item that fits could not beat the best found (the bound ignores overlaps and
/// counts each item's cost at its least, so it never underestimates).
fn most_coverage_within(
    items: &[Item],
    groups: &[Group],
    budget: usize,
    grants: usize,
) -> Vec<bool> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(items[i].grants.len()));
    let mut search = Search {
        items,
        groups,
        order,
        counts: vec![0; grants],
        patterns: vec![0; groups.len()],
        taken: vec![false; items.len()],
        best: (0, 0, 0, vec![false; items.len()]),
        nodes: 0,
    };
    search.visit(0, 0, 0, 0, budget);
    search.best.3
}

struct Search<'a> {
    items: &'a [Item],
    groups: &'a [Group],
    order: Vec<usize>,
    /// How many taken items keep each grant.
    counts: Vec<u32>,
    /// Patterns taken per group.
    patterns: Vec<usize>,
    taken: Vec<bool>,
    /// Value, items taken, cost and selection of the best found.
    best: (usize, usize, usize, Vec<bool>),
    nodes: usize,
}

impl Search<'_> {
    fn visit(&mut self, depth: usize, value: usize, taken: usize, cost: usize, room: usize) {
        self.nodes += 1;
        let (best_value, best_taken, best_cost, _) = self.best;
        if (value, taken, std::cmp::Reverse(cost))
            > (best_value, best_taken, std::cmp::Reverse(best_cost))
        {
            self.best = (value, taken, cost, self.taken.clone());
        }
        let fitting = || {
            self.order[depth..]
                .iter()
                .filter(|&&i| self.items[i].cost <= room)
        };
        let bound = (
            value
                + fitting()
                    .map(|&i| self.items[i].grants.len())
                    .sum::<usize>(),
            taken + fitting().count(),
        );
        if depth == self.order.len()
            || bound <= (self.best.0, self.best.1)
            || self.nodes > SEARCH_NODES
        {
            return;
        }
        let i = self.order[depth];
        let item = &self.items[i];
        let added = self.groups[item.group].added_cost(item, self.patterns[item.group]);
        if added <= room {
            let mut gained = 0;
            for &g in &item.grants {
                gained += usize::from(self.counts[g as usize] == 0);
                self.counts[g as usize] += 1;
            }
            self.taken[i] = true;
            self.patterns[item.group] += item.patterns;
            self.visit(
                depth + 1,
                value + gained,
                taken + 1,
                cost + added,
                room - added,
            );
            self.patterns[item.group] -= item.patterns;
            self.taken[i] = false;
            for &g in &item.grants {
                self.counts[g as usize] -= 1;
            }
        }
        self.visit(depth + 1, value, taken, cost, room);
    }
}

/// The planned new form of one offending statement.
#[derive(Clone)]
struct Rewrite {
    index: usize,
    sid: Option<String>,
    /// For an `Action` clause: every entry, kept, removed or expanded.
    entries: Vec<Entry>,
    /// For `NotAction` (or `Action: "*"`): the restricted patterns to exclude.
    excluded: Option<Vec<String>>,
    /// Why the statement goes whole, when it does.
    dropped: Option<Dropped>,
    /// The original wrote its actions as a list.
    is_list: bool,
}

#[derive(Clone)]
enum Entry {
    Kept(String),
    Removed(String),
    Expanded {
        wildcard: String,
        into: Vec<String>,
        /// The known non-restricted actions the expansion grants.
        known: Vec<&'static str>,
    },
    Dropped {
        wildcard: String,
        reason: String,
    },
}

impl Entry {
    fn drop_expansion(&mut self, size_limit: usize) {
        if let Entry::Expanded { wildcard, .. } = self {
            *self = Entry::Dropped {
                wildcard: std::mem::take(wildcard),
                reason: format!("its expansion does not fit in {size_limit} characters"),
            };
        }
    }
}

/// Why a statement goes whole.
#[derive(Clone, Copy)]
enum Dropped {
    /// Every action it granted is restricted.
    AllRestricted,
    /// The document did not fit `limit` with it, its wildcards dropped and its exclusions
    /// shortened.
    TooLarge { limit: usize },
    /// The narrower rewrite still granted a restricted action (never expected: `verified`).
    StillRestricted,
}

impl Dropped {
    fn reason(self) -> String {
        match self {
            Dropped::AllRestricted => "every action it granted is restricted".into(),
            Dropped::TooLarge { limit } => format!(
                "even without its wildcards the quarantined document exceeds {limit} characters"
            ),
            Dropped::StillRestricted => {
                "the narrower rewrite still granted a restricted action".into()
            }
        }
    }
}

/// Statements are dropped for size largest first, so one dropped early may fit again once
/// later ones have gone: each is put back, in the document's order, where the document still
/// fits with it. The document with those put back, when any was.
fn put_back_what_fits(
    policy: &Policy<'_>,
    rewrites: &mut [Rewrite],
    size_limit: usize,
) -> Option<Quarantine> {
    let mut fitting = None;
    for index in 0..rewrites.len() {
        let Some(dropped @ Dropped::TooLarge { .. }) = rewrites[index].dropped else {
            continue;
        };
        rewrites[index].dropped = None;
        let quarantine = assemble(policy, rewrites);
        if quarantine.size <= size_limit {
            fitting = Some(quarantine);
        } else {
            rewrites[index].dropped = Some(dropped);
        }
    }
    fitting
}

impl Rewrite {
    fn narrowest(
        statement: &Statement<'_>,
        finding: &Finding,
        restricted: &RestrictedActions,
        catalog: &Catalog,
    ) -> Rewrite {
        let hit_patterns: Vec<String> = finding.hits.iter().map(|h| h.restricted.clone()).collect();
        let offending: Vec<&str> = finding
            .hits
            .iter()
            .flat_map(|h| h.granted_by.iter().map(String::as_str))
            .collect();
        let mut rewrite = Rewrite {
            index: finding.statement,
            sid: finding.sid.clone(),
            entries: Vec::new(),
            excluded: None,
            dropped: None,
            is_list: statement.actions.patterns().is_list,
        };
        match &statement.actions {
            ActionClause::NotAction(existing) => {
                rewrite.excluded = Some(new_exclusions(existing, &hit_patterns));
            }
            // `*`, and `*:*` too: expanded service by service, it would not fit, and dropping
            // it would take every other grant away.
            ActionClause::Action(entries) if entries.iter().any(pattern::matches_every_action) => {
                rewrite.excluded = Some(hit_patterns);
            }
            ActionClause::Action(entries) => {
                // What the statement may not grant: a pattern it is excepted from (an
                // acceptable scope, an exempted Sid) stays granted.
                let counted: Vec<&str> = restricted
                    .counted_in(statement, Touched::EVERY)
                    .map(|r| r.text)
                    .collect();
                let all_restricted = PatternSet::any_of(counted.iter().copied());
                rewrite.entries = entries
                    .iter()
                    .map(|entry| {
                        if !offending.iter().any(|o| o == &entry) {
                            Entry::Kept(entry.to_owned())
                        } else if Language::is_subset(
                            &[PatternSet::any_of([entry])],
                            &all_restricted,
                        ) {
                            Entry::Removed(entry.to_owned())
                        } else {
                            expand(entry, &counted, catalog)
                        }
                    })
                    .collect();
                if !rewrite
                    .entries
                    .iter()
                    .any(|e| matches!(e, Entry::Kept(_) | Entry::Expanded { .. }))
                {
                    rewrite.dropped = Some(Dropped::AllRestricted);
                }
            }
        }
        rewrite
    }

    /// Writes the exclusions shorter ([`shortened_exclusions`]) where that saves characters.
    fn shorten_exclusions(&mut self, catalog: &Catalog) {
        if let Some(excluded) = &self.excluded {
            let shorter = shortened_exclusions(excluded, catalog);
            if cost_of(&shorter) < cost_of(excluded) {
                self.excluded = Some(shorter);
            }
        }
    }

    /// The characters its actions take: what dropping it would save, about.
    fn size(&self) -> usize {
        let entries: usize = self
            .entries
            .iter()
            .map(|e| match e {
                Entry::Kept(s) => s.len(),
                Entry::Expanded { into, .. } => into.iter().map(String::len).sum(),
                _ => 0,
            })
            .sum();
        entries + self.excluded.as_deref().map_or(0, cost_of)
    }

    /// The rewritten statement (None when it is dropped) and the edits made to it.
    fn apply(&self, original: &Statement<'_>) -> (Option<Statement<'static>>, Vec<Edit>) {
        let (index, sid) = (self.index, self.sid.clone());
        if let Some(dropped) = &self.dropped {
            let reason = dropped.reason();
            return (
                None,
                vec![Edit::DroppedStatement {
                    statement: index,
                    sid,
                    reason,
                }],
            );
        }
        let mut statement = original.clone().into_owned();
        let mut edits = Vec::new();
        if let Some(excluded) = &self.excluded {
            let mut patterns = match &original.actions {
                ActionClause::NotAction(existing) => existing.clone().into_owned(),
                ActionClause::Action(_) => Values::list(std::iter::empty()),
            };
            patterns
                .items
                .extend(excluded.iter().cloned().map(Cow::Owned));
            patterns.is_list = true;
            statement.actions = ActionClause::NotAction(patterns);
            edits.push(Edit::AddedToNotAction {
                statement: index,
                sid,
                patterns: excluded.clone(),
            });
            return (Some(statement), edits);
        }
        let mut actions: Vec<Cow<'static, str>> = Vec::new();
        let mut removed = Vec::new();
        for entry in &self.entries {
            match entry {
                Entry::Kept(a) => actions.push(Cow::Owned(a.clone())),
                Entry::Removed(a) => removed.push(a.clone()),
                Entry::Expanded { wildcard, into, .. } => {
                    actions.extend(into.iter().cloned().map(Cow::Owned));
                    edits.push(Edit::ExpandedWildcard {
                        statement: index,
                        sid: sid.clone(),
                        wildcard: wildcard.clone(),
                        into: into.clone(),
                    });
                }
                Entry::Dropped { wildcard, reason } => edits.push(Edit::DroppedWildcard {
                    statement: index,
                    sid: sid.clone(),
                    wildcard: wildcard.clone(),
                    reason: reason.clone(),
                }),
            }
        }
        if !removed.is_empty() {
            edits.insert(
                0,
                Edit::RemovedActions {
                    statement: index,
                    sid: sid.clone(),
                    actions: removed,
                },
            );
        }
        if actions.is_empty() {
            let dropped_wildcards = self
                .entries
                .iter()
                .any(|e| matches!(e, Entry::Dropped { .. }));
            let reason = if dropped_wildcards {
                "no action is left once the restricted ones are removed and the wildcards dropped"
            } else {
                "nothing it granted is left once the restricted actions are removed"
            };
            edits.push(Edit::DroppedStatement {
                statement: index,
                sid,
                reason: reason.into(),
            });
            return (None, edits);
        }
        let is_list = actions.len() > 1 || original.actions.patterns().is_list;
        statement.actions = ActionClause::Action(Values {
            items: actions,
            is_list,
        });
        (Some(statement), edits)
    }
}

/// The restricted patterns a `NotAction` list does not already exclude.
fn new_exclusions(existing: &Values<'_>, hit_patterns: &[String]) -> Vec<String> {
    hit_patterns
        .iter()
        .filter(|p| !existing.iter().any(|e| e.eq_ignore_ascii_case(p)))
        .cloned()
        .collect()
}

/// Exclusions written shorter where the catalog allows: literal actions become
/// `service:Prefix*` where every known action under that prefix is excluded anyway. Such a
/// pattern also withholds the actions AWS adds later under it: less granted, never more, and
/// every known action it withholds was withheld already. Wildcards, and actions the catalog
/// does not know, stay as written.
fn shortened_exclusions(excluded: &[String], catalog: &Catalog) -> Vec<String> {
    let (wildcards, literals): (Vec<&str>, Vec<&str>) = excluded
        .iter()
        .map(String::as_str)
        .partition(|p| p.contains(['*', '?']));
    let by_wildcard = |a: &str| wildcards.iter().any(|w| pattern::matches(w, a));
    let listed = |a: &str| literals.iter().any(|l| l.eq_ignore_ascii_case(a));
    let exclusions = Exclusions {
        excluded: &|a| by_wildcard(a) || listed(a),
        to_write: &|a| listed(a) && !by_wildcard(a),
    };
    let mut shorter: Vec<String> = wildcards.iter().map(|w| (*w).to_owned()).collect();
    let mut services: Vec<String> = literals
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(service, _)| service.to_ascii_lowercase())
        .collect();
    services.sort_unstable();
    services.dedup();
    for service in services {
        let known: Vec<&'static str> = catalog.matching(&format!("{service}:*")).collect();
        if !known.is_empty() {
            exclusions.write(&known, service.len() + 1, &mut shorter);
        }
    }
    shorter.extend(
        literals
            .iter()
            .filter(|l| catalog.canonical(l).is_none())
            .map(|l| (*l).to_owned()),
    );
    shorter
}

struct Exclusions<'a> {
    /// Whether a known action is excluded already (by a wildcard or a listed literal).
    excluded: &'a dyn Fn(&str) -> bool,
    /// Whether a known action is listed and no wildcard writes it.
    to_write: &'a dyn Fn(&str) -> bool,
}

impl Exclusions<'_> {
    /// Writes the listed actions of `group` (sorted known actions sharing their first `depth`
    /// characters, ignoring case): as one `prefix*` when every one is excluded, else by the
    /// next character.
    fn write(&self, group: &[&'static str], depth: usize, out: &mut Vec<String>) {
        if !group.iter().any(|a| (self.to_write)(a)) {
            return;
        }
        if group.len() > 1 && group.iter().all(|a| (self.excluded)(a)) {
            out.push(format!("{}*", &group[0][..depth]));
            return;
        }
        let mut rest = group;
        if rest[0].len() == depth {
            out.extend((self.to_write)(rest[0]).then(|| rest[0].to_owned()));
            rest = &rest[1..];
        }
        for subgroup in by_next_character(rest, depth) {
            self.write(subgroup, depth + 1, out);
        }
    }
}

fn expand(wildcard: &str, restricted: &[&str], catalog: &Catalog) -> Entry {
    let candidates: Vec<&'static str> = catalog
        .matching(wildcard)
        .filter(|a| !restricted.iter().any(|r| pattern::matches(r, a)))
        .collect();
    if candidates.is_empty() {
        return Entry::Dropped {
            wildcard: wildcard.to_owned(),
            reason: "no known action is left once the restricted ones are removed".into(),
        };
    }
    let cover = Cover {
        wildcard,
        restricted: PatternSet::any_of(restricted.iter().copied()),
    };
    let mut into = Vec::new();
    cover.collect(&candidates, common_prefix_len(&candidates), &mut into);
    Entry::Expanded {
        wildcard: wildcard.to_owned(),
        into,
        known: candidates,
    }
}

/// Covers a sorted list of known actions with as few patterns as it safely can: `prefix*` is
/// used where every action it could ever match is inside the original wildcard and outside the
/// restricted patterns (so it keeps granting actions AWS adds later, exactly as the original
/// did), and concrete names elsewhere. A prefix always runs past the colon, so every pattern
/// written is `service:name` with a literal service prefix, as IAM's grammar requires (`s3-*`
/// or `a*`, cut inside the service, are refused by IAM even where `s3*:*` was accepted).
struct Cover<'a> {
    wildcard: &'a str,
    restricted: PatternSet<'a>,
}

impl Cover<'_> {
    fn collect(&self, actions: &[&'static str], depth: usize, out: &mut Vec<String>) {
        let mut rest = actions;
        if rest[0].len() == depth {
            out.push(rest[0].to_owned());
            rest = &rest[1..];
        }
        for group in by_next_character(rest, depth) {
            let shared = common_prefix_len(group);
            let safe = (depth + 1..=shared).find(|&len| {
                group[0][..len].contains(':') && self.is_safe_prefix(&group[0][..len])
            });
            match safe {
                Some(len) => out.push(format!("{}*", &group[0][..len])),
                None if group.len() == 1 => out.push(group[0].to_owned()),
                None => self.collect(group, shared, out),
            }
        }
    }

    fn is_safe_prefix(&self, prefix: &str) -> bool {
        let candidate = format!("{prefix}*");
        let candidate = [PatternSet::any_of([candidate.as_str()])];
        Language::is_subset(&candidate, &PatternSet::any_of([self.wildcard]))
            && !Language::all(&[candidate[0].clone(), self.restricted.clone()])
    }
}

/// Sorted actions sharing their first `depth` characters (each longer than that), in groups by
/// the character after, ignoring case.
fn by_next_character<'s>(
    mut rest: &'s [&'static str],
    depth: usize,
) -> impl Iterator<Item = &'s [&'static str]> {
    std::iter::from_fn(move || {
        let next = rest.first()?.as_bytes()[depth].to_ascii_lowercase();
        let n = rest
            .iter()
            .take_while(|a| a.as_bytes()[depth].to_ascii_lowercase() == next)
            .count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        Some(group)
    })
}

/// Length of the longest prefix (ignoring case) shared by all the sorted actions.
fn common_prefix_len(sorted: &[&str]) -> usize {
    let (first, last) = (sorted[0].as_bytes(), sorted[sorted.len() - 1].as_bytes());
    first
        .iter()
        .zip(last)
        .take_while(|(a, b)| a.eq_ignore_ascii_case(b))
        .count()
}

fn assemble(policy: &Policy<'_>, rewrites: &[Rewrite]) -> Quarantine {
    let mut statements = Vec::with_capacity(policy.statements.len());
    let mut edits = Vec::new();
    for (index, statement) in policy.statements.iter().enumerate() {
        match rewrites.iter().find(|r| r.index == index) {
            Some(rewrite) => {
                let (rewritten, made) = rewrite.apply(statement);
                statements.extend(rewritten);
                edits.extend(made);
            }
            None => statements.push(statement.clone().into_owned()),
        }
    }
    if statements.is_empty() {
        statements.push(grants_nothing());
        edits.push(Edit::AddedEmptyStatement);
    }
    let policy = Policy {
        version: policy.version.as_ref().map(|v| Cow::Owned(v.to_string())),
        id: policy.id.as_ref().map(|v| Cow::Owned(v.to_string())),
        statements,
    };
    let size = policy.size();
    Quarantine {
        policy,
        edits,
        size,
    }
}

fn grants_nothing() -> Statement<'static> {
    Statement {
        sid: Some(Cow::Borrowed(EMPTY_STATEMENT_SID)),
        effect: Effect::Allow,
        actions: ActionClause::NotAction(Values {
            items: vec![Cow::Borrowed("*")],
            is_list: false,
        }),
        resources: ResourceClause::Resource(Values {
            items: vec![Cow::Borrowed("*")],
            is_list: false,
        }),
        condition: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exclusions_are_shortened_only_to_prefixes_whose_every_known_action_is_excluded() {
        let cases: [(&[&str], &[&str]); 4] = [
            // every s3:DeleteObjectV... action: one prefix
            (
                &[
                    "s3:DeleteObjectVersion",
                    "s3:DeleteObjectVersionAnnotation",
                    "s3:DeleteObjectVersionTagging",
                    "s3:DeleteBucket",
                ],
                &["s3:DeleteBucket", "s3:DeleteObjectV*"],
            ),
            // s3:DeleteObjectVersionTagging is not excluded: no prefix may withhold it
            (
                &["s3:DeleteObjectVersion", "s3:DeleteObjectVersionAnnotation"],
                &["s3:DeleteObjectVersion", "s3:DeleteObjectVersionAnnotation"],
            ),
            // a wildcard stays, and writes what it covers
            (
                &["s3:Put*", "s3:PutObject", "s3:DeleteBucket"],
                &["s3:Put*", "s3:DeleteBucket"],
            ),
            // an action the catalog does not know stays as written
            (&["s3:DeleteEverything"], &["s3:DeleteEverything"]),
        ];
        for (excluded, shortened) in cases {
            let excluded: Vec<String> = excluded.iter().map(|p| p.to_string()).collect();
            assert_eq!(
                shortened_exclusions(&excluded, Catalog::embedded()),
                shortened,
                "{excluded:?}"
            );
        }
    }

    /// Three statements: one with a kept entry, one written as a bare string, one that only
    /// the chosen expansions keep.
    fn groups() -> Vec<Group> {
        vec![
            Group {
                kept: 1,
                is_list: true,
                reopening: None,
            },
            Group {
                kept: 1,
                is_list: false,
                reopening: None,
            },
            Group {
                kept: 0,
                is_list: false,
                reopening: Some(40),
            },
        ]
    }

    fn item(group: usize, cost: usize, grants: Vec<u32>) -> Item {
        Item {
            group,
            cost,
            patterns: cost.div_ceil(20),
            grants,
        }
    }

    /// Value and cost of a selection, counted directly: per statement, its patterns' characters,
    /// its brackets and, if it was gone, bringing it back.
    fn value_and_cost(items: &[Item], groups: &[Group], chosen: &[bool]) -> (usize, usize) {
        let taken = || {
            items
                .iter()
                .zip(chosen)
                .filter(|(_, c)| **c)
                .map(|(i, _)| i)
        };
        let covered: std::collections::HashSet<u32> =
            taken().flat_map(|i| i.grants.iter().copied()).collect();
        let cost = groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                let mine: Vec<&Item> = taken().filter(|i| i.group == g).collect();
                if mine.is_empty() {
                    return 0;
                }
                let patterns: usize = mine.iter().map(|i| i.patterns).sum();
                mine.iter().map(|i| i.cost).sum::<usize>()
                    + group.reopening.unwrap_or(0)
                    + group.brackets(group.kept + patterns)
                    - group.brackets(group.kept)
            })
            .sum();
        (covered.len(), cost)
    }

    fn items() -> impl Strategy<Value = Vec<Item>> {
        prop::collection::vec(
            (
                0usize..3,
                1usize..60,
                prop::collection::vec(0u32..40, 0..25),
            ),
            0..10,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(g, c, grants)| item(g, c, grants))
                .collect()
        })
    }

    proptest! {
        /// Against brute force over every subset, each priced as its JSON: no selection within
        /// the budget covers more.
        #[test]
        fn the_choice_is_optimal(items in items(), budget in 0usize..300) {
            let groups = groups();
            let chosen = most_coverage_within(&items, &groups, budget, 40);
            let (value, cost) = value_and_cost(&items, &groups, &chosen);
            prop_assert!(cost <= budget);
            for mask in 0u32..(1 << items.len()) {
                let other: Vec<bool> = (0..items.len()).map(|i| mask & (1 << i) != 0).collect();
                let (v, c) = value_and_cost(&items, &groups, &other);
                prop_assert!(c > budget || v <= value, "{other:?} keeps {v} > {value}");
            }
        }
    }

    #[test]
    fn a_redundant_expansion_goes_before_a_larger_useful_one() {
        // The large item covers the small one's grants; only one fits.
        let items = [
            item(0, 100, (0..50).collect()),
            item(0, 30, (0..10).collect()),
        ];
        assert_eq!(
            most_coverage_within(&items, &groups(), 110, 50),
            [true, false]
        );
    }
}
