//! The outcome events (EventBridge): one detail-type per outcome, and a detail that carries the
//! whole record, machine-readable, from records built the way the workflow builds them (see
//! support/mod.rs).

mod support;

use std::collections::HashSet;

use incident::{
    Decision, DecisionRecord, DocumentRef, Outcome, PolicyChange, QuarantineRecord, event_detail,
};
use serde_json::json;
use support::{
    BOB, EXECUTION, OUTCOMES, applied_mut, assessment_of, change_of, decision, failed_error,
    quarantine_of, state, state_at,
};

// ---------------------------------------------------------------------------------------------
// Detail types
// ---------------------------------------------------------------------------------------------

#[test]
fn every_outcome_has_its_own_detail_type() {
    // GIVEN the eight outcomes
    // WHEN their EventBridge detail-types are listed
    let types: HashSet<&str> = OUTCOMES.iter().map(|o| o.detail_type()).collect();
    // THEN they are all different, so a rule can subscribe to just one
    assert_eq!(types.len(), OUTCOMES.len(), "{types:?}");
}

#[test]
fn every_detail_type_starts_with_iam_sentinel() {
    for outcome in OUTCOMES {
        // GIVEN an outcome
        // WHEN its detail-type is read
        let detail_type = outcome.detail_type();
        // THEN it starts with "IAM Sentinel", so a prefix rule catches them all
        assert!(
            detail_type.starts_with("IAM Sentinel"),
            "{outcome:?}: {detail_type}"
        );
    }
}

#[test]
fn the_event_detail_spells_the_outcome_as_the_workflow_contract_does() {
    let spellings = [
        (Outcome::Quarantined, "quarantined"),
        (Outcome::Restored, "restored"),
        (Outcome::RestoreSkipped, "restore_skipped"),
        (Outcome::Kept, "kept"),
        (Outcome::TimedOut, "timed_out"),
        (Outcome::Clean, "clean"),
        (Outcome::Superseded, "superseded"),
        (Outcome::ApprovalSuperseded, "approval_superseded"),
        (Outcome::TargetGone, "target_gone"),
        (Outcome::Failed, "failed"),
    ];
    let assessment = assessment_of("create-policy.json");
    for (outcome, spelling) in spellings {
        // GIVEN the state at an outcome
        let state = state_at(outcome, &assessment);
        // WHEN its event detail is built
        let detail = event_detail(outcome, &state, EXECUTION);
        // THEN the outcome is spelled as publish-outcome's input spells it
        assert_eq!(detail["outcome"], spelling, "{outcome:?}");
        assert_eq!(
            serde_json::from_value::<Outcome>(json!(spelling)).unwrap(),
            outcome,
            "{spelling}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Event details
// ---------------------------------------------------------------------------------------------

#[test]
fn the_event_detail_carries_the_outcome_and_the_execution() {
    // GIVEN the state of a quarantine
    let state = state_at(Outcome::Quarantined, &assessment_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the outcome, the execution ARN and the incident id (the CloudTrail event)
    assert_eq!(detail["outcome"], "quarantined");
    assert_eq!(detail["executionArn"], EXECUTION);
    assert_eq!(detail["incidentId"], "47e675e7-a06b-499a-961b-2284a99aba5a");
}

#[test]
fn the_event_detail_carries_the_change_as_read_from_the_event() {
    // GIVEN the state of bob's quarantined PutGroupPolicy
    let state = state_at(
        Outcome::Quarantined,
        &assessment_of("put-group-policy.json"),
    );
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the change, whole but for its document (named by originalDocument)
    let change: PolicyChange = serde_json::from_value(detail["change"].clone()).unwrap();
    let read = change_of("put-group-policy.json");
    assert!(read.document.is_some());
    assert_eq!(
        change,
        PolicyChange {
            document: None,
            ..read
        }
    );
    assert_eq!(detail["change"]["actor"]["arn"], BOB);
    assert_eq!(detail["change"]["target"]["kind"], "inlinePolicy");
}

#[test]
fn the_event_detail_carries_the_findings() {
    // GIVEN the state of alice's quarantined PutRolePolicy
    let assessment = assessment_of("put-role-policy.json");
    let state = state_at(Outcome::Quarantined, &assessment);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the findings
    let findings = &assessment.analysed().unwrap().findings;
    assert_eq!(detail["findings"], serde_json::to_value(findings).unwrap());
    assert_eq!(detail["findings"][0]["sid"], "CleanUpStaging");
}

#[test]
fn the_event_detail_carries_the_incidents_findings_before_any_quarantine() {
    // GIVEN the state of a failure before the quarantine
    let assessment = assessment_of("create-policy.json");
    let state = state_at(Outcome::Failed, &assessment);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN it carries the assessment's findings
    let findings = &assessment.analysed().unwrap().findings;
    assert_eq!(detail["findings"], serde_json::to_value(findings).unwrap());
}

#[test]
fn the_event_detail_carries_the_quarantine_record() {
    // GIVEN the state of a quarantine
    let assessment = assessment_of("create-policy.json");
    let state = state_at(Outcome::Quarantined, &assessment);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the quarantine record, whole
    let record: QuarantineRecord = serde_json::from_value(detail["quarantine"].clone()).unwrap();
    assert_eq!(record, quarantine_of(&assessment));
    assert_eq!(detail["quarantine"]["status"], "applied");
    assert_eq!(detail["quarantine"]["action"]["kind"], "newDefaultVersion");
    assert!(detail["quarantine"]["quarantinedDocument"]["sha256"].is_string());
}

#[test]
fn the_event_detail_carries_the_approval() {
    // GIVEN the state of a denied quarantine
    let state = state_at(Outcome::Kept, &assessment_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Kept, &state, EXECUTION);
    // THEN it carries the decision record
    let approval: DecisionRecord = serde_json::from_value(detail["approval"].clone()).unwrap();
    assert_eq!(approval, decision(Decision::Deny));
}

#[test]
fn the_event_detail_carries_the_restore() {
    // GIVEN the state of an approved, restored quarantine
    let state = state_at(Outcome::Restored, &assessment_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Restored, &state, EXECUTION);
    // THEN it carries the restore
    assert_eq!(detail["restore"]["status"], "restored");
}

#[test]
fn the_event_detail_carries_the_original_document() {
    // GIVEN the state of a quarantine
    let assessment = assessment_of("create-policy.json");
    let state = state_at(Outcome::Quarantined, &assessment);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it names the original document in the document store: its SHA-256 and size
    assert_eq!(
        detail["originalDocument"],
        json!(assessment.analysed().unwrap().document)
    );
}

#[test]
fn the_event_detail_carries_the_quarantines_original_document_over_the_incidents() {
    // GIVEN a quarantine made on a newer document than the event's (the policy changed again)
    let assessment = assessment_of("create-policy.json");
    let mut quarantine = quarantine_of(&assessment);
    let newer = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::acme-pipeline-staging"}]}"#;
    applied_mut(&mut quarantine).original_document = DocumentRef::of(newer);
    let state = state(json!({"incident": assessment, "quarantine": quarantine}));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN the original document is the one quarantined, which a restore would put back
    assert_eq!(
        detail["originalDocument"]["sha256"],
        DocumentRef::of(newer).sha256
    );
}

#[test]
fn the_failed_event_detail_carries_the_error() {
    // GIVEN the state of a workflow caught on an error
    let state = state_at(Outcome::Failed, &assessment_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN it carries the error as caught
    assert_eq!(detail["error"], failed_error());
}
