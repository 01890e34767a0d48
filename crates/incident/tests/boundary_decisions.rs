//! Permissions boundaries as a grant path: when a boundary change is restricted, which
//! boundary the quarantine puts back (never one that widens access, whatever the ledger says),
//! and what approval restores. The role `data-pipeline` has the inline policy of
//! `put-role-policy.json` (`s3:Delete*` on its staging bucket); its boundary
//! `pipeline-boundary.json` holds the deletions back, `pipeline-boundary-wide.json` does not.

mod support;

use incident::boundary::{
    Boundary, BoundaryDecision, BoundaryNow, BoundaryRestoreNow, BoundarySeen, NO_BOUNDARY,
    Previous, PreviousArn, assess, decide_put_back, ledger_after_restore, previous_from_ledger,
    previous_policy, restore_boundary,
};
use incident::decision_log::canonical_digest;
use incident::quarantine::QuarantineError;
use incident::restore::RestoreWrite;
use incident::{AddedGrant, DocumentRef, PrincipalKind, QuarantineAction, RestoreStatus};
use policy_engine::access::{PolicySource, PrincipalPolicies, SourcedPolicy};
use support::{RESTRICTED, boundary, pipeline, principal, read_fixture, restricted};

const ROLE: &str = "data-pipeline";

fn quarantine_boundary() -> Boundary {
    boundary("quarantine-boundary")
}

fn patterns(added: &[AddedGrant]) -> Vec<&str> {
    added.iter().map(|a| a.pattern.as_str()).collect()
}

const BOTH: [&str; 2] = ["s3:DeleteBucket", "s3:DeleteObject"];

#[test]
fn the_previous_boundary_is_the_one_the_ledger_saw_after_the_principal_was_created_and_before_the_change()
 {
    let changed_at = time::macros::datetime!(2026-12-03 10:00 UTC);
    let minutes_before = |minutes: i64| changed_at - time::Duration::minutes(minutes);
    let seen = |boundary_arn: Option<&str>, minutes: i64| BoundarySeen {
        boundary_arn: boundary_arn.map(str::to_owned),
        document_digest: boundary_arn.map(|_| "d1".to_owned()),
        seen_at: minutes_before(minutes),
    };
    let policy = || PreviousArn::Policy {
        arn: "arn:aws:iam::123456789012:policy/b".to_owned(),
        digest: Some("d1".to_owned()),
    };
    let b = Some("arn:aws:iam::123456789012:policy/b");
    let long_ago = Some(minutes_before(600));
    // (case, ledger entry, principal created, change made, previous boundary)
    let cases = [
        (
            "a policy seen before",
            Some(seen(b, 5)),
            long_ago,
            Some(changed_at),
            policy(),
        ),
        (
            "none seen before",
            Some(seen(None, 5)),
            long_ago,
            Some(changed_at),
            PreviousArn::NoBoundary,
        ),
        (
            "seen after the change",
            Some(seen(b, -5)),
            long_ago,
            Some(changed_at),
            PreviousArn::Unknown,
        ),
        (
            "seen at the change",
            Some(seen(b, 0)),
            long_ago,
            Some(changed_at),
            PreviousArn::Unknown,
        ),
        (
            "never seen",
            None,
            long_ago,
            Some(changed_at),
            PreviousArn::Unknown,
        ),
        (
            "the change's time unread",
            Some(seen(b, 5)),
            long_ago,
            None,
            PreviousArn::Unknown,
        ),
        (
            "none seen on an earlier role of the same name (deleted, created again since)",
            Some(seen(None, 60)),
            Some(minutes_before(30)),
            Some(changed_at),
            PreviousArn::Unknown,
        ),
        (
            "a policy seen on an earlier role of the same name",
            Some(seen(b, 60)),
            Some(minutes_before(30)),
            Some(changed_at),
            PreviousArn::Unknown,
        ),
        (
            "seen in the second the role was created: which one is not known",
            Some(seen(b, 30)),
            Some(minutes_before(30)),
            Some(changed_at),
            PreviousArn::Unknown,
        ),
        (
            "seen a second after the role was created",
            Some(seen(b, 30)),
            Some(minutes_before(30) - time::Duration::seconds(1)),
            Some(changed_at),
            policy(),
        ),
        (
            "the role's creation time unread",
            Some(seen(b, 5)),
            None,
            Some(changed_at),
            PreviousArn::Unknown,
        ),
    ];
    for (case, seen, created, changed_at, expected) in cases {
        assert_eq!(
            previous_from_ledger(seen.as_ref(), created, changed_at),
            expected,
            "{case}"
        );
    }
}

