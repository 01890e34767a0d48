//! The outcome notifications (SNS) and events (EventBridge), from records built the way the
//! workflow builds them: the changes are read from the real-shaped fixtures in
//! `tests/fixtures/events/`, their documents analysed by the policy engine, and the quarantine
//! records written by hand. States go through JSON, as the state machine passes them.

use std::collections::HashSet;

use incident::outcome::{event_detail, notification};
use incident::{
    Approval, ApprovalRequest, Decision, DeletedVersion, Incident, Outcome, OutcomeState,
    PolicyChange, QuarantineAction, QuarantineRecord, QuarantineStatus, Reading, RestoreRecord,
    RestoreStatus, Target, TaskToken, Verdict, approval_request_notification, read_event,
};
use policy_engine::{Catalog, Policy, PolicyKind, RestrictedActions, analyse, decode, plan};
use serde_json::{Value, json};

/// The role iam-sentinel writes policies with (its quarantines and restores).
const OWN_ROLE: &str = "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer";

/// The deployment's restricted actions, as in the fixtures' README.
const RESTRICTED: &str = "s3:DeleteBucket,s3:DeleteObject";

const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:iam-sentinel-remediation:47e675e7-a06b-499a-961b-2284a99aba5a";

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:sts::123456789012:assumed-role/DevOpsRole/bob";

const OUTCOMES: [Outcome; 8] = [
    Outcome::Quarantined,
    Outcome::Restored,
    Outcome::RestoreSkipped,
    Outcome::Kept,
    Outcome::TimedOut,
    Outcome::Clean,
    Outcome::Superseded,
    Outcome::Failed,
];

// ---------------------------------------------------------------------------------------------
// Records, built as the workflow builds them
// ---------------------------------------------------------------------------------------------

fn read_fixture(dir: &str, name: &str) -> String {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/").to_owned() + dir + "/" + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&read_fixture("events", name)).expect("the fixture is JSON")
}

fn change_of_event(event: &Value) -> PolicyChange {
    match read_event(event, OWN_ROLE) {
        Ok(Reading::Change(change)) => *change,
        other => panic!("expected a policy change, got {other:?}"),
    }
}

fn change_of(name: &str) -> PolicyChange {
    change_of_event(&fixture(name))
}

fn restricted(list: &str) -> RestrictedActions {
    RestrictedActions::parse(list, Catalog::embedded()).expect("valid restricted actions")
}

/// What the Analyse step returns for `change` once it has its `document` (from the event, or,
/// for attachments and SetDefaultPolicyVersion, from IAM).
fn analysed(
    change: PolicyChange,
    document: &str,
    version_id: Option<&str>,
    list: &str,
) -> Incident {
    let json = decode(document).expect("the document decodes").into_owned();
    let policy = Policy::parse(&json).expect("the document is a policy");
    let analysis = analyse(&policy, &restricted(list), Catalog::embedded());
    let verdict = if analysis.grants_restricted() {
        Verdict::Restricted
    } else {
        Verdict::Clean
    };
    Incident {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict,
        notify: true,
        ignored_reason: None,
        restricted_actions: list.to_owned(),
        document: Some(json),
        version_id: version_id.map(str::to_owned).or(change.version_id.clone()),
        findings: analysis.findings,
        change: Some(change),
    }
}

/// The incident of an event that carries its document.
fn incident_of(name: &str) -> Incident {
    let change = change_of(name);
    let document = change
        .document
        .clone()
        .expect("the event carries a document");
    analysed(change, &document, None, RESTRICTED)
}

/// bob attaching AdministratorAccess to data-pipeline, with the document read from IAM.
fn attachment_incident() -> Incident {
    let document = read_fixture("policies", "administrator-access.json");
    analysed(
        change_of("attach-role-policy.json"),
        &document,
        Some("v1"),
        RESTRICTED,
    )
}

/// The Quarantine step's record for a restricted incident, written by hand (the quarantined
/// document is the engine's plan).
fn quarantine_of(incident: &Incident) -> QuarantineRecord {
    let change = incident.change.as_ref().expect("a change");
    let document = incident.document.clone().expect("a document");
    let policy = Policy::parse(&document).expect("a policy");
    let plan_for = |kind: PolicyKind| {
        plan(
            &policy,
            &restricted(RESTRICTED),
            Catalog::embedded(),
            kind.size_limit(),
        )
        .expect("the quarantine fits")
    };
    let (action, quarantined) = match &change.target {
        Target::ManagedPolicy { policy_arn } => (
            QuarantineAction::NewDefaultVersion {
                policy_arn: policy_arn.clone(),
                offending_version_id: incident.version_id.clone().expect("a version"),
                quarantine_version_id: "v2".into(),
                deleted_version: None,
            },
            Some(plan_for(PolicyKind::Managed)),
        ),
        Target::InlinePolicy {
            principal,
            policy_name,
        } => (
            QuarantineAction::InlineRewritten {
                principal: principal.clone(),
                policy_name: policy_name.clone(),
            },
            Some(plan_for(PolicyKind::RoleInline)),
        ),
        Target::Attachment {
            principal,
            policy_arn,
        } => (
            QuarantineAction::Detached {
                principal: principal.clone(),
                policy_arn: policy_arn.clone(),
            },
            None,
        ),
    };
    QuarantineRecord {
        status: QuarantineStatus::Applied,
        reason: None,
        action: Some(action),
        original_document: Some(document),
        quarantined_document: quarantined.as_ref().map(|q| q.policy.to_json()),
        changes: quarantined.map(|q| q.changes).unwrap_or_default(),
        findings: incident.findings.clone(),
    }
}

