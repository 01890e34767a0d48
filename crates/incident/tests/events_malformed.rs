//! What is not an IAM policy change iam-sentinel handles gets a clear error naming what is wrong
//! (not an event, not IAM, an unhandled call, a missing field), and no JSON at all makes the
//! reader panic. A malformed event is read leniently where a fact only tells (time, origin:
//! noted, still analysed) and strictly where it decides (the target, whether the call failed),
//! and still gives every fact it names for the failure notice.

mod support;

use std::collections::BTreeMap;

use incident::{
    EventError, EventScope, PolicyChange, Principal, PrincipalKind, Reading, Target,
    WriterSessions, event_facts, read_event,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{
    ACCOUNT, ALICE, BOB, QUARANTINE_SESSION, WRITER_ROLE, change, change_of, detail_mut, fixture,
    read, writers,
};

/// The event names iam-sentinel handles.
const HANDLED: [&str; 9] = [
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
];

/// How a case alters its fixture before it is read.
type Alter = fn(&mut Value);

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn a_json_value_that_is_not_an_object_is_not_an_event() {
    for value in [
        json!(null),
        json!(42),
        json!("CreatePolicy"),
        json!([]),
        json!(true),
    ] {
        // GIVEN JSON that is not an object
        // WHEN it is read
        let result = read(&value);
        // THEN it is NotAnEvent
        assert!(
            matches!(result, Err(EventError::NotAnEvent(_))),
            "{value}: {result:?}"
        );
    }
}

#[test]
fn an_event_without_its_detail_or_event_name_is_not_an_event_naming_what_is_missing() {
    let cases: [(&str, &str, Alter, &[&str]); 2] = [
        (
            "an object without detail",
            "create-policy.json",
            |event| {
                event.as_object_mut().unwrap().remove("detail");
            },
            &["not an EventBridge event", "detail"],
        ),
        (
            "a record without eventName",
            "attach-user-policy.json",
            |event| {
                detail_mut(event).remove("eventName");
            },
            &["not an EventBridge event", "eventName"],
        ),
    ];
    for (case, name, alter, said) in cases {
        // GIVEN an event that lost a part every event has
        let mut event = fixture(name);
        alter(&mut event);
        // WHEN it is read
        let result = read(&event);
        // THEN it is NotAnEvent, and the message says what is missing
        let Err(error @ EventError::NotAnEvent(_)) = result else {
            panic!("{case}: expected NotAnEvent, got {result:?}");
        };
        let message = error.to_string();
        for words in said {
            assert!(message.contains(words), "{case}: {message}");
        }
    }
}

/// An S3 "Object Created" event, as S3 sends it to EventBridge.
fn s3_object_created() -> Value {
    json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-21T09:31:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::acme-raw-data"],
        "detail": {
            "version": "0",
            "bucket": {"name": "acme-raw-data"},
            "object": {"key": "2026/11/21/batch.csv", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00617F08299329D189"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "203.0.113.24",
            "reason": "PutObject"
        }
    })
}

#[test]
fn an_event_that_is_not_a_cloudtrail_record_of_an_iam_call_is_not_iam_naming_its_sources() {
    let s3_delete_bucket = {
        let mut event = fixture("create-policy.json");
        event["source"] = json!("aws.s3");
        event["detail"]["eventSource"] = json!("s3.amazonaws.com");
        event["detail"]["eventName"] = json!("DeleteBucket");
        event["detail"]["requestParameters"] = json!({"bucketName": "acme-pipeline-staging", "Host": "acme-pipeline-staging.s3.amazonaws.com"});
        event["detail"]["responseElements"] = Value::Null;
        event
    };
    let sts_claiming_iam = {
        let mut event = fixture("create-policy.json");
        event["detail"]["eventSource"] = json!("sts.amazonaws.com");
        event
    };
    let cases = [
        (
            "an S3 DeleteBucket recorded by CloudTrail",
            s3_delete_bucket,
            "aws.s3",
            Some("s3.amazonaws.com"),
        ),
        (
            "an S3 Object Created event (an EventBridge event, just not an IAM one)",
            s3_object_created(),
            "aws.s3",
            None,
        ),
        (
            "source aws.iam, recording an STS call",
            sts_claiming_iam,
            "aws.iam",
            Some("sts.amazonaws.com"),
        ),
    ];
    for (case, event, expected_origin, expected_event_source) in cases {
        // GIVEN an event that is not a CloudTrail record of an IAM call
        // WHEN it is read
        let result = read(&event);
        // THEN it is NotIam, naming its source and (when it has one) its eventSource
        let Err(EventError::NotIam {
            origin,
            event_source,
        }) = &result
        else {
            panic!("{case}: expected NotIam, got {result:?}");
        };
        assert_eq!(origin, expected_origin, "{case}");
        let message = result.as_ref().unwrap_err().to_string();
        assert!(message.contains(expected_origin), "{case}: {message}");
        if let Some(expected) = expected_event_source {
            assert_eq!(event_source, expected, "{case}");
            assert!(message.contains(expected), "{case}: {message}");
        }
    }
}

