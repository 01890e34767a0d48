//! A statement's `Condition`, read by IAM's grammar: `{ operator: { key: values } }`, where
//! values are a string, number or Boolean, or a non-empty list of them. No object may have a
//! key twice: IAM's grammar refuses it ("individual elements must not contain multiple
//! instances of the same key"), and a JSON reader would keep only the last, so a quarantine
//! would silently rewrite the condition.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A valid Condition block, kept as JSON (it is reported and written back, never evaluated).
pub(super) struct Condition(pub Value);

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let operators = deserializer.deserialize_map(Operators)?;
        Ok(Condition(Value::Object(operators)))
    }
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
