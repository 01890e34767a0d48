//! Properties of the engine over generated policies: the verdict, and a principal's effective
//! access over several policies and a boundary, agree with a brute-force oracle over the
//! catalog, and every quarantine is clean, grants a subset of the original,
//! keeps every Deny, adds none, and fits the size quota. Any input parses or fails cleanly.

use policy_engine::analysis::clause_covers;
use std::collections::HashMap;
use std::sync::LazyLock;

use policy_engine::document::{
    ActionClause, Effect, ResourceClause, Statement, check_action_syntax,
};
use policy_engine::pattern::{self, Language, PatternSet};
use policy_engine::{
    Catalog, Edit, Policy, PolicySource, PrincipalKind, PrincipalPolicies, PrincipalRef,
    RestrictedActions, SourcedPolicy, analyse, decode, effective_access, plan,
};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Patterns real policies use, chosen to sit near the restricted ones below.
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Delete*",
    "s3:DeleteBucket",
    "s3:deletebucket",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:Get*",
    "s3:*Bucket",
    "s3:*Object*",
    "s3:Put?ucket*",
    "s3:List*",
    "iam:*",
    "iam:Create*",
    "iam:*User",
    "iam:PassRole",
    "iam:Get*",
    "ec2:Describe*",
    "ec2:TerminateInstances",
    "ec2:*",
    "kms:*Key*",
    "s3:DeleteFuture*Thing",
    "*:Delete*",
    "s3*:*",
    "s3*:Delete*",
    "*:*",
];

const RESTRICTED_PATTERNS: &[&str] = &[
    "s3:DeleteBucket",
    "s3:DeleteObject",
    "s3:Delete*",
    "iam:*",
    "IAM:Create*",
    "ec2:TerminateInstances",
    "kms:ScheduleKeyDeletion",
    "s3express:DeleteBucket",
];

/// Resources real policies use: everything, buckets, objects, one partition, other services.
const RESOURCES: &[&str] = &[
    r#""*""#,
    r#"["*"]"#,
    r#""arn:aws:s3:::example-bucket/*""#,
    r#""arn:aws:s3:::example-bucket""#,
    r#"["arn:aws:s3:::example-bucket", "arn:aws:s3:::example-bucket/*"]"#,
    r#""arn:*:s3:::*""#,
    r#""arn:aws:s3:::*""#,
    r#""arn:aws:iam::*:user/*""#,
    r#""arn:aws:ec2:*:*:instance/*""#,
];

/// The oracle's resource types, read from the data file directly: `service type` -> templates.
static TEMPLATES: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    include_str!("../data/iam-resource-types.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            (
                format!("{} {}", words[0], words[1]),
                words[2..].iter().map(|t| t.to_string()).collect(),
            )
        })
        .collect()
});

/// The oracle's concrete ARNs of a known action, every placeholder replaced by sample values
/// (two partitions, a bucket, a name with a slash); None when the catalog gives no type.
fn sample_arns(action: &str) -> Option<Vec<String>> {
    let line = include_str!("../data/iam-actions.txt")
        .lines()
        .find(|l| l.split(' ').next() == Some(action))?;
    let service = action.split(':').next()?;
    let types: Vec<&str> = line.split(' ').skip(1).collect();
    if types.is_empty() {
        return None;
    }
    let mut arns = Vec::new();
    for t in types {
        for template in &TEMPLATES[&format!("{service} {t}")] {
            let mut partial = vec![String::new()];
            let mut rest = template.as_str();
            while let Some(start) = rest.find("${") {
                let end = start + rest[start..].find('}').expect("closed placeholder");
                let values: &[&str] = match &rest[start + 2..end] {
                    "Partition" => &["aws", "aws-cn"],
                    "Region" => &["us-east-1"],
                    "Account" | "AccountId" => &["123456789012"],
                    "BucketName" => &["example-bucket", "other"],
                    _ => &["x", "example-bucket/key"],
                };
                partial = partial
                    .iter()
                    .flat_map(|p| {
                        values
                            .iter()
                            .map(move |v| format!("{p}{}{v}", &rest[..start]))
                    })
                    .collect();
                rest = &rest[end + 1..];
            }
            arns.extend(partial.into_iter().map(|p| p + rest));
        }
    }
    Some(arns)
}

