//! The grants in force in an account, under the rules: for each user and role, which restricted
//! patterns it can perform count under an enforce rule, which under an alert rule only, and which
//! an exemption covers. The account sweep and `iam-sentinel scan --rules` both classify with
//! this code, so they give the same verdicts.
//!
//! The account is analysed once per mode with no exemption applied ([`Rules::unexempted`]: each
//! document is parsed once), then each statement that grants a principal a pattern is judged on
//! its own ([`Rules::cover`]), in the context of that principal's ARN (through a group, the
//! group's too: [`principal_arn`]), the statement's managed policy (its ARN and path; none for
//! an inline policy) and its Sid. Nobody made the grant, so an exemption that names an `actor`
//! never covers one. A grant is exempt when an exemption covers every statement granting it;
//! otherwise it counts, through the statements no exemption covers. A pattern the principal has
//! under an enforce rule is not alerted again.

use serde::Serialize;
use time::Date;

use crate::access::{
    AccessAnalyser, DocumentError, GrantingStatement, PolicySource, PrincipalKind,
    PrincipalPolicies, PrincipalRef, RemovedGrant,
};
use crate::catalog::Catalog;
use crate::rules::{Context, Cover, Covering, Mode, Rules};

/// One user's or role's grants under the rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Classified {
    pub principal: PrincipalRef,
    /// Patterns of enforce rules it can perform through a statement no exemption covers.
    pub enforced: Vec<RuledGrant>,
    /// Patterns of alert rules (and of no enforce rule it is held under) likewise.
    pub alerted: Vec<RuledGrant>,
    /// Patterns every granting statement of which an exemption covers.
    pub exempted: Vec<RuledGrant>,
    /// Patterns some statement grants but a `Deny` or the boundary removes.
    pub removed: Vec<RemovedGrant>,
}

/// A pattern the principal can perform, under the rules of one mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuledGrant {
    pub pattern: String,
    pub mode: Mode,
    /// Known actions matching the pattern the principal can perform, through any statement.
    pub known_action_count: usize,
    /// The statements that grant it and count (none when the grant is exempt).
    pub via: Vec<GrantingStatement>,
    /// The statements that grant it and an active exemption covers.
    pub exempted: Vec<CoveredStatement>,
    /// Statements of `via` that exemptions covered until they expired.
    pub expired: Vec<CoveredStatement>,
}

/// A statement's grant, and the exemptions that cover it (or, expired, did).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoveredStatement {
    #[serde(flatten)]
    pub statement: GrantingStatement,
    pub by: Vec<Covering>,
}

/// `arn:aws:iam::<account>:<user|role|group>/<name>`: a principal as exemptions name it, as the
/// deciding functions build it from an event (IAM names are unique in an account whatever the
/// path, so the path is left out).
pub fn principal_arn(account: &str, principal: &PrincipalRef) -> String {
    format!(
        "arn:aws:iam::{account}:{}/{}",
        principal.kind, principal.name
    )
}

/// Classifies principals of one account under the rules, on one day. Each document is parsed
/// and analysed once per mode, however many principals it is in force for.
pub struct Classifier<'r> {
    rules: &'r Rules,
    account: String,
    today: Date,
    analysers: Vec<(Mode, AccessAnalyser<'r>)>,
}

impl<'r> Classifier<'r> {
    /// `account`: the account's ID, for the principals' ARNs; `today`: the day (UTC) exemptions
    /// are judged on.
    pub fn new(rules: &'r Rules, account: &str, today: Date, catalog: &'r Catalog) -> Self {
        let analysers = [Mode::Enforce, Mode::Alert]
            .into_iter()
            .filter_map(|mode| {
                let set = rules.unexempted(mode)?;
                Some((mode, AccessAnalyser::owning(set, catalog)))
            })
            .collect();
        Classifier {
            rules,
            account: account.to_owned(),
            today,
            analysers,
        }
    }

    /// One principal's grants under the rules; an error names a document that does not parse.
    pub fn classify(&mut self, principal: &PrincipalPolicies) -> Result<Classified, DocumentError> {
        let mut accesses = Vec::with_capacity(self.analysers.len());
        for (mode, analyser) in &mut self.analysers {
            accesses.push((*mode, analyser.effective_access(principal)?));
        }
        let arn = principal_arn(&self.account, &principal.principal);
        let mut classified = Classified {
            principal: principal.principal.clone(),
            enforced: Vec::new(),
            alerted: Vec::new(),
            exempted: Vec::new(),
            removed: Vec::new(),
        };
        for (mode, access) in accesses {
            for grant in access.grants {
                if mode == Mode::Alert
                    && classified
                        .enforced
                        .iter()
                        .any(|g| g.pattern.eq_ignore_ascii_case(&grant.pattern))
                {
                    continue;
                }
                let mut ruled = RuledGrant {
                    pattern: grant.pattern,
                    mode,
                    known_action_count: grant.known_action_count,
                    via: Vec::new(),
                    exempted: Vec::new(),
                    expired: Vec::new(),
                };
                for via in grant.via {
                    let cover = self.cover(mode, &ruled.pattern, &via, &arn);
                    if cover.exempt() {
                        ruled.exempted.push(CoveredStatement {
                            statement: via,
                            by: cover.active,
                        });
                        continue;
                    }
                    if !cover.expired.is_empty() {
                        ruled.expired.push(CoveredStatement {
                            statement: via.clone(),
                            by: cover.expired,
                        });
                    }
                    ruled.via.push(via);
                }
                let list = match (ruled.via.is_empty(), mode) {
                    (true, _) => &mut classified.exempted,
                    (false, Mode::Enforce) => &mut classified.enforced,
                    (false, _) => &mut classified.alerted,
                };
                list.push(ruled);
            }
            for removed in access.removed {
                if !classified.removed.contains(&removed) {
                    classified.removed.push(removed);
                }
            }
        }
        Ok(classified)
    }

