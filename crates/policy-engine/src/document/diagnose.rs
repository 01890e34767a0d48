//! The second, slow pass over a document the one-pass parse refused: read lazily, statement by
//! statement, to say which statement is wrong and why. Valid documents never come here.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::{PolicyError, RawStatement, SidLabel, check_version};

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

/// Turns a failed one-pass parse into an error that names the statement at fault.
pub(super) fn explain_invalid(json: &str, error: serde_json::Error) -> PolicyError {
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
fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}
