//! The rules file: which patterns are restricted, in which mode, where a grant is acceptable,
//! and who is exempt until when. The deployment and `iam-sentinel check --rules` read the same
//! file with this code, so they give the same verdicts.
//!
//! A rules file is TOML (`version = 1`); its schema is in docs/RULES.md. Every problem is
//! reported with the line and column it is at. Reading a file never depends on the date: an
//! expired exemption loads (it no longer applies, and the outcome says so); `rules check`
//! refuses it through [`Rules::problems`].

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use time::Date;
use toml::Spanned;

use crate::analysis::{Analysis, analyse};
use crate::catalog::Catalog;
use crate::document::{
    ActionClause, Condition, Policy, ResourceClause, Statement, check_action_syntax,
};
use crate::pattern::{Language, PatternSet, matches_every_action};
use crate::resource::{self, Arn};
use crate::restricted::{RestrictedActions, check_pattern};

/// The only version of the format there is.
pub const VERSION: i64 = 1;
/// The name of the rule the deployment's `RestrictedActions` parameter makes.
pub const PARAMETER_RULE: &str = "RestrictedActions";
/// The preset whose `*` means "grants every action" (see [`Rule::full_admin`]).
const FULL_ADMIN_PRESET: &str = "full-admin";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Quarantine the grant and ask an administrator.
    Enforce,
    /// Notify and publish; write nothing.
    Alert,
    /// Nothing.
    Off,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::Alert => "alert",
            Mode::Off => "off",
        })
    }
}

/// The problem with rules that restrict nothing, where no RestrictedActions parameter does
/// either: the functions refuse to start with them.
pub const NOTHING_RESTRICTED: &str = "nothing is restricted: no rule is in enforce or alert mode, \
     so a deployment restricts only what its RestrictedActions parameter names, and its \
     functions refuse to start when that is empty (switch a rule to alert, or check with the \
     parameter: --restricted LIST)";

/// A problem in a rules file, where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct RulesError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A rules file, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    rules: Vec<Rule>,
    exemptions: Vec<Exemption>,
    /// SHA-256 of what the rules were read from (the file, and the parameter's rule).
    digest: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub mode: Mode,
    pub description: Option<String>,
    /// Presets named, in file order.
    pub presets: Vec<String>,
    /// Every pattern: the rule's own, then each preset's, without duplicates.
    pub patterns: Vec<String>,
    /// The rule's `*` comes from the full-admin preset only: it counts where a statement grants
    /// every action, not wherever it grants one.
    pub full_admin: bool,
    pub acceptable: Vec<Acceptable>,
    /// Where the rule starts in the file (0 for the parameter's rule).
    pub line: usize,
}

/// Where a grant of a rule's patterns is acceptable: every `Resource` of the statement within
/// `resources` (when given), and each key of `conditions` restricted by the statement's
/// `Condition` to values within the listed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptable {
    pub resources: Option<Vec<String>>,
    pub conditions: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub name: String,
    pub reason: String,
    pub owner: String,
    /// The last day it applies (UTC).
    pub expires: Date,
    pub actor: Option<String>,
    pub principal: Option<String>,
    pub policy: Option<String>,
    pub policy_path: Option<String>,
    pub sid: Option<String>,
    pub actions: Vec<String>,
    /// Only these rules; empty: every rule.
    pub rules: Vec<String>,
    pub line: usize,
}

/// An exemption as an outcome names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptionRef {
    pub name: String,
    pub owner: String,
    pub reason: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
}

impl fmt::Display for ExemptionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exemption {:?} (owner {}, until {}: {})",
            self.name, self.owner, self.expires, self.reason
        )
    }
}

/// What is known of a change for the exemptions to match on.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// Who made the change: its ARN, and the role behind an assumed-role session.
    pub actor: Vec<&'a str>,
    /// The user, role or group the grant is on.
    pub principal: Option<&'a str>,
    /// The managed policy's ARN.
    pub policy: Option<&'a str>,
}

/// A statement's grant of one pattern that an exemption covered (or, expired, no longer does).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptedGrant {
    pub statement: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub pattern: String,
    pub rule: String,
    pub exemption: ExemptionRef,
}

/// A document's grants under the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The grants of enforced patterns: quarantined.
    pub enforced: Analysis,
    /// The grants of alerted patterns not already enforced: notified only.
    pub alerted: Analysis,
    /// Grants an exemption covers.
    pub exempted: Vec<ExemptedGrant>,
    /// Grants an exemption covered until it expired (they are in `enforced` or `alerted`).
    pub expired: Vec<ExemptedGrant>,
}

/// What the exemptions say of one statement's grant of a pattern ([`Rules::cover`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// Exempt: each rule naming the pattern, with the active exemption that covers it. Empty:
    /// the grant counts.
    pub active: Vec<Covering>,
    /// The grant counts although these exemptions covered it until they expired.
    pub expired: Vec<Covering>,
}

/// An exemption, and the rule whose grant it covers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Covering {
    pub rule: String,
    pub exemption: ExemptionRef,
}

impl Cover {
    pub fn exempt(&self) -> bool {
        !self.active.is_empty()
    }
}

/// When a statement's grant of a pattern does not count (see [`RestrictedActions`]): one of the
/// acceptable scopes applies, its Sid is exempted, or (the full-admin preset's `*`) it grants
/// less than every action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    scopes: Vec<Acceptable>,
    sids: Vec<String>,
    less_than_everything: bool,
}

impl Exception {
    pub(crate) fn excepts(&self, statement: &Statement<'_>) -> bool {
        (self.less_than_everything && !grants_every_action(statement))
            || self.scopes.iter().any(|scope| scope.applies_to(statement))
            || statement.sid.as_deref().is_some_and(|sid| {
                self.sids
                    .iter()
                    .any(|pattern| covered(&[pattern.as_str()], sid))
            })
    }
}

/// True when the statement grants every action: an `Action` entry matches every action (`*`,
/// `*:*`, `?*:*`), or its entries together, or its `NotAction`, leave no known action out
/// (`["a*:*", ..., "z*:*"]`, `NotAction: "iam:NoSuchAction"`).
fn grants_every_action(statement: &Statement<'_>) -> bool {
    let catalog = Catalog::embedded();
    match &statement.actions {
        ActionClause::Action(entries) => {
            entries.iter().any(matches_every_action)
                || catalog
                    .actions()
                    .iter()
                    .all(|action| entries.iter().any(|e| crate::pattern::matches(e, action)))
        }
        ActionClause::NotAction(entries) => {
            entries.iter().all(|e| catalog.matching(e).next().is_none())
        }
    }
}

impl Acceptable {
    fn applies_to(&self, statement: &Statement<'_>) -> bool {
        let resources_within = self.resources.as_ref().is_none_or(|allowed| {
            let ResourceClause::Resource(values) = &statement.resources else {
                return false; // NotResource reaches everything it does not name
            };
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            values.iter().all(|r| covered(&allowed, r))
        });
        if !resources_within || self.conditions.is_empty() {
            return resources_within;
        }
        let condition = statement.condition.as_ref().map(Condition::to_value);
        self.conditions.iter().all(|(key, allowed)| {
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            restricts(condition.as_ref(), key, &allowed)
        })
    }
}

/// Operators whose every value must match for the condition to hold, compared as written:
/// IfExists passes when the key is absent, IgnoreCase and ForAllValues pass more than they say.
const RESTRICTING_OPERATORS: &[&str] = &["StringEquals", "StringLike", "ArnEquals", "ArnLike"];

/// True when `condition` holds only if `key` has one of `allowed`'s values.
fn restricts(condition: Option<&serde_json::Value>, key: &str, allowed: &[&str]) -> bool {
    let Some(blocks) = condition.and_then(serde_json::Value::as_object) else {
        return false;
    };
    blocks
        .iter()
        .filter(|(operator, _)| RESTRICTING_OPERATORS.contains(&operator.as_str()))
        .filter_map(|(_, block)| block.as_object())
        .flat_map(|block| block.iter())
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .any(|(_, values)| {
            let values: Vec<&str> = match values {
                serde_json::Value::String(v) => vec![v],
                serde_json::Value::Array(list) => {
                    let strings: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
                    if strings.len() != list.len() || strings.is_empty() {
                        return false;
                    }
                    strings
                }
                _ => return false,
            };
            values.iter().all(|v| covered(allowed, v))
        })
}

/// True when every string `value` (a pattern: `*`, `?`, policy variables standing for any text)
/// can match is matched by one of `allowed`, case included: an acceptance applies less often,
/// never more. A policy variable in `allowed` is no wildcard: it matches nothing, except in a
/// value written the same (`user/${aws:username}`: the same name replaces both).
fn covered(allowed: &[&str], value: &str) -> bool {
    if allowed.contains(&value) {
        return true;
    }
    let allowed: Vec<Arn> = allowed.iter().map(|a| Arn::deny_pattern(a)).collect();
    resource::covers(&allowed, &Arn::pattern(value))
}

