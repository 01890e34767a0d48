//! Analyse: what did the change grant? Reads the document from the event, or from IAM when the
//! event does not carry one that reads as a policy (attachments, SetDefaultPolicyVersion, a
//! malformed event). Also hands the state machine the approval deadline, which this function
//! holds as configuration.

use incident::boundary::{self, NO_BOUNDARY, boundary_arn, boundary_in_force};
use incident::consistency::may_lag;
use incident::membership::{added_grants, group_document};
use incident::trust::who_may_assume;
use incident::{
    AddedGrant, Analysed, Assessment, ChangeContext, EventScope, ExemptedPattern, OwnRoles,
    PolicyChange, Principal, PrincipalKind, Reading, ReportedGrant, RulesReport, Target,
    TrustReport, Verdict, carried_added_grants, carried_findings, path_exemptions, read_event,
};
use policy_engine::rules::{Context, Mode};
use policy_engine::{Catalog, Policy, PolicyError, RestrictedActions, Rules, decode};
use serde::Serialize;
use serde_json::Value;

use crate::boundaries::{self, InForce};
use crate::decisions::DecisionTable;
use crate::documents::DocumentStore;
use crate::error::{StepError, invalid_input};
use crate::executions::Executions;
use crate::handlers::{StepInvocation, started_step};
use crate::iam::IamPolicies;
use crate::principals::{group_policies, principal_policies, principal_since};

pub struct AnalyseDeps {
    pub iam: IamPolicies,
    /// Keeps the document analysed: the state carries only its reference.
    pub documents: DocumentStore,
    /// The rules the function was built with (`deployed_rules`) and the RESTRICTED_ACTIONS
    /// parameter's rule.
    pub rules: Rules,
    /// The events this stack acts on: its own account's (another account's events on its bus
    /// are ignored), made by anyone but the two writer functions (their own changes never
    /// start an incident).
    pub scope: EventScope,
    /// This stack's roles: a restricted grant on them is reported, never quarantined.
    pub own_roles: OwnRoles,
    pub notify_on_clean: bool,
    /// How long RequestApproval waits for a decision (`APPROVAL_TIMEOUT`).
    pub approval_timeout_seconds: u64,
    /// The boundary ledger: which boundary was in force before a boundary change; and the
    /// starter's records, which say whether an execution is one it started.
    pub decisions: DecisionTable,
    /// Where the event the execution was started with is read, with its start.
    pub executions: Executions,
}

/// The step's output, which becomes the whole state: the assessment, and the deadline that
/// RequestApproval waits (TimeoutSecondsPath) and states in its email.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyseOutput {
    pub incident: Assessment,
    pub approval_timeout_seconds: u64,
}

/// The state's name in the state machine.
const STEP: &str = "Analyse";

/// The Analyse step of the execution `invocation` names: the event it was started with, read
/// from its history, when the incident starter started it. One started by hand, with a made-up
/// event, is refused (`ForgedStart`) before anything is read or kept (THREAT-MODEL T25).
pub async fn handle_step(
    invocation: StepInvocation,
    deps: &AnalyseDeps,
) -> Result<AnalyseOutput, StepError> {
    let (_, step) = started_step(
        &deps.executions,
        &deps.decisions,
        &invocation.execution_arn,
        STEP,
    )
    .await?;
    handle(step.input, deps).await
}

/// Analyses `event`, a CloudTrail event as EventBridge delivers it.
pub async fn handle(event: Value, deps: &AnalyseDeps) -> Result<AnalyseOutput, StepError> {
    let incident = assess(&event, deps).await?;
    Ok(AnalyseOutput {
        incident,
        approval_timeout_seconds: deps.approval_timeout_seconds,
    })
}

async fn assess(event: &Value, deps: &AnalyseDeps) -> Result<Assessment, StepError> {
    let mut change = match read_event(event, &deps.scope).map_err(invalid_input)? {
        Reading::Ignored { event_name, reason } => {
            tracing::info!(%event_name, %reason, "ignored");
            let id = event
                .pointer("/detail/eventID")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            return Ok(ignored(id, event_name, reason, None));
        }
        Reading::Change(change) => *change,
    };
    match change.target.clone() {
        Target::GroupMembership { user, group } => {
            return assess_membership(change, &user, &group, deps).await;
        }
        Target::TrustPolicy { role_name } => return assess_trust(change, &role_name, deps).await,
        Target::PermissionsBoundary { principal } => {
            return assess_boundary(change, principal, deps).await;
        }
        _ => {}
    }
    let Some((document, version_id)) = document_of(&mut change, &deps.iam).await? else {
        return gone(change, "the policy no longer exists, so it grants nothing");
    };
    let policy =
        Policy::parse(&document).map_err(|e| invalid_input(format!("the changed policy: {e}")))?;
    let context = ChangeContext::of(&change);
    let assessed = deps
        .rules
        .assess(&policy, &context.context(), today(), Catalog::embedded());
    let findings = assessed.enforced.findings;
    let rules = RulesReport::carried(
        assessed.alerted.findings,
        Vec::new(),
        assessed.exempted,
        assessed.expired,
    );
    let restricted = !findings.is_empty();
    let document = deps.documents.put(&document).await?;
    let (findings, omitted_grants) = carried_findings(findings);
    let analysed = Analysed {
        change,
        notify: false,
        document,
        version_id,
        findings,
        omitted_grants,
        group_grants: Vec::new(),
        boundary: None,
        rules,
    };
    Ok(assessment(analysed, restricted, deps))
}

