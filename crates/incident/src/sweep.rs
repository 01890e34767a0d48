//! The account sweep, decided: from every user's and role's effective access (the whole
//! account, read by the shell with GetAccountAuthorizationDetails), the rules, the decision
//! record's grant records, the stack's own roles, the baseline marker and the mode, which
//! restricted grants are in force, which are left alone (and why), which targets an incident is
//! opened for, and the summary people and tools are told.
//!
//! The rules decide each grant in force as `policy_engine::in_force` classifies it (the same
//! code as `iam-sentinel scan --rules`): enforced, alerted, or exempted, statement by
//! statement, in the context of the principal's ARN (`arn:aws:iam::<account>:<user|role>/
//! <name>`; through a group, the group's too), the statement's managed policy and its Sid. A
//! statement an exemption covers makes no target; grants of alert rules are reported and never
//! make an incident.
//!
//! One incident per document target: a customer managed policy, an inline policy, or an AWS
//! managed policy's attachment to a user, role or group (AWS managed policies cannot be
//! rewritten). A customer managed policy whose document (or one of whose attachments) was
//! approved is decided attachment by attachment: an approval covers the attachments it was
//! given for, never one made since (`Gathered::decide`). A grant a user has through a group
//! also needs the user's membership accepted: approved (restore-policy's `grant#` record of an
//! approved AddUserToGroup incident) or present at the baseline sweep; otherwise the membership
//! is a target of its own, quarantined as the event path quarantines AddUserToGroup
//! (`Membership`). An approval of a group's policy names no member, so it never covers one
//! added since.
//!
//! An incident reaches the workflow as a sweep finding event through the starter,
//! like a CloudTrail event (`finding_event`; `event::read_event` reads it), so everything after
//! is the workflow that handles events; the document is always read from IAM there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use policy_engine::account::AttachedPermissionsBoundary;
use policy_engine::in_force::Classifier;
use policy_engine::rules::Covering;
use policy_engine::rules::ExemptionRef;
use policy_engine::{
    AuthorizationDetails, Catalog, GrantingStatement, Mode, PolicySource, PrincipalPolicies,
    PrincipalRef, Rules, SourcedPolicy,
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::boundary::LedgerEntry;
use crate::decision_log::{
    GrantKey, GrantRecord, GrantStatus, boundary_key, canonical_digest, rfc3339,
};
use crate::event::{Principal, PrincipalKind, Target};
use crate::membership::group_document;
use crate::name::{IncidentName, STAMP, TargetKey};
use crate::notification::{Notification, SUBJECT_LIMIT, target_text, truncate};
use crate::own_stack::OwnRoles;

/// The EventBridge `source` and `detail-type` of a sweep finding.
pub const FINDING_SOURCE: &str = "iam-sentinel.sweep";
pub const FINDING_DETAIL_TYPE: &str = "Restricted grant in force";
/// The CloudTrail-shaped `eventSource` and `eventName` of its detail.
pub const FINDING_EVENT_SOURCE: &str = "iam-sentinel";
pub const FINDING_EVENT_NAME: &str = "SweepFinding";
/// Who a sweep finding says made the change: nobody known; the sweep found it.
pub const SWEEP_ACTOR: &str = "iam-sentinel sweep";
/// The `detail-type` of the summary event.
pub const SUMMARY_DETAIL_TYPE: &str = "IAM Sentinel Sweep Completed";
/// At most this many targets are listed in the summary's email and event (all are counted).
const LISTED_TARGETS: usize = 50;

/// What sweeps after the baseline do with a grant nobody approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepMode {
    /// Open an incident: quarantine, ask, restore on approval.
    Quarantine,
    /// Report it in the summary only.
    Report,
}

impl std::str::FromStr for SweepMode {
    type Err = String;
    fn from_str(text: &str) -> Result<SweepMode, String> {
        match text.trim() {
            "quarantine" => Ok(SweepMode::Quarantine),
            "report" => Ok(SweepMode::Report),
            other => Err(format!("{other:?} is neither quarantine nor report")),
        }
    }
}

/// The account's id, from any of its users' or roles' ARNs (`arn:aws:iam::<account>:...`);
/// empty when it has none.
pub fn account_of(details: &AuthorizationDetails) -> String {
    details
        .users
        .iter()
        .filter_map(|u| u.arn.as_deref())
        .chain(details.roles.iter().filter_map(|r| r.arn.as_deref()))
        .find_map(|arn| arn.split(':').nth(4).map(str::to_owned))
        .unwrap_or_default()
}

/// When IAM created each user, role and group, by `Principal`'s text in lower case (`user
/// alice`; IAM's names are one whatever their case): an approval recorded before the principal
/// holding a grant now was created was given to an earlier one of the same name. One whose date
/// does not read is left out (its approvals then go by name, as before the dates were read).
pub fn principals_created(details: &AuthorizationDetails) -> BTreeMap<String, OffsetDateTime> {
    let created = |kind: PrincipalKind, name: &str, date: &Option<String>| {
        // Records are dated in whole seconds; so is the creation, as IAM gives it.
        let date = OffsetDateTime::parse(date.as_deref()?, &Rfc3339)
            .ok()?
            .replace_nanosecond(0)
            .ok()?;
        let principal = Principal {
            kind,
            name: name.to_owned(),
        };
        Some((creation_key(&principal), date))
    };
    let users =
        (details.users.iter()).map(|u| created(PrincipalKind::User, &u.user_name, &u.create_date));
    let roles =
        (details.roles.iter()).map(|r| created(PrincipalKind::Role, &r.role_name, &r.create_date));
    let groups = (details.groups.iter())
        .map(|g| created(PrincipalKind::Group, &g.group_name, &g.create_date));
    users.chain(roles).chain(groups).flatten().collect()
}

