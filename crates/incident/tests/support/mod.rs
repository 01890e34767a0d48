//! Events and records built the way the workflow builds them, for the incident tests
//! (`mod support;`) and the approval tests (crates/approval/tests/support/mod.rs includes this
//! file): the changes are read from the real-shaped fixtures in `tests/fixtures/events/` (see
//! its README.md), their documents analysed by the policy engine, the quarantines planned by
//! `incident::quarantine::rewrite` and the restores decided by `incident::restore`, as the
//! handlers do. States go through JSON, as the state machine passes them.
//!
//! Nothing here reads a clock or draws a random number: an email or a page built from these
//! records is the same on every run, so it can be a snapshot. Each test binary uses a part.

#![allow(dead_code)]

use incident::boundary::{Boundary, BoundaryRestoreNow, NO_BOUNDARY, Previous, restore_boundary};
use incident::membership::{added_grants, group_document};
use incident::quarantine::{inline_budget, rewrite};
use incident::record::attachments_document;
use incident::restore::{
    AttachmentRestoreNow, InlineRestoreNow, ManagedRestoreNow, MembershipRestoreNow, RestorePlan,
    restore_attachment, restore_inline, restore_managed, restore_membership,
};
use incident::{
    Analysed, AppliedQuarantine, Assessment, Decision, DecisionRecord, DocumentRef, EventError,
    EventScope, Notification, Outcome, OutcomeState, PolicyChange, Principal, PrincipalId,
    PrincipalKind, QuarantineAction, QuarantineRecord, Reading, RestoreRecord, Target, Verdict,
    WriterSessions, carried_findings, read_event,
};
use policy_engine::access::{PolicySource, PrincipalPolicies, PrincipalRef, SourcedPolicy};
use policy_engine::{Catalog, Policy, PolicyKind, RestrictedActions, analyse, decode};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// The two sessions iam-sentinel writes policies in: its policy-writer role, as assumed by the
/// quarantine-policy and restore-policy functions (WRITER_SESSION_ARNS).
pub const QUARANTINE_SESSION: &str = "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-quarantine-policy";
pub const RESTORE_SESSION: &str =
    "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-restore-policy";
/// The policy-writer role that issues those sessions.
pub const WRITER_ROLE: &str = "arn:aws:iam::123456789012:role/iam-sentinel-policy-writer";

/// Pins an email as its reader sees it under `tests/snapshots/<test file>__<name>.snap`, with
/// what it is about as the snapshot's description. A macro, so that insta names the snapshot
/// after the test file that calls it.
#[allow(unused_macros)] // each test file that includes this module uses what it needs
macro_rules! assert_email {
    ($name:expr, $about:expr, $email:expr $(,)?) => {{
        let (name, about, email): (&str, &str, &incident::Notification) = ($name, $about, $email);
        let mut settings = insta::Settings::clone_current();
        settings.set_description(about);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(name, email_text(email)));
    }};
}

pub fn writers() -> WriterSessions {
    WriterSessions::parse(&format!("{QUARANTINE_SESSION},{RESTORE_SESSION}"))
        .expect("two session ARNs")
}

/// The account the fixtures' events were recorded in, the deployment's.
pub const ACCOUNT: &str = "123456789012";

/// The events the deployment acts on: its account's, not made by `writers()`.
pub fn scope() -> EventScope {
    EventScope::new(ACCOUNT, writers()).expect("a 12-digit account")
}

/// The deployment's restricted actions, as in the fixtures' README.
pub const RESTRICTED: &str = "s3:DeleteBucket,s3:DeleteObject";

pub const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:iam-sentinel-remediation:47e675e7-a06b-499a-961b-2284a99aba5a";

pub const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
pub const BOB: &str = "arn:aws:sts::123456789012:assumed-role/DevOpsRole/bob";
pub const DEVOPS_ROLE: &str = "arn:aws:iam::123456789012:role/DevOpsRole";

pub const OUTCOMES: [Outcome; 11] = [
    Outcome::Quarantined,
    Outcome::Restored,
    Outcome::RestoreSkipped,
    Outcome::TargetGone,
    Outcome::Kept,
    Outcome::TimedOut,
    Outcome::Clean,
    Outcome::Superseded,
    Outcome::ApprovalSuperseded,
    Outcome::Reported,
    Outcome::Failed,
];

