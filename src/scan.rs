//! `scan`: every user and role of an account (the JSON of `aws iam
//! get-account-authorization-details`) with what it can perform of the restricted patterns,
//! classified under the rules as the account sweep classifies them (`policy_engine::in_force`),
//! rendered for people or as JSON.

use std::collections::BTreeSet;
use std::fmt::Write;

use policy_engine::in_force::{Classified, Classifier, RuledGrant};
use policy_engine::{
    AuthorizationDetails, Catalog, GrantingStatement, Mode, PrincipalPolicies, Removal, Rules,
    Unresolved,
};
use serde_json::{Value, json};
use time::Date;

use crate::report::rules_json;

pub struct Scan<'r> {
    pub rules: &'r Rules,
    /// The rules file's name; none when the rules are `--restricted` alone.
    pub rules_file: Option<&'r str>,
    pub examined: Examined,
    pub principals: Vec<Scanned>,
}

/// How much of the account the file held.
pub struct Examined {
    pub users: usize,
    pub roles: usize,
    pub groups: usize,
    pub policies: usize,
}

/// One user or role: its grants under the rules, or why they could not be decided.
pub struct Scanned {
    pub policies: PrincipalPolicies,
    pub verdict: Result<Classified, String>,
}

impl Scanned {
    fn enforced(&self) -> bool {
        matches!(&self.verdict, Ok(c) if !c.enforced.is_empty())
    }

    fn alerted_only(&self) -> bool {
        matches!(&self.verdict, Ok(c) if c.enforced.is_empty() && !c.alerted.is_empty())
    }

    fn exempted_only(&self) -> bool {
        matches!(&self.verdict, Ok(c) if c.enforced.is_empty() && c.alerted.is_empty() && !c.exempted.is_empty())
    }
}

