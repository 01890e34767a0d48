//! Reading the EventBridge "AWS API Call via CloudTrail" events of IAM: which policy changed,
//! how, and who changed it. Failed calls, non-default policy versions and iam-sentinel's own
//! changes are recognised and ignored, never analysed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not an EventBridge event: {0}")]
    NotAnEvent(String),
    #[error(
        "the event is not a CloudTrail record of an IAM call (source {origin:?}, eventSource {event_source:?})"
    )]
    NotIam {
        origin: String,
        event_source: String,
    },
    #[error("{event_name} is not a policy change iam-sentinel handles")]
    UnhandledEvent { event_name: String },
    #[error("the {event_name} event has no {field}")]
    MissingField {
        event_name: String,
        field: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Role,
    Group,
}

/// An IAM user, role or group, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub name: String,
}

impl Principal {
    /// "user", "role" or "group".
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Group => "group",
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind_name(), self.name)
    }
}

/// What the change touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Target {
    /// A customer managed policy got a new default document (CreatePolicy, CreatePolicyVersion
    /// with setAsDefault, SetDefaultPolicyVersion).
    #[serde(rename_all = "camelCase")]
    ManagedPolicy { policy_arn: String },
    /// An inline policy was written (Put{User,Role,Group}Policy).
    #[serde(rename_all = "camelCase")]
    InlinePolicy {
        principal: Principal,
        policy_name: String,
    },
    /// A managed policy (customer or AWS managed) was attached (Attach{User,Role,Group}Policy).
    #[serde(rename_all = "camelCase")]
    Attachment {
        principal: Principal,
        policy_arn: String,
    },
}

/// Who made the change (CloudTrail `userIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    /// IAMUser, AssumedRole, Root, FederatedUser, AWSService, ...
    pub identity_type: String,
    pub arn: Option<String>,
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    /// The role behind an assumed-role session.
    pub session_issuer_arn: Option<String>,
    /// The AWS service that made the call on the principal's behalf.
    pub invoked_by: Option<String>,
}

impl Actor {
    /// The most useful one-line name for a person reading a notification.
    pub fn display_name(&self) -> String {
        self.arn
            .clone()
            .or_else(|| self.invoked_by.clone())
            .or_else(|| self.principal_id.clone())
            .unwrap_or_else(|| self.identity_type.clone())
    }
}

/// A successful IAM call that may grant restricted actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyChange {
    pub event_name: String,
    pub event_id: String,
    pub event_time: String,
    pub account: String,
    pub region: String,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub target: Target,
    /// The policy document the call carried (absent for attachments and SetDefaultPolicyVersion:
    /// read it from IAM).
    pub document: Option<String>,
    /// For managed policies: the version the change made the default, when the event says.
    pub version_id: Option<String>,
}

/// What an event means for iam-sentinel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Change(Box<PolicyChange>),
    Ignored { event_name: String, reason: String },
}

#[derive(Deserialize)]
struct Envelope {
    source: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    region: String,
    detail: Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    event_name: String,
    #[serde(rename = "eventID", default)]
    event_id: String,
    #[serde(default)]
    event_time: String,
    #[serde(default)]
    aws_region: String,
    #[serde(default)]
    recipient_account_id: String,
    #[serde(default)]
    user_identity: Value,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    user_agent: Option<String>,
    error_code: Option<String>,
    #[serde(default)]
    request_parameters: Value,
    #[serde(default)]
    response_elements: Value,
}

/// The sessions iam-sentinel writes policies in: its policy-writer role as assumed by each of
/// the two writer functions (`arn:aws:sts::<account>:assumed-role/<role>/<function>`). Exactly
/// these, so that no other session of the role, and nobody naming a role like it, passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterSessions(Vec<String>);

impl WriterSessions {
    /// A comma-separated list of assumed-role session ARNs.
    pub fn parse(list: &str) -> Result<WriterSessions, String> {
        let sessions: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if sessions.is_empty() {
            return Err("no session ARN given".into());
        }
        if let Some(bad) = sessions.iter().find(|s| !is_assumed_role_session(s)) {
            return Err(format!(
                "{bad:?} is not arn:<partition>:sts::<account>:assumed-role/<role>/<session>"
            ));
        }
        Ok(WriterSessions(sessions))
    }

    fn made(&self, actor: &Actor) -> bool {
        actor
            .arn
            .as_deref()
            .is_some_and(|arn| self.0.iter().any(|session| session == arn))
    }
}

fn is_assumed_role_session(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", _, "sts", "", account, resource]
        if account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty()))
}

