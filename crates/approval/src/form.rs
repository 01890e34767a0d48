//! The decision form the approval page posts: the key, which button was pressed, and an
//! optional comment. Anything else is refused with a message that names the problem.

use incident::Decision;

/// Far more than the form needs; a bigger body is not from our page.
const MAX_BODY: usize = 16 * 1024;
pub const MAX_COMMENT_CHARS: usize = 1000;
/// At most this much of a refused value is named in the error: enough to recognise it, too
/// little for a cross-site form (which may post anything) to make the page say its own text.
const ECHOED_CHARS: usize = 40;

/// The start of a refused value, to name it in an error.
pub fn echoed(value: &str) -> String {
    let mut start: String = value.chars().take(ECHOED_CHARS).collect();
    if start.len() < value.len() {
        start.push('…');
    }
    start
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionForm {
    pub key: String,
    /// Approve or Deny, never `Unrecognised`.
    pub decision: Decision,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the request body is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the form has no {0} field")]
    Missing(&'static str),
    #[error("the form has more than one {0} field")]
    Repeated(String),
    #[error("the form has an unexpected field {0:?}")]
    Unexpected(String),
    #[error("the decision must be approve or deny, not {0:?}")]
    UnknownDecision(String),
    #[error("the comment is longer than {MAX_COMMENT_CHARS} characters")]
    CommentTooLong,
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_decision_form(body: &[u8]) -> Result<DecisionForm, FormError> {
    if body.len() > MAX_BODY {
        return Err(FormError::TooLarge);
    }
    let (mut key, mut decision, mut comment) = (None, None, None);
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "key" => &mut key,
            "decision" => &mut decision,
            "comment" => &mut comment,
            other => return Err(FormError::Unexpected(echoed(other))),
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(FormError::Repeated(echoed(&name)));
        }
    }
    let key = key.ok_or(FormError::Missing("key"))?;
    let decision = match decision.ok_or(FormError::Missing("decision"))?.as_str() {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        other => return Err(FormError::UnknownDecision(echoed(other))),
    };
    let comment = comment.map(|c| clean_comment(&c)).filter(|c| !c.is_empty());
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(FormError::CommentTooLong);
    }
    Ok(DecisionForm {
        key,
        decision,
        comment,
    })
}

/// One line, trimmed, without control characters: it goes into plain-text emails, where a
/// line break could forge a line of the email (an `Execution:` line, say), and into logs. Its
/// invisible characters are written out (`incident::visible`): it is recorded as it will read.
fn clean_comment(comment: &str) -> String {
    let line: String = comment
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    incident::visible(&line.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_with_a_comment_is_read() {
        let form =
            parse_decision_form(b"key=abc&decision=approve&comment=ticket+SEC-1%21").unwrap();
        assert_eq!(
            form,
            DecisionForm {
                key: "abc".into(),
                decision: Decision::Approve,
                comment: Some("ticket SEC-1!".into()),
            }
        );
    }

    #[test]
    fn an_empty_comment_is_no_comment() {
        let form = parse_decision_form(b"key=abc&decision=deny&comment=+++").unwrap();
        assert_eq!(form.decision, Decision::Deny);
        assert_eq!(form.comment, None);
    }

    #[test]
    fn a_comment_becomes_one_line_without_control_characters() {
        let form = parse_decision_form(
            b"key=k&decision=deny&comment=ok%0D%0A%0D%0AExecution%3A+x%1B%5B31m",
        )
        .unwrap();
        assert_eq!(form.comment.as_deref(), Some("ok Execution: x [31m"));
    }

    #[test]
    fn both_buttons_in_one_request_are_refused() {
        assert_eq!(
            parse_decision_form(b"key=k&decision=approve&decision=deny"),
            Err(FormError::Repeated("decision".into()))
        );
    }

    #[test]
    fn a_decision_other_than_approve_or_deny_is_refused() {
        assert_eq!(
            parse_decision_form(b"key=k&decision=Approve"),
            Err(FormError::UnknownDecision("Approve".into()))
        );
    }

    #[test]
    fn missing_fields_are_named() {
        assert_eq!(
            parse_decision_form(b"decision=deny"),
            Err(FormError::Missing("key"))
        );
        assert_eq!(
            parse_decision_form(b"key=k"),
            Err(FormError::Missing("decision"))
        );
    }

    #[test]
    fn unexpected_fields_are_refused() {
        assert_eq!(
            parse_decision_form(b"key=k&decision=deny&taskToken=x"),
            Err(FormError::Unexpected("taskToken".into()))
        );
    }

    #[test]
    fn a_refused_value_is_named_by_its_start_only() {
        let posted = format!(
            "key=k&decision=deny&{}=x",
            "Your+approval+is+recorded+".repeat(20)
        );
        let Err(FormError::Unexpected(named)) = parse_decision_form(posted.as_bytes()) else {
            panic!("an unexpected field");
        };
        assert_eq!(named, "Your approval is recorded Your approval …");
    }

    #[test]
    fn an_overlong_comment_or_body_is_refused() {
        let long = format!("key=k&decision=deny&comment={}", "a".repeat(1001));
        assert_eq!(
            parse_decision_form(long.as_bytes()),
            Err(FormError::CommentTooLong)
        );
        assert_eq!(
            parse_decision_form(&vec![b'a'; 20_000]),
            Err(FormError::TooLarge)
        );
    }
}
