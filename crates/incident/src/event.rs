//! Reading the EventBridge "AWS API Call via CloudTrail" events of IAM: which policy changed,
//! how, and who changed it. Failed calls, non-default policy versions, iam-sentinel's own
//! changes and changes recorded in another account are recognised and ignored, never analysed.

pub use policy_engine::PrincipalKind;
use policy_engine::PrincipalRef;
use policy_engine::in_force::principal_arn;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sweep;

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

    /// `arn:aws:iam::<account>:<user|role|group>/<name>`, as the rules' exemptions name a
    /// principal: spelt by `policy_engine::in_force`, for a change as for the account sweep.
    pub fn arn(&self, account: &str) -> String {
        let principal = PrincipalRef {
            kind: self.kind,
            name: self.name.clone(),
        };
        principal_arn(account, &principal)
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
    /// A user was added to a group (AddUserToGroup): the user gets whatever the group's
    /// policies grant.
    GroupMembership { user: String, group: String },
    /// A role's trust policy was set (CreateRole, UpdateAssumeRolePolicy): who may assume it.
    /// Reported, never quarantined.
    #[serde(rename_all = "camelCase")]
    TrustPolicy { role_name: String },
    /// A user's or role's permissions boundary was deleted or replaced
    /// (Delete{User,Role}PermissionsBoundary, Put{User,Role}PermissionsBoundary): what the
    /// principal's own policies grant and the boundary held back may now be in force.
    #[serde(rename_all = "camelCase")]
    PermissionsBoundary { principal: Principal },
}

impl Target {
    /// The users, roles and groups a quarantine of the change acts on (none for a managed
    /// policy's document, nor for a trust policy, which is never quarantined).
    pub fn principals(&self) -> Vec<Principal> {
        match self {
            Target::ManagedPolicy { .. } | Target::TrustPolicy { .. } => Vec::new(),
            Target::InlinePolicy { principal, .. }
            | Target::Attachment { principal, .. }
            | Target::PermissionsBoundary { principal } => vec![principal.clone()],
            Target::GroupMembership { user, group } => vec![
                Principal {
                    kind: PrincipalKind::User,
                    name: user.clone(),
                },
                Principal {
                    kind: PrincipalKind::Group,
                    name: group.clone(),
                },
            ],
        }
    }
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
    /// CloudTrail's `eventTime`; empty when the event has none that is text.
    pub event_time: String,
    pub account: String,
    pub region: String,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub target: Target,
    /// The policy document the call carried (absent for attachments and SetDefaultPolicyVersion,
    /// or when the event's is missing or not text: read it from IAM). Never in the workflow
    /// state: the assessment names it by reference.
    #[serde(skip)]
    pub document: Option<String>,
    /// For managed policies: the version the change made the default, when the event says.
    pub version_id: Option<String>,
    /// For Put{User,Role}PermissionsBoundary: the policy the call made the boundary, as the
    /// event says (what is analysed is the boundary IAM holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary_arn: Option<String>,
    /// Parts of the event that were there but could not be read (a wrong type), each with what
    /// was received: reported, never a reason not to analyse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// What an event says, read field by field with nothing required: for the notice of an event
/// that cannot be analysed, so that it names whatever the event did name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFacts {
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub event_time: Option<String>,
    pub actor: Option<Actor>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The target, when the event names all of it.
    pub target: Option<Target>,
    /// The names the request carried (`policyArn`, `policyName`, `roleName`, ...), whatever
    /// the target.
    pub named: std::collections::BTreeMap<String, String>,
}

/// What an event means for iam-sentinel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Change(Box<PolicyChange>),
    Ignored { event_name: String, reason: String },
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

/// Which events are this stack's to act on: those recorded in the account it is deployed in,
/// of changes made by anyone but its two writer functions. Another account's events can reach
/// the stack's default bus (EventBridge delivers between accounts where the bus's policy lets
/// them); the writers act by name in their own account, so such an event would take a grant
/// away from a same-named principal here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventScope {
    account: String,
    writers: WriterSessions,
}