/// "restore_skipped": the outcome as publish-outcome's input spells it.
pub fn spelling(outcome: Outcome) -> String {
    serde_json::to_value(outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("an outcome serialises as a string")
}

// ---------------------------------------------------------------------------------------------
// Fixtures and events
// ---------------------------------------------------------------------------------------------

/// `tests/fixtures/<dir>/<name>` of the repository, as text.
pub fn read_fixture(dir: &str, name: &str) -> String {
    let path =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/").to_owned() + dir + "/" + name;
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The event `tests/fixtures/events/<name>`.
pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&read_fixture("events", name))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// The `requestParameters.policyDocument` string of an event, exactly as recorded.
pub fn recorded_document(event: &Value) -> String {
    event
        .pointer("/detail/requestParameters/policyDocument")
        .and_then(Value::as_str)
        .expect("the fixture records a policyDocument")
        .to_owned()
}

/// Reads an event as the deployment of `scope()` does.
pub fn read(event: &Value) -> Result<Reading, EventError> {
    read_event(event, &scope())
}

/// Reads an event that must be a change.
pub fn change(event: &Value) -> PolicyChange {
    match read(event) {
        Ok(Reading::Change(change)) => *change,
        other => panic!("expected a policy change, got {other:?}"),
    }
}

/// The change of the event `tests/fixtures/events/<name>`.
pub fn change_of(name: &str) -> PolicyChange {
    change(&fixture(name))
}

/// Reads an event that must be ignored: its event name and the reason.
pub fn ignored(event: &Value) -> (String, String) {
    match read(event) {
        Ok(Reading::Ignored { event_name, reason }) => (event_name, reason),
        other => panic!("expected the event to be ignored, got {other:?}"),
    }
}

pub fn detail_mut(event: &mut Value) -> &mut Map<String, Value> {
    event["detail"]
        .as_object_mut()
        .expect("detail is an object")
}

pub fn request_parameters_mut(event: &mut Value) -> &mut Map<String, Value> {
    event["detail"]["requestParameters"]
        .as_object_mut()
        .expect("requestParameters is an object")
}

pub fn user_identity_mut(event: &mut Value) -> &mut Map<String, Value> {
    event["detail"]["userIdentity"]
        .as_object_mut()
        .expect("userIdentity is an object")
}

pub fn principal(kind: PrincipalKind, name: &str) -> Principal {
    Principal {
        kind,
        name: name.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// The tests' document store: every text a record refers to, by its SHA-256.
static DOCUMENTS: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);

/// Keeps `text`, as the handlers do before a record names it.
pub fn kept(text: &str) -> DocumentRef {
    let reference = DocumentRef::of(text);
    DOCUMENTS
        .lock()
        .expect("the store")
        .insert(reference.sha256.clone(), text.to_owned());
    reference
}

/// The text a record names (kept by `kept` or by a quarantine this support made).
pub fn text_of(reference: &DocumentRef) -> String {
    DOCUMENTS
        .lock()
        .expect("the store")
        .get(&reference.sha256)
        .cloned()
        .expect("the document was kept")
}

/// The document a quarantine wrote, as kept.
fn quarantined_text(applied: &AppliedQuarantine) -> String {
    text_of(
        applied
            .quarantined_document
            .as_ref()
            .expect("a rewrite keeps what it wrote"),
    )
}

pub fn restricted(list: &str) -> RestrictedActions {
    RestrictedActions::parse(list, Catalog::embedded()).expect("valid restricted actions")
}

/// What the Analyse step returns for `change` once it has its `document` (from the event, or,
/// for attachments and SetDefaultPolicyVersion, from IAM), deployed with restricted `list`.
pub fn analysed(
    change: PolicyChange,
    document: &str,
    version_id: Option<&str>,
    list: &str,
) -> Assessment {
    let json = decode(document).expect("the document decodes").into_owned();
    let policy = Policy::parse(&json).expect("the document is a policy");
    let analysis = analyse(&policy, &restricted(list), Catalog::embedded());
    let restricted = analysis.grants_restricted();
    let (findings, omitted_grants) = carried_findings(analysis.findings);
    let analysed = Analysed {
        notify: true,
        document: kept(&json),
        version_id: version_id.map(str::to_owned).or(change.version_id.clone()),
        findings,
        omitted_grants,
        group_grants: Vec::new(),
        boundary: None,
        rules: Default::default(),
        change,
    };
    Assessment {
        id: analysed.change.event_id.clone(),
        event_name: analysed.change.event_name.clone(),
        verdict: if restricted {
            Verdict::Restricted(analysed)
        } else {
            Verdict::Clean(analysed)
        },
    }
}

/// The assessment of an event that carries its document.
pub fn assessment_of(name: &str) -> Assessment {
    let change = change_of(name);
    let document = change
        .document
        .clone()
        .expect("the event carries a document");
    analysed(change, &document, None, RESTRICTED)
}

/// bob attaching AdministratorAccess to data-pipeline, with the document read from IAM.
pub fn attachment_assessment() -> Assessment {
    let document = read_fixture("policies", "administrator-access.json");
    analysed(
        change_of("attach-role-policy.json"),
        &document,
        Some("v1"),
        RESTRICTED,
    )
}

/// The policies of group `admins` in the membership fixture: AWS's AdministratorAccess.
pub fn admins_group_policies() -> Vec<SourcedPolicy> {
    vec![SourcedPolicy {
        source: PolicySource::Managed {
            policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            version_id: Some("v1".into()),
        },
        through_group: Some("admins".into()),
        document: read_fixture("policies", "administrator-access.json").into(),
    }]
}

/// User `carol` with `identity` (policies of her own or of her other groups) and no boundary.
pub fn carol_with(identity: Vec<SourcedPolicy>) -> PrincipalPolicies {
    PrincipalPolicies {
        principal: PrincipalRef {
            kind: PrincipalKind::User,
            name: "carol".into(),
        },
        arn: Some("arn:aws:iam::123456789012:user/carol".into()),
        path: Some("/".into()),
        identity,
        boundary: None,
        unresolved: Vec::new(),
    }
}

/// The boundary policy `tests/fixtures/policies/<name>.json`, under its ARN in the account.
pub fn boundary(name: &str) -> Boundary {
    Boundary {
        arn: format!("arn:aws:iam::123456789012:policy/{name}"),
        document: read_fixture("policies", &format!("{name}.json")),
    }
}

/// The role data-pipeline as IAM holds it: the inline policy of put-role-policy.json
/// (`s3:Delete*` on its staging bucket) under `boundary` (`None`: no boundary).
pub fn pipeline(boundary: Option<&Boundary>) -> PrincipalPolicies {
    let owner = PrincipalRef {
        kind: PrincipalKind::Role,
        name: "data-pipeline".into(),
    };
    PrincipalPolicies {
        principal: owner.clone(),
        arn: Some("arn:aws:iam::123456789012:role/data-pipeline".into()),
        path: Some("/".into()),
        identity: vec![SourcedPolicy {
            source: PolicySource::Inline {
                owner,
                policy_name: "pipeline-s3-access".into(),
            },
            through_group: None,
            document: recorded_document(&fixture("put-role-policy.json")).into(),
        }],
        boundary: boundary.map(|b| SourcedPolicy {
            source: PolicySource::Managed {
                policy_arn: b.arn.clone(),
                version_id: Some("v1".into()),
            },
            through_group: None,
            document: b.document.as_str().into(),
        }),
        unresolved: Vec::new(),
    }
}

/// What Analyse makes of bob's DeleteRolePermissionsBoundary on data-pipeline, whose boundary
/// the ledger knew as pipeline-boundary: restricted, the inline policy's deletions in force.
pub fn boundary_assessment() -> Assessment {
    let change = change_of("delete-role-permissions-boundary.json");
    let (assessed, omitted_grants) = incident::boundary::assess(
        &pipeline(None),
        &Previous::Policy(boundary("pipeline-boundary")),
        Some(&restricted(RESTRICTED)),
    )
    .expect("readable policies");
    Assessment {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict: Verdict::Restricted(Analysed {
            notify: true,
            document: kept(NO_BOUNDARY),
            version_id: None,
            findings: Vec::new(),
            omitted_grants,
            group_grants: Vec::new(),
            boundary: Some(assessed),
            rules: Default::default(),
            change,
        }),
    }
}

/// alice's AddUserToGroup of carol (who has no policy) to admins (AdministratorAccess), as
/// Analyse assesses it: restricted, the group's policies kept as its document.
pub fn membership_assessment() -> Assessment {
    let change = change_of("add-user-to-group.json");
    let group_policies = admins_group_policies();
    let (group_grants, omitted_grants) = added_grants(
        &carol_with(Vec::new()),
        "admins",
        &group_policies,
        &restricted(RESTRICTED),
        Catalog::embedded(),
    )
    .expect("the documents parse");
    assert!(
        !group_grants.is_empty(),
        "AdministratorAccess grants the restricted actions"
    );
    Assessment {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict: Verdict::Restricted(Analysed {
            notify: true,
            document: kept(&group_document("admins", &group_policies)),
            version_id: None,
            findings: Vec::new(),
            omitted_grants,
            group_grants,
            boundary: None,
            rules: Default::default(),
            change,
        }),
    }
}

/// A trust policy change (`create-role.json`, `update-assume-role-policy.json`) as Analyse
/// reports it.
pub fn trust_assessment(name: &str) -> Assessment {
    let change = change_of(name);
    let Target::TrustPolicy { role_name } = &change.target else {
        panic!("{name} is not a trust policy change");
    };
    let document = change
        .document
        .clone()
        .expect("the request carries the trust policy");
    let trust = incident::trust::who_may_assume(&document, role_name, &change.account)
        .expect("a trust policy");
    Assessment {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict: Verdict::TrustReported(incident::TrustReport {
            document: kept(&document),
            trusted: trust.trusted,
            warnings: trust.warnings,
            change,
        }),
    }
}

pub fn is_clean(assessment: &Assessment) -> bool {
    matches!(assessment.verdict, Verdict::Clean(_))
}

/// The Quarantine step's record for a restricted assessment: the engine's plan, in force as a
/// new default version v2 (managed), a rewrite (inline) or a detachment (attachment).
pub fn quarantine_of(assessment: &Assessment) -> QuarantineRecord {
    let Verdict::Restricted(analysed) = &assessment.verdict else {
        panic!("only a restricted change is quarantined: {assessment:?}");
    };
    let rewrite_within = |size_limit: usize| {
        let rewrite = rewrite(
            &text_of(&analysed.document),
            size_limit,
            &restricted(RESTRICTED),
        )
        .expect("the quarantine fits")
        .expect("the document grants a restricted action");
        kept(&rewrite.quarantined);
        rewrite
    };
    let applied = match &analysed.change.target {
        Target::ManagedPolicy { policy_arn } => rewrite_within(PolicyKind::Managed.size_limit())
            .applied(QuarantineAction::NewDefaultVersion {
                policy_arn: policy_arn.clone(),
                offending_version_id: analysed.version_id.clone().expect("a version"),
                quarantine_version_id: "v2".into(),
                deleted_version: None,
                // Attached to a role when quarantined: what approving also approves.
                attached_to: Some(Box::new(kept(&attachments_document(&[PrincipalId {
                    principal: Principal {
                        kind: PrincipalKind::Role,
                        name: "data-pipeline".into(),
                    },
                    id: Some("AROAEXAMPLEDATAPIPE".into()),
                }])))),
            }),
        Target::InlinePolicy {
            principal,
            policy_name,
        } => rewrite_within(inline_budget(principal.kind, &[])).applied(
            QuarantineAction::InlineRewritten {
                principal: principal.clone(),
                policy_name: policy_name.clone(),
            },
        ),
        Target::Attachment {
            principal,
            policy_arn,
        } => AppliedQuarantine {
            action: QuarantineAction::Detached {
                principal: principal.clone(),
                policy_arn: policy_arn.clone(),
            },
            original_document: analysed.document.clone(),
            quarantined_document: None,
            edits: Vec::new(),
            omitted_changes: 0,
            findings: analysed.findings.clone(),
            omitted_grants: analysed.omitted_grants,
            principal_ids: Vec::new(),
        },
        Target::GroupMembership { user, group } => AppliedQuarantine {
            action: QuarantineAction::RemovedFromGroup {
                user: user.clone(),
                group: group.clone(),
            },
            original_document: analysed.document.clone(),
            quarantined_document: None,
            edits: Vec::new(),
            omitted_changes: 0,
            findings: Vec::new(),
            omitted_grants: 0,
            principal_ids: Vec::new(),
        },
        Target::PermissionsBoundary { principal } => AppliedQuarantine {
            action: QuarantineAction::BoundaryPutBack {
                principal: principal.clone(),
                previous_boundary_arn: boundary("pipeline-boundary").arn,
                changed_to: analysed.boundary.as_ref().and_then(|b| b.now.clone()),
            },
            original_document: analysed.document.clone(),
            quarantined_document: Some(kept(&boundary("pipeline-boundary").document)),
            edits: Vec::new(),
            omitted_changes: 0,
            findings: Vec::new(),
            omitted_grants: 0,
            principal_ids: Vec::new(),
        },
        Target::TrustPolicy { .. } => panic!("a trust policy change is never quarantined"),
    };
    QuarantineRecord::Applied(Box::new(applied))
}

/// The applied quarantine of a record that must be applied.
pub fn applied_mut(quarantine: &mut QuarantineRecord) -> &mut AppliedQuarantine {
    match quarantine {
        QuarantineRecord::Applied(applied) => applied,
        other => panic!("expected an applied quarantine, got {other:?}"),
    }
}

/// The Quarantine step's record when a newer change already took the restricted grant away.
pub fn not_needed() -> QuarantineRecord {
    QuarantineRecord::NotNeeded {
        reason: "the policy no longer grants a restricted action".into(),
    }
}

/// The administrator's decision as the approval step returns it: at 09:47:12 from Firefox,
/// with a comment.
pub fn decision(decision: Decision) -> DecisionRecord {
    DecisionRecord {
        decision,
        decided_at: Some("2026-11-21T09:47:12Z".into()),
        source_ip: Some("198.51.100.77".into()),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into(),
        ),
        comment: Some("needed for the bucket migration, OPS-1234".into()),
        // A stand-in for the approval API's MAC (what the email shows does not depend on it).
        proof: Some("c3RhbmQtaW4gZm9yIHRoZSBkZWNpc2lvbiBrZXkncyBNQUM=".into()),
    }
}

/// Someone's edit after the quarantine: a document that is neither the original nor the
/// quarantine.
const EDITED_SINCE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;

/// The Restore step's record for an approved quarantine, as `incident::restore` decides it:
/// restored while the quarantine is still in force, skipped when `changed_since`.
pub fn restore_of(quarantine: &QuarantineRecord, changed_since: bool) -> RestoreRecord {
    restore_plan_of(quarantine, changed_since).record
}

/// The plan behind `restore_of`: also what the approval page says approving would do.
pub fn restore_plan_of(quarantine: &QuarantineRecord, changed_since: bool) -> RestorePlan {
    let QuarantineRecord::Applied(applied) = quarantine else {
        panic!("only an applied quarantine is restored: {quarantine:?}");
    };
    match &applied.action {
        QuarantineAction::NewDefaultVersion {
            policy_arn,
            offending_version_id,
            quarantine_version_id,
            ..
        } => restore_managed(&ManagedRestoreNow {
            policy_arn: policy_arn.clone(),
            offending_version_id: offending_version_id.clone(),
            quarantine_version_id: quarantine_version_id.clone(),
            original: text_of(&applied.original_document),
            quarantined: quarantined_text(applied),
            default_version_id: Some(if changed_since {
                "v3".into()
            } else {
                quarantine_version_id.clone()
            }),
            quarantine_document: Some(quarantined_text(applied)),
            offending_document: Some(text_of(&applied.original_document)),
        }),
        QuarantineAction::InlineRewritten {
            principal,
            policy_name,
        }
        | QuarantineAction::InlineDeleted {
            principal,
            policy_name,
        } => restore_inline(&InlineRestoreNow {
            principal: principal.clone(),
            policy_name: policy_name.clone(),
            original: text_of(&applied.original_document),
            quarantined: applied.quarantined_document.as_ref().map(text_of),
            current: if changed_since {
                Some(EDITED_SINCE.into())
            } else {
                applied.quarantined_document.as_ref().map(text_of)
            },
            principal_exists: true,
            other_documents: Vec::new(),
        }),
        QuarantineAction::Detached {
            principal,
            policy_arn,
        } => restore_attachment(&AttachmentRestoreNow {
            principal: principal.clone(),
            policy_arn: policy_arn.clone(),
            original: text_of(&applied.original_document),
            attached: false,
            current: Some(if changed_since {
                EDITED_SINCE.into()
            } else {
                text_of(&applied.original_document)
            }),
        }),
        QuarantineAction::RemovedFromGroup { user, group } => {
            restore_membership(&MembershipRestoreNow {
                user: user.clone(),
                group: group.clone(),
                original: text_of(&applied.original_document),
                user_exists: true,
                current: Some(if changed_since {
                    EDITED_SINCE.into()
                } else {
                    text_of(&applied.original_document)
                }),
                member: false,
            })
        }
        QuarantineAction::BoundaryPutBack {
            principal,
            previous_boundary_arn,
            changed_to,
        } => restore_boundary(&BoundaryRestoreNow {
            principal: principal.clone(),
            put_back: previous_boundary_arn.clone(),
            changed_to: changed_to.clone(),
            original: text_of(&applied.original_document),
            exists: true,
            current: Some(if changed_since {
                "arn:aws:iam::123456789012:policy/someone-elses-boundary".into()
            } else {
                previous_boundary_arn.clone()
            }),
            changed_to_document: Some(text_of(&applied.original_document)),
        }),
    }
}

/// The state as the state machine passes it: JSON, read back into an `OutcomeState`.
pub fn state(json: Value) -> OutcomeState {
    serde_json::from_value(json).expect("the state deserializes")
}

/// The state at `outcome` for a restricted assessment, along the workflow's path to it.
pub fn state_at(outcome: Outcome, assessment: &Assessment) -> OutcomeState {
    let quarantine = quarantine_of(assessment);
    match outcome {
        Outcome::Quarantined => state(json!({"incident": assessment, "quarantine": quarantine})),
        Outcome::Restored => state(json!({
            "incident": assessment,
            "approval": decision(Decision::Approve),
            "restore": restore_of(&quarantine, false),
            "quarantine": quarantine,
        })),
        Outcome::RestoreSkipped => state(json!({
            "incident": assessment,
            "approval": decision(Decision::Approve),
            "restore": restore_of(&quarantine, true),
            "quarantine": quarantine,
        })),
        Outcome::TargetGone => state(json!({
            "incident": assessment,
            "approval": decision(Decision::Approve),
            "restore": {"status": "gone", "detail": "policy arn:aws:iam::123456789012:policy/ReportsReadOnly no longer exists: nothing to restore"},
            "quarantine": quarantine,
        })),
        Outcome::ApprovalSuperseded => state(json!({
            "incident": assessment,
            "quarantine": quarantine,
            "error": {"Error": "Superseded", "Cause": "3f1c0a9e5b7d2c41-20261121T094500Z-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"},
        })),
        Outcome::Kept => state(json!({
            "incident": assessment,
            "quarantine": quarantine,
            "approval": decision(Decision::Deny),
        })),
        Outcome::TimedOut => state(json!({
            "incident": assessment,
            "quarantine": quarantine,
            "error": {"Error": "States.Timeout", "Cause": "The task timed out."},
        })),
        Outcome::Clean => state(json!({"incident": clean_counterpart(assessment)})),
        Outcome::Superseded => state(json!({
            "incident": assessment,
            "quarantine": not_needed(),
        })),
        Outcome::Reported => state(json!({"incident": reported_counterpart(assessment)})),
        Outcome::Failed => state(json!({
            "incident": assessment,
            "error": failed_error(),
        })),
        Outcome::TrustReported => panic!("a trust policy change has a state of its own"),
        Outcome::Alerted | Outcome::Exempted => {
            panic!("an alerted or exempted change has a state of its own (rules_outcomes.rs)")
        }
    }
}

/// iam-sentinel's approval-api role: one of its own roles (OWN_ROLE_NAMES).
pub const OWN_ROLE_NAME: &str = "iam-sentinel-approval-api";

/// The same restricted change, made to one of iam-sentinel's own roles (for an inline policy or
/// an attachment; a managed policy keeps its target, as none is ever one of them): reported,
/// never quarantined.
pub fn reported_counterpart(assessment: &Assessment) -> Assessment {
    let mut analysed = assessment.analysed().expect("an analysed change").clone();
    if let Target::InlinePolicy { principal, .. } | Target::Attachment { principal, .. } =
        &mut analysed.change.target
    {
        *principal = Principal {
            kind: PrincipalKind::Role,
            name: OWN_ROLE_NAME.into(),
        };
    }
    let reported_because = incident::OwnRoles::parse(OWN_ROLE_NAME)
        .protects(&analysed.change)
        .unwrap_or_else(|| "a managed policy is never one of iam-sentinel's own roles".into());
    Assessment {
        verdict: Verdict::Reported(incident::ReportedGrant {
            analysed,
            reported_because,
        }),
        ..assessment.clone()
    }
}

/// The same change, deployed with a restricted list it does not touch; or, when it grants
/// everything (AdministratorAccess), a read-only document instead.
pub fn clean_counterpart(assessment: &Assessment) -> Assessment {
    let seen = assessment.analysed().expect("an analysed change");
    let change = seen.change.clone();
    let mut clean = analysed(
        change.clone(),
        &text_of(&seen.document),
        None,
        "kms:ScheduleKeyDeletion",
    );
    if !is_clean(&clean) {
        let read_only = read_fixture("policies", "read-only-reports-bucket.json");
        clean = analysed(change, &read_only, None, RESTRICTED);
    }
    assert!(is_clean(&clean), "{clean:?}");
    clean
}

/// A Lambda error as Step Functions catches it (`ResultPath: "$.error"`).
pub fn failed_error() -> Value {
    json!({
        "Error": "PolicyConflict",
        "Cause": "{\"errorMessage\":\"my-bad-policy-aws-5-mins has a newer default version (v3) than the one analysed (v1)\",\"errorType\":\"PolicyConflict\"}",
    })
}

/// The error Analyse's Catch records when the input is not an event.
pub fn analyse_failed_error() -> Value {
    json!({
        "Error": "InvalidInput",
        "Cause": "{\"errorMessage\":\"the event is not an EventBridge event: missing field `detail`\",\"errorType\":\"InvalidInput\"}",
    })
}

// ---------------------------------------------------------------------------------------------
// Texts
// ---------------------------------------------------------------------------------------------

/// An email as its reader sees it: the subject, then the body.
pub fn email_text(email: &Notification) -> String {
    format!("Subject: {}\n\n{}", email.subject, email.body)
}

/// The text of a body section, from its title line to the next blank line.
pub fn section<'b>(body: &'b str, title: &str) -> &'b str {
    let start = body
        .find(&format!("\n{title}\n"))
        .unwrap_or_else(|| panic!("no {title} section in:\n{body}"))
        + title.len()
        + 2;
    let rest = &body[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// A name of IAM's maximum length (128 characters), made of the characters IAM allows.
pub fn very_long_name() -> String {
    let name: String = "data-platform.s3_lifecycle+cleanup=staging,eu@team-"
        .repeat(3)
        .chars()
        .take(128)
        .collect();
    assert_eq!(name.len(), 128);
    name
}

/// Restricted assessments of a managed policy, an inline policy and an attachment, each with a
/// policy name of 128 characters: (case, assessment, name).
pub fn assessments_with_very_long_names() -> Vec<(&'static str, Assessment, String)> {
    let name = very_long_name();

    let mut managed = fixture("create-policy.json");
    managed["detail"]["requestParameters"]["policyName"] = json!(name);
    managed["detail"]["responseElements"]["policy"]["arn"] =
        json!(format!("arn:aws:iam::123456789012:policy/{name}"));

    let mut inline = fixture("put-role-policy.json");
    inline["detail"]["requestParameters"]["policyName"] = json!(name);
    inline["detail"]["requestParameters"]["roleName"] = json!("r".repeat(64));

    let mut attachment = fixture("attach-role-policy.json");
    attachment["detail"]["requestParameters"]["policyArn"] = json!(format!(
        "arn:aws:iam::123456789012:policy/teams/platform/{name}"
    ));

    let administrator_access = read_fixture("policies", "administrator-access.json");
    [
        ("managed policy", managed),
        ("inline policy of a 64-character role", inline),
        ("attachment", attachment),
    ]
    .into_iter()
    .map(|(case, event)| {
        let change = change(&event);
        let assessment = match change.document.clone() {
            Some(document) => analysed(change, &document, None, RESTRICTED),
            None => analysed(change, &administrator_access, Some("v1"), RESTRICTED),
        };
        (case, assessment, name.clone())
    })
    .collect()
}
