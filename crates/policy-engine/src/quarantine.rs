//! Quarantine planning: the narrowest rewrite of a document that grants no restricted action,
//! grants nothing the original did not, and fits IAM's size quota.
//!
//! Per offending statement, narrowest first:
//! - an `Action` entry inside the restricted patterns is removed;
//! - a wildcard entry that also covers other actions is replaced by patterns covering the same
//!   actions minus the restricted ones (compressed to prefixes such as `s3:Get*` where that is
//!   provably safe, otherwise the catalog's concrete names);
//! - `Action: "*"`, and `Allow` + `NotAction`, get the restricted patterns in `NotAction`;
//! - only when an expansion does not fit the size quota is the wildcard dropped, and only when
//!   even that does not fit is the whole statement dropped.
//!
//! It never adds a `Deny`: that would also cut access the principal has from other policies.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::analysis::{Finding, analyse};
use crate::catalog::Catalog;
use crate::document::{ActionClause, Effect, Policy, ResourceClause, SidLabel, Statement, Values};
use crate::pattern::{self, Language, PatternSet};
use crate::restricted::RestrictedActions;

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

    // Widen the cut, one step at a time, until the document fits.
    loop {
        let quarantine = assemble(policy, &rewrites);
        if quarantine.size <= size_limit {
            return Ok(verified(quarantine, policy, rewrites, restricted, catalog));
        }
        let largest_expansion = rewrites
            .iter_mut()
            .flat_map(|r| r.entries.iter_mut())
            .filter_map(|e| match e {
                Entry::Expanded { into, .. } => {
                    Some((into.iter().map(String::len).sum::<usize>(), e))
                }
                _ => None,
            })
            .max_by_key(|(len, _)| *len);
        if let Some((_, entry)) = largest_expansion {
            entry.drop_expansion(size_limit);
            continue;
        }
        match rewrites
            .iter_mut()
            .filter(|r| !r.drop_statement)
            .max_by_key(|r| r.size())
        {
            Some(rewrite) => {
                rewrite.drop_statement = true;
                rewrite.drop_reason = format!(
                    "even without its wildcards the quarantined document exceeds {size_limit} characters"
                );
            }
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
        rewrite.drop_statement = true;
        rewrite.drop_reason = "the narrower rewrite still granted a restricted action".into();
    }
    assemble(policy, &rewrites)
}

/// The planned new form of one offending statement.
struct Rewrite {
    index: usize,
    sid: Option<String>,
    /// For an `Action` clause: every entry, kept, removed or expanded.
    entries: Vec<Entry>,
    /// For `NotAction` (or `Action: "*"`): the restricted patterns to exclude.
    excluded: Option<Vec<String>>,
    drop_statement: bool,
    drop_reason: String,
}

enum Entry {
    Kept(String),
    Removed(String),
    Expanded { wildcard: String, into: Vec<String> },
    Dropped { wildcard: String, reason: String },
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
            drop_statement: false,
            drop_reason: String::new(),
        };
        match &statement.actions {
            ActionClause::NotAction(existing) => {
                rewrite.excluded = Some(new_exclusions(existing, &hit_patterns));
            }
            ActionClause::Action(entries) if entries.iter().any(pattern::matches_everything) => {
                rewrite.excluded = Some(hit_patterns);
            }
            ActionClause::Action(entries) => {
                let all_restricted = PatternSet::any_of(restricted.patterns());
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
                            expand(entry, restricted, catalog)
                        }
                    })
                    .collect();
                if !rewrite
                    .entries
                    .iter()
                    .any(|e| matches!(e, Entry::Kept(_) | Entry::Expanded { .. }))
                {
                    rewrite.drop_statement = true;
                    rewrite.drop_reason = "every action it granted is restricted".into();
                }
            }
        }
        rewrite
    }

    fn size(&self) -> usize {
        self.entries
            .iter()
            .map(|e| match e {
                Entry::Kept(s) => s.len(),
                Entry::Expanded { into, .. } => into.iter().map(String::len).sum(),
                _ => 0,
            })
            .sum()
    }

    /// The rewritten statement (None when it is dropped) and the edits made to it.
    fn apply(&self, original: &Statement<'_>) -> (Option<Statement<'static>>, Vec<Edit>) {
        let (index, sid) = (self.index, self.sid.clone());
        if self.drop_statement {
            let reason = self.drop_reason.clone();
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
                Entry::Expanded { wildcard, into } => {
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

fn expand(wildcard: &str, restricted: &RestrictedActions, catalog: &Catalog) -> Entry {
    let candidates: Vec<&'static str> = catalog
        .matching(wildcard)
        .filter(|a| !restricted.patterns().any(|r| pattern::matches(r, a)))
        .collect();
    if candidates.is_empty() {
        return Entry::Dropped {
            wildcard: wildcard.to_owned(),
            reason: "no known action is left once the restricted ones are removed".into(),
        };
    }
    let cover = Cover {
        wildcard,
        restricted: PatternSet::any_of(restricted.patterns()),
    };
    let mut into = Vec::new();
    cover.collect(&candidates, common_prefix_len(&candidates), &mut into);
    Entry::Expanded {
        wildcard: wildcard.to_owned(),
        into,
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
        while let Some(first) = rest.first() {
            let next = first.as_bytes()[depth].to_ascii_lowercase();
            let n = rest
                .iter()
                .take_while(|a| a.as_bytes()[depth].to_ascii_lowercase() == next)
                .count();
            let (group, tail) = rest.split_at(n);
            let shared = common_prefix_len(group);
            let safe = (depth + 1..=shared).find(|&len| {
                group[0][..len].contains(':') && self.is_safe_prefix(&group[0][..len])
            });
            match safe {
                Some(len) => out.push(format!("{}*", &group[0][..len])),
                None if group.len() == 1 => out.push(group[0].to_owned()),
                None => self.collect(group, shared, out),
            }
            rest = tail;
        }
    }

    fn is_safe_prefix(&self, prefix: &str) -> bool {
        let candidate = format!("{prefix}*");
        let candidate = [PatternSet::any_of([candidate.as_str()])];
        Language::is_subset(&candidate, &PatternSet::any_of([self.wildcard]))
            && !Language::all(&[candidate[0].clone(), self.restricted.clone()])
    }
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