impl EventScope {
    /// `account`: the 12-digit id of the account the stack is deployed in.
    pub fn new(account: &str, writers: WriterSessions) -> Result<EventScope, String> {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{account:?} is not a 12-digit AWS account id"));
        }
        Ok(EventScope {
            account: account.to_owned(),
            writers,
        })
    }

    /// Why the event is not this account's: every account it names (the envelope's `account`,
    /// the record's `recipientAccountId`) must be this one, and it must name one.
    fn foreign(&self, event: &Value, detail: &Value) -> Option<String> {
        let named: Vec<&Value> = [event.get("account"), detail.get("recipientAccountId")]
            .into_iter()
            .flatten()
            .filter(|v| !v.is_null())
            .collect();
        if named.is_empty() {
            return Some(format!(
                "the event names no account, so it is not known to be this stack's account {}",
                self.account
            ));
        }
        named
            .into_iter()
            .find(|v| v.as_str() != Some(self.account.as_str()))
            .map(|other| {
                let shown = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned);
                let shown: String = shown.chars().take(RECEIVED_LIMIT).collect();
                format!(
                    "it was recorded in account {shown}, not in this stack's account {}",
                    self.account
                )
            })
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

/// The CloudTrail record of an event, read field by field: text where text is expected, and a
/// note of every field that is there with another type (never a reason to stop by itself).
struct Record<'a> {
    detail: &'a Value,
    unreadable: Vec<String>,
}

/// How much of a wrong-typed value a note keeps.
const RECEIVED_LIMIT: usize = 120;

impl<'a> Record<'a> {
    /// The text at `field` (a dotted path such as `requestParameters.policyName`); None when it
    /// is absent or null, and noted when it is something else.
    fn text(&mut self, field: &str) -> Option<String> {
        match self
            .detail
            .pointer(&format!("/{}", field.replace('.', "/")))
        {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                let received: String = other.to_string().chars().take(RECEIVED_LIMIT).collect();
                self.unreadable
                    .push(format!("{field} is not text: {received}"));
                None
            }
        }
    }

    /// Text the reading cannot do without: the target's names.
    fn required(&mut self, field: &'static str, event_name: &str) -> Result<String, EventError> {
        self.text(field).ok_or_else(|| EventError::MissingField {
            event_name: event_name.to_owned(),
            field,
        })
    }

    fn actor(&mut self) -> Actor {
        Actor {
            identity_type: self
                .text("userIdentity.type")
                .unwrap_or_else(|| "Unknown".into()),
            arn: self.text("userIdentity.arn"),
            principal_id: self.text("userIdentity.principalId"),
            account_id: self.text("userIdentity.accountId"),
            session_issuer_arn: self.text("userIdentity.sessionContext.sessionIssuer.arn"),
            invoked_by: self.text("userIdentity.invokedBy"),
        }
    }
}

/// What a handled call did: changed a target (with the document and version the event gives),
/// or created a version that is not the default.
enum Call {
    Changed {
        target: Target,
        document: Option<String>,
        version_id: Option<String>,
        boundary_arn: Option<String>,
    },
    NotMadeDefault,
}