fn approval(decision: Decision) -> Approval {
    Approval {
        decision,
        decided_at: Some("2026-11-21T09:47:12Z".into()),
        source_ip: Some("198.51.100.77".into()),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into(),
        ),
        comment: Some("needed for the bucket migration, OPS-1234".into()),
    }
}

/// The state as the state machine passes it: JSON, read back into an `OutcomeState`.
fn state(json: Value) -> OutcomeState {
    serde_json::from_value(json).expect("the state deserializes")
}

/// The state at `outcome` for a restricted incident, along the workflow's path to it.
fn state_at(outcome: Outcome, incident: &Incident) -> OutcomeState {
    let quarantine = quarantine_of(incident);
    match outcome {
        Outcome::Quarantined => state(json!({"incident": incident, "quarantine": quarantine})),
        Outcome::Restored => state(json!({
            "incident": incident,
            "quarantine": quarantine,
            "approval": approval(Decision::Approve),
            "restore": RestoreRecord {
                status: RestoreStatus::Restored,
                detail: "v1 is the default version again; quarantine version v2 deleted".into(),
            },
        })),
        Outcome::RestoreSkipped => state(json!({
            "incident": incident,
            "quarantine": quarantine,
            "approval": approval(Decision::Approve),
            "restore": RestoreRecord {
                status: RestoreStatus::Skipped,
                detail: "the default version is now v3, not the quarantine version v2".into(),
            },
        })),
        Outcome::Kept => state(json!({
            "incident": incident,
            "quarantine": quarantine,
            "approval": approval(Decision::Deny),
        })),
        Outcome::TimedOut => state(json!({
            "incident": incident,
            "quarantine": quarantine,
            "error": {"Error": "States.Timeout", "Cause": "The task timed out."},
        })),
        Outcome::Clean => {
            // The same change, deployed with a restricted list it does not touch; or, when it
            // grants everything (AdministratorAccess), a read-only document instead.
            let change = incident.change.clone().expect("a change");
            let document = incident.document.clone().expect("a document");
            let mut clean = analysed(change.clone(), &document, None, "kms:ScheduleKeyDeletion");
            if clean.verdict != Verdict::Clean {
                let read_only = read_fixture("policies", "read-only-reports-bucket.json");
                clean = analysed(change, &read_only, None, RESTRICTED);
            }
            assert_eq!(clean.verdict, Verdict::Clean);
            state(json!({"incident": clean}))
        }
        Outcome::Superseded => state(json!({
            "incident": incident,
            "quarantine": QuarantineRecord {
                status: QuarantineStatus::NotNeeded,
                reason: Some("the policy no longer grants a restricted action".into()),
                action: None,
                original_document: None,
                quarantined_document: None,
                changes: Vec::new(),
                findings: Vec::new(),
            },
        })),
        Outcome::Failed => state(json!({
            "incident": incident,
            "error": failed_error(),
        })),
    }
}

/// A Lambda error as Step Functions catches it (`ResultPath: "$.error"`).
fn failed_error() -> Value {
    json!({
        "Error": "PolicyConflict",
        "Cause": "{\"errorMessage\":\"my-bad-policy-aws-5-mins has a newer default version (v3) than the one analysed (v1)\",\"errorType\":\"PolicyConflict\"}",
    })
}