/// When the latest of the principals a target's grant is held by was created (none for a
/// managed policy's document): what a record of the grant must be younger than.
fn principals_since(target: &Target, context: &SweepContext) -> Option<OffsetDateTime> {
    (target.principals().iter())
        .filter_map(|p| created(p, context))
        .max()
}

/// When IAM created `principal`, as the account was read.
fn created(principal: &Principal, context: &SweepContext) -> Option<OffsetDateTime> {
    context
        .principals_created
        .get(&creation_key(principal))
        .copied()
}

/// A principal's key in `SweepContext::principals_created`.
fn creation_key(principal: &Principal) -> String {
    principal.to_string().to_lowercase()
}

/// Every user's and role's boundary (`None`: none), keyed as the boundary ledger keys them,
/// with the digest of the boundary's default document as the details hold it (`None` when they
/// do not hold the policy: the ledger then knows the boundary by name only, and a later change
/// compares with an unknown boundary).
pub fn boundaries(details: &AuthorizationDetails) -> Vec<LedgerEntry> {
    let digests: HashMap<&str, String> = details
        .policies
        .iter()
        .filter_map(|p| {
            let document = p.default_version()?.document.as_deref()?;
            Some((p.arn.as_str(), canonical_digest(document)?))
        })
        .collect();
    let entry = |key: String, boundary: &Option<AttachedPermissionsBoundary>| {
        let boundary_arn = boundary
            .as_ref()
            .map(|b| b.permissions_boundary_arn.clone());
        let document_digest = boundary_arn
            .as_deref()
            .and_then(|arn| digests.get(arn).cloned());
        LedgerEntry {
            key,
            boundary_arn,
            document_digest,
        }
    };
    let users = details.users.iter().map(|u| {
        entry(
            boundary_key(PrincipalKind::User, &u.user_name),
            &u.permissions_boundary,
        )
    });
    let roles = details.roles.iter().map(|r| {
        entry(
            boundary_key(PrincipalKind::Role, &r.role_name),
            &r.permissions_boundary,
        )
    });
    users.chain(roles).collect()
}

/// The id of the sweep started `at` by the invocation `request_id` (Lambda's, which makes it
/// unique): `sweep-<yyyymmddThhmmssZ>-<8 hex of the request id>`.
pub fn sweep_id(at: OffsetDateTime, request_id: &str) -> String {
    let stamp = at.format(STAMP).unwrap_or_default();
    let digest = Sha256::digest(request_id.as_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("sweep-{stamp}-{tag}")
}

/// One sweep's circumstances.
#[derive(Debug, Clone)]
pub struct SweepContext {
    /// `sweep-<yyyymmddThhmmssZ>-<8 hex>`: unique, and short enough that `<id>-<n>` is a
    /// usable CloudTrail-like event ID in an incident's name.
    pub sweep_id: String,
    pub at: OffsetDateTime,
    pub account: String,
    pub region: String,
    pub mode: SweepMode,
    /// No sweep has run before: report, quarantine nothing.
    pub baseline: bool,
    /// The group memberships the baseline sweep found a restricted grant through (their
    /// `TargetKey`s, as `sweep#baseline` records them): accepted as they were, for the user
    /// and the group that were in IAM when it read the account (`baseline_at`).
    pub baseline_memberships: BTreeSet<String>,
    /// When the baseline sweep read the account (`None`: its marker does not say; its
    /// memberships are then accepted by name).
    pub baseline_at: Option<OffsetDateTime>,
    /// How long a `deciding` claim holds (`decision_log::claim_lifetime`).
    pub claim_lifetime: Duration,
    /// When each user, role and group was created (`principals_created`).
    pub principals_created: BTreeMap<String, OffsetDateTime>,
}

/// What happens to a grant in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Approved before (restored after a proven approval) for exactly this document, and for
    /// a customer managed policy on every attachment in force; a group membership: approved
    /// for the user in that group.
    Approved,
    /// A group membership the baseline sweep found: accepted, left alone.
    AtBaseline,
    /// An incident about it may still be waiting for a decision.
    Deciding,
    /// Only iam-sentinel's own roles hold it: reported, never quarantined.
    OwnRole,
    /// Only service-linked roles hold it (AWS manages them): reported, never quarantined.
    ServiceLinkedRole,
    /// The baseline sweep reports everything and quarantines nothing.
    Baseline,
    /// `SweepMode::Report`.
    Reported,
    /// Only alert rules restrict what it grants: reported, never quarantined.
    Alerted,
    /// An incident is opened (unless another sweep has just claimed it).
    Incident,
}

