//! `scan`: every user and role of an account (the JSON of `aws iam
//! get-account-authorization-details`) with what it can perform of the restricted patterns,
//! rendered for people or as JSON.

use std::fmt::Write;

use policy_engine::{
    AccessAnalyser, AuthorizationDetails, Catalog, PrincipalAccess, PrincipalPolicies, Removal,
    RestrictedActions, Unresolved,
};
use serde_json::{Value, json};

pub struct Scan<'r> {
    pub restricted: &'r RestrictedActions,
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

/// One user or role: its effective access, or why it could not be decided.
pub struct Scanned {
    pub policies: PrincipalPolicies,
    pub access: Result<PrincipalAccess, String>,
}

impl Scanned {
    fn grants(&self) -> bool {
        matches!(&self.access, Ok(a) if !a.grants.is_empty())
    }
}

impl<'r> Scan<'r> {
    pub fn of(
        details: &AuthorizationDetails,
        restricted: &'r RestrictedActions,
        catalog: &Catalog,
    ) -> Result<Scan<'r>, String> {
        let principals = details.principals().map_err(|e| e.to_string())?;
        let mut analyser = AccessAnalyser::new(restricted, catalog);
        let principals = principals
            .into_iter()
            .map(|policies| Scanned {
                access: analyser
                    .effective_access(&policies)
                    .map_err(|e| e.to_string()),
                policies,
            })
            .collect();
        Ok(Scan {
            restricted,
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
        self.principals.iter().any(|p| p.access.is_err())
    }

    pub fn any_restricted(&self) -> bool {
        self.principals.iter().any(Scanned::grants)
    }

    /// Each principal that can perform a restricted pattern, has a grant removed, has
    /// attachments that could not be resolved, or could not be analysed; then a summary.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for scanned in &self.principals {
            write_principal(&mut out, scanned);
        }
        let count =
            |pred: &dyn Fn(&Scanned) -> bool| self.principals.iter().filter(|p| pred(p)).count();
        let e = &self.examined;
        let _ = writeln!(
            out,
            "{} users, {} roles, {} groups and {} managed policies examined against {}: \
             {} can perform restricted actions, {} incomplete (unresolved attachments), {} invalid",
            e.users,
            e.roles,
            e.groups,
            e.policies,
            self.restricted,
            count(&Scanned::grants),
            count(&|p| !p.policies.unresolved.is_empty()),
            count(&|p| p.access.is_err()),
        );
        out
    }

    /// `principals`: those that can perform a restricted pattern; `incomplete`: the others
    /// whose verdict misses unresolved attachments; `invalid`: those that could not be
    /// analysed.
    pub fn json(&self) -> String {
        let principals: Vec<Value> = self
            .principals
            .iter()
            .filter_map(|s| {
                let access = s.access.as_ref().ok().filter(|a| !a.grants.is_empty())?;
                let mut entry = identity(&s.policies);
                entry["grants"] = json!(access.grants);
                entry["removed"] = json!(access.removed);
                entry["unresolved"] = json!(s.policies.unresolved);
                Some(entry)
            })
            .collect();
        let incomplete: Vec<Value> = self
            .principals
            .iter()
            .filter(|s| !s.grants() && s.access.is_ok() && !s.policies.unresolved.is_empty())
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
                let error = s.access.as_ref().err()?;
                let mut entry = identity(&s.policies);
                entry["error"] = json!(error);
                Some(entry)
            })
            .collect();
        let e = &self.examined;
        let report = json!({
            "restricted": self.restricted.patterns().collect::<Vec<_>>(),
            "principals": principals,
            "incomplete": incomplete,
            "invalid": invalid,
            "examined": {"users": e.users, "roles": e.roles, "groups": e.groups, "policies": e.policies},
        });
        serde_json::to_string_pretty(&report).expect("a report always serialises")
    }
}

fn identity(p: &PrincipalPolicies) -> Value {
    json!({"kind": p.principal.kind, "name": p.principal.name, "arn": p.arn})
}

fn write_principal(out: &mut String, scanned: &Scanned) {
    let p = &scanned.policies;
    let arn = p
        .arn
        .as_ref()
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    let access = match &scanned.access {
        Err(reason) => {
            let _ = writeln!(out, "{}{arn}: INVALID: {reason}", p.principal);
            return;
        }
        Ok(access) => access,
    };
    if access.grants.is_empty() && access.removed.is_empty() && p.unresolved.is_empty() {
        return;
    }
    let verdict = if access.grants.is_empty() {
        "can perform no restricted action"
    } else {
        "CAN PERFORM RESTRICTED ACTIONS"
    };
    let _ = writeln!(out, "{}{arn}: {verdict}", p.principal);
    for grant in &access.grants {
        let known = match grant.known_action_count {
            0 => "no catalogued action; flagged as the patterns overlap".to_owned(),
            1 => "1 known action".to_owned(),
            n => format!("{n} known actions"),
        };
        let _ = writeln!(out, "  {} ({known})", grant.pattern);
        for via in &grant.via {
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
            let _ = writeln!(
                out,
                "    via {}{group}, statement {}: {actions}",
                via.source, via.statement
            );
        }
    }
    for removed in &access.removed {
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

fn unresolved_note(unresolved: &Unresolved) -> &'static str {
    match unresolved {
        Unresolved::ManagedPolicy { .. } => "its document is not in the file; not analysed",
        Unresolved::Boundary { .. } => "its document is not in the file; read as no boundary",
        Unresolved::Group { .. } => "it is not in the file; its policies are not analysed",
    }
}
