//! The name of an incident's execution, derived from its CloudTrail event: the same event always
//! gives the same name, so a duplicate delivery cannot start a second execution (Step Functions
//! refuses a second Standard execution of a name), and the name says which target the change
//! touched and when, so incidents on one target can be ordered without reading their inputs.
//!
//! `<target key>-<change time>-<event id>`, e.g.
//! `3f1c0a9e5b7d2c41-20261202T010203Z-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`: at most 74 of the
//! 80 characters Step Functions allows, all in `[A-Za-z0-9-]`.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::event::{Reading, Target, read_unscoped};

/// Which policy, inline policy, attachment or permissions boundary a change touched: the first 64 bits of a SHA-256
/// of the target, as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetKey([u8; 8]);

impl TargetKey {
    pub fn of(target: &Target) -> TargetKey {
        TargetKey::hashed(&TargetKey::canonical(target))
    }

    /// The text the key hashes: which target, in full. A record keyed by 64 bits keeps it too,
    /// so that two targets whose keys collide (someone who names both can find such a pair)
    /// are still told apart.
    pub fn canonical(target: &Target) -> String {
        let canonical = match target {
            Target::ManagedPolicy { policy_arn } => format!("managed\n{policy_arn}"),
            Target::InlinePolicy {
                principal,
                policy_name,
            } => format!("inline\n{}\n{policy_name}", principal),
            Target::Attachment {
                principal,
                policy_arn,
            } => format!("attachment\n{}\n{policy_arn}", principal),
            Target::GroupMembership { user, group } => format!("membership\n{user}\n{group}"),
            Target::TrustPolicy { role_name } => format!("trust\n{role_name}"),
            Target::PermissionsBoundary { principal } => format!("boundary\n{principal}"),
        };
        // IAM's names are not distinguished by case: Admin and admin are one role.
        canonical.to_lowercase()
    }

    fn hashed(text: &str) -> TargetKey {
        let digest = Sha256::digest(text.as_bytes());
        let mut key = [0; 8];
        key.copy_from_slice(&digest[..8]);
        TargetKey(key)
    }
}

impl fmt::Display for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// An execution's name: which target, when the change was made, which event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentName {
    pub target: TargetKey,
    /// The CloudTrail `eventTime` (whole seconds, UTC); the epoch when the event has none that
    /// can be read, so such an incident never counts as newer than another.
    pub changed_at: OffsetDateTime,
    /// The CloudTrail `eventID`, or `x` and a hash of the whole event when it has none usable
    /// in a name.
    pub event_id: String,
}

/// Step Functions names allow more, but CloudTrail event IDs are UUIDs: anything else is hashed.
const MAX_EVENT_ID: usize = 40;
/// A change's time in a name (`20261202T010203Z`); a sweep's id spells its time the same.
pub(crate) const STAMP: &[time::format_description::FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

impl IncidentName {
    /// The name of the execution `event` starts. Never fails: an event that cannot be read
    /// still gets a name of its own (its target key and id then come from a hash of the event),
    /// so it runs, and fails closed in the workflow with a notice.
    pub fn of(event: &Value) -> IncidentName {
        let detail = event.get("detail");
        let text = |field: &str| detail.and_then(|d| d.get(field)).and_then(Value::as_str);
        let event_id = text("eventID")
            .filter(|id| usable_event_id(id))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("x{}", &hex(&Sha256::digest(event.to_string()))[..32]));
        let changed_at = text("eventTime")
            .or_else(|| event.get("time").and_then(Value::as_str))
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .map(|t| t.to_offset(time::UtcOffset::UTC).replace_nanosecond(0))
            .and_then(Result::ok)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        // Whose change it was, and in which account, does not matter for the target.
        let target = match read_unscoped(event) {
            Ok(Reading::Change(change)) => TargetKey::of(&change.target),
            _ => TargetKey::hashed(&format!("unread\n{event_id}")),
        };
        IncidentName {
            target,
            changed_at,
            event_id,
        }
    }

    /// Whether this incident is about a later change to the same target than `other`. Changes
    /// made in the same second are ordered by event ID: arbitrary, but every reader agrees.
    pub fn supersedes(&self, other: &IncidentName) -> bool {
        self.target == other.target
            && (self.changed_at, &self.event_id) > (other.changed_at, &other.event_id)
    }
}

fn usable_event_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_EVENT_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for IncidentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stamp = self.changed_at.format(STAMP).map_err(|_| fmt::Error)?;
        write!(f, "{}-{stamp}-{}", self.target, self.event_id)
    }
}

/// A name that is not an incident name (an execution started by hand, or by an older version).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an incident name (<target key>-<yyyymmddThhmmssZ>-<event id>)")]
pub struct NotAnIncidentName(pub String);

impl FromStr for IncidentName {
    type Err = NotAnIncidentName;

    fn from_str(name: &str) -> Result<IncidentName, NotAnIncidentName> {
        let fail = || NotAnIncidentName(name.to_owned());
        let (target, rest) = name.split_once('-').ok_or_else(fail)?;
        let (stamp, event_id) = rest.split_once('-').ok_or_else(fail)?;
        if target.len() != 16 || !usable_event_id(event_id) {
            return Err(fail());
        }
        let mut key = [0; 8];
        for (i, byte) in key.iter_mut().enumerate() {
            let pair = target.get(2 * i..2 * i + 2).ok_or_else(fail)?;
            if !pair.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(fail());
            }
            *byte = u8::from_str_radix(pair, 16).map_err(|_| fail())?;
        }
        let changed_at = PrimitiveDateTime::parse(stamp, STAMP)
            .map_err(|_| fail())?
            .assume_utc();
        Ok(IncidentName {
            target: TargetKey(key),
            changed_at,
            event_id: event_id.to_owned(),
        })
    }
}
