//! IAM identity-policy documents: parsing (raw or percent-encoded JSON), validation with errors
//! that say where the problem is, and serialisation back to JSON.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Larger inputs are refused before parsing: the largest IAM document (an AWS managed policy)
/// is far below this, and a bound keeps hostile input cheap.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy document is empty")]
    Empty,
    #[error("the policy document is {0} bytes; the most accepted is {MAX_DOCUMENT_BYTES}")]
    TooLarge(usize),
    #[error("the policy document is percent-encoded but does not decode to UTF-8 text")]
    BadEncoding,
    #[error("the policy document is not valid JSON: {0}")]
    Json(String),
    #[error("the policy document {0}")]
    Document(String),
    #[error("statement {index}{sid}: {problem}")]
    Statement {
        index: usize,
        sid: SidLabel,
        problem: String,
    },
}

/// Renders ` (Sid "X")` after a statement index, or nothing when the statement has no Sid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SidLabel(pub Option<String>);

impl fmt::Display for SidLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(sid) => write!(f, " (Sid {sid:?})"),
            None => Ok(()),
        }
    }
}

/// Returns the JSON text of a document as IAM hands it out: raw JSON, or percent-encoded JSON
/// (what the IAM API returns for policy documents).
pub fn decode(text: &str) -> Result<Cow<'_, str>, PolicyError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(PolicyError::Empty);
    }
    if trimmed.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::TooLarge(trimmed.len()));
    }
    if trimmed.starts_with('{') {
        return Ok(Cow::Borrowed(trimmed));
    }
    if !trimmed.starts_with("%7B") && !trimmed.starts_with("%7b") {
        return Err(PolicyError::Json(
            "expected a JSON object (starting with `{`) or a percent-encoded one".into(),
        ));
    }
    percent_encoding::percent_decode_str(trimmed)
        .decode_utf8()
        .map_err(|_| PolicyError::BadEncoding)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// A JSON string-or-array value (`"Action": "s3:*"` or `"Action": ["s3:*"]`), keeping which
/// shape it had so a rewritten document reads like the original.
#[derive(Debug, Clone, PartialEq)]
pub struct Values<'a> {
    pub items: Vec<Cow<'a, str>>,
    pub is_list: bool,
}

impl<'a> Values<'a> {
    pub fn list<I: IntoIterator<Item = Cow<'a, str>>>(items: I) -> Self {
        Values {
            items: items.into_iter().collect(),
            is_list: true,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|s| s.as_ref())
    }

    pub fn into_owned(self) -> Values<'static> {
        Values {
            items: self
                .items
                .into_iter()
                .map(|s| Cow::Owned(s.into_owned()))
                .collect(),
            is_list: self.is_list,
        }
    }
}

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.items.as_slice() {
            [only] if !self.is_list => serializer.serialize_str(only),
            items => items.serialize(serializer),
        }
    }
}

