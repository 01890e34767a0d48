//! Which IAM events are read and ignored, and why: failed calls, policy versions not made the
//! default, iam-sentinel's own writes (recognised by its role, and only by its role), and
//! events recorded in another account than the deployment's.

mod support;

use incident::{EventError, Reading, WriterSessions};
use serde_json::{Value, json};
use support::{
    ACCOUNT, QUARANTINE_SESSION, RESTORE_SESSION, WRITER_ROLE, change, change_of, detail_mut,
    fixture, ignored, read, request_parameters_mut, user_identity_mut,
};

/// How a case alters its fixture before it is read.
type Alter = fn(&mut Value);

fn unaltered(_: &mut Value) {}

#[test]
fn a_failed_call_is_ignored_naming_its_error_code() {
    let cases = [
        (
            "bob's CreatePolicy denied access (its request still has a document)",
            "create-policy-access-denied.json",
            "CreatePolicy",
            "AccessDenied",
        ),
        (
            "alice's PutRolePolicy refused as malformed",
            "put-role-policy-malformed.json",
            "PutRolePolicy",
            "MalformedPolicyDocumentException",
        ),
    ];
    for (case, name, event_name, error_code) in cases {
        // GIVEN the failed call of the case
        // WHEN it is read
        let (read_name, reason) = ignored(&fixture(name));
        // THEN it is ignored, and the reason names the error code
        assert_eq!(read_name, event_name, "{case}");
        assert!(reason.contains(error_code), "{case}: {reason}");
    }
}

#[test]
fn a_policy_version_not_made_the_default_is_ignored_with_a_reason() {
    let cases: [(&str, &str, Alter); 4] = [
        (
            "bob's CreatePolicyVersion v3 with setAsDefault false",
            "create-policy-version-not-default.json",
            unaltered,
        ),
        (
            "the request left out by CloudTrail, the response saying not the default",
            "create-policy-version-not-default.json",
            without_the_request,
        ),
        (
            "no setAsDefault in the request (IAM's default is false)",
            "create-policy-version-not-default.json",
            |event| {
                request_parameters_mut(event).remove("setAsDefault");
            },
        ),
        (
            "setAsDefault given as the string \"false\"",
            "create-policy-version-not-default.json",
            |event| event["detail"]["requestParameters"]["setAsDefault"] = json!("false"),
        ),
    ];
    for (case, name, alter) in cases {
        // GIVEN a CreatePolicyVersion that does not make its version the default
        let mut event = fixture(name);
        alter(&mut event);
        // WHEN it is read
        let (event_name, reason) = ignored(&event);
        // THEN it is ignored, and the reason says it is not the default
        assert_eq!(event_name, "CreatePolicyVersion", "{case}");
        assert!(reason.contains("default"), "{case}: {reason}");
    }
}

/// CloudTrail leaves out a field too large to record (a request can be, its document padded
/// with white space) and says so with `omitted`.
fn without_the_request(event: &mut Value) {
    detail_mut(event).insert("requestParameters".into(), json!({"omitted": true}));
}

#[test]
fn a_policy_version_whose_request_was_left_out_is_never_ignored_unread() {
    let cases: [(&str, Alter); 3] = [
        ("the response saying it is the default", |_| {}),
        ("no response either", |event| {
            detail_mut(event).remove("responseElements");
        }),
        ("the response's isDefaultVersion null", |event| {
            event["detail"]["responseElements"]["policyVersion"]["isDefaultVersion"] = json!(null);
        }),
    ];
    for (case, alter) in cases {
        // GIVEN bob's CreatePolicyVersion made the default, its request left out by CloudTrail
        let mut event = fixture("create-policy-version-default.json");
        without_the_request(&mut event);
        alter(&mut event);
        // WHEN it is read
        let reading = read(&event);
        // THEN it is not ignored as "not the default": it is refused, naming the field that
        // would have named the policy (the workflow fails closed and says so)
        assert_eq!(
            reading,
            Err(EventError::MissingField {
                event_name: "CreatePolicyVersion".into(),
                field: "requestParameters.policyArn",
            }),
            "{case}"
        );
    }
}

#[test]
fn a_version_the_response_says_is_the_default_counts_whatever_the_request_lacks() {
    // GIVEN bob's CreatePolicyVersion made the default, the request's setAsDefault left out
    let mut event = fixture("create-policy-version-default.json");
    request_parameters_mut(&mut event).remove("setAsDefault");
    // WHEN it is read
    let change = change(&event);
    // THEN it is a change to the managed policy, as IAM's answer says
    assert_eq!(change, change_of("create-policy-version-default.json"));
}