/// The oracle's reading of where a statement applies to a known action: some (Allow) or every
/// (Deny) sample ARN is named, or not excluded. Without types: `*` only, for a Deny.
fn statement_applies(statement: &Statement<'_>, action: &str, allow: bool) -> bool {
    let (patterns, negated) = match &statement.resources {
        ResourceClause::Resource(v) => (v, false),
        ResourceClause::NotResource(v) => (v, true),
    };
    let named = |arn: &str| patterns.iter().any(|p| pattern::matches(p, arn)) != negated;
    if !negated && patterns.iter().any(|p| p == "*") {
        return true;
    }
    match sample_arns(action) {
        None => allow,
        Some(arns) if allow => arns.iter().any(|a| named(a)),
        Some(arns) => arns.iter().all(|a| named(a)),
    }
}

/// Wildcards whose expansions are hundreds of characters, some redundant with others.
const QUOTA_WILDCARDS: &[&str] = &[
    "s3:*",
    "s3:Get*",
    "s3:*Object*",
    "s3:List*",
    "s3:Put*",
    "iam:Get*",
    "iam:List*",
    "ec2:Describe*",
    "ec2:*Volume*",
];

const QUOTA_RESTRICTED: &[&str] = &[
    "s3:GetObject",
    "s3:DeleteBucket",
    "iam:GetUser",
    "ec2:DescribeInstances",
    "s3:ListBucket",
];

/// The known non-restricted actions each Allow statement grants, summed over statements.
fn kept_grants(policy: &Policy<'_>, restricted: &RestrictedActions) -> usize {
    let services = ["s3:*", "iam:*", "ec2:*"];
    let candidates: Vec<&str> = services
        .iter()
        .flat_map(|s| catalog().matching(s))
        .filter(|a| !restricted.patterns().any(|r| pattern::matches(r, a)))
        .collect();
    policy
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .map(|s| {
            candidates
                .iter()
                .filter(|a| clause_covers(&s.actions, a))
                .count()
        })
        .sum()
}

fn catalog() -> &'static Catalog {
    Catalog::embedded()
}

/// A known action, as written, or cut short into a wildcard (`ec2:DescribeIn*`).
fn catalog_action() -> impl Strategy<Value = String> {
    (0..catalog().len(), any::<bool>(), 1usize..20).prop_map(|(i, cut, keep)| {
        let action = catalog().actions()[i];
        let at = action.find(':').expect("service:action") + keep;
        if cut && at < action.len() {
            format!("{}*", &action[..at])
        } else {
            action.to_owned()
        }
    })
}

fn action_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(ACTION_PATTERNS).prop_map(str::to_owned),
        1 => catalog_action(),
    ]
}

