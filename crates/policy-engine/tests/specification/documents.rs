//! Documents: what the engine accepts, how it writes a document back, and what it says about a
//! document it refuses (the CLI prints that message after the file's name).

use policy_engine::{Policy, PolicyKind, analyse, decode, plan};

use crate::support::{catalog, fixture, restricted};

/// What a refusal must say.
enum Says {
    Exactly(&'static str),
    StartsWith(&'static str),
    Mentions(&'static [&'static str]),
}

/// Every refused document, and the message that says where the problem is.
#[test]
fn a_refused_document_is_told_where_it_is_wrong() {
    let cases = [
        (
            "an empty document",
            "  ".to_owned(),
            Says::Exactly("the policy document is empty"),
        ),
        (
            "text that is neither JSON nor percent-encoded JSON (YAML)",
            fixture("cloudformation-yaml-not-json.yaml"),
            Says::Exactly(
                "the policy document is not valid JSON: expected a JSON object (starting with `{`) \
                 or a percent-encoded one",
            ),
        ),
        (
            "truncated JSON, with the position",
            r#"{"Version": "2012-10-17", "Statement": ["#.to_owned(),
            Says::Mentions(&["the policy document is not valid JSON: ", "line 1"]),
        ),
        (
            "an unknown Version",
            r#"{"Version":"2012-10-18","Statement":[]}"#.to_owned(),
            Says::Exactly(
                r#"the policy document has Version "2012-10-18"; expected "2012-10-17" or "2008-10-17""#,
            ),
        ),
        (
            "a lowercase Effect: the statement, its Sid and the value",
            fixture("lowercase-effect-allow.json"),
            Says::Exactly(
                r#"statement 1 (Sid "AllowBucketCleanup"): Effect must be "Allow" or "Deny", not "allow""#,
            ),
        ),
        (
            "an unknown key, in a statement named by its Sid though it did not parse",
            fixture("misspelled-actions-key.json"),
            Says::StartsWith(r#"statement 0 (Sid "ReadReports"): unknown field `Actions`"#),
        ),
        (
            "an unknown key, in a statement without a Sid",
            r#"{"Statement":[{"Effect":"Allow","Actions":"s3:*","Resource":"*"}]}"#.to_owned(),
            Says::StartsWith("statement 0: unknown field `Actions`"),
        ),
        (
            "an action without a service prefix",
            fixture("action-without-service-prefix.json"),
            Says::Exactly(
                r#"statement 0 (Sid "BucketJanitor"): Action "DeleteBucket" is not of the form service:action"#,
            ),
        ),
        (
            "Action and NotAction together",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}]}"#
                .to_owned(),
            Says::Exactly("statement 0: has both Action and NotAction"),
        ),
        (
            "no Resource",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#.to_owned(),
            Says::Exactly("statement 0: has neither Resource nor NotResource"),
        ),
        (
            "a Principal, which only resource policies have",
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#
                .to_owned(),
            Says::Exactly("statement 0: has a Principal, which an identity policy must not have"),
        ),
        (
            "an empty Statement list (IAM's grammar: one or more statements)",
            r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
            Says::Exactly(
                "the policy document has an empty Statement list; IAM requires at least one \
                 statement",
            ),
        ),
        (
            "a null Condition, which would read as none and make a conditional Deny absolute",
            r#"{"Statement":[{"Sid":"DenyDeletes","Effect":"Deny","Action":"s3:Delete*","Resource":"*","Condition":null}]}"#
                .to_owned(),
            Says::Exactly(
                r#"statement 0 (Sid "DenyDeletes"): Condition is null; IAM's grammar has no null values"#,
            ),
        ),
        (
            "a null at the top (no value in IAM's grammar is null)",
            r#"{"Version":null,"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#
                .to_owned(),
            Says::Exactly(
                "the policy document has Version null; IAM's grammar has no null values",
            ),
        ),
        (
            "a condition operator twice in one Condition",
            fixture("duplicated-condition-operator.json"),
            Says::Exactly(
                r#"statement 0 (Sid "DenyDeletesOutsideTheOffice"): Condition has the operator "NotIpAddress" twice"#,
            ),
        ),
        (
            "a condition key twice under one operator",
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"a","aws:PrincipalTag/team":"b"}}}]}"#
                .to_owned(),
            Says::Exactly(
                r#"statement 0: condition operator "StringEquals" has the key "aws:PrincipalTag/team" twice"#,
            ),
        ),
        (
            "a key twice in a statement",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Action":"s3:*","Resource":"*"}]}"#
                .to_owned(),
            Says::StartsWith("statement 0: duplicate field `Action`"),
        ),
        (
            "a condition key with an empty list of values",
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":[]}}}]}"#
                .to_owned(),
            Says::Exactly(
                r#"statement 0: the values of "aws:PrincipalTag/team" in condition operator "StringEquals" are an empty list"#,
            ),
        ),
        (
            "a condition value that is an object",
            r#"{"Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":{"a":"b"}}}}]}"#
                .to_owned(),
            Says::StartsWith(
                r#"statement 0: invalid type: map, expected a string, number or Boolean, or a list of them as the value of "aws:PrincipalTag/team" in condition operator "StringEquals""#,
            ),
        ),
        (
            "a Sid with characters other than A-Z, a-z and 0-9",
            r#"{"Statement":[{"Sid":"read reports","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#
                .to_owned(),
            Says::Exactly(
                r#"statement 0 (Sid "read reports"): Sid "read reports" may hold only A-Z, a-z and 0-9 in an IAM policy"#,
            ),
        ),
        (
            "a character IAM does not accept in a document (beyond U+00FF)",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/☃"}]}"#
                .to_owned(),
            Says::Exactly(
                "the policy document has the character '\u{2603}' (U+2603) at byte 89; IAM accepts \
                 only tab, line feed, carriage return and U+0020 to U+00FF",
            ),
        ),
        (
            "an action with an empty name",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:","Resource":"*"}]}"#.to_owned(),
            Says::Exactly(r#"statement 0: Action "s3:" is not of the form service:action"#),
        ),
    ];
    for (name, text, says) in cases {
        let refused = decode(&text).and_then(|json| Policy::parse(&json).map(drop));
        let Err(error) = refused else {
            panic!("{name}: accepted");
        };
        let message = error.to_string();
        let right = match says {
            Says::Exactly(expected) => message == expected,
            Says::StartsWith(start) => message.starts_with(start),
            Says::Mentions(words) => words.iter().all(|w| message.contains(w)),
        };
        assert!(right, "{name}: the message is\n{message}");
    }
}

