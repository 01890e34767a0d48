//! Execution names from CloudTrail events: one name per event (a duplicate delivery cannot start
//! a second execution), valid for Step Functions, and ordering incidents on one target.

mod support;

use incident::{IncidentName, TargetKey};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{detail_mut, fixture};

fn name(event: &Value) -> IncidentName {
    IncidentName::of(event)
}

/// Step Functions: 1-80 characters; these are all a name needs (no spaces, wildcards, brackets,
/// control or special characters).
fn valid_execution_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn with_detail(event: &str, field: &str, value: Value) -> Value {
    let mut event = fixture(event);
    detail_mut(&mut event).insert(field.into(), value);
    event
}

#[test]
fn the_name_says_target_time_and_event_id() {
    let event = fixture("create-policy.json");
    let name = name(&event).to_string();
    let (_, rest) = name.split_once('-').unwrap();
    assert_eq!(
        rest,
        "20261121T093000Z-47e675e7-a06b-499a-961b-2284a99aba5a"
    );
    assert!(valid_execution_name(&name), "{name}");
}

#[test]
fn the_same_event_delivered_twice_gets_the_same_name() {
    for fixture_name in [
        "create-policy.json",
        "create-policy-version-default.json",
        "set-default-policy-version.json",
        "put-role-policy.json",
        "attach-role-policy.json",
        "put-role-policy-malformed.json",
    ] {
        let event = fixture(fixture_name);
        assert_eq!(
            name(&event).to_string(),
            name(&event.clone()).to_string(),
            "{fixture_name}"
        );
    }
}