/// The target of a handled call, strictly (it decides what is analysed and quarantined), and
/// its document and version leniently (IAM has them too).
fn read_call(name: &str, record: &mut Record) -> Result<Call, EventError> {
    let principal = |record: &mut Record| -> Result<Principal, EventError> {
        let (kind, field) = principal_field(name);
        Ok(Principal {
            kind,
            name: record.required(field, name)?,
        })
    };
    let document = |record: &mut Record| record.text("requestParameters.policyDocument");
    let call = match name {
        "CreatePolicy" => Call::Changed {
            target: Target::ManagedPolicy {
                policy_arn: record.required("responseElements.policy.arn", name)?,
            },
            document: document(record),
            version_id: Some("v1".to_owned()),
            boundary_arn: None,
        },
        "CreatePolicyVersion" => {
            if !made_default(record.detail) {
                return Ok(Call::NotMadeDefault);
            }
            Call::Changed {
                target: Target::ManagedPolicy {
                    policy_arn: record.required("requestParameters.policyArn", name)?,
                },
                document: document(record),
                version_id: record.text("responseElements.policyVersion.versionId"),
                boundary_arn: None,
            }
        }
        "SetDefaultPolicyVersion" => Call::Changed {
            target: Target::ManagedPolicy {
                policy_arn: record.required("requestParameters.policyArn", name)?,
            },
            document: None,
            version_id: Some(record.required("requestParameters.versionId", name)?),
            boundary_arn: None,
        },
        "PutUserPolicy" | "PutRolePolicy" | "PutGroupPolicy" => Call::Changed {
            target: Target::InlinePolicy {
                principal: principal(record)?,
                policy_name: record.required("requestParameters.policyName", name)?,
            },
            document: document(record),
            version_id: None,
            boundary_arn: None,
        },
        "AttachUserPolicy" | "AttachRolePolicy" | "AttachGroupPolicy" => Call::Changed {
            target: Target::Attachment {
                principal: principal(record)?,
                policy_arn: record.required("requestParameters.policyArn", name)?,
            },
            document: None,
            version_id: None,
            boundary_arn: None,
        },
        "DeleteUserPermissionsBoundary"
        | "DeleteRolePermissionsBoundary"
        | "PutUserPermissionsBoundary"
        | "PutRolePermissionsBoundary" => Call::Changed {
            target: Target::PermissionsBoundary {
                principal: principal(record)?,
            },
            document: None,
            version_id: None,
            boundary_arn: record.text("requestParameters.permissionsBoundary"),
        },
        "AddUserToGroup" => Call::Changed {
            target: Target::GroupMembership {
                user: record.required("requestParameters.userName", name)?,
                group: record.required("requestParameters.groupName", name)?,
            },
            document: None,
            version_id: None,
            boundary_arn: None,
        },
        "CreateRole" | "UpdateAssumeRolePolicy" => Call::Changed {
            target: Target::TrustPolicy {
                role_name: record.required("requestParameters.roleName", name)?,
            },
            document: record.text(if name == "CreateRole" {
                "requestParameters.assumeRolePolicyDocument"
            } else {
                "requestParameters.policyDocument"
            }),
            version_id: None,
            boundary_arn: None,
        },
        _ => {
            return Err(EventError::UnhandledEvent {
                event_name: name.to_owned(),
            });
        }
    };
    Ok(call)
}