/// One document target that grants a restricted pattern to at least one principal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetFinding {
    pub target: Target,
    #[serde(skip)]
    pub grant: GrantKey,
    /// For a customer managed policy: the default version read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Patterns of enforced rules it grants.
    pub patterns: BTreeSet<String>,
    /// Patterns of alert rules it grants (and no enforced rule names): reported only.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub alerted: BTreeSet<String>,
    /// `user alice`, `role DataPlatform`, ...: who can perform them through it.
    pub principals: BTreeSet<String>,
    pub disposition: Disposition,
    /// The incident's execution name, when one is to be opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// The sweep finding event for the starter, when one is to be opened.
    #[serde(skip)]
    pub event: Option<Value>,
    /// When the latest of its principals was created: a record of the grant written before
    /// then was for an earlier principal of the same name, and does not hold its claim off.
    #[serde(skip)]
    pub principals_since: Option<OffsetDateTime>,
}

/// What was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Examined {
    pub users: usize,
    pub roles: usize,
    pub groups: usize,
    pub policies: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepPlan {
    pub targets: Vec<TargetFinding>,
    /// Users and roles that can perform at least one pattern of an enforced or alert rule.
    pub principals_with_grants: usize,
    /// (principal, pattern of an enforced rule) pairs in force.
    pub grants_found: usize,
    /// (principal, pattern of an alert rule) pairs in force.
    pub alerts_found: usize,
    /// (principal, pattern) pairs every granting statement of which an exemption covers.
    pub grants_exempted: usize,
    /// Each exemption that covered a statement's grant, with what it covered.
    pub exempted: Vec<ExemptionUse>,
    /// Each expired exemption that would have covered a grant that now counts.
    pub expired: Vec<ExemptionUse>,
    /// Principals whose policies could not all be read or resolved: their verdict may be
    /// incomplete (named, never silently dropped).
    pub incomplete: Vec<String>,
    /// The `TargetKey` of every group membership a restricted grant reaches a user through:
    /// what a baseline sweep records as accepted.
    pub memberships: BTreeSet<String>,
}

/// An exemption, and the statements' grants it covered (or, expired, would have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptionUse {
    pub exemption: ExemptionRef,
    pub rules: BTreeSet<String>,
    pub patterns: BTreeSet<String>,
    /// `user "alice"`, ...
    pub principals: BTreeSet<String>,
    /// `managed policy <arn> (v2) statement <Sid or #index>`, ...
    pub statements: BTreeSet<String>,
    /// (principal, pattern) grants it covered, through one or more of the statements.
    pub grants: usize,
}

/// Decides the sweep. Pure: the account, the rules, the records and the clock come in as
/// values.
pub fn plan_sweep(
    principals: &[PrincipalPolicies],
    rules: &Rules,
    catalog: &Catalog,
    grants: &HashMap<GrantKey, GrantRecord>,
    own_roles: &OwnRoles,
    context: &SweepContext,
) -> SweepPlan {
    let today = context.at.to_offset(time::UtcOffset::UTC).date();
    let mut classifier = Classifier::new(rules, &context.account, today, catalog);
    let mut targets: BTreeMap<String, Gathered> = BTreeMap::new();
    let mut memberships: BTreeMap<String, Membership> = BTreeMap::new();
    let (mut principals_with_grants, mut grants_found, mut alerts_found) = (0, 0, 0);
    let mut grants_exempted = 0;
    let (mut exempted, mut expired) = (Uses::default(), Uses::default());
    let mut incomplete = Vec::new();
    for principal in principals {
        let classified = match classifier.classify(principal) {
            Ok(classified) => classified,
            Err(error) => {
                incomplete.push(format!("{}: {error}", principal.principal));
                continue;
            }
        };
        if !principal.unresolved.is_empty() {
            let unresolved: Vec<String> =
                principal.unresolved.iter().map(|u| u.to_string()).collect();
            incomplete.push(format!(
                "{}: not read: {}",
                principal.principal,
                unresolved.join(", ")
            ));
        }
        let holder = Holder::of(principal, own_roles);
        let all = classified
            .enforced
            .iter()
            .chain(&classified.alerted)
            .chain(&classified.exempted);
        for grant in all {
            let used = |via| Used {
                principal: &principal.principal,
                pattern: &grant.pattern,
                via,
            };
            for covered in &grant.exempted {
                exempted.add(&covered.by, &used(&covered.statement));
            }
            for covered in &grant.expired {
                expired.add(&covered.by, &used(&covered.statement));
            }
            for via in &grant.via {
                let add = |gathered: &mut Gathered| {
                    if grant.mode == Mode::Enforce {
                        gathered.patterns.insert(grant.pattern.clone());
                        gathered.holders.push(holder);
                    } else {
                        gathered.alerted.insert(grant.pattern.clone());
                    }
                };
                if let Err(problem) = gather(&mut targets, &mut memberships, principal, via, add) {
                    incomplete.push(problem);
                }
            }
        }
        grants_found += classified.enforced.len();
        alerts_found += classified.alerted.len();
        grants_exempted += classified.exempted.len();
        if !(classified.enforced.is_empty() && classified.alerted.is_empty()) {
            principals_with_grants += 1;
        }
    }
    let grants = &covered_by_memberships(grants, memberships.values(), context);
    let documents: Vec<(Gathered, Disposition)> = targets
        .into_values()
        .flat_map(|gathered| gathered.decide(grants, context))
        .collect();
    // A membership waits while a document (or its attachment to the group) it has its grants
    // through is being quarantined: that quarantine takes the grant from every member, and
    // changes what the membership would be.
    let taken: BTreeSet<String> = documents
        .iter()
        .filter(|(_, d)| matches!(d, Disposition::Incident | Disposition::Deciding))
        .map(|(gathered, _)| gathered.grant.item_key())
        .collect();
    let membership_keys = memberships
        .values()
        .map(|m| m.gathered.grant.target.clone())
        .collect();
    let asked = memberships
        .into_values()
        .filter(|m| m.documents.is_disjoint(&taken))
        .map(|membership| {
            let disposition = membership.disposition(grants, context);
            (membership.gathered, disposition)
        });
    let mut n = 0;
    let targets = documents
        .into_iter()
        .chain(asked)
        .map(|(gathered, disposition)| {
            let (incident, event) = if disposition == Disposition::Incident {
                n += 1;
                let event =
                    finding_event(&gathered.target, gathered.version_id.as_deref(), context, n);
                (Some(IncidentName::of(&event).to_string()), Some(event))
            } else {
                (None, None)
            };
            TargetFinding {
                principals_since: principals_since(&gathered.target, context),
                target: gathered.target,
                grant: gathered.grant,
                version_id: gathered.version_id,
                patterns: gathered.patterns,
                alerted: gathered.alerted,
                principals: gathered.principals,
                disposition,
                incident,
                event,
            }
        })
        .collect();
    SweepPlan {
        targets,
        principals_with_grants,
        grants_found,
        alerts_found,
        grants_exempted,
        exempted: exempted.into_list(),
        expired: expired.into_list(),
        incomplete,
        memberships: membership_keys,
    }
}

