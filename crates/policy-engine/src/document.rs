//! IAM identity-policy documents: parsing (raw or percent-encoded JSON), validation with errors
//! that say where the problem is, and serialisation back to JSON. A document the one-pass parse
//! refuses is walked again by `diagnose`, to name the statement at fault.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

mod condition;
mod diagnose;
mod read;
mod scan;

pub use condition::Condition;
use condition::WrittenCondition;

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
/// (what the IAM API returns for policy documents). IAM encodes the document as it was written,
/// so white space before the `{` arrives encoded too (`%0A%20%20%7B`).
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
    let not_an_object = || {
        PolicyError::Json(
            "expected a JSON object (starting with `{`) or a percent-encoded one".into(),
        )
    };
    if !trimmed.starts_with('%') {
        return Err(not_an_object());
    }
    let decoded = percent_encoding::percent_decode_str(trimmed)
        .decode_utf8()
        .map_err(|_| PolicyError::BadEncoding)?;
    let json = decoded.trim();
    if !json.starts_with('{') {
        return Err(not_an_object());
    }
    Ok(Cow::Owned(json.to_owned()))
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
    pub condition: Option<Condition<'a>>,
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
            condition: self.condition.map(Condition::into_owned),
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
        // One pass over the text: the common document by hand, any other by serde. Only when
        // that fails is the document walked again, statement by statement, to say which one
        // is wrong.
        let raw: RawPolicy<'a> = match read::policy(json) {
            // It reads only ASCII, all of it in IAM's character set.
            Some(raw) => raw,
            None => {
                check_characters(json)?;
                match serde_json::from_str(json) {
                    Ok(raw) => raw,
                    Err(e) => return Err(diagnose::explain_invalid(json, e)),
                }
            }
        };
        Policy::validated(raw)
    }

    fn validated(raw: RawPolicy<'a>) -> Result<Self, PolicyError> {
        let version = raw.version.map(|v| v.0);
        check_version(version.as_deref())?;
        let statements = raw
            .statement
            .ok_or_else(|| PolicyError::Document("has no Statement".into()))?
            .items;
        if statements.is_empty() {
            return Err(PolicyError::Document(
                "has an empty Statement list; IAM requires at least one statement".into(),
            ));
        }
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(index, raw)| validate_statement(index, raw))
            .collect::<Result<_, _>>()?;
        Ok(Policy {
            version,
            id: raw.id.map(|v| v.0),
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
        in_iam_characters(serde_json::to_string(self).expect("a policy always serialises"))
    }

    /// Indented JSON, for people.
    pub fn to_pretty_json(&self) -> String {
        in_iam_characters(serde_json::to_string_pretty(self).expect("a policy always serialises"))
    }

    /// The size IAM counts against its quotas: the characters of the document as sent (the
    /// compact form), white space not counted, inside strings neither. AWS states the quotas
    /// "in non-whitespace characters" (GetAccountSummary) and "policy size calculations do not
    /// include white space characters" (IAM JSON policy grammar, notes): no exception for
    /// strings, and this reading is the one under which a quarantine fits where it can.
    pub fn size(&self) -> usize {
        self.to_json()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count()
    }
}

// Every key is optional to serde so that `validate_statement` can say what is missing; none
// may be null (`present`), and a key twice is refused (serde's "duplicate field"), as IAM's
// grammar says: "individual elements must not contain multiple instances of the same key".
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy<'a> {
    #[serde(rename = "Version", borrow, default, deserialize_with = "present")]
    version: Option<Str<'a>>,
    #[serde(rename = "Id", borrow, default, deserialize_with = "present")]
    id: Option<Str<'a>>,
    #[serde(rename = "Statement", borrow, default, deserialize_with = "present")]
    statement: Option<OneOrMany<RawStatement<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStatement<'a> {
    #[serde(rename = "Sid", borrow, default, deserialize_with = "present")]
    sid: Option<Str<'a>>,
    #[serde(rename = "Effect", borrow, default, deserialize_with = "present")]
    effect: Option<Str<'a>>,
    #[serde(rename = "Action", borrow, default, deserialize_with = "present")]
    action: Option<Actions<'a>>,
    #[serde(rename = "NotAction", borrow, default, deserialize_with = "present")]
    not_action: Option<Actions<'a>>,
    #[serde(rename = "Resource", borrow, default, deserialize_with = "present")]
    resource: Option<OneOrMany<Str<'a>>>,
    #[serde(rename = "NotResource", borrow, default, deserialize_with = "present")]
    not_resource: Option<OneOrMany<Str<'a>>>,
    #[serde(rename = "Condition", borrow, default, deserialize_with = "present")]
    condition: Option<WrittenCondition<'a>>,
    #[serde(rename = "Principal", default, deserialize_with = "present")]
    principal: Option<IgnoredAny>,
    #[serde(rename = "NotPrincipal", default, deserialize_with = "present")]
    not_principal: Option<IgnoredAny>,
}