#[test]
fn a_previous_boundary_policy_is_its_document_as_seen_or_unknown() {
    let narrow = boundary("pipeline-boundary");
    let wide = Boundary {
        arn: narrow.arn.clone(),
        ..boundary("pipeline-boundary-wide")
    };
    // The same document as IAM hands it out: percent-encoded, laid out otherwise.
    let encoded = Boundary {
        document: narrow
            .document
            .replace(' ', "")
            .replace('"', "%22")
            .replace('{', "%7B"),
        ..narrow.clone()
    };
    let seen = canonical_digest(&narrow.document);
    let cases = [
        (
            "the document seen",
            seen.as_deref(),
            Some(narrow.clone()),
            Previous::Policy(narrow.clone()),
        ),
        (
            "the document seen, encoded as IAM answers",
            seen.as_deref(),
            Some(encoded.clone()),
            Previous::Policy(encoded),
        ),
        (
            "a new default version since",
            seen.as_deref(),
            Some(wide),
            Previous::Unknown,
        ),
        (
            "seen without its digest",
            None,
            Some(narrow.clone()),
            Previous::Unknown,
        ),
        (
            "the policy deleted since",
            seen.as_deref(),
            None,
            Previous::Unknown,
        ),
    ];
    for (case, seen, now, expected) in cases {
        assert_eq!(previous_policy(seen, now), expected, "{case}");
    }
}

#[test]
fn a_boundary_change_is_restricted_when_it_lets_the_principal_do_more_that_is_restricted() {
    let narrow = boundary("pipeline-boundary");
    let wide = boundary("pipeline-boundary-wide");
    let cases: [(&str, Option<&Boundary>, Previous, &[&str]); 6] = [
        (
            "deleted: the inline policy's deletions are in force again",
            None,
            Previous::Policy(narrow.clone()),
            &BOTH,
        ),
        (
            "replaced by a wider boundary: the same",
            Some(&wide),
            Previous::Policy(narrow.clone()),
            &BOTH,
        ),
        (
            "replaced by a narrower boundary: nothing added",
            Some(&narrow),
            Previous::Policy(wide.clone()),
            &[],
        ),
        (
            "the same boundary put again: nothing added",
            Some(&narrow),
            Previous::Policy(narrow.clone()),
            &[],
        ),
        (
            "previous unknown: read as allowing nothing restricted (fail closed)",
            None,
            Previous::Unknown,
            &BOTH,
        ),
        (
            "a boundary where there was none can only narrow",
            Some(&wide),
            Previous::NoBoundary,
            &[],
        ),
    ];
    for (what, now, previous, expected) in cases {
        let (change, _) =
            assess(&pipeline(now), &previous, Some(&restricted(RESTRICTED))).expect("readable");
        assert_eq!(patterns(&change.added), expected, "{what}");
        assert_eq!(change.restricted(), !expected.is_empty(), "{what}");
        assert_eq!(change.now, now.map(|b| b.arn.clone()), "{what}");
    }
}

/// The role `builder` with the inline policy `tests/fixtures/policies/<fixture>.json` of its
/// own, under `boundary` (`None`: no boundary).
fn builder(fixture: &str, boundary: Option<&Boundary>) -> PrincipalPolicies {
    let mut role = pipeline(boundary);
    role.principal.name = "builder".into();
    role.arn = Some("arn:aws:iam::123456789012:role/builder".into());
    role.identity = vec![SourcedPolicy {
        source: PolicySource::Inline {
            owner: role.principal.clone(),
            policy_name: fixture.into(),
        },
        through_group: None,
        document: read_fixture("policies", &format!("{fixture}.json")).into(),
    }];
    role
}