/// The text of a body section, from its title line to the next blank line.
fn section<'b>(body: &'b str, title: &str) -> &'b str {
    let start = body
        .find(&format!("\n{title}\n"))
        .unwrap_or_else(|| panic!("no {title} section in:\n{body}"))
        + title.len()
        + 2;
    let rest = &body[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// A name of IAM's maximum length (128 characters), made of the characters IAM allows.
fn very_long_name() -> String {
    let name: String = "data-platform.s3_lifecycle+cleanup=staging,eu@team-"
        .repeat(3)
        .chars()
        .take(128)
        .collect();
    assert_eq!(name.len(), 128);
    name
}

/// Restricted incidents on a managed policy, an inline policy and an attachment, each with a
/// very long policy name.
fn incidents_with_very_long_names() -> Vec<(Incident, String)> {
    let name = very_long_name();

    let mut managed = fixture("create-policy.json");
    managed["detail"]["requestParameters"]["policyName"] = json!(name);
    managed["detail"]["responseElements"]["policy"]["arn"] =
        json!(format!("arn:aws:iam::123456789012:policy/{name}"));

    let mut inline = fixture("put-role-policy.json");
    inline["detail"]["requestParameters"]["policyName"] = json!(name);
    inline["detail"]["requestParameters"]["roleName"] = json!("r".repeat(64));

    let mut attachment = fixture("attach-role-policy.json");
    attachment["detail"]["requestParameters"]["policyArn"] = json!(format!(
        "arn:aws:iam::123456789012:policy/teams/platform/{name}"
    ));

    let document = read_fixture("policies", "administrator-access.json");
    [managed, inline, attachment]
        .iter()
        .map(|event| {
            let change = change_of_event(event);
            let incident = match change.document.clone() {
                Some(document) => analysed(change, &document, None, RESTRICTED),
                None => analysed(change, &document, Some("v1"), RESTRICTED),
            };
            (incident, name.clone())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Detail types
// ---------------------------------------------------------------------------------------------

#[test]
fn every_outcome_has_its_own_detail_type() {
    // GIVEN the seven outcomes
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
        (Outcome::Failed, "failed"),
    ];
    let incident = incident_of("create-policy.json");
    for (outcome, spelling) in spellings {
        // GIVEN the state at an outcome
        let state = state_at(outcome, &incident);
        // WHEN its event detail is built
        let detail = event_detail(outcome, &state, EXECUTION);
        // THEN the outcome is spelled as publish-outcome's input spells it
        assert_eq!(detail["outcome"], spelling);
        assert_eq!(
            serde_json::from_value::<Outcome>(json!(spelling)).unwrap(),
            outcome
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Subjects
// ---------------------------------------------------------------------------------------------

#[test]
fn the_subject_names_the_managed_policy() {
    let incident = incident_of("create-policy.json");
    for outcome in OUTCOMES {
        // GIVEN the state at an outcome of alice's CreatePolicy
        let state = state_at(outcome, &incident);
        // WHEN its notification is built
        let subject = notification(outcome, &state, EXECUTION).subject;
        // THEN the subject names the policy
        assert!(
            subject.contains("my-bad-policy-aws-5-mins"),
            "{outcome:?}: {subject}"
        );
    }
}

#[test]
fn the_subject_names_the_inline_policy_and_its_principal() {
    // GIVEN the quarantine of alice's PutRolePolicy
    let incident = incident_of("put-role-policy.json");
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its notification is built
    let subject = notification(Outcome::Quarantined, &state, EXECUTION).subject;
    // THEN the subject names the inline policy and the role
    assert!(subject.contains("pipeline-s3-access"), "{subject}");
    assert!(subject.contains("role data-pipeline"), "{subject}");
}

#[test]
fn the_subject_names_the_attached_policy_and_its_principal() {
    // GIVEN the quarantine of bob's AttachRolePolicy of AdministratorAccess
    let incident = attachment_incident();
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its notification is built
    let subject = notification(Outcome::Quarantined, &state, EXECUTION).subject;
    // THEN the subject names the policy and the role
    assert!(subject.contains("AdministratorAccess"), "{subject}");
    assert!(subject.contains("role data-pipeline"), "{subject}");
}

#[test]
fn the_subject_is_under_100_characters_for_a_very_long_policy_name() {
    for (incident, _) in incidents_with_very_long_names() {
        for outcome in OUTCOMES {
            // GIVEN the state at an outcome of a change to a policy with a 128-character name
            let state = state_at(outcome, &incident);
            // WHEN its notification is built
            let subject = notification(outcome, &state, EXECUTION).subject;
            // THEN SNS accepts the subject's length (under 100 characters)
            assert!(
                subject.chars().count() < 100,
                "{outcome:?}: {} {subject}",
                subject.len()
            );
        }
    }
}

#[test]
fn the_subject_is_printable_ascii_for_a_very_long_policy_name() {
    for (incident, _) in incidents_with_very_long_names() {
        for outcome in OUTCOMES {
            // GIVEN the state at an outcome of a change to a policy with a 128-character name
            let state = state_at(outcome, &incident);
            // WHEN its notification is built
            let subject = notification(outcome, &state, EXECUTION).subject;
            // THEN the subject is ASCII, with no line break or control character (SNS's rules)
            assert!(
                subject
                    .chars()
                    .all(|c| c.is_ascii() && !c.is_ascii_control()),
                "{outcome:?}: {subject:?}"
            );
        }
    }
}

#[test]
fn the_subject_of_a_very_long_policy_name_still_names_the_policy() {
    for (incident, name) in incidents_with_very_long_names() {
        for outcome in OUTCOMES {
            // GIVEN the state at an outcome of a change to a policy with a 128-character name
            let state = state_at(outcome, &incident);
            // WHEN its notification is built
            let subject = notification(outcome, &state, EXECUTION).subject;
            // THEN the subject keeps the beginning of the name, and shows it was cut
            assert!(subject.contains(&name[..20]), "{outcome:?}: {subject}");
            assert!(subject.ends_with("..."), "{outcome:?}: {subject}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

#[test]
fn the_notification_names_who_made_the_change() {
    // GIVEN the quarantine of alice's CreatePolicy, and of bob's PutGroupPolicy
    for (name, actor, identity_type) in [
        ("create-policy.json", ALICE, "IAMUser"),
        ("put-group-policy.json", BOB, "AssumedRole"),
    ] {
        let state = state_at(Outcome::Quarantined, &incident_of(name));
        // WHEN its notification is built
        let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
        // THEN the body names the actor by ARN, and the kind of identity
        let change = section(&body, "Change");
        assert!(
            change.contains(&format!("by {actor} ({identity_type})")),
            "{change}"
        );
    }
}

#[test]
fn the_notification_names_the_root_user_when_root_made_the_change() {
    // GIVEN the quarantine of root's CreatePolicy
    let state = state_at(
        Outcome::Quarantined,
        &incident_of("create-policy-by-root.json"),
    );
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body names root
    assert!(
        body.contains("by arn:aws:iam::123456789012:root (Root)"),
        "{body}"
    );
}

#[test]
fn the_notification_says_when_the_change_was_made() {
    // GIVEN the quarantine of alice's CreatePolicy at 2026-11-21T09:30:00Z
    let state = state_at(Outcome::Quarantined, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body gives the event time
    assert!(
        section(&body, "Change").contains("at 2026-11-21T09:30:00Z"),
        "{body}"
    );
}

#[test]
fn the_notification_says_where_the_change_came_from() {
    // GIVEN the quarantine of alice's CreatePolicy from 203.0.113.24 with the AWS CLI
    let state = state_at(Outcome::Quarantined, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body gives the source IP and the user agent
    let change = section(&body, "Change");
    assert!(change.contains("from 203.0.113.24"), "{change}");
    assert!(change.contains("(aws-cli/2.22.4 "), "{change}");
}

#[test]
fn the_notification_says_what_changed() {
    // GIVEN the quarantine of alice's PutRolePolicy
    let state = state_at(Outcome::Quarantined, &incident_of("put-role-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body names the call and its target
    assert!(
        section(&body, "Change")
            .contains("PutRolePolicy on inline policy pipeline-s3-access of role data-pipeline"),
        "{body}"
    );
}

#[test]
fn the_notification_names_each_restricted_action_found_and_its_statement() {
    // GIVEN the quarantine of alice's PutRolePolicy, whose statement 1 (CleanUpStaging) grants
    // s3:Delete*, so both restricted actions
    let incident = incident_of("put-role-policy.json");
    assert_eq!(incident.findings.len(), 1);
    assert_eq!(incident.findings[0].statement, 1);
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body names each restricted action, with the statement and its Sid
    let found = section(&body, "Restricted actions granted");
    for action in ["s3:DeleteBucket", "s3:DeleteObject"] {
        assert!(
            found.contains(&format!("statement 1 (Sid CleanUpStaging): {action} - ")),
            "{found}"
        );
    }
    // AND the clean statement 0 (ReadRawData) is not listed
    assert!(!found.contains("ReadRawData"), "{found}");
}

#[test]
fn the_notification_explains_each_restricted_action_found() {
    // GIVEN the quarantine of alice's CreatePolicy, which names s3:DeleteBucket exactly
    let incident = incident_of("create-policy.json");
    let hit = &incident.findings[0].hits[0];
    assert_eq!(hit.restricted, "s3:DeleteBucket");
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body gives the engine's explanation of the hit
    assert!(!hit.explanation.is_empty());
    assert!(
        body.contains(&format!(
            "statement 0 (Sid VisualEditor0): s3:DeleteBucket - {}",
            hit.explanation
        )),
        "{body}"
    );
}

#[test]
fn the_notification_says_a_new_default_version_quarantines_a_managed_policy() {
    // GIVEN the quarantine of alice's CreatePolicy by a new default version v2
    let state = state_at(Outcome::Quarantined, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body says what was done
    assert_eq!(
        section(&body, "Quarantine"),
        "  new default version v2 without the restricted grants; v1 kept as a non-default version"
    );
}

#[test]
fn the_notification_says_which_version_was_deleted_to_make_room() {
    // GIVEN a managed policy quarantined as v6 after deleting v1 (IAM keeps at most five)
    let incident = incident_of("create-policy-version-default.json");
    let mut quarantine = quarantine_of(&incident);
    quarantine.action = Some(QuarantineAction::NewDefaultVersion {
        policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access".into(),
        offending_version_id: "v5".into(),
        quarantine_version_id: "v6".into(),
        deleted_version: Some(DeletedVersion {
            version_id: "v1".into(),
            document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#.into(),
        }),
    });
    let state = state(json!({"incident": incident, "quarantine": quarantine}));
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body says v6 is the quarantine, v5 was kept, and v1 was deleted
    let done = section(&body, "Quarantine");
    assert!(done.contains("new default version v6"), "{done}");
    assert!(done.contains("v5 kept as a non-default version"), "{done}");
    assert!(
        done.contains("version v1 was deleted to make room"),
        "{done}"
    );
}

#[test]
fn the_notification_says_an_inline_policy_was_rewritten() {
    // GIVEN the quarantine of alice's PutRolePolicy
    let state = state_at(Outcome::Quarantined, &incident_of("put-role-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body says the inline policy was rewritten
    assert_eq!(
        section(&body, "Quarantine"),
        "  inline policy pipeline-s3-access rewritten without the restricted grants"
    );
}

#[test]
fn the_notification_says_an_attached_policy_was_detached() {
    // GIVEN the quarantine of bob's AttachRolePolicy of AdministratorAccess
    let state = state_at(Outcome::Quarantined, &attachment_incident());
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body says the policy was detached from the role
    assert_eq!(
        section(&body, "Quarantine"),
        "  AdministratorAccess detached from role data-pipeline"
    );
}

#[test]
fn the_notification_contains_the_original_document() {
    for name in [
        "create-policy.json",
        "put-role-policy.json",
        "put-user-policy.json",
    ] {
        // GIVEN a quarantined change
        let incident = incident_of(name);
        let state = state_at(Outcome::Quarantined, &incident);
        // WHEN its notification is built
        let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
        // THEN the body holds the original document (as JSON, pretty-printed), not the
        // quarantined one
        let shown: Value = serde_json::from_str(section(&body, "Original document"))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{body}"));
        let original: Value = serde_json::from_str(incident.document.as_deref().unwrap()).unwrap();
        assert_eq!(shown, original, "{name}");
    }
}

#[test]
fn the_notification_of_every_outcome_contains_the_original_document() {
    let incident = incident_of("create-policy.json");
    let original: Value = serde_json::from_str(incident.document.as_deref().unwrap()).unwrap();
    for outcome in OUTCOMES {
        // GIVEN the state at an outcome, wherever the workflow got to
        let state = state_at(outcome, &incident);
        // WHEN its notification is built
        let body = notification(outcome, &state, EXECUTION).body;
        // THEN the body holds the original document, so it can be restored by hand
        let shown: Value = serde_json::from_str(section(&body, "Original document"))
            .unwrap_or_else(|e| panic!("{outcome:?}: {e}\n{body}"));
        assert_eq!(shown, original, "{outcome:?}");
    }
}

#[test]
fn the_notification_gives_the_execution() {
    // GIVEN the state at any outcome
    let incident = incident_of("create-policy.json");
    for outcome in OUTCOMES {
        let state = state_at(outcome, &incident);
        // WHEN its notification is built
        let body = notification(outcome, &state, EXECUTION).body;
        // THEN the body ends with the execution's ARN
        assert!(
            body.ends_with(&format!("Execution: {EXECUTION}\n")),
            "{outcome:?}"
        );
    }
}

#[test]
fn the_failed_notification_includes_the_errors_error_and_cause() {
    // GIVEN the state of a workflow caught on a PolicyConflict
    let state = state_at(Outcome::Failed, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let notification = notification(Outcome::Failed, &state, EXECUTION);
    // THEN the subject says it failed, and the body gives the Error and the Cause
    assert!(
        notification.subject.contains("FAILED"),
        "{}",
        notification.subject
    );
    let error = section(&notification.body, "Error");
    assert_eq!(
        error,
        format!(
            "  PolicyConflict: {}",
            failed_error()["Cause"].as_str().unwrap()
        )
    );
}

#[test]
fn the_timed_out_notification_says_nobody_decided() {
    // GIVEN the state of an approval that timed out
    let state = state_at(Outcome::TimedOut, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let notification = notification(Outcome::TimedOut, &state, EXECUTION);
    // THEN it says the quarantine stays, and gives the timeout
    assert!(
        notification.subject.contains("No decision in time"),
        "{}",
        notification.subject
    );
    assert!(
        notification.body.contains("the quarantine stays"),
        "{}",
        notification.body
    );
    assert!(section(&notification.body, "Error").contains("States.Timeout"));
}

#[test]
fn the_restored_notification_gives_the_decision_and_the_restore() {
    // GIVEN the state of an approved, restored quarantine
    let state = state_at(Outcome::Restored, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Restored, &state, EXECUTION).body;
    // THEN the body gives who decided what, when, from where, with what browser and why, and
    // what was restored
    assert_eq!(
        section(&body, "Decision"),
        "  Approve at 2026-11-21T09:47:12Z from 198.51.100.77 (Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0): \"needed for the bucket migration, OPS-1234\""
    );
    assert_eq!(
        section(&body, "Restore"),
        "  v1 is the default version again; quarantine version v2 deleted"
    );
}

#[test]
fn the_kept_notification_gives_the_denial() {
    // GIVEN the state of a denied quarantine
    let state = state_at(Outcome::Kept, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Kept, &state, EXECUTION).body;
    // THEN the body gives the denial
    assert!(
        section(&body, "Decision").starts_with("  Deny at 2026-11-21T09:47:12Z"),
        "{body}"
    );
}

#[test]
fn the_superseded_notification_gives_the_reason_nothing_was_done() {
    // GIVEN the state of a change superseded before the quarantine
    let state = state_at(Outcome::Superseded, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let body = notification(Outcome::Superseded, &state, EXECUTION).body;
    // THEN the body gives the quarantine step's reason
    assert_eq!(
        section(&body, "Quarantine"),
        "  the policy no longer grants a restricted action"
    );
}

#[test]
fn the_clean_notification_lists_no_restricted_action() {
    // GIVEN the state of a clean change
    let state = state_at(Outcome::Clean, &incident_of("create-policy.json"));
    // WHEN its notification is built
    let notification = notification(Outcome::Clean, &state, EXECUTION);
    // THEN it says clean, and lists no restricted action and no quarantine
    assert!(
        notification.subject.contains("clean"),
        "{}",
        notification.subject
    );
    assert!(
        !notification.body.contains("Restricted actions granted"),
        "{}",
        notification.body
    );
    assert!(
        !notification.body.contains("\nQuarantine\n"),
        "{}",
        notification.body
    );
}

// ---------------------------------------------------------------------------------------------
// Event details
// ---------------------------------------------------------------------------------------------

#[test]
fn the_event_detail_carries_the_outcome_and_the_execution() {
    // GIVEN the state of a quarantine
    let state = state_at(Outcome::Quarantined, &incident_of("create-policy.json"));
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
    let incident = incident_of("put-group-policy.json");
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the change, whole
    let change: PolicyChange = serde_json::from_value(detail["change"].clone()).unwrap();
    assert_eq!(change, change_of("put-group-policy.json"));
    assert_eq!(detail["change"]["actor"]["arn"], BOB);
    assert_eq!(detail["change"]["target"]["kind"], "inlinePolicy");
}

#[test]
fn the_event_detail_carries_the_findings() {
    // GIVEN the state of alice's quarantined PutRolePolicy
    let incident = incident_of("put-role-policy.json");
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the findings
    assert_eq!(
        detail["findings"],
        serde_json::to_value(&incident.findings).unwrap()
    );
    assert_eq!(detail["findings"][0]["sid"], "CleanUpStaging");
}

#[test]
fn the_event_detail_carries_the_incidents_findings_before_any_quarantine() {
    // GIVEN the state of a failure before the quarantine
    let incident = incident_of("create-policy.json");
    let state = state_at(Outcome::Failed, &incident);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN it carries the incident's findings
    assert_eq!(
        detail["findings"],
        serde_json::to_value(&incident.findings).unwrap()
    );
}

#[test]
fn the_event_detail_carries_the_quarantine_record() {
    // GIVEN the state of a quarantine
    let incident = incident_of("create-policy.json");
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the quarantine record, whole
    let record: QuarantineRecord = serde_json::from_value(detail["quarantine"].clone()).unwrap();
    assert_eq!(record, quarantine_of(&incident));
    assert_eq!(detail["quarantine"]["action"]["kind"], "newDefaultVersion");
    assert!(detail["quarantine"]["quarantinedDocument"].is_string());
}

#[test]
fn the_event_detail_carries_the_approval() {
    // GIVEN the state of a denied quarantine
    let state = state_at(Outcome::Kept, &incident_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Kept, &state, EXECUTION);
    // THEN it carries the approval
    let approval: Approval = serde_json::from_value(detail["approval"].clone()).unwrap();
    assert_eq!(approval, self::approval(Decision::Deny));
}

#[test]
fn the_event_detail_carries_the_restore() {
    // GIVEN the state of an approved, restored quarantine
    let state = state_at(Outcome::Restored, &incident_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Restored, &state, EXECUTION);
    // THEN it carries the restore
    assert_eq!(detail["restore"]["status"], "restored");
}

#[test]
fn the_event_detail_carries_the_original_document() {
    // GIVEN the state of a quarantine
    let incident = incident_of("create-policy.json");
    let state = state_at(Outcome::Quarantined, &incident);
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN it carries the original document, as text, exactly
    assert_eq!(detail["originalDocument"], incident.document.unwrap());
}

#[test]
fn the_event_detail_carries_the_quarantines_original_document_over_the_incidents() {
    // GIVEN a quarantine made on a newer document than the event's (the policy changed again)
    let incident = incident_of("create-policy.json");
    let mut quarantine = quarantine_of(&incident);
    let newer = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::acme-pipeline-staging"}]}"#;
    quarantine.original_document = Some(newer.into());
    let state = state(json!({"incident": incident, "quarantine": quarantine}));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Quarantined, &state, EXECUTION);
    // THEN the original document is the one quarantined, which a restore would put back
    assert_eq!(detail["originalDocument"], newer);
}

#[test]
fn the_failed_event_detail_carries_the_error() {
    // GIVEN the state of a workflow caught on an error
    let state = state_at(Outcome::Failed, &incident_of("create-policy.json"));
    // WHEN its event detail is built
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN it carries the error as caught
    assert_eq!(detail["error"], failed_error());
}

// ---------------------------------------------------------------------------------------------
// Failures before any incident
// ---------------------------------------------------------------------------------------------

/// The state when Analyse failed: no incident, only the caught error.
fn analyse_failed_error() -> Value {
    json!({
        "Error": "InvalidInput",
        "Cause": "{\"errorMessage\":\"the event is not an EventBridge event: missing field `detail`\",\"errorType\":\"InvalidInput\"}",
    })
}

#[test]
fn a_state_with_only_an_error_still_gives_a_notification_saying_it_failed() {
    // GIVEN the state of a workflow whose Analyse step failed: only {"error": {...}}
    let state = state(json!({"error": analyse_failed_error()}));
    // WHEN its notification is built
    let notification = notification(Outcome::Failed, &state, EXECUTION);
    // THEN it says it failed, on an unknown policy, with the error, and no document
    assert!(
        notification.subject.contains("FAILED"),
        "{}",
        notification.subject
    );
    assert!(
        notification.subject.contains("unknown policy"),
        "{}",
        notification.subject
    );
    assert!(notification.subject.len() < 100);
    let error = section(&notification.body, "Error");
    assert!(error.starts_with("  InvalidInput: "), "{error}");
    assert!(error.contains("missing field `detail`"), "{error}");
    assert!(
        !notification.body.contains("Original document"),
        "{}",
        notification.body
    );
    assert!(
        notification
            .body
            .ends_with(&format!("Execution: {EXECUTION}\n"))
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
    let notification = notification(Outcome::Failed, &state, EXECUTION);
    // THEN it still says it failed, with an unknown error
    assert!(notification.subject.contains("FAILED"));
    assert!(section(&notification.body, "Error").contains("unknown error"));
}

#[test]
fn a_state_that_still_holds_the_execution_input_gives_a_notification() {
    // GIVEN the state when Analyse failed with its Catch's ResultPath "$.error": the execution
    // input (the EventBridge event) with the error added
    let mut input = fixture("create-policy.json");
    input["error"] = analyse_failed_error();
    let state = state(input);
    // WHEN its notification is built
    let notification = notification(Outcome::Failed, &state, EXECUTION);
    // THEN it says it failed, with the error
    assert!(
        notification.subject.contains("FAILED"),
        "{}",
        notification.subject
    );
    assert!(section(&notification.body, "Error").starts_with("  InvalidInput: "));
}

#[test]
fn a_failed_analysis_still_names_the_policy_from_the_execution_input() {
    // GIVEN the state when Analyse failed: the CloudTrail event plus the error
    let mut input = fixture("create-policy.json");
    input["error"] = analyse_failed_error();
    let state = state(input);
    // WHEN its notification and event are built
    let notification = notification(Outcome::Failed, &state, EXECUTION);
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN both name the policy and who changed it
    assert!(
        notification.subject.contains("my-bad-policy-aws-5-mins"),
        "{}",
        notification.subject
    );
    assert!(
        notification
            .body
            .contains("arn:aws:iam::123456789012:user/alice"),
        "{}",
        notification.body
    );
    assert_eq!(detail["change"]["eventName"], "CreatePolicy");
}

#[test]
fn a_restore_that_was_skipped_is_not_announced_as_restored() {
    // GIVEN the state after an approval whose restore was skipped
    let state = state_at(Outcome::RestoreSkipped, &incident_of("create-policy.json"));
    // WHEN the state machine publishes it as "restored"
    let outcome = Outcome::Restored.as_recorded(&state);
    // THEN it goes out as restore_skipped, saying nothing was restored
    assert_eq!(outcome, Outcome::RestoreSkipped);
    let body = notification(outcome, &state, EXECUTION).body;
    assert!(body.contains("Nothing was restored"), "{body}");
}

#[test]
fn an_approval_without_a_decision_still_gives_a_notification() {
    // GIVEN a state whose approval has no decision, and one with an unknown decision
    for approval in [json!({}), json!({"decision": "maybe"})] {
        let state = OutcomeState::from_value(json!({
            "incident": incident_of("create-policy.json"),
            "approval": approval,
        }));
        // WHEN the kept outcome is built
        let body = notification(Outcome::Kept, &state, EXECUTION).body;
        // THEN the decision reads as unrecognised, and nothing is unreadable
        assert_eq!(
            state.approval.map(|a| a.decision),
            Some(Decision::Unrecognised)
        );
        assert!(state.unreadable.is_empty());
        assert!(body.contains("Unrecognised"), "{body}");
    }
}

#[test]
fn an_unreadable_part_of_the_state_is_reported_not_dropped() {
    // GIVEN a state whose quarantine record is not a record
    let state = OutcomeState::from_value(json!({
        "incident": incident_of("create-policy.json"),
        "quarantine": {"status": "half-done"},
    }));
    // WHEN the failed outcome is built
    let body = notification(Outcome::Failed, &state, EXECUTION).body;
    let detail = event_detail(Outcome::Failed, &state, EXECUTION);
    // THEN the incident is still read, and the bad part is shown as received
    assert!(state.incident.is_some());
    assert!(
        body.contains("Unreadable parts of the workflow state"),
        "{body}"
    );
    assert!(body.contains("half-done"), "{body}");
    assert_eq!(detail["unreadable"].as_array().map(Vec::len), Some(1));
}

// ---------------------------------------------------------------------------------------------
// The approval request email
// ---------------------------------------------------------------------------------------------

const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAaX5/Tx+token+with/slashes=";
const LINK: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/approvals/47e675e7-a06b-499a-961b-2284a99aba5a?key=kZ3v0dF9r8QwYbN1xL2mT6pS4hJ7cA5e";

fn approval_request(incident: Incident) -> ApprovalRequest {
    let quarantine = quarantine_of(&incident);
    ApprovalRequest {
        task_token: TaskToken::new(TOKEN),
        execution_arn: EXECUTION.into(),
        incident,
        quarantine,
        approval_timeout_seconds: 86_400,
    }
}

#[test]
fn the_approval_email_gives_the_change_the_grants_the_quarantine_the_deadline_and_the_link() {
    // GIVEN alice's CreatePolicy, quarantined
    let request = approval_request(incident_of("create-policy.json"));
    // WHEN the approval email is written
    let email = approval_request_notification(&request, LINK, "2026-11-22 09:31:00 UTC");
    // THEN the subject asks for a decision on the policy, and the body says who, what, when,
    // from where, through which statement, what the quarantine did, by when, and where to go
    assert_eq!(
        email.subject,
        "iam-sentinel: approval needed: managed policy my-bad-policy-aws-5-mins"
    );
    assert!(section(&email.body, "Change").contains(ALICE));
    assert!(section(&email.body, "Change").contains("203.0.113.24"));
    assert!(
        section(&email.body, "Restricted actions granted")
            .contains("statement 0 (Sid VisualEditor0): s3:DeleteBucket")
    );
    assert!(section(&email.body, "Quarantine").contains("new default version v2"));
    assert!(
        section(&email.body, "Quarantine").contains("statement 0 (Sid VisualEditor0): removed")
    );
    assert!(
        email
            .body
            .contains("Decide before 2026-11-22 09:31:00 UTC.")
    );
    assert_eq!(email.body.matches(LINK).count(), 1);
}

#[test]
fn the_approval_email_never_contains_the_task_token() {
    for (incident, _) in incidents_with_very_long_names() {
        let email = approval_request_notification(&approval_request(incident), LINK, "soon");
        assert!(!email.body.contains(TOKEN) && !email.subject.contains(TOKEN));
    }
}

#[test]
fn the_approval_email_subject_is_under_100_characters_for_a_very_long_policy_name() {
    for (incident, _) in incidents_with_very_long_names() {
        let email = approval_request_notification(&approval_request(incident), LINK, "soon");
        assert!(email.subject.len() < 100, "{}", email.subject);
        assert!(email.subject.starts_with("iam-sentinel: approval needed: "));
    }
}

#[test]
fn a_task_token_never_shows_in_debug_output() {
    let request = approval_request(incident_of("create-policy.json"));
    assert!(!format!("{request:?}").contains(TOKEN));
}
