//! Effective access: what all of a principal's policies and its permissions boundary together
//! let it perform of the restricted patterns, and what removed the rest.

use std::sync::Arc;

use policy_engine::{
    AccessAnalyser, PolicySource, PrincipalAccess, PrincipalKind, PrincipalPolicies, PrincipalRef,
    Removal, SourcedPolicy, analyse, effective_access,
};
use serde_json::{Value, json};

use crate::support::{catalog, restricted};

fn role() -> PrincipalRef {
    PrincipalRef {
        kind: PrincipalKind::Role,
        name: "app".into(),
    }
}

/// A document of one statement per value in `statements`.
fn document(statements: Value) -> Arc<str> {
    json!({"Version": "2012-10-17", "Statement": statements})
        .to_string()
        .into()
}

/// An inline policy named `name` of the role, or of `group` when given (then through it).
fn inline(name: &str, group: Option<&str>, statements: Value) -> SourcedPolicy {
    let owner = match group {
        Some(g) => PrincipalRef {
            kind: PrincipalKind::Group,
            name: g.into(),
        },
        None => role(),
    };
    SourcedPolicy {
        source: PolicySource::Inline {
            owner,
            policy_name: name.into(),
        },
        through_group: group.map(str::to_owned),
        document: document(statements),
    }
}

fn managed(name: &str, statements: Value) -> SourcedPolicy {
    SourcedPolicy {
        source: PolicySource::Managed {
            policy_arn: format!("arn:aws:iam::123456789012:policy/{name}"),
            version_id: Some("v1".into()),
        },
        through_group: None,
        document: document(statements),
    }
}

fn principal(identity: Vec<SourcedPolicy>, boundary: Option<SourcedPolicy>) -> PrincipalPolicies {
    PrincipalPolicies {
        principal: role(),
        arn: Some("arn:aws:iam::123456789012:role/app".into()),
        path: Some("/".into()),
        identity,
        boundary,
        unresolved: Vec::new(),
    }
}

/// `policy/statement` for a source and statement label.
fn named(source: &PolicySource, statement: &str) -> String {
    let policy = match source {
        PolicySource::Inline { policy_name, .. } => policy_name.clone(),
        PolicySource::Managed { policy_arn, .. } => {
            policy_arn.rsplit('/').next().unwrap_or_default().to_owned()
        }
    };
    format!("{policy}/{statement}")
}

/// Each grant as `pattern <- policy/statement, ...`; each removal as `pattern x policy/statement`
/// or `pattern x boundary`.
fn summary(access: &PrincipalAccess) -> Vec<String> {
    let grants = access.grants.iter().map(|g| {
        let via: Vec<String> = g
            .via
            .iter()
            .map(|v| named(&v.source, &v.statement))
            .collect();
        format!("{} <- {}", g.pattern, via.join(", "))
    });
    let removed = access.removed.iter().map(|r| match &r.by {
        Removal::Denied { source, statement } => {
            format!("{} x {}", r.pattern, named(source, statement))
        }
        Removal::OutsideBoundary => format!("{} x boundary", r.pattern),
    });
    grants.chain(removed).collect()
}

fn allow(actions: Value) -> Value {
    json!({"Effect": "Allow", "Action": actions, "Resource": "*"})
}

fn deny(actions: Value) -> Value {
    json!({"Effect": "Deny", "Action": actions, "Resource": "*"})
}