/// One statement's grant of a pattern to a principal.
struct Used<'u> {
    principal: &'u PrincipalRef,
    pattern: &'u str,
    via: &'u GrantingStatement,
}

/// Exemption uses by the exemption's name, and the (exemption, principal, pattern) grants
/// counted.
#[derive(Default)]
struct Uses(
    BTreeMap<String, ExemptionUse>,
    BTreeSet<(String, String, String)>,
);

impl Uses {
    fn add(&mut self, exemptions: &[Covering], used: &Used<'_>) {
        for Covering { rule, exemption } in exemptions {
            let entry = self
                .0
                .entry(exemption.name.clone())
                .or_insert_with(|| ExemptionUse {
                    exemption: exemption.clone(),
                    rules: BTreeSet::new(),
                    patterns: BTreeSet::new(),
                    principals: BTreeSet::new(),
                    statements: BTreeSet::new(),
                    grants: 0,
                });
            entry.rules.insert(rule.clone());
            entry.patterns.insert(used.pattern.to_owned());
            entry.principals.insert(used.principal.to_string());
            entry.statements.insert(format!(
                "{} statement {}",
                used.via.source, used.via.statement
            ));
            // One grant per principal and pattern, however many statements and rules.
            if self.1.insert((
                exemption.name.clone(),
                used.principal.to_string(),
                used.pattern.to_owned(),
            )) {
                entry.grants += 1;
            }
        }
    }

    fn into_list(self) -> Vec<ExemptionUse> {
        self.0.into_values().collect()
    }
}

/// Adds a statement's grant to its document target (and, for a customer managed policy, to the
/// attachment it reaches the principal through) and, through a group, to the user's membership
/// of it, through `add`; an error names a document that is not JSON.
fn gather(
    targets: &mut BTreeMap<String, Gathered>,
    memberships: &mut BTreeMap<String, Membership>,
    principal: &PrincipalPolicies,
    via: &GrantingStatement,
    add: impl Fn(&mut Gathered),
) -> Result<(), String> {
    let Some(document) = principal
        .identity
        .iter()
        .find(|p| p.source == via.source && p.through_group == via.through_group)
        .map(|p| &p.document)
    else {
        return Ok(());
    };
    let owner = match &via.through_group {
        Some(group) => Principal {
            kind: PrincipalKind::Group,
            name: group.clone(),
        },
        None => principal_of(&principal.principal),
    };
    let (target, version_id, attachment) = target_of(&via.source, owner);
    let Some(key) = GrantKey::of(&target, document) else {
        return Err(format!(
            "{}: {} is not JSON",
            principal.principal, via.source
        ));
    };
    let document_target = TargetKey::canonical(&target);
    let gathered = targets
        .entry(key.item_key())
        .or_insert_with(|| Gathered::new(target, key, version_id));
    gathered.principals.insert(principal.principal.to_string());
    let document_key = (gathered.grant.clone(), document_target);
    let attachment_key = attachment.map(|attachment| {
        let attachment_key = gathered.grant.on(&attachment);
        let attachment_target = TargetKey::canonical(&attachment);
        let part = gathered
            .attachments
            .entry(attachment_key.item_key())
            .or_insert_with(|| Gathered::new(attachment, attachment_key.clone(), None));
        part.principals.insert(principal.principal.to_string());
        add(part);
        (attachment_key, attachment_target)
    });
    add(gathered);
    if let Some(group) = &via.through_group {
        let membership = memberships
            .entry(format!("{}\n{group}", principal.principal.name))
            .or_insert_with(|| Membership::of(principal, group));
        membership.documents.insert(document_key.0.item_key());
        // On the group itself: the document's own target, or a managed policy's attachment.
        let (on_group, on_group_target) = attachment_key.unwrap_or(document_key);
        membership.documents.insert(on_group.item_key());
        membership.on_group.insert(on_group, on_group_target);
        add(&mut membership.gathered);
    }
    Ok(())
}