/// What IAM's grammar allows and the engine reads: IAM hands documents out percent-encoded,
/// white space before the `{` included; Latin-1 text is allowed; a condition value may be a
/// number or a Boolean.
#[test]
fn an_accepted_document_reads_as_iam_wrote_it() {
    let raw = fixture("my-bad-policy-aws-5-mins.json");
    let cases = [
        (
            "percent-encoded, with encoded white space before the `{`",
            fixture("my-bad-policy-aws-5-mins.url-encoded-leading-white-space.txt"),
        ),
        (
            "raw JSON with white space around it",
            format!("\n\t {raw}\n"),
        ),
    ];
    let expected = Policy::parse(&raw).unwrap();
    for (name, text) in cases {
        let json = decode(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let policy = Policy::parse(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(policy, expected, "{name}");
    }
    let latin_1 = r#"{"Statement":[{"Sid":"Caf","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::menus/café","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}]}"#;
    let policy = Policy::parse(latin_1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.to_json(), latin_1);
}

#[test]
fn serialisation_keeps_the_shape_of_each_value() {
    let json = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:GetObject"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
    assert_eq!(Policy::parse(json).unwrap().to_json(), json);
}

/// The size IAM counts against its quotas: characters that are not white space, wherever the
/// white space is, inside strings too ("in non-whitespace characters", GetAccountSummary; "policy
/// size calculations do not include white space characters", the grammar's notes).
#[test]
fn size_counts_the_characters_that_are_not_white_space() {
    let compact = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let cases = [
        ("compact JSON: every character", compact.to_owned(), compact.len()),
        (
            "layout white space",
            "{\n  \"Statement\": [ { \"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\" } ]\n}"
                .to_owned(),
            compact.len(),
        ),
        (
            "spaces inside a string",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::a   b"}]}"#
                .to_owned(),
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::ab"}]}"#.len(),
        ),
        (
            "a Latin-1 letter is one character",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::café"}]}"#
                .to_owned(),
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::cafe"}]}"#.len(),
        ),
        (
            "an escaped quote counts as written: two characters",
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::a\"b"}]}"#
                .to_owned(),
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::aQQb"}]}"#.len(),
        ),
    ];
    for (name, json, size) in cases {
        let policy = Policy::parse(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(policy.size(), size, "{name}");
    }
}

/// The adversarial case: a user's inline policy, 2,125 characters as compact JSON but 225
/// without the spaces padding a condition value, grants s3:DeleteBucket. Counted as IAM counts,
/// its quarantine fits the user's 2,048-character quota.
#[test]
fn a_policy_padded_with_spaces_in_a_string_can_be_quarantined_within_its_quota() {
    let text = fixture("inline-user-policy-padded-condition.json");
    let policy = Policy::parse(&text).unwrap();
    assert!(policy.to_json().len() > PolicyKind::UserInline.size_limit());
    let restricted = restricted("s3:DeleteBucket");
    let quarantine = plan(
        &policy,
        &restricted,
        catalog(),
        PolicyKind::UserInline.size_limit(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(quarantine.size <= PolicyKind::UserInline.size_limit());
    assert!(!analyse(&quarantine.policy, &restricted, catalog()).grants_restricted());
    assert_eq!(
        quarantine.policy.statements[0].condition,
        policy.statements[0].condition
    );
}