/// A key that is there: IAM's grammar has no null, so `"Condition": null` is refused rather
/// than read as no condition (which would make a conditional Deny look unconditional).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A string borrowed from the input when it has no escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// An `Action` or `NotAction` value as read. The hand reader checks each entry's syntax in the
/// same pass that finds its end (a large policy is thousands of them); serde's reading leaves
/// that to validation.
struct Actions<'a> {
    entries: OneOrMany<Str<'a>>,
    checked: bool,
}

impl<'de: 'a, 'a> Deserialize<'de> for Actions<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Actions {
            entries: OneOrMany::deserialize(deserializer)?,
            checked: false,
        })
    }
}

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

/// JSON text with each character above U+00FF as its `\uXXXX` escape (two, a surrogate pair,
/// beyond U+FFFF). IAM takes a document's text in tab, line feed, carriage return and U+0020 to
/// U+00FF only ([`check_characters`]), so such a character came escaped and goes back so:
/// written as read, IAM would refuse the quarantine. JSON has none outside its strings.
fn in_iam_characters(json: String) -> String {
    // In UTF-8, every character above U+00FF starts with a byte from 0xC4 on.
    if json.bytes().all(|b| b < 0xC4) {
        return json;
    }
    let mut escaped = String::with_capacity(json.len() + 32);
    for c in json.chars() {
        if u32::from(c) <= 0xFF {
            escaped.push(c);
            continue;
        }
        for unit in c.encode_utf16(&mut [0; 2]) {
            escaped.push_str(&format!("\\u{unit:04x}"));
        }
    }
    escaped
}

/// IAM accepts in a document only tab, line feed, carriage return and U+0020 to U+00FF
/// ("IAM and AWS STS quotas", IAM name requirements). ASCII text, nearly every document, is
/// checked at memory speed.
fn check_characters(json: &str) -> Result<(), PolicyError> {
    if json.is_ascii() {
        return Ok(());
    }
    let outside = json
        .char_indices()
        .find(|&(_, c)| !matches!(c, '\t' | '\n' | '\r' | ' '..='\u{ff}'));
    match outside {
        Some((at, c)) => Err(PolicyError::Document(format!(
            "has the character {c:?} (U+{:04X}) at byte {at}; IAM accepts only tab, line feed, \
             carriage return and U+0020 to U+00FF",
            u32::from(c)
        ))),
        None => Ok(()),
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

fn validate_statement(index: usize, raw: RawStatement<'_>) -> Result<Statement<'_>, PolicyError> {
    let fail = |sid: Option<&str>, problem: String| PolicyError::Statement {
        index,
        sid: SidLabel(sid.map(str::to_owned)),
        problem,
    };
    let sid = raw.sid.as_ref().map(|s| s.0.as_ref());
    if let Some(bad) = sid.filter(|s| !s.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(fail(
            sid,
            format!("Sid {bad:?} may hold only A-Z, a-z and 0-9 in an IAM policy"),
        ));
    }
    if raw.principal.is_some() || raw.not_principal.is_some() {
        return Err(fail(
            sid,
            "has a Principal, which an identity policy must not have".into(),
        ));
    }
    let effect = match raw.effect.as_ref().map(|e| e.0.as_ref()) {
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
    Ok(Statement {
        sid: raw.sid.map(|s| s.0),
        effect,
        actions,
        resources,
        condition: raw.condition.map(|c| c.0),
    })
}

fn values<'a>(raw: OneOrMany<Str<'a>>, key: &str) -> Result<Values<'a>, String> {
    if let Some(blank) = raw
        .items
        .iter()
        .position(|s| s.0.chars().all(char::is_whitespace))
    {
        return Err(format!("{key} entry {blank} is empty"));
    }
    listed(raw, key)
}

/// The entries as read, refused only when there are none.
fn listed<'a>(raw: OneOrMany<Str<'a>>, key: &str) -> Result<Values<'a>, String> {
    if raw.items.is_empty() {
        return Err(format!("{key} is an empty list"));
    }
    Ok(Values {
        items: raw.items.into_iter().map(|s| s.0).collect(),
        is_list: raw.is_list,
    })
}

