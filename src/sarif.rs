//! `check --format sarif`: the report as a SARIF 2.1.0 log, for code-scanning tools. One run;
//! one rule (reportingDescriptor) per restricted pattern; one result per restricted pattern a
//! statement grants, located at that statement in the file as written.

use std::path::{Component, Path};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use policy_engine::{Finding, Hit};
use serde_json::{Value, json};

use crate::STDIN;
use crate::locate::Region;
use crate::report::{FileReport, FileStatus, Report, scope_text};

/// The OASIS schema the log conforms to (SARIF 2.1.0, errata 01).
const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// What a relative `uri` is relative to: the working directory `check` ran in.
const SRCROOT: &str = "%SRCROOT%";

/// Characters a URI path segment may hold as they are (RFC 3986 unreserved); the rest is
/// percent-encoded, so a file name with a space, `#`, `%` or `:` stays one path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the files are, for locations.
pub struct Origin<'a> {
    /// The working directory, absolute: what relative file names are relative to.
    pub working_directory: &'a Path,
}

impl Report<'_> {
    /// The SARIF log of this report; `exit_code` is the one `check` exits with.
    pub fn sarif(&self, origin: &Origin, exit_code: u8) -> String {
        let patterns: Vec<&str> = self.restricted.patterns().collect();
        let rules: Vec<Value> = patterns.iter().map(|p| rule(p)).collect();
        let results: Vec<Value> = self
            .files
            .iter()
            .flat_map(|file| file_results(file, &patterns))
            .collect();
        let notifications: Vec<Value> = self
            .files
            .iter()
            .filter_map(|file| match &file.status {
                FileStatus::Invalid(reason) => Some(json!({
                    "level": "error",
                    "message": {"text": format!("{}: {reason}", file.name)},
                    "locations": [{"physicalLocation": {"artifactLocation": artifact(&file.name)}}],
                })),
                FileStatus::Checked { .. } => None,
            })
            .collect();
        let log = json!({
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "iam-sentinel",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": env!("CARGO_PKG_REPOSITORY"),
                    "rules": rules,
                }},
                "originalUriBaseIds": {SRCROOT: {"uri": directory_uri(origin.working_directory)}},
                "columnKind": "utf16CodeUnits",
                "invocations": [{
                    "executionSuccessful": !self.any_invalid(),
                    "exitCode": exit_code,
                    "toolExecutionNotifications": notifications,
                }],
                "results": results,
            }],
        });
        serde_json::to_string_pretty(&log).expect("a SARIF log always serialises")
    }
}

fn rule(pattern: &str) -> Value {
    json!({
        "id": pattern,
        "shortDescription": {"text": format!("Grants {pattern}, a restricted action")},
        "fullDescription": {"text": format!(
            "An Allow statement grants an action that the restricted pattern {pattern} covers: \
             the deployed workflow quarantines such a grant until someone approves it."
        )},
        "defaultConfiguration": {"level": "error"},
        "helpUri": concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/CLI.md"),
    })
}

fn file_results(file: &FileReport, patterns: &[&str]) -> Vec<Value> {
    let FileStatus::Checked {
        analysis, regions, ..
    } = &file.status
    else {
        return Vec::new();
    };
    analysis
        .findings
        .iter()
        .flat_map(|finding| {
            let region = regions.get(finding.statement);
            finding.hits.iter().map(move |hit| {
                let mut location = json!({"artifactLocation": artifact(&file.name)});
                if let Some(region) = region {
                    location["region"] = region_json(region);
                }
                // -1: no rule of the run (SARIF's default); every hit's pattern is one.
                let rule_index = patterns
                    .iter()
                    .position(|p| *p == hit.restricted)
                    .map_or(-1, |i| i as i64);
                json!({
                    "ruleId": hit.restricted,
                    "ruleIndex": rule_index,
                    "level": "error",
                    "message": {"text": message(finding, hit)},
                    "locations": [{"physicalLocation": location}],
                    "properties": {
                        "statement": finding.statement,
                        "sid": finding.sid,
                        "reason": hit.reason,
                        "grantedBy": hit.granted_by,
                        "knownActions": hit.known_actions,
                        "knownActionCount": hit.known_action_count,
                    },
                })
            })
        })
        .collect()
}

fn message(finding: &Finding, hit: &Hit) -> String {
    let sid = finding
        .sid
        .as_ref()
        .map(|s| format!(" (Sid {s:?})"))
        .unwrap_or_default();
    format!(
        "Statement {}{sid} grants {}, a restricted action, on {}: {}.",
        finding.statement,
        hit.restricted,
        scope_text(&finding.scope),
        hit.explanation
    )
}

fn region_json(region: &Region) -> Value {
    json!({
        "startLine": region.start_line,
        "startColumn": region.start_column,
        "endLine": region.end_line,
        "endColumn": region.end_column,
    })
}

/// A file named as `check` was given it: relative names relative to the working directory
/// (`%SRCROOT%`), absolute ones as `file` URIs. Standard input has no URI: only a description.
fn artifact(name: &str) -> Value {
    let path = Path::new(name);
    if name == STDIN {
        json!({"description": {"text": "standard input"}})
    } else if path.has_root() {
        json!({"uri": format!("file://{}", path_uri(path))})
    } else {
        json!({"uri": path_uri(path), "uriBaseId": SRCROOT})
    }
}

/// The directory as a `file` URI, with the trailing slash a base URI needs.
fn directory_uri(directory: &Path) -> String {
    let uri = format!("file://{}", path_uri(directory));
    if uri.ends_with('/') { uri } else { uri + "/" }
}

/// The path's segments percent-encoded (as bytes: a name need not be UTF-8) and joined by `/`;
/// `.` segments dropped.
fn path_uri(path: &Path) -> String {
    let segments: Vec<String> = path
        .components()
        .filter_map(|component| match component {
            Component::Normal(segment) => {
                Some(percent_encode(segment.as_encoded_bytes(), SEGMENT).to_string())
            }
            Component::ParentDir => Some("..".to_owned()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    let joined = segments.join("/");
    if path.has_root() {
        format!("/{joined}")
    } else {
        joined
    }
}
