//! What `check` found, rendered for people or as JSON.

use std::fmt::Write;

use policy_engine::{
    Analysis, Catalog, Policy, Quarantine, Reason, RestrictedActions, Scope, analyse, decode, plan,
};
use serde_json::json;

use crate::locate::{Region, statement_regions};

pub struct Report<'r> {
    pub restricted: &'r RestrictedActions,
    pub catalog: &'static Catalog,
    pub files: Vec<FileReport>,
}

pub struct FileReport {
    pub name: String,
    pub status: FileStatus,
}

/// What became of one file: checked (and planned, with `--fix`), or refused as invalid.
pub enum FileStatus {
    Checked {
        analysis: Analysis,
        fix: Option<Result<Quarantine, String>>,
        /// Where each statement is in the file, by statement index.
        regions: Vec<Region>,
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
            let regions = statement_regions(text).unwrap_or_default();
            Ok(FileStatus::Checked {
                analysis,
                fix,
                regions,
            })
        });
        let status = parsed.unwrap_or_else(|e| FileStatus::Invalid(e.to_string()));
        FileReport { name, status }
    }

    fn grants_restricted(&self) -> bool {
        matches!(&self.status, FileStatus::Checked { analysis, .. } if analysis.grants_restricted())
    }
}

impl Report<'_> {
    pub fn any_invalid(&self) -> bool {
        self.files
            .iter()
            .any(|f| matches!(f.status, FileStatus::Invalid(_)))
    }

    pub fn any_restricted(&self) -> bool {
        self.files.iter().any(FileReport::grants_restricted)
    }

    pub fn human(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            match &file.status {
                FileStatus::Invalid(reason) => {
                    let _ = writeln!(out, "{}: INVALID: {reason}", file.name);
                }
                FileStatus::Checked { analysis, .. } if !analysis.grants_restricted() => {
                    let _ = writeln!(out, "{}: ok, grants no restricted action", file.name);
                }
                FileStatus::Checked { analysis, fix, .. } => {
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
        let invalid = count(|f| matches!(f.status, FileStatus::Invalid(_)));
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
            .map(|file| match &file.status {
                FileStatus::Invalid(reason) => {
                    json!({"file": file.name, "status": "invalid", "error": reason})
                }
                FileStatus::Checked { analysis, fix, .. } => {
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
                                json!({"document": q.policy, "size": q.size, "changes": q.edits});
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
        let _ = writeln!(
            out,
            "  statement {}{sid}, on {}:",
            finding.statement,
            scope_text(&finding.scope)
        );
        for hit in &finding.hits {
            let _ = writeln!(
                out,
                "    {}  [{}] {}",
                hit.restricted,
                reason_name(hit.reason),
                hit.explanation
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

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