impl Rules {
    /// Reads a rules file. Presets are expanded, every pattern is checked against the catalog.
    pub fn parse(text: &str, catalog: &Catalog) -> Result<Rules, RulesError> {
        let lines = Lines::of(text);
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| lines.at(s.start));
            RulesError {
                line,
                column,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        let at = |span: Range<usize>, message: String| {
            let (line, column) = lines.at(span.start);
            RulesError {
                line,
                column,
                message,
            }
        };
        if *file.version.get_ref() != VERSION {
            return Err(at(
                file.version.span(),
                format!(
                    "version {} is not known: this iam-sentinel reads version {VERSION}",
                    file.version.get_ref()
                ),
            ));
        }
        let mut rules: Vec<Rule> = Vec::new();
        for raw in file.rule {
            let rule = read_rule(raw, catalog, &at, &lines)?;
            if rules.iter().any(|r| r.name == rule.name) {
                return Err(RulesError {
                    line: rule.line,
                    column: 1,
                    message: format!("a second rule is named {:?}", rule.name),
                });
            }
            rules.push(rule);
        }
        let mut exemptions: Vec<Exemption> = Vec::new();
        for raw in file.exemption {
            let exemption = read_exemption(raw, &rules, &at, &lines)?;
            if exemptions.iter().any(|e| e.name == exemption.name) {
                return Err(RulesError {
                    line: exemption.line,
                    column: 1,
                    message: format!("a second exemption is named {:?}", exemption.name),
                });
            }
            exemptions.push(exemption);
        }
        // A preset's content can change with the catalog while the file stays the same.
        let mut read = text.to_owned();
        for preset in rules.iter().flat_map(|r| &r.presets) {
            if let Some(found) = crate::presets::get(preset) {
                read.push_str(&format!("\npreset {} {}", found.name, found.version));
            }
        }
        Ok(Rules {
            rules,
            exemptions,
            digest: sha256_hex(read.as_bytes()),
        })
    }

    /// The rules with the deployment's `RestrictedActions` parameter as one more enforced rule
    /// (the simple case), when it is set.
    pub fn with_parameter(mut self, restricted: Option<&RestrictedActions>) -> Rules {
        if let Some(restricted) = restricted {
            self.rules.push(Rule {
                name: PARAMETER_RULE.to_owned(),
                mode: Mode::Enforce,
                description: Some("the deployment's RestrictedActions parameter".to_owned()),
                presets: Vec::new(),
                patterns: restricted.patterns().map(str::to_owned).collect(),
                full_admin: false,
                acceptable: Vec::new(),
                line: 0,
            });
            self.digest = sha256_hex(format!("{}\n{restricted}", self.digest).as_bytes());
        }
        self
    }

    /// The rules of a deployment whose file restricts nothing: the parameter's rule alone (as an
    /// empty file, `version = 1`, with it).
    pub fn of_parameter(restricted: &RestrictedActions) -> Rules {
        Rules {
            rules: Vec::new(),
            exemptions: Vec::new(),
            digest: sha256_hex(b"version = 1"),
        }
        .with_parameter(Some(restricted))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn exemptions(&self) -> &[Exemption] {
        &self.exemptions
    }

    /// The names of the rules of `mode` that name `pattern` (any case).
    pub fn naming(&self, mode: Mode, pattern: &str) -> Vec<&str> {
        self.rules_naming(mode, pattern)
            .map(|r| r.name.as_str())
            .collect()
    }

    fn rules_naming<'s>(&'s self, mode: Mode, pattern: &str) -> impl Iterator<Item = &'s Rule> {
        self.rules
            .iter()
            .filter(move |r| r.mode == mode && r.names(pattern))
    }

    /// SHA-256 (hex) of the file, the versions of the presets it names, and the parameter's
    /// rule when there is one: a change of any changes it.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// True when no rule restricts anything (every rule off, or none): see [`NOTHING_RESTRICTED`].
    pub fn restricts_nothing(&self) -> bool {
        self.rules.iter().all(|r| r.mode == Mode::Off)
    }

    /// What `rules check` refuses beyond what [`Rules::parse`] does: rules that restrict
    /// nothing (a deployment of them restricts only its RestrictedActions parameter's
    /// patterns, and its functions refuse to start when that is empty), exemptions expired by
    /// `today` or expiring more than a year after it (docs/RULES.md: an exemption is renewed at
    /// least yearly; a date further out is more likely a typo, 2207 for 2027, than a decision),
    /// and exemptions whose `actions` cover no pattern of the rules they concern (a typo, or a
    /// narrower pattern than the rule's: they exempt nothing).
    pub fn problems(&self, today: Date) -> Vec<RulesError> {
        let mut problems = Vec::new();
        if self.restricts_nothing() {
            problems.push(RulesError {
                line: 1,
                column: 1,
                message: NOTHING_RESTRICTED.to_owned(),
            });
        }
        let latest_expiry = a_year_after(today);
        for e in &self.exemptions {
            let problem = |message| RulesError {
                line: e.line,
                column: 1,
                message,
            };
            if e.expires < today {
                problems.push(problem(format!(
                    "exemption {:?} expired on {} (owner {}): renew it with a new date, or remove it",
                    e.name,
                    iso(e.expires),
                    e.owner
                )));
            } else if e.expires > latest_expiry {
                problems.push(problem(format!(
                    "exemption {:?} expires on {}, more than a year after today ({}): a typo? \
                     renew an exemption at least yearly: give a date up to {}",
                    e.name,
                    iso(e.expires),
                    iso(today),
                    iso(latest_expiry)
                )));
            }
            let covers_some = self
                .rules
                .iter()
                .filter(|r| e.concerns(r))
                .any(|r| r.patterns.iter().any(|p| e.covers(p)));
            if !covers_some {
                problems.push(problem(format!(
                    "exemption {:?}: its actions cover no pattern of the rules it concerns, so it exempts nothing (an exemption of iam:PassRole does not split a rule's iam:*)",
                    e.name
                )));
            }
        }
        problems
    }

    /// What `mode` restricts for a change in `context` on `today`: active exemptions applied
    /// (one that names a Sid excepts the statements with that Sid; any other drops the
    /// patterns it covers), acceptable scopes attached. None when it restricts nothing.
    pub fn restricted(
        &self,
        mode: Mode,
        context: &Context<'_>,
        today: Date,
    ) -> Option<RestrictedActions> {
        self.restricted_with(mode, context, |e| e.expires >= today)
    }

    /// What `mode` restricts with no exemption applied (acceptable scopes attached): the set the
    /// account sweep analyses every principal with, once per mode, before it judges each
    /// statement's grant with [`Rules::cover`].
    pub fn unexempted(&self, mode: Mode) -> Option<RestrictedActions> {
        self.restricted_with(mode, &Context::default(), |_| false)
    }

    /// Which exemptions cover one statement's grant of `pattern` (as [`Rules::unexempted`]
    /// spells it) under `mode`, for `context` on `today`. `sid` is the statement's Sid. The
    /// grant is exempt when, for every rule of the mode naming the pattern, an active exemption
    /// concerns the rule, matches the context, covers the pattern and (naming a Sid) the
    /// statement's; a rule that would accept the grant through an acceptable scope is not told
    /// apart here, so the answer errs on the side of counting the grant.
    pub fn cover(
        &self,
        mode: Mode,
        pattern: &str,
        sid: Option<&str>,
        context: &Context<'_>,
        today: Date,
    ) -> Cover {
        let rules: Vec<&Rule> = self.rules_naming(mode, pattern).collect();
        let covering = |rule: &Rule, e: &Exemption| e.covers_grant(rule, pattern, sid, context);
        let active: Option<Vec<Covering>> = rules
            .iter()
            .map(|rule| {
                self.exemptions
                    .iter()
                    .find(|e| e.expires >= today && covering(rule, e))
                    .map(|e| e.covering(rule))
            })
            .collect();
        match active {
            Some(active) if !active.is_empty() => Cover {
                active,
                expired: Vec::new(),
            },
            _ => Cover {
                active: Vec::new(),
                expired: rules
                    .iter()
                    .flat_map(|rule| {
                        self.exemptions
                            .iter()
                            .filter(|e| e.expires < today && covering(rule, e))
                            .map(|e| e.covering(rule))
                    })
                    .collect(),
            },
        }
    }

    fn restricted_with(
        &self,
        mode: Mode,
        context: &Context<'_>,
        applies: impl Fn(&Exemption) -> bool,
    ) -> Option<RestrictedActions> {
        let mut entries: Vec<(String, Vec<Exception>)> = Vec::new();
        for rule in self.rules.iter().filter(|r| r.mode == mode) {
            let exemptions: Vec<&Exemption> = self
                .exemptions
                .iter()
                .filter(|e| applies(e) && e.concerns(rule) && e.matches(context))
                .collect();
            for pattern in &rule.patterns {
                let covering = exemptions.iter().filter(|e| e.covers(pattern));
                let mut sids = Vec::new();
                let mut dropped = false;
                for exemption in covering {
                    match &exemption.sid {
                        Some(sid) => sids.push(sid.clone()),
                        None => dropped = true,
                    }
                }
                if dropped {
                    continue;
                }
                let less_than_everything =
                    rule.full_admin && crate::pattern::matches_everything(pattern);
                let exceptions =
                    if sids.is_empty() && rule.acceptable.is_empty() && !less_than_everything {
                        Vec::new()
                    } else {
                        vec![Exception {
                            scopes: rule.acceptable.clone(),
                            sids,
                            less_than_everything,
                        }]
                    };
                entries.push((pattern.clone(), exceptions));
            }
        }
        // The patterns were checked against the embedded catalog, the one the analysis uses.
        (!entries.is_empty())
            .then(|| RestrictedActions::with_exceptions(entries, Catalog::embedded()))
    }

    /// A document's grants under the rules, for a change in `context` on `today`.
    pub fn assess(
        &self,
        policy: &Policy<'_>,
        context: &Context<'_>,
        today: Date,
        catalog: &Catalog,
    ) -> Assessment {
        let analysis_of = |restricted: Option<RestrictedActions>| {
            restricted.map_or_else(
                || Analysis {
                    findings: Vec::new(),
                },
                |r| analyse(policy, &r, catalog),
            )
        };
        let enforced = analysis_of(self.restricted(Mode::Enforce, context, today));
        let mut alerted = analysis_of(self.restricted(Mode::Alert, context, today));
        alerted.findings.retain_mut(|finding| {
            finding
                .hits
                .retain(|h| !grants(&enforced, finding.statement, &h.restricted));
            !finding.hits.is_empty()
        });
        // Whether a grant counts under a mode: an alerted grant that is enforced counts too.
        let counted = |mode: Mode, statement: usize, pattern: &str| {
            grants(&enforced, statement, pattern)
                || (mode == Mode::Alert && grants(&alerted, statement, pattern))
        };
        let mut exempted = Vec::new();
        let mut expired = Vec::new();
        for mode in [Mode::Enforce, Mode::Alert] {
            // Without any exemption: what each grant would be, and which exemption covers it.
            let Some(unexempted) = self.restricted_with(mode, context, |_| false) else {
                continue;
            };
            for finding in analyse(policy, &unexempted, catalog).findings {
                let sid = policy.statements[finding.statement].sid.as_deref();
                for hit in &finding.hits {
                    let rules = self.rules_naming(mode, &hit.restricted);
                    // Counted: name the expired exemptions that covered it; not counted: the
                    // active one that covers it (none: an acceptable scope of another rule).
                    let counts = counted(mode, finding.statement, &hit.restricted);
                    for rule in rules {
                        let covering = self.exemptions.iter().filter(|e| {
                            (e.expires < today) == counts
                                && e.covers_grant(rule, &hit.restricted, sid, context)
                        });
                        for exemption in covering.take(if counts { usize::MAX } else { 1 }) {
                            let grant = ExemptedGrant {
                                statement: finding.statement,
                                sid: finding.sid.clone(),
                                pattern: hit.restricted.clone(),
                                rule: rule.name.clone(),
                                exemption: exemption.reference(),
                            };
                            let list = if counts { &mut expired } else { &mut exempted };
                            if !list.contains(&grant) {
                                list.push(grant);
                            }
                        }
                    }
                }
            }
        }
        Assessment {
            enforced,
            alerted,
            exempted,
            expired,
        }
    }
}