/// Which actions a statement is about: those listed, or all but those listed.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionClause<'a> {
    Action(Values<'a>),
    NotAction(Values<'a>),
}

impl<'a> ActionClause<'a> {
    pub fn patterns(&self) -> &Values<'a> {
        match self {
            ActionClause::Action(v) | ActionClause::NotAction(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResourceClause<'a> {
    Resource(Values<'a>),
    NotResource(Values<'a>),
}

impl ResourceClause<'_> {
    /// True for `"Resource": "*"` (or a list holding `*`): every resource.
    pub fn is_every_resource(&self) -> bool {
        matches!(self, ResourceClause::Resource(v) if v.iter().any(|r| r == "*"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement<'a> {
    pub sid: Option<Cow<'a, str>>,
    pub effect: Effect,
    pub actions: ActionClause<'a>,
    pub resources: ResourceClause<'a>,
    pub condition: Option<serde_json::Value>,
}

impl Statement<'_> {
    pub fn into_owned(self) -> Statement<'static> {
        let actions = match self.actions {
            ActionClause::Action(v) => ActionClause::Action(v.into_owned()),
            ActionClause::NotAction(v) => ActionClause::NotAction(v.into_owned()),
        };
        let resources = match self.resources {
            ResourceClause::Resource(v) => ResourceClause::Resource(v.into_owned()),
            ResourceClause::NotResource(v) => ResourceClause::NotResource(v.into_owned()),
        };
        Statement {
            sid: self.sid.map(|s| Cow::Owned(s.into_owned())),
            effect: self.effect,
            actions,
            resources,
            condition: self.condition,
        }
    }
}

impl Serialize for Statement<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(sid) = &self.sid {
            map.serialize_entry("Sid", sid)?;
        }
        map.serialize_entry("Effect", &self.effect)?;
        match &self.actions {
            ActionClause::Action(v) => map.serialize_entry("Action", v)?,
            ActionClause::NotAction(v) => map.serialize_entry("NotAction", v)?,
        }
        match &self.resources {
            ResourceClause::Resource(v) => map.serialize_entry("Resource", v)?,
            ResourceClause::NotResource(v) => map.serialize_entry("NotResource", v)?,
        }
        if let Some(condition) = &self.condition {
            map.serialize_entry("Condition", condition)?;
        }
        map.end()
    }
}

/// A parsed, validated identity-policy document. Borrows from the JSON text where it can.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy<'a> {
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<Cow<'a, str>>,
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement<'a>>,
}

impl<'a> Policy<'a> {
    /// Parses and validates a document's JSON text (see [`decode`] for percent-encoded input).
    pub fn parse(json: &'a str) -> Result<Self, PolicyError> {
        // One pass over the text. Only when that fails is the document walked again, statement
        // by statement, to say which one is wrong.
        let raw: RawPolicy<'a> = match serde_json::from_str(json) {
            Ok(raw) => raw,
            Err(e) => return Err(explain_invalid(json, e)),
        };
        check_version(raw.version.as_deref())?;
        let statements = raw
            .statement
            .ok_or_else(|| PolicyError::Document("has no Statement".into()))?
            .items
            .into_iter()
            .enumerate()
            .map(|(index, raw)| validate_statement(index, raw))
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            version: raw.version,
            id: raw.id,
            statements,
        })
    }

    pub fn into_owned(self) -> Policy<'static> {
        Policy {
            version: self.version.map(|v| Cow::Owned(v.into_owned())),
            id: self.id.map(|v| Cow::Owned(v.into_owned())),
            statements: self
                .statements
                .into_iter()
                .map(Statement::into_owned)
                .collect(),
        }
    }

    /// Compact JSON, as sent to IAM.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a policy always serialises")
    }

    /// Indented JSON, for people.
    pub fn to_pretty_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a policy always serialises")
    }

    /// The size IAM counts against its quotas: characters, not counting white space (counted
    /// on the compact form, so white space inside strings still counts: never an underestimate).
    pub fn size(&self) -> usize {
        self.to_json().chars().count()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy<'a> {
    #[serde(rename = "Version", borrow, default)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "Id", borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "Statement", borrow, default)]
    statement: Option<OneOrMany<RawStatement<'a>>>,
}

/// The same document read lazily, to locate what made the one-pass parse fail.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LazyPolicy<'a> {
    #[serde(rename = "Version", borrow, default)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "Id", default)]
    _id: Option<IgnoredAny>,
    #[serde(rename = "Statement", borrow, default)]
    statement: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement<'a> {
    #[serde(rename = "Sid", borrow, default)]
    sid: Option<Cow<'a, str>>,
    #[serde(rename = "Effect", borrow, default)]
    effect: Option<Cow<'a, str>>,
    #[serde(rename = "Action", borrow, default)]
    action: Option<OneOrMany<Str<'a>>>,
    #[serde(rename = "NotAction", borrow, default)]
    not_action: Option<OneOrMany<Str<'a>>>,
    #[serde(rename = "Resource", borrow, default)]
    resource: Option<OneOrMany<Str<'a>>>,
    #[serde(rename = "NotResource", borrow, default)]
    not_resource: Option<OneOrMany<Str<'a>>>,
    #[serde(rename = "Condition", default)]
    condition: Option<serde_json::Value>,
    #[serde(rename = "Principal", default)]
    principal: Option<IgnoredAny>,
    #[serde(rename = "NotPrincipal", default)]
    not_principal: Option<IgnoredAny>,
}

/// A string borrowed from the input when it has no escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// One value or an array of them.
struct OneOrMany<T> {
    items: Vec<T>,
    is_list: bool,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or an array of values")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany {
                    items,
                    is_list: true,
                })
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = T::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany {
                    items: vec![one],
                    is_list: false,
                })
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                let one = T::deserialize(de::value::BorrowedStrDeserializer::new(v))?;
                Ok(OneOrMany {
                    items: vec![one],
                    is_list: false,
                })
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let one = T::deserialize(de::value::StringDeserializer::new(v.to_owned()))?;
                Ok(OneOrMany {
                    items: vec![one],
                    is_list: false,
                })
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(std::marker::PhantomData))
    }
}