fn statement() -> impl Strategy<Value = Value> {
    (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.15),
        prop::collection::vec(action_pattern(), 1..5),
        prop::sample::select(RESOURCES),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(allow, not_action, actions, resource, not_resource, conditional)| {
                let resource: Value = serde_json::from_str(resource).expect("JSON");
                let mut s = json!({"Effect": if allow { "Allow" } else { "Deny" }});
                s[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = resource;
                s[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                if conditional {
                    s["Condition"] = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
                }
                s
            },
        )
}

fn policy_json() -> impl Strategy<Value = String> {
    prop::collection::vec(statement(), 1..5)
        .prop_map(|s| json!({"Version": "2012-10-17", "Statement": s}).to_string())
}

fn restricted() -> impl Strategy<Value = RestrictedActions> {
    prop::sample::subsequence(RESTRICTED_PATTERNS, 1..4)
        .prop_map(|p| RestrictedActions::parse(&p.join(","), catalog()).expect("valid patterns"))
}

/// A role with 1 to 3 identity policies (some through a group) and perhaps a boundary.
fn principal() -> impl Strategy<Value = PrincipalPolicies> {
    (
        prop::collection::vec((policy_json(), prop::option::of("[A-C]")), 1..4),
        prop::option::weighted(0.4, policy_json()),
    )
        .prop_map(|(identity, boundary)| {
            let sourced = |i: usize, text: String, group: Option<String>| SourcedPolicy {
                source: PolicySource::Managed {
                    policy_arn: format!("arn:aws:iam::123456789012:policy/p{i}"),
                    version_id: None,
                },
                through_group: group,
                document: text.into(),
            };
            PrincipalPolicies {
                principal: PrincipalRef {
                    kind: PrincipalKind::Role,
                    name: "r".into(),
                },
                arn: None,
                path: None,
                identity: identity
                    .into_iter()
                    .enumerate()
                    .map(|(i, (text, group))| sourced(i, text, group))
                    .collect(),
                boundary: boundary.map(|text| sourced(99, text, None)),
                unresolved: Vec::new(),
            }
        })
}

/// True when a resource pattern's `*` before the resource part may slide past a colon into a
/// name that holds one (arn:*:s3:::* and an EC2 instance ID), which no sample ARN shows.
fn slides(statement: &Statement<'_>) -> bool {
    let (ResourceClause::Resource(v) | ResourceClause::NotResource(v)) = &statement.resources;
    v.iter()
        .any(|p| p.split(':').take(5).any(|part| part.contains('*')) && p != "*")
}

/// The actions a statement grants, as a pattern set.
fn language<'p>(statement: &'p Statement<'p>) -> PatternSet<'p> {
    match &statement.actions {
        ActionClause::Action(v) => PatternSet::any_of(v.iter()),
        ActionClause::NotAction(v) => PatternSet::none_of(v.iter()),
    }
}

/// Exact subset test. A union is a subset when each member is, which keeps each automaton
/// small even when a wildcard was expanded into hundreds of actions.
fn grants_within(inner: &Statement<'_>, outer: &Statement<'_>) -> bool {
    match &inner.actions {
        ActionClause::Action(v) => v
            .iter()
            .all(|p| Language::is_subset(&[PatternSet::any_of([p])], &language(outer))),
        ActionClause::NotAction(_) => Language::is_subset(&[language(inner)], &language(outer)),
    }
}

proptest! {
    /// Brute force: for every known action matching a restricted pattern, check each statement
    /// directly, its resources against sample ARNs of the action's resource types. The
    /// engine's count of known actions must be exactly that.
    #[test]
    fn known_actions_agree_with_brute_force(json in policy_json(), restricted in restricted()) {
        let policy = Policy::parse(&json).unwrap();
        let analysis = analyse(&policy, &restricted, catalog());
        let denials: Vec<_> = policy.statements.iter().filter(|s| s.effect == Effect::Deny && s.condition.is_none()).collect();
        let slides = policy.statements.iter().any(slides);
        for (index, statement) in policy.statements.iter().enumerate() {
            for r in restricted.patterns() {
                let granted = catalog().actions().iter().filter(|a| {
                    pattern::matches(r, a)
                        && statement.effect == Effect::Allow
                        && clause_covers(&statement.actions, a)
                        && statement_applies(statement, a, true)
                        && !denials.iter().any(|d| clause_covers(&d.actions, a) && statement_applies(d, a, false))
                }).count();
                let hit = analysis.findings.iter()
                    .find(|f| f.statement == index)
                    .and_then(|f| f.hits.iter().find(|h| h.restricted == r));
                let count = hit.map_or(0, |h| h.known_action_count);
                // Never fewer: an Allow's resources are never read narrower than the samples.
                prop_assert!(count >= granted, "statement {} restricted {}: {} < {}", index, r, count, granted);
                // A `*` before the resource part may slide past a colon into a name that holds
                // one (arn:*:s3:::* and an EC2 instance ID), which no sample ARN shows.
                if !slides {
                    prop_assert_eq!(count, granted, "statement {} restricted {}", index, r);
                }
            }
        }
    }

    /// Brute force over a principal: a known action is performable when an Allow of some
    /// identity policy applies to it, no unconditional identity Deny covers every sample ARN,
    /// and the boundary, if any, has an Allow (conditional or not) that applies and no
    /// unconditional Deny that covers it. The engine's count per restricted pattern is that.
    #[test]
    fn effective_access_agrees_with_brute_force(p in principal(), restricted in restricted()) {
        let texts: Vec<String> = p.identity.iter().map(|s| s.document.to_string()).collect();
        let identity: Vec<Policy> = texts.iter().map(|t| Policy::parse(t).unwrap()).collect();
        let boundary_text = p.boundary.as_ref().map(|b| b.document.to_string());
        let boundary = boundary_text.as_ref().map(|t| Policy::parse(t).unwrap());
        let access = effective_access(&p, &restricted, catalog()).unwrap();
        let statements: Vec<&Statement> = identity.iter().flat_map(|d| &d.statements).collect();
        let unconditional_deny = |s: &&Statement, a: &str| {
            s.effect == Effect::Deny && s.condition.is_none() && clause_covers(&s.actions, a) && statement_applies(s, a, false)
        };
        let performable = |a: &str| {
            statements.iter().any(|s| s.effect == Effect::Allow && clause_covers(&s.actions, a) && statement_applies(s, a, true))
                && !statements.iter().any(|s| unconditional_deny(s, a))
                && boundary.as_ref().is_none_or(|b| {
                    b.statements.iter().any(|s| s.effect == Effect::Allow && clause_covers(&s.actions, a) && statement_applies(s, a, true))
                        && !b.statements.iter().any(|s| unconditional_deny(&s, a))
                })
        };
        let slides = statements.iter().copied().chain(boundary.iter().flat_map(|b| &b.statements)).any(slides);
        for r in restricted.patterns() {
            let brute = catalog().matching(r).filter(|a| performable(a)).count();
            let grant = access.grants.iter().find(|g| g.pattern == r);
            let count = grant.map_or(0, |g| g.known_action_count);
            prop_assert!(count >= brute, "{}: {} < {}", r, count, brute);
            if !slides {
                prop_assert_eq!(count, brute, "{}", r);
            }
            let removed = access.removed.iter().any(|g| g.pattern == r);
            prop_assert!(!(removed && grant.is_some()), "{} both granted and removed", r);
            // Removed means granted by some statement on its own.
            if removed {
                let alone = statements.iter().any(|s| {
                    let one = Policy { version: None, id: None, statements: vec![(*s).clone()] };
                    analyse(&one, &restricted, catalog()).findings.iter().any(|f| f.hits.iter().any(|h| h.restricted == r))
                });
                prop_assert!(alone, "{} removed but never granted", r);
            }
        }
        // One policy and no boundary: exactly the per-document verdict.
        if identity.len() == 1 && boundary.is_none() {
            let by_document: Vec<&str> = restricted.patterns()
                .filter(|r| analyse(&identity[0], &restricted, catalog()).findings.iter().any(|f| f.hits.iter().any(|h| h.restricted == *r)))
                .collect();
            let by_principal: Vec<&str> = access.grants.iter().map(|g| g.pattern.as_str()).collect();
            prop_assert_eq!(by_principal, by_document);
        }
    }

    #[test]
    fn a_quarantine_grants_no_restricted_action_and_fits(json in policy_json(), restricted in restricted(), tight in any::<bool>()) {
        let policy = Policy::parse(&json).unwrap();
        // Tight: barely more room than the original (forcing wildcards to be dropped).
        let limit = if tight { policy.size() + 100 } else { 6_144 };
        let quarantine = plan(&policy, &restricted, catalog(), limit).unwrap();
        prop_assert!(quarantine.size <= limit);
        prop_assert_eq!(quarantine.size, quarantine.policy.size());
        let again = analyse(&quarantine.policy, &restricted, catalog());
        prop_assert!(!again.grants_restricted(), "still grants: {:?}", again.findings);
        // What IAM will be sent parses back to the same document.
        let text = quarantine.policy.to_json();
        prop_assert_eq!(Policy::parse(&text).unwrap(), quarantine.policy.clone());
    }

    #[test]
    fn a_quarantine_grants_a_subset_and_keeps_every_deny(json in policy_json(), restricted in restricted()) {
        let policy = Policy::parse(&json).unwrap();
        let quarantine = plan(&policy, &restricted, catalog(), 6_144).unwrap();
        let denies = |p: &Policy<'_>| p.statements.iter().filter(|s| s.effect == Effect::Deny).map(|s| s.clone().into_owned()).collect::<Vec<_>>();
        prop_assert_eq!(denies(&quarantine.policy), denies(&policy));
        for rewritten in quarantine.policy.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let grants_something = Language::all(&[language(rewritten)]);
            let within_an_original = policy.statements.iter().any(|original| {
                original.effect == Effect::Allow
                    && original.resources == rewritten.resources
                    && original.condition == rewritten.condition
                    && grants_within(rewritten, original)
            });
            prop_assert!(!grants_something || within_an_original, "new grant: {:?}", rewritten);
        }
    }

    /// Every action the planner writes is IAM's `service:pattern` with a literal service prefix
    /// (as AWS's service prefixes are: lower-case letters, digits and `-`), and the document
    /// parses back with the engine's own strict parser. Entries it kept are the input's own;
    /// the restricted patterns it excludes name their service too (the list refuses others).
    #[test]
    fn a_quarantine_is_valid_iam_grammar(json in policy_json(), restricted in restricted(), tight in any::<bool>()) {
        let policy = Policy::parse(&json).unwrap();
        let limit = if tight { policy.size() + 100 } else { 6_144 };
        let quarantine = plan(&policy, &restricted, catalog(), limit).unwrap();
        let text = quarantine.policy.to_json();
        let reparsed = Policy::parse(&text);
        prop_assert!(reparsed.is_ok(), "{:?}", reparsed);
        let original: Vec<&str> = policy.statements.iter().flat_map(|s| s.actions.patterns().iter()).collect();
        for written in quarantine.policy.statements.iter().flat_map(|s| s.actions.patterns().iter()) {
            prop_assert!(check_action_syntax(written).is_ok(), "{written:?}");
            if original.iter().any(|o| o == &written) || written == "*" {
                continue;
            }
            let (service, name) = written.split_once(':').expect("service:name");
            // IAM reads the service in any case: a restricted pattern is written as configured.
            let service = service.to_ascii_lowercase();
            prop_assert!(!service.is_empty() && service.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'),
                "{written:?} has no literal service prefix");
            prop_assert!(!name.is_empty());
        }
    }

    /// Against the alternatives: every choice of which expanded wildcards to keep (each as
    /// the planner expands it with room to spare) that fits the same quota keeps no more of
    /// the original's known non-restricted grants than the plan does.
    #[test]
    fn no_other_choice_of_expansions_keeps_more_within_the_quota(
        statements in prop::collection::vec(prop::sample::subsequence(QUOTA_WILDCARDS, 1..4), 1..3),
        restricted in prop::sample::subsequence(QUOTA_RESTRICTED, 1..3),
        squeeze in 0.0f64..1.0,
    ) {
        let restricted = RestrictedActions::parse(&restricted.join(","), catalog()).unwrap();
        let text = json!({"Version": "2012-10-17", "Statement": statements.iter().enumerate().map(|(i, actions)| {
            json!({"Sid": format!("S{i}"), "Effect": "Allow", "Action": actions, "Resource": "*"})
        }).collect::<Vec<_>>()}).to_string();
        let policy = Policy::parse(&text).unwrap();
        let roomy = plan(&policy, &restricted, catalog(), 1_000_000).unwrap();
        let expansions: Vec<(usize, &str, &[String])> = roomy.edits.iter().filter_map(|e| match e {
            Edit::ExpandedWildcard { statement, wildcard, into, .. } => Some((*statement, wildcard.as_str(), into.as_slice())),
            _ => None,
        }).collect();
        prop_assume!(!expansions.is_empty() && expansions.len() <= 8);
        // A quota between dropping every expansion and keeping them all.
        let mut none = roomy.policy.clone();
        for (index, statement) in none.statements.iter_mut().enumerate() {
            let ActionClause::Action(v) = &mut statement.actions else { continue };
            v.items.retain(|a| !expansions.iter().any(|(s, _, into)| *s == index && into.iter().any(|p| p == a)));
        }
        none.statements.retain(|s| !s.actions.patterns().items.is_empty());
        prop_assume!(!none.statements.is_empty());
        let limit = none.size() + ((roomy.size - none.size()) as f64 * squeeze) as usize;
        let quarantine = plan(&policy, &restricted, catalog(), limit).unwrap();
        let kept = kept_grants(&quarantine.policy, &restricted);
        for mask in 0u32..(1 << expansions.len()) {
            let mut other = none.clone();
            for (k, (index, _, into)) in expansions.iter().enumerate() {
                if mask & (1 << k) == 0 { continue; }
                let sid = format!("S{index}");
                let at = other.statements.iter().position(|s| s.sid.as_deref() == Some(sid.as_str()));
                let at = at.unwrap_or_else(|| {
                    let mut s = roomy.policy.statements.iter().find(|s| s.sid.as_deref() == Some(sid.as_str())).unwrap().clone();
                    if let ActionClause::Action(v) = &mut s.actions { v.items.clear(); }
                    other.statements.push(s);
                    other.statements.len() - 1
                });
                if let ActionClause::Action(v) = &mut other.statements[at].actions {
                    v.items.extend(into.iter().cloned().map(std::borrow::Cow::Owned));
                    v.is_list = true;
                }
            }
            if other.size() <= limit {
                let theirs = kept_grants(&other, &restricted);
                prop_assert!(theirs <= kept, "choice {mask:b} keeps {theirs} > {kept} within {limit}: {:?}", quarantine.edits);
            }
        }
    }

    #[test]
    fn a_clean_document_is_left_unchanged(json in policy_json(), restricted in restricted()) {
        let policy = Policy::parse(&json).unwrap();
        prop_assume!(!analyse(&policy, &restricted, catalog()).grants_restricted());
        let quarantine = plan(&policy, &restricted, catalog(), 6_144).unwrap();
        prop_assert!(quarantine.edits.is_empty());
        prop_assert_eq!(quarantine.policy, policy.into_owned());
    }

    /// IAM's size ignores white space wherever it is: laying a document out, or padding a
    /// string with spaces, changes nothing.
    #[test]
    fn size_ignores_white_space_in_the_layout_and_in_strings(json in policy_json(), pad in 1usize..300) {
        let with_prefix = |prefix: &str| {
            let mut document: Value = serde_json::from_str(&json).unwrap();
            for statement in document["Statement"].as_array_mut().unwrap() {
                statement["Condition"] = json!({"StringLike": {"s3:prefix": prefix}});
            }
            document
        };
        let size_of = |text: &str| Policy::parse(text).unwrap().size();
        let bare = with_prefix("team/");
        let padded = with_prefix(&format!("team{}/", " ".repeat(pad)));
        let size = size_of(&bare.to_string());
        prop_assert_eq!(size_of(&padded.to_string()), size);
        prop_assert_eq!(size_of(&serde_json::to_string_pretty(&padded).unwrap()), size);
    }

    #[test]
    fn any_text_parses_or_fails_with_an_error(text in any::<String>()) {
        if let Ok(json) = decode(&text) {
            let _ = Policy::parse(&json);
        }
    }

    #[test]
    fn any_json_shaped_text_parses_or_fails_with_an_error(text in r#"\{("(Version|Statement|Effect|Action|NotAction|Resource|Condition|Sid)"|[\[\]{}:,"*a-z0-9 ])*"#) {
        if let Ok(json) = decode(&text) {
            let _ = Policy::parse(&json);
        }
    }
}