fn grants(analysis: &Analysis, statement: usize, pattern: &str) -> bool {
    analysis.findings.iter().any(|f| {
        f.statement == statement
            && f.hits
                .iter()
                .any(|h| h.restricted.eq_ignore_ascii_case(pattern))
    })
}

impl Rule {
    /// True when `pattern` is one of the rule's (as [`RestrictedActions`] spells it: any case).
    fn names(&self, pattern: &str) -> bool {
        self.patterns
            .iter()
            .any(|p| p.eq_ignore_ascii_case(pattern))
    }
}

impl Exemption {
    fn concerns(&self, rule: &Rule) -> bool {
        self.rules.is_empty() || self.rules.contains(&rule.name)
    }

    /// True when every selector of the change's context the exemption gives matches.
    fn matches(&self, context: &Context<'_>) -> bool {
        let actor = self
            .actor
            .as_deref()
            .is_none_or(|pattern| context.actor.iter().any(|arn| arn_covered(pattern, arn)));
        let principal = self
            .principal
            .as_deref()
            .is_none_or(|pattern| context.principal.is_some_and(|p| arn_covered(pattern, p)));
        let policy = self
            .policy
            .as_deref()
            .is_none_or(|pattern| context.policy.is_some_and(|p| arn_covered(pattern, p)));
        let path = self.policy_path.as_deref().is_none_or(|pattern| {
            context
                .policy
                .and_then(policy_path)
                .is_some_and(|path| covered(&[pattern], &path))
        });
        actor && principal && policy && path
    }

    /// True when the exemption covers a grant of `pattern`: it names no actions, or `pattern`
    /// is within one of them.
    fn covers(&self, pattern: &str) -> bool {
        self.actions.is_empty()
            || Language::is_subset(
                &[PatternSet::any_of([pattern])],
                &PatternSet::any_of(self.actions.iter().map(String::as_str)),
            )
    }

    /// True when the exemption (expired or not) covers a statement's grant of `pattern` under
    /// `rule`, in `context`; `sid` is the statement's Sid.
    fn covers_grant(
        &self,
        rule: &Rule,
        pattern: &str,
        sid: Option<&str>,
        context: &Context<'_>,
    ) -> bool {
        self.concerns(rule)
            && self.matches(context)
            && self.covers(pattern)
            && self
                .sid
                .as_deref()
                .is_none_or(|wanted| sid.is_some_and(|sid| covered(&[wanted], sid)))
    }

    fn covering(&self, rule: &Rule) -> Covering {
        Covering {
            rule: rule.name.clone(),
            exemption: self.reference(),
        }
    }

    pub fn reference(&self) -> ExemptionRef {
        ExemptionRef {
            name: self.name.clone(),
            owner: self.owner.clone(),
            reason: self.reason.clone(),
            expires: iso(self.expires),
        }
    }
}

/// True when `arn` is within the ARN pattern `pattern`, each of the six parts separately (as
/// IAM's `ArnLike` compares): a `*` in the account must not reach into the resource, where a
/// user on the path `/x:role/` would pass for a role.
fn arn_covered(pattern: &str, arn: &str) -> bool {
    match (arn_parts(pattern), arn_parts(arn)) {
        (Some(pattern), Some(arn)) => pattern.iter().zip(&arn).all(|(p, a)| covered(&[p], a)),
        _ => false,
    }
}

/// An ARN's six parts: `arn`, partition, service, region, account, resource.
fn arn_parts(arn: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.len() == 6).then_some(parts)
}

/// A managed policy's path from its ARN: `/platform/` for `arn:aws:iam::1:policy/platform/P`.
fn policy_path(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":policy/")?;
    let path = rest.rsplit_once('/').map_or("", |(path, _)| path);
    Some(if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{path}/")
    })
}

/// The same day a year later (28 February for 29 February).
fn a_year_after(day: Date) -> Date {
    day.replace_year(day.year() + 1)
        .unwrap_or_else(|_| day + time::Duration::days(365))
}

fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ------------------------------------------------------------------ the file as written

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Spanned<i64>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    exemption: Vec<Spanned<RawExemption>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    mode: Spanned<String>,
    description: Option<String>,
    #[serde(default)]
    presets: Vec<Spanned<String>>,
    #[serde(default)]
    actions: Vec<Spanned<String>>,
    #[serde(default)]
    acceptable: Vec<Spanned<RawAcceptable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcceptable {
    resources: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    conditions: BTreeMap<String, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    name: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
    expires: Option<Spanned<toml::value::Datetime>>,
    actor: Option<Spanned<String>>,
    principal: Option<Spanned<String>>,
    policy: Option<Spanned<String>>,
    policy_path: Option<Spanned<String>>,
    sid: Option<Spanned<String>>,
    actions: Option<Spanned<Vec<Spanned<String>>>>,
    rules: Option<Spanned<Vec<Spanned<String>>>>,
}

type At<'a> = dyn Fn(Range<usize>, String) -> RulesError + 'a;