#[test]
fn what_the_previous_boundary_let_through_counts_per_action_and_only_for_certain() {
    // (case, the role's own policy, the boundary now, the previous one, restricted, added)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<Boundary>,
        Previous,
        &'a str,
        &'a [&'a str],
    );
    let cases: [Case; 6] = [
        (
            "review F1: the previous boundary passed app-* roles only; deleted, the role \
             passes any role (an admin role to Lambda)",
            "pass-any-role",
            None,
            Previous::Policy(boundary("builder-boundary")),
            "iam:PassRole",
            &["iam:PassRole"],
        ),
        (
            "review F1: the previous boundary allowed IAM reads only; deleted, every IAM write \
             of iam:* is in force",
            "administrator-access",
            None,
            Previous::Policy(boundary("boundary-allowing-iam-reads")),
            "iam:*",
            &["iam:*"],
        ),
        (
            "review F1: the previous boundary allowed IAM only from the admin network (a \
             condition); deleted, from anywhere",
            "administrator-access",
            None,
            Previous::Policy(boundary("boundary-allowing-iam-from-the-admin-network")),
            "iam:PassRole,iam:AttachRolePolicy",
            &["iam:PassRole", "iam:AttachRolePolicy"],
        ),
        (
            "the previous boundary allowed every S3 action on every resource: deleting it adds \
             nothing S3",
            "administrator-access",
            None,
            Previous::Policy(boundary("builder-boundary")),
            "s3:DeleteBucket",
            &[],
        ),
        (
            "the previous boundary denied bucket deletion (any condition or resource): in \
             force now, it is added",
            "administrator-access",
            None,
            Previous::Policy(boundary("s3-full-access-with-deny-on-prod-buckets")),
            "s3:DeleteBucket,s3:PutObject",
            &["s3:DeleteBucket"],
        ),
        (
            "a previous boundary that does not read allows nothing for certain",
            "pass-any-role",
            None,
            Previous::Policy(Boundary {
                arn: "arn:aws:iam::123456789012:policy/unreadable".into(),
                document: "{not json".into(),
            }),
            "iam:PassRole",
            &["iam:PassRole"],
        ),
    ];
    for (what, policy, now, previous, restricted_list, expected) in cases {
        // GIVEN the role as IAM holds it after the change, and the boundary before it
        // WHEN the change is assessed
        let (change, _) = assess(
            &builder(policy, now.as_ref()),
            &previous,
            Some(&restricted(restricted_list)),
        )
        .expect("readable");
        // THEN what the previous boundary did not let through for certain is added
        assert_eq!(patterns(&change.added), expected, "{what}");
    }
}

#[test]
fn an_added_grant_names_the_statement_that_grants_it() {
    let (change, _) = assess(
        &pipeline(None),
        &Previous::Policy(boundary("pipeline-boundary")),
        Some(&restricted(RESTRICTED)),
    )
    .expect("readable");
    assert_eq!(
        change.added[0].via,
        [
            "inline policy \"pipeline-s3-access\" of role \"data-pipeline\", statement CleanUpStaging: s3:Delete*"
        ]
    );
}

fn now(current: Option<Boundary>, previous: Previous) -> BoundaryNow {
    BoundaryNow {
        principal: principal(PrincipalKind::Role, ROLE),
        policies: Some(pipeline(current.as_ref())),
        assessed: current.clone(),
        current,
        previous,
        quarantine: quarantine_boundary(),
    }
}

fn decide(now: &BoundaryNow) -> Result<BoundaryDecision, QuarantineError> {
    decide_put_back(now, false, &restricted(RESTRICTED))
}

fn put_back_arn(decision: &BoundaryDecision) -> (&str, Option<&str>, &DocumentRef) {
    let record = match decision {
        BoundaryDecision::PutBack(put_back) | BoundaryDecision::InPlace(put_back) => {
            &put_back.record
        }
        other => panic!("expected a put-back, got {other:?}"),
    };
    let QuarantineAction::BoundaryPutBack {
        previous_boundary_arn,
        changed_to,
        ..
    } = &record.action
    else {
        panic!("expected BoundaryPutBack, got {:?}", record.action);
    };
    (
        previous_boundary_arn,
        changed_to.as_deref(),
        &record.original_document,
    )
}

