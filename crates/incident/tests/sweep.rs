//! The account sweep's decisions, on a real-shaped authorization-details file
//! (tests/fixtures/account/sweep-account.json): which grants are in force, one target per
//! document, which are left alone and why, and the finding events the starter gets.

mod support;

use std::collections::HashMap;

use incident::boundary::LedgerEntry;
use incident::decision_log::{
    GrantKey, GrantRecord, GrantStatus, canonical_digest, claim_lifetime,
};
use incident::membership::group_document;
use incident::sweep::{
    Disposition, Examined, SweepContext, SweepMode, SweepPlan, TargetFinding, account_of,
    boundaries, plan_sweep, principals_created, sweep_event_detail, sweep_id, sweep_notification,
};
use incident::{
    IncidentName, OwnRoles, Principal, PrincipalKind, Reading, Target, TargetKey, read_event,
};
use policy_engine::{AuthorizationDetails, Catalog, PrincipalPolicies, RestrictedActions, Rules};
use support::{ACCOUNT, read, read_fixture, scope};
use time::macros::datetime;

const DATA_PLATFORM: &str = "arn:aws:iam::123456789012:policy/DataPlatform";
const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn principals() -> Vec<PrincipalPolicies> {
    AuthorizationDetails::from_json(&read_fixture("account", "sweep-account.json"))
        .expect("the fixture reads")
        .principals()
        .expect("every attachment resolves")
}

fn context(mode: SweepMode, baseline: bool) -> SweepContext {
    SweepContext {
        sweep_id: "sweep-20261202T050000Z-1a2b3c4d".into(),
        at: datetime!(2026-12-02 05:00 UTC),
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        mode,
        baseline,
        baseline_memberships: Default::default(),
        baseline_at: None,
        claim_lifetime: claim_lifetime(24 * 3600),
        principals_created: Default::default(),
    }
}

/// The deployment's `RestrictedActions` parameter alone (an empty rules file).
fn parameter_only() -> Rules {
    let parameter =
        RestrictedActions::parse("s3:DeleteBucket,s3:DeleteObject", Catalog::embedded()).unwrap();
    Rules::of_parameter(&parameter)
}

fn plan(grants: &HashMap<GrantKey, GrantRecord>, context: &SweepContext) -> SweepPlan {
    plan_with(&parameter_only(), grants, context)
}

fn plan_with(
    rules: &Rules,
    grants: &HashMap<GrantKey, GrantRecord>,
    context: &SweepContext,
) -> SweepPlan {
    plan_sweep(
        &principals(),
        rules,
        Catalog::embedded(),
        grants,
        &OwnRoles::parse("iam-sentinel-analyse-change,iam-sentinel-policy-writer"),
        context,
    )
}

fn user(name: &str) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        name: name.into(),
    }
}

/// The targets the fixture's account holds restricted grants through, in the plan's order.
fn alice_inline() -> Target {
    Target::InlinePolicy {
        principal: user("alice"),
        policy_name: "alice-s3-cleanup".into(),
    }
}
fn data_platform() -> Target {
    Target::ManagedPolicy {
        policy_arn: DATA_PLATFORM.into(),
    }
}
fn admins_administrator_access() -> Target {
    Target::Attachment {
        principal: Principal {
            kind: PrincipalKind::Group,
            name: "Admins".into(),
        },
        policy_arn: ADMINISTRATOR_ACCESS.into(),
    }
}

fn own_role_inline() -> Target {
    Target::InlinePolicy {
        principal: Principal {
            kind: PrincipalKind::Role,
            name: "iam-sentinel-analyse-change".into(),
        },
        policy_name: "read-iam-policies".into(),
    }
}

fn finding<'p>(plan: &'p SweepPlan, target: &Target) -> &'p TargetFinding {
    plan.targets
        .iter()
        .find(|t| &t.target == target)
        .unwrap_or_else(|| panic!("no finding for {target:?}: {:#?}", plan.targets))
}

fn dispositions(plan: &SweepPlan) -> Vec<(String, Disposition)> {
    plan.targets
        .iter()
        .map(|t| (serde_json::to_string(&t.target).unwrap(), t.disposition))
        .collect()
}

fn record(status: GrantStatus, at: time::OffsetDateTime) -> GrantRecord {
    GrantRecord {
        status,
        incident: "earlier".into(),
        at,
        target: None,
    }
}

/// `record`, as written for `target` (records written before 3 Dec 2026 do not say).
fn written_for(target: &Target, record: GrantRecord) -> GrantRecord {
    GrantRecord {
        target: Some(TargetKey::canonical(target)),
        ..record
    }
}

fn account_file(name: &str) -> AuthorizationDetails {
    AuthorizationDetails::from_json(&read_fixture("account", name)).expect("the fixture reads")
}

#[test]
fn the_account_is_read_from_its_users_or_roles_arns() {
    let with_users = account_file("api-encoded.json");
    let roles_only = AuthorizationDetails {
        users: Vec::new(),
        ..account_file("api-encoded.json")
    };
    let cases = [
        ("users and roles", with_users, ACCOUNT),
        ("roles only", roles_only, ACCOUNT),
        ("no principal", AuthorizationDetails::default(), ""),
    ];
    for (case, details, account) in cases {
        assert_eq!(account_of(&details), account, "{case}");
    }
}

#[test]
fn the_ledger_gets_every_users_and_roles_boundary_or_none() {
    // GIVEN an account where one user and one role have a boundary, DeveloperBoundary, whose
    // default is v2 of two versions
    let details = account_file("api-encoded.json");
    let version = |id: &str| {
        let policy = details
            .policies
            .iter()
            .find(|p| p.arn == DEVELOPER_BOUNDARY);
        let versions = &policy.unwrap().policy_version_list;
        let version = versions
            .iter()
            .find(|v| v.version_id.as_deref() == Some(id));
        canonical_digest(version.unwrap().document.as_deref().unwrap())
    };

    // WHEN the sweep lists the boundaries for the ledger
    let listed = boundaries(&details);

    // THEN every user and role is listed by its ledger key, groups never, each boundary with
    // the digest of its default version's document
    let entry = |key: &str, boundary: bool| LedgerEntry {
        key: key.to_owned(),
        boundary_arn: boundary.then(|| DEVELOPER_BOUNDARY.to_owned()),
        document_digest: if boundary { version("v2") } else { None },
    };
    assert_eq!(
        listed,
        [
            entry("boundary#user#alice", false),
            entry("boundary#user#bob", true),
            entry("boundary#user#carol", false),
            entry("boundary#role#ec2role", false),
            entry("boundary#role#deploy", true),
        ]
    );
    assert_ne!(version("v1"), version("v2"));
}

