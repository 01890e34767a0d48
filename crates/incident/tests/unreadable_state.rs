//! A state that is not what it should be still gives an outcome: a failure before any
//! assessment (only the error, or the execution input and the error), an error of an unusual
//! shape, a decision missing or unknown, a part that cannot be read. Each is reported, never
//! dropped, and never a reason not to notify. The emails are pinned by snapshots in
//! `tests/snapshots/`.

#[macro_use]
mod support;

use incident::{Decision, Outcome, OutcomeState, event_detail, notification};
use serde_json::{Value, json};
use support::{
    EXECUTION, analyse_failed_error, assessment_of, email_text, fixture, read, section, state,
    state_at,
};

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
        "eventFacts",
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

#[test]
fn an_execution_started_by_hand_is_told_without_anything_its_input_claims() {
    // GIVEN the state when Analyse refused an execution the incident starter never recorded:
    // mallory's made-up CreatePolicy, said to be alice's, with the refusal added
    let mut input = fixture("create-policy.json");
    input["error"] = json!({
        "Error": "ForgedStart",
        "Cause": "{\"errorMessage\":\"refused: not this deployment's workflow step: the execution was not started by this deployment's incident starter: it recorded no start under the execution's name\",\"errorType\":\"ForgedStart\"}",
    });
    let state = state(input);
    // WHEN its notification, event and record are built
    let email = notification(Outcome::Failed, &state, EXECUTION);
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN they say it was started by hand and refused, and name neither the policy nor alice
    assert_email!(
        "failed_execution_started_by_hand",
        "failed: Analyse refused an execution started by hand (a made-up CreatePolicy)",
        &email,
    );
    for claim in ["my-bad-policy-aws-5-mins", "alice", "CreatePolicy"] {
        assert!(!email.subject.contains(claim), "{}", email.subject);
        assert!(!email.body.contains(claim), "{}", email.body);
        assert!(!detail.to_string().contains(claim), "{detail}");
    }
    assert!(state.change().is_none() && state.facts().is_none());
}

/// The state when Analyse refused the event `name`: the event, and the error Analyse gave.
fn refused(name: &str) -> Value {
    let mut input = fixture(name);
    let message = read(&input).expect_err("Analyse refuses it").to_string();
    let cause = json!({"errorMessage": message, "errorType": "InvalidInput"});
    input["error"] = json!({"Error": "InvalidInput", "Cause": cause.to_string()});
    input
}

#[test]
fn a_failed_analysis_of_a_malformed_event_names_every_fact_the_event_gives() {
    // (fixture, the subject's target, lines the facts section must hold besides the event's ID
    // and call)
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "malformed/create-policy-no-response.json",
            "my-bad-policy-aws-5-mins, target unreadable",
            &[
                "policyName: my-bad-policy-aws-5-mins",
                "by arn:aws:iam::123456789012:user/alice (IAMUser)",
                "at 2026-11-21T09:30:00Z from 203.0.113.24",
            ],
        ),
        (
            "malformed/attach-role-policy-no-role.json",
            "AdministratorAccess, target unreadable",
            &[
                "policyArn: arn:aws:iam::aws:policy/AdministratorAccess",
                "by arn:aws:sts::123456789012:assumed-role/DevOpsRole/bob (AssumedRole)",
                "at 2026-11-19T22:31:10Z",
            ],
        ),
        (
            "malformed/put-group-policy-error-code-object.json",
            "inline policy admins-break-glass of group admins",
            &[
                "on inline policy admins-break-glass of group admins",
                "by arn:aws:sts::123456789012:assumed-role/DevOpsRole/bob (AssumedRole)",
                "at 2026-11-18T13:47:26Z",
            ],
        ),
    ];
    for (name, subject, lines) in cases {
        // GIVEN the state when Analyse refused a malformed event: the event and the error
        let input = refused(name);
        let state = state(input.clone());
        // WHEN its notification and event are built
        let email = notification(Outcome::Failed, &state, EXECUTION);
        let detail = event_detail(Outcome::Failed, &state, EXECUTION);
        // THEN the subject names the target as far as the event does (never "unknown policy"),
        // the body and the event give the event's ID, call, actor and time
        assert_eq!(
            email.subject,
            format!("iam-sentinel: FAILED: needs a person ({subject})"),
            "{name}"
        );
        let facts = section(
            &email.body,
            "What the event says (it could not be read as a policy change)",
        );
        let detail_of = &input["detail"];
        let event_line = format!(
            "event {} ({})",
            detail_of["eventID"], detail_of["eventName"]
        )
        .replace('"', "");
        for line in lines.iter().copied().chain([event_line.as_str()]) {
            assert!(facts.contains(line), "{name}: no {line:?} in:\n{facts}");
        }
        assert_eq!(
            detail["eventFacts"]["eventId"], input["detail"]["eventID"],
            "{name}"
        );
        assert_eq!(
            detail["eventFacts"]["eventName"], input["detail"]["eventName"],
            "{name}"
        );
        assert_eq!(
            detail["eventFacts"]["actor"]["arn"], input["detail"]["userIdentity"]["arn"],
            "{name}"
        );
        assert!(detail["change"].is_null(), "{name}: {}", detail["change"]);
    }
    // and one such email as a whole
    let input = refused("malformed/create-policy-no-response.json");
    assert_email!(
        "failed_analysis_of_an_event_without_its_target",
        "failed: Analyse refused a CreatePolicy event whose response (the new ARN) is null",
        &notification(Outcome::Failed, &state(input), EXECUTION),
    );
}

#[test]
fn a_change_read_from_an_event_with_facts_of_the_wrong_type_is_told_with_them_noted() {
    // GIVEN a quarantine of a PutRolePolicy whose event had its sourceIPAddress and userAgent
    // of the wrong type
    let assessment = assessment_of("malformed/put-role-policy-origin-not-text.json");
    // WHEN its notification is built
    let email = notification(
        Outcome::Quarantined,
        &state_at(Outcome::Quarantined, &assessment),
        EXECUTION,
    );
    // THEN the change is told as usual, its origin unknown, and what could not be read is named
    assert_email!(
        "quarantined_from_an_event_with_its_origin_not_text",
        "quarantined: the PutRolePolicy event's sourceIPAddress is an array, its userAgent an object",
        &email,
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
