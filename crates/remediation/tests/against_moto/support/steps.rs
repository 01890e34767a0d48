//! The steps' dependencies for the specifications of what they do in IAM, and reading their
//! records.
//!
//! `quarantine(..)` and `restore(..)` are the IAM work of the two writers, once `handle` has
//! found the state in the execution's history (and, for Restore, proven the approval): the
//! specifications of that IAM work call them directly, with nothing answering where the
//! history, the decision key and the operators' topic would be (that work uses none of them).
//! The specifications of how `handle` refuses (attacks.rs) run a deployment (support::workflow).

use incident::restore::RestorePlan;
use incident::{
    AppliedQuarantine, Assessment, DocumentRef, QuarantineRecord, RestoreRecord, RestoreStatus,
};
use remediation::documents::DocumentStore;
use remediation::executions::Executions;
use remediation::handlers::analyse::AnalyseDeps;
use remediation::handlers::quarantine::{QuarantineDeps, quarantine};
use remediation::handlers::restore::{RestoreDeps, forecast_restore, restore};
use remediation::iam::IamPolicies;
use remediation::kms::MacKey;
use remediation::publisher::Notifier;

use super::fixtures::{own_roles, rules, scope};
use super::moto::{
    Moto, decisions_at, kms_client_at, refused_endpoint, sfn_client_at, sns_client_at,
};

/// The deployment's default approval deadline (APPROVAL_TIMEOUT=24h).
pub const APPROVAL_TIMEOUT_SECONDS: u64 = 24 * 3600;

/// The stack's quarantine boundary (QUARANTINE_BOUNDARY_ARN), as the template names it.
pub const QUARANTINE_BOUNDARY_ARN: &str =
    "arn:aws:iam::123456789012:policy/iam-sentinel-quarantine-boundary";

/// This deployment's state machine (STATE_MACHINE_ARN).
pub const STATE_MACHINE_ARN: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:iam-sentinel-remediation";

/// Analyse as deployed by default: clean changes not notified, a 24-hour approval deadline.
pub fn analyse_deps(iam: IamPolicies, documents: DocumentStore) -> AnalyseDeps {
    AnalyseDeps {
        iam,
        documents,
        rules: rules(),
        scope: scope(),
        own_roles: own_roles(),
        notify_on_clean: false,
        approval_timeout_seconds: APPROVAL_TIMEOUT_SECONDS,
        // Only a boundary change reads the ledger (boundary specifications use moto's).
        decisions: decisions_at(&refused_endpoint()),
        // Only the step (`handle_step`) reads an execution's history.
        executions: executions_at(&refused_endpoint()),
    }
}

/// The name of the execution the specifications quarantine in (an incident's name).
pub const INCIDENT: &str = "specification-incident";

/// Quarantine, for the specifications of its IAM work (`quarantine(..)`) against moto: what a
/// detachment or group removal is about to do is recorded in moto's decision table.
pub fn quarantine_deps(moto: &Moto) -> QuarantineDeps {
    QuarantineDeps {
        decisions: moto.decisions(),
        ..quarantine_deps_with(moto.iam(), moto.documents())
    }
}

/// Quarantine with `iam`; nothing answers where its executions and alerts would go: its IAM
/// work reads no history and alerts nobody.
pub fn quarantine_deps_with(iam: IamPolicies, documents: DocumentStore) -> QuarantineDeps {
    let nowhere = refused_endpoint();
    QuarantineDeps {
        iam,
        documents,
        rules: rules(),
        executions: executions_at(&nowhere),
        alerts: alerts_at(&nowhere),
        decisions: decisions_at(&nowhere),
        quarantine_boundary_arn: QUARANTINE_BOUNDARY_ARN.into(),
    }
}

/// Restore, for the specifications of its IAM work (`restore(..)`) against moto.
pub fn restore_deps(moto: &Moto) -> RestoreDeps {
    restore_deps_with(moto.iam(), moto.documents())
}

/// Restore with `iam`; nothing answers where its executions, decision key and alerts would go:
/// its IAM work reads no history, checks no proof and alerts nobody.
pub fn restore_deps_with(iam: IamPolicies, documents: DocumentStore) -> RestoreDeps {
    let nowhere = refused_endpoint();
    RestoreDeps {
        iam,
        documents,
        executions: executions_at(&nowhere),
        decision_keys: MacKey {
            client: kms_client_at(&nowhere),
            key_id: "alias/iam-sentinel-decisions".into(),
        },
        alerts: alerts_at(&nowhere),
        decisions: decisions_at(&nowhere),
    }
}

/// This deployment's executions, read at `endpoint`.
pub fn executions_at(endpoint: &str) -> Executions {
    Executions {
        client: sfn_client_at(endpoint),
        state_machine: approval::StateMachine::parse(STATE_MACHINE_ARN).expect("a state machine"),
    }
}

fn alerts_at(endpoint: &str) -> Notifier {
    Notifier {
        sns: sns_client_at(endpoint),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:iam-sentinel-operators".into(),
    }
}

/// The Quarantine step's IAM work against moto.
pub async fn quarantined(moto: &Moto, incident: &Assessment) -> QuarantineRecord {
    quarantine(INCIDENT, incident.clone(), &quarantine_deps(moto))
        .await
        .expect("the quarantine step")
}

/// The Restore step's IAM work against moto, as after a proven approval.
pub async fn restored(moto: &Moto, record: &QuarantineRecord) -> RestoreRecord {
    restore(record.clone(), &restore_deps(moto))
        .await
        .expect("the restore step")
        .record
}

/// What the approval page says approving would do, against moto, when it is to restore
/// nothing (skipped): the plan, whose record says why.
pub async fn forecast_skipped(moto: &Moto, record: QuarantineRecord) -> RestorePlan {
    let forecast = forecast_restore(record, &moto.iam(), &moto.documents())
        .await
        .expect("the forecast")
        .plan;
    assert_eq!(
        forecast.record.status,
        RestoreStatus::Skipped,
        "{forecast:?}"
    );
    forecast
}

/// The text the store holds for `reference` (checked against it), as JSON.
pub async fn stored(moto: &Moto, reference: &DocumentRef) -> serde_json::Value {
    let text = moto
        .documents()
        .get(reference)
        .await
        .expect("the document is kept");
    serde_json::from_str(&text).expect("JSON")
}

/// The quarantine a record says is in place (the record must say `applied`).
pub fn applied(record: &QuarantineRecord) -> &AppliedQuarantine {
    record
        .applied()
        .unwrap_or_else(|| panic!("expected an applied quarantine, got {record:?}"))
}

/// Why no quarantine was needed (the record must say `not_needed`).
pub fn not_needed_reason(record: &QuarantineRecord) -> &str {
    match record {
        QuarantineRecord::NotNeeded { reason } => reason,
        QuarantineRecord::Applied(_) => panic!("expected no quarantine, got {record:?}"),
    }
}

/// The error of a step that must fail (for outputs without `Debug`, where `expect_err` cannot go).
pub fn failure<T, E>(result: Result<T, E>) -> E {
    match result {
        Ok(_) => panic!("the step must fail, but it succeeded"),
        Err(error) => error,
    }
}
