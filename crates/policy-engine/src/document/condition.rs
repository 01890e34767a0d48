//! A statement's `Condition`, read by IAM's grammar: `{ operator: { key: values } }`, where
//! values are a string, number or Boolean, or a non-empty list of them. No object may have a
//! key twice: IAM's grammar refuses it ("individual elements must not contain multiple
//! instances of the same key"), and a JSON reader would keep only the last, so a quarantine
//! would silently rewrite the condition.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer, ser};
use serde_json::value::RawValue;

use super::diagnose::without_position;
use serde_json::{Map, Number, Value};

/// A valid Condition block. It is reported and written back, never evaluated, so the common
/// block (no numbers, no escapes) stays the text the hand reader checked until somebody asks
/// for its value: most are never asked, and building one was most of a conditional statement's
/// parsing time.
#[derive(Clone)]
pub struct Condition<'a>(Block<'a>);

#[derive(Clone)]
enum Block<'a> {
    /// JSON text already checked against the grammar (`read::Reader::condition`).
    Text(Cow<'a, str>),
    /// Read by serde (below).
    Value(Value),
    /// Read by serde, holding a number: its text as written, white space taken out, so that it
    /// is written back as it was. As a `Value`, `1.50` would come back `1.5` and a long integer
    /// rounded, and IAM compares an unquoted number as the text written under a string
    /// operator: a quarantine would change what another statement's condition says.
    Numbers(String),
}

impl<'a> Condition<'a> {
    /// A block whose text was checked against the grammar this module's reading enforces.
    pub(super) fn checked_text(text: &'a str) -> Self {
        Condition(Block::Text(Cow::Borrowed(text)))
    }

    /// A block from its JSON value, taken as valid.
    pub fn from_value(value: Value) -> Condition<'static> {
        Condition(Block::Value(value))
    }

    /// The block as JSON: operators, each with its condition keys and their values.
    pub fn to_value(&self) -> Value {
        match &self.0 {
            Block::Text(text) => serde_json::from_str(text).expect("a checked Condition is JSON"),
            Block::Numbers(text) => serde_json::from_str(text).expect("a read Condition is JSON"),
            Block::Value(value) => value.clone(),
        }
    }

    pub fn into_owned(self) -> Condition<'static> {
        Condition(match self.0 {
            Block::Text(text) => Block::Text(Cow::Owned(text.into_owned())),
            Block::Numbers(text) => Block::Numbers(text),
            Block::Value(value) => Block::Value(value),
        })
    }
}

/// Equal when they say the same, however each was written.
impl PartialEq for Condition<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Block::Text(a), Block::Text(b)) if a == b => true,
            _ => self.to_value() == other.to_value(),
        }
    }
}

impl fmt::Debug for Condition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_value().fmt(f)
    }
}

impl Serialize for Condition<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Block::Text(_) => self.to_value().serialize(serializer),
            Block::Numbers(text) => RawValue::from_string(text.clone())
                .map_err(ser::Error::custom)?
                .serialize(serializer),
            Block::Value(value) => value.serialize(serializer),
        }
    }
}

/// From any JSON (a finding's scope read back from a workflow state, say): numbers as read.
impl<'de> Deserialize<'de> for Condition<'_> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let operators = deserializer.deserialize_map(Operators)?;
        Ok(Condition(Block::Value(Value::Object(operators))))
    }
}

/// A document's `Condition` read from its JSON text: a block holding a number keeps its text
/// ([`Block::Numbers`]), so that a quarantine writes it back as written.
pub(super) struct WrittenCondition<'a>(pub(super) Condition<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for WrittenCondition<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        let operators = serde_json::Deserializer::from_str(raw.get())
            .deserialize_map(Operators)
            // A position in the block, not in the document: left out.
            .map_err(|e| de::Error::custom(without_position(&e)))?;
        let (text, holds_a_number) = compact(raw.get());
        Ok(WrittenCondition(Condition(if holds_a_number {
            Block::Numbers(text)
        } else {
            Block::Value(Value::Object(operators))
        })))
    }
}

/// JSON text without its white space outside strings, and whether a number stands outside
/// them.
fn compact(json: &str) -> (String, bool) {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped, mut number) = (false, false, false);
    for c in json.chars() {
        if in_string {
            (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        } else {
            number |= c == '-' || c.is_ascii_digit();
        }
        out.push(c);
    }
    (out, number)
}

struct Operators;

impl<'de> Visitor<'de> for Operators {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Condition to be an object of condition operators")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut operators = Map::new();
        while let Some(operator) = map.next_key::<String>()? {
            if operators.contains_key(&operator) {
                return Err(de::Error::custom(format!(
                    "Condition has the operator {operator:?} twice"
                )));
            }
            let keys = map.next_value_seed(Keys {
                operator: &operator,
            })?;
            operators.insert(operator, Value::Object(keys));
        }
        Ok(operators)
    }
}

/// One operator's block: condition keys and their values.
struct Keys<'o> {
    operator: &'o str,
}

impl<'de> DeserializeSeed<'de> for Keys<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Keys<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "condition operator {:?} to hold an object of condition keys",
            self.operator
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "condition operator {:?} has the key {key:?} twice",
                    self.operator
                )));
            }
            let values = map.next_value_seed(Values {
                operator: self.operator,
                key: &key,
                in_list: false,
            })?;
            keys.insert(key, values);
        }
        Ok(keys)
    }
}

/// A condition key's values: one scalar, or a non-empty list of scalars.
struct Values<'o> {
    operator: &'o str,
    key: &'o str,
    in_list: bool,
}

impl<'de> DeserializeSeed<'de> for Values<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let what = if self.in_list {
            "a string, number or Boolean"
        } else {
            "a string, number or Boolean, or a list of them"
        };
        write!(
            f,
            "{what} as the value of {:?} in condition operator {:?}",
            self.key, self.operator
        )
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a condition value is not a finite number"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.in_list {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        let mut values = Vec::new();
        let item = || Values {
            in_list: true,
            ..self
        };
        while let Some(value) = seq.next_element_seed(item())? {
            values.push(value);
        }
        if values.is_empty() {
            return Err(de::Error::custom(format!(
                "the values of {:?} in condition operator {:?} are an empty list",
                self.key, self.operator
            )));
        }
        Ok(Value::Array(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_goes_and_strings_stay_as_written() {
        let json = "{ \"S\" : { \"k\" : [ \"a \\\" b 1\" , -2.50 ] } }";
        assert_eq!(
            compact(json),
            (r#"{"S":{"k":["a \" b 1",-2.50]}}"#.to_owned(), true)
        );
        assert_eq!(
            compact(r#"{"S": {"k": ["a \" -1", true]}}"#),
            (r#"{"S":{"k":["a \" -1",true]}}"#.to_owned(), false)
        );
    }
}
