//! What `check` found, rendered for people or as JSON (and as SARIF, `crate::sarif`).

use std::fmt::{self, Write};
use std::path::PathBuf;

use policy_engine::rules::{Assessment, Context, ExemptedGrant};
use policy_engine::{
    Analysis, Catalog, Finding, Mode, Policy, Quarantine, Reason, RestrictedActions, Rules, Scope,
    analyse, decode, plan,
};
use serde_json::{Value, json};
use time::Date;

use crate::locate::{Region, statement_regions};

/// What the documents are checked against: restricted patterns (`--restricted`, every grant
/// enforced), or a rules file (`--rules`, with `--restricted` as one more enforced rule).
pub enum Against<'r> {
    Restricted(&'r RestrictedActions),
    Rules(RulesRun<'r>),
}

/// A rules file applied to a change: who made it, on what, and when.
pub struct RulesRun<'r> {
    /// The file's name, as given.
    pub name: String,
    pub rules: &'r Rules,
    pub context: Context<'r>,
    pub today: Date,
}

impl Against<'_> {
    fn assess(&self, policy: &Policy<'_>, catalog: &Catalog) -> Assessment {
        match self {
            Against::Restricted(restricted) => Assessment {
                enforced: analyse(policy, restricted, catalog),
                alerted: Analysis {
                    findings: Vec::new(),
                },
                exempted: Vec::new(),
                expired: Vec::new(),
            },
            Against::Rules(run) => run.rules.assess(policy, &run.context, run.today, catalog),
        }
    }

    /// What a quarantine removes: the enforced patterns, with their exceptions.
    fn enforced(&self) -> Option<RestrictedActions> {
        match self {
            Against::Restricted(restricted) => Some((*restricted).clone()),
            Against::Rules(run) => run.rules.restricted(Mode::Enforce, &run.context, run.today),
        }
    }

    /// The mode of the rule named `name` (the parameter's rule without a rules file).
    pub fn rule_mode(&self, name: &str) -> Option<Mode> {
        match self {
            Against::Restricted(_) => Some(Mode::Enforce),
            Against::Rules(run) => run
                .rules
                .rules()
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.mode),
        }
    }

    /// The rules of `mode` that name `pattern` (any case); none without a rules file.
    pub fn rules_naming(&self, mode: Mode, pattern: &str) -> Vec<&str> {
        match self {
            Against::Restricted(_) => Vec::new(),
            Against::Rules(run) => run.rules.naming(mode, pattern),
        }
    }
}

impl fmt::Display for Against<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Against::Restricted(restricted) => write!(f, "{restricted}"),
            Against::Rules(run) => write!(f, "the rules of {}", run.name),
        }
    }
}

pub struct Report<'r> {
    pub against: &'r Against<'r>,
    pub catalog: &'static Catalog,
    pub files: Vec<FileReport>,
}

pub struct FileReport {
    /// The path as given, for the SARIF log's URIs: a name need not be UTF-8.
    pub path: PathBuf,
    /// The path for people (a byte that is not UTF-8 shown as U+FFFD).
    pub name: String,
    pub status: FileStatus,
}

/// What became of one file: checked (and planned, with `--fix`), or refused as invalid.
pub enum FileStatus {
    Checked {
        /// Its grants: enforced, alerted, exempted, and those an expired exemption no longer
        /// covers (all enforced without a rules file).
        assessment: Assessment,
        fix: Option<Result<Quarantine, String>>,
        /// Where each statement is in the file, by statement index.
        regions: Vec<Region>,
    },
    Invalid(String),
}

impl FileReport {
    /// Assesses one document; plans its quarantine within `fix_size_limit` when asked to.
    pub fn of(path: PathBuf, status: FileStatus) -> FileReport {
        FileReport {
            name: path.display().to_string(),
            path,
            status,
        }
    }

    pub fn check(
        path: PathBuf,
        text: &str,
        against: &Against<'_>,
        catalog: &'static Catalog,
        fix_size_limit: Option<usize>,
    ) -> FileReport {
        let parsed = decode(text).and_then(|json| {
            let policy = Policy::parse(&json)?;
            let assessment = against.assess(&policy, catalog);
            let fix = fix_size_limit
                .filter(|_| assessment.enforced.grants_restricted())
                .and_then(|limit| {
                    let enforced = against.enforced()?;
                    Some(plan(&policy, &enforced, catalog, limit).map_err(|e| e.to_string()))
                });
            let regions = statement_regions(text).unwrap_or_default();
            Ok(FileStatus::Checked {
                assessment,
                fix,
                regions,
            })
        });
        let status = parsed.unwrap_or_else(|e| FileStatus::Invalid(e.to_string()));
        FileReport::of(path, status)
    }

