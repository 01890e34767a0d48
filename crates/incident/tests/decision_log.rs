//! The durable record of decisions: one digest per document whatever its spelling, grant keys
//! that read back, which grant records hold the sweep off, and what an incident's record says
//! at each outcome.

mod support;

use std::time::Duration;

use incident::decision_log::{
    GrantKey, GrantRecord, GrantStatus, IncidentRecord, boundary_key, canonical_digest,
    claim_lifetime,
};
use incident::{Decision, Outcome, Principal, PrincipalKind, RestoreStatus, Target, TargetKey};
use support::{
    OUTCOMES, assessment_of, fixture, read_fixture, recorded_document, spelling, state_at,
};
use time::macros::datetime;

const DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:DeleteBucket","s3:GetObject"],"Resource":"*"}]}"#;

#[test]
fn one_document_has_one_digest_however_it_is_written() {
    let digest = canonical_digest(DOCUMENT).expect("JSON");
    // (case, text, same document?)
    let cases: [(&str, String, bool); 7] = [
        ("as written", DOCUMENT.into(), true),
        (
            "pretty-printed",
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(DOCUMENT).unwrap())
                .unwrap(),
            true,
        ),
        (
            "keys in another order",
            r#"{"Statement":[{"Resource":"*","Action":["s3:DeleteBucket","s3:GetObject"],"Effect":"Allow"}],"Version":"2012-10-17"}"#.into(),
            true,
        ),
        (
            "percent-encoded, as the IAM API hands it out",
            DOCUMENT
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>(),
            true,
        ),
        (
            "actions in another order: another document",
            DOCUMENT.replace(
                r#"["s3:DeleteBucket","s3:GetObject"]"#,
                r#"["s3:GetObject","s3:DeleteBucket"]"#,
            ),
            false,
        ),
        (
            "another resource",
            DOCUMENT.replace(r#""*""#, r#""arn:aws:s3:::b""#),
            false,
        ),
        (
            "a key whose case differs",
            DOCUMENT.replace("Resource", "resource"),
            false,
        ),
    ];
    for (case, text, same) in cases {
        assert_eq!(
            canonical_digest(&text).as_deref() == Some(digest.as_str()),
            same,
            "{case}: {text}"
        );
    }
    assert_eq!(canonical_digest("not a policy"), None);
}

#[test]
fn the_event_and_iam_spell_one_document_differently_and_it_has_one_digest() {
    // GIVEN the percent-encoded, indented document a real CreatePolicy event recorded
    let recorded = recorded_document(&fixture("create-policy-percent-encoded.json"));
    let decoded = policy_engine::decode(&recorded).unwrap().into_owned();
    let compact = serde_json::from_str::<serde_json::Value>(&decoded)
        .unwrap()
        .to_string();
    // THEN the event's text, IAM's decoded text and a compact copy have one digest
    assert_eq!(canonical_digest(&recorded), canonical_digest(&decoded));
    assert_eq!(canonical_digest(&decoded), canonical_digest(&compact));
}

#[test]
fn a_grant_key_reads_back_and_nothing_else_reads_as_one() {
    let target = Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/DataPlatform".into(),
    };
    let key = GrantKey::of(&target, DOCUMENT).expect("a key");
    assert!(key.item_key().starts_with("grant#"), "{}", key.item_key());
    assert_eq!(GrantKey::from_item_key(&key.item_key()), Some(key.clone()));
    // A claim has a key of its own, which reads back as a claim only.
    assert!(key.claim_key().starts_with("claim#"), "{}", key.claim_key());
    assert_eq!(
        GrantKey::from_claim_key(&key.claim_key()),
        Some(key.clone())
    );
    assert_eq!(GrantKey::from_item_key(&key.claim_key()), None);
    assert_eq!(GrantKey::from_claim_key(&key.item_key()), None);
    // The target key ignores case, as IAM does.
    let shouted = Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/DATAPLATFORM".into(),
    };
    assert_eq!(GrantKey::of(&shouted, DOCUMENT), Some(key.clone()));
    for other in [
        "incident#x".to_owned(),
        "sweep#baseline".to_owned(),
        format!("grant#{}", key.target),
        format!("grant#{}#{}", key.target, &key.digest[..63]),
        format!("grant#{}#{}", key.target.to_uppercase(), key.digest),
        format!("grant#{}#{}#x", key.target, key.digest),
    ] {
        assert_eq!(GrantKey::from_item_key(&other), None, "{other}");
    }
    assert_eq!(GrantKey::of(&target, "not JSON"), None);
}

