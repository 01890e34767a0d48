//! The outcome notifications (SNS), from records built the way the workflow builds them (see
//! support/mod.rs). What each email says is pinned by a snapshot in `tests/snapshots/`, read as
//! the person who gets it reads it; the plain asserts here are the properties a snapshot cannot
//! show: any policy name gives a subject SNS accepts, and every outcome carries the original
//! document, as JSON that is the original's.

#[macro_use]
mod support;

use incident::{DeletedVersion, Outcome, QuarantineAction, notification};
use serde_json::json;
use support::{
    EXECUTION, OUTCOMES, applied_mut, assessment_of, assessments_with_very_long_names,
    attachment_assessment, boundary_assessment, email_text, membership_assessment, quarantine_of,
    section, spelling, state, state_at, trust_assessment,
};

// ---------------------------------------------------------------------------------------------
// What each outcome tells (snapshots)
// ---------------------------------------------------------------------------------------------

#[test]
fn the_notification_of_each_outcome_for_a_managed_policy() {
    // GIVEN alice's CreatePolicy of my-bad-policy-aws-5-mins, which grants s3:DeleteBucket
    let assessment = assessment_of("create-policy.json");
    // A managed policy is never one of iam-sentinel's own roles: reported grants have their own.
    for outcome in OUTCOMES.into_iter().filter(|o| *o != Outcome::Reported) {
        // WHEN the workflow reaches the outcome and notifies it
        let state = state_at(outcome, &assessment);
        let email = notification(outcome, &state, EXECUTION);
        // THEN the email is the one pinned for it
        assert_email!(
            &format!("managed_policy_{}", spelling(outcome)),
            &format!(
                "{}: alice's CreatePolicy of my-bad-policy-aws-5-mins",
                spelling(outcome)
            ),
            &email,
        );
    }
}

#[test]
fn the_notification_of_an_inline_policy_and_an_attachment() {
    // The outcomes whose text differs from a managed policy's beyond its name: what the
    // quarantine did, and what the restore did or why it did not.
    let cases = [
        (
            "inline_policy",
            "alice's PutRolePolicy of pipeline-s3-access on role data-pipeline",
            assessment_of("put-role-policy.json"),
        ),
        (
            "attachment",
            "bob's AttachRolePolicy of AdministratorAccess to role data-pipeline",
            attachment_assessment(),
        ),
    ];
    for (kind, about, assessment) in cases {
        for outcome in [
            Outcome::Quarantined,
            Outcome::Restored,
            Outcome::RestoreSkipped,
            Outcome::Reported,
        ] {
            // GIVEN the case's change at the outcome
            let state = state_at(outcome, &assessment);
            // WHEN it is notified
            let email = notification(outcome, &state, EXECUTION);
            // THEN the email is the one pinned for it
            assert_email!(
                &format!("{kind}_{}", spelling(outcome)),
                &format!("{}: {about}", spelling(outcome)),
                &email,
            );
        }
    }
}

#[test]
fn the_notification_of_a_group_membership_says_what_was_held_back() {
    // GIVEN alice's AddUserToGroup of carol to admins, which holds AdministratorAccess
    let assessment = membership_assessment();
    for outcome in [
        Outcome::Quarantined,
        Outcome::Restored,
        Outcome::RestoreSkipped,
    ] {
        // WHEN the workflow reaches the outcome and notifies it
        let state = state_at(outcome, &assessment);
        let email = notification(outcome, &state, EXECUTION);
        // THEN the email is the one pinned for it: the membership, what it grants, what was done
        assert_email!(
            &format!("group_membership_{}", spelling(outcome)),
            &format!(
                "{}: alice's AddUserToGroup of carol to admins",
                spelling(outcome)
            ),
            &email,
        );
    }
}

#[test]
fn the_notification_of_a_trust_policy_says_who_may_assume_the_role() {
    for (name, about) in [
        (
            "update-assume-role-policy.json",
            "alice's UpdateAssumeRolePolicy of data-pipeline: another account",
        ),
        (
            "create-role.json",
            "alice's CreateRole of partner-access: anyone",
        ),
    ] {
        // GIVEN a trust policy change, reported
        let state = state(json!({"incident": trust_assessment(name)}));
        // WHEN it is notified
        let email = notification(Outcome::TrustReported, &state, EXECUTION);
        // THEN the email is the one pinned for it: who may assume the role, warnings first
        assert_email!(
            &format!(
                "trust_policy_{}",
                name.trim_end_matches(".json").replace('-', "_")
            ),
            about,
            &email,
        );
    }
}