fn read_rule(
    raw: Spanned<RawRule>,
    catalog: &Catalog,
    at: &At<'_>,
    lines: &Lines,
) -> Result<Rule, RulesError> {
    let line = lines.at(raw.span().start).0;
    let raw = raw.into_inner();
    let name = raw.name.get_ref().clone();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(at(
            raw.name.span(),
            format!("rule name {name:?} must be lower-case letters, digits and hyphens"),
        ));
    }
    let mode = match raw.mode.get_ref().as_str() {
        "enforce" => Mode::Enforce,
        "alert" => Mode::Alert,
        "off" => Mode::Off,
        other => {
            return Err(at(
                raw.mode.span(),
                format!("rule {name:?}: mode {other:?} is not enforce, alert or off"),
            ));
        }
    };
    if raw.presets.is_empty() && raw.actions.is_empty() {
        return Err(RulesError {
            line,
            column: 1,
            message: format!("rule {name:?} names no actions and no presets"),
        });
    }
    let mut patterns: Vec<String> = Vec::new();
    let mut add = |pattern: &str| {
        if !patterns.iter().any(|p| p.eq_ignore_ascii_case(pattern)) {
            patterns.push(pattern.to_owned());
        }
    };
    for action in &raw.actions {
        check_pattern(action.get_ref(), catalog)
            .map_err(|e| at(action.span(), format!("rule {name:?}: {e}")))?;
        add(action.get_ref());
    }
    let mut presets = Vec::new();
    for preset in &raw.presets {
        let Some(found) = crate::presets::get(preset.get_ref()) else {
            let known: Vec<&str> = crate::presets::all().iter().map(|p| p.name).collect();
            return Err(at(
                preset.span(),
                format!(
                    "rule {name:?}: no preset is named {:?} (there are: {})",
                    preset.get_ref(),
                    known.join(", ")
                ),
            ));
        };
        presets.push(found.name.to_owned());
        for action in found.actions.iter() {
            add(action);
        }
    }
    let full_admin = presets.iter().any(|p| p == FULL_ADMIN_PRESET)
        && !raw
            .actions
            .iter()
            .any(|a| crate::pattern::matches_everything(a.get_ref()));
    let mut acceptable = Vec::new();
    for scope in raw.acceptable {
        let span = scope.span();
        let scope = scope.into_inner();
        if scope.resources.is_none() && scope.conditions.is_empty() {
            return Err(at(
                span,
                format!("rule {name:?}: an acceptable scope names no resources and no conditions"),
            ));
        }
        let text = |values: &[Spanned<String>], what: &str| {
            values
                .iter()
                .map(|v| {
                    if v.get_ref().is_empty() {
                        Err(at(v.span(), format!("rule {name:?}: an empty {what}")))
                    } else if covered(&[v.get_ref()], "*") {
                        Err(at(
                            v.span(),
                            format!(
                                "rule {name:?}: {what} {:?} matches everything: it would accept every grant",
                                v.get_ref()
                            ),
                        ))
                    } else {
                        Ok(v.get_ref().clone())
                    }
                })
                .collect::<Result<Vec<String>, RulesError>>()
        };
        let resources = match &scope.resources {
            Some(list) if list.is_empty() => {
                return Err(at(
                    span,
                    format!("rule {name:?}: an empty resources list accepts nothing; remove it"),
                ));
            }
            Some(list) => Some(text(list, "resource")?),
            None => None,
        };
        let mut conditions = BTreeMap::new();
        for (key, values) in &scope.conditions {
            if values.is_empty() {
                return Err(at(
                    span.clone(),
                    format!("rule {name:?}: condition key {key:?} lists no values"),
                ));
            }
            conditions.insert(key.clone(), text(values, "condition value")?);
        }
        acceptable.push(Acceptable {
            resources,
            conditions,
        });
    }
    Ok(Rule {
        name,
        mode,
        description: raw.description,
        presets,
        patterns,
        full_admin,
        acceptable,
        line,
    })
}

fn read_exemption(
    raw: Spanned<RawExemption>,
    rules: &[Rule],
    at: &At<'_>,
    lines: &Lines,
) -> Result<Exemption, RulesError> {
    let line = lines.at(raw.span().start).0;
    let raw = raw.into_inner();
    let missing = |what: &str, name: &str| RulesError {
        line,
        column: 1,
        message: format!("exemption {name:?} has no {what} (required)"),
    };
    let name = raw
        .name
        .as_ref()
        .map(|n| n.get_ref().clone())
        .ok_or_else(|| missing("name", ""))?;
    let required = |value: Option<Spanned<String>>, what: &str| match value {
        Some(v) if !v.get_ref().trim().is_empty() => Ok(v.into_inner()),
        Some(v) => Err(at(v.span(), format!("exemption {name:?}: {what} is empty"))),
        None => Err(missing(what, &name)),
    };
    let reason = required(raw.reason, "reason")?;
    let owner = required(raw.owner, "owner")?;
    let expires = match raw.expires {
        None => return Err(missing("expires (a date such as 2027-03-31)", &name)),
        Some(value) => {
            let span = value.span();
            match (value.get_ref().date, value.get_ref().time) {
                (Some(d), None) => time::Month::try_from(d.month)
                    .ok()
                    .and_then(|m| Date::from_calendar_date(d.year.into(), m, d.day).ok())
                    .ok_or_else(|| {
                        at(
                            span.clone(),
                            format!("exemption {name:?}: not a calendar date"),
                        )
                    })?,
                _ => {
                    return Err(at(
                        span,
                        format!(
                            "exemption {name:?}: expires must be a date such as 2027-03-31, without a time"
                        ),
                    ));
                }
            }
        }
    };
    // A selector that matches everything of its kind selects nothing: beside no other, it
    // would exempt everything.
    let selector = |value: Option<Spanned<String>>, what: &str| {
        let Some(v) = value else { return Ok(None) };
        let pattern = v.get_ref();
        let problem = match what {
            _ if pattern.is_empty() => Some("is empty: it matches nothing; remove it"),
            "actor" | "principal" | "policy" if arn_parts(pattern).is_none() => {
                Some("is not an ARN (arn:partition:service:region:account:resource)")
            }
            "actor" | "principal" | "policy"
                if arn_parts(pattern).is_some_and(|parts| covered(&[parts[5]], "*")) =>
            {
                Some("matches every resource of its account: name whom it exempts")
            }
            "policy_path" if covered(&[pattern], "/*") => {
                Some("matches every path: name which it exempts")
            }
            "sid" if covered(&[pattern], "*") => Some("matches every Sid: name which it exempts"),
            _ => None,
        };
        match problem {
            Some(problem) => Err(at(
                v.span(),
                format!("exemption {name:?}: {what} {pattern:?} {problem}"),
            )),
            None => Ok(Some(v.into_inner())),
        }
    };
    let actor = selector(raw.actor, "actor")?;
    let principal = selector(raw.principal, "principal")?;
    let policy = selector(raw.policy, "policy")?;
    let policy_path = selector(raw.policy_path, "policy_path")?;
    let sid = selector(raw.sid, "sid")?;
    // An empty list would read as "not given": every pattern, every rule.
    let list = |value: Option<Spanned<Vec<Spanned<String>>>>, what: &str| match value {
        Some(list) if list.get_ref().is_empty() => Err(at(
            list.span(),
            format!(
                "exemption {name:?}: an empty {what} list would mean every one of them; remove it"
            ),
        )),
        other => Ok(other.map(Spanned::into_inner).unwrap_or_default()),
    };
    let mut actions = Vec::new();
    for action in list(raw.actions, "actions")? {
        let problem = match check_action_syntax(action.get_ref()) {
            Err(problem) => Some(problem),
            Ok(()) if matches_every_action(action.get_ref()) => {
                Some("covers every pattern: leave actions out, or name the patterns")
            }
            Ok(()) => None,
        };
        if let Some(problem) = problem {
            return Err(at(
                action.span(),
                format!(
                    "exemption {name:?}: action {:?} {problem}",
                    action.get_ref()
                ),
            ));
        }
        actions.push(action.into_inner());
    }
    let mut named_rules = Vec::new();
    for rule in list(raw.rules, "rules")? {
        if !rules.iter().any(|r| &r.name == rule.get_ref()) {
            return Err(at(
                rule.span(),
                format!(
                    "exemption {name:?}: no rule is named {:?} (rules are declared before exemptions)",
                    rule.get_ref()
                ),
            ));
        }
        named_rules.push(rule.into_inner());
    }
    if actor.is_none()
        && principal.is_none()
        && policy.is_none()
        && policy_path.is_none()
        && sid.is_none()
        && actions.is_empty()
    {
        return Err(RulesError {
            line,
            column: 1,
            message: format!(
                "exemption {name:?} names none of actor, principal, policy, policy_path, sid, actions: it would exempt everything"
            ),
        });
    }
    Ok(Exemption {
        name,
        reason,
        owner,
        expires,
        actor,
        principal,
        policy,
        policy_path,
        sid,
        actions,
        rules: named_rules,
        line,
    })
}

/// Byte offsets to 1-based lines and columns (columns in characters).
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn of(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    fn at(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 12 - 02);

    fn rules(text: &str) -> Rules {
        Rules::parse(text, Catalog::embedded()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> String {
        Rules::parse(text, Catalog::embedded())
            .unwrap_err()
            .to_string()
    }

    fn policy(statements: &str) -> Policy<'static> {
        Policy::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#
        ))
        .unwrap()
        .into_owned()
    }

    /// The patterns each statement's findings name, per mode, and the exemptions named.
    fn verdict(rules: &Rules, context: &Context<'_>, statements: &str) -> Vec<String> {
        let assessment = rules.assess(&policy(statements), context, TODAY, Catalog::embedded());
        let mut lines = Vec::new();
        for (mode, analysis) in [
            ("enforce", &assessment.enforced),
            ("alert", &assessment.alerted),
        ] {
            for finding in &analysis.findings {
                for hit in &finding.hits {
                    lines.push(format!("{mode} {} {}", finding.statement, hit.restricted));
                }
            }
        }
        for grant in &assessment.exempted {
            lines.push(format!(
                "exempt {} {} by {}",
                grant.statement, grant.pattern, grant.exemption.name
            ));
        }
        for grant in &assessment.expired {
            lines.push(format!(
                "expired {} {} {}",
                grant.statement, grant.pattern, grant.exemption.name
            ));
        }
        lines
    }

    const PASS_ROLE: &str = r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/passable/app"}"#;

    #[test]
    fn each_mode_restricts_its_own_patterns_and_enforce_wins() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "deletes"