#[test]
fn approved_grants_hold_for_ever_and_claims_until_their_incident_must_have_ended() {
    let now = datetime!(2026-12-02 05:00 UTC);
    let lifetime = claim_lifetime(24 * 3600);
    assert_eq!(lifetime, Duration::from_secs(48 * 3600));
    let record = |status, at| GrantRecord {
        status,
        incident: "i".into(),
        at,
        target: None,
    };
    // (case, record, holds the sweep off?)
    let cases = [
        (
            "approved a year ago",
            record(GrantStatus::Approved, datetime!(2025-12-01 05:00 UTC)),
            true,
        ),
        (
            "claimed an hour ago",
            record(GrantStatus::Deciding, datetime!(2026-12-02 04:00 UTC)),
            true,
        ),
        (
            "claimed just under two days ago",
            record(GrantStatus::Deciding, datetime!(2026-11-30 05:00:01 UTC)),
            true,
        ),
        (
            "claimed two days ago: stale",
            record(GrantStatus::Deciding, datetime!(2026-11-30 05:00 UTC)),
            false,
        ),
        (
            "claimed a week ago",
            record(GrantStatus::Deciding, datetime!(2026-11-25 05:00 UTC)),
            false,
        ),
        (
            "claimed five minutes ahead: another sweep's clock",
            record(GrantStatus::Deciding, datetime!(2026-12-02 05:05 UTC)),
            true,
        ),
        (
            "claimed a year ahead: no sweep wrote that",
            record(GrantStatus::Deciding, datetime!(2027-12-02 05:00 UTC)),
            false,
        ),
    ];
    for (case, record, holds) in cases {
        assert_eq!(record.holds(now, lifetime), holds, "{case}");
    }
}

#[test]
fn of_a_grants_approval_and_claims_the_sweep_goes_by_the_latest() {
    let record = |status, incident: &str, at| GrantRecord {
        status,
        incident: incident.into(),
        at,
        target: None,
    };
    let claim = |incident, at| record(GrantStatus::Deciding, incident, at);
    let approved = record(
        GrantStatus::Approved,
        "approved",
        datetime!(2025-12-01 05:00 UTC),
    );
    let old_claim = claim("old claim", datetime!(2026-11-01 05:00 UTC));
    let new_claim = claim("new claim", datetime!(2026-12-02 05:00 UTC));
    let claim_of_the_approval = claim("claim of the approval", datetime!(2025-12-01 05:00 UTC));
    let earlier_claim = claim("earlier claim", datetime!(2025-11-01 05:00 UTC));
    // (case, one record, the other, the one gone by)
    let cases = [
        (
            "an approval, an earlier claim (the incident it claimed for was approved)",
            &approved,
            &earlier_claim,
            "approved",
        ),
        (
            "a claim, a later approval",
            &earlier_claim,
            &approved,
            "approved",
        ),
        (
            "an approval, a claim of the same second",
            &claim_of_the_approval,
            &approved,
            "approved",
        ),
        (
            // Only for a principal created again since the approval (T28).
            "an approval, a later claim: the claim decides now",
            &approved,
            &new_claim,
            "new claim",
        ),
        (
            "a claim, an earlier approval",
            &new_claim,
            &approved,
            "new claim",
        ),
        (
            "two claims, the later second",
            &old_claim,
            &new_claim,
            "new claim",
        ),
        (
            "two claims, the later first",
            &new_claim,
            &old_claim,
            "new claim",
        ),
    ];
    for (case, one, other, expected) in cases {
        assert_eq!(
            one.clone().either(other.clone()).incident,
            expected,
            "{case}"
        );
    }
}

#[test]
fn the_boundary_ledger_is_keyed_by_kind_and_name_in_lower_case() {
    assert_eq!(
        boundary_key(PrincipalKind::Role, "DataPlatform"),
        "boundary#role#dataplatform"
    );
    assert_eq!(
        boundary_key(PrincipalKind::User, "alice"),
        "boundary#user#alice"
    );
}

