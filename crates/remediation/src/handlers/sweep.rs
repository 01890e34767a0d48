//! The account sweep (on its schedule, or on demand): read the whole account, let
//! `incident::sweep` decide under the rules which restricted grants in force nobody approved
//! (and which are alerted or exempted), claim each in the
//! decision record (one conditional write: two sweeps never open two incidents for one grant),
//! send each claimed finding to the starter's queue, keep the boundary ledger, and publish the
//! summary.

use std::time::{Duration, Instant};

use incident::OwnRoles;
use incident::sweep::{
    Disposition, Examined, SUMMARY_DETAIL_TYPE, SweepContext, SweepMode, SweepSummary, account_of,
    boundaries, plan_sweep, principals_created, sweep_event_detail, sweep_id, sweep_notification,
};
use policy_engine::{Catalog, Rules};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::account::authorization_details;
use crate::decisions::{Claim, DecisionTable};
use crate::error::{AwsFailure, StepError};
use crate::incident_queue::IncidentQueue;
use crate::publisher::Publisher;

pub struct SweepDeps {
    pub iam: aws_sdk_iam::Client,
    pub decisions: DecisionTable,
    pub queue: IncidentQueue,
    pub publisher: Publisher,
    /// The rules the function was built with (`setup::rules`).
    pub rules: Rules,
    /// This stack's roles: reported, never quarantined.
    pub own_roles: OwnRoles,
    /// What sweeps after the baseline do (`SWEEP_MODE`).
    pub mode: SweepMode,
    /// How long a `deciding` claim holds (the approval deadline and a day).
    pub claim_lifetime: Duration,
    pub region: String,
}

/// What the schedule (or a person) sends: `{"sweep": "<why>"}`, e.g. `"scheduled"`,
/// `"on demand"`. Anything else is refused, so no stray invocation sweeps by accident.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    pub sweep: String,
}

/// One sweep. `request_id` (Lambda's) makes its id unique.
pub async fn handle(
    request: SweepRequest,
    request_id: &str,
    deps: &SweepDeps,
) -> Result<SweepSummary, StepError> {
    tracing::info!(why = %request.sweep, "sweep requested");
    let started = Instant::now();
    let at = OffsetDateTime::now_utc();
    let details = authorization_details(&deps.iam).await?;
    // Claims are dated after the read: never before the principals they claim for were created
    // (`GrantRecord::is_for`), or another sweep would claim the grant again.
    let claimed_at = OffsetDateTime::now_utc();
    let principals = details.principals().map_err(|e| {
        AwsFailure::unusable_answer("IAM GetAccountAuthorizationDetails", &e.to_string())
    })?;
    let grants = deps.decisions.grants().await?;
    let recorded = deps.decisions.baseline().await?;
    let baseline = recorded.is_none();
    let context = SweepContext {
        sweep_id: sweep_id(at, request_id),
        at,
        account: account_of(&details),
        region: deps.region.clone(),
        mode: deps.mode,
        baseline,
        baseline_at: recorded.as_ref().and_then(|b| b.at),
        baseline_memberships: recorded.map(|b| b.memberships).unwrap_or_default(),
        claim_lifetime: deps.claim_lifetime,
        principals_created: principals_created(&details),
    };
    let mut plan = plan_sweep(
        &principals,
        &deps.rules,
        Catalog::embedded(),
        &grants,
        &deps.own_roles,
        &context,
    );
    for target in &mut plan.targets {
        let (Disposition::Incident, Some(incident), Some(event)) =
            (target.disposition, &target.incident, &target.event)
        else {
            continue;
        };
        match deps
            .decisions
            .claim(
                &target.grant,
                &target.target,
                incident,
                claimed_at,
                deps.claim_lifetime,
                target.principals_since,
            )
            .await?
        {
            Claim::Held => target.claimed_elsewhere(),
            Claim::Claimed => {
                if let Err(failure) = deps.queue.send(event).await {
                    // Unclaimed again, so the next sweep (or this one, retried) starts it.
                    deps.decisions
                        .release(&target.grant, &target.target, incident)
                        .await?;
                    return Err(failure.into());
                }
                tracing::info!(%incident, grant = %target.grant.item_key(), "incident started");
            }
        }
    }
    // Seen now, after the last page: a page read minutes after `at` may show a boundary changed
    // after `at`, and an entry dated before a change is taken as the boundary before it.
    deps.decisions
        .put_boundaries(
            &boundaries(&details),
            &format!("sweep {}", context.sweep_id),
            OffsetDateTime::now_utc(),
        )
        .await?;
    if baseline {
        deps.decisions
            .mark_baseline(&context.sweep_id, &plan.memberships, at)
            .await?;
    }
    let examined = Examined {
        users: details.users.len(),
        roles: details.roles.len(),
        groups: details.groups.len(),
        policies: details.policies.len(),
    };
    for used in &plan.exempted {
        tracing::info!(
            exemption = %used.exemption.name,
            owner = %used.exemption.owner,
            reason = %used.exemption.reason,
            expires = %used.exemption.expires,
            grants = used.grants,
            principals = ?used.principals,
            patterns = ?used.patterns,
            "grants in force exempted"
        );
    }
    for used in &plan.expired {
        tracing::warn!(
            exemption = %used.exemption.name,
            owner = %used.exemption.owner,
            expired = %used.exemption.expires,
            grants = used.grants,
            principals = ?used.principals,
            patterns = ?used.patterns,
            "an expired exemption no longer covers grants in force"
        );
    }
    let summary = plan.summary(&context, examined, started.elapsed().as_secs_f64());
    deps.publisher
        .notify(&sweep_notification(&summary, &plan))
        .await?;
    deps.publisher
        .publish_event(SUMMARY_DETAIL_TYPE, &sweep_event_detail(&summary, &plan))
        .await?;
    tracing::info!(
        sweep = %summary.sweep_id,
        baseline = summary.baseline,
        targets = summary.targets_found,
        alerted = summary.alerted,
        exempted = summary.grants_exempted,
        incidents = summary.incidents_started,
        "swept"
    );
    Ok(summary)
}
