//! The approval id: the short, public half of an approval link. It is the execution's name, so
//! the API finds the execution (and its task token) from the id and its own state machine's ARN,
//! and can never be pointed at another state machine's executions.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::key::ApprovalKey;

/// Step Functions execution names are 1 to 80 characters.
const MAX_LEN: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the approval id is empty")]
    Empty,
    #[error("the approval id is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("the approval id contains {0:?}, which no execution name can contain")]
    Forbidden(char),
    #[error("{0} is not an execution ARN")]
    NotAnExecution(String),
    #[error("{0} is not a state machine ARN")]
    NotAStateMachine(String),
}

impl ApprovalId {
    /// Accepts exactly what Step Functions accepts as an execution name.
    pub fn parse(text: &str) -> Result<ApprovalId, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.chars().count() > MAX_LEN {
            return Err(IdError::TooLong);
        }
        if let Some(c) = text.chars().find(|&c| forbidden_in_execution_name(c)) {
            return Err(IdError::Forbidden(c));
        }
        Ok(ApprovalId(text.to_owned()))
    }

    /// The id of the execution `arn:aws:states:<region>:<account>:execution:<machine>:<name>`.
    pub fn of_execution(execution_arn: &str) -> Result<ApprovalId, IdError> {
        let not_execution = || IdError::NotAnExecution(execution_arn.to_owned());
        let (_, machine_and_name) = execution_arn
            .split_once(":execution:")
            .ok_or_else(not_execution)?;
        let (_, name) = machine_and_name.split_once(':').ok_or_else(not_execution)?;
        ApprovalId::parse(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as one URL path segment (everything but unreserved characters escaped).
    pub fn path_segment(&self) -> String {
        utf8_percent_encode(&self.0, PATH_SEGMENT).to_string()
    }
}

/// The state machine whose executions approval ids name (the approval API's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    arn: String,
    /// `arn:aws:states:<region>:<account>:execution:<machine>:`
    execution_prefix: String,
}

impl StateMachine {
    pub fn parse(state_machine_arn: &str) -> Result<StateMachine, IdError> {
        let (prefix, machine) = state_machine_arn
            .split_once(":stateMachine:")
            .filter(|(prefix, machine)| {
                prefix.starts_with("arn:") && !machine.is_empty() && !machine.contains(':')
            })
            .ok_or_else(|| IdError::NotAStateMachine(state_machine_arn.to_owned()))?;
        Ok(StateMachine {
            arn: state_machine_arn.to_owned(),
            execution_prefix: format!("{prefix}:execution:{machine}:"),
        })
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The ARN of the execution `id` names: always one of this state machine's.
    pub fn execution_arn(&self, id: &ApprovalId) -> String {
        format!("{}{}", self.execution_prefix, id.0)
    }
}

impl std::fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the StartExecution API refuses in a name: whitespace, brackets, wildcards, these
/// specials and control characters.
fn forbidden_in_execution_name(c: char) -> bool {
    c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
}

/// Everything but unreserved characters is escaped in the path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The host a link to `api_url` (a base URL with no path) points at, as a browser names it in
/// the request: what the link's key is made for.
pub fn link_host(api_url: &str) -> &str {
    api_url
        .split_once("://")
        .map_or(api_url, |(_, rest)| rest)
        .trim_end_matches('/')
}

/// `<api url>/approvals/<id>?key=<key>`: the one link the email carries.
pub fn approval_link(api_url: &str, id: &ApprovalId, key: &ApprovalKey) -> String {
    format!(
        "{}/approvals/{}?key={}",
        api_url.trim_end_matches('/'),
        id.path_segment(),
        key.encoded()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:sentinel-remediation";

    #[test]
    fn the_id_is_the_execution_name() {
        let id = ApprovalId::of_execution(
            "arn:aws:states:us-east-1:123456789012:execution:sentinel-remediation:3f2a9c1e-77b0-4f55-9a51-0d7c2b7f4e10",
        )
        .unwrap();
        assert_eq!(id.as_str(), "3f2a9c1e-77b0-4f55-9a51-0d7c2b7f4e10");
    }

    #[test]
    fn the_id_leads_back_to_the_execution_of_this_state_machine_only() {
        let id = ApprovalId::parse("incident-42").unwrap();
        assert_eq!(
            StateMachine::parse(MACHINE).unwrap().execution_arn(&id),
            "arn:aws:states:us-east-1:123456789012:execution:sentinel-remediation:incident-42"
        );
    }

    #[test]
    fn ids_that_could_name_another_resource_are_refused() {
        for bad in [
            "other-machine:run",
            "a/b",
            "a b",
            "a%3Ab",
            "",
            &"x".repeat(81),
        ] {
            assert!(ApprovalId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn an_arn_that_is_not_an_execution_has_no_id() {
        assert!(ApprovalId::of_execution(MACHINE).is_err());
        assert!(ApprovalId::of_execution("").is_err());
    }

    #[test]
    fn the_configured_state_machine_arn_must_be_one() {
        for bad in [
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:states:us-east-1:123456789012:stateMachine:",
            "sentinel-remediation",
        ] {
            assert!(StateMachine::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_link_escapes_the_id_and_carries_the_key_as_a_query_parameter() {
        let id = ApprovalId::parse("run+1=(a)").unwrap();
        let key = ApprovalKey::from_mac(&[7; 32]).unwrap();
        let link = approval_link(
            "https://abc.execute-api.us-east-1.amazonaws.com/",
            &id,
            &key,
        );
        assert_eq!(
            link,
            format!(
                "https://abc.execute-api.us-east-1.amazonaws.com/approvals/run%2B1%3D%28a%29?key={}",
                key.encoded()
            )
        );
    }
}