mode = "enforce"
actions = ["s3:DeleteBucket"]
[[rule]]
name = "watch"
mode = "alert"
actions = ["s3:DeleteBucket", "ec2:TerminateInstances"]
[[rule]]
name = "dormant"
mode = "off"
actions = ["dynamodb:DeleteTable"]
"#,
        );
        assert_eq!(
            verdict(
                &rules,
                &Context::default(),
                r#"{"Effect":"Allow","Action":["s3:DeleteBucket","ec2:TerminateInstances","dynamodb:DeleteTable"],"Resource":"*"}"#
            ),
            [
                "enforce 0 s3:DeleteBucket",
                "alert 0 ec2:TerminateInstances"
            ]
        );
        assert!(
            rules
                .restricted(Mode::Off, &Context::default(), TODAY)
                .is_some()
        );
        assert!(!rules.restricts_nothing());
    }

    #[test]
    fn a_grant_within_an_acceptable_scope_is_not_restricted() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "pass-role"
mode = "enforce"
actions = ["iam:PassRole"]
  [[rule.acceptable]]
  resources = ["arn:aws:iam::*:role/passable/*"]
  [[rule.acceptable]]
  conditions = { "iam:PassedToService" = ["lambda.amazonaws.com"] }
"#,
        );
        let context = Context::default();
        let cases = [
            // within the resources
            (PASS_ROLE, vec![]),
            // another path, another case, every role, NotResource: restricted
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/admin"}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/PASSABLE/app"}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","NotResource":"arn:aws:iam::1:role/x"}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            // a policy variable could be anything
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/passable${aws:username}"}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            // the condition restricts the key to the listed value
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:passedtoservice":"lambda.amazonaws.com"}}}"#,
                vec![],
            ),
            // a wider value, IfExists, or another key: restricted
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringLike":{"iam:PassedToService":"*.amazonaws.com"}}}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEqualsIfExists":{"iam:PassedToService":"lambda.amazonaws.com"}}}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
            (
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"lambda.amazonaws.com"}}}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
        ];
        for (statement, expected) in cases {
            assert_eq!(
                verdict(&rules, &context, statement),
                expected,
                "{statement}"
            );
        }
    }

    #[test]
    fn a_policy_variable_in_a_scope_stands_only_for_itself() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "keys"
mode = "enforce"
actions = ["iam:CreateAccessKey"]
  [[rule.acceptable]]
  resources = ["arn:aws:iam::*:user/${aws:username}"]
"#,
        );
        let keys = |resource: &str| {
            format!(
                r#"{{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"{resource}"}}"#
            )
        };
        let cases = [
            // the user's own keys: the same variable, replaced by the same name
            ("arn:aws:iam::*:user/${aws:username}", vec![]),
            // someone else's: the scope's variable is no wildcard
            (
                "arn:aws:iam::123456789012:user/admin",
                vec!["enforce 0 iam:CreateAccessKey"],
            ),
            (
                "arn:aws:iam::123456789012:user/*",
                vec!["enforce 0 iam:CreateAccessKey"],
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                verdict(&rules, &Context::default(), &keys(resource)),
                expected,
                "{resource}"
            );
        }
    }

    #[test]
    fn the_quarantine_leaves_an_acceptable_grant_alone() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "pass-role"
mode = "enforce"
actions = ["iam:PassRole"]
  [[rule.acceptable]]
  resources = ["arn:aws:iam::*:role/passable/*"]
"#,
        );
        let document = policy(&format!(
            r#"{PASS_ROLE},{{"Sid":"Wide","Effect":"Allow","Action":["iam:PassRole","s3:GetObject"],"Resource":"*"}}"#
        ));
        let restricted = rules
            .restricted(Mode::Enforce, &Context::default(), TODAY)
            .unwrap();
        let quarantine =
            crate::quarantine::plan(&document, &restricted, Catalog::embedded(), 6144).unwrap();
        assert_eq!(quarantine.policy.statements[0], document.statements[0]);
        assert_eq!(
            serde_json::to_value(&quarantine.policy.statements[1]).unwrap(),
            serde_json::json!({"Sid":"Wide","Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"})
        );
    }

    #[test]
    fn the_quarantine_keeps_an_acceptable_grant_inside_a_wildcard() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "pass-role"
mode = "enforce"
actions = ["iam:PassRole"]
  [[rule.acceptable]]
  resources = ["arn:aws:iam::*:role/passable/*", "arn:aws:iam::*:user/passable/*"]
[[rule]]
name = "keys"
mode = "enforce"
actions = ["iam:CreateAccessKey"]
"#,
        );
        let document = policy(
            r#"{"Effect":"Allow","Action":"iam:*","Resource":["arn:aws:iam::1:role/passable/*","arn:aws:iam::1:user/passable/*"]}"#,
        );
        let restricted = rules
            .restricted(Mode::Enforce, &Context::default(), TODAY)
            .unwrap();
        let quarantine =
            crate::quarantine::plan(&document, &restricted, Catalog::embedded(), 6144).unwrap();
        let kept = &quarantine.policy.statements[0].actions;
        assert!(crate::analysis::clause_covers(kept, "iam:PassRole"));
        assert!(!crate::analysis::clause_covers(kept, "iam:CreateAccessKey"));
    }

    #[test]
    fn a_pattern_in_two_rules_is_acceptable_only_where_both_accept_it() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "scoped"
mode = "enforce"
actions = ["iam:PassRole"]
  [[rule.acceptable]]
  resources = ["arn:aws:iam::*:role/passable/*"]
[[rule]]
name = "plain"
mode = "enforce"
actions = ["iam:passrole"]
"#,
        );
        assert_eq!(
            verdict(&rules, &Context::default(), PASS_ROLE),
            ["enforce 0 iam:PassRole"]
        );
    }

    const EXEMPTIONS: &str = r#"
version = 1
[[rule]]
name = "escalation"
mode = "enforce"
actions = ["iam:PassRole", "iam:CreateAccessKey"]
[[rule]]
name = "deletes"
mode = "alert"
actions = ["s3:DeleteBucket"]

[[exemption]]
name = "ci-deploy"
reason = "Terraform applies reviewed changes"
owner = "platform@example.com"
expires = 2027-03-31
actor = "arn:aws:iam::*:role/ci-deploy"

[[exemption]]
name = "break-glass"
reason = "the break-glass role holds every right"
owner = "security@example.com"
expires = 2027-01-31
principal = "arn:aws:iam::*:role/break-glass"

[[exemption]]
name = "platform-policies"
reason = "platform policies are reviewed"
owner = "platform@example.com"
expires = 2027-01-31
policy_path = "/platform/*"
actions = ["iam:*"]

[[exemption]]
name = "one-policy"
reason = "reviewed"
owner = "platform@example.com"
expires = 2027-01-31
policy = "arn:aws:iam::*:policy/Legacy"
rules = ["deletes"]

[[exemption]]
name = "state-bucket"
reason = "Terraform state"
owner = "platform@example.com"
expires = 2027-01-31
sid = "TerraformState*"

