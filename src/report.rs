//! What `check` found, rendered for people or as JSON.

use std::fmt::Write;

use policy_engine::quarantine::Change;
use policy_engine::{
    Analysis, Catalog, Policy, Quarantine, Reason, RestrictedActions, analyse, decode, plan,
};
use serde_json::json;

pub struct Report<'r> {
    pub restricted: &'r RestrictedActions,
    pub catalog: &'static Catalog,
    pub files: Vec<FileReport>,
}

pub struct FileReport {
    pub name: String,
    pub outcome: Outcome,
}

pub enum Outcome {
    Checked {
        analysis: Analysis,
        fix: Option<Result<Quarantine, String>>,
    },
    Invalid(String),
}

impl FileReport {
    /// Analyses one document; plans its quarantine within `fix_size_limit` when asked to.
    pub fn check(
        name: String,
        text: &str,
        restricted: &RestrictedActions,
        catalog: &'static Catalog,
        fix_size_limit: Option<usize>,
    ) -> FileReport {
        let parsed = decode(text).and_then(|json| {
            let policy = Policy::parse(&json)?;
            let analysis = analyse(&policy, restricted, catalog);
            let fix = fix_size_limit
                .filter(|_| analysis.grants_restricted())
                .map(|limit| plan(&policy, restricted, catalog, limit).map_err(|e| e.to_string()));
            Ok(Outcome::Checked { analysis, fix })
        });
        let outcome = parsed.unwrap_or_else(|e| Outcome::Invalid(e.to_string()));
        FileReport { name, outcome }
    }

    fn grants_restricted(&self) -> bool {
        matches!(&self.outcome, Outcome::Checked { analysis, .. } if analysis.grants_restricted())
    }
}

impl Report<'_> {
    pub fn any_invalid(&self) -> bool {
        self.files
            .iter()
            .any(|f| matches!(f.outcome, Outcome::Invalid(_)))
    }

    pub fn any_restricted(&self) -> bool {
        self.files.iter().any(FileReport::grants_restricted)
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            match &file.outcome {
                Outcome::Invalid(reason) => {
                    let _ = writeln!(out, "{}: INVALID: {reason}", file.name);
                }
                Outcome::Checked { analysis, .. } if !analysis.grants_restricted() => {
                    let _ = writeln!(out, "{}: ok, grants no restricted action", file.name);
                }
                Outcome::Checked { analysis, fix } => {
                    let _ = writeln!(out, "{}: GRANTS RESTRICTED ACTIONS", file.name);
                    write_findings(&mut out, analysis);
                    if let Some(fix) = fix {
                        write_fix(&mut out, fix);
                    }
                }
            }
        }
        let count = |pred: fn(&FileReport) -> bool| self.files.iter().filter(|f| pred(f)).count();
        let restricted = count(FileReport::grants_restricted);
        let invalid = count(|f| matches!(f.outcome, Outcome::Invalid(_)));
        let _ = writeln!(
            out,
            "\n{} checked against {}: {restricted} restricted, {} clean, {invalid} invalid",
            plural(self.files.len(), "document"),
            self.restricted,
            self.files.len() - restricted - invalid,
        );
        out
    }

    pub fn json(&self) -> String {
        let files: Vec<_> = self
            .files
            .iter()
            .map(|file| match &file.outcome {
                Outcome::Invalid(reason) => {
                    json!({"file": file.name, "status": "invalid", "error": reason})
                }
                Outcome::Checked { analysis, fix } => {
                    let status = if analysis.grants_restricted() {
                        "restricted"
                    } else {
                        "clean"
                    };
                    let mut entry =
                        json!({"file": file.name, "status": status, "findings": analysis.findings});
                    match fix {
                        Some(Ok(q)) => {
                            entry["quarantine"] =
                                json!({"document": q.policy, "size": q.size, "changes": q.changes});
                        }
                        Some(Err(reason)) => entry["quarantine"] = json!({"error": reason}),
                        None => {}
                    }
                    entry
                }
            })
            .collect();
        let report = json!({
            "restricted": self.restricted.patterns().collect::<Vec<_>>(),
            "catalog": {"actions": self.catalog.len(), "provenance": self.catalog.provenance()},
            "files": files,
        });
        serde_json::to_string_pretty(&report).expect("a report always serialises")
    }
}

fn write_findings(out: &mut String, analysis: &Analysis) {
    for finding in &analysis.findings {
        let sid = finding
            .sid
            .as_ref()
            .map(|s| format!(" (Sid {s:?})"))
            .unwrap_or_default();
        let scope = &finding.scope;
        let limits = match (scope.is_unlimited(), &scope.condition) {
            (true, _) => "every resource, unconditionally".to_owned(),
            (false, None) => format!("{} {}", scope.resource_key, scope.resources.join(", ")),
            (false, Some(_)) => format!(
                "{} {}, with a Condition",
                scope.resource_key,
                scope.resources.join(", ")
            ),
        };
        let _ = writeln!(out, "  statement {}{sid}, on {limits}:", finding.statement);
        for hit in &finding.hits {
            let reason = match hit.reason {
                Reason::Exact => "exact",
                Reason::Wildcard => "wildcard",
                Reason::NotAction => "NotAction",
            };
            let _ = writeln!(
                out,
                "    {}  [{reason}] {}",
                hit.restricted, hit.explanation
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
}

fn write_fix(out: &mut String, fix: &Result<Quarantine, String>) {
    match fix {
        Err(reason) => {
            let _ = writeln!(out, "  cannot quarantine: {reason}");
        }
        Ok(quarantine) => {
            let _ = writeln!(out, "  quarantine ({} characters):", quarantine.size);
            for change in &quarantine.changes {
                let _ = writeln!(out, "    - {}", describe(change));
            }
            for line in quarantine.policy.to_pretty_json().lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
}

fn describe(change: &Change) -> String {
    let at = |statement: &usize, sid: &Option<String>| match sid {
        Some(sid) => format!("statement {statement} (Sid {sid:?})"),
        None => format!("statement {statement}"),
    };
    match change {
        Change::RemovedActions {
            statement,
            sid,
            actions,
        } => {
            format!("{}: removed {}", at(statement, sid), actions.join(", "))
        }
        Change::ExpandedWildcard {
            statement,
            sid,
            wildcard,
            into,
        } => format!(
            "{}: replaced {wildcard} with {} covering the same actions minus the restricted ones",
            at(statement, sid),
            plural(into.len(), "pattern"),
        ),
        Change::DroppedWildcard {
            statement,
            sid,
            wildcard,
            reason,
        } => {
            format!("{}: dropped {wildcard}: {reason}", at(statement, sid))
        }
        Change::AddedToNotAction {
            statement,
            sid,
            patterns,
        } => {
            format!(
                "{}: excluded {} through NotAction",
                at(statement, sid),
                patterns.join(", ")
            )
        }
        Change::DroppedStatement {
            statement,
            sid,
            reason,
        } => {
            format!("{}: dropped the statement: {reason}", at(statement, sid))
        }
        Change::AddedEmptyStatement => {
            "no statement was left: added one that grants nothing".into()
        }
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