fn check_version(version: Option<&str>) -> Result<(), PolicyError> {
    match version {
        Some(v) if !VERSIONS.contains(&v) => Err(PolicyError::Document(format!(
            "has Version {v:?}; expected \"2012-10-17\" or \"2008-10-17\""
        ))),
        _ => Ok(()),
    }
}

/// Turns a failed one-pass parse into an error that names the statement at fault.
fn explain_invalid(json: &str, error: serde_json::Error) -> PolicyError {
    if error.classify() != serde_json::error::Category::Data {
        return PolicyError::Json(error.to_string());
    }
    let lazy: LazyPolicy<'_> = match serde_json::from_str(json) {
        Ok(lazy) => lazy,
        Err(e) => return PolicyError::Document(format!("is invalid: {e}")),
    };
    if let Err(e) = check_version(lazy.version.as_deref()) {
        return e;
    }
    let Some(statement) = lazy.statement else {
        return PolicyError::Document(format!("is invalid: {error}"));
    };
    let raw_statements: Vec<&RawValue> = if statement.get().starts_with('[') {
        match serde_json::from_str(statement.get()) {
            Ok(list) => list,
            Err(e) => {
                let problem = without_position(&e);
                return PolicyError::Document(format!("has an invalid Statement: {problem}"));
            }
        }
    } else {
        vec![statement]
    };
    for (index, raw) in raw_statements.into_iter().enumerate() {
        if let Err(e) = serde_json::from_str::<RawStatement<'_>>(raw.get()) {
            return PolicyError::Statement {
                index,
                sid: SidLabel(sid_of_invalid(raw)),
                problem: without_position(&e),
            };
        }
    }
    PolicyError::Document(format!("is invalid: {error}"))
}

fn validate_statement(index: usize, raw: RawStatement<'_>) -> Result<Statement<'_>, PolicyError> {
    let fail = |sid: Option<&str>, problem: String| PolicyError::Statement {
        index,
        sid: SidLabel(sid.map(str::to_owned)),
        problem,
    };
    let sid = raw.sid.as_deref();
    if raw.principal.is_some() || raw.not_principal.is_some() {
        return Err(fail(
            sid,
            "has a Principal, which an identity policy must not have".into(),
        ));
    }
    let effect = match raw.effect.as_deref() {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(fail(
                sid,
                format!("Effect must be \"Allow\" or \"Deny\", not {other:?}"),
            ));
        }
        None => return Err(fail(sid, "has no Effect".into())),
    };
    let actions = match (raw.action, raw.not_action) {
        (Some(a), None) => {
            ActionClause::Action(action_values(a, "Action").map_err(|p| fail(sid, p))?)
        }
        (None, Some(a)) => {
            ActionClause::NotAction(action_values(a, "NotAction").map_err(|p| fail(sid, p))?)
        }
        (Some(_), Some(_)) => return Err(fail(sid, "has both Action and NotAction".into())),
        (None, None) => return Err(fail(sid, "has neither Action nor NotAction".into())),
    };
    let resources = match (raw.resource, raw.not_resource) {
        (Some(r), None) => {
            ResourceClause::Resource(values(r, "Resource").map_err(|p| fail(sid, p))?)
        }
        (None, Some(r)) => {
            ResourceClause::NotResource(values(r, "NotResource").map_err(|p| fail(sid, p))?)
        }
        (Some(_), Some(_)) => return Err(fail(sid, "has both Resource and NotResource".into())),
        (None, None) => return Err(fail(sid, "has neither Resource nor NotResource".into())),
    };
    if raw.condition.as_ref().is_some_and(|c| !c.is_object()) {
        return Err(fail(sid, "Condition must be a JSON object".into()));
    }
    Ok(Statement {
        sid: raw.sid,
        effect,
        actions,
        resources,
        condition: raw.condition,
    })
}

/// The Sid of a statement that failed to parse, when it has a readable one: the error then says
/// which statement a person should look at.
fn sid_of_invalid(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct SidOnly {
        #[serde(rename = "Sid")]
        sid: Option<String>,
    }
    serde_json::from_str::<SidOnly>(raw.get()).ok()?.sid
}

