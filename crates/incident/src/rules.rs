//! The rules file as an incident meets it: what its exemptions match a change on, and what an
//! outcome carries about the rules beyond the quarantined grants (grants alerted, grants an
//! exemption covered, exemptions that expired).

use policy_engine::Finding;
use policy_engine::document::SidLabel;
use policy_engine::rules::{Context, Covering, ExemptedGrant, ExemptionRef, Mode, Rules};
use serde::{Deserialize, Serialize};

use crate::event::{PolicyChange, Principal, PrincipalKind, Target};
use crate::record::{AddedGrant, carried, carried_findings};

/// What the exemptions of the rules file match a change on (`policy_engine::rules::Context`),
/// owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeContext {
    /// Who made the change: its ARN, and the role behind an assumed-role session.
    pub actor: Vec<String>,
    /// `arn:aws:iam::<account>:<user|role|group>/<name>`: IAM names are unique in an account
    /// whatever the path.
    pub principal: Option<String>,
    /// The managed policy's ARN.
    pub policy: Option<String>,
}

impl ChangeContext {
    pub fn of(change: &PolicyChange) -> ChangeContext {
        let actor = [&change.actor.arn, &change.actor.session_issuer_arn]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        ChangeContext {
            actor,
            ..ChangeContext::of_target(&change.account, &change.target)
        }
    }

    /// The context of a grant on `target` that no known actor made (the account sweep's).
    pub fn of_target(account: &str, target: &Target) -> ChangeContext {
        let principal = match target {
            Target::InlinePolicy { principal, .. }
            | Target::Attachment { principal, .. }
            | Target::PermissionsBoundary { principal } => Some(principal.clone()),
            Target::GroupMembership { user, .. } => Some(Principal {
                kind: PrincipalKind::User,
                name: user.clone(),
            }),
            Target::TrustPolicy { role_name } => Some(Principal {
                kind: PrincipalKind::Role,
                name: role_name.clone(),
            }),
            Target::ManagedPolicy { .. } => None,
        };
        let policy = match target {
            Target::ManagedPolicy { policy_arn } | Target::Attachment { policy_arn, .. } => {
                Some(policy_arn.clone())
            }
            _ => None,
        };
        ChangeContext {
            actor: Vec::new(),
            principal: principal.map(|p| p.arn(account)),
            policy,
        }
    }

    pub fn context(&self) -> Context<'_> {
        Context {
            actor: self.actor.iter().map(String::as_str).collect(),
            principal: self.principal.as_deref(),
            policy: self.policy.as_deref(),
        }
    }
}

/// What a change's record says about the rules beyond the grants it quarantines: each list cut
/// short for the state as `carried_findings` does (`omitted_*` counts what was left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RulesReport {
    /// Grants of rules in alert mode: notified and published, never written to IAM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerted: Vec<Finding>,
    /// For a grant path (a membership, a boundary): the alert-mode patterns it adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerted_grants: Vec<AddedGrant>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_alerts: usize,
    /// Grants an exemption covers: neither quarantined nor alerted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<ExemptedGrant>,
    /// Grants an exemption covered until it expired: quarantined or alerted again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired: Vec<ExemptedGrant>,
    /// For a grant path: the patterns it adds only without the exemptions, each with one that
    /// covers it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempted_patterns: Vec<ExemptedPattern>,
    /// For a grant path: the patterns it adds that an expired exemption covered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expired_patterns: Vec<ExemptedPattern>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_exemptions: usize,
}

/// A restricted pattern a grant path (a membership, a boundary) adds, and the exemption that
/// covers it (or covered it until it expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptedPattern {
    pub pattern: String,
    pub rule: String,
    pub exemption: ExemptionRef,
}