impl<'r> Scan<'r> {
    /// Classifies every user and role of the file under `rules` on `today`.
    pub fn of(
        details: &AuthorizationDetails,
        rules: &'r Rules,
        rules_file: Option<&'r str>,
        today: Date,
        catalog: &'r Catalog,
    ) -> Result<Scan<'r>, String> {
        let account = account_of(details, rules)?;
        let principals = details.principals().map_err(|e| e.to_string())?;
        let mut classifier = Classifier::new(rules, &account, today, catalog);
        let principals = principals
            .into_iter()
            .map(|policies| Scanned {
                verdict: classifier.classify(&policies).map_err(|e| e.to_string()),
                policies,
            })
            .collect();
        Ok(Scan {
            rules,
            rules_file,
            examined: Examined {
                users: details.users.len(),
                roles: details.roles.len(),
                groups: details.groups.len(),
                policies: details.policies.len(),
            },
            principals,
        })
    }

    pub fn any_invalid(&self) -> bool {
        self.principals.iter().any(|p| p.verdict.is_err())
    }

    /// True when a principal can perform a pattern of an enforce rule (alerted ones do not
    /// fail a scan).
    pub fn any_restricted(&self) -> bool {
        self.principals.iter().any(Scanned::enforced)
    }

    /// Each principal that can perform a restricted pattern, is exempted from one, has a grant
    /// removed, has attachments that could not be resolved, or could not be analysed; then a
    /// summary.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for scanned in &self.principals {
            self.write_principal(&mut out, scanned);
        }
        let count =
            |pred: &dyn Fn(&Scanned) -> bool| self.principals.iter().filter(|p| pred(p)).count();
        let e = &self.examined;
        let (against, ruled) = match self.rules_file {
            Some(file) => (
                format!("the rules of {file}"),
                format!(
                    ", {} alerted only, {} exempted only",
                    count(&Scanned::alerted_only),
                    count(&Scanned::exempted_only)
                ),
            ),
            None => (self.patterns(Mode::Enforce).join(","), String::new()),
        };
        let _ = writeln!(
            out,
            "{} users, {} roles, {} groups and {} managed policies examined against {against}: \
             {} can perform restricted actions{ruled}, {} incomplete (unresolved attachments), \
             {} invalid",
            e.users,
            e.roles,
            e.groups,
            e.policies,
            count(&Scanned::enforced),
            count(&|p| !p.policies.unresolved.is_empty()),
            count(&|p| p.verdict.is_err()),
        );
        out
    }

    /// `principals`: those with a grant of an enforce or alert rule, or an exempted one;
    /// `incomplete`: the others whose verdict misses unresolved attachments; `invalid`: those
    /// that could not be analysed.
    pub fn json(&self) -> String {
        let listed = |c: &Classified| {
            !(c.enforced.is_empty() && c.alerted.is_empty() && c.exempted.is_empty())
        };
        let principals: Vec<Value> = self
            .principals
            .iter()
            .filter_map(|s| {
                let classified = s.verdict.as_ref().ok().filter(|c| listed(c))?;
                let mut entry = identity(&s.policies);
                entry["grants"] = json!(classified.enforced);
                entry["alerted"] = json!(classified.alerted);
                entry["exempted"] = json!(classified.exempted);
                entry["removed"] = json!(classified.removed);
                entry["unresolved"] = json!(s.policies.unresolved);
                Some(entry)
            })
            .collect();
        let incomplete: Vec<Value> = self
            .principals
            .iter()
            .filter(|s| {
                s.verdict.as_ref().is_ok_and(|c| !listed(c)) && !s.policies.unresolved.is_empty()
            })
            .map(|s| {
                let mut entry = identity(&s.policies);
                entry["unresolved"] = json!(s.policies.unresolved);
                entry
            })
            .collect();
        let invalid: Vec<Value> = self
            .principals
            .iter()
            .filter_map(|s| {
                let error = s.verdict.as_ref().err()?;
                let mut entry = identity(&s.policies);
                entry["error"] = json!(error);
                Some(entry)
            })
            .collect();
        let e = &self.examined;
        let mut report = json!({
            "restricted": self.patterns(Mode::Enforce),
            "principals": principals,
            "incomplete": incomplete,
            "invalid": invalid,
            "examined": {"users": e.users, "roles": e.roles, "groups": e.groups, "policies": e.policies},
        });
        if let Some(file) = self.rules_file {
            report["alerting"] = json!(self.patterns(Mode::Alert));
            report["rules"] = rules_json(file, self.rules);
        }
        serde_json::to_string_pretty(&report).expect("a report always serialises")
    }

    /// The patterns of the rules of `mode`, each once, in the rules' order.
    fn patterns(&self, mode: Mode) -> Vec<&str> {
        let mut seen = BTreeSet::new();
        self.rules
            .rules()
            .iter()
            .filter(|r| r.mode == mode)
            .flat_map(|r| &r.patterns)
            .filter(|p| seen.insert(p.to_ascii_lowercase()))
            .map(String::as_str)
            .collect()
    }

    fn write_principal(&self, out: &mut String, scanned: &Scanned) {
        let p = &scanned.policies;
        let arn = p
            .arn
            .as_ref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        let classified = match &scanned.verdict {
            Err(reason) => {
                let _ = writeln!(out, "{}{arn}: INVALID: {reason}", p.principal);
                return;
            }
            Ok(classified) => classified,
        };
        if classified.enforced.is_empty()
            && classified.alerted.is_empty()
            && classified.exempted.is_empty()
            && classified.removed.is_empty()
            && p.unresolved.is_empty()
        {
            return;
        }
        let verdict = if !classified.enforced.is_empty() {
            "CAN PERFORM RESTRICTED ACTIONS"
        } else if !classified.alerted.is_empty() {
            "alerts only: can perform actions of alert rules (reported, not failing)"
        } else {
            "can perform no restricted action"
        };
        let _ = writeln!(out, "{}{arn}: {verdict}", p.principal);
        // With --restricted alone every grant is enforced: no section to tell apart.
        let sections = [
            ("enforced (fails the scan)", &classified.enforced),
            ("alerted (reported, not failing)", &classified.alerted),
            ("exempted", &classified.exempted),
        ];
        for (title, grants) in sections {
            let indent = match (self.rules_file, grants.is_empty()) {
                (_, true) => continue,
                (None, false) => "  ",
                (Some(_), false) => {
                    let _ = writeln!(out, "  {title}:");
                    "    "
                }
            };
            for grant in grants {
                self.write_grant(out, grant, indent);
            }
        }
        for removed in &classified.removed {
            let why = match &removed.by {
                Removal::Denied { source, statement } => {
                    format!("denied by {source}, statement {statement}")
                }
                Removal::OutsideBoundary => "not allowed by the permissions boundary".to_owned(),
            };
            let _ = writeln!(out, "  removed: {}: {why}", removed.pattern);
        }
        for unresolved in &p.unresolved {
            let _ = writeln!(
                out,
                "  unresolved: {}: {}",
                unresolved,
                unresolved_note(unresolved)
            );
        }
    }

    /// A grant: its pattern and rules, the statements that count, those an exemption covers
    /// (with the exemption), and those an expired exemption no longer covers.
    fn write_grant(&self, out: &mut String, grant: &RuledGrant, indent: &str) {
        let known = match grant.known_action_count {
            0 => "no catalogued action; flagged as the patterns overlap".to_owned(),
            1 => "1 known action".to_owned(),
            n => format!("{n} known actions"),
        };
        let rules = match self.rules_file {
            Some(_) => format!(
                "; rule {}",
                self.rules.naming(grant.mode, &grant.pattern).join(", ")
            ),
            None => String::new(),
        };
        let _ = writeln!(out, "{indent}{} ({known}{rules})", grant.pattern);
        for via in &grant.via {
            let _ = writeln!(out, "{indent}  via {}", statement_text(via));
            let expired = grant.expired.iter().filter(|e| e.statement == *via);
            for by in expired.flat_map(|e| &e.by) {
                let _ = writeln!(
                    out,
                    "{indent}    no longer exempted, the exemption expired (rule {}): {}",
                    by.rule, by.exemption
                );
            }
        }
        for covered in &grant.exempted {
            let _ = writeln!(
                out,
                "{indent}  exempted: {}",
                statement_text(&covered.statement)
            );
            for by in &covered.by {
                let _ = writeln!(out, "{indent}    rule {}: {}", by.rule, by.exemption);
            }
        }
    }
}