/// Reads an EventBridge event. Changes made in one of the `writers` sessions are iam-sentinel's
/// own and are ignored, so a quarantine or restore never starts another incident.
pub fn read_event(event: &Value, writers: &WriterSessions) -> Result<Reading, EventError> {
    let envelope: Envelope =
        serde_json::from_value(event.clone()).map_err(|e| EventError::NotAnEvent(e.to_string()))?;
    let event_source = envelope
        .detail
        .get("eventSource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if envelope.source != "aws.iam" || event_source != "iam.amazonaws.com" {
        return Err(EventError::NotIam {
            origin: envelope.source,
            event_source: event_source.to_owned(),
        });
    }
    let detail: Detail = serde_json::from_value(envelope.detail)
        .map_err(|e| EventError::NotAnEvent(format!("its CloudTrail record: {e}")))?;
    let name = detail.event_name.clone();
    let ignored = |reason: String| {
        Ok(Reading::Ignored {
            event_name: name.clone(),
            reason,
        })
    };
    if let Some(code) = &detail.error_code {
        return ignored(format!("the call failed ({code}), so it changed nothing"));
    }
    let actor = read_actor(&detail.user_identity);
    if writers.made(&actor) {
        return ignored("iam-sentinel made this change itself".into());
    }
    let params = &detail.request_parameters;
    let text = |field: &'static str| {
        params
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| EventError::MissingField {
                event_name: name.clone(),
                field,
            })
    };
    let principal = |kind: PrincipalKind, field: &'static str| -> Result<Principal, EventError> {
        Ok(Principal {
            kind,
            name: text(field)?,
        })
    };
    let (target, document, version_id) = match name.as_str() {
        "CreatePolicy" => {
            let arn = detail
                .response_elements
                .pointer("/policy/arn")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| EventError::MissingField {
                    event_name: name.clone(),
                    field: "responseElements.policy.arn",
                })?;
            (
                Target::ManagedPolicy { policy_arn: arn },
                Some(text("policyDocument")?),
                Some("v1".to_owned()),
            )
        }
        "CreatePolicyVersion" => {
            if !params.get("setAsDefault").is_some_and(is_true) {
                return ignored(
                    "the new version was not made the default, so it grants nothing yet".into(),
                );
            }
            let version = detail
                .response_elements
                .pointer("/policyVersion/versionId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            (
                Target::ManagedPolicy {
                    policy_arn: text("policyArn")?,
                },
                Some(text("policyDocument")?),
                version,
            )
        }
        "SetDefaultPolicyVersion" => (
            Target::ManagedPolicy {
                policy_arn: text("policyArn")?,
            },
            None,
            Some(text("versionId")?),
        ),
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => {
            let (kind, field) = principal_field(&name);
            let target = Target::InlinePolicy {
                principal: principal(kind, field)?,
                policy_name: text("policyName")?,
            };
            (target, Some(text("policyDocument")?), None)
        }
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => {
            let (kind, field) = principal_field(&name);
            (
                Target::Attachment {
                    principal: principal(kind, field)?,
                    policy_arn: text("policyArn")?,
                },
                None,
                None,
            )
        }
        _ => return Err(EventError::UnhandledEvent { event_name: name }),
    };
    let account = if detail.recipient_account_id.is_empty() {
        envelope.account
    } else {
        detail.recipient_account_id
    };
    let region = if detail.aws_region.is_empty() {
        envelope.region
    } else {
        detail.aws_region
    };
    Ok(Reading::Change(Box::new(PolicyChange {
        event_name: name,
        event_id: detail.event_id,
        event_time: detail.event_time,
        account,
        region,
        actor,
        source_ip: detail.source_ip_address,
        user_agent: detail.user_agent,
        target,
        document,
        version_id,
    })))
}

/// `setAsDefault` arrives as a JSON boolean, but be lenient with a string "true".
fn is_true(value: &Value) -> bool {
    value.as_bool().unwrap_or_else(|| {
        value
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
    })
}

fn principal_field(event_name: &str) -> (PrincipalKind, &'static str) {
    if event_name.contains("User") {
        (PrincipalKind::User, "userName")
    } else if event_name.contains("Role") {
        (PrincipalKind::Role, "roleName")
    } else {
        (PrincipalKind::Group, "groupName")
    }
}

fn read_actor(identity: &Value) -> Actor {
    let text = |pointer: &str| {
        identity
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Actor {
        identity_type: text("/type").unwrap_or_else(|| "Unknown".into()),
        arn: text("/arn"),
        principal_id: text("/principalId"),
        account_id: text("/accountId"),
        session_issuer_arn: text("/sessionContext/sessionIssuer/arn"),
        invoked_by: text("/invokedBy"),
    }
}