/// What the exemptions did on a grant path under `mode`'s rules: `without` is what the path adds
/// with no exemption applied (`Rules::unexempted`), `with` what it adds with them
/// (`Rules::restricted`). A pattern only in `without` is named with the exemptions that cover
/// it; one in `with` with those that covered it until they expired. The statements' Sids are
/// not known here: an exemption that names a Sid is not named (the grant still counts or not as
/// the quarantine set says).
pub fn path_exemptions(
    rules: &Rules,
    mode: Mode,
    context: &Context<'_>,
    today: time::Date,
    without: &[AddedGrant],
    with: &[AddedGrant],
) -> (Vec<ExemptedPattern>, Vec<ExemptedPattern>) {
    let named = |pattern: &str, covers: Vec<Covering>| {
        covers
            .into_iter()
            .map(|Covering { rule, exemption }| ExemptedPattern {
                pattern: pattern.to_owned(),
                rule,
                exemption,
            })
            .collect::<Vec<_>>()
    };
    let counted = |pattern: &str| with.iter().any(|g| g.pattern.eq_ignore_ascii_case(pattern));
    let mut exempted = Vec::new();
    let mut expired = Vec::new();
    for grant in without {
        let cover = rules.cover(mode, &grant.pattern, None, context, today);
        if counted(&grant.pattern) {
            expired.extend(named(&grant.pattern, cover.expired));
        } else {
            exempted.extend(named(&grant.pattern, cover.active));
        }
    }
    (exempted, expired)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RulesReport {
    /// The report as the state carries it.
    pub fn carried(
        alerted: Vec<Finding>,
        alerted_grants: Vec<AddedGrant>,
        exempted: Vec<ExemptedGrant>,
        expired: Vec<ExemptedGrant>,
    ) -> RulesReport {
        let (alerted, omitted_findings) = carried_findings(alerted);
        let (alerted_grants, omitted_grants) = carried(alerted_grants);
        let (exempted, omitted_exempted) = carried(exempted);
        let (expired, omitted_expired) = carried(expired);
        RulesReport {
            alerted,
            alerted_grants,
            omitted_alerts: omitted_findings + omitted_grants.len(),
            exempted,
            expired,
            exempted_patterns: Vec::new(),
            expired_patterns: Vec::new(),
            omitted_exemptions: omitted_exempted.len() + omitted_expired.len(),
        }
    }

    /// The report with a grant path's exemptions (`path_exemptions`), as the state carries them.
    pub fn with_path_exemptions(
        mut self,
        (exempted, expired): (Vec<ExemptedPattern>, Vec<ExemptedPattern>),
    ) -> RulesReport {
        let (exempted, omitted_exempted) = carried(exempted);
        let (expired, omitted_expired) = carried(expired);
        self.exempted_patterns.extend(exempted);
        self.expired_patterns.extend(expired);
        self.omitted_exemptions += omitted_exempted.len() + omitted_expired.len();
        self
    }

    /// True when an exemption let a grant through.
    pub fn exempts(&self) -> bool {
        !self.exempted.is_empty() || !self.exempted_patterns.is_empty()
    }

    /// True when the rules found a grant alerted, exempted or expired.
    pub fn is_empty(&self) -> bool {
        self.alerted.is_empty()
            && self.alerted_grants.is_empty()
            && self.exempted.is_empty()
            && self.expired.is_empty()
            && self.exempted_patterns.is_empty()
            && self.expired_patterns.is_empty()
            && self.omitted_alerts == 0
            && self.omitted_exemptions == 0
    }

    /// True when there are alert-mode grants.
    pub fn alerts(&self) -> bool {
        !self.alerted.is_empty() || !self.alerted_grants.is_empty() || self.omitted_alerts > 0
    }

    /// The report's sections of an email: alerted grants, exemptions applied, exemptions
    /// expired (empty when there is nothing to say).
    pub fn section(&self) -> String {
        let mut section = String::new();
        if self.alerts() {
            section += "\nRestricted actions granted, alert mode (notified only: nothing was written to IAM)\n";
            section += &crate::notification::listed(
                crate::notification::grant_lines(&self.alerted)
                    .into_iter()
                    .chain(self.alerted_grants.iter().map(ToString::to_string)),
            );
            if self.omitted_alerts > 0 {
                section += &format!("  ({} more, not listed here)\n", self.omitted_alerts);
            }
        }
        if self.exempts() {
            section += "\nExempted by the rules file (not quarantined, not alerted)\n";
            section += &crate::notification::listed(
                self.exempted
                    .iter()
                    .map(|g| (grant_text(g), &g.exemption))
                    .chain(
                        self.exempted_patterns
                            .iter()
                            .map(|p| (pattern_text(p), &p.exemption)),
                    )
                    .map(|(grant, exemption)| format!("{grant} - {exemption}")),
            );
        }
        if !self.expired.is_empty() || !self.expired_patterns.is_empty() {
            section += "\nExpired exemptions (they no longer apply: these grants count again)\n";
            section += &crate::notification::listed(
                self.expired
                    .iter()
                    .map(|g| (grant_text(g), &g.exemption))
                    .chain(
                        self.expired_patterns
                            .iter()
                            .map(|p| (pattern_text(p), &p.exemption)),
                    )
                    .map(|(grant, e)| {
                        format!(
                            "{grant} - exemption {:?} of {} EXPIRED on {}",
                            e.name, e.owner, e.expires
                        )
                    }),
            );
        }
        if self.omitted_exemptions > 0 {
            section += &format!(
                "  ({} more exempted or expired grants, not listed here)\n",
                self.omitted_exemptions
            );
        }
        section
    }

    /// One log field per exemption touched: `name (owner, until date)`, expired ones marked.
    pub fn exemption_names(&self) -> Vec<String> {
        let active = self
            .exempted
            .iter()
            .map(|g| &g.exemption)
            .chain(self.exempted_patterns.iter().map(|p| &p.exemption))
            .map(|e| format!("{} ({}, until {})", e.name, e.owner, e.expires));
        let expired = self
            .expired
            .iter()
            .map(|g| &g.exemption)
            .chain(self.expired_patterns.iter().map(|p| &p.exemption))
            .map(|e| format!("{} ({}, EXPIRED {})", e.name, e.owner, e.expires));
        let mut names: Vec<String> = active.chain(expired).collect();
        names.sort();
        names.dedup();
        names
    }
}

fn grant_text(grant: &ExemptedGrant) -> String {
    format!(
        "statement {}{}: {} (rule {})",
        grant.statement,
        SidLabel(grant.sid.clone()),
        grant.pattern,
        grant.rule
    )
}

fn pattern_text(pattern: &ExemptedPattern) -> String {
    format!("{} (rule {})", pattern.pattern, pattern.rule)
}