#[test]
fn what_a_principal_can_perform_and_what_removed_the_rest() {
    struct Case {
        name: &'static str,
        restricted: &'static str,
        identity: Vec<SourcedPolicy>,
        boundary: Option<SourcedPolicy>,
        expected: &'static [&'static str],
    }
    let mfa = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
    let cases = [
        Case {
            name: "a Deny in another policy removes a grant",
            restricted: "iam:*",
            identity: vec![
                managed("Admin", json!([allow(json!("*"))])),
                inline(
                    "Guard",
                    None,
                    json!([{"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}]),
                ),
            ],
            boundary: None,
            expected: &["iam:* x Guard/NoIam"],
        },
        Case {
            name: "a Deny through a group removes what a grant through another group gives",
            restricted: "iam:*,s3:DeleteBucket",
            identity: vec![
                inline("Everything", Some("Admins"), json!([allow(json!("*"))])),
                inline("NoIam", Some("Contractors"), json!([deny(json!("iam:*"))])),
            ],
            boundary: None,
            expected: &["s3:DeleteBucket <- Everything/#0", "iam:* x NoIam/#0"],
        },
        Case {
            name: "a conditional Deny removes nothing: it may not apply",
            restricted: "iam:*",
            identity: vec![
                inline("Admin", None, json!([allow(json!("iam:*"))])),
                inline(
                    "MfaOnly",
                    None,
                    json!([{"Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": mfa}]),
                ),
            ],
            boundary: None,
            expected: &["iam:* <- Admin/#0"],
        },
        Case {
            name: "a Deny narrower in resources than the grant removes nothing",
            restricted: "s3:DeleteBucket",
            identity: vec![
                inline("Janitor", None, json!([allow(json!("s3:DeleteBucket"))])),
                inline(
                    "KeepProd",
                    None,
                    json!([{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::prod-*"}]),
                ),
            ],
            boundary: None,
            expected: &["s3:DeleteBucket <- Janitor/#0"],
        },
        Case {
            name: "a Deny on every resource the action accepts (in every partition) removes it",
            restricted: "s3:DeleteBucket",
            identity: vec![
                inline("Janitor", None, json!([allow(json!("s3:DeleteBucket"))])),
                inline(
                    "KeepAll",
                    None,
                    json!([{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "arn:*:s3:::*"}]),
                ),
            ],
            boundary: None,
            expected: &["s3:DeleteBucket x KeepAll/#0"],
        },
        Case {
            name: "a Deny of part of a wildcard leaves the rest granted",
            restricted: "iam:*",
            identity: vec![
                inline("Admin", None, json!([allow(json!("iam:*"))])),
                inline(
                    "NoWrites",
                    None,
                    json!([{"Effect": "Deny", "NotAction": ["iam:Get*", "iam:List*"], "Resource": "*"}]),
                ),
            ],
            boundary: None,
            expected: &["iam:* <- Admin/#0"],
        },
        Case {
            name: "grants from several policies are all named",
            restricted: "iam:PassRole",
            identity: vec![
                inline(
                    "Deploy",
                    None,
                    json!([{"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/deploy/*"}]),
                ),
                managed("Admin", json!([allow(json!("*"))])),
            ],
            boundary: None,
            expected: &["iam:PassRole <- Deploy/Pass, Admin/#0"],
        },
        Case {
            name: "a boundary that does not allow an action removes its grant",
            restricted: "iam:*,s3:DeleteBucket",
            identity: vec![managed("Admin", json!([allow(json!("*"))]))],
            boundary: Some(managed(
                "Boundary",
                json!([allow(json!(["s3:*", "ec2:*"]))]),
            )),
            expected: &["s3:DeleteBucket <- Admin/#0", "iam:* x boundary"],
        },
        Case {
            name: "a boundary's conditional Allow could allow: the grant stands",
            restricted: "iam:*",
            identity: vec![managed("Admin", json!([allow(json!("*"))]))],
            boundary: Some(managed(
                "Boundary",
                json!([{"Effect": "Allow", "Action": "iam:*", "Resource": "*", "Condition": mfa}]),
            )),
            expected: &["iam:* <- Admin/#0"],
        },
        Case {
            name: "a boundary's unconditional Deny removes what its Allow lets through",
            restricted: "s3:DeleteBucket",
            identity: vec![managed("Admin", json!([allow(json!("*"))]))],
            boundary: Some(managed(
                "Boundary",
                json!([
                    allow(json!("*")),
                    {"Sid": "NeverDeleteBuckets", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
                ]),
            )),
            expected: &["s3:DeleteBucket x Boundary/NeverDeleteBuckets"],
        },
        Case {
            name: "a boundary grants nothing by itself",
            restricted: "iam:*",
            identity: vec![managed("ReadBuckets", json!([allow(json!("s3:Get*"))]))],
            boundary: Some(managed("Boundary", json!([allow(json!("*"))]))),
            expected: &[],
        },
        Case {
            name: "a boundary allowing only on other resources lets nothing through",
            restricted: "s3:DeleteBucket",
            identity: vec![managed("Admin", json!([allow(json!("*"))]))],
            boundary: Some(managed(
                "Boundary",
                json!([{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:iam::*:user/*"}]),
            )),
            expected: &["s3:DeleteBucket x boundary"],
        },
    ];
    for case in cases {
        let p = principal(case.identity, case.boundary);
        let access = effective_access(&p, &restricted(case.restricted), catalog())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(summary(&access), case.expected, "{}", case.name);
    }
}

/// One policy and no boundary: the principal's verdict is the document's.
#[test]
fn one_policy_gets_the_per_document_verdict() {
    let restricted = restricted("iam:*,s3:Delete*");
    let statements = json!([
        {"Sid": "Buckets", "Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::reports-*"},
        {"Sid": "Keys", "Effect": "Allow", "NotAction": ["iam:*User*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject*", "Resource": "*"}
    ]);
    let p = principal(vec![managed("Mixed", statements)], None);
    let access = effective_access(&p, &restricted, catalog()).unwrap();
    let text = p.identity[0].document.clone();
    let analysis = analyse(
        &policy_engine::Policy::parse(&text).unwrap(),
        &restricted,
        catalog(),
    );
    for pattern in restricted.patterns() {
        let by_document: Vec<(String, Vec<String>)> = analysis
            .findings
            .iter()
            .filter_map(|f| {
                let hit = f.hits.iter().find(|h| h.restricted == pattern)?;
                let label = f.sid.clone().unwrap_or(format!("#{}", f.statement));
                Some((label, hit.granted_by.clone()))
            })
            .collect();
        let by_principal: Vec<(String, Vec<String>)> = access
            .grants
            .iter()
            .filter(|g| g.pattern == pattern)
            .flat_map(|g| {
                g.via
                    .iter()
                    .map(|v| (v.statement.clone(), v.actions.clone()))
            })
            .collect();
        assert_eq!(by_principal, by_document, "{pattern}");
    }
    assert!(access.removed.is_empty());
}

#[test]
fn an_invalid_document_is_named_by_its_source() {
    let mut bad = managed("Broken", json!([allow(json!("*"))]));
    bad.document = r#"{"Version": "2012-10-17"}"#.into();
    bad.through_group = Some("Admins".into());
    let error =
        effective_access(&principal(vec![bad], None), &restricted("iam:*"), catalog()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "managed policy arn:aws:iam::123456789012:policy/Broken (v1) (through group \"Admins\"): \
         the policy document has no Statement"
    );
}

/// The analyser parses a source once, but a source met again with another text is read as
/// that text, never as the cached one.
#[test]
fn a_shared_analyser_reads_each_principals_own_text() {
    let restricted = restricted("iam:*");
    let mut analyser = AccessAnalyser::new(&restricted, catalog());
    let admin = principal(vec![managed("Shared", json!([allow(json!("*"))]))], None);
    let reader = principal(
        vec![managed("Shared", json!([allow(json!("s3:Get*"))]))],
        None,
    );
    for _ in 0..2 {
        assert_eq!(
            summary(&analyser.effective_access(&admin).unwrap()),
            ["iam:* <- Shared/#0"]
        );
        assert!(summary(&analyser.effective_access(&reader).unwrap()).is_empty());
    }
}
