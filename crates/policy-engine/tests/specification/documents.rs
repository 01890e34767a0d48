//! Documents: what the engine accepts, how it writes a document back, and what it says about a
//! document it refuses (the CLI prints that message after the file's name).

use policy_engine::{Policy, decode};

use crate::support::fixture;

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

#[test]
fn serialisation_keeps_the_shape_of_each_value() {
    let json = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:GetObject"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
    assert_eq!(Policy::parse(json).unwrap().to_json(), json);
}

#[test]
fn size_is_counted_without_layout_white_space() {
    let pretty = "{\n  \"Statement\": [ { \"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\" } ]\n}";
    let compact = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    assert_eq!(Policy::parse(pretty).unwrap().size(), compact.len());
}
