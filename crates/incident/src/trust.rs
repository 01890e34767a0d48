//! A role's trust policy, read for people: who may assume the role, and what deserves a look
//! (anyone, another account, no condition). Reported, never quarantined: a trust policy grants
//! no permission by itself, and cutting it could lock out whoever runs on the role.

use policy_engine::pattern::matches;
use serde_json::Value;

/// The actions of a trust policy that let a principal in (or tag its session).
const ASSUMING: [&str; 6] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:TagSession",
    "sts:SetSourceIdentity",
    "sts:SetContext",
];

/// Who a trust policy lets in: one line per principal a statement names, and the warnings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trust {
    pub trusted: Vec<String>,
    pub warnings: Vec<String>,
}

/// Reads `document` (JSON text) as the trust policy of `role` in `account`.
pub fn who_may_assume(document: &str, role: &str, account: &str) -> Result<Trust, String> {
    let policy: Value = serde_json::from_str(document).map_err(|e| format!("not JSON: {e}"))?;
    let statements = match policy.get("Statement") {
        Some(Value::Array(statements)) => statements.clone(),
        Some(statement @ Value::Object(_)) => vec![statement.clone()],
        _ => return Err("it has no Statement".into()),
    };
    let mut trust = Trust::default();
    for (index, statement) in statements.iter().enumerate() {
        let label = match statement.get("Sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => format!("statement {index} ({sid})"),
            _ => format!("statement {index}"),
        };
        let effect = statement
            .get("Effect")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let actions = texts(statement.get("Action").or(statement.get("NotAction")));
        let not_action = statement.get("Action").is_none();
        // An entry is a pattern (`sts:Assume*`, `sts:AssumeRol?`), matched as IAM matches it.
        let lets_in = not_action
            || actions
                .iter()
                .any(|action| ASSUMING.iter().any(|a| matches(action, a)));
        let conditional = statement
            .get("Condition")
            .is_some_and(|c| c.as_object().is_some_and(|c| !c.is_empty()));
        let condition = if conditional {
            ", under a condition"
        } else {
            ""
        };
        let (principals, negated) =
            match (statement.get("Principal"), statement.get("NotPrincipal")) {
                (Some(p), _) => (principals(p), false),
                (None, Some(p)) => (principals(p), true),
                (None, None) => (Vec::new(), false),
            };
        let verb = if not_action { "all but" } else { "" };
        let acts = format!(
            "{verb}{}{}",
            if verb.is_empty() { "" } else { " " },
            actions.join(", ")
        );
        for (kind, principal) in &principals {
            let who = if negated {
                format!("everyone except {kind} {principal}")
            } else {
                format!("{kind} {principal}")
            };
            trust
                .trusted
                .push(format!("{label}: {effect} {who}: {acts}{condition}"));
            if effect != "Allow" || !lets_in {
                continue;
            }
            let anyone = negated || principal == "*";
            if anyone {
                trust.warnings.push(format!(
                    "{label} lets anyone ({who}) assume role {role}{}",
                    if conditional {
                        ": only its condition stands in the way"
                    } else {
                        ", with no condition: any AWS account in the world"
                    }
                ));
            } else if kind == "Federated" && !conditional {
                // A web identity provider signs in anyone it knows (any Google account, any
                // GitHub repository's workflow): only a condition on its claims narrows that.
                trust.warnings.push(format!(
                    "{label} lets anyone the identity provider {principal} signs in assume role \
                     {role}, with no condition on who they are"
                ));
            } else if kind == "AWS"
                && let Some(other) = account_of(principal).filter(|a| *a != account)
            {
                trust.warnings.push(format!(
                    "{label} lets account {other} (not this account, {account}) assume role \
                     {role}{condition}: {principal}"
                ));
            }
        }
    }
    Ok(trust)
}

/// `Principal` as (kind, value) pairs: `"*"`, or `{"AWS": ..., "Service": ..., ...}`.
fn principals(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::String(any) => vec![("principal".to_owned(), any.clone())],
        Value::Object(kinds) => kinds
            .iter()
            .flat_map(|(kind, names)| {
                texts(Some(names))
                    .into_iter()
                    .map(move |name| (kind.clone(), name))
            })
            .collect(),
        other => vec![("principal".to_owned(), other.to_string())],
    }
}

/// A string or a list of strings, as text.
fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        Some(other) => vec![other.to_string()],
        None => Vec::new(),
    }
}

/// The account an AWS principal belongs to: a bare 12-digit id or an ARN's account field.
fn account_of(principal: &str) -> Option<&str> {
    let account = if principal.starts_with("arn:") {
        principal.split(':').nth(4)?
    } else {
        principal
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}