/// The day the rules' exemptions are read on (they apply through their expiry day, UTC).
fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The assessment of an analysed change: restricted (an enforced rule's grant: quarantined),
/// reported (the same on one of iam-sentinel's own roles), alerted (alert-mode grants only),
/// exempted (every grant covered by an exemption) or clean. Logged with every exemption it
/// touched.
fn assessment(mut analysed: Analysed, restricted: bool, deps: &AnalyseDeps) -> Assessment {
    let (id, event_name) = (
        analysed.change.event_id.clone(),
        analysed.change.event_name.clone(),
    );
    let alerted = analysed.rules.alerts();
    let exempted = analysed.rules.exempts() || analysed.rules.omitted_exemptions > 0;
    analysed.notify = restricted || alerted || deps.notify_on_clean;
    let verdict = match deps.own_roles.protects(&analysed.change) {
        _ if !restricted && alerted => Verdict::Alerted(analysed),
        _ if !restricted && exempted => Verdict::Exempted(analysed),
        _ if !restricted => Verdict::Clean(analysed),
        Some(reported_because) => {
            tracing::warn!(event = %event_name, %reported_because, "a restricted grant on iam-sentinel's own role");
            Verdict::Reported(ReportedGrant {
                analysed,
                reported_because,
            })
        }
        None => Verdict::Restricted(analysed),
    };
    let assessment = Assessment {
        id,
        event_name,
        verdict,
    };
    if let Some(analysed) = assessment.analysed() {
        let verdict = serde_json::to_value(&assessment)
            .ok()
            .and_then(|v| v.get("verdict").and_then(|v| v.as_str()).map(str::to_owned))
            .unwrap_or_default();
        tracing::info!(
            event = %assessment.event_name,
            %verdict,
            enforced = analysed.findings.len() + analysed.group_grants.len() + analysed.boundary.as_ref().map_or(0, |b| b.added.len()),
            alerted = analysed.rules.alerted.len() + analysed.rules.alerted_grants.len(),
            exemptions = ?analysed.rules.exemption_names(),
            "analysed"
        );
    }
    assessment
}

/// What the change touched is not in IAM: not yet (IAM may lag just after the event), or no
/// longer (then the change grants nothing).
fn gone(change: PolicyChange, reason: &str) -> Result<Assessment, StepError> {
    if may_lag(&change.event_time, time::OffsetDateTime::now_utc()) {
        return Err(StepError::NotYetConsistent(reason.to_owned()));
    }
    tracing::info!(event = %change.event_name, %reason, "ignored");
    Ok(ignored(
        change.event_id.clone(),
        change.event_name.clone(),
        reason.to_owned(),
        Some(change),
    ))
}

/// A user added to a group: restricted when the group's policies grant the user a restricted
/// pattern (its other policies' Denies and its boundary apply; what it held before does not).
/// The group's policies, as one document, are what is kept and shown.
async fn assess_membership(
    change: PolicyChange,
    user: &str,
    group: &str,
    deps: &AnalyseDeps,
) -> Result<Assessment, StepError> {
    let member = Principal {
        kind: PrincipalKind::User,
        name: user.to_owned(),
    };
    let (Some(policies), Some(group_policies)) = (
        principal_policies(&deps.iam, &member).await?,
        group_policies(&deps.iam, group).await?,
    ) else {
        return gone(
            change,
            "the user or the group no longer exists, so the membership grants nothing",
        );
    };
    let owned = ChangeContext::of(&change);
    let context = owned.context();
    let today = today();
    let added = |restricted: Option<RestrictedActions>| match restricted {
        Some(restricted) => added_grants(
            &policies,
            group,
            &group_policies,
            &restricted,
            Catalog::embedded(),
        )
        .map_err(|e| invalid_input(format!("a policy of user {user}: {e}"))),
        None => Ok((Vec::new(), 0)),
    };
    let (group_grants, omitted_grants) =
        added(deps.rules.restricted(Mode::Enforce, &context, today))?;
    let (alerted, omitted_alerts) = added(deps.rules.restricted(Mode::Alert, &context, today))?;
    let restricted = !group_grants.is_empty();
    let exemptions = path_exemptions_of(deps, &context, today, &group_grants, &alerted, |set| {
        added(set).map(|(grants, _)| grants)
    })?;
    let rules = alert_only(alerted, omitted_alerts, &group_grants).with_path_exemptions(exemptions);
    let document = deps
        .documents
        .put(&group_document(group, &group_policies))
        .await?;
    let analysed = Analysed {
        change,
        notify: false,
        document,
        version_id: None,
        findings: Vec::new(),
        omitted_grants,
        group_grants,
        boundary: None,
        rules,
    };
    // A membership is a user's: never one of the stack's roles, so never only reported.
    Ok(assessment(analysed, restricted, deps))
}

/// What the exemptions did on a grant path that adds `enforced` and `alerted` under the rules
/// (`adds`: what it adds under a set of restricted patterns), named (`incident::path_exemptions`).
fn path_exemptions_of(
    deps: &AnalyseDeps,
    context: &Context<'_>,
    today: time::Date,
    enforced: &[AddedGrant],
    alerted: &[AddedGrant],
    adds: impl Fn(Option<RestrictedActions>) -> Result<Vec<AddedGrant>, StepError>,
) -> Result<(Vec<ExemptedPattern>, Vec<ExemptedPattern>), StepError> {
    let (mut exempted, mut expired) = (Vec::new(), Vec::new());
    for (mode, with) in [(Mode::Enforce, enforced), (Mode::Alert, alerted)] {
        let without = adds(deps.rules.unexempted(mode))?;
        let (e, x) = path_exemptions(&deps.rules, mode, context, today, &without, with);
        exempted.extend(e);
        expired.extend(x);
    }
    Ok((exempted, expired))
}

/// What a grant path adds under alert-mode rules and not under enforced ones (enforce wins), as
/// the record carries it.
fn alert_only(
    mut alerted: Vec<AddedGrant>,
    omitted: usize,
    enforced: &[AddedGrant],
) -> RulesReport {
    alerted.retain(|a| {
        !enforced
            .iter()
            .any(|e| e.pattern.eq_ignore_ascii_case(&a.pattern))
    });
    let mut rules = RulesReport::carried(Vec::new(), alerted, Vec::new(), Vec::new());
    rules.omitted_alerts += omitted;
    rules
}

/// A permissions boundary deleted or replaced: restricted when the principal, as IAM holds it
/// now, can perform, for some action, a restricted pattern the previous boundary did not let
/// through for certain (the ledger's; unknown: read as allowing nothing restricted). A change with no enforced grant has
/// its boundary recorded in the ledger: it is the one in force.
async fn assess_boundary(
    change: PolicyChange,
    principal: Principal,
    deps: &AnalyseDeps,
) -> Result<Assessment, StepError> {
    let Some((policies, created)) = principal_since(&deps.iam, &principal).await? else {
        return gone(
            change,
            "the user or role no longer exists, so its boundary lets nothing through",
        );
    };
    let in_force = boundary_arn(&policies);
    let shows_change = match &change.boundary_arn {
        Some(set) => in_force
            .as_deref()
            .is_some_and(|arn| arn.eq_ignore_ascii_case(set)),
        None => in_force.is_none(),
    };
    if !shows_change && may_lag(&change.event_time, time::OffsetDateTime::now_utc()) {
        return Err(StepError::NotYetConsistent(format!(
            "IAM shows the boundary of {principal} as {}, not as the event left it",
            in_force.as_deref().unwrap_or("none")
        )));
    }
    let previous = boundaries::previous(
        &deps.decisions,
        &deps.iam,
        &principal,
        created,
        &change.event_time,
    )
    .await?;
    let owned = ChangeContext::of(&change);
    let context = owned.context();
    let today = today();
    let enforced = deps.rules.restricted(Mode::Enforce, &context, today);
    let (assessed, omitted_grants) = boundary::assess(&policies, &previous, enforced.as_ref())?;
    let added = |restricted: Option<RestrictedActions>| match restricted {
        Some(restricted) => Ok(boundary::added_grants(&policies, &previous, &restricted)?),
        None => Ok(Vec::new()),
    };
    let (alerted, omitted_alerts) =
        carried_added_grants(added(deps.rules.restricted(Mode::Alert, &context, today))?);
    let restricted = assessed.restricted();
    let exemptions = path_exemptions_of(deps, &context, today, &assessed.added, &alerted, added)?;
    let rules =
        alert_only(alerted, omitted_alerts, &assessed.added).with_path_exemptions(exemptions);
    let boundary = boundary_in_force(&policies);
    if !restricted {
        let source = format!("analyse-change: {} {}", change.event_name, change.event_id);
        let seen = InForce::named(in_force.as_deref(), boundary.as_ref());
        boundaries::record(&deps.decisions, &principal, seen, &source).await?;
    }
    let document = boundary.map_or(NO_BOUNDARY.to_owned(), |b| b.document);
    let document = deps.documents.put(&document).await?;
    let analysed = Analysed {
        change,
        notify: false,
        document,
        version_id: None,
        findings: Vec::new(),
        omitted_grants,
        group_grants: Vec::new(),
        boundary: Some(assessed),
        rules,
    };
    Ok(assessment(analysed, restricted, deps))
}

/// A role's trust policy: who may now assume the role, reported (never quarantined).
async fn assess_trust(
    mut change: PolicyChange,
    role_name: &str,
    deps: &AnalyseDeps,
) -> Result<Assessment, StepError> {
    let from_event = change.document.as_deref().map(decode).transpose();
    let document = match from_event {
        Ok(Some(json)) if serde_json::from_str::<Value>(&json).is_ok() => json.into_owned(),
        unreadable => {
            if let Some(problem) = match unreadable {
                Err(e) => Some(e.to_string()),
                Ok(Some(_)) => Some("not JSON".to_owned()),
                Ok(None) => None,
            } {
                change.unreadable.push(format!(
                    "the trust policy in the event is unreadable ({problem}): read from IAM"
                ));
            }
            let role = Principal {
                kind: PrincipalKind::Role,
                name: role_name.to_owned(),
            };
            match deps
                .iam
                .principal_info(&role)
                .await?
                .and_then(|info| info.trust_policy)
            {
                Some(document) => document,
                None => return gone(change, "the role no longer exists"),
            }
        }
    };
    let mut trust = who_may_assume(&document, role_name, &change.account)
        .map_err(|e| invalid_input(format!("the trust policy of role {role_name}: {e}")))?;
    if let Some(own_role) = deps.own_roles.protects(&change) {
        trust.warnings.insert(0, own_role);
    }
    tracing::info!(event = %change.event_name, role = role_name, warnings = trust.warnings.len(), "trust policy reported");
    let document = deps.documents.put(&document).await?;
    Ok(Assessment {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict: Verdict::TrustReported(TrustReport {
            change,
            document,
            trusted: trust.trusted,
            warnings: trust.warnings,
        }),
    })
}

fn ignored(
    id: String,
    event_name: String,
    reason: String,
    change: Option<PolicyChange>,
) -> Assessment {
    Assessment {
        id,
        event_name,
        verdict: Verdict::Ignored {
            ignored_reason: reason,
            change,
        },
    }
}

/// The document the change put in force (decoded JSON text), and its version for managed
/// policies: the event's when it carries one that reads as a policy, else IAM's (a malformed
/// document in the event is noted in `change.unreadable`, and the grant is still analysed).
/// None when the policy (or version) no longer exists.
async fn document_of(
    change: &mut PolicyChange,
    iam: &IamPolicies,
) -> Result<Option<(String, Option<String>)>, StepError> {
    if let Some(document) = &change.document {
        match readable(document) {
            Ok(json) => return Ok(Some((json, change.version_id.clone()))),
            Err(e) => change.unreadable.push(format!(
                "requestParameters.policyDocument is not a policy ({e}): analysed as IAM holds it"
            )),
        }
    }
    let found = match (&change.target, &change.version_id) {
        (Target::ManagedPolicy { policy_arn }, Some(version_id)) => iam
            .version_document(policy_arn, version_id)
            .await?
            .map(|d| (d, Some(version_id.clone()))),
        (Target::ManagedPolicy { policy_arn } | Target::Attachment { policy_arn, .. }, _) => iam
            .default_version(policy_arn)
            .await?
            .map(|(id, d)| (d, Some(id))),
        (
            Target::InlinePolicy {
                principal,
                policy_name,
            },
            _,
        ) => iam
            .inline_document(principal, policy_name)
            .await?
            .map(|d| (d, None)),
        (Target::GroupMembership { .. } | Target::TrustPolicy { .. }, _) => {
            return Err(invalid_input(
                "a membership or trust policy change has no policy document of its own",
            ));
        }
        // Analysed with the principal's policies (assess_boundary), never as one document.
        (Target::PermissionsBoundary { .. }, _) => {
            return Err(invalid_input(
                "a permissions-boundary change has no policy document of its own",
            ));
        }
    };
    found
        .map(|(document, version)| {
            let json = readable(&document)
                .map_err(|e| invalid_input(format!("the changed policy: {e}")))?;
            Ok((json, version))
        })
        .transpose()
}

/// A document as JSON text, when it is one IAM would hold: raw or percent-encoded JSON that
/// parses as an identity policy.
fn readable(document: &str) -> Result<String, PolicyError> {
    let json = decode(document)?;
    Policy::parse(&json)?;
    Ok(json.into_owned())
}