#[test]
fn an_iam_event_the_service_does_not_handle_is_unhandled_naming_it() {
    // GIVEN a successful DeletePolicy
    let mut event = fixture("create-policy.json");
    event["detail"]["eventName"] = json!("DeletePolicy");
    event["detail"]["requestParameters"] =
        json!({"policyArn": "arn:aws:iam::123456789012:policy/my-bad-policy-aws-5-mins"});
    event["detail"]["responseElements"] = Value::Null;
    // WHEN it is read
    let result = read(&event);
    // THEN it is UnhandledEvent, and the message names DeletePolicy
    assert_eq!(
        result,
        Err(EventError::UnhandledEvent {
            event_name: "DeletePolicy".into()
        })
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("DeletePolicy"), "{message}");
    assert!(message.contains("not a policy change"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Malformed events (tests/fixtures/events/malformed/): lenient where a fact only tells, strict
// where it decides
// ---------------------------------------------------------------------------------------------

/// How a case's expected change differs from its well-formed original's, given the event.
type Expect = fn(&mut PolicyChange, &Value);

#[test]
fn a_fact_of_the_wrong_type_is_noted_and_the_change_still_read() {
    let cases: [(&str, &str, Expect); 3] = [
        (
            "malformed/create-policy-time-as-number.json",
            "create-policy.json",
            |change, _| {
                change.event_time = String::new();
                change.unreadable = vec!["eventTime is not text: 1795253400000".into()];
            },
        ),
        (
            "malformed/put-role-policy-origin-not-text.json",
            "put-role-policy.json",
            |change, _| {
                change.source_ip = None;
                change.user_agent = None;
                change.unreadable = vec![
                    "sourceIPAddress is not text: [\"203.0.113.24\"]".into(),
                    "userAgent is not text: {\"product\":\"aws-cli\",\"version\":\"2.22.4\"}"
                        .into(),
                ];
            },
        ),
        (
            // Never a guess at the text the caller sent: IAM holds the document.
            "malformed/put-user-policy-document-object.json",
            "put-user-policy.json",
            |change, event| {
                change.document = None;
                // What was received, cut to its first 120 characters.
                let received = event["detail"]["requestParameters"]["policyDocument"].to_string();
                let start: String = received.chars().take(120).collect();
                change.unreadable = vec![format!(
                    "requestParameters.policyDocument is not text: {start}"
                )];
            },
        ),
    ];
    for (name, original, expect) in cases {
        // GIVEN a real-shaped event with one fact of the wrong type
        let event = fixture(name);
        // WHEN it is read
        let got = change(&event);
        // THEN it is its original's change (same call, target, actor), with that fact unknown
        // and noted with what was received
        let mut expected = change_of(original);
        expected.event_id = event["detail"]["eventID"].as_str().unwrap().to_owned();
        expect(&mut expected, &event);
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn an_event_whose_target_or_outcome_cannot_be_read_is_refused_naming_why() {
    let cases: [(&str, EventError); 3] = [
        (
            "malformed/create-policy-no-response.json",
            EventError::MissingField {
                event_name: "CreatePolicy".into(),
                field: "responseElements.policy.arn",
            },
        ),
        (
            "malformed/attach-role-policy-no-role.json",
            EventError::MissingField {
                event_name: "AttachRolePolicy".into(),
                field: "requestParameters.roleName",
            },
        ),
        (
            "malformed/put-group-policy-error-code-object.json",
            EventError::NotAnEvent(
                "its errorCode is an object, not text: did the PutGroupPolicy call fail?".into(),
            ),
        ),
    ];
    for (name, expected) in cases {
        // GIVEN an event whose target, or whether its call failed, cannot be read
        // WHEN it is read
        let result = read(&fixture(name));
        // THEN it is refused (never guessed), and the message names the event and the field
        assert_eq!(result, Err(expected.clone()), "{name}");
        let message = expected.to_string();
        let (event_name, field) = match &expected {
            EventError::MissingField { event_name, field } => (event_name.as_str(), *field),
            _ => ("PutGroupPolicy", "errorCode"),
        };
        assert!(
            message.contains(event_name) && message.contains(field),
            "{name}: {message}"
        );
    }
}

#[test]
fn an_event_that_cannot_be_read_still_gives_every_fact_it_names() {
    // (fixture, the actor's ARN, the target if the event names all of it, the names it gives)
    type Case<'a> = (&'a str, &'a str, Option<Target>, &'a [(&'a str, &'a str)]);
    let cases: [Case; 3] = [
        (
            "malformed/create-policy-no-response.json",
            ALICE,
            None,
            &[("policyName", "my-bad-policy-aws-5-mins")],
        ),
        (
            "malformed/attach-role-policy-no-role.json",
            BOB,
            None,
            &[("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess")],
        ),
        (
            "malformed/put-group-policy-error-code-object.json",
            BOB,
            Some(Target::InlinePolicy {
                principal: Principal {
                    kind: PrincipalKind::Group,
                    name: "admins".into(),
                },
                policy_name: "admins-break-glass".into(),
            }),
            &[
                ("groupName", "admins"),
                ("policyName", "admins-break-glass"),
            ],
        ),
    ];
    for (name, actor, target, named) in cases {
        // GIVEN an event that cannot be read as a change
        let event = fixture(name);
        let detail = &event["detail"];
        // WHEN its facts are read
        let facts = event_facts(&event).expect("it has a CloudTrail record");
        // THEN they are what it says: its ID, call, time, actor, origin, target and names
        let text = |field: &str| detail[field].as_str().map(str::to_owned);
        assert_eq!(facts.event_id, text("eventID"), "{name}");
        assert_eq!(facts.event_name, text("eventName"), "{name}");
        assert_eq!(facts.event_time, text("eventTime"), "{name}");
        assert_eq!(facts.source_ip, text("sourceIPAddress"), "{name}");
        assert_eq!(facts.user_agent, text("userAgent"), "{name}");
        assert_eq!(
            facts.actor.and_then(|a| a.arn).as_deref(),
            Some(actor),
            "{name}"
        );
        assert_eq!(facts.target, target, "{name}");
        let named: BTreeMap<String, String> = named
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(facts.named, named, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// No panic, whatever the JSON
// ---------------------------------------------------------------------------------------------

/// Keys of the event and record, so random objects often look like parts of an event.
const KEYS: &[&str] = &[
    "source",
    "detail",
    "account",
    "region",
    "eventSource",
    "eventName",
    "eventID",
    "eventTime",
    "awsRegion",
    "recipientAccountId",
    "errorCode",
    "errorMessage",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "userIdentity",
    "sessionContext",
    "sessionIssuer",
    "type",
    "arn",
    "principalId",
    "accountId",
    "invokedBy",
];

/// Keys of `requestParameters`.
const PARAMETER_KEYS: &[&str] = &[
    "policyDocument",
    "policyArn",
    "policyName",
    "roleName",
    "userName",
    "groupName",
    "setAsDefault",
    "versionId",
];

/// Strings that mean something to the reader, and arbitrary ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            [
                &HANDLED[..],
                &[
                    "aws.iam",
                    "aws.s3",
                    "iam.amazonaws.com",
                    "s3.amazonaws.com",
                    "DeletePolicy",
                    "AssumedRole",
                    "true",
                    "false",
                    "",
                    ":",
                    "/",
                    WRITER_ROLE,
                    QUARANTINE_SESSION,
                    "arn:aws:sts::123456789012:assumed-role/",
                    "arn:aws:sts::123456789012:assumed-role",
                    "arn:aws:iam::123456789012:role/",
                    "%7B%22Version%22",
                ][..],
            ]
            .concat()
        )
        .prop_map(str::to_owned),
        "\\PC{0,24}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select([KEYS, PARAMETER_KEYS, &["policy", "policyVersion"]].concat())
            .prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 96, 10, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..10)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Events shaped like the real ones, with every part possibly wrong.
fn near_event() -> impl Strategy<Value = Value> {
    let name = prop_oneof![
        5 => prop::sample::select(HANDLED.to_vec()).prop_map(Value::from),
        1 => scalar(),
    ];
    // Mostly strings, sometimes anything.
    let field = || prop_oneof![4 => text().prop_map(Value::from), 1 => scalar()];
    // Each request parameter present or not.
    let parameters = prop_oneof![
        4 => prop::collection::vec(
            proptest::option::weighted(0.8, field()),
            PARAMETER_KEYS.len()
        )
        .prop_map(|values| {
            Value::Object(
                PARAMETER_KEYS
                    .iter()
                    .zip(values)
                    .filter_map(|(key, value)| Some(((*key).to_owned(), value?)))
                    .collect(),
            )
        }),
        1 => json_value(),
    ];
    let identity = prop_oneof![
        json_value(),
        (text(), text(), proptest::option::of(text())).prop_map(|(kind, arn, issuer)| {
            let mut identity = json!({"type": kind, "arn": arn});
            if let Some(issuer) = issuer {
                identity["sessionContext"] = json!({"sessionIssuer": {"arn": issuer}});
            }
            identity
        }),
    ];
    let response = prop_oneof![
        1 => json_value(),
        2 => (field(), field()).prop_map(|(arn, version)| {
            json!({"policy": {"arn": arn}, "policyVersion": {"versionId": version}})
        }),
    ];
    let error = prop_oneof![
        4 => Just(None),
        1 => text().prop_map(|code| Some(Value::from(code))),
        1 => scalar().prop_map(Some),
    ];
    (
        prop_oneof![7 => Just(json!("aws.iam")), 1 => scalar()],
        prop_oneof![7 => Just(json!("iam.amazonaws.com")), 1 => scalar()],
        name,
        error,
        identity,
        parameters,
        response,
        prop_oneof![7 => Just(json!(ACCOUNT)), 1 => scalar()],
    )
        .prop_map(
            |(source, event_source, name, error, identity, parameters, response, account)| {
                let mut event = json!({
                    "source": source,
                    "account": account,
                    "detail": {
                        "eventSource": event_source,
                        "eventName": name,
                        "userIdentity": identity,
                        "requestParameters": parameters,
                        "responseElements": response,
                    }
                });
                if let Some(error) = error {
                    event["detail"]["errorCode"] = error;
                }
                event
            },
        )
}

proptest! {
    #[test]
    fn read_event_never_panics_on_arbitrary_json(
        event in json_value(),
        sessions in prop_oneof![Just(QUARANTINE_SESSION.to_owned()), text()],
    ) {
        // GIVEN any JSON value, and any writer-sessions setting
        // WHEN it is read
        let writers = WriterSessions::parse(&sessions).unwrap_or_default();
        let scope = EventScope::new(ACCOUNT, writers).expect("a 12-digit account");
        let _reading = read_event(&event, &scope);
        // THEN it returns (a reading or an error) without panicking
    }

    #[test]
    fn read_event_never_panics_on_events_shaped_like_real_ones(
        event in near_event(),
        sessions in prop_oneof![3 => Just(QUARANTINE_SESSION.to_owned()), 1 => text()],
    ) {
        // GIVEN an event shaped like an IAM event, with any part possibly wrong
        // WHEN it is read
        let writers = WriterSessions::parse(&sessions).unwrap_or_else(|_| writers());
        let scope = EventScope::new(ACCOUNT, writers).expect("a 12-digit account");
        let result = read_event(&event, &scope);
        // THEN it returns without panicking, and a change is only ever one of the handled calls,
        // recorded in the deployment's account
        if let Ok(Reading::Change(change)) = &result {
            prop_assert!(HANDLED.contains(&change.event_name.as_str()), "{result:?}");
            prop_assert_eq!(&change.account, ACCOUNT);
            prop_assert!(event["detail"].get("errorCode").is_none_or(Value::is_null));
        }
    }
}