[[exemption]]
name = "old-keys"
reason = "migration"
owner = "ops@example.com"
expires = 2026-11-30
actions = ["iam:CreateAccessKey"]
"#;

    const BOTH: &str = r#"{"Sid":"Mixed","Effect":"Allow","Action":["iam:PassRole","iam:CreateAccessKey","s3:DeleteBucket"],"Resource":"*"}"#;

    #[test]
    fn each_kind_of_exemption_covers_what_it_names_until_it_expires() {
        let rules = rules(EXEMPTIONS);
        let nobody = Context::default();
        let cases: [(Context<'_>, &str, Vec<&str>); 7] = [
            // nothing matches: everything counts; the expired exemption is named
            (
                Context::default(),
                BOTH,
                vec![
                    "enforce 0 iam:PassRole",
                    "enforce 0 iam:CreateAccessKey",
                    "alert 0 s3:DeleteBucket",
                    "expired 0 iam:CreateAccessKey old-keys",
                ],
            ),
            // the actor: an assumed-role session's role
            (
                Context {
                    actor: vec![
                        "arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42",
                        "arn:aws:iam::123456789012:role/ci-deploy",
                    ],
                    ..Context::default()
                },
                BOTH,
                vec![
                    "exempt 0 iam:PassRole by ci-deploy",
                    "exempt 0 iam:CreateAccessKey by ci-deploy",
                    "exempt 0 s3:DeleteBucket by ci-deploy",
                ],
            ),
            // the principal the grant is on
            (
                Context {
                    principal: Some("arn:aws:iam::123456789012:role/break-glass"),
                    ..Context::default()
                },
                BOTH,
                vec![
                    "exempt 0 iam:PassRole by break-glass",
                    "exempt 0 iam:CreateAccessKey by break-glass",
                    "exempt 0 s3:DeleteBucket by break-glass",
                ],
            ),
            // a policy path, for the actions it names only
            (
                Context {
                    policy: Some("arn:aws:iam::123456789012:policy/platform/Deploy"),
                    ..Context::default()
                },
                BOTH,
                vec![
                    "alert 0 s3:DeleteBucket",
                    "exempt 0 iam:PassRole by platform-policies",
                    "exempt 0 iam:CreateAccessKey by platform-policies",
                ],
            ),
            // a policy ARN, for one rule only
            (
                Context {
                    policy: Some("arn:aws:iam::123456789012:policy/Legacy"),
                    ..Context::default()
                },
                BOTH,
                vec![
                    "enforce 0 iam:PassRole",
                    "enforce 0 iam:CreateAccessKey",
                    "exempt 0 s3:DeleteBucket by one-policy",
                    "expired 0 iam:CreateAccessKey old-keys",
                ],
            ),
            // a statement's Sid: that statement only
            (
                Context::default(),
                r#"{"Sid":"TerraformStateBucket","Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"},
                   {"Sid":"Other","Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}"#,
                vec![
                    "alert 1 s3:DeleteBucket",
                    "exempt 0 s3:DeleteBucket by state-bucket",
                ],
            ),
            // a path that is not the exemption's
            (
                Context {
                    policy: Some("arn:aws:iam::123456789012:policy/platformx/Deploy"),
                    ..Context::default()
                },
                r#"{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}"#,
                vec!["enforce 0 iam:PassRole"],
            ),
        ];
        for (context, statements, expected) in cases {
            assert_eq!(
                verdict(&rules, &context, statements),
                expected,
                "{context:?}"
            );
        }
        assert!(rules.restricted(Mode::Enforce, &nobody, TODAY).is_some());
    }

    #[test]
    fn an_arn_selector_matches_part_by_part() {
        let rules = rules(EXEMPTIONS);
        let actor = |arn| Context {
            actor: vec![arn],
            ..Context::default()
        };
        let ci = ["exempt 0 iam:PassRole by ci-deploy"];
        let enforced = ["enforce 0 iam:PassRole"];
        let cases: [(&str, &[&str]); 4] = [
            ("arn:aws:iam::123456789012:role/ci-deploy", &ci),
            // a user named ci-deploy on the path /x:role/: the account's `*` must not reach
            // into the resource part
            ("arn:aws:iam::123456789012:user/x:role/ci-deploy", &enforced),
            ("arn:aws:iam::123456789012:user/role/ci-deploy", &enforced),
            ("arn:aws:iam::1:2:role/ci-deploy", &enforced),
        ];
        for (arn, expected) in cases {
            assert_eq!(verdict(&rules, &actor(arn), PASS_ROLE), expected, "{arn}");
        }
    }

    #[test]
    fn an_exemption_from_the_enforcing_rule_leaves_the_alerting_one() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "strict"
mode = "enforce"
actions = ["iam:PassRole"]
[[rule]]
name = "watch"
mode = "alert"
actions = ["IAM:passrole"]
[[exemption]]
name = "ci"
reason = "r"
owner = "o"
expires = 2027-01-01
actor = "arn:aws:iam::*:role/ci"
rules = ["strict"]
"#,
        );
        let ci = Context {
            actor: vec!["arn:aws:iam::123456789012:role/ci"],
            ..Context::default()
        };
        assert_eq!(
            verdict(&rules, &ci, PASS_ROLE),
            ["alert 0 IAM:passrole", "exempt 0 iam:PassRole by ci"]
        );
        assert_eq!(
            verdict(&rules, &Context::default(), PASS_ROLE),
            ["enforce 0 iam:PassRole"]
        );
    }

    #[test]
    fn an_exemption_of_a_narrower_pattern_does_not_split_a_wider_one() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "iam"
mode = "enforce"
actions = ["iam:*"]
[[exemption]]
name = "pass-role"
reason = "r"
owner = "o"
expires = 2027-01-01
actions = ["iam:PassRole"]
"#,
        );
        assert_eq!(
            verdict(&rules, &Context::default(), PASS_ROLE),
            ["enforce 0 iam:*"]
        );
    }

    #[test]
    fn full_admin_is_a_grant_of_every_action() {
        let rules = rules(
            "version = 1\n[[rule]]\nname = \"admin\"\nmode = \"enforce\"\npresets = [\"full-admin\"]\n",
        );
        let context = Context::default();
        assert_eq!(
            verdict(
                &rules,
                &context,
                r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#
            ),
            ["enforce 0 *"]
        );
        assert_eq!(
            verdict(
                &rules,
                &context,
                r#"{"Effect":"Allow","Action":"*:*","Resource":"arn:aws:s3:::b"}"#
            ),
            ["enforce 0 *"]
        );
        for narrower in [
            r#"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#,
            r#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#,
        ] {
            assert!(verdict(&rules, &context, narrower).is_empty(), "{narrower}");
        }
        // Every known action, however it is spelt: a wildcard that needs a character, a list
        // whose entries together cover every service, a NotAction that excludes nothing known.
        let letters: Vec<String> = ('a'..='z').map(|c| format!("\"{c}*:*\"")).collect();
        for every in [
            r#"{"Effect":"Allow","Action":"?*:*","Resource":"*"}"#.to_owned(),
            format!(
                r#"{{"Effect":"Allow","Action":[{}],"Resource":"*"}}"#,
                letters.join(",")
            ),
            r#"{"Effect":"Allow","NotAction":"iam:NoSuchAction","Resource":"*"}"#.to_owned(),
            r#"{"Effect":"Allow","NotAction":"nosuchservice:*","Resource":"*"}"#.to_owned(),
        ] {
            assert_eq!(
                verdict(&rules, &context, &every),
                ["enforce 0 *"],
                "{every}"
            );
        }
    }

    #[test]
    fn the_parameter_is_one_more_enforced_rule_and_changes_the_digest() {
        let file = "version = 1\n";
        let alone = rules(file);
        assert!(alone.restricts_nothing());
        let parameter = RestrictedActions::parse("s3:DeleteBucket", Catalog::embedded()).unwrap();
        let with = rules(file).with_parameter(Some(&parameter));
        assert_eq!(with.rules()[0].name, PARAMETER_RULE);
        assert_ne!(with.digest(), alone.digest());
        assert_eq!(
            Rules::of_parameter(&parameter),
            rules("version = 1").with_parameter(Some(&parameter))
        );
        assert_eq!(
            verdict(
                &with,
                &Context::default(),
                r#"{"Effect":"Allow","Action":"s3:Delete*","Resource":"*"}"#
            ),
            ["enforce 0 s3:DeleteBucket"]
        );
    }

    #[test]
    fn rules_check_refuses_an_expired_exemption() {
        let rules = rules(EXEMPTIONS);
        let problems: Vec<String> = rules
            .problems(TODAY)
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "line 49, column 1: exemption \"old-keys\" expired on 2026-11-30 (owner ops@example.com): renew it with a new date, or remove it"
            ]
        );
        assert!(rules.problems(date!(2026 - 11 - 30)).is_empty());
    }

    #[test]
    fn rules_check_refuses_an_exemption_expiring_more_than_a_year_ahead() {
        let expiring = |expires: &str| {
            rules(&format!(
                "version = 1\n[[rule]]\nname = \"r\"\nmode = \"alert\"\nactions = [\"iam:*\"]\n\
                 [[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\n\
                 expires = {expires}\nactions = [\"iam:*\"]\n"
            ))
        };
        let leap_day = date!(2028 - 02 - 29);
        let cases = [
            ("a year ahead to the day", TODAY, "2027-12-02", None),
            (
                "a day more",
                TODAY,
                "2027-12-03",
                Some(
                    "line 6, column 1: exemption \"e\" expires on 2027-12-03, more than a year \
                     after today (2026-12-02): a typo? renew an exemption at least yearly: give a \
                     date up to 2027-12-02",
                ),
            ),
            (
                "a typo of 2027",
                TODAY,
                "2207-01-01",
                Some(
                    "line 6, column 1: exemption \"e\" expires on 2207-01-01, more than a year \
                     after today (2026-12-02): a typo? renew an exemption at least yearly: give a \
                     date up to 2027-12-02",
                ),
            ),
            ("from a leap day, 28 February", leap_day, "2029-02-28", None),
            (
                "from a leap day, 1 March",
                leap_day,
                "2029-03-01",
                Some(
                    "line 6, column 1: exemption \"e\" expires on 2029-03-01, more than a year \
                     after today (2028-02-29): a typo? renew an exemption at least yearly: give a \
                     date up to 2029-02-28",
                ),
            ),
        ];
        for (case, today, expires, problem) in cases {
            let problems: Vec<String> = expiring(expires)
                .problems(today)
                .iter()
                .map(|p| p.to_string())
                .collect();
            assert_eq!(
                problems,
                Vec::from_iter(problem.map(str::to_owned)),
                "{case}"
            );
        }
    }

    #[test]
    fn rules_check_refuses_rules_that_restrict_nothing() {
        let parameter = RestrictedActions::parse("s3:DeleteBucket", Catalog::embedded()).unwrap();
        let off = "version = 1\n[[rule]]\nname = \"r\"\nmode = \"off\"\nactions = [\"iam:*\"]\n";
        let alert = off.replace("\"off\"", "\"alert\"");
        let cases = [
            ("no rule", rules("version = 1\n"), true),
            ("every rule off", rules(off), true),
            (
                "with the parameter",
                rules(off).with_parameter(Some(&parameter)),
                false,
            ),
            ("a rule in alert", rules(&alert), false),
        ];
        for (case, rules, refused) in cases {
            let problems: Vec<String> = rules
                .problems(TODAY)
                .iter()
                .map(|p| p.to_string())
                .collect();
            let expected = refused.then(|| {
                "line 1, column 1: nothing is restricted: no rule is in enforce or alert mode, so \
                 a deployment restricts only what its RestrictedActions parameter names, and its \
                 functions refuse to start when that is empty (switch a rule to alert, or check \
                 with the parameter: --restricted LIST)"
                    .to_owned()
            });
            assert_eq!(problems, Vec::from_iter(expected), "{case}");
        }
    }

    #[test]
    fn rules_check_refuses_an_exemption_that_exempts_nothing() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "iam"