#[test]
fn an_incident_record_says_who_changed_what_what_was_found_done_and_decided() {
    let assessment = assessment_of("create-policy.json");
    let at = datetime!(2026-12-02 05:00:00.5 UTC);
    let name = "3f1c0a9e5b7d2c41-20261121T094500Z-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    for outcome in OUTCOMES {
        let state = state_at(outcome, &assessment);
        let record = IncidentRecord::of(name, outcome, &state, at);
        assert_eq!(record.item_key(), format!("incident#{name}"));
        assert_eq!(record.recorded_at, "2026-12-02T05:00:00Z", "{outcome:?}");
        assert_eq!(record.outcome, outcome);
        assert_eq!(
            record.event_name.as_deref(),
            Some("CreatePolicy"),
            "{outcome:?}"
        );
        assert_eq!(
            record.actor.as_ref().and_then(|a| a.arn.as_deref()),
            Some(support::ALICE),
            "{outcome:?}"
        );
        assert!(
            matches!(record.target, Some(Target::ManagedPolicy { .. })),
            "{outcome:?}"
        );
        assert!(
            record.original_document_sha256.is_some(),
            "{outcome:?}: the original's hash"
        );
        let found = !matches!(outcome, Outcome::Clean);
        assert_eq!(
            record.patterns.contains(&"s3:DeleteBucket".to_owned()),
            found,
            "{outcome:?}: {:?}",
            record.patterns
        );
    }
    // What was done and who decided, where the workflow got that far.
    let restored = IncidentRecord::of(
        name,
        Outcome::Restored,
        &state_at(Outcome::Restored, &assessment),
        at,
    );
    assert_eq!(restored.quarantine.as_deref(), Some("newDefaultVersion"));
    assert_eq!(restored.restore, Some(RestoreStatus::Restored));
    let decided = restored.decision.expect("a decision");
    assert_eq!(decided.decision, Decision::Approve);
    assert!(
        decided.verified,
        "restore-policy verified it before it restored"
    );
    assert_eq!(decided.source_ip.as_deref(), Some("198.51.100.77"));
    assert_eq!(
        decided.comment.as_deref(),
        Some("needed for the bucket migration, OPS-1234")
    );
    let json = serde_json::to_string(&decided).unwrap();
    assert!(!json.contains("proof"), "the proof is not recorded: {json}");
    let kept = IncidentRecord::of(
        name,
        Outcome::Kept,
        &state_at(Outcome::Kept, &assessment),
        at,
    );
    let denied = kept.decision.expect("a decision");
    assert_eq!(denied.decision, Decision::Deny);
    assert!(!denied.verified, "nobody checks a deny's proof: {denied:?}");
    assert_eq!(kept.restore, None);
}

#[test]
fn each_outcome_names_the_publish_state_that_publishes_it() {
    // The incident's record is built from this state's input in the history.
    let asl: serde_json::Value =
        serde_json::from_str(&read_fixture("../../statemachine", "remediation.asl.json")).unwrap();
    for outcome in OUTCOMES.into_iter().chain([Outcome::TrustReported]) {
        let state = &asl["States"][outcome.publish_state()];
        assert_eq!(
            state["Parameters"]["outcome"].as_str(),
            Some(spelling(outcome).as_str()),
            "{outcome:?}: {state}"
        );
    }
}

#[test]
fn a_grant_record_counts_for_the_target_and_the_principals_it_was_written_for() {
    let role_policy = |role: &str, name: &str| Target::InlinePolicy {
        principal: Principal {
            kind: PrincipalKind::Role,
            name: role.into(),
        },
        policy_name: name.into(),
    };
    let written = |target: Option<&Target>| GrantRecord {
        status: GrantStatus::Approved,
        incident: "i".into(),
        at: datetime!(2026-12-01 00:00 UTC),
        target: target.map(TargetKey::canonical),
    };
    let pipeline = role_policy("data-pipeline", "cleanup");
    // The record was written 2026-12-01 00:00; data-pipeline was created a month before.
    let long_before = Some(datetime!(2026-11-01 00:00 UTC));
    // (case, record, the target judged, when its principal was created, counts?)
    let cases = [
        (
            "written for it",
            written(Some(&pipeline)),
            &pipeline,
            long_before,
            true,
        ),
        (
            "written for it, names in another case (IAM's are one)",
            written(Some(&pipeline)),
            &role_policy("Data-Pipeline", "Cleanup"),
            long_before,
            true,
        ),
        (
            "written for another target (keys that collide)",
            written(Some(&role_policy("mallory", "cleanup"))),
            &pipeline,
            long_before,
            false,
        ),
        (
            "written before targets were kept: as its key says",
            written(None),
            &pipeline,
            long_before,
            true,
        ),
        (
            "written before the role was created: for an earlier role of the same name (T28)",
            written(Some(&pipeline)),
            &pipeline,
            Some(datetime!(2026-12-01 00:00:01 UTC)),
            false,
        ),
        (
            // IAM dates to the second; restore-policy records an approval long after the role
            // it was given for was created.
            "approved in the second the role was created: for the role it replaced",
            written(Some(&pipeline)),
            &pipeline,
            Some(datetime!(2026-12-01 00:00 UTC)),
            false,
        ),
        (
            // A sweep claims once it has read the role.
            "claimed in the second the role was created: for it",
            GrantRecord {
                status: GrantStatus::Deciding,
                ..written(Some(&pipeline))
            },
            &pipeline,
            Some(datetime!(2026-12-01 00:00 UTC)),
            true,
        ),
        (
            "before targets were kept, and before the role was created",
            written(None),
            &pipeline,
            Some(datetime!(2026-12-02 00:00 UTC)),
            false,
        ),
        (
            "a target held by no principal (a managed policy's document)",
            written(Some(&pipeline)),
            &pipeline,
            None,
            true,
        ),
    ];
    for (case, record, target, principals_since, counts) in cases {
        assert_eq!(record.is_for(target, principals_since), counts, "{case}");
    }
}