    fn assessment(&self) -> Option<&Assessment> {
        match &self.status {
            FileStatus::Checked { assessment, .. } => Some(assessment),
            FileStatus::Invalid(_) => None,
        }
    }

    fn grants_restricted(&self) -> bool {
        self.assessment()
            .is_some_and(|a| a.enforced.grants_restricted())
    }

    fn alerts_only(&self) -> bool {
        self.assessment()
            .is_some_and(|a| !a.enforced.grants_restricted() && a.alerted.grants_restricted())
    }

    fn is_invalid(&self) -> bool {
        matches!(self.status, FileStatus::Invalid(_))
    }
}

impl Report<'_> {
    pub fn any_invalid(&self) -> bool {
        self.files.iter().any(FileReport::is_invalid)
    }

    /// True when a document grants an enforced pattern (alerted ones do not fail a check).
    pub fn any_restricted(&self) -> bool {
        self.files.iter().any(FileReport::grants_restricted)
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let (assessment, fix) = match &file.status {
                FileStatus::Invalid(reason) => {
                    let _ = writeln!(out, "{}: INVALID: {reason}", file.name);
                    continue;
                }
                FileStatus::Checked {
                    assessment, fix, ..
                } => (assessment, fix),
            };
            let verdict = if assessment.enforced.grants_restricted() {
                "GRANTS RESTRICTED ACTIONS"
            } else if assessment.alerted.grants_restricted() {
                "alerts only: grants actions of alert rules (reported, not failing)"
            } else {
                "ok, grants no restricted action"
            };
            let _ = writeln!(out, "{}: {verdict}", file.name);
            self.write_findings(&mut out, &assessment.enforced, Mode::Enforce);
            if assessment.enforced.grants_restricted() && assessment.alerted.grants_restricted() {
                let _ = writeln!(out, "  alerted (reported, not failing):");
            }
            self.write_findings(&mut out, &assessment.alerted, Mode::Alert);
            if !assessment.exempted.is_empty() {
                let _ = writeln!(out, "  exempted:");
            }
            for grant in &assessment.exempted {
                let _ = writeln!(out, "    {}: {}", grant_text(grant), grant.exemption);
            }
            if !assessment.expired.is_empty() {
                let _ = writeln!(out, "  no longer exempted, the exemption expired:");
            }
            for grant in &assessment.expired {
                let _ = writeln!(out, "    {}: {}", grant_text(grant), grant.exemption);
            }
            if let Some(fix) = fix {
                write_fix(&mut out, fix);
            }
        }
        let count = |pred: fn(&FileReport) -> bool| self.files.iter().filter(|f| pred(f)).count();
        let restricted = count(FileReport::grants_restricted);
        let alerted = count(FileReport::alerts_only);
        let invalid = count(FileReport::is_invalid);
        let alerted_text = match self.against {
            Against::Restricted(_) => String::new(),
            Against::Rules(_) => format!(" {alerted} alerted only,"),
        };
        let _ = writeln!(
            out,
            "\n{} checked against {}: {restricted} restricted,{alerted_text} {} clean, {invalid} invalid",
            plural(self.files.len(), "document"),
            self.against,
            self.files.len() - restricted - alerted - invalid,
        );
        out
    }

    pub fn json(&self) -> String {
        let files: Vec<_> = self
            .files
            .iter()
            .map(|file| match &file.status {
                FileStatus::Invalid(reason) => {
                    json!({"file": file.name, "status": "invalid", "error": reason})
                }
                FileStatus::Checked {
                    assessment, fix, ..
                } => {
                    let status = if file.grants_restricted() {
                        "restricted"
                    } else if file.alerts_only() {
                        "alerted"
                    } else {
                        "clean"
                    };
                    let mut entry = json!({
                        "file": file.name,
                        "status": status,
                        "findings": self.findings_json(&assessment.enforced, Mode::Enforce),
                    });
                    if let Against::Rules(_) = self.against {
                        entry["alerts"] = self.findings_json(&assessment.alerted, Mode::Alert);
                        entry["exempted"] = json!(assessment.exempted);
                        entry["expired"] = json!(assessment.expired);
                    }
                    match fix {
                        Some(Ok(q)) => {
                            entry["quarantine"] =
                                json!({"document": q.policy, "size": q.size, "changes": q.edits});
                        }
                        Some(Err(reason)) => entry["quarantine"] = json!({"error": reason}),
                        None => {}
                    }
                    entry
                }
            })
            .collect();
        let mut report = json!({
            "catalog": {"actions": self.catalog.len(), "provenance": self.catalog.provenance()},
            "files": files,
        });
        match self.against {
            Against::Restricted(restricted) => {
                report["restricted"] = json!(restricted.patterns().collect::<Vec<_>>());
            }
            Against::Rules(run) => report["rules"] = rules_json(&run.name, run.rules),
        }
        serde_json::to_string_pretty(&report).expect("a report always serialises")
    }

    /// The findings as the engine gives them; with a rules file, each hit names its rules.
    fn findings_json(&self, analysis: &Analysis, mode: Mode) -> Value {
        let mut findings = json!(analysis.findings);
        if let Against::Rules(_) = self.against {
            let hits = findings
                .as_array_mut()
                .into_iter()
                .flatten()
                .filter_map(|f| f["hits"].as_array_mut())
                .flatten();
            for hit in hits {
                let pattern = hit["restricted"].as_str().unwrap_or_default().to_owned();
                hit["rules"] = json!(self.against.rules_naming(mode, &pattern));
            }
        }
        findings
    }

    fn write_findings(&self, out: &mut String, analysis: &Analysis, mode: Mode) {
        for finding in &analysis.findings {
            write_finding(out, finding, |pattern| {
                match self.against.rules_naming(mode, pattern).as_slice() {
                    [] => String::new(),
                    rules => format!(" (rule {}, {mode})", rules.join(", ")),
                }
            });
        }
    }
}