mode = "enforce"
actions = ["iam:*", "s3:DeleteBucket"]
[[exemption]]
name = "narrower"
reason = "r"
owner = "o"
expires = 2027-01-01
actions = ["iam:PassRole"]
[[exemption]]
name = "typo"
reason = "r"
owner = "o"
expires = 2027-01-01
actions = ["s3:DeleteBuckett"]
[[exemption]]
name = "covers"
reason = "r"
owner = "o"
expires = 2027-01-01
actions = ["s3:Delete*"]
"#,
        );
        let problems: Vec<usize> = rules.problems(TODAY).iter().map(|p| p.line).collect();
        assert_eq!(problems, [7, 13]);
    }

    #[test]
    fn every_problem_names_its_line_and_column() {
        let rule = |body: &str| format!("version = 1\n[[rule]]\nname = \"r\"\n{body}\n");
        let cases = [
            (
                "version = 2\n".to_owned(),
                "line 1, column 11: version 2 is not known: this iam-sentinel reads version 1",
            ),
            (
                rule("mode = \"enforced\"\nactions = [\"iam:*\"]"),
                "line 4, column 8: rule \"r\": mode \"enforced\" is not enforce, alert or off",
            ),
            (
                rule("mode = \"alert\"\nactions = [\"s3:DeleteBuckett\"]"),
                "line 5, column 12: rule \"r\": restricted action \"s3:DeleteBuckett\" matches no known IAM action (did you mean \"s3:DeleteBucket\"?)",
            ),
            (
                rule("mode = \"alert\"\nactions = [\"iam:*\", \"*:DeleteBucket\"]"),
                "line 5, column 21: rule \"r\": restricted action \"*:DeleteBucket\" has a wildcard in its service prefix: name the service, or write * for every action (a quarantine writes the pattern into NotAction, where IAM expects a service prefix)",
            ),
            (
                rule("mode = \"alert\"\npresets = [\"nope\"]"),
                "line 5, column 12: rule \"r\": no preset is named \"nope\"",
            ),
            (
                rule("mode = \"alert\""),
                "line 2, column 1: rule \"r\" names no actions and no presets",
            ),
            (
                rule("mode = \"alert\"\nactions = [\"iam:*\"]\nmodes = 1"),
                "line 6, column 1: unknown field `modes`",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nactions = [\"iam:*\"]",
                ),
                "line 6, column 1: exemption \"e\" has no expires (a date such as 2027-03-31) (required)",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01T00:00:00Z\nactions = [\"iam:*\"]",
                ),
                "line 10, column 11: exemption \"e\": expires must be a date such as 2027-03-31, without a time",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01",
                ),
                "line 6, column 1: exemption \"e\" names none of actor, principal, policy, policy_path, sid, actions: it would exempt everything",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"  \"\nowner = \"o\"\nexpires = 2027-01-01\nsid = \"x\"",
                ),
                "line 8, column 10: exemption \"e\": reason is empty",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nsid = \"x\"\nrules = [\"s\"]",
                ),
                "line 12, column 10: exemption \"e\": no rule is named \"s\" (rules are declared before exemptions)",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nactor = \"arn:aws:iam::*\"",
                ),
                "line 11, column 9: exemption \"e\": actor \"arn:aws:iam::*\" is not an ARN (arn:partition:service:region:account:resource)",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nprincipal = \"arn:aws:iam::*:*\"",
                ),
                "line 11, column 13: exemption \"e\": principal \"arn:aws:iam::*:*\" matches every resource of its account",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nsid = \"*\"",
                ),
                "line 11, column 7: exemption \"e\": sid \"*\" matches every Sid",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\npolicy_path = \"/*\"",
                ),
                "line 11, column 15: exemption \"e\": policy_path \"/*\" matches every path",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nactions = [\"?*:*\"]",
                ),
                "line 11, column 12: exemption \"e\": action \"?*:*\" covers every pattern",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nsid = \"Ci\"\nactions = []",
                ),
                "line 12, column 11: exemption \"e\": an empty actions list would mean every one of them",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[exemption]]\nname = \"e\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2027-01-01\nsid = \"Ci\"\nrules = []",
                ),
                "line 12, column 9: exemption \"e\": an empty rules list would mean every one of them",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[rule.acceptable]]\nresources = [\"arn:*\", \"*\"]",
                ),
                "line 7, column 23: rule \"r\": resource \"*\" matches everything: it would accept every grant",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[rule.acceptable]]\nresources = []",
                ),
                "line 6, column 1: rule \"r\": an empty resources list accepts nothing; remove it",
            ),
            (
                rule(
                    "mode = \"alert\"\nactions = [\"iam:*\"]\n[[rule]]\nname = \"r\"\nmode = \"off\"\nactions = [\"iam:*\"]",
                ),
                "line 6, column 1: a second rule is named \"r\"",
            ),
        ];
        for (text, expected) in cases {
            let found = error(&text);
            assert!(
                found.starts_with(expected),
                "{text}\n{found}\nwanted {expected}"
            );
        }
    }

    #[test]
    fn a_preset_expands_into_its_actions() {
        let rules = rules(
            "version = 1\n[[rule]]\nname = \"escalation\"\nmode = \"alert\"\npresets = [\"Privilege-Escalation\"]\n",
        );
        let preset = crate::presets::get("privilege-escalation").unwrap();
        assert_eq!(rules.rules()[0].presets, ["privilege-escalation"]);
        assert_eq!(rules.rules()[0].patterns.len(), preset.actions.len());
        assert_eq!(
            verdict(&rules, &Context::default(), PASS_ROLE),
            ["alert 0 iam:PassRole"]
        );
    }

    /// IAM's matching of one value against one written pattern, the policy variable `${v}`
    /// replaced by `x` (the same in the scope and in the statement: one request), as the
    /// oracle: `*` any run, `?` one character.
    fn oracle_matches(pattern: &str, x: &str, value: &str) -> bool {
        let pattern = pattern.replace("${v}", x);
        fn go(p: &[u8], s: &[u8]) -> bool {
            match (p.first(), s.first()) {
                (None, None) => true,
                (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
                (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
                (Some(c), Some(d)) => c == d && go(&p[1..], &s[1..]),
                _ => false,
            }
        }
        go(pattern.as_bytes(), value.as_bytes())
    }

    /// Every string of up to five characters over the patterns' letters.
    static SAMPLES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..5 {
            last = last
                .iter()
                .flat_map(|s| ["a", "b", ":"].map(|c| format!("{s}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    });

    /// What the policy variable may be replaced by.
    const VARIABLES: [&str; 4] = ["", "a", "b:", ":ab"];

    fn written() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("([ab:*?]|\\$\\{v\\}){1,4}").unwrap()
    }

    proptest::proptest! {
        /// A statement an acceptable scope applies to grants nothing outside it: every
        /// resource its `Resource` can reach is one of the scope's, and every value of the
        /// scope's key that satisfies its `Condition` is one of the scope's values.
        #[test]
        fn an_accepted_statement_grants_nothing_outside_the_scope(
            allowed in proptest::collection::vec(written(), 1..3),
            resources in proptest::collection::vec(written(), 1..3),
            operator in proptest::sample::select(vec![
                "StringEquals", "StringLike", "ArnLike", "StringEqualsIfExists",
                "StringEqualsIgnoreCase", "ForAnyValue:StringLike", "ForAllValues:StringEquals",
                "StringNotEquals", "Null",
            ]),
            key in proptest::sample::select(vec!["k:Key", "K:KEY", "k:other"]),
            values in proptest::collection::vec(written(), 1..3),
        ) {
            let statement = |condition: serde_json::Value| {
                let mut s = serde_json::json!({"Effect": "Allow", "Action": "iam:PassRole",
                    "Resource": resources});
                if !condition.is_null() {
                    s["Condition"] = condition;
                }
                policy(&s.to_string())
            };
            let by_resource = Acceptable { resources: Some(allowed.clone()), conditions: BTreeMap::new() };
            let plain = statement(serde_json::Value::Null);
            if by_resource.applies_to(&plain.statements[0]) {
                for (x, sample) in VARIABLES.iter().flat_map(|x| SAMPLES.iter().map(move |s| (x, s))) {
                    let reached = resources.iter().any(|r| oracle_matches(r, x, sample));
                    let within = allowed.iter().any(|a| oracle_matches(a, x, sample));
                    proptest::prop_assert!(!reached || within, "{sample:?} with ${{v}} = {x:?}");
                }
            }
            let by_condition = Acceptable {
                resources: None,
                conditions: BTreeMap::from([("k:key".to_owned(), allowed.clone())]),
            };
            let conditioned = statement(serde_json::json!({operator: {key: values}}));
            if by_condition.applies_to(&conditioned.statements[0]) {
                proptest::prop_assert!(
                    ["StringEquals", "StringLike", "ArnLike"].contains(&operator)
                        && key.eq_ignore_ascii_case("k:key"),
                    "{operator} {key}"
                );
                for (x, sample) in VARIABLES.iter().flat_map(|x| SAMPLES.iter().map(move |s| (x, s))) {
                    // StringEquals takes `*` and `?` as themselves.
                    let holds = values.iter().any(|v| match operator {
                        "StringEquals" => v.replace("${v}", x) == *sample,
                        _ => oracle_matches(v, x, sample),
                    });
                    let within = allowed.iter().any(|a| oracle_matches(a, x, sample));
                    proptest::prop_assert!(!holds || within, "{sample:?} with ${{v}} = {x:?}");
                }
            }
        }
    }

    const QUARANTINED: &str = r#"
version = 1
[[rule]]
name = "keys"
mode = "enforce"
actions = ["iam:PassRole", "iam:CreateAccessKey"]
  [[rule.acceptable]]
  resources = ["arn:aws:iam::*:role/passable/*", "arn:aws:iam::*:user/passable/*"]
[[rule]]
name = "deletes"
mode = "enforce"
actions = ["s3:DeleteBucket", "iam:Delete*"]
[[rule]]
name = "admin"
mode = "enforce"
presets = ["full-admin"]
[[exemption]]
name = "reviewed"
reason = "r"
owner = "o"
expires = 2027-01-01
sid = "Reviewed*"
actions = ["s3:DeleteBucket"]
"#;

    /// Known actions near the rules' patterns, inside and outside them.
    const NEAR: &[&str] = &[
        "iam:PassRole",
        "iam:CreateAccessKey",
        "iam:CreateUser",
        "iam:DeleteUser",
        "iam:GetUser",
        "s3:DeleteBucket",
        "s3:GetObject",
        "ec2:DescribeInstances",
    ];

    fn statement() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let action = prop::sample::select(vec![
            "*",
            "iam:*",
            "iam:Pass*",
            "iam:PassRole",
            "iam:Create*",
            "iam:Delete*",
            "s3:*",
            "s3:Delete*",
            "s3:DeleteBucket",
            "s3:GetObject",
            "ec2:Describe*",
        ]);
        let resource = prop::sample::select(vec![
            "*",
            "arn:aws:iam::1:role/passable/*",
            "arn:aws:iam::1:user/passable/*",
            "arn:aws:iam::1:role/admin",
            "arn:aws:s3:::b",
        ]);
        (
            prop::sample::select(vec!["Allow", "Allow", "Deny"]),
            prop::sample::select(vec!["", "Reviewed1", "Other"]),
            any::<bool>(),
            prop::collection::vec(action, 1..4),
            prop::collection::vec(resource, 1..3),
        )
            .prop_map(|(effect, sid, not_action, actions, resources)| {
                let mut s = serde_json::json!({"Effect": effect, "Resource": resources});
                s[if not_action { "NotAction" } else { "Action" }] = serde_json::json!(actions);
                if !sid.is_empty() {
                    s["Sid"] = serde_json::json!(sid);
                }
                s
            })
    }

    proptest::proptest! {
        // A statement granting every action is analysed against the whole catalog: few cases.
        #![proptest_config(proptest::test_runner::Config::with_cases(16))]
        /// With acceptable scopes, an exempted Sid and full-admin: the quarantine grants
        /// nothing the rules enforce, without falling back on dropping statements, and every
        /// known action a statement granted outside what is counted in it stays granted by the
        /// statement.
        #[test]
        fn the_quarantine_takes_out_what_is_counted_and_only_that(
            statements in proptest::collection::vec(statement(), 1..4),
        ) {
            let rules = rules(QUARANTINED);
            let restricted = rules.restricted(Mode::Enforce, &Context::default(), TODAY).unwrap();
            let document = policy(
                &statements.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","),
            );
            let quarantine =
                crate::quarantine::plan(&document, &restricted, Catalog::embedded(), 1 << 20)
                    .unwrap();
            proptest::prop_assert!(
                !analyse(&quarantine.policy, &restricted, Catalog::embedded()).grants_restricted()
            );
            let fell_back = quarantine.edits.iter().any(|e| matches!(e,
                crate::quarantine::Edit::DroppedStatement { reason, .. }
                    if reason.contains("still granted")));
            proptest::prop_assert!(!fell_back);
            for original in document.statements.iter().filter(|s| s.effect == crate::document::Effect::Allow) {
                let counted: Vec<&str> = restricted.counted_in(original, crate::restricted::Touched::EVERY).map(|r| r.text).collect();
                for action in NEAR.iter().filter(|a| {
                    crate::analysis::clause_covers(&original.actions, a)
                        && !counted.iter().any(|c| crate::pattern::matches(c, a))
                }) {
                    let kept = quarantine.policy.statements.iter().any(|s| {
                        s.effect == original.effect
                            && s.sid == original.sid
                            && s.resources == original.resources
                            && crate::analysis::clause_covers(&s.actions, action)
                    });
                    proptest::prop_assert!(kept, "{action} lost from {:?}", original.sid);
                }
            }
        }
    }

    #[test]
    fn a_policy_path_is_read_from_the_arn() {
        assert_eq!(
            policy_path("arn:aws:iam::1:policy/platform/team/P").as_deref(),
            Some("/platform/team/")
        );
        assert_eq!(policy_path("arn:aws:iam::1:policy/P").as_deref(), Some("/"));
        assert_eq!(policy_path("arn:aws:iam::1:role/P"), None);
    }

    #[test]
    fn a_statement_is_exempt_when_every_rule_naming_the_pattern_is_covered() {
        let rules = rules(
            r#"
version = 1
[[rule]]
name = "strict"
mode = "enforce"
actions = ["iam:PassRole"]
[[rule]]
name = "escalation"
mode = "enforce"
actions = ["iam:passrole", "iam:CreateAccessKey"]
[[exemption]]
name = "break-glass"
reason = "r"
owner = "o"
expires = 2027-01-01
principal = "arn:aws:iam::*:role/break-glass"
[[exemption]]
name = "terraform-state"
reason = "r"
owner = "o"
expires = 2027-01-01
sid = "Terraform*"
rules = ["strict"]
[[exemption]]
name = "old"
reason = "r"
owner = "o"
expires = 2026-01-01
policy_path = "/platform/*"
"#,
        );
        let role = |name| format!("arn:aws:iam::123456789012:role/{name}");
        let (glass, app) = (role("break-glass"), role("app"));
        let cover = |principal: &str, sid: Option<&str>, policy: Option<&str>| {
            let context = Context {
                principal: Some(principal),
                policy,
                ..Context::default()
            };
            let cover = rules.cover(Mode::Enforce, "iam:PassRole", sid, &context, TODAY);
            let names = |list: &[Covering]| {
                list.iter()
                    .map(|c| format!("{}:{}", c.rule, c.exemption.name))
                    .collect::<Vec<_>>()
            };
            (names(&cover.active), names(&cover.expired))
        };
        let platform = Some("arn:aws:iam::123456789012:policy/platform/Deploy");
        // (principal, Sid, policy, active (rule:exemption), expired)
        type Case<'c> = (
            &'c str,
            Option<&'c str>,
            Option<&'c str>,
            &'c [&'c str],
            &'c [&'c str],
        );
        let cases: &[Case] = &[
            (
                &glass,
                None,
                None,
                &["strict:break-glass", "escalation:break-glass"],
                &[],
            ),
            // The Sid exemption concerns one of the two rules naming the pattern.
            (&app, Some("TerraformState"), None, &[], &[]),
            (&app, None, platform, &[], &["strict:old", "escalation:old"]),
            (
                &glass,
                None,
                platform,
                &["strict:break-glass", "escalation:break-glass"],
                &[],
            ),
        ];
        for (principal, sid, policy, active, expired) in cases {
            assert_eq!(
                cover(principal, *sid, *policy),
                (
                    active.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                    expired.iter().map(|s| s.to_string()).collect::<Vec<_>>()
                ),
                "{principal} {sid:?} {policy:?}"
            );
        }
        assert!(rules.unexempted(Mode::Enforce).is_some());
        assert!(rules.unexempted(Mode::Alert).is_none());
    }
}