/// A user's membership of a group it has restricted grants through.
struct Membership {
    /// The `GroupMembership` target, its grant keyed as restore-policy records an approved
    /// AddUserToGroup: the group's policies as one document (`membership::group_document`).
    gathered: Gathered,
    /// The item keys of the document targets its grants come through (and, for a managed
    /// policy, of its attachment to the group).
    documents: BTreeSet<String>,
    /// Those documents' grants on the group itself, each with its target in full
    /// (`TargetKey::canonical`): an approval of the membership with the group's policies as they
    /// are now approved exactly them, on this group.
    on_group: BTreeMap<GrantKey, String>,
}

impl Membership {
    fn of(principal: &PrincipalPolicies, group: &str) -> Membership {
        let policies: Vec<SourcedPolicy> = principal
            .identity
            .iter()
            .filter(|p| p.through_group.as_deref() == Some(group))
            .cloned()
            .collect();
        let target = Target::GroupMembership {
            user: principal.principal.name.clone(),
            group: group.to_owned(),
        };
        let grant = GrantKey {
            target: TargetKey::of(&target).to_string(),
            digest: canonical_digest(&group_document(group, &policies)).unwrap_or_default(),
        };
        let mut gathered = Gathered::new(target, grant, None);
        gathered.principals.insert(principal.principal.to_string());
        Membership {
            gathered,
            documents: BTreeSet::new(),
            on_group: BTreeMap::new(),
        }
    }

    /// Approved for the user in this group (for the group's policies as they were then: what
    /// the group has since is asked about on the group), claimed, present at the baseline, or
    /// else as any grant nobody approved.
    fn disposition(
        &self,
        grants: &HashMap<GrantKey, GrantRecord>,
        context: &SweepContext,
    ) -> Disposition {
        let gathered = &self.gathered;
        if gathered.patterns.is_empty() {
            return Disposition::Alerted;
        }
        let since = principals_since(&gathered.target, context);
        let approved_before = grants.iter().any(|(key, record)| {
            key.target == gathered.grant.target
                && record.status == GrantStatus::Approved
                && record.is_for(&gathered.target, since)
        });
        match holding(grants, gathered, context) {
            Some(GrantStatus::Approved) => Disposition::Approved,
            Some(GrantStatus::Deciding) => Disposition::Deciding,
            None if approved_before => Disposition::Approved,
            None if context
                .baseline_memberships
                .contains(&gathered.grant.target)
                && since.is_none_or(|created| {
                    context
                        .baseline_at
                        .is_none_or(|baseline| created <= baseline)
                }) =>
            {
                Disposition::AtBaseline
            }
            None => unapproved(context),
        }
    }
}

/// `grants`, and as approved the grants on a group that an approved membership of it covers:
/// the approver saw the group's policies exactly as they are now.
fn covered_by_memberships<'m>(
    grants: &HashMap<GrantKey, GrantRecord>,
    memberships: impl Iterator<Item = &'m Membership>,
    context: &SweepContext,
) -> HashMap<GrantKey, GrantRecord> {
    let mut covered = grants.clone();
    for membership in memberships {
        let target = &membership.gathered.target;
        // The approver saw the group's policies: what it covers on the group holds while the
        // group is the one it was (whoever the member is now).
        let Target::GroupMembership { group, .. } = target else {
            continue;
        };
        let group = Principal {
            kind: PrincipalKind::Group,
            name: group.clone(),
        };
        let group_since = created(&group, context);
        let Some(record) = grants
            .get(&membership.gathered.grant)
            .filter(|r| r.status == GrantStatus::Approved && r.is_for(target, group_since))
        else {
            continue;
        };
        // A record of the group's policy written for an earlier group of its name holds nothing
        // here: this approval takes its place.
        for (key, on_group) in &membership.on_group {
            if covered
                .get(key)
                .is_none_or(|r| !r.is_for_written(on_group, group_since))
            {
                let record = GrantRecord {
                    target: Some(on_group.clone()),
                    ..record.clone()
                };
                covered.insert(key.clone(), record);
            }
        }
    }
    covered
}

/// The record of a gathered grant, while it holds (and was written for its target).
fn holding(
    grants: &HashMap<GrantKey, GrantRecord>,
    gathered: &Gathered,
    context: &SweepContext,
) -> Option<GrantStatus> {
    grants
        .get(&gathered.grant)
        .filter(|record| {
            record.is_for(
                &gathered.target,
                principals_since(&gathered.target, context),
            ) && record.holds(context.at, context.claim_lifetime)
        })
        .map(|record| record.status)
}

/// What becomes of a grant nobody approved and nobody is deciding.
fn unapproved(context: &SweepContext) -> Disposition {
    if context.baseline {
        Disposition::Baseline
    } else if context.mode == SweepMode::Report {
        Disposition::Reported
    } else {
        Disposition::Incident
    }
}