#[test]
fn the_quarantine_puts_the_previous_boundary_back_or_the_quarantine_boundary() {
    let narrow = boundary("pipeline-boundary");
    let wide = boundary("pipeline-boundary-wide");
    let q = quarantine_boundary();
    let everything = boundary("administrator-access");
    let cases = [
        (
            "deleted, previous known: it goes back; approval would delete again",
            now(None, Previous::Policy(narrow.clone())),
            (narrow.arn.as_str(), None, DocumentRef::of(NO_BOUNDARY)),
        ),
        (
            "widened, previous known: it goes back; approval would put the wide one back",
            now(Some(wide.clone()), Previous::Policy(narrow.clone())),
            (
                narrow.arn.as_str(),
                Some(wide.arn.as_str()),
                DocumentRef::of(&wide.document),
            ),
        ),
        (
            "deleted, previous unknown: the quarantine boundary",
            now(None, Previous::Unknown),
            (q.arn.as_str(), None, DocumentRef::of(NO_BOUNDARY)),
        ),
        (
            "widened to allow everything, previous unknown: the quarantine boundary, which \
             allows no more than that",
            now(Some(everything.clone()), Previous::Unknown),
            (
                q.arn.as_str(),
                Some(everything.arn.as_str()),
                DocumentRef::of(&everything.document),
            ),
        ),
    ];
    for (what, now, (expected_arn, expected_changed_to, expected_original)) in cases {
        let decision = decide(&now).expect(what);
        assert!(matches!(decision, BoundaryDecision::PutBack(_)), "{what}");
        assert_eq!(
            put_back_arn(&decision),
            (expected_arn, expected_changed_to, &expected_original),
            "{what}"
        );
    }
    // A previous boundary that let a pattern through on some resources only, or under a
    // condition, still goes back: it is what was in force.
    for previous in [
        "builder-boundary",
        "boundary-allowing-iam-from-the-admin-network",
    ] {
        let previous = boundary(previous);
        let mut deleted = now(None, Previous::Policy(previous.clone()));
        deleted.policies = Some(builder("administrator-access", None));
        let decision =
            decide_put_back(&deleted, false, &restricted("iam:PassRole")).expect("a put-back");
        assert_eq!(
            put_back_arn(&decision),
            (previous.arn.as_str(), None, &DocumentRef::of(NO_BOUNDARY))
        );
    }
}

#[test]
fn a_put_back_never_widens_access_when_none_is_safe_nothing_is_put_back() {
    // (case, the principal after the change, as the ledger says, restricted)
    let mut stale_within_a_pattern = now(
        Some(boundary("builder-boundary")),
        Previous::Policy(boundary("pass-any-role")),
    );
    stale_within_a_pattern.policies = Some(builder(
        "administrator-access",
        Some(&boundary("builder-boundary")),
    ));
    let cases = [
        (
            "a poisoned ledger: the claimed previous boundary would let the role delete \
             buckets, which it cannot now; and the quarantine boundary would let it use every \
             service, where the boundary now allows three S3 actions",
            now(
                Some(boundary("boundary-allowing-object-deletion")),
                Previous::Policy(boundary("boundary-allowing-bucket-deletion")),
            ),
            RESTRICTED,
        ),
        (
            "previous unknown, the boundary now allows S3 only: the quarantine boundary would \
             allow every other service (iam:* included)",
            now(Some(boundary("pipeline-boundary-wide")), Previous::Unknown),
            RESTRICTED,
        ),
        (
            "review F1: a stale ledger's boundary passes any role, where the boundary now \
             passes app-* roles only (the same pattern, wider inside it)",
            stale_within_a_pattern,
            "iam:PassRole,s3:DeleteBucket",
        ),
    ];
    for (what, now, restricted_list) in cases {
        // WHEN the quarantine decides THEN it fails closed (PolicyConflict: notified), and
        // puts back nothing that lets the role do more than it can now
        assert!(
            matches!(
                decide_put_back(&now, false, &restricted(restricted_list)),
                Err(QuarantineError::NoSafeBoundary(_))
            ),
            "{what}"
        );
    }
}

