//! The email that asks a person to decide, for the same incidents as the outcome notifications
//! (see crates/incident/tests/support/mod.rs). What it says is pinned by one snapshot per shape
//! of quarantine in `tests/snapshots/`; the plain asserts are what a snapshot cannot show: the
//! task token never appears, and any policy name gives a subject SNS accepts.

#[macro_use]
mod support;

use approval::approval_request_email;
use incident::{Principal, PrincipalKind};
use support::{
    TOKEN, approval_request, assessment_of, assessments_with_very_long_names,
    attachment_assessment, boundary_assessment, deadline_text, email_text, link,
};

#[test]
fn the_approval_email_of_each_kind_of_quarantine() {
    let role = Principal {
        kind: PrincipalKind::Role,
        name: "data-pipeline".into(),
    };
    let cases = [
        (
            "managed_policy",
            "alice's CreatePolicy of my-bad-policy-aws-5-mins, quarantined by a new default version",
            assessment_of("create-policy.json"),
            Some(&[][..]),
        ),
        (
            "managed_policy_attached",
            "the same policy, attached to role data-pipeline when quarantined",
            assessment_of("create-policy.json"),
            Some(std::slice::from_ref(&role)),
        ),
        (
            "inline_policy",
            "alice's PutRolePolicy of pipeline-s3-access on role data-pipeline, rewritten",
            assessment_of("put-role-policy.json"),
            None,
        ),
        (
            "attachment",
            "bob's AttachRolePolicy of AdministratorAccess to role data-pipeline, detached",
            attachment_assessment(),
            None,
        ),
        (
            "boundary",
            "bob's DeleteRolePermissionsBoundary on role data-pipeline, pipeline-boundary put back",
            boundary_assessment(),
            None,
        ),
    ];
    for (name, about, assessment, attached) in cases {
        // GIVEN the case's change, quarantined, waiting a day for a decision (a managed
        // policy's with the attachments its quarantine kept)
        let request = approval_request(assessment);
        // WHEN the approval email is written
        let email = approval_request_email(&request, &link(), &deadline_text(), attached);
        // THEN it is the one pinned for it: who, what, when, from where, through which
        // statement, what the quarantine did (and what approving covers), by when, and the one
        // link
        assert_email!(name, about, &email);
        assert_eq!(email.body.matches(&link()).count(), 1, "{name}");
    }
}

#[test]
fn the_approval_email_never_contains_the_task_token() {
    for (case, assessment, _) in assessments_with_very_long_names() {
        let email = approval_request_email(&approval_request(assessment), &link(), "soon", None);
        assert!(
            !email.body.contains(TOKEN) && !email.subject.contains(TOKEN),
            "{case}"
        );
    }
}

#[test]
fn the_approval_email_subject_is_under_100_characters_for_a_very_long_policy_name() {
    for (case, assessment, _) in assessments_with_very_long_names() {
        let email = approval_request_email(&approval_request(assessment), &link(), "soon", None);
        assert!(email.subject.len() < 100, "{case}: {}", email.subject);
        assert!(
            email.subject.starts_with("iam-sentinel: approval needed: "),
            "{case}: {}",
            email.subject
        );
    }
}

#[test]
fn a_task_token_never_shows_in_debug_output() {
    let request = approval_request(assessment_of("create-policy.json"));
    assert!(!format!("{request:?}").contains(TOKEN));
}