/// The account the file is of, for the principals' ARNs the exemptions match
/// (`arn:aws:iam::<account>:role/<name>`): read from the ARNs in it, which must agree.
fn account_of(details: &AuthorizationDetails, rules: &Rules) -> Result<String, String> {
    let arns = details
        .users
        .iter()
        .map(|u| &u.arn)
        .chain(details.roles.iter().map(|r| &r.arn))
        .chain(details.groups.iter().map(|g| &g.arn))
        .flatten();
    let accounts: BTreeSet<&str> = arns
        .filter_map(|arn| arn.split(':').nth(4))
        .filter(|account| !account.is_empty())
        .collect();
    match accounts.into_iter().collect::<Vec<_>>().as_slice() {
        [account] => Ok((*account).to_owned()),
        [] if rules.exemptions().iter().all(|e| e.principal.is_none()) => Ok(String::new()),
        [] => Err(
            "no ARN in the file says which account it is, and an exemption names a \
                   principal by ARN"
                .to_owned(),
        ),
        several => Err(format!(
            "the file holds principals of several accounts ({}): scan one account's file",
            several.join(", ")
        )),
    }
}

/// `managed policy ARN (v1) through group "Admins", statement Sid: actions`.
fn statement_text(via: &GrantingStatement) -> String {
    let group = via
        .through_group
        .as_ref()
        .map(|g| format!(" through group {g:?}"))
        .unwrap_or_default();
    let actions = if via.actions.is_empty() {
        "NotAction".to_owned()
    } else {
        via.actions.join(", ")
    };
    format!(
        "{}{group}, statement {}: {actions}",
        via.source, via.statement
    )
}

fn identity(p: &PrincipalPolicies) -> Value {
    json!({"kind": p.principal.kind, "name": p.principal.name, "arn": p.arn})
}

fn unresolved_note(unresolved: &Unresolved) -> &'static str {
    match unresolved {
        Unresolved::ManagedPolicy { .. } => "its document is not in the file; not analysed",
        Unresolved::Boundary { .. } => "its document is not in the file; read as no boundary",
        Unresolved::Group { .. } => "it is not in the file; its policies are not analysed",
    }
}