#[test]
fn the_notification_of_a_deleted_boundary_says_what_was_put_back_and_why() {
    // GIVEN bob's deletion of data-pipeline's boundary, restricted (its inline policy's deletions
    // no longer held back) and quarantined by putting pipeline-boundary back
    let assessment = boundary_assessment();
    for outcome in [
        Outcome::Quarantined,
        Outcome::Restored,
        Outcome::RestoreSkipped,
        Outcome::Kept,
    ] {
        let state = state_at(outcome, &assessment);
        // WHEN it is notified
        let email = notification(outcome, &state, EXECUTION);
        // THEN the email is the one pinned for it
        assert_email!(
            &format!("boundary_{}", spelling(outcome)),
            &format!(
                "{}: bob's DeleteRolePermissionsBoundary on role data-pipeline",
                spelling(outcome)
            ),
            &email,
        );
    }
}

#[test]
fn the_notification_says_which_version_was_deleted_to_make_room() {
    // GIVEN a managed policy quarantined as v6 after deleting v1 (IAM keeps at most five)
    let assessment = assessment_of("create-policy-version-default.json");
    let mut quarantine = quarantine_of(&assessment);
    applied_mut(&mut quarantine).action = QuarantineAction::NewDefaultVersion {
        attached_to: None,
        policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access".into(),
        offending_version_id: "v5".into(),
        quarantine_version_id: "v6".into(),
        deleted_version: Some(Box::new(DeletedVersion {
            version_id: "v1".into(),
            document: incident::DocumentRef::of(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
            ),
        })),
    };
    let state = state(json!({"incident": assessment, "quarantine": quarantine}));
    // WHEN its notification is built
    let email = notification(Outcome::Quarantined, &state, EXECUTION);
    // THEN it says v6 is the quarantine, v5 was kept, and v1 was deleted
    assert_email!(
        "managed_policy_quarantined_at_the_version_limit",
        "quarantined: bob's CreatePolicyVersion of team-s3-access, v1 deleted to make room",
        &email,
    );
}

#[test]
fn the_restore_skipped_notification_says_nothing_was_restored() {
    // GIVEN an approval whose restore was skipped: the policy changed after the quarantine (the
    // state machine routes it to PublishRestoreSkipped; the ASL and the e2e suite specify that)
    let state = state_at(
        Outcome::RestoreSkipped,
        &assessment_of("create-policy.json"),
    );
    // WHEN restore_skipped is notified
    let email = notification(Outcome::RestoreSkipped, &state, EXECUTION);
    // THEN it says nothing was restored, and never that the original is back
    assert!(email.subject.contains("not restored"), "{}", email.subject);
    assert!(
        email.body.contains("Nothing was restored"),
        "{}",
        email.body
    );
    assert!(!email.body.contains("back in force"), "{}", email.body);
}

