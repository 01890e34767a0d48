//! The incident domain of iam-sentinel, pure (no AWS SDK, no I/O): reading CloudTrail IAM
//! events, the records the workflow carries from state to state, the quarantine and restore
//! decisions, and the outcome notifications.

pub mod boundary;
pub mod consistency;
pub mod decision_log;
pub mod event;
pub mod history;
pub mod membership;
pub mod name;
pub mod notification;
pub mod outcome;
pub mod own_stack;
pub mod quarantine;
pub mod record;
pub mod restore;
pub mod rules;
pub mod rules_changed;
pub mod sweep;
pub mod trust;

pub use decision_log::{
    DecidedBy, GrantKey, GrantRecord, GrantStatus, IncidentRecord, canonical_digest,
};
pub use event::{
    Actor, EventError, EventFacts, EventScope, PolicyChange, Principal, PrincipalKind, Reading,
    Target, WriterSessions, event_facts, read_event,
};
pub use name::{IncidentName, NotAnIncidentName, TargetKey};
pub use notification::{
    Notification, SUBJECT_LIMIT, approved_attachments_text, boundary_change, boundary_section,
    change_section, describe_actor, describe_origin, describe_quarantine, describe_target,
    documents_section, forged_delivery_alert, grant_lines, grants_section, group_grants_section,
    listed, name_taken_alert, notification, pretty, quarantine_effect, quarantine_section,
    refusal_alert, truncate, visible,
};
pub use outcome::{EVENT_SOURCE, Outcome, OutcomeState, UnreadablePart, event_detail};
pub use own_stack::OwnRoles;
pub use record::{
    AddedGrant, Analysed, AppliedQuarantine, Assessment, Decision, DecisionRecord, DeletedVersion,
    DocumentRef, PrincipalId, QuarantineAction, QuarantineRecord, ReportedGrant, RestoreRecord,
    RestoreStatus, TrustReport, Verdict, carried_added_grants, carried_edits, carried_findings,
    current_findings, current_omitted_grants, same_document,
};
pub use rules::{ChangeContext, ExemptedPattern, RulesReport, path_exemptions};