/// The rules file a report applied: its name, digest, and each rule's mode and size.
pub fn rules_json(name: &str, rules: &Rules) -> Value {
    let each: Vec<Value> = rules
        .rules()
        .iter()
        .map(|r| json!({"name": r.name, "mode": r.mode, "patterns": r.patterns.len()}))
        .collect();
    json!({"file": name, "digest": rules.digest(), "rules": each})
}

/// A grant an exemption names: its statement, pattern and rule.
fn grant_text(grant: &ExemptedGrant) -> String {
    let sid = grant
        .sid
        .as_ref()
        .map(|s| format!(" (Sid {s:?})"))
        .unwrap_or_default();
    format!(
        "statement {}{sid}: {} of rule {}",
        grant.statement, grant.pattern, grant.rule
    )
}

/// One finding's statement and hits; `rules` names the rules behind a hit's pattern.
fn write_finding(out: &mut String, finding: &Finding, rules: impl Fn(&str) -> String) {
    let sid = finding
        .sid
        .as_ref()
        .map(|s| format!(" (Sid {s:?})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  statement {}{sid}, on {}:",
        finding.statement,
        scope_text(&finding.scope)
    );
    for hit in &finding.hits {
        let _ = writeln!(
            out,
            "    {}  [{}] {}{}",
            hit.restricted,
            reason_name(hit.reason),
            hit.explanation,
            rules(&hit.restricted)
        );
        if hit.known_action_count > 0 {
            let more = hit.known_action_count - hit.known_actions.len();
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let _ = writeln!(out, "      grants {}{more}", hit.known_actions.join(", "));
        }
    }
}

/// Where a grant applies, for people: "every resource, unconditionally", or its resources and
/// whether a Condition limits it.
pub fn scope_text(scope: &Scope) -> String {
    match (scope.is_unlimited(), &scope.condition) {
        (true, _) => "every resource, unconditionally".to_owned(),
        (false, None) => format!("{} {}", scope.resource_key, scope.resources.join(", ")),
        (false, Some(_)) => format!(
            "{} {}, with a Condition",
            scope.resource_key,
            scope.resources.join(", ")
        ),
    }
}

fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::Exact => "exact",
        Reason::Wildcard => "wildcard",
        Reason::NotAction => "NotAction",
    }
}

fn write_fix(out: &mut String, fix: &Result<Quarantine, String>) {
    match fix {
        Err(reason) => {
            let _ = writeln!(out, "  cannot quarantine: {reason}");
        }
        Ok(quarantine) => {
            let _ = writeln!(out, "  quarantine ({} characters):", quarantine.size);
            for edit in &quarantine.edits {
                let _ = writeln!(out, "    - {edit}");
            }
            for line in quarantine.policy.to_pretty_json().lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
}

pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
