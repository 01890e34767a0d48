//! The second, slow pass over a document the one-pass parse refused: read lazily, statement by
//! statement, to say which statement is wrong and why. Valid documents never come here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{PolicyError, RawStatement, SidLabel, check_version, present};

/// The same document read lazily, to locate what made the one-pass parse fail.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LazyPolicy<'a> {
    #[serde(rename = "Version", borrow, default, deserialize_with = "present")]
    version: Option<&'a RawValue>,
    #[serde(rename = "Id", borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(rename = "Statement", borrow, default, deserialize_with = "present")]
    statement: Option<&'a RawValue>,
}

const NO_NULL: &str = "IAM's grammar has no null values";

/// Turns a failed one-pass parse into an error that names the statement at fault.
pub(super) fn explain_invalid(json: &str, error: serde_json::Error) -> PolicyError {
    if error.classify() != serde_json::error::Category::Data {
        return PolicyError::Json(error.to_string());
    }
    let lazy: LazyPolicy<'_> = match serde_json::from_str(json) {
        Ok(lazy) => lazy,
        Err(e) => return PolicyError::Document(format!("is invalid: {e}")),
    };
    let top = [
        ("Version", lazy.version),
        ("Id", lazy.id),
        ("Statement", lazy.statement),
    ];
    if let Some((key, _)) = top.iter().find(|(_, v)| v.is_some_and(is_null)) {
        return PolicyError::Document(format!("has {key} null; {NO_NULL}"));
    }
    if let Some(version) = lazy.version {
        match serde_json::from_str::<&str>(version.get()) {
            Ok(v) => {
                if let Err(e) = check_version(Some(v)) {
                    return e;
                }
            }
            Err(_) => return PolicyError::Document("has a Version that is not a string".into()),
        }
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
                problem: null_key(raw).unwrap_or_else(|| without_position(&e)),
            };
        }
    }
    PolicyError::Document(format!("is invalid: {error}"))
}

fn is_null(value: &RawValue) -> bool {
    value.get() == "null"
}

/// `Condition is null; ...` for a statement with a null value, which serde's message would
/// not name.
fn null_key(statement: &RawValue) -> Option<String> {
    let keys: BTreeMap<String, &RawValue> = serde_json::from_str(statement.get()).ok()?;
    let (key, _) = keys.iter().find(|(_, v)| is_null(v))?;
    Some(format!("{key} is null; {NO_NULL}"))
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

/// serde_json's message without " at line L column C", which would point into the statement's
/// own text rather than the document.
pub(super) fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}