#[test]
fn set_as_default_given_as_the_string_true_still_counts() {
    for text in ["true", "True", "TRUE"] {
        // GIVEN a CreatePolicyVersion whose setAsDefault is the string "true"
        let mut event = fixture("create-policy-version-default.json");
        event["detail"]["requestParameters"]["setAsDefault"] = json!(text);
        // WHEN it is read
        let change = change(&event);
        // THEN it is a change to the managed policy, as with the boolean
        assert_eq!(
            change,
            change_of("create-policy-version-default.json"),
            "setAsDefault {text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// iam-sentinel's own changes, and only those
// ---------------------------------------------------------------------------------------------

fn without_session_context(event: &mut Value) {
    user_identity_mut(event).remove("sessionContext");
}

#[test]
fn the_services_own_change_is_ignored() {
    fn by_restore(event: &mut Value) {
        user_identity_mut(event).insert("arn".into(), json!(RESTORE_SESSION));
    }
    let cases: [(&str, Alter); 3] = [
        (
            "the quarantine function's session (the fixture as recorded)",
            unaltered,
        ),
        (
            "the same session with no sessionContext",
            without_session_context,
        ),
        ("the restore function's session", by_restore),
    ];
    for (case, alter) in cases {
        // GIVEN the quarantine write-back, made by a writer function's session of the role
        let mut event = fixture("put-role-policy-by-sentinel.json");
        assert_eq!(event["detail"]["userIdentity"]["arn"], QUARANTINE_SESSION);
        assert_eq!(
            event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
            WRITER_ROLE
        );
        alter(&mut event);
        // WHEN it is read by the deployment
        let reading = read(&event);
        // THEN it is ignored as iam-sentinel's own change
        let Ok(Reading::Ignored { event_name, reason }) = reading else {
            panic!("{case}: expected the event to be ignored, got {reading:?}");
        };
        assert_eq!(event_name, "PutRolePolicy", "{case}");
        assert!(reason.contains("iam-sentinel"), "{case}: {reason}");
    }
}

/// The write-back, as if made by another role: `role_arn` issuing a session named like ours.
fn write_back_by(role_arn: &str, assumed_role_arn: &str) -> Value {
    let mut event = fixture("put-role-policy-by-sentinel.json");
    event["detail"]["userIdentity"]["arn"] = json!(assumed_role_arn);
    event["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = json!(role_arn);
    event
}

#[test]
fn a_change_by_anyone_else_is_not_ignored() {
    let similar_name = || {
        write_back_by(
            "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer-2",
            "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer-2/quarantine-policy",
        )
    };
    let other_account = || {
        write_back_by(
            "arn:aws:iam::210987654321:role/iam-sentinel-policy-writer",
            "arn:aws:sts::210987654321:assumed-role/iam-sentinel-policy-writer/quarantine-policy",
        )
    };
    let user_named_like_the_role = || {
        let mut event = fixture("put-role-policy-by-sentinel.json");
        let identity = user_identity_mut(&mut event);
        identity.remove("sessionContext");
        identity.insert("type".into(), json!("IAMUser"));
        identity.insert(
            "arn".into(),
            json!("arn:aws:iam::123456789012:user/iam-sentinel-policy-writer"),
        );
        event
    };
    let another_session_of_the_writer = || {
        write_back_by(
            WRITER_ROLE,
            "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-quarantine-policy-copy",
        )
    };
    let cases: [(&str, Value, Alter); 6] = [
        (
            "another session of the policy writer: only its two functions' sessions are its own",
            another_session_of_the_writer(),
            unaltered,
        ),
        (
            "a role whose name only starts with the service's role name",
            similar_name(),
            unaltered,
        ),
        (
            "that similarly named role, with only its assumed-role ARN",
            similar_name(),
            without_session_context,
        ),
        (
            "the service's role name in another account",
            other_account(),
            unaltered,
        ),
        (
            "the service's role name in another account, with only its assumed-role ARN",
            other_account(),
            without_session_context,
        ),
        (
            "an IAM user named like the service's role",
            user_named_like_the_role(),
            unaltered,
        ),
    ];
    for (case, mut event, alter) in cases {
        // GIVEN the same write-back, made by someone else
        alter(&mut event);
        // WHEN it is read
        let reading = read(&event);
        // THEN it is a change, to be analysed like any other
        let Ok(Reading::Change(change)) = reading else {
            panic!("{case}: expected a policy change, got {reading:?}");
        };
        assert_eq!(change.event_name, "PutRolePolicy", "{case}");
    }
}

// Another account's events
// ---------------------------------------------------------------------------------------------

const OTHER_ACCOUNT: &str = "210987654321";

/// The account sweep's finding of alice's inline policy in force, as the sweep sends it.
fn sweep_finding() -> Value {
    json!({
        "version": "0", "id": "sweep-20261202T060000Z-1", "source": "iam-sentinel.sweep",
        "detail-type": "Restricted grant in force", "account": ACCOUNT,
        "time": "2026-12-02T06:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "eventSource": "iam-sentinel", "eventName": "SweepFinding",
            "eventID": "sweep-20261202T060000Z-1", "eventTime": "2026-12-02T06:00:00Z",
            "userIdentity": {"type": "IamSentinelSweep", "invokedBy": "iam-sentinel sweep"},
            "requestParameters": {"userName": "alice", "policyName": "s3-admin"},
            "sweepId": "sweep-20261202T060000Z", "awsRegion": "us-east-1",
            "recipientAccountId": ACCOUNT
        }
    })
}

#[test]
fn an_event_recorded_in_another_account_is_ignored_naming_the_account() {
    fn recipient(account: Value) -> impl Fn(&mut Value) {
        move |event| {
            detail_mut(event).insert("recipientAccountId".into(), account.clone());
        }
    }
    fn envelope(account: Value) -> impl Fn(&mut Value) {
        move |event| {
            event["account"] = account.clone();
        }
    }
    let both = |event: &mut Value| {
        recipient(json!(OTHER_ACCOUNT))(event);
        envelope(json!(OTHER_ACCOUNT))(event);
    };
    let neither = |event: &mut Value| {
        detail_mut(event).remove("recipientAccountId");
        event.as_object_mut().unwrap().remove("account");
    };
    let put_role_policy = || fixture("put-role-policy.json");
    type Case = (&'static str, Value, Box<dyn Fn(&mut Value)>, &'static str);
    let cases: [Case; 7] = [
        (
            "alice's PutRolePolicy forwarded from another account's bus",
            put_role_policy(),
            Box::new(both),
            OTHER_ACCOUNT,
        ),
        (
            "its record names another account, its envelope this one",
            put_role_policy(),
            Box::new(recipient(json!(OTHER_ACCOUNT))),
            OTHER_ACCOUNT,
        ),
        (
            "its envelope names another account, its record this one",
            put_role_policy(),
            Box::new(envelope(json!(OTHER_ACCOUNT))),
            OTHER_ACCOUNT,
        ),
        (
            "bob's AttachRolePolicy from another account",
            fixture("attach-role-policy.json"),
            Box::new(both),
            OTHER_ACCOUNT,
        ),
        (
            "an account that is not text",
            put_role_policy(),
            Box::new(recipient(json!(123456789012_u64))),
            "123456789012",
        ),
        (
            "no account at all",
            put_role_policy(),
            Box::new(neither),
            "names no account",
        ),
        (
            "a sweep finding from another account's sweep",
            sweep_finding(),
            Box::new(both),
            OTHER_ACCOUNT,
        ),
    ];
    for (case, mut event, alter, named) in cases {
        // GIVEN an event that this account's own would be a change, recorded elsewhere
        assert!(
            matches!(read(&event), Ok(Reading::Change(_))),
            "{case}: as recorded here it is a change"
        );
        alter(&mut event);
        // WHEN the deployment in ACCOUNT reads it
        let (_, reason) = ignored(&event);
        // THEN it is ignored, and the reason names the account (and this one)
        assert!(reason.contains(named), "{case}: {reason}");
        assert!(reason.contains(ACCOUNT), "{case}: {reason}");
    }
}

#[test]
fn the_writer_sessions_setting_takes_only_assumed_role_session_arns() {
    let cases: [(&str, &str, bool); 7] = [
        (
            "two sessions",
            "arn:aws:sts::123456789012:assumed-role/w/f1,arn:aws:sts::123456789012:assumed-role/w/f2",
            true,
        ),
        (
            "one session, spaces around it",
            " arn:aws-us-gov:sts::123456789012:assumed-role/w/f ",
            true,
        ),
        ("empty", "", false),
        ("a role ARN, not a session", WRITER_ROLE, false),
        (
            "a role without a session name",
            "arn:aws:sts::123456789012:assumed-role/w",
            false,
        ),
        (
            "an account that is not 12 digits",
            "arn:aws:sts::1234:assumed-role/w/f",
            false,
        ),
        ("a user", "arn:aws:iam::123456789012:user/w", false),
    ];
    for (case, list, valid) in cases {
        assert_eq!(
            WriterSessions::parse(list).is_ok(),
            valid,
            "{case}: {list:?}"
        );
    }
}