/// The event's CloudTrail record, when the event is one of IAM's: strictly, since these decide
/// whether it is read at all.
fn iam_record(event: &Value) -> Result<&Value, EventError> {
    let Some(envelope) = event.as_object() else {
        return Err(EventError::NotAnEvent(format!(
            "expected a JSON object, got {}",
            kind_of(event)
        )));
    };
    let Some(detail) = envelope.get("detail").filter(|d| d.is_object()) else {
        return Err(EventError::NotAnEvent(
            "it has no detail object (the CloudTrail record)".into(),
        ));
    };
    let origin = envelope.get("source").and_then(Value::as_str);
    let event_source = detail.get("eventSource").and_then(Value::as_str);
    if origin != Some("aws.iam") || event_source != Some("iam.amazonaws.com") {
        let shown = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        return Err(EventError::NotIam {
            origin: shown(envelope.get("source")),
            event_source: shown(detail.get("eventSource")),
        });
    }
    Ok(detail)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads an EventBridge event as the stack acts on it. Changes recorded in another account than
/// the `scope`'s are ignored; so are changes made in one of its writer sessions, which are
/// iam-sentinel's own, so a quarantine or restore never starts another incident.
///
/// Strict where the field decides something (is it IAM's, which account, which call, did it
/// fail, on what target), lenient where it is only told (time, address, client, ids): a
/// wrong-typed `eventTime` is noted in `unreadable` and the change is still analysed.
pub fn read_event(event: &Value, scope: &EventScope) -> Result<Reading, EventError> {
    read(event, Some(scope))
}

/// Reads an event whoever's it is, for what a name or a notice says about it: never for acting
/// on it (`read_event` does that).
pub(crate) fn read_unscoped(event: &Value) -> Result<Reading, EventError> {
    read(event, None)
}

fn read(event: &Value, scope: Option<&EventScope>) -> Result<Reading, EventError> {
    if event.get("source").and_then(Value::as_str) == Some(sweep::FINDING_SOURCE) {
        return read_sweep_finding(event, scope);
    }
    let detail = iam_record(event)?;
    let mut record = Record {
        detail,
        unreadable: Vec::new(),
    };
    let name = match detail.get("eventName") {
        Some(Value::String(name)) => name.clone(),
        other => {
            return Err(EventError::NotAnEvent(format!(
                "its CloudTrail record has no eventName text (got {})",
                other.map_or("nothing", kind_of)
            )));
        }
    };
    let ignored = |reason: String| {
        Ok(Reading::Ignored {
            event_name: name.clone(),
            reason,
        })
    };
    if let Some(reason) = scope.and_then(|scope| scope.foreign(event, detail)) {
        return ignored(reason);
    }
    match detail.get("errorCode") {
        None | Some(Value::Null) => {}
        Some(Value::String(code)) => {
            return ignored(format!("the call failed ({code}), so it changed nothing"));
        }
        // Whether the call failed decides everything: never guessed.
        Some(other) => {
            return Err(EventError::NotAnEvent(format!(
                "its errorCode is {}, not text: did the {name} call fail?",
                kind_of(other)
            )));
        }
    }
    let actor = record.actor();
    if scope.is_some_and(|scope| scope.writers.made(&actor)) {
        return ignored("iam-sentinel made this change itself".into());
    }
    let (target, document, version_id, boundary_arn) = match read_call(&name, &mut record)? {
        Call::Changed {
            target,
            document,
            version_id,
            boundary_arn,
        } => (target, document, version_id, boundary_arn),
        Call::NotMadeDefault => {
            return ignored(
                "the new version was not made the default, so it grants nothing yet".into(),
            );
        }
    };
    let envelope_text = |field: &str| {
        event
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let account = record
        .text("recipientAccountId")
        .unwrap_or_else(|| envelope_text("account"));
    let region = record
        .text("awsRegion")
        .unwrap_or_else(|| envelope_text("region"));
    Ok(Reading::Change(Box::new(PolicyChange {
        event_name: name,
        event_id: record.text("eventID").unwrap_or_default(),
        event_time: record.text("eventTime").unwrap_or_default(),
        account,
        region,
        actor,
        source_ip: record.text("sourceIPAddress"),
        user_agent: record.text("userAgent"),
        target,
        document,
        version_id,
        boundary_arn,
        unreadable: record.unreadable,
    })))
}

/// A sweep finding (`sweep::finding_event`): a restricted grant the account sweep found in
/// force (through a document, or a user's membership of a group), read as a change to its
/// target by the sweep, strictly: the target decides what is quarantined. It carries no
/// document, so Analyse reads the one IAM holds.
fn read_sweep_finding(event: &Value, scope: Option<&EventScope>) -> Result<Reading, EventError> {
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| EventError::NotAnEvent("the sweep finding has no detail".into()))?;
    let text = |field: &str| detail.get(field).and_then(Value::as_str);
    if text("eventSource") != Some(sweep::FINDING_EVENT_SOURCE)
        || text("eventName") != Some(sweep::FINDING_EVENT_NAME)
    {
        return Err(EventError::NotIam {
            origin: sweep::FINDING_SOURCE.into(),
            event_source: text("eventSource").unwrap_or_default().into(),
        });
    }
    let name = sweep::FINDING_EVENT_NAME;
    if let Some(reason) = scope.and_then(|scope| scope.foreign(event, detail)) {
        return Ok(Reading::Ignored {
            event_name: name.into(),
            reason,
        });
    }
    let mut record = Record {
        detail,
        unreadable: Vec::new(),
    };
    let principals: Vec<Principal> = [
        (PrincipalKind::User, "requestParameters.userName"),
        (PrincipalKind::Role, "requestParameters.roleName"),
        (PrincipalKind::Group, "requestParameters.groupName"),
    ]
    .into_iter()
    .filter_map(|(kind, field)| record.text(field).map(|name| Principal { kind, name }))
    .collect();
    let policy_name = record.text("requestParameters.policyName");
    let policy_arn = record.text("requestParameters.policyArn");
    let mut principals = principals.into_iter();
    let target = match (
        principals.next(),
        principals.next(),
        policy_name,
        policy_arn,
    ) {
        (Some(principal), None, Some(policy_name), None) => Target::InlinePolicy {
            principal,
            policy_name,
        },
        (Some(principal), None, None, Some(policy_arn)) => Target::Attachment {
            principal,
            policy_arn,
        },
        (None, None, None, Some(policy_arn)) => Target::ManagedPolicy { policy_arn },
        (Some(user), Some(group), None, None)
            if user.kind == PrincipalKind::User && group.kind == PrincipalKind::Group =>
        {
            Target::GroupMembership {
                user: user.name,
                group: group.name,
            }
        }
        _ => {
            return Err(EventError::MissingField {
                event_name: name.into(),
                field: "requestParameters (one target: policyArn, a user, role or group with policyName or policyArn, or a user and a group)",
            });
        }
    };
    Ok(Reading::Change(Box::new(PolicyChange {
        event_name: name.into(),
        event_id: record.required("eventID", name)?,
        event_time: record.text("eventTime").unwrap_or_default(),
        account: record.text("recipientAccountId").unwrap_or_default(),
        region: record.text("awsRegion").unwrap_or_default(),
        actor: record.actor(),
        source_ip: None,
        user_agent: None,
        version_id: record.text("requestParameters.versionId"),
        target,
        document: None,
        boundary_arn: None,
        unreadable: record.unreadable,
    })))
}

/// Every fact an event names, read leniently: what the notice of an event that cannot be
/// analysed can still say. None when the value has no CloudTrail record at all.
pub fn event_facts(event: &Value) -> Option<EventFacts> {
    let detail = event.get("detail").filter(|d| d.is_object())?;
    let mut record = Record {
        detail,
        unreadable: Vec::new(),
    };
    let event_name = record.text("eventName");
    let target = event_name
        .as_deref()
        .and_then(|name| match read_call(name, &mut record) {
            Ok(Call::Changed { target, .. }) => Some(target),
            _ => None,
        });
    let named = detail
        .get("requestParameters")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(key, _)| NAMES.contains(&key.as_str()))
        .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
        .collect();
    Some(EventFacts {
        event_id: record.text("eventID"),
        event_name,
        event_time: record.text("eventTime"),
        actor: detail.get("userIdentity").map(|_| record.actor()),
        source_ip: record.text("sourceIPAddress"),
        user_agent: record.text("userAgent"),
        target,
        named,
    })
}