/// Whether a principal is one the sweep never quarantines for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    OwnRole,
    ServiceLinkedRole,
    Other,
}

impl Holder {
    fn of(principal: &PrincipalPolicies, own_roles: &OwnRoles) -> Holder {
        let role = principal.principal.kind == PrincipalKind::Role;
        if role && own_roles.contains(&principal.principal.name) {
            Holder::OwnRole
        } else if role
            && principal
                .path
                .as_deref()
                .is_some_and(|p| p.starts_with("/aws-service-role/"))
        {
            Holder::ServiceLinkedRole
        } else {
            Holder::Other
        }
    }
}

/// A target while the principals are read.
struct Gathered {
    target: Target,
    grant: GrantKey,
    version_id: Option<String>,
    patterns: BTreeSet<String>,
    alerted: BTreeSet<String>,
    principals: BTreeSet<String>,
    /// The holders of its enforced patterns.
    holders: Vec<Holder>,
    /// For a customer managed policy: its attachments to the principals (or groups) it reaches,
    /// each gathered as a target of its own (by grant item key), which is what an approved
    /// `Attach*Policy` incident, or the approval of the document, records.
    attachments: BTreeMap<String, Gathered>,
}

impl Gathered {
    fn new(target: Target, grant: GrantKey, version_id: Option<String>) -> Gathered {
        Gathered {
            target,
            grant,
            version_id,
            patterns: BTreeSet::new(),
            alerted: BTreeSet::new(),
            principals: BTreeSet::new(),
            holders: Vec::new(),
            attachments: BTreeMap::new(),
        }
    }

    /// Its findings. A customer managed policy is one finding while nothing about it was
    /// approved (or when every attachment in force was); once its document, or one of its
    /// attachments, was approved, each attachment is a finding of its own, so an attachment
    /// nobody approved (made after the approval, its event lost) is quarantined, detached as
    /// the event path detaches an `Attach*Policy`, and the approved ones are left alone. An
    /// approval of the document covers the attachments restore-policy recorded with it: one
    /// recorded before it recorded them covers none (each is asked about again: the safe side).
    fn decide(
        mut self,
        grants: &HashMap<GrantKey, GrantRecord>,
        context: &SweepContext,
    ) -> Vec<(Gathered, Disposition)> {
        let whole = self.disposition(grants, context);
        let unsettled = matches!(
            whole,
            Disposition::Approved
                | Disposition::Baseline
                | Disposition::Reported
                | Disposition::Incident
        );
        if self.attachments.is_empty() || !unsettled {
            return vec![(self, whole)];
        }
        let parts: Vec<(Gathered, Disposition)> = std::mem::take(&mut self.attachments)
            .into_values()
            .map(|part| {
                let disposition = part.disposition(grants, context);
                (part, disposition)
            })
            .collect();
        let approved = |d: &Disposition| *d == Disposition::Approved;
        let covered = |d: &Disposition| matches!(d, Disposition::Approved | Disposition::Deciding);
        if parts.iter().all(|(_, d)| approved(d)) {
            vec![(self, Disposition::Approved)]
        } else if whole != Disposition::Approved && !parts.iter().any(|(_, d)| covered(d)) {
            vec![(self, whole)]
        } else {
            parts
        }
    }

    /// Its disposition as one target.
    fn disposition(
        &self,
        grants: &HashMap<GrantKey, GrantRecord>,
        context: &SweepContext,
    ) -> Disposition {
        if self.patterns.is_empty() {
            return Disposition::Alerted;
        }
        if self.holders.iter().all(|h| *h == Holder::OwnRole) {
            return Disposition::OwnRole;
        }
        if self.holders.iter().all(|h| *h != Holder::Other) {
            return Disposition::ServiceLinkedRole;
        }
        match holding(grants, self, context) {
            Some(GrantStatus::Approved) => Disposition::Approved,
            Some(GrantStatus::Deciding) => Disposition::Deciding,
            None => unapproved(context),
        }
    }
}

fn principal_of(principal: &PrincipalRef) -> Principal {
    Principal {
        kind: principal.kind,
        name: principal.name.clone(),
    }
}

/// AWS managed policies (`arn:<partition>:iam::aws:policy/...`) cannot be rewritten: their
/// attachment is the target.
fn is_aws_managed(policy_arn: &str) -> bool {
    policy_arn.split(':').nth(4) == Some("aws")
}

/// The incident target a document source is, for a principal that has it through `owner` (its
/// group, or itself); with the version read, and for a customer managed policy the attachment
/// that an approval of its attachment would have recorded.
fn target_of(source: &PolicySource, owner: Principal) -> (Target, Option<String>, Option<Target>) {
    match source {
        PolicySource::Inline { owner, policy_name } => (
            Target::InlinePolicy {
                principal: principal_of(owner),
                policy_name: policy_name.clone(),
            },
            None,
            None,
        ),
        PolicySource::Managed { policy_arn, .. } if is_aws_managed(policy_arn) => (
            Target::Attachment {
                principal: owner,
                policy_arn: policy_arn.clone(),
            },
            None,
            None,
        ),
        PolicySource::Managed {
            policy_arn,
            version_id,
        } => (
            Target::ManagedPolicy {
                policy_arn: policy_arn.clone(),
            },
            version_id.clone(),
            Some(Target::Attachment {
                principal: owner,
                policy_arn: policy_arn.clone(),
            }),
        ),
    }
}

