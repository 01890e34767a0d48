//! A state that is not what it should be still gives an outcome: a failure before any
//! assessment (only the error, or the execution input and the error), an error of an unusual
//! shape, a decision missing or unknown, a part that cannot be read. Each is reported, never
//! dropped, and never a reason not to notify. The emails are pinned by snapshots in
//! `tests/snapshots/`.

#[macro_use]
mod support;

use incident::{Decision, Outcome, OutcomeState, event_detail, notification};
use serde_json::json;
use support::{EXECUTION, analyse_failed_error, assessment_of, email_text, fixture, state};

// ---------------------------------------------------------------------------------------------
// Failures before any assessment
// ---------------------------------------------------------------------------------------------

#[test]
fn a_state_with_only_an_error_still_gives_a_notification_saying_it_failed() {
    // GIVEN the state of a workflow whose Analyse step failed: only {"error": {...}}
    let state = state(json!({"error": analyse_failed_error()}));
    // WHEN its notification is built
    let email = notification(Outcome::Failed, &state, EXECUTION);
    // THEN it says it failed, on an unknown policy, with the error, and no document
    assert_email!(
        "failed_with_only_an_error",
        "failed: Analyse's Catch with only the error in the state",
        &email,
    );
}

#[test]
fn a_state_with_only_an_error_still_gives_an_event_detail() {
    // GIVEN the state of a workflow whose Analyse step failed: only {"error": {...}}
    let state = state(json!({"error": analyse_failed_error()}));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN it says failed, with the error, and nulls for what was never known
    assert_eq!(detail["outcome"], "failed");
    assert_eq!(detail["error"], analyse_failed_error());
    for key in [
        "incidentId",
        "change",
        "findings",
        "quarantine",
        "approval",
        "originalDocument",
    ] {
        assert!(detail[key].is_null(), "{key}: {}", detail[key]);
    }
}

#[test]
fn an_error_without_error_or_cause_still_gives_a_notification() {
    // GIVEN the state of a failure whose error is not the usual {"Error", "Cause"} object
    let state = state(json!({"error": "States.Runtime"}));
    // WHEN its notification is built
    let email = notification(Outcome::Failed, &state, EXECUTION);
    // THEN it still says it failed, with an unknown error
    assert_email!(
        "failed_with_an_error_of_another_shape",
        "failed: the error is the string \"States.Runtime\", not {Error, Cause}",
        &email,
    );
}

#[test]
fn a_failed_analysis_still_names_the_policy_from_the_execution_input() {
    // GIVEN the state when Analyse failed with its Catch's ResultPath "$.error": the execution
    // input (the CloudTrail event of alice's CreatePolicy) with the error added, here IAM's
    // throttling past the last retry
    let mut input = fixture("create-policy.json");
    input["error"] = json!({
        "Error": "Retryable",
        "Cause": "{\"errorMessage\":\"GetPolicyVersion: Throttling: Rate exceeded\",\"errorType\":\"Retryable\"}",
    });
    let state = state(input);
    // WHEN its notification and event are built
    let email = notification(Outcome::Failed, &state, EXECUTION);
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN both name the policy and who changed it, and the email gives the error
    assert_email!(
        "failed_analysis_with_the_execution_input",
        "failed: Analyse's Catch on the execution input (alice's CreatePolicy)",
        &email,
    );
    assert_eq!(detail["change"]["eventName"], "CreatePolicy");
    assert_eq!(
        detail["change"]["target"]["policyArn"],
        "arn:aws:iam::123456789012:policy/my-bad-policy-aws-5-mins"
    );
    assert_eq!(
        detail["change"]["actor"]["arn"],
        "arn:aws:iam::123456789012:user/alice"
    );
}

// ---------------------------------------------------------------------------------------------
// Parts missing or unreadable
// ---------------------------------------------------------------------------------------------

#[test]
fn an_approval_without_a_decision_still_gives_a_notification() {
    for (case, approval) in [
        ("no decision", json!({})),
        ("an unknown decision", json!({"decision": "maybe"})),
    ] {
        // GIVEN a state whose approval has the case's decision
        let state = OutcomeState::from_value(json!({
            "incident": assessment_of("create-policy.json"),
            "approval": approval,
        }));
        // WHEN the kept outcome is built
        let body = notification(Outcome::Kept, &state, EXECUTION).body;
        // THEN the decision reads as unrecognised, not taken on the page (it carries no
        // proof), and nothing is unreadable
        assert_eq!(
            state.approval.map(|a| a.decision),
            Some(Decision::Unrecognised),
            "{case}"
        );
        assert!(state.unreadable.is_empty(), "{case}");
        assert!(
            body.contains("\n  Unrecognised (sent to Step Functions without the approval page's proof: not taken on the page) at "),
            "{case}: {body}"
        );
    }
}

#[test]
fn an_unreadable_part_of_the_state_is_reported_not_dropped() {
    // GIVEN a state whose quarantine record is not a record
    let state = OutcomeState::from_value(json!({
        "incident": assessment_of("create-policy.json"),
        "quarantine": {"status": "half-done"},
    }));
    // WHEN the failed outcome is built
    let email = notification(Outcome::Failed, &state, EXECUTION);
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN the assessment is still read, and the bad part is shown as received
    assert!(state.incident.is_some());
    assert_eq!(detail["unreadable"].as_array().map(Vec::len), Some(1));
    assert_eq!(detail["unreadable"][0]["part"], "quarantine");
    assert_email!(
        "failed_with_an_unreadable_quarantine",
        "failed: the quarantine record is {\"status\": \"half-done\"}",
        &email,
    );
}

#[test]
fn an_applied_quarantine_without_its_action_cannot_be_read() {
    // GIVEN a quarantine record that says "applied" without the action to undo or the
    // original (the old records could say that; the typed record cannot)
    let state = OutcomeState::from_value(json!({
        "incident": assessment_of("create-policy.json"),
        "quarantine": {"status": "applied", "findings": []},
    }));
    // WHEN the failed outcome is built
    let body = notification(Outcome::Failed, &state, EXECUTION).body;
    // THEN the record is reported as unreadable, with what was received, not taken as applied
    assert!(state.quarantine.is_none());
    assert_eq!(state.unreadable.len(), 1);
    assert_eq!(state.unreadable[0].part, "quarantine");
    assert!(
        body.contains("Unreadable parts of the workflow state"),
        "{body}"
    );
    assert_eq!(
        state.unreadable[0].received,
        json!({"status": "applied", "findings": []})
    );
}