/// The request parameters that name what a policy call touched.
const NAMES: [&str; 7] = [
    "policyArn",
    "permissionsBoundary",
    "policyName",
    "userName",
    "roleName",
    "groupName",
    "versionId",
];

/// Whether a CreatePolicyVersion made its version the default. The request's `setAsDefault`
/// and the response's `isDefaultVersion` say (a real record never has them disagree; either
/// one true is taken); a recorded request without `setAsDefault` asked for IAM's default,
/// false. CloudTrail leaves out a field too large to record, and a request can be (a document
/// padded with white space, which IAM does not count): with neither field, the version is taken
/// as the default, so the event is read on (and refused for the policy it cannot name,
/// notified), never ignored unread.
fn made_default(detail: &Value) -> bool {
    let said = |pointer: &str| detail.pointer(pointer).filter(|v| !v.is_null());
    let asked = said("/requestParameters/setAsDefault");
    let answered = said("/responseElements/policyVersion/isDefaultVersion");
    if asked.is_some_and(is_true) || answered.is_some_and(is_true) {
        return true;
    }
    let request_recorded = detail
        .pointer("/requestParameters/policyArn")
        .is_some_and(Value::is_string);
    !(asked.is_some() || answered.is_some() || request_recorded)
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
        (PrincipalKind::User, "requestParameters.userName")
    } else if event_name.contains("Role") {
        (PrincipalKind::Role, "requestParameters.roleName")
    } else {
        (PrincipalKind::Group, "requestParameters.groupName")
    }
}