#[test]
fn an_altered_quarantine_boundary_is_refused_and_nothing_is_put_back() {
    // GIVEN the stack's quarantine boundary rewritten to allow everything
    let mut now = now(None, Previous::Unknown);
    now.quarantine.document = read_fixture("policies", "administrator-access.json");
    // WHEN the quarantine decides THEN it fails closed (PolicyConflict: notified)
    assert!(matches!(
        decide(&now),
        Err(QuarantineError::NoSafeBoundary(_))
    ));
}

#[test]
fn a_pattern_only_the_rules_file_enforces_is_never_left_in_force_by_the_quarantine_boundary() {
    // GIVEN the rules file enforces s3:DeleteObjectVersion, which the quarantine boundary (it
    // holds back the RestrictedActions parameter's s3:DeleteBucket and s3:DeleteObject only)
    // allows, and the role's boundary is deleted
    let enforced = restricted("s3:DeleteObjectVersion");
    for (previous, put_back) in [
        // the previous boundary unknown: read as allowing nothing restricted, so the change is
        // restricted; the only fallback would leave the grant in force
        (Previous::Unknown, None),
        // known, and it held the grant back: put back
        (
            Previous::Policy(boundary("pipeline-boundary")),
            Some("arn:aws:iam::123456789012:policy/pipeline-boundary"),
        ),
    ] {
        let (change, _) = assess(&pipeline(None), &previous, Some(&enforced)).expect("readable");
        assert_eq!(
            patterns(&change.added),
            ["s3:DeleteObjectVersion"],
            "{previous:?}"
        );
        // WHEN the quarantine decides
        let decided = decide_put_back(&now(None, previous.clone()), false, &enforced);
        // THEN the previous boundary is put back; without one, nothing is (fail closed:
        // PolicyConflict, notified), never the quarantine boundary that lets the grant through
        match (put_back, decided) {
            (Some(arn), Ok(decision)) => assert_eq!(put_back_arn(&decision).0, arn),
            (None, Err(QuarantineError::NoSafeBoundary(_))) => {}
            (expected, got) => panic!("{previous:?}: {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn a_retried_quarantine_recognises_its_own_put_back() {
    // GIVEN the previous boundary in force again while the assessment saw it deleted
    let narrow = boundary("pipeline-boundary");
    let mut now = now(Some(narrow.clone()), Previous::Policy(narrow.clone()));
    now.assessed = None;
    // WHEN the step runs again THEN its own put-back stands, as if just applied
    let decision = decide(&now).expect("decided");
    assert!(matches!(decision, BoundaryDecision::InPlace(_)));
    assert_eq!(
        put_back_arn(&decision),
        (narrow.arn.as_str(), None, &DocumentRef::of(NO_BOUNDARY))
    );
}

#[test]
fn no_quarantine_when_the_change_no_longer_adds_anything_or_the_principal_is_gone() {
    let narrow = boundary("pipeline-boundary");
    // someone narrowed it again before the step ran: the newer change has its own incident
    let mut renarrowed = now(
        Some(boundary("pipeline-boundary-wide")),
        Previous::Policy(narrow.clone()),
    );
    renarrowed.current = Some(boundary("boundary-allowing-bucket-deletion"));
    renarrowed.policies = Some(pipeline(Some(&narrow)));
    assert!(matches!(
        decide(&renarrowed),
        Ok(BoundaryDecision::NotNeeded(_))
    ));
    let mut gone = now(None, Previous::Policy(narrow));
    gone.policies = None;
    assert!(matches!(decide(&gone), Ok(BoundaryDecision::NotNeeded(_))));
    assert!(matches!(
        decide_put_back(&gone, true, &restricted(RESTRICTED)),
        Err(QuarantineError::NotYetConsistent(_))
    ));
}

fn restore_now(current: Option<&str>, changed_to: Option<&Boundary>) -> BoundaryRestoreNow {
    BoundaryRestoreNow {
        principal: principal(PrincipalKind::Role, ROLE),
        put_back: boundary("pipeline-boundary").arn,
        changed_to: changed_to.map(|b| b.arn.clone()),
        original: changed_to.map_or(NO_BOUNDARY.to_owned(), |b| b.document.clone()),
        exists: true,
        current: current.map(str::to_owned),
        changed_to_document: changed_to.map(|b| b.document.clone()),
    }
}

#[test]
fn approval_restores_the_change_only_while_the_quarantine_is_in_force() {
    let narrow = boundary("pipeline-boundary").arn;
    let wide = boundary("pipeline-boundary-wide");
    let pipeline_role = principal(PrincipalKind::Role, ROLE);
    let mut principal_gone = restore_now(Some(&narrow), None);
    principal_gone.exists = false;
    let mut policy_gone = restore_now(Some(&narrow), Some(&wide));
    policy_gone.changed_to_document = None;
    let mut edited_since = restore_now(Some(&narrow), Some(&wide));
    edited_since.changed_to_document = Some(read_fixture("policies", "administrator-access.json"));
    let cases = [
        (
            "a deletion approved: the boundary is deleted again",
            restore_now(Some(&narrow), None),
            RestoreStatus::Restored,
            vec![RestoreWrite::DeleteBoundary {
                principal: pipeline_role.clone(),
            }],
        ),
        (
            "a widening approved: the wide boundary goes back",
            restore_now(Some(&narrow), Some(&wide)),
            RestoreStatus::Restored,
            vec![RestoreWrite::PutBoundary {
                principal: pipeline_role.clone(),
                boundary_arn: wide.arn.clone(),
            }],
        ),
        (
            "restored already (a lost answer, or by hand)",
            restore_now(None, None),
            RestoreStatus::Restored,
            vec![],
        ),
        (
            "changed since: someone else's boundary stands",
            restore_now(Some(&wide.arn), None),
            RestoreStatus::Skipped,
            vec![],
        ),
        (
            "the principal is gone",
            principal_gone,
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "the approved boundary's policy is gone",
            policy_gone,
            RestoreStatus::Gone,
            vec![],
        ),
        (
            "the approved boundary's document changed since: nobody approved that",
            edited_since,
            RestoreStatus::Skipped,
            vec![],
        ),
    ];
    for (what, now, status, writes) in cases {
        let plan = restore_boundary(&now);
        assert_eq!(
            (plan.record.status, plan.writes),
            (status, writes),
            "{what}: {}",
            plan.record.detail
        );
    }
}

#[test]
fn a_restored_boundary_change_and_only_it_updates_the_ledger() {
    let role = principal(PrincipalKind::Role, ROLE);
    let put_back = |changed_to: Option<&str>| QuarantineAction::BoundaryPutBack {
        principal: role.clone(),
        previous_boundary_arn: boundary("pipeline-boundary").arn,
        changed_to: changed_to.map(str::to_owned),
    };
    let wide = boundary("pipeline-boundary-wide").arn;
    let detached = QuarantineAction::Detached {
        principal: role.clone(),
        policy_arn: "arn:aws:iam::123456789012:policy/DataPlatform".into(),
    };
    let cases = [
        (
            "a widening restored: the wide boundary",
            put_back(Some(&wide)),
            RestoreStatus::Restored,
            Some((&role, Some(wide.as_str()))),
        ),
        (
            "a deletion restored: no boundary",
            put_back(None),
            RestoreStatus::Restored,
            Some((&role, None)),
        ),
        (
            "skipped: left be",
            put_back(Some(&wide)),
            RestoreStatus::Skipped,
            None,
        ),
        ("gone: left be", put_back(None), RestoreStatus::Gone, None),
        (
            "not a boundary change",
            detached,
            RestoreStatus::Restored,
            None,
        ),
    ];
    for (case, action, status, ledger) in cases {
        assert_eq!(ledger_after_restore(&action, status), ledger, "{case}");
    }
}
