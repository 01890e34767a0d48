//! `check --format sarif`: the report as a SARIF 2.1.0 log, for code-scanning tools. One run;
//! one rule (reportingDescriptor) per restricted pattern; one result per restricted pattern a
//! statement grants, located at that statement in the file as written: level `error` where
//! enforced, `warning` where only alerted, and an exempted grant with a suppression naming its
//! exemption.

use std::path::{Component, Path};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use policy_engine::rules::ExemptionRef;
use policy_engine::{Finding, Hit, Mode};
use serde_json::{Value, json};

use crate::STDIN;
use crate::locate::Region;
use crate::report::{Against, FileReport, FileStatus, Report, scope_text};
use crate::rules::effective;

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
        let descriptors = self.descriptors();
        let rules: Vec<Value> = descriptors.iter().map(Descriptor::json).collect();
        let results: Vec<Value> = self
            .files
            .iter()
            .flat_map(|file| self.file_results(file, &descriptors))
            .collect();
        let notifications: Vec<Value> = self
            .files
            .iter()
            .filter_map(|file| match &file.status {
                FileStatus::Invalid(reason) => Some(json!({
                    "level": "error",
                    "message": {"text": format!("{}: {reason}", file.name)},
                    "locations": [{"physicalLocation": {"artifactLocation": artifact(&file.path)}}],
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

    /// One per restricted pattern: every pattern of `--restricted`; with a rules file, every
    /// pattern an enforce rule names (error), then those only alert rules name (warning).
    fn descriptors(&self) -> Vec<Descriptor<'_>> {
        match self.against {
            Against::Restricted(restricted) => restricted
                .patterns()
                .map(|pattern| Descriptor {
                    pattern,
                    mode: Mode::Enforce,
                    rules: Vec::new(),
                })
                .collect(),
            Against::Rules(run) => [Mode::Enforce, Mode::Alert]
                .into_iter()
                .flat_map(|mode| {
                    effective(run.rules, mode)
                        .into_iter()
                        .map(move |pattern| (mode, pattern))
                })
                .map(|(mode, pattern)| Descriptor {
                    pattern,
                    mode,
                    rules: run
                        .rules
                        .rules()
                        .iter()
                        .filter(|r| {
                            r.mode != Mode::Off
                                && r.patterns.iter().any(|p| p.eq_ignore_ascii_case(pattern))
                        })
                        .map(|r| (r.name.as_str(), r.mode))
                        .collect(),
                })
                .collect(),
        }
    }

    fn file_results(&self, file: &FileReport, descriptors: &[Descriptor]) -> Vec<Value> {
        let FileStatus::Checked {
            assessment,
            regions,
            ..
        } = &file.status
        else {
            return Vec::new();
        };
        let location = |statement: usize| {
            let mut location = json!({"artifactLocation": artifact(&file.path)});
            if let Some(region) = regions.get(statement) {
                location["region"] = region_json(region);
            }
            json!([{"physicalLocation": location}])
        };
        // -1: no rule of the run (SARIF's default); every pattern reported is one.
        let rule_index = |pattern: &str| {
            descriptors
                .iter()
                .position(|d| d.pattern.eq_ignore_ascii_case(pattern))
                .map_or(-1, |i| i as i64)
        };
        let mut results = Vec::new();
        for (analysis, mode) in [
            (&assessment.enforced, Mode::Enforce),
            (&assessment.alerted, Mode::Alert),
        ] {
            for finding in &analysis.findings {
                for hit in &finding.hits {
                    let expired: Vec<&ExemptionRef> = assessment
                        .expired
                        .iter()
                        .filter(|g| g.statement == finding.statement && g.pattern == hit.restricted)
                        .map(|g| &g.exemption)
                        .collect();
                    let mut message = message(finding, hit);
                    for exemption in &expired {
                        message.push_str(&format!(" No longer exempted: {exemption} expired."));
                    }
                    let mut result = json!({
                        "ruleId": hit.restricted,
                        "ruleIndex": rule_index(&hit.restricted),
                        "level": level(mode),
                        "message": {"text": message},
                        "locations": location(finding.statement),
                        "properties": {
                            "statement": finding.statement,
                            "sid": finding.sid,
                            "reason": hit.reason,
                            "grantedBy": hit.granted_by,
                            "knownActions": hit.known_actions,
                            "knownActionCount": hit.known_action_count,
                        },
                    });
                    if let Against::Rules(_) = self.against {
                        result["properties"]["rules"] =
                            json!(self.against.rules_naming(mode, &hit.restricted));
                        result["properties"]["expiredExemptions"] = json!(expired);
                    }
                    results.push(result);
                }
            }
        }
        for grant in &assessment.exempted {
            let mode = self.against.rule_mode(&grant.rule).unwrap_or(Mode::Enforce);
            let sid = grant
                .sid
                .as_ref()
                .map(|s| format!(" (Sid {s:?})"))
                .unwrap_or_default();
            let exemption = &grant.exemption;
            results.push(json!({
                "ruleId": grant.pattern,
                "ruleIndex": rule_index(&grant.pattern),
                "level": level(mode),
                "message": {"text": format!(
                    "Statement {}{sid} grants {}, restricted by rule {}; exempted by {exemption}.",
                    grant.statement, grant.pattern, grant.rule
                )},
                "locations": location(grant.statement),
                "suppressions": [{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!(
                        "{}: {} (owner {}, until {})",
                        exemption.name, exemption.reason, exemption.owner, exemption.expires
                    ),
                    "properties": {"exemption": exemption},
                }],
                "properties": {
                    "statement": grant.statement,
                    "sid": grant.sid,
                    "rules": [grant.rule],
                },
            }));
        }
        results
    }
}

/// A reportingDescriptor: a restricted pattern, the strictest mode a rule gives it, the rules.
struct Descriptor<'r> {
    pattern: &'r str,
    mode: Mode,
    rules: Vec<(&'r str, Mode)>,
}

impl Descriptor<'_> {
    fn json(&self) -> Value {
        let pattern = self.pattern;
        let consequence = match self.mode {
            Mode::Enforce => {
                "the deployed workflow quarantines such a grant until someone approves it"
            }
            _ => "the deployed workflow reports such a grant and changes nothing (alert mode)",
        };
        let mut descriptor = json!({
            "id": pattern,
            "shortDescription": {"text": format!("Grants {pattern}, a restricted action")},
            "fullDescription": {"text": format!(
                "An Allow statement grants an action that the restricted pattern {pattern} \
                 covers: {consequence}."
            )},
            "defaultConfiguration": {"level": level(self.mode)},
            "helpUri": concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/CLI.md"),
        });
        if !self.rules.is_empty() {
            let rules: Vec<Value> = self
                .rules
                .iter()
                .map(|(name, mode)| json!({"name": name, "mode": mode}))
                .collect();
            descriptor["properties"] = json!({"rules": rules});
        }
        descriptor
    }
}

/// A rule's mode as a SARIF level: enforce fails a check (error), alert does not (warning).
fn level(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "error",
        Mode::Alert | Mode::Off => "warning",
    }
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
fn artifact(path: &Path) -> Value {
    if path.as_os_str() == STDIN {
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