    /// What the exemptions say of one statement's grant to the principal `arn`: covered on the
    /// principal, or (through a group) on the group.
    fn cover(&self, mode: Mode, pattern: &str, via: &GrantingStatement, arn: &str) -> Cover {
        // `#<index>` stands for a statement without a Sid (a Sid is letters and digits only).
        let sid = (!via.statement.starts_with('#')).then_some(via.statement.as_str());
        let policy = match &via.source {
            PolicySource::Managed { policy_arn, .. } => Some(policy_arn.as_str()),
            PolicySource::Inline { .. } => None,
        };
        let on = |principal: &str| {
            let context = Context {
                actor: Vec::new(),
                principal: Some(principal),
                policy,
            };
            self.rules.cover(mode, pattern, sid, &context, self.today)
        };
        let mut cover = on(arn);
        if let (false, Some(group)) = (cover.exempt(), &via.through_group) {
            let group = PrincipalRef {
                kind: PrincipalKind::Group,
                name: group.clone(),
            };
            let on_group = on(&principal_arn(&self.account, &group));
            if on_group.exempt() {
                return on_group;
            }
            for expired in on_group.expired {
                // A Sid or policy exemption matches on the principal and the group alike.
                if !cover.expired.contains(&expired) {
                    cover.expired.push(expired);
                }
            }
        }
        cover
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;
    use crate::account::AuthorizationDetails;

    const TODAY: Date = date!(2026 - 12 - 02);

    /// `s3:DeleteBucket` enforced and alerted, `s3:DeleteObject` alerted, with `exemptions`.
    fn rules(exemptions: &str) -> Rules {
        let text = format!(
            r#"version = 1
[[rule]]
name = "buckets"
mode = "enforce"
actions = ["s3:DeleteBucket"]
[[rule]]
name = "deletes"
mode = "alert"
actions = ["s3:DeleteBucket", "s3:DeleteObject"]
{exemptions}"#
        );
        Rules::parse(&text, Catalog::embedded()).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The user `ana` of the group `ops` (inline `Cleanup`, Sid `Purge`) with the managed policy
    /// `/platform/Deploy` (Sid `DeployBuckets`) and an inline policy of her own (no Sid), each
    /// granting `s3:DeleteBucket`; `ops` also grants `s3:DeleteObject`.
    fn ana() -> PrincipalPolicies {
        let statement = |sid: Option<&str>, actions: &[&str]| {
            let mut s = json!({"Effect": "Allow", "Action": actions, "Resource": "*"});
            if let Some(sid) = sid {
                s["Sid"] = json!(sid);
            }
            json!({"Version": "2012-10-17", "Statement": [s]})
        };
        let deploy = "arn:aws:iam::123456789012:policy/platform/Deploy";
        let details = json!({
            "UserDetailList": [{
                "UserName": "ana", "Arn": "arn:aws:iam::123456789012:user/staff/ana",
                "GroupList": ["ops"],
                "UserPolicyList": [{"PolicyName": "Own", "PolicyDocument": statement(None, &["s3:DeleteBucket"])}],
                "AttachedManagedPolicies": [{"PolicyName": "Deploy", "PolicyArn": deploy}]
            }],
            "GroupDetailList": [{
                "GroupName": "ops", "Arn": "arn:aws:iam::123456789012:group/ops",
                "GroupPolicyList": [{"PolicyName": "Cleanup", "PolicyDocument": statement(Some("Purge"), &["s3:DeleteBucket", "s3:DeleteObject"])}]
            }],
            "Policies": [{
                "PolicyName": "Deploy", "Arn": deploy, "Path": "/platform/", "DefaultVersionId": "v1",
                "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                    "Document": statement(Some("DeployBuckets"), &["s3:DeleteBucket"])}]
            }]
        });
        let details = AuthorizationDetails::from_json(&details.to_string()).unwrap();
        details.principals().unwrap().remove(0)
    }

    /// Each grant as `mode pattern: counting statements [exempted statement by exemption, ...]
    /// [expired ...]`, in the lists' order: enforced, alerted, exempted.
    fn lines(classified: &Classified) -> Vec<String> {
        let name = |s: &GrantingStatement| match &s.source {
            PolicySource::Managed { .. } => format!("Deploy/{}", s.statement),
            PolicySource::Inline { policy_name, .. } => format!("{policy_name}/{}", s.statement),
        };
        let covered = |list: &[CoveredStatement]| -> Vec<String> {
            list.iter()
                .flat_map(|c| {
                    c.by.iter()
                        .map(move |b| format!("{} by {}", name(&c.statement), b.exemption.name))
                })
                .collect()
        };
        let listed = [
            ("enforced", &classified.enforced),
            ("alerted", &classified.alerted),
            ("exempted", &classified.exempted),
        ];
        listed
            .into_iter()
            .flat_map(|(list, grants)| {
                grants.iter().map(move |g| {
                    let via: Vec<String> = g.via.iter().map(name).collect();
                    format!(
                        "{list} {} {}: {via:?} exempted {:?} expired {:?}",
                        g.mode,
                        g.pattern,
                        covered(&g.exempted),
                        covered(&g.expired)
                    )
                })
            })
            .collect()
    }

    fn exemption(name: &str, expires: &str, selectors: &str) -> String {
        format!(
            "[[exemption]]\nname = \"{name}\"\nreason = \"r\"\nowner = \"o\"\nexpires = {expires}\n{selectors}\n"
        )
    }

    #[test]
    fn each_grant_in_force_is_enforced_alerted_or_exempted_statement_by_statement() {
        let later = "2027-01-31";
        let cases: Vec<(&str, String, Vec<&str>)> = vec![
            (
                "no exemption: enforced, and alerted only where no enforce rule names it",
                String::new(),
                vec![
                    r#"enforced enforce s3:DeleteBucket: ["Own/#0", "Deploy/DeployBuckets", "Cleanup/Purge"] exempted [] expired []"#,
                    r#"alerted alert s3:DeleteObject: ["Cleanup/Purge"] exempted [] expired []"#,
                ],
            ),
            (
                "her ARN has no path; every statement covered: exempt, for each mode's rules",
                exemption("ana", later, r#"principal = "arn:aws:iam::*:user/ana""#),
                vec![
                    r#"exempted enforce s3:DeleteBucket: [] exempted ["Own/#0 by ana", "Deploy/DeployBuckets by ana", "Cleanup/Purge by ana"] expired []"#,
                    // No longer enforced, the pattern is alerted, and exempt there too.
                    r#"exempted alert s3:DeleteBucket: [] exempted ["Own/#0 by ana", "Deploy/DeployBuckets by ana", "Cleanup/Purge by ana"] expired []"#,
                    r#"exempted alert s3:DeleteObject: [] exempted ["Cleanup/Purge by ana"] expired []"#,
                ],
            ),
            (
                "a group, a policy path and a Sid cover their statements; the rest counts",
                exemption("ops", later, r#"principal = "arn:aws:iam::*:group/ops""#)
                    + &exemption("platform", later, "policy_path = \"/platform/*\"")
                    + &exemption("own", later, "sid = \"Own*\""),
                vec![
                    r#"enforced enforce s3:DeleteBucket: ["Own/#0"] exempted ["Deploy/DeployBuckets by platform", "Cleanup/Purge by ops"] expired []"#,
                    r#"exempted alert s3:DeleteObject: [] exempted ["Cleanup/Purge by ops"] expired []"#,
                ],
            ),
            (
                "an exemption of one rule leaves the other rule's grant; an expired one is named",
                exemption(
                    "deploy",
                    later,
                    "policy = \"arn:aws:iam::*:policy/platform/Deploy\"\nrules = [\"deletes\"]",
                ) + &exemption("old", "2026-12-01", r#"sid = "Purge""#),
                vec![
                    r#"enforced enforce s3:DeleteBucket: ["Own/#0", "Deploy/DeployBuckets", "Cleanup/Purge"] exempted [] expired ["Cleanup/Purge by old"]"#,
                    r#"alerted alert s3:DeleteObject: ["Cleanup/Purge"] exempted [] expired ["Cleanup/Purge by old"]"#,
                ],
            ),
            (
                "an actor exemption covers nothing in force: nobody is making a change",
                exemption("ci", later, r#"actor = "arn:aws:iam::*:user/ana""#),
                vec![
                    r#"enforced enforce s3:DeleteBucket: ["Own/#0", "Deploy/DeployBuckets", "Cleanup/Purge"] exempted [] expired []"#,
                    r#"alerted alert s3:DeleteObject: ["Cleanup/Purge"] exempted [] expired []"#,
                ],
            ),
        ];
        let ana = ana();
        for (case, exemptions, expected) in cases {
            let rules = rules(&exemptions);
            let mut classifier =
                Classifier::new(&rules, "123456789012", TODAY, Catalog::embedded());
            let classified = classifier.classify(&ana).unwrap();
            assert_eq!(lines(&classified), expected, "{case}");
            assert!(classified.removed.is_empty(), "{case}");
        }
    }

    #[test]
    fn a_principal_is_named_by_kind_and_name_without_its_path() {
        let role = PrincipalRef {
            kind: PrincipalKind::Role,
            name: "deploy".into(),
        };
        assert_eq!(
            principal_arn("123456789012", &role),
            "arn:aws:iam::123456789012:role/deploy"
        );
    }
}