const DEVELOPER_BOUNDARY: &str = "arn:aws:iam::123456789012:policy/DeveloperBoundary";

#[test]
fn a_sweeps_id_is_its_time_as_in_incident_names_and_a_tag_of_its_invocation() {
    // GIVEN one time and two invocations
    let at = datetime!(2026-12-02 05:00:07 UTC);

    // WHEN each is named
    let one = sweep_id(at, "8f5c1f4e-0d1b-4c8e-9a55-3c2e1d0b9a87");
    let other = sweep_id(at, "0b7e2a41-55c3-4f0e-8d2a-6a1c9e3b7f20");

    // THEN the time reads as in an incident's name, and the invocations differ in the tag
    assert!(one.starts_with("sweep-20261202T050007Z-"), "{one}");
    assert_eq!(one.len(), "sweep-20261202T050007Z-".len() + 8, "{one}");
    assert_ne!(one, other);
    assert_eq!(one, sweep_id(at, "8f5c1f4e-0d1b-4c8e-9a55-3c2e1d0b9a87"));
}

#[test]
fn every_restricted_grant_in_force_is_found_once_per_document_target() {
    let plan = plan(&HashMap::new(), &context(SweepMode::Quarantine, false));
    // alice's inline policy, DataPlatform (bob and data-pipeline: one target), Admins'
    // AdministratorAccess (carol, through the group), the sentinel's own role, the backup
    // service-linked role; not dave (his guardrail denies it), not reports (clean).
    let expected: [(Target, Disposition, &[&str], &[&str]); 5] = [
        (
            alice_inline(),
            Disposition::Incident,
            &["s3:DeleteBucket"],
            &[r#"user "alice""#],
        ),
        (
            data_platform(),
            Disposition::Incident,
            &["s3:DeleteObject"],
            &[r#"role "data-pipeline""#, r#"user "bob""#],
        ),
        (
            admins_administrator_access(),
            Disposition::Incident,
            &["s3:DeleteBucket", "s3:DeleteObject"],
            &[r#"user "carol""#],
        ),
        (
            own_role_inline(),
            Disposition::OwnRole,
            &["s3:DeleteBucket", "s3:DeleteObject"],
            &[r#"role "iam-sentinel-analyse-change""#],
        ),
        (
            Target::Attachment {
                principal: Principal {
                    kind: PrincipalKind::Role,
                    name: "AWSServiceRoleForBackup".into(),
                },
                policy_arn:
                    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForS3Restore"
                        .into(),
            },
            Disposition::ServiceLinkedRole,
            &["s3:DeleteObject"],
            &[r#"role "AWSServiceRoleForBackup""#],
        ),
    ];
    assert_eq!(plan.targets.len(), expected.len(), "{:#?}", plan.targets);
    for (target, disposition, patterns, principals) in expected {
        let found = finding(&plan, &target);
        assert_eq!(found.disposition, disposition, "{target:?}");
        assert_eq!(
            found
                .patterns
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            patterns,
            "{target:?}"
        );
        assert_eq!(
            found
                .principals
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            principals,
            "{target:?}"
        );
        assert_eq!(found.event.is_some(), disposition == Disposition::Incident);
        assert_eq!(
            found.incident.is_some(),
            disposition == Disposition::Incident
        );
    }
    assert_eq!(
        finding(&plan, &data_platform()).version_id.as_deref(),
        Some("v2")
    );
    // alice, bob, carol, data-pipeline, the own role and the service-linked role
    assert_eq!(plan.principals_with_grants, 6);
    assert!(plan.incomplete.is_empty(), "{:?}", plan.incomplete);
}

#[test]
fn the_baseline_and_report_mode_quarantine_nothing() {
    // (case, context, what the three grants nobody approved become)
    let cases = [
        (
            "baseline, quarantine mode",
            context(SweepMode::Quarantine, true),
            Disposition::Baseline,
        ),
        (
            "baseline, report mode",
            context(SweepMode::Report, true),
            Disposition::Baseline,
        ),
        (
            "later, report mode",
            context(SweepMode::Report, false),
            Disposition::Reported,
        ),
    ];
    for (case, context, expected) in cases {
        let plan = plan(&HashMap::new(), &context);
        for target in [
            alice_inline(),
            data_platform(),
            admins_administrator_access(),
        ] {
            let found = finding(&plan, &target);
            assert_eq!(found.disposition, expected, "{case}: {target:?}");
            assert!(found.event.is_none(), "{case}: no incident");
        }
    }
}

#[test]
fn a_grant_approved_for_exactly_this_document_or_being_decided_is_left_alone() {
    let principals = principals();
    let alice = principals
        .iter()
        .find(|p| p.principal.name == "alice")
        .unwrap();
    let in_force = alice.identity[0].document.to_string();
    let key = |document: &str| GrantKey::of(&alice_inline(), document).unwrap();
    let now = datetime!(2026-12-02 05:00 UTC);
    let other_document = in_force.replace("s3:ListBucket", "s3:ListAllMyBuckets");
    // (case, records, alice's inline policy becomes)
    let cases: Vec<(&str, HashMap<GrantKey, GrantRecord>, Disposition)> = vec![
        ("no record", HashMap::new(), Disposition::Incident),
        (
            "approved a week ago, this document",
            HashMap::from([(
                key(&in_force),
                record(GrantStatus::Approved, now - time::Duration::days(7)),
            )]),
            Disposition::Approved,
        ),
        (
            "approved, written for alice's policy",
            HashMap::from([(
                key(&in_force),
                written_for(
                    &alice_inline(),
                    record(GrantStatus::Approved, now - time::Duration::days(7)),
                ),
            )]),
            Disposition::Approved,
        ),
        (
            // Someone who names two targets can make their 64-bit keys collide: the record
            // says which target it was written for.
            "approved under this key, but written for another target",
            HashMap::from([(
                key(&in_force),
                written_for(
                    &data_platform(),
                    record(GrantStatus::Approved, now - time::Duration::days(7)),
                ),
            )]),
            Disposition::Incident,
        ),
        (
            "claimed an hour ago under this key, for another target",
            HashMap::from([(
                key(&in_force),
                written_for(
                    &data_platform(),
                    record(GrantStatus::Deciding, now - time::Duration::hours(1)),
                ),
            )]),
            Disposition::Incident,
        ),
        (
            "approved, but another document",
            HashMap::from([(
                key(&other_document),
                record(GrantStatus::Approved, now - time::Duration::days(7)),
            )]),
            Disposition::Incident,
        ),
        (
            "claimed an hour ago",
            HashMap::from([(
                key(&in_force),
                record(GrantStatus::Deciding, now - time::Duration::hours(1)),
            )]),
            Disposition::Deciding,
        ),
        (
            "claimed three days ago: stale",
            HashMap::from([(
                key(&in_force),
                record(GrantStatus::Deciding, now - time::Duration::days(3)),
            )]),
            Disposition::Incident,
        ),
    ];
    for (case, records, expected) in cases {
        let plan = plan(&records, &context(SweepMode::Quarantine, false));
        assert_eq!(
            finding(&plan, &alice_inline()).disposition,
            expected,
            "{case}: {:?}",
            dispositions(&plan)
        );
    }
}

#[test]
fn a_record_written_before_the_principal_was_created_is_for_an_earlier_one_of_its_name() {
    // T28: alice was deleted and created again (its event lost, or made since the approval);
    // the new alice holds the same inline policy, document and all.
    let principals = principals();
    let alice = principals
        .iter()
        .find(|p| p.principal.name == "alice")
        .unwrap();
    let key = GrantKey::of(&alice_inline(), alice.identity[0].document.as_ref()).unwrap();
    let now = datetime!(2026-12-02 05:00 UTC);
    let approved = written_for(
        &alice_inline(),
        record(GrantStatus::Approved, now - time::Duration::days(7)),
    );
    let claimed = written_for(
        &alice_inline(),
        record(GrantStatus::Deciding, now - time::Duration::hours(1)),
    );
    // (case, alice's record, when alice was created, alice's inline policy becomes)
    let cases = [
        (
            "approved a week ago, alice created a year ago",
            approved.clone(),
            Some(now - time::Duration::days(365)),
            Disposition::Approved,
        ),
        (
            "approved a week ago, alice created yesterday: not for her",
            approved.clone(),
            Some(now - time::Duration::days(1)),
            Disposition::Incident,
        ),
        (
            "approved a week ago, alice's creation unknown: by name, as before dates were read",
            approved,
            None,
            Disposition::Approved,
        ),
        (
            "claimed an hour ago, alice created half an hour ago: not for her",
            claimed,
            Some(now - time::Duration::minutes(30)),
            Disposition::Incident,
        ),
    ];
    for (case, record, created, expected) in cases {
        let mut context = context(SweepMode::Quarantine, false);
        context.principals_created = created
            .map(|at| ("user alice".to_owned(), at))
            .into_iter()
            .collect();
        let plan = plan(&HashMap::from([(key.clone(), record)]), &context);
        let found = finding(&plan, &alice_inline());
        assert_eq!(found.disposition, expected, "{case}");
        // The claim is told too: a record before then holds nothing off.
        assert_eq!(found.principals_since, created, "{case}");
    }
}

#[test]
fn the_principals_creation_dates_are_read_from_the_account() {
    let details = account_file("api-encoded.json");
    let created = principals_created(&details);
    let user = details
        .users
        .iter()
        .find(|u| u.create_date.is_some())
        .unwrap();
    let date = time::OffsetDateTime::parse(
        user.create_date.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let key = format!("user {}", user.user_name).to_lowercase();
    assert_eq!(created.get(&key), Some(&date), "by name, in lower case");
    assert_eq!(
        created.len(),
        details.users.len() + details.roles.len() + details.groups.len(),
        "every principal with a date: {created:?}"
    );
}

fn data_platform_on(kind: PrincipalKind, name: &str) -> Target {
    Target::Attachment {
        principal: Principal {
            kind,
            name: name.into(),
        },
        policy_arn: DATA_PLATFORM.into(),
    }
}

#[test]
fn an_approval_of_a_managed_policy_covers_the_attachments_it_was_given_for_and_no_other() {
    let principals = principals();
    let document = principals
        .iter()
        .find(|p| p.principal.name == "bob")
        .unwrap()
        .identity[0]
        .document
        .to_string();
    let bob = data_platform_on(PrincipalKind::User, "bob");
    let pipeline = data_platform_on(PrincipalKind::Role, "data-pipeline");
    let week_ago = datetime!(2026-11-25 05:00 UTC);
    let hour_ago = datetime!(2026-12-02 04:00 UTC);
    let grant = |target: &Target, status, at| {
        (GrantKey::of(target, &document).unwrap(), record(status, at))
    };
    // restore-policy's records of an approved document: the document and the attachments it had
    let document_approved = grant(&data_platform(), GrantStatus::Approved, week_ago);
    let bob_approved = grant(&bob, GrantStatus::Approved, week_ago);
    let pipeline_approved = grant(&pipeline, GrantStatus::Approved, week_ago);
    let quarantine = context(SweepMode::Quarantine, false);
    // (case, records, context, the findings about DataPlatform)
    type Case = (
        &'static str,
        Vec<(GrantKey, GrantRecord)>,
        SweepContext,
        Vec<(Target, Disposition)>,
    );
    let cases: Vec<Case> = vec![
        (
            "nothing approved: one incident for the document",
            vec![],
            quarantine.clone(),
            vec![(data_platform(), Disposition::Incident)],
        ),
        (
            "approved while attached to both",
            vec![
                document_approved.clone(),
                bob_approved.clone(),
                pipeline_approved.clone(),
            ],
            quarantine.clone(),
            vec![(data_platform(), Disposition::Approved)],
        ),
        (
            "each attachment approved (two Attach*Policy incidents)",
            vec![bob_approved.clone(), pipeline_approved],
            quarantine.clone(),
            vec![(data_platform(), Disposition::Approved)],
        ),
        (
            "approved while attached to bob; attached to data-pipeline since, its event lost",
            vec![document_approved.clone(), bob_approved.clone()],
            quarantine.clone(),
            vec![
                (bob.clone(), Disposition::Approved),
                (pipeline.clone(), Disposition::Incident),
            ],
        ),
        (
            "bob's attachment approved (an Attach*Policy incident), data-pipeline's never",
            vec![bob_approved.clone()],
            quarantine.clone(),
            vec![
                (bob.clone(), Disposition::Approved),
                (pipeline.clone(), Disposition::Incident),
            ],
        ),
        (
            "approved before attachments were recorded: it covers none, each is asked about",
            vec![document_approved.clone()],
            quarantine.clone(),
            vec![
                (bob.clone(), Disposition::Incident),
                (pipeline.clone(), Disposition::Incident),
            ],
        ),
        (
            "data-pipeline's attachment claimed an hour ago",
            vec![
                document_approved.clone(),
                bob_approved.clone(),
                grant(&pipeline, GrantStatus::Deciding, hour_ago),
            ],
            quarantine.clone(),
            vec![
                (bob.clone(), Disposition::Approved),
                (pipeline.clone(), Disposition::Deciding),
            ],
        ),
        (
            "the document claimed an hour ago: its incident decides every attachment",
            vec![grant(&data_platform(), GrantStatus::Deciding, hour_ago)],
            quarantine.clone(),
            vec![(data_platform(), Disposition::Deciding)],
        ),
        (
            "the baseline quarantines no attachment",
            vec![document_approved.clone(), bob_approved.clone()],
            context(SweepMode::Quarantine, true),
            vec![
                (bob.clone(), Disposition::Approved),
                (pipeline.clone(), Disposition::Baseline),
            ],
        ),
        (
            "report mode",
            vec![document_approved, bob_approved],
            context(SweepMode::Report, false),
            vec![
                (bob.clone(), Disposition::Approved),
                (pipeline.clone(), Disposition::Reported),
            ],
        ),
    ];
    // In the plan's order (by grant key): compared as sets
    let sorted = |mut findings: Vec<(Target, Disposition)>| {
        findings.sort_by_key(|(target, _)| format!("{target:?}"));
        findings
    };
    for (case, records, context, expected) in cases {
        let plan = plan(&records.into_iter().collect(), &context);
        let about_data_platform: Vec<(Target, Disposition)> = plan
            .targets
            .iter()
            .filter(|t| {
                serde_json::to_string(&t.target)
                    .unwrap()
                    .contains(DATA_PLATFORM)
            })
            .map(|t| (t.target.clone(), t.disposition))
            .collect();
        assert_eq!(sorted(about_data_platform), sorted(expected), "{case}");
    }
}

#[test]
fn an_attachment_nobody_approved_reaches_the_workflow_as_an_attach_of_that_policy() {
    let principals = principals();
    let document = principals
        .iter()
        .find(|p| p.principal.name == "bob")
        .unwrap()
        .identity[0]
        .document
        .to_string();
    let bob = data_platform_on(PrincipalKind::User, "bob");
    let pipeline = data_platform_on(PrincipalKind::Role, "data-pipeline");
    let approved = |target: &Target| {
        (
            GrantKey::of(target, &document).unwrap(),
            record(GrantStatus::Approved, datetime!(2026-11-25 05:00 UTC)),
        )
    };
    let records = HashMap::from([approved(&data_platform()), approved(&bob)]);
    let plan = plan(&records, &context(SweepMode::Quarantine, false));
    let found = finding(&plan, &pipeline);
    // Only the principals it reaches through that attachment, and the claim is the attachment's
    assert_eq!(
        found.principals.iter().collect::<Vec<_>>(),
        [r#"role "data-pipeline""#]
    );
    assert_eq!(
        found.patterns.iter().collect::<Vec<_>>(),
        ["s3:DeleteObject"]
    );
    assert_eq!(found.grant, GrantKey::of(&pipeline, &document).unwrap());
    assert_eq!(
        finding(&plan, &bob).principals.iter().collect::<Vec<_>>(),
        [r#"user "bob""#]
    );
    // Read as a change to that attachment, quarantined as an AttachRolePolicy is (detached)
    let Ok(Reading::Change(change)) = read(found.event.as_ref().unwrap()) else {
        panic!("not read as a change");
    };
    assert_eq!(change.target, pipeline);
    assert_eq!(change.version_id, None);
}

#[test]
fn a_finding_reaches_the_workflow_as_an_event_read_like_a_change_with_no_document() {
    let context = context(SweepMode::Quarantine, false);
    let plan = plan(&HashMap::new(), &context);
    for target in [
        alice_inline(),
        data_platform(),
        admins_administrator_access(),
    ] {
        let found = finding(&plan, &target);
        let event = found.event.as_ref().unwrap();
        // THEN Analyse reads it as a change to that target by the sweep, with no document (IAM's
        // is read) and the version the sweep saw
        let Ok(Reading::Change(change)) = read(event) else {
            panic!("not a change: {event}");
        };
        assert_eq!(change.target, target);
        assert_eq!(change.event_name, "SweepFinding");
        assert_eq!(change.document, None);
        assert_eq!(change.version_id, found.version_id);
        assert_eq!(change.actor.display_name(), "iam-sentinel sweep");
        assert_eq!(change.account, ACCOUNT);
        // AND the starter names it as any event: the target's key, the sweep's time, its id
        let name = IncidentName::of(event);
        assert_eq!(name.target, TargetKey::of(&target));
        assert_eq!(found.incident.as_deref(), Some(name.to_string().as_str()));
        assert!(name.to_string().len() <= 80, "{name}");
        assert!(
            name.event_id.starts_with(&context.sweep_id),
            "{}",
            name.event_id
        );
        assert_eq!(name.to_string().parse::<IncidentName>(), Ok(name));
    }
}

#[test]
fn a_finding_that_names_no_single_policy_target_is_refused() {
    let plan = plan(&HashMap::new(), &context(SweepMode::Quarantine, false));
    let event = finding(&plan, &alice_inline()).event.clone().unwrap();
    let mut two_principals = event.clone();
    two_principals["detail"]["requestParameters"]["roleName"] = "admin".into();
    let mut no_policy = event.clone();
    no_policy["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("policyName");
    let mut other_source = event.clone();
    other_source["detail"]["eventSource"] = "iam.amazonaws.com".into();
    for (case, event) in [
        ("two principals", two_principals),
        ("no policy", no_policy),
        ("not the sweep's eventSource", other_source),
    ] {
        assert!(read(&event).is_err(), "{case}: {event}");
    }
}

#[test]
fn the_summary_gives_the_figures_people_and_tools_are_told() {
    let context = context(SweepMode::Quarantine, false);
    let mut plan = plan(&HashMap::new(), &context);
    // GIVEN another sweep claimed DataPlatform first
    plan.targets
        .iter_mut()
        .find(|t| t.target == data_platform())
        .unwrap()
        .claimed_elsewhere();
    let examined = Examined {
        users: 4,
        roles: 4,
        groups: 1,
        policies: 3,
    };
    let summary = plan.summary(&context, examined, 1.25);
    assert_eq!(summary.targets_found, 5);
    assert_eq!(summary.incidents_started, 2);
    assert_eq!(summary.deciding_left_alone, 1);
    assert_eq!(summary.approved_left_alone, 0);
    assert_eq!(summary.own_or_service_roles, 2);
    assert_eq!(summary.reported, 0);
    assert_eq!(summary.principals_with_grants, 6);
    let email = sweep_notification(&summary, &plan);
    assert_eq!(
        email.subject,
        "iam-sentinel: sweep: 5 restricted grants in force, 2 incidents started"
    );
    for line in [
        "4 users, 4 roles, 1 groups, 3 managed policies",
        "being decided, left alone: 1",
        "incidents started: 2",
        "1.2 s",
        "inline policy alice-s3-cleanup of user alice [incident started]",
    ] {
        assert!(email.body.contains(line), "{line:?} in:\n{}", email.body);
    }
    let detail = sweep_event_detail(&summary, &plan);
    assert_eq!(detail["summary"]["incidentsStarted"], 2);
    assert_eq!(detail["summary"]["examined"]["roles"], 4);
    assert_eq!(detail["targets"].as_array().unwrap().len(), 5);
}

/// `s3:DeleteObject` enforced and `s3:DeleteBucket` alerted, with the exemptions given.
fn rules(exemptions: &str) -> Rules {
    let text = format!(
        r#"version = 1
[[rule]]
name = "objects"
mode = "enforce"
actions = ["s3:DeleteObject"]
[[rule]]
name = "buckets"
mode = "alert"
actions = ["s3:DeleteBucket"]
{exemptions}"#
    );
    Rules::parse(&text, Catalog::embedded()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn exemption(name: &str, expires: &str, selector: &str) -> String {
    format!(
        "[[exemption]]\nname = \"{name}\"\nreason = \"why {name}\"\nowner = \"team@example.com\"\nexpires = {expires}\n{selector}\n"
    )
}

/// How each statement's grant is classified (enforced, alerted, exempted, expired) is
/// `policy_engine::in_force`'s, owned by its table test; this owns what the sweep makes of it:
/// the targets, their dispositions and incidents, and the exemptions' uses.
#[test]
fn each_grant_is_enforced_alerted_or_exempted_by_the_rules() {
    let context = context(SweepMode::Quarantine, false);
    let later = "2027-03-31";
    // (case, exemptions, each target's (disposition, enforced, alerted, principals),
    //  exemptions applied (name: principals), expired (name: principals))
    type Expected<'e> = Vec<(
        Target,
        Disposition,
        &'e [&'e str],
        &'e [&'e str],
        &'e [&'e str],
    )>;
    type Named<'n> = &'n [(&'n str, &'n [&'n str])];
    let cases: Vec<(&str, String, Expected, Named, Named)> = vec![
        (
            "no exemption: DeleteBucket is alerted only, DeleteObject enforced",
            String::new(),
            vec![
                (
                    alice_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"user "alice""#],
                ),
                (
                    data_platform(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &[],
                    &[r#"role "data-pipeline""#, r#"user "bob""#],
                ),
                (
                    admins_administrator_access(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &["s3:DeleteBucket"],
                    &[r#"user "carol""#],
                ),
            ],
            &[],
            &[],
        ),
        (
            "a principal exemption: the policy stays a target for the other principal",
            exemption("bob", later, r#"principal = "arn:aws:iam::*:user/bob""#),
            vec![
                (
                    alice_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"user "alice""#],
                ),
                (
                    data_platform(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &[],
                    &[r#"role "data-pipeline""#],
                ),
                (
                    admins_administrator_access(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &["s3:DeleteBucket"],
                    &[r#"user "carol""#],
                ),
            ],
            &[("bob", &[r#"user "bob""#])],
            &[],
        ),
        (
            "a policy exemption covers every principal's grant through it",
            exemption(
                "data-platform",
                later,
                r#"policy = "arn:aws:iam::*:policy/DataPlatform""#,
            ),
            vec![
                (
                    alice_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"user "alice""#],
                ),
                (
                    admins_administrator_access(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &["s3:DeleteBucket"],
                    &[r#"user "carol""#],
                ),
            ],
            &[(
                "data-platform",
                &[r#"role "data-pipeline""#, r#"user "bob""#],
            )],
            &[],
        ),
        (
            "a group exemption covers its members' grants through it; a Sid one its statements",
            exemption(
                "admins",
                later,
                r#"principal = "arn:aws:iam::*:group/Admins""#,
            ) + &exemption("cleanup", later, r#"sid = "Clean*""#),
            vec![(
                data_platform(),
                Disposition::Incident,
                &["s3:DeleteObject"],
                &[],
                &[r#"role "data-pipeline""#, r#"user "bob""#],
            )],
            &[
                ("admins", &[r#"user "carol""#]),
                ("cleanup", &[r#"user "alice""#]),
            ],
            &[],
        ),
        (
            "an exemption of one rule's patterns, by policy path, leaves the other rule",
            exemption(
                "aws-managed",
                later,
                "policy_path = \"/\"\nrules = [\"buckets\"]",
            ) + &exemption(
                "object-deletes",
                later,
                "actions = [\"s3:DeleteObject\"]\nrules = [\"objects\"]",
            ),
            vec![
                (
                    alice_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"user "alice""#],
                ),
                (
                    own_role_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"role "iam-sentinel-analyse-change""#],
                ),
            ],
            &[
                ("aws-managed", &[r#"user "carol""#]),
                (
                    "object-deletes",
                    &[
                        r#"role "AWSServiceRoleForBackup""#,
                        r#"role "data-pipeline""#,
                        r#"role "iam-sentinel-analyse-change""#,
                        r#"user "bob""#,
                        r#"user "carol""#,
                    ],
                ),
            ],
            &[],
        ),
        (
            "an expired exemption no longer applies, and is named",
            exemption(
                "bob",
                "2026-12-01",
                r#"principal = "arn:aws:iam::*:user/bob""#,
            ),
            vec![
                (
                    alice_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"user "alice""#],
                ),
                (
                    data_platform(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &[],
                    &[r#"role "data-pipeline""#, r#"user "bob""#],
                ),
                (
                    admins_administrator_access(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &["s3:DeleteBucket"],
                    &[r#"user "carol""#],
                ),
            ],
            &[],
            &[("bob", &[r#"user "bob""#])],
        ),
        (
            "an actor exemption never covers a grant in force: nobody made it",
            exemption("ci", later, r#"actor = "arn:aws:iam::*:user/bob""#),
            vec![
                (
                    alice_inline(),
                    Disposition::Alerted,
                    &[],
                    &["s3:DeleteBucket"],
                    &[r#"user "alice""#],
                ),
                (
                    data_platform(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &[],
                    &[r#"role "data-pipeline""#, r#"user "bob""#],
                ),
                (
                    admins_administrator_access(),
                    Disposition::Incident,
                    &["s3:DeleteObject"],
                    &["s3:DeleteBucket"],
                    &[r#"user "carol""#],
                ),
            ],
            &[],
            &[],
        ),
    ];
    let strings = |set: &std::collections::BTreeSet<String>| {
        set.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
    };
    for (case, exemptions, expected, applied, expired) in cases {
        let plan = plan_with(&rules(&exemptions), &HashMap::new(), &context);
        // The own role and the service-linked role are there in every case: left out here.
        let mut found: Vec<_> = plan
            .targets
            .iter()
            .filter(|t| {
                !matches!(
                    t.disposition,
                    Disposition::OwnRole | Disposition::ServiceLinkedRole
                )
            })
            .map(|t| {
                (
                    t.target.clone(),
                    t.disposition,
                    strings(&t.patterns),
                    strings(&t.alerted),
                    strings(&t.principals),
                    t.event.is_some(),
                )
            })
            .collect();
        let mut wanted: Vec<_> = expected
            .iter()
            .map(|(target, disposition, enforced, alerted, principals)| {
                (
                    target.clone(),
                    *disposition,
                    enforced.join(" "),
                    alerted.join(" "),
                    principals.join(" "),
                    *disposition == Disposition::Incident,
                )
            })
            .collect();
        found.sort_by_key(|t| format!("{t:?}"));
        wanted.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(found, wanted, "{case}");
        for (uses, wanted) in [(&plan.exempted, applied), (&plan.expired, expired)] {
            let named: Vec<(String, String)> = uses
                .iter()
                .map(|u| (u.exemption.name.clone(), strings(&u.principals)))
                .collect();
            let wanted: Vec<(String, String)> = wanted
                .iter()
                .map(|(name, principals)| (name.to_string(), principals.join(" ")))
                .collect();
            assert_eq!(named, wanted, "{case}");
        }
        for used in plan.exempted.iter().chain(&plan.expired) {
            assert_eq!(used.exemption.owner, "team@example.com", "{case}");
            assert_eq!(
                used.exemption.reason,
                format!("why {}", used.exemption.name)
            );
        }
    }
}

#[test]
fn the_summary_names_alerts_and_exemptions() {
    let context = context(SweepMode::Quarantine, false);
    let rules = rules(
        &(exemption(
            "data-platform",
            "2027-03-31",
            r#"policy = "arn:aws:iam::*:policy/DataPlatform""#,
        ) + &exemption(
            "bob",
            "2026-11-30",
            r#"principal = "arn:aws:iam::*:user/bob""#,
        )),
    );
    let plan = plan_with(&rules, &HashMap::new(), &context);
    let summary = plan.summary(&context, Examined::default(), 0.5);
    // alice's bucket deletes, carol's and the own role's (both with enforced object deletes)
    assert_eq!(summary.alerts_found, 3);
    // carol's object deletes, the own role's and the service-linked role's
    assert_eq!(summary.grants_found, 3);
    // bob's and data-pipeline's through DataPlatform
    assert_eq!(summary.grants_exempted, 2);
    assert_eq!(
        (summary.exemptions_applied, summary.exemptions_expired),
        (1, 0)
    );
    assert_eq!(summary.incidents_started, 1);
    let email = sweep_notification(&summary, &plan);
    for line in [
        "alert rules only, reported only: 1",
        "inline policy alice-s3-cleanup of user alice [alert rules: reported]: alert rules: s3:DeleteBucket for user \"alice\"",
        "AdministratorAccess attached to group Admins [incident started]: s3:DeleteObject; alert rules: s3:DeleteBucket for user \"carol\"",
        "exemption \"data-platform\" (owner team@example.com, until 2027-03-31: why data-platform)",
        "2 grants (1 statements) of s3:DeleteObject for role \"data-pipeline\", user \"bob\"",
    ] {
        assert!(email.body.contains(line), "{line:?} in:\n{}", email.body);
    }
    let detail = sweep_event_detail(&summary, &plan);
    assert_eq!(detail["exempted"][0]["exemption"]["name"], "data-platform");
    assert_eq!(detail["exempted"][0]["exemption"]["expires"], "2027-03-31");
    assert_eq!(
        detail["exempted"][0]["statements"][0],
        "managed policy arn:aws:iam::123456789012:policy/DataPlatform (v2) statement Objects"
    );
    assert_eq!(detail["summary"]["alerted"], 1);
}

/// How Admins grants everything in `a_grant_through_a_group_*`.
#[derive(Debug, Clone, Copy)]
enum AdminsGrant {
    AwsManaged,
    Inline,
    CustomerManaged,
}

const ADMINS_ALL: &str = "arn:aws:iam::123456789012:policy/AdminsAll";

impl AdminsGrant {
    /// The fixture's account, Admins granting through `self`, and mallory, who joined Admins
    /// (the AddUserToGroup event never arrived) and has nothing of her own.
    fn principals(self) -> Vec<PrincipalPolicies> {
        principals_of(&self.account())
    }

    fn account(self) -> serde_json::Value {
        let mut account: serde_json::Value =
            serde_json::from_str(&read_fixture("account", "sweep-account.json")).unwrap();
        let all = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
        });
        let admins = &mut account["GroupDetailList"][0];
        match self {
            AdminsGrant::AwsManaged => {}
            AdminsGrant::Inline => {
                admins["AttachedManagedPolicies"] = serde_json::json!([]);
                admins["GroupPolicyList"] =
                    serde_json::json!([{"PolicyName": "admins-all", "PolicyDocument": all}]);
            }
            AdminsGrant::CustomerManaged => {
                admins["AttachedManagedPolicies"] =
                    serde_json::json!([{"PolicyName": "AdminsAll", "PolicyArn": ADMINS_ALL}]);
                account["Policies"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "PolicyName": "AdminsAll",
                        "PolicyId": "ANPAADMINSALL000001",
                        "Arn": ADMINS_ALL,
                        "Path": "/",
                        "DefaultVersionId": "v1",
                        "AttachmentCount": 1,
                        "PermissionsBoundaryUsageCount": 0,
                        "IsAttachable": true,
                        "CreateDate": "2026-01-05T10:00:00+00:00",
                        "UpdateDate": "2026-01-05T10:00:00+00:00",
                        "PolicyVersionList": [{
                            "Document": all,
                            "VersionId": "v1",
                            "IsDefaultVersion": true,
                            "CreateDate": "2026-01-05T10:00:00+00:00"
                        }]
                    }));
            }
        }
        let mut mallory = account["UserDetailList"][2].clone();
        mallory["UserName"] = "mallory".into();
        mallory["UserId"] = "AIDAMALLORY000000001".into();
        mallory["Arn"] = "arn:aws:iam::123456789012:user/mallory".into();
        account["UserDetailList"]
            .as_array_mut()
            .unwrap()
            .push(mallory);
        account
    }

    /// Admins' document target.
    fn target(self) -> Target {
        let admins = Principal {
            kind: PrincipalKind::Group,
            name: "Admins".into(),
        };
        match self {
            AdminsGrant::AwsManaged => admins_administrator_access(),
            AdminsGrant::Inline => Target::InlinePolicy {
                principal: admins,
                policy_name: "admins-all".into(),
            },
            AdminsGrant::CustomerManaged => Target::ManagedPolicy {
                policy_arn: ADMINS_ALL.into(),
            },
        }
    }
}

fn principals_of(account: &serde_json::Value) -> Vec<PrincipalPolicies> {
    AuthorizationDetails::from_json(&account.to_string())
        .unwrap()
        .principals()
        .unwrap()
}

fn membership(user: &str) -> Target {
    Target::GroupMembership {
        user: user.into(),
        group: "Admins".into(),
    }
}

/// The grant restore-policy records when `user`'s membership of Admins is approved: the
/// group's policies as one document (`membership::group_document`).
fn membership_grant(principals: &[PrincipalPolicies], user: &str) -> GrantKey {
    let policies: Vec<_> = principals
        .iter()
        .find(|p| p.principal.name == user)
        .unwrap()
        .identity
        .iter()
        .filter(|p| p.through_group.as_deref() == Some("Admins"))
        .cloned()
        .collect();
    GrantKey::of(&membership(user), &group_document("Admins", &policies)).unwrap()
}

/// Admins' document approved on the group, as restore-policy records an approved
/// AttachGroupPolicy, PutGroupPolicy or policy version: a customer managed policy's document
/// also on its attachment to Admins.
fn group_grants(principals: &[PrincipalPolicies], grant: AdminsGrant) -> Vec<GrantKey> {
    let document = &principals
        .iter()
        .find(|p| p.principal.name == "carol")
        .unwrap()
        .identity
        .iter()
        .find(|p| p.through_group.as_deref() == Some("Admins"))
        .unwrap()
        .document;
    let on_admins = match grant {
        AdminsGrant::CustomerManaged => Some(Target::Attachment {
            principal: Principal {
                kind: PrincipalKind::Group,
                name: "Admins".into(),
            },
            policy_arn: ADMINS_ALL.into(),
        }),
        AdminsGrant::AwsManaged | AdminsGrant::Inline => None,
    };
    std::iter::once(grant.target())
        .chain(on_admins)
        .map(|target| GrantKey::of(&target, document).unwrap())
        .collect()
}

/// When the records of `a_grant_through_a_group_needs_the_members_membership_accepted` were
/// written (and its baseline read the account, when `baseline_at` says so).
const JUNE: time::OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

/// A quarantine sweep's context in which `principal` (`user carol`, `group admins`) was
/// created in July, after the records; everyone else long before.
fn created_since_june(principal: &str, baseline_at: Option<time::OffsetDateTime>) -> SweepContext {
    let mut context = context(SweepMode::Quarantine, false);
    context.principals_created = [(principal.to_owned(), datetime!(2026-07-01 00:00 UTC))].into();
    context.baseline_at = baseline_at;
    context
}

#[test]
fn a_grant_through_a_group_needs_the_members_membership_accepted() {
    let at = datetime!(2026-12-02 05:00 UTC);
    let record = |status| match status {
        GrantStatus::Approved => record(status, JUNE),
        GrantStatus::Deciding => record(status, at - time::Duration::hours(1)),
    };
    let carol_at_baseline = |principals: &[PrincipalPolicies]| {
        let mut context = context(SweepMode::Quarantine, false);
        context
            .baseline_memberships
            .insert(membership_grant(principals, "carol").target);
        context
    };
    // (case, grant records, context, Admins' document, carol's membership, mallory's; None:
    // not a target of this sweep)
    type Records = fn(&[PrincipalPolicies], AdminsGrant) -> Vec<(GrantKey, GrantStatus)>;
    type Context = fn(&[PrincipalPolicies]) -> SweepContext;
    type Row<'r> = (
        &'r str,
        Records,
        Context,
        Option<Disposition>,
        Option<Disposition>,
        Option<Disposition>,
    );
    let quarantine: Context = |_| context(SweepMode::Quarantine, false);
    let cases: Vec<Row> = vec![
        (
            "carol's membership approved: it covers Admins' policies as they are, not mallory",
            |p, _| vec![(membership_grant(p, "carol"), GrantStatus::Approved)],
            quarantine,
            Some(Disposition::Approved),
            Some(Disposition::Approved),
            Some(Disposition::Incident),
        ),
        (
            "Admins' policy approved on the group: it names no member, both are asked about",
            |p, grant| {
                group_grants(p, grant)
                    .into_iter()
                    .map(|key| (key, GrantStatus::Approved))
                    .collect()
            },
            quarantine,
            Some(Disposition::Approved),
            Some(Disposition::Incident),
            Some(Disposition::Incident),
        ),
        (
            "carol a member at the baseline, the policy approved on the group",
            |p, grant| {
                group_grants(p, grant)
                    .into_iter()
                    .map(|key| (key, GrantStatus::Approved))
                    .collect()
            },
            carol_at_baseline,
            Some(Disposition::Approved),
            Some(Disposition::AtBaseline),
            Some(Disposition::Incident),
        ),
        (
            "a member at the baseline does not cover the group's policy: asked on the group first",
            |_, _| vec![],
            carol_at_baseline,
            Some(Disposition::Incident),
            None,
            None,
        ),
        (
            "mallory's membership claimed by another sweep: no second incident",
            |p, _| {
                vec![
                    (membership_grant(p, "carol"), GrantStatus::Approved),
                    (membership_grant(p, "mallory"), GrantStatus::Deciding),
                ]
            },
            quarantine,
            Some(Disposition::Approved),
            Some(Disposition::Approved),
            Some(Disposition::Deciding),
        ),
        (
            // T28: the approval was for the carol it was given to; Admins is the group approved.
            "carol created again after her membership was approved: it is asked about again; \
             Admins' policies stay covered",
            |p, _| vec![(membership_grant(p, "carol"), GrantStatus::Approved)],
            |_| created_since_june("user carol", None),
            Some(Disposition::Approved),
            Some(Disposition::Incident),
            Some(Disposition::Incident),
        ),
        (
            "Admins created again after carol's membership was approved: it covers nothing of the \
             new group, whose policy is asked about first",
            |p, _| vec![(membership_grant(p, "carol"), GrantStatus::Approved)],
            |_| created_since_june("group admins", None),
            Some(Disposition::Incident),
            None,
            None,
        ),
        (
            "carol a member at the baseline, but created again since it read the account",
            |p, grant| {
                group_grants(p, grant)
                    .into_iter()
                    .map(|key| (key, GrantStatus::Approved))
                    .collect()
            },
            |p| {
                let mut context = created_since_june("user carol", Some(JUNE));
                context
                    .baseline_memberships
                    .insert(membership_grant(p, "carol").target);
                context
            },
            Some(Disposition::Approved),
            Some(Disposition::Incident),
            Some(Disposition::Incident),
        ),
        (
            "the baseline reports both memberships, quarantines nothing",
            |_, _| vec![],
            |_| context(SweepMode::Quarantine, true),
            Some(Disposition::Baseline),
            Some(Disposition::Baseline),
            Some(Disposition::Baseline),
        ),
    ];
    for grant in [
        AdminsGrant::AwsManaged,
        AdminsGrant::Inline,
        AdminsGrant::CustomerManaged,
    ] {
        let principals = grant.principals();
        for (case, records, context, document, carol, mallory) in &cases {
            let grants: HashMap<GrantKey, GrantRecord> = records(&principals, grant)
                .into_iter()
                .map(|(key, status)| (key, record(status)))
                .collect();
            let context = context(&principals);
            let plan = plan_sweep(
                &principals,
                &parameter_only(),
                Catalog::embedded(),
                &grants,
                &OwnRoles::default(),
                &context,
            );
            let disposition = |target: &Target| {
                plan.targets
                    .iter()
                    .find(|t| &t.target == target)
                    .map(|t| t.disposition)
            };
            let case = format!("{grant:?}: {case}: {:#?}", plan.targets);
            assert_eq!(disposition(&grant.target()), *document, "{case}");
            assert_eq!(disposition(&membership("carol")), *carol, "{case}");
            assert_eq!(disposition(&membership("mallory")), *mallory, "{case}");
            // Each membership's incident is the event path's AddUserToGroup incident, named by
            // its target: two sweeps claim one grant record for it.
            for found in plan.targets.iter().filter(|t| t.event.is_some()) {
                let event = found.event.as_ref().unwrap();
                let Ok(Reading::Change(change)) = read_event(event, &scope()) else {
                    panic!("{case}: {event}");
                };
                assert_eq!(change.target, found.target, "{case}");
                assert_eq!(
                    IncidentName::of(event).target,
                    TargetKey::of(&found.target),
                    "{case}"
                );
            }
            if *mallory == Some(Disposition::Incident) {
                let found = finding(&plan, &membership("mallory"));
                assert_eq!(found.grant, membership_grant(&principals, "mallory"));
                assert_eq!(
                    found.principals.iter().collect::<Vec<_>>(),
                    [r#"user "mallory""#],
                    "{case}"
                );
            }
            // What a baseline records as accepted: every membership a grant came through.
            assert_eq!(
                plan.memberships,
                ["carol", "mallory"]
                    .map(|user| TargetKey::of(&membership(user)).to_string())
                    .into_iter()
                    .collect(),
                "{case}"
            );
        }
    }
}

#[test]
fn a_membership_covers_a_managed_policy_on_its_group_and_the_policy_on_no_other_principal() {
    // AdminsAll on Admins, and attached to data-pipeline since (that event lost)
    let mut account = AdminsGrant::CustomerManaged.account();
    account["RoleDetailList"][0]["AttachedManagedPolicies"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"PolicyName": "AdminsAll", "PolicyArn": ADMINS_ALL}));
    let principals = principals_of(&account);
    let on = |kind, name: &str| Target::Attachment {
        principal: Principal {
            kind,
            name: name.into(),
        },
        policy_arn: ADMINS_ALL.into(),
    };
    let (on_admins, on_pipeline) = (
        on(PrincipalKind::Group, "Admins"),
        on(PrincipalKind::Role, "data-pipeline"),
    );
    let approved = |key: GrantKey| {
        (
            key,
            record(GrantStatus::Approved, datetime!(2026-06-01 00:00 UTC)),
        )
    };
    let document_approved = group_grants(&principals, AdminsGrant::CustomerManaged)
        .into_iter()
        .map(approved)
        .collect();
    let carol_approved = HashMap::from([approved(membership_grant(&principals, "carol"))]);
    // (case, records, findings about AdminsAll and the memberships of Admins)
    type Case = (
        &'static str,
        HashMap<GrantKey, GrantRecord>,
        Vec<(Target, Disposition)>,
    );
    let cases: [Case; 2] = [
        (
            "carol's membership approved: Admins' attachment, not data-pipeline's",
            carol_approved,
            vec![
                (on_admins.clone(), Disposition::Approved),
                (on_pipeline.clone(), Disposition::Incident),
                (membership("carol"), Disposition::Approved),
                (membership("mallory"), Disposition::Incident),
            ],
        ),
        (
            "the policy approved on Admins: no member, no later attachment",
            document_approved,
            vec![
                (on_admins, Disposition::Approved),
                (on_pipeline, Disposition::Incident),
                (membership("carol"), Disposition::Incident),
                (membership("mallory"), Disposition::Incident),
            ],
        ),
    ];
    for (case, grants, expected) in cases {
        let plan = plan_sweep(
            &principals,
            &parameter_only(),
            Catalog::embedded(),
            &grants,
            &OwnRoles::default(),
            &context(SweepMode::Quarantine, false),
        );
        let mut found: Vec<(Target, Disposition)> = plan
            .targets
            .iter()
            .filter(|t| {
                matches!(&t.target, Target::GroupMembership { .. })
                    || serde_json::to_string(&t.target)
                        .unwrap()
                        .contains(ADMINS_ALL)
            })
            .map(|t| (t.target.clone(), t.disposition))
            .collect();
        let mut expected = expected;
        found.sort_by_key(|(target, _)| format!("{target:?}"));
        expected.sort_by_key(|(target, _)| format!("{target:?}"));
        assert_eq!(found, expected, "{case}");
    }
}