/// The sweep finding for the starter: EventBridge-shaped, its detail CloudTrail-shaped, so the
/// starter names it (`IncidentName::of`) and Analyse reads it (`event::read_event`) as any
/// event. It carries no document: Analyse always reads it from IAM.
pub fn finding_event(
    target: &Target,
    version_id: Option<&str>,
    context: &SweepContext,
    n: usize,
) -> Value {
    let id = format!("{}-{n}", context.sweep_id);
    let time = rfc3339(context.at);
    let field = |p: &Principal| match p.kind {
        PrincipalKind::User => "userName",
        PrincipalKind::Role => "roleName",
        PrincipalKind::Group => "groupName",
    };
    let mut parameters = serde_json::Map::new();
    match target {
        Target::ManagedPolicy { policy_arn } => {
            parameters.insert("policyArn".into(), json!(policy_arn));
        }
        Target::InlinePolicy {
            principal,
            policy_name,
        } => {
            parameters.insert(field(principal).into(), json!(principal.name));
            parameters.insert("policyName".into(), json!(policy_name));
        }
        Target::Attachment {
            principal,
            policy_arn,
        } => {
            parameters.insert(field(principal).into(), json!(principal.name));
            parameters.insert("policyArn".into(), json!(policy_arn));
        }
        Target::GroupMembership { user, group } => {
            parameters.insert("userName".into(), json!(user));
            parameters.insert("groupName".into(), json!(group));
        }
        // The sweep opens incidents for documents and memberships only.
        other => {
            parameters.insert("target".into(), json!(other));
        }
    }
    if let Some(version_id) = version_id {
        parameters.insert("versionId".into(), json!(version_id));
    }
    json!({
        "version": "0",
        "id": id,
        "detail-type": FINDING_DETAIL_TYPE,
        "source": FINDING_SOURCE,
        "account": context.account,
        "time": time,
        "region": context.region,
        "resources": [],
        "detail": {
            "eventVersion": "1.0",
            "eventSource": FINDING_EVENT_SOURCE,
            "eventName": FINDING_EVENT_NAME,
            "eventID": id,
            "eventTime": time,
            "awsRegion": context.region,
            "recipientAccountId": context.account,
            "userIdentity": {"type": "IamSentinelSweep", "invokedBy": SWEEP_ACTOR},
            "requestParameters": parameters,
            "sweepId": context.sweep_id,
        }
    })
}

impl TargetFinding {
    /// Another sweep claimed the grant first: its incident decides it.
    pub fn claimed_elsewhere(&mut self) {
        self.disposition = Disposition::Deciding;
        self.incident = None;
        self.event = None;
    }
}

/// What one sweep did, for people (`sweep_notification`) and tools (`sweep_event_detail`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepSummary {
    pub sweep_id: String,
    pub at: String,
    pub baseline: bool,
    pub mode: SweepMode,
    pub examined: Examined,
    pub principals_with_grants: usize,
    pub grants_found: usize,
    pub alerts_found: usize,
    pub grants_exempted: usize,
    pub targets_found: usize,
    /// Approved before, or a group membership present at the baseline.
    pub approved_left_alone: usize,
    pub deciding_left_alone: usize,
    pub own_or_service_roles: usize,
    /// Found and only reported (the baseline, or report mode).
    pub reported: usize,
    /// Found, granting only patterns of alert rules: reported, never quarantined.
    pub alerted: usize,
    pub incidents_started: usize,
    /// Exemptions that covered a grant.
    pub exemptions_applied: usize,
    /// Expired exemptions that would have covered a grant that counts now.
    pub exemptions_expired: usize,
    pub incomplete: usize,
    pub seconds: f64,
}

impl SweepPlan {
    /// The summary, once the shell has claimed what it could (a target another sweep had just
    /// claimed is `Deciding` by then).
    pub fn summary(
        &self,
        context: &SweepContext,
        examined: Examined,
        seconds: f64,
    ) -> SweepSummary {
        let count = |d: Disposition| self.targets.iter().filter(|t| t.disposition == d).count();
        SweepSummary {
            sweep_id: context.sweep_id.clone(),
            at: rfc3339(context.at),
            baseline: context.baseline,
            mode: context.mode,
            examined,
            principals_with_grants: self.principals_with_grants,
            grants_found: self.grants_found,
            alerts_found: self.alerts_found,
            grants_exempted: self.grants_exempted,
            targets_found: self.targets.len(),
            approved_left_alone: count(Disposition::Approved) + count(Disposition::AtBaseline),
            deciding_left_alone: count(Disposition::Deciding),
            own_or_service_roles: count(Disposition::OwnRole)
                + count(Disposition::ServiceLinkedRole),
            reported: count(Disposition::Baseline) + count(Disposition::Reported),
            alerted: count(Disposition::Alerted),
            incidents_started: count(Disposition::Incident),
            exemptions_applied: self.exempted.len(),
            exemptions_expired: self.expired.len(),
            incomplete: self.incomplete.len(),
            seconds,
        }
    }
}

