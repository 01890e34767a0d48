//! The steps as the state machine runs them, their dependencies, and reading their records.

use incident::{AppliedQuarantine, Assessment, QuarantineRecord, RestoreRecord};
use remediation::handlers::analyse::AnalyseDeps;
use remediation::handlers::quarantine::{QuarantineDeps, QuarantineInput};
use remediation::handlers::restore::{RestoreDeps, RestoreInput};
use remediation::iam::IamPolicies;

use super::fixtures::{OWN_ROLE_ARN, restricted};
use super::moto::Moto;

/// The deployment's default approval deadline (APPROVAL_TIMEOUT=24h).
pub const APPROVAL_TIMEOUT_SECONDS: u64 = 24 * 3600;

/// Analyse as deployed by default: clean changes not notified, a 24-hour approval deadline.
pub fn analyse_deps(iam: IamPolicies) -> AnalyseDeps {
    AnalyseDeps {
        iam,
        restricted: restricted(),
        own_role_arn: OWN_ROLE_ARN.into(),
        notify_on_clean: false,
        approval_timeout_seconds: APPROVAL_TIMEOUT_SECONDS,
    }
}

pub fn quarantine_deps(moto: &Moto) -> QuarantineDeps {
    QuarantineDeps {
        iam: moto.iam(),
        restricted: restricted(),
    }
}

/// The Quarantine step against moto, as the state machine runs it.
pub async fn quarantined(moto: &Moto, incident: &Assessment) -> QuarantineRecord {
    let input = QuarantineInput {
        incident: incident.clone(),
    };
    remediation::handlers::quarantine::handle(input, &quarantine_deps(moto))
        .await
        .expect("the quarantine step")
}

/// The Restore step against moto, as the state machine runs it after an approval.
pub async fn restored(
    moto: &Moto,
    incident: &Assessment,
    record: &QuarantineRecord,
) -> RestoreRecord {
    let input = RestoreInput {
        incident: incident.clone(),
        quarantine: record.clone(),
    };
    remediation::handlers::restore::handle(input, &RestoreDeps { iam: moto.iam() })
        .await
        .expect("the restore step")
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
