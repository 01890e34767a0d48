//! `iam-sentinel rules check FILE`: a rules file read as the deployment reads it, refused as
//! `rules check` refuses it (expired exemptions too), and its effective rules for people or as
//! JSON: each rule's mode, patterns with presets expanded, acceptable scopes; each exemption.

use std::fmt::Write;

use policy_engine::rules::{Acceptable, Exemption, Mode, Rule, Rules, RulesError};
use serde_json::{Value, json};
use time::Date;

use crate::presets::wrap;
use crate::report::plural;

/// A rules file that was read, with what `rules check` refuses beyond reading.
pub struct Checked<'r> {
    pub name: &'r str,
    pub rules: &'r Rules,
    pub problems: Vec<RulesError>,
    pub today: Date,
}

impl Checked<'_> {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let verdict = if self.problems.is_empty() {
            "valid"
        } else {
            "INVALID"
        };
        let _ = writeln!(
            out,
            "{}: {verdict}, digest {}",
            self.name,
            self.rules.digest()
        );
        for rule in self.rules.rules() {
            write_rule(&mut out, rule);
        }
        for exemption in self.rules.exemptions() {
            self.write_exemption(&mut out, exemption);
        }
        let count = |mode: Mode| self.rules.rules().iter().filter(|r| r.mode == mode).count();
        let _ = writeln!(
            out,
            "\n{} ({} enforce, {} alert, {} off), {}; effectively {} enforced, {} alerted",
            plural(self.rules.rules().len(), "rule"),
            count(Mode::Enforce),
            count(Mode::Alert),
            count(Mode::Off),
            plural(self.rules.exemptions().len(), "exemption"),
            plural(effective(self.rules, Mode::Enforce).len(), "pattern"),
            plural(effective(self.rules, Mode::Alert).len(), "pattern"),
        );
        out
    }

    pub fn json(&self) -> String {
        let rules: Vec<Value> = self
            .rules
            .rules()
            .iter()
            .map(|rule| {
                let presets: Vec<Value> = rule
                    .presets
                    .iter()
                    .map(|name| {
                        let preset = policy_engine::presets::get(name);
                        json!({
                            "name": name,
                            "version": preset.map(|p| p.version),
                            "actions": preset.map(|p| p.actions.len()),
                        })
                    })
                    .collect();
                let acceptable: Vec<Value> = rule
                    .acceptable
                    .iter()
                    .map(|a| json!({"resources": a.resources, "conditions": a.conditions}))
                    .collect();
                json!({
                    "name": rule.name,
                    "mode": rule.mode,
                    "description": rule.description,
                    "line": rule.line,
                    "presets": presets,
                    "patterns": rule.patterns,
                    "acceptable": acceptable,
                })
            })
            .collect();
        let exemptions: Vec<Value> = self
            .rules
            .exemptions()
            .iter()
            .map(|e| {
                let reference = e.reference();
                json!({
                    "name": e.name,
                    "owner": e.owner,
                    "reason": e.reason,
                    "expires": reference.expires,
                    "expired": e.expires < self.today,
                    "line": e.line,
                    "actor": e.actor,
                    "principal": e.principal,
                    "policy": e.policy,
                    "policyPath": e.policy_path,
                    "sid": e.sid,
                    "actions": e.actions,
                    "rules": e.rules,
                })
            })
            .collect();
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| json!({"line": p.line, "column": p.column, "message": p.message}))
            .collect();
        let report = json!({
            "file": self.name,
            "valid": self.problems.is_empty(),
            "digest": self.rules.digest(),
            "rules": rules,
            "exemptions": exemptions,
            "effective": {
                "enforced": effective(self.rules, Mode::Enforce),
                "alerted": effective(self.rules, Mode::Alert),
            },
            "problems": problems,
        });
        serde_json::to_string_pretty(&report).expect("a report always serialises")
    }

    fn write_exemption(&self, out: &mut String, exemption: &Exemption) {
        let expiry = exemption.reference().expires;
        let expired = if exemption.expires < self.today {
            " (EXPIRED)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "exemption {} (line {}): until {expiry}{expired}, owner {}",
            exemption.name, exemption.line, exemption.owner
        );
        let _ = writeln!(out, "  reason: {}", exemption.reason);
        let selectors = [
            ("actor", &exemption.actor),
            ("principal", &exemption.principal),
            ("policy", &exemption.policy),
            ("policy_path", &exemption.policy_path),
            ("sid", &exemption.sid),
        ];
        for (key, value) in selectors {
            if let Some(value) = value {
                let _ = writeln!(out, "  {key}: {value}");
            }
        }
        if !exemption.actions.is_empty() {
            let _ = writeln!(out, "  actions: {}", exemption.actions.join(", "));
        }
        let rules = if exemption.rules.is_empty() {
            "every rule".to_owned()
        } else {
            exemption.rules.join(", ")
        };
        let _ = writeln!(out, "  rules: {rules}");
    }
}

fn write_rule(out: &mut String, rule: &Rule) {
    let line = if rule.line == 0 {
        "the RestrictedActions parameter".to_owned()
    } else {
        format!("line {}", rule.line)
    };
    let _ = writeln!(out, "rule {} ({line}): {}", rule.name, rule.mode);
    if let Some(description) = &rule.description {
        let _ = writeln!(out, "  {description}");
    }
    for name in &rule.presets {
        if let Some(preset) = policy_engine::presets::get(name) {
            let _ = writeln!(
                out,
                "  preset {name}: {}, version {}",
                plural(preset.actions.len(), "pattern"),
                preset.version
            );
        }
    }
    let _ = writeln!(out, "  {}:", plural(rule.patterns.len(), "pattern"));
    wrap(out, "    ", &listed(&rule.patterns));
    for acceptable in &rule.acceptable {
        let _ = writeln!(out, "  acceptable where:");
        wrap(out, "    ", &scope(acceptable));
    }
}

/// The first patterns, and how many more (`--format json` and `rules presets NAME` list them).
fn listed(patterns: &[String]) -> String {
    const SHOWN: usize = 10;
    let shown = patterns[..patterns.len().min(SHOWN)].join(", ");
    match patterns.len().saturating_sub(SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more (--format json lists them all)"),
    }
}

fn scope(acceptable: &Acceptable) -> String {
    let mut parts = Vec::new();
    if let Some(resources) = &acceptable.resources {
        parts.push(format!("every resource within {}", resources.join(", ")));
    }
    for (key, values) in &acceptable.conditions {
        parts.push(format!("{key} restricted to {}", values.join(", ")));
    }
    parts.join(" and ")
}

/// The patterns `mode` restricts, each once (in any case), in rule order; an alerted pattern
/// that an enforced rule also names is enforced (enforce wins).
pub fn effective(rules: &Rules, mode: Mode) -> Vec<&str> {
    let of = |mode: Mode| {
        let mut patterns: Vec<&str> = Vec::new();
        for rule in rules.rules().iter().filter(|r| r.mode == mode) {
            for pattern in &rule.patterns {
                if !patterns.iter().any(|p| p.eq_ignore_ascii_case(pattern)) {
                    patterns.push(pattern);
                }
            }
        }
        patterns
    };
    let enforced = of(Mode::Enforce);
    match mode {
        Mode::Enforce => enforced,
        Mode::Alert => of(Mode::Alert)
            .into_iter()
            .filter(|p| !enforced.iter().any(|e| e.eq_ignore_ascii_case(p)))
            .collect(),
        Mode::Off => Vec::new(),
    }
}