/// The summary email.
pub fn sweep_notification(summary: &SweepSummary, plan: &SweepPlan) -> Notification {
    let kind = if summary.baseline {
        "baseline sweep"
    } else {
        "sweep"
    };
    let subject = truncate(
        &format!(
            "iam-sentinel: {kind}: {} restricted grants in force, {} incidents started",
            summary.targets_found, summary.incidents_started
        ),
        SUBJECT_LIMIT,
    );
    let what = if summary.baseline {
        "The first sweep since iam-sentinel was deployed is a baseline: it reports every \
         restricted grant in force and quarantines nothing. Later sweeps open an incident for \
         each grant nobody approved (SweepMode=quarantine) or only report it (SweepMode=report)."
    } else if summary.mode == SweepMode::Report {
        "SweepMode is report: grants nobody approved are listed here, nothing is quarantined."
    } else {
        "Each grant nobody approved gets an incident, as if its change had just been made: \
         quarantined, with an approval request. Approved grants and grants being decided are \
         left alone."
    };
    let mut body = format!(
        "Account sweep {id} at {at}\n\n{what}\n\n\
         Examined\n  {users} users, {roles} roles, {groups} groups, {policies} managed policies\n\n\
         Found\n  {pwg} users and roles can perform restricted actions ({grants} grants of \
         enforced rules, {alerts} of alert rules; {exempt} exempted), \
         through {targets} policies or attachments\n  \
         approved before (or a group membership at the baseline), left alone: {approved}\n  \
         being decided, left alone: {deciding}\n  \
         iam-sentinel's own or service-linked roles, reported only: {own}\n  \
         reported only (baseline or report mode): {reported}\n  \
         alert rules only, reported only: {alerted}\n  \
         incidents started: {started}\n\n\
         Time taken\n  {seconds:.1} s\n",
        id = summary.sweep_id,
        at = summary.at,
        users = summary.examined.users,
        roles = summary.examined.roles,
        groups = summary.examined.groups,
        policies = summary.examined.policies,
        pwg = summary.principals_with_grants,
        grants = summary.grants_found,
        alerts = summary.alerts_found,
        exempt = summary.grants_exempted,
        targets = summary.targets_found,
        approved = summary.approved_left_alone,
        deciding = summary.deciding_left_alone,
        own = summary.own_or_service_roles,
        reported = summary.reported,
        alerted = summary.alerted,
        started = summary.incidents_started,
        seconds = summary.seconds,
    );
    if !plan.targets.is_empty() {
        body += "\nGrants in force\n";
        for finding in plan.targets.iter().take(LISTED_TARGETS) {
            let mut patterns = Vec::new();
            if !finding.patterns.is_empty() {
                patterns.push(joined(&finding.patterns));
            }
            if !finding.alerted.is_empty() {
                patterns.push(format!("alert rules: {}", joined(&finding.alerted)));
            }
            body += &format!(
                "  {} [{}]: {} for {}\n",
                target_text(&finding.target),
                disposition_text(finding.disposition),
                patterns.join("; "),
                joined(&finding.principals),
            );
        }
        if plan.targets.len() > LISTED_TARGETS {
            body += &format!("  ... and {} more\n", plan.targets.len() - LISTED_TARGETS);
        }
    }
    for (title, uses) in [
        ("Exempted (not quarantined, not alerted)", &plan.exempted),
        (
            "Exemptions expired (the grants they covered count again)",
            &plan.expired,
        ),
    ] {
        if uses.is_empty() {
            continue;
        }
        body += &format!("\n{title}\n");
        for used in uses.iter().take(LISTED_TARGETS) {
            body += &format!(
                "  {}\n    {} grants ({} statements) of {} for {}\n",
                used.exemption,
                used.grants,
                used.statements.len(),
                joined(&used.patterns),
                joined(&used.principals),
            );
        }
    }
    if !plan.incomplete.is_empty() {
        body += "\nNot fully read (their verdict may be incomplete)\n";
        for line in plan.incomplete.iter().take(LISTED_TARGETS) {
            body += &format!("  {line}\n");
        }
    }
    Notification { subject, body }
}

fn joined(items: &BTreeSet<String>) -> String {
    items.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn disposition_text(disposition: Disposition) -> &'static str {
    match disposition {
        Disposition::Approved => "approved",
        Disposition::AtBaseline => "member at the baseline",
        Disposition::Deciding => "being decided",
        Disposition::OwnRole => "own role: reported",
        Disposition::ServiceLinkedRole => "service-linked role: reported",
        Disposition::Baseline => "baseline: reported",
        Disposition::Reported => "reported",
        Disposition::Alerted => "alert rules: reported",
        Disposition::Incident => "incident started",
    }
}

/// The summary event's detail: the figures, the first targets found, and the exemptions that
/// covered grants or expired.
pub fn sweep_event_detail(summary: &SweepSummary, plan: &SweepPlan) -> Value {
    json!({
        "summary": summary,
        "targets": plan.targets.iter().take(LISTED_TARGETS).collect::<Vec<_>>(),
        "exempted": plan.exempted.iter().take(LISTED_TARGETS).collect::<Vec<_>>(),
        "expired": plan.expired.iter().take(LISTED_TARGETS).collect::<Vec<_>>(),
        "incomplete": plan.incomplete.iter().take(LISTED_TARGETS).collect::<Vec<_>>(),
    })
}