fn action_values<'a>(raw: Actions<'a>, key: &str) -> Result<Values<'a>, String> {
    if raw.checked {
        // Each entry's syntax was checked as it was read: none is blank.
        return listed(raw.entries, key);
    }
    let values = values(raw.entries, key)?;
    for action in values.iter() {
        check_action_syntax(action).map_err(|problem| format!("{key} {action:?} {problem}"))?;
    }
    Ok(values)
}

/// IAM's own rule for an action: `*`, or `service:name` with a non-empty service prefix, in
/// printable ASCII (wildcards allowed).
pub fn check_action_syntax(action: &str) -> Result<(), &'static str> {
    check_action_shape(action, &scan::action_shape(action.as_bytes()))
}

/// [`check_action_syntax`] of an action whose bytes were already scanned.
fn check_action_shape(action: &str, shape: &scan::ActionShape) -> Result<(), &'static str> {
    if !shape.printable {
        let white_space = action.chars().any(char::is_whitespace);
        return Err(if white_space {
            "contains white space"
        } else {
            "contains a character that is not printable ASCII"
        });
    }
    if crate::pattern::matches_everything(action) {
        return Ok(());
    }
    // `service:name`, both non-empty, split at the first colon.
    match shape.first_colon {
        Some(colon) if colon > 0 && colon + 1 < action.len() => Ok(()),
        _ => Err("is not of the form service:action"),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Documents of the pieces both readers tell apart: escapes, repeated and unknown keys,
    /// conditions, numbers, white space, single values and lists, broken syntax.
    fn document() -> impl Strategy<Value = String> {
        let string = prop::sample::select(vec![
            r#""s3:GetObject""#,
            r#""iam:*""#,
            r#""*""#,
            r#""arn:aws:s3:::b/*""#,
            r#""a\/b""#,
            r#""s3""#,
            r#""s3:Get Object""#,
            r#""arn:aws:s3:::café""#,
            r#""s3:GetĀ""#,
            r#"":x""#,
            r#""\u0041""#,
            r#""""#,
            "\"tab\there\"",
            "5",
            "null",
        ]);
        let strings = prop_oneof![
            string.clone().prop_map(str::to_owned),
            prop::collection::vec(string, 0..3).prop_map(|v| format!("[{}]", v.join(","))),
        ];
        let condition = prop::sample::select(vec![
            r#"{"StringEquals":{"aws:x":"a"}}"#,
            r#"{"NumericLessThan":{"k":[1,2.5]},"Bool":{"b":true}}"#,
            r#"{"StringLike":{"k":"a\"}]"}}"#,
            r#"{"StringEquals":{"k":"a"},"StringEquals":{"k":"b"}}"#,
            r#"{"S":{"k":[[1]]}}"#,
            r#"{"Bool":{"aws:SecureTransport":false},"Null":{"k":"true"}}"#,
            r#"{ "StringEquals" : { "k" : [ "a" , true ] } }"#,
            r#"{"S":{"k":"a","k":"b"}}"#,
            r#"{"S":{"k":[]}}"#,
            r#"{"S":{"k":null}}"#,
            r#"{"S":{"k":truex}}"#,
            r#"{"S":{}}"#,
            "{}",
            "{",
            "null",
        ]);
        let key = prop::sample::select(vec![
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "Condition",
            "Other",
            r"Eff\u0065ct",
        ]);
        let value = prop_oneof![
            strings,
            prop::sample::select(vec![r#""Allow""#, r#""Deny""#, r#""S1""#])
                .prop_map(str::to_owned),
            condition.prop_map(str::to_owned),
        ];
        let entry = (key, value).prop_map(|(k, v)| format!("\"{k}\" : {v}"));
        let statement =
            prop::collection::vec(entry, 0..6).prop_map(|e| format!("{{{}}}", e.join(",")));
        let statements = prop_oneof![
            statement.clone(),
            prop::collection::vec(statement, 0..3).prop_map(|v| format!("[\n{}]", v.join(", "))),
            Just("\"s\"".to_owned()),
        ];
        let top = prop_oneof![
            statements.prop_map(|s| format!("\"Statement\":{s}")),
            prop::sample::select(vec![
                r#""Version":"2012-10-17""#,
                r#""Version":"2008-10-17""#,
                r#""Id":"x""#,
                r#""Id":1"#,
                r#""Other":"x""#,
            ])
            .prop_map(str::to_owned),
        ];
        let tail = prop::sample::select(vec!["", " ", "\n", " x", ","]);
        (prop::collection::vec(top, 0..4), tail)
            .prop_map(|(entries, tail)| format!("{{ {} }}{tail}", entries.join(" ,")))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// What the hand reader reads, serde's reading reads the same way.
        #[test]
        fn the_hand_reader_reads_as_serde_does(json in document()) {
            reads_as_serde(&json)?;
        }
    }

    /// What the hand reader reads, serde's reading reads the same way.
    fn reads_as_serde(json: &str) -> Result<(), TestCaseError> {
        if let Some(raw) = read::policy(json) {
            // What it reads skips the character check: it must be ASCII.
            prop_assert!(json.is_ascii(), "{}", json);
            let by_serde: RawPolicy = serde_json::from_str(json)
                .map_err(|e| TestCaseError::fail(format!("serde refuses {json}: {e}")))?;
            prop_assert_eq!(
                Policy::validated(raw),
                Policy::validated(by_serde),
                "{}",
                json
            );
        }
        Ok(())
    }

    /// Condition blocks made of the pieces IAM's grammar (and serde's reading) tells apart:
    /// repeated operators and keys, empty lists, nested lists, numbers, null, white space.
    fn condition() -> impl Strategy<Value = String> {
        let scalar = prop::sample::select(vec![
            r#""a""#,
            r#""${aws:x}""#,
            "true",
            "false",
            "5",
            "null",
            "truex",
            r#""\u0041""#,
        ]);
        let values = prop_oneof![
            scalar.clone().prop_map(str::to_owned),
            prop::collection::vec(scalar, 0..3).prop_map(|v| format!("[{}]", v.join(" , "))),
            Just("[[\"a\"]]".to_owned()),
        ];
        let object = |names: Vec<&'static str>, value: BoxedStrategy<String>| {
            prop::collection::vec((prop::sample::select(names), value), 0..3).prop_map(|entries| {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("\"{k}\" :{v}"))
                    .collect();
                format!("{{ {} }}", entries.join(","))
            })
        };
        let keys = object(vec!["k", "K", "aws:y"], values.boxed());
        prop_oneof![
            8 => object(vec!["StringEquals", "Bool", "Null"], keys.boxed()),
            1 => Just("null".to_owned()),
            1 => Just(r#"{"S":"a"}"#.to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// What the hand reader reads of an Action or NotAction, whose entries it checks as it
        /// reads them, serde's reading reads the same way.
        #[test]
        fn the_hand_reader_reads_actions_as_serde_does(
            key in prop::sample::select(vec!["Action", "NotAction"]),
            actions in prop::collection::vec(prop::sample::select(vec![
                "s3:GetObject", "*", "**", "iam:*", "s3", ":x", "s3:", "s3:Get Object",
                "s3:Get\\u0020", "s3:Get\u{7f}", "ec2:Describe*Long:Name", "a:b", "",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
            ]), 0..4),
            listed in any::<bool>(),
        ) {
            let actions = match actions.as_slice() {
                [one] if !listed => format!("{one:?}"),
                _ => format!("{actions:?}"),
            };
            let json = format!(
                r#"{{"Statement":[{{"Effect":"Allow","{key}":{actions},"Resource":"*"}}]}}"#
            );
            reads_as_serde(&json)?;
        }

        /// What the hand reader reads of a Condition, serde's reading reads the same way.
        #[test]
        fn the_hand_reader_reads_conditions_as_serde_does(condition in condition()) {
            let json = format!(
                r#"{{"Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
                "Condition":{condition}}}}}"#
            );
            reads_as_serde(&json)?;
        }
    }

    #[test]
    fn the_hand_reader_reads_the_common_document() {
        let json = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],
            "Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
        assert!(read::policy(json).is_some());
    }
}