#[test]
fn changes_to_one_target_share_its_key_and_others_do_not() {
    let version = fixture("create-policy-version-default.json");
    let set_default = fixture("set-default-policy-version.json");
    let same_policy = version.pointer("/detail/requestParameters/policyArn")
        == set_default.pointer("/detail/requestParameters/policyArn");
    assert!(same_policy, "the two fixtures change one policy");
    assert_eq!(name(&version).target, name(&set_default).target);

    let keys: Vec<TargetKey> = [
        "create-policy.json",
        "put-role-policy.json",
        "put-user-policy.json",
        "attach-role-policy.json",
        "attach-user-policy.json",
        "add-user-to-group.json",
        "update-assume-role-policy.json",
    ]
    .iter()
    .map(|f| name(&fixture(f)).target)
    .collect();
    for (i, a) in keys.iter().enumerate() {
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn names_that_differ_only_in_case_are_one_target_as_in_iam() {
    let with_role = |role: &str| {
        let mut event = fixture("put-role-policy.json");
        event["detail"]["requestParameters"]["roleName"] = json!(role);
        event
    };
    assert_eq!(
        name(&with_role("Data-Pipeline")).target,
        name(&with_role("data-pipeline")).target
    );
}

#[test]
fn a_later_change_to_the_same_target_supersedes_an_earlier_one() {
    let earlier = with_detail(
        "put-role-policy.json",
        "eventTime",
        json!("2026-11-21T09:30:00Z"),
    );
    let mut later = with_detail(
        "put-role-policy.json",
        "eventTime",
        json!("2026-11-21T09:31:00Z"),
    );
    detail_mut(&mut later).insert(
        "eventID".into(),
        json!("00000000-0000-0000-0000-000000000000"),
    );
    let other_target = with_detail(
        "put-user-policy.json",
        "eventTime",
        json!("2026-11-21T10:00:00Z"),
    );

    assert!(name(&later).supersedes(&name(&earlier)));
    assert!(!name(&earlier).supersedes(&name(&later)));
    assert!(!name(&earlier).supersedes(&name(&earlier)), "not itself");
    assert!(
        !name(&other_target).supersedes(&name(&earlier)),
        "another target"
    );
}

#[test]
fn changes_in_the_same_second_are_ordered_the_same_way_by_everyone() {
    let a = with_detail(
        "put-role-policy.json",
        "eventID",
        json!("aaaaaaaa-0000-0000-0000-000000000000"),
    );
    let b = with_detail(
        "put-role-policy.json",
        "eventID",
        json!("bbbbbbbb-0000-0000-0000-000000000000"),
    );
    assert!(name(&b).supersedes(&name(&a)));
    assert!(!name(&a).supersedes(&name(&b)));
}

#[test]
fn an_event_time_with_an_offset_or_fraction_is_the_same_instant_in_utc() {
    let event = with_detail(
        "create-policy.json",
        "eventTime",
        json!("2026-11-21T10:30:00.750+01:00"),
    );
    assert!(name(&event).to_string().contains("-20261121T093000Z-"));
}

#[test]
fn an_unusable_event_id_or_time_still_gives_a_valid_name_of_its_own() {
    let cases = [
        ("no eventID", {
            let mut e = fixture("create-policy.json");
            detail_mut(&mut e).remove("eventID");
            e
        }),
        (
            "eventID with slashes",
            with_detail("create-policy.json", "eventID", json!("a/b:c")),
        ),
        (
            "eventID too long",
            with_detail("create-policy.json", "eventID", json!("a".repeat(81))),
        ),
        (
            "eventID a number",
            with_detail("create-policy.json", "eventID", json!(42)),
        ),
    ];
    let mut names = Vec::new();
    for (case, event) in &cases {
        let n = name(event).to_string();
        assert!(valid_execution_name(&n), "{case}: {n}");
        assert!(
            n.rsplit_once("Z-").unwrap().1.starts_with('x'),
            "{case}: hashed id in {n}"
        );
        names.push(n);
    }
    names.dedup();
    assert_eq!(
        names.len(),
        cases.len(),
        "each event its own name: {names:?}"
    );

    let no_time = {
        let mut e = with_detail("create-policy.json", "eventTime", json!(1700000000));
        e.as_object_mut().unwrap().remove("time");
        e
    };
    assert!(
        name(&no_time).to_string().contains("-19700101T000000Z-"),
        "the epoch: never newer"
    );
}

#[test]
fn an_event_whose_target_cannot_be_read_never_shares_a_key() {
    let not_iam =
        json!({"source": "aws.s3", "detail": {"eventID": "11111111-1111-1111-1111-111111111111"}});
    let other =
        json!({"source": "aws.s3", "detail": {"eventID": "22222222-2222-2222-2222-222222222222"}});
    assert_ne!(name(&not_iam).target, name(&other).target);
    assert!(valid_execution_name(
        &name(&json!("not even an object")).to_string()
    ));
}

#[test]
fn a_name_that_is_not_an_incident_name_is_refused() {
    for bad in [
        "",
        "3f1c0a9e5b7d2c41",
        "3f1c0a9e5b7d2c41-20261202T010203Z-",
        "3F1C0A9E5B7D2C41-20261202T010203Z-abc",
        "3f1c0a9e5b7d2c4-20261202T010203Z-abc",
        "3f1c0a9e5b7d2c41-2026-12-02T01:02:03Z-abc",
        "3f1c0a9e5b7d2c41-20261302T010203Z-abc",
        "6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
    ] {
        let err = bad.parse::<IncidentName>().unwrap_err();
        assert!(err.to_string().contains("is not an incident name"), "{bad}");
    }
}

proptest! {
    #[test]
    fn every_name_is_valid_and_reads_back_as_itself(
        id in "[A-Za-z0-9-]{1,40}|.{0,60}",
        secs in 0i64..4_102_444_800,
        policy in "[a-zA-Z0-9+=,.@_-]{1,128}",
    ) {
        let time = time::OffsetDateTime::from_unix_timestamp(secs).unwrap()
            .format(&time::format_description::well_known::Rfc3339).unwrap();
        let mut event = fixture("put-role-policy.json");
        detail_mut(&mut event).insert("eventID".into(), json!(id));
        detail_mut(&mut event).insert("eventTime".into(), json!(time));
        event["detail"]["requestParameters"]["policyName"] = json!(policy);
        let n = name(&event);
        let text = n.to_string();
        prop_assert!(valid_execution_name(&text), "{}", text);
        prop_assert!(text.len() <= 74);
        prop_assert_eq!(text.parse::<IncidentName>().unwrap(), n);
    }
}