fn values<'a>(raw: OneOrMany<Str<'a>>, key: &str) -> Result<Values<'a>, String> {
    if raw.items.is_empty() {
        return Err(format!("{key} is an empty list"));
    }
    if let Some(blank) = raw.items.iter().position(|s| s.0.trim().is_empty()) {
        return Err(format!("{key} entry {blank} is empty"));
    }
    Ok(Values {
        items: raw.items.into_iter().map(|s| s.0).collect(),
        is_list: raw.is_list,
    })
}

fn action_values<'a>(raw: OneOrMany<Str<'a>>, key: &str) -> Result<Values<'a>, String> {
    let values = values(raw, key)?;
    for action in values.iter() {
        check_action_syntax(action).map_err(|problem| format!("{key} {action:?} {problem}"))?;
    }
    Ok(values)
}

/// IAM's own rule for an action: `*`, or `service:name` with a non-empty service prefix, in
/// printable ASCII (wildcards allowed).
pub fn check_action_syntax(action: &str) -> Result<(), &'static str> {
    if let Some(bad) = action.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(if bad.is_whitespace() {
            "contains white space"
        } else {
            "contains a character that is not printable ASCII"
        });
    }
    if action.bytes().all(|c| c == b'*') {
        return Ok(());
    }
    match action.split_once(':') {
        Some((service, name)) if !service.is_empty() && !name.is_empty() => Ok(()),
        _ => Err("is not of the form service:action"),
    }
}

/// serde_json's message without " at line L column C", which would point into the statement's
/// own text rather than the document.
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(json: &str) -> String {
        Policy::parse(json).unwrap_err().to_string()
    }

    #[test]
    fn a_single_statement_object_is_accepted() {
        let policy = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert_eq!(policy.statements.len(), 1);
        assert_eq!(policy.statements[0].effect, Effect::Allow);
    }

    #[test]
    fn percent_encoded_documents_are_decoded() {
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let json = decode(encoded).unwrap();
        assert_eq!(Policy::parse(&json).unwrap().statements.len(), 1);
    }

    #[test]
    fn errors_name_the_statement_and_its_sid() {
        let err = parse_err(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Sid":"Bad","Effect":"allow","Action":"s3:*","Resource":"*"}]}"#,
        );
        assert_eq!(
            err,
            r#"statement 1 (Sid "Bad"): Effect must be "Allow" or "Deny", not "allow""#
        );
    }

    #[test]
    fn a_statement_that_fails_to_parse_is_still_named_by_its_sid() {
        let err = parse_err(
            r#"{"Statement":[{"Sid":"Read","Effect":"Allow","Actions":"s3:*","Resource":"*"}]}"#,
        );
        assert!(
            err.starts_with(r#"statement 0 (Sid "Read"): unknown field `Actions`"#),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err =
            parse_err(r#"{"Statement":[{"Effect":"Allow","Actions":"s3:*","Resource":"*"}]}"#);
        assert!(
            err.starts_with("statement 0: unknown field `Actions`"),
            "{err}"
        );
    }

    #[test]
    fn an_action_without_a_service_prefix_is_rejected() {
        let err = parse_err(
            r#"{"Statement":[{"Effect":"Allow","Action":"DeleteBucket","Resource":"*"}]}"#,
        );
        assert_eq!(
            err,
            r#"statement 0: Action "DeleteBucket" is not of the form service:action"#
        );
    }

    #[test]
    fn action_and_not_action_together_are_rejected() {
        let err = parse_err(
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}]}"#,
        );
        assert_eq!(err, "statement 0: has both Action and NotAction");
    }

    #[test]
    fn a_missing_resource_is_rejected() {
        let err = parse_err(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#);
        assert_eq!(err, "statement 0: has neither Resource nor NotResource");
    }

    #[test]
    fn a_principal_is_rejected_in_an_identity_policy() {
        let err = parse_err(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
        );
        assert!(err.contains("Principal"), "{err}");
    }

    #[test]
    fn an_unknown_version_is_rejected() {
        let err = parse_err(r#"{"Version":"2012-10-18","Statement":[]}"#);
        assert!(err.contains("2012-10-18"), "{err}");
    }

    #[test]
    fn malformed_json_says_where() {
        let err = parse_err(r#"{"Statement": [ }"#);
        assert!(
            err.starts_with("the policy document is not valid JSON"),
            "{err}"
        );
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn text_that_is_neither_json_nor_encoded_json_is_rejected() {
        assert!(matches!(decode("hello"), Err(PolicyError::Json(_))));
        assert_eq!(decode("  "), Err(PolicyError::Empty));
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
}