#[test]
fn the_notification_names_the_root_user_when_root_made_the_change() {
    // GIVEN the quarantine of root's CreatePolicy
    let state = state_at(
        Outcome::Quarantined,
        &assessment_of("create-policy-by-root.json"),
    );
    // WHEN its notification is built
    let body = notification(Outcome::Quarantined, &state, EXECUTION).body;
    // THEN the body names root
    assert!(
        section(&body, "Change").contains("by arn:aws:iam::123456789012:root (Root)"),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Subjects SNS accepts, whatever the policy's name
// ---------------------------------------------------------------------------------------------

#[test]
fn the_subject_is_under_100_characters_for_a_very_long_policy_name() {
    for (case, assessment, _) in assessments_with_very_long_names() {
        for outcome in OUTCOMES {
            // GIVEN the state at an outcome of a change to a policy with a 128-character name
            let state = state_at(outcome, &assessment);
            // WHEN its notification is built
            let subject = notification(outcome, &state, EXECUTION).subject;
            // THEN SNS accepts the subject's length (under 100 characters)
            assert!(
                subject.chars().count() < 100,
                "{case}, {outcome:?}: {} {subject}",
                subject.len()
            );
        }
    }
}

#[test]
fn the_subject_is_printable_ascii_for_a_very_long_policy_name() {
    for (case, assessment, _) in assessments_with_very_long_names() {
        for outcome in OUTCOMES {
            // GIVEN the state at an outcome of a change to a policy with a 128-character name
            let state = state_at(outcome, &assessment);
            // WHEN its notification is built
            let subject = notification(outcome, &state, EXECUTION).subject;
            // THEN the subject is ASCII, with no line break or control character (SNS's rules)
            assert!(
                subject
                    .chars()
                    .all(|c| c.is_ascii() && !c.is_ascii_control()),
                "{case}, {outcome:?}: {subject:?}"
            );
        }
    }
}

#[test]
fn the_subject_of_a_very_long_policy_name_still_names_the_policy() {
    for (case, assessment, name) in assessments_with_very_long_names() {
        for outcome in OUTCOMES {
            // GIVEN the state at an outcome of a change to a policy with a 128-character name
            let state = state_at(outcome, &assessment);
            // WHEN its notification is built
            let subject = notification(outcome, &state, EXECUTION).subject;
            // THEN the subject keeps the beginning of the name, and shows it was cut
            assert!(
                subject.contains(&name[..20]),
                "{case}, {outcome:?}: {subject}"
            );
            assert!(subject.ends_with("..."), "{case}, {outcome:?}: {subject}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The original document, on every path
// ---------------------------------------------------------------------------------------------

/// The "Documents" section's line for the original: its size and SHA-256.
fn original_line(assessment: &incident::Assessment) -> String {
    let document = &assessment.analysed().expect("an analysed change").document;
    format!(
        "  original: {} characters, SHA-256 {}",
        document.characters, document.sha256
    )
}

#[test]
fn the_notification_of_every_outcome_names_the_original_document() {
    let assessment = assessment_of("create-policy.json");
    // A managed policy is never one of iam-sentinel's own roles: reported grants have their own.
    for outcome in OUTCOMES.into_iter().filter(|o| *o != Outcome::Reported) {
        // GIVEN the state at an outcome, wherever the workflow got to
        let state = state_at(outcome, &assessment);
        // WHEN its notification is built
        let body = notification(outcome, &state, EXECUTION).body;
        // THEN the body names the original document in the document store, and how to read it,
        // so it can be restored by hand
        let documents = section(&body, "Documents (kept in the document store, by SHA-256)");
        assert!(
            documents.contains(&original_line(&assessment)),
            "{outcome:?}: {documents}"
        );
        assert!(documents.contains("aws dynamodb get-item"), "{outcome:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The rules file: alert mode and exemptions
// ---------------------------------------------------------------------------------------------

/// alice's CreatePolicy of my-bad-policy-aws-5-mins (s3:DeleteBucket) as Analyse assesses it
/// under `rules` on 2026-12-02: its findings the enforced grants, the rest in `rules`.
fn ruled(
    rules: &str,
    verdict: fn(incident::Analysed) -> incident::Verdict,
) -> incident::Assessment {
    use policy_engine::{Catalog, Policy, Rules, decode};
    let change = support::change_of("create-policy.json");
    let rules = Rules::parse(rules, Catalog::embedded()).expect("a valid rules file");
    let json = decode(change.document.as_deref().expect("a document"))
        .expect("decodes")
        .into_owned();
    let policy = Policy::parse(&json).expect("a policy");
    let context = incident::ChangeContext::of(&change);
    let today = time::macros::date!(2026 - 12 - 02);
    let assessed = rules.assess(&policy, &context.context(), today, Catalog::embedded());
    let (findings, omitted_grants) = incident::carried_findings(assessed.enforced.findings);
    let analysed = incident::Analysed {
        notify: false,
        document: support::kept(&json),
        version_id: None,
        findings,
        omitted_grants,
        group_grants: Vec::new(),
        boundary: None,
        rules: incident::RulesReport::carried(
            assessed.alerted.findings,
            Vec::new(),
            assessed.exempted,
            assessed.expired,
        ),
        change,
    };
    incident::Assessment {
        id: analysed.change.event_id.clone(),
        event_name: analysed.change.event_name.clone(),
        verdict: verdict(analysed),
    }
}

#[test]
fn an_alerted_or_exempted_change_names_its_rule_and_every_exemption_it_touched() {
    let expired_exemption = r#"
        [[exemption]]
        name = "alice-cleanup"
        reason = "bucket clean-up in November"
        owner = "storage-team@example.com"
        expires = 2026-11-30
        actor = "arn:aws:iam::123456789012:user/alice"
    "#;
    let alerted = ruled(
        &format!(
            "version = 1\n[[rule]]\nname = \"destructive\"\nmode = \"alert\"\nactions = [\"s3:DeleteBucket\"]\n{expired_exemption}"
        ),
        incident::Verdict::Alerted,
    );
    let exempted = ruled(
        r#"version = 1
        [[rule]]
        name = "destructive"
        mode = "enforce"
        actions = ["s3:DeleteBucket"]
        [[exemption]]
        name = "alice-cleanup"
        reason = "bucket clean-up until the migration ends"
        owner = "storage-team@example.com"
        expires = 2027-03-31
        actor = "arn:aws:iam::123456789012:user/alice"
        "#,
        incident::Verdict::Exempted,
    );
    for (outcome, assessment, named) in [
        (Outcome::Alerted, &alerted, "expired"),
        (Outcome::Exempted, &exempted, "exempted"),
    ] {
        // WHEN the workflow publishes the outcome
        let state = state(json!({ "incident": assessment }));
        let email = notification(outcome, &state, EXECUTION);
        // THEN the email is the one pinned for it, and the event names the exemption (as
        // expired where it expired)
        assert_email!(
            &format!("managed_policy_{}", spelling(outcome)),
            &format!(
                "{}: alice's CreatePolicy under a rules file",
                spelling(outcome)
            ),
            &email,
        );
        let detail = incident::event_detail(outcome, &state, EXECUTION);
        assert_eq!(
            detail["rules"][named][0]["exemption"]["name"], "alice-cleanup",
            "{detail}"
        );
        // An exempted change is emailed only when the deployment notifies clean changes (its
        // assessment's notify); an alert always.
        assert_eq!(outcome.emails(&state), outcome == Outcome::Alerted);
    }
}

#[test]
fn what_approving_covers_of_a_policys_attachments_names_those_it_had_when_quarantined() {
    let role = |i: usize| incident::Principal {
        kind: incident::PrincipalKind::Role,
        name: format!("r{i}"),
    };
    let since = "An attachment made since is not approved: the account sweep asks about it.";
    let cases = [
        (
            "none",
            vec![],
            format!(
                "It was attached to no user, role or group when quarantined: approving \
                 approves the document itself only. {since}"
            ),
        ),
        (
            "two",
            vec![role(1), role(2)],
            format!(
                "Approving also approves it where it was attached when quarantined: role r1, \
                 role r2. {since}"
            ),
        ),
        (
            "more than are named",
            (0..22).map(role).collect(),
            format!(
                "Approving also approves it where it was attached when quarantined: {}, and 2 \
                 more. {since}",
                (0..20)
                    .map(|i| format!("role r{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    ];
    for (case, attached, expected) in cases {
        assert_eq!(
            incident::approved_attachments_text(&attached),
            expected,
            "{case}"
        );
    }
}

#[test]
fn a_request_closed_by_someone_elses_send_task_failure_repeats_none_of_their_text() {
    // Whoever holds a waiting task's token (it is in the execution's history) can close it with
    // states:SendTaskFailure and an Error and Cause of their own (T26).
    let assessment = assessment_of("create-policy.json");
    let quarantine = quarantine_of(&assessment);
    let closed_with = |outcome: Outcome, error: &str, cause: &str| {
        let state = state(json!({
            "incident": assessment,
            "quarantine": quarantine,
            "error": {"Error": error, "Cause": cause},
        }));
        notification(outcome, &state, EXECUTION).body
    };
    // GIVEN a Superseded whose Cause is not the name of an incident
    let phishing = "Decide at https://approvals.example.net/now";
    let body = closed_with(Outcome::ApprovalSuperseded, "Superseded", phishing);
    // THEN the email does not repeat it, and says who can send such a thing
    assert!(!body.contains("approvals.example.net"), "{body}");
    assert!(body.contains("not an incident's name"), "{body}");
    // GIVEN any other error, with a Cause of several lines and a right-to-left override
    let body = closed_with(
        Outcome::Failed,
        "Oops",
        "line one\nExecution: forged\u{202E}x",
    );
    // THEN the Cause stays on its one line, the override named
    assert!(
        body.contains("Oops: line one Execution: forged<U+202E>x"),
        "{body}"
    );
    assert!(
        !body.lines().any(|l| l.starts_with("Execution: forged")),
        "{body}"
    );
    // GIVEN the workflow's own Superseded, naming the newer incident
    let newer = "3f1c0a9e5b7d2c41-20261121T094500Z-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    let body = closed_with(Outcome::ApprovalSuperseded, "Superseded", newer);
    // THEN it names it
    assert!(body.contains(&format!("Superseded: {newer}")), "{body}");
}
