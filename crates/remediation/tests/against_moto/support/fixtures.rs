//! Fixtures and the domain values the specifications start from.

use incident::{
    Analysed, Assessment, DocumentRef, EventScope, OwnRoles, PolicyChange, Principal,
    PrincipalKind, Reading, Verdict, WriterSessions, read_event,
};
use policy_engine::{Catalog, Policy, RestrictedActions, Rules, analyse};
use serde_json::Value;

/// The two sessions iam-sentinel writes policies in (WRITER_SESSION_ARNS): its policy-writer
/// role, as assumed by quarantine-policy and restore-policy.
pub const WRITER_SESSIONS: &str = "arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-quarantine-policy,arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/iam-sentinel-restore-policy";
/// The stack's own roles (OWN_ROLE_NAMES): reported, never quarantined.
pub const OWN_ROLE_NAMES: &str = "iam-sentinel-policy-writer,iam-sentinel-analyse-change,iam-sentinel-publish-outcome,iam-sentinel-request-approval,iam-sentinel-approval-api,iam-sentinel-state-machine,iam-sentinel-start-incident";
pub const RESTRICTED: &str = "s3:DeleteBucket,s3:DeleteObject";

/// A policy that grants `s3:GetObject` only.
pub const CLEAN_DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

/// The account the fixtures' events were recorded in, and moto's (ACCOUNT_ID).
pub const ACCOUNT: &str = "123456789012";

/// The events the deployment acts on: its account's, not its writers' (analyse-change's).
pub fn scope() -> EventScope {
    EventScope::new(
        ACCOUNT,
        WriterSessions::parse(WRITER_SESSIONS).expect("two session ARNs"),
    )
    .expect("a 12-digit account")
}

pub fn own_roles() -> OwnRoles {
    OwnRoles::parse(OWN_ROLE_NAMES)
}

pub fn restricted() -> RestrictedActions {
    RestrictedActions::parse(RESTRICTED, Catalog::embedded()).expect("valid restricted actions")
}

/// The rules as a deployment with an empty rules file and the RestrictedActions parameter has
/// them: one enforced rule.
pub fn rules() -> Rules {
    Rules::parse("version = 1\n", Catalog::embedded())
        .expect("an empty rules file")
        .with_parameter(Some(&restricted()))
}

/// A policy document from tests/fixtures/policies, as written.
pub fn policy(name: &str) -> String {
    let path = format!(
        "{}/../../tests/fixtures/policies/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fixture from tests/fixtures/events.
pub fn event(name: &str) -> Value {
    let path = format!(
        "{}/../../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixtures are JSON")
}

pub fn change_of(event: &Value) -> PolicyChange {
    match read_event(event, &scope()).expect("a valid event") {
        Reading::Change(change) => *change,
        Reading::Ignored { reason, .. } => panic!("fixture is ignored: {reason}"),
    }
}

pub fn document_of(event: &Value) -> String {
    let text = event
        .pointer("/detail/requestParameters/policyDocument")
        .and_then(Value::as_str)
        .expect("a document");
    policy_engine::decode(text)
        .expect("a decodable document")
        .into_owned()
}

pub fn principal(kind: PrincipalKind, name: &str) -> Principal {
    Principal {
        kind,
        name: name.to_owned(),
    }
}

/// JSON text of a document, normalised for comparison.
pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

/// The assessment Analyse makes of a change whose event carries the document.
pub fn assessment_for(change: PolicyChange) -> Assessment {
    let document = change
        .document
        .clone()
        .expect("the event carries the document (else use assessment_with)");
    assessment_with(change, document)
}

/// The assessment Analyse makes of a change, with the document it read: restricted, notified.
/// (Analyse also keeps the document in the store: `Moto::keep` does that where a test needs it.)
pub fn assessment_with(change: PolicyChange, document: String) -> Assessment {
    let document = policy_engine::decode(&document)
        .expect("a decodable document")
        .into_owned();
    let policy = Policy::parse(&document).expect("a valid document");
    let findings = analyse(&policy, &restricted(), Catalog::embedded()).findings;
    assert!(
        !findings.is_empty(),
        "the document grants nothing restricted"
    );
    Assessment {
        id: change.event_id.clone(),
        event_name: change.event_name.clone(),
        verdict: Verdict::Restricted(Analysed {
            notify: true,
            document: DocumentRef::of(&document),
            omitted_grants: 0,
            boundary: None,
            rules: Default::default(),
            version_id: change.version_id.clone(),
            findings,
            group_grants: Vec::new(),
            change,
        }),
    }
}

/// The analysis of an assessment that must be restricted.
pub fn restricted_analysis(assessment: &Assessment) -> &Analysed {
    match &assessment.verdict {
        Verdict::Restricted(analysed) => analysed,
        other => panic!("expected a restricted verdict, got {other:?}"),
    }
}

/// The analysis of an assessment that must be clean.
pub fn clean_analysis(assessment: &Assessment) -> &Analysed {
    match &assessment.verdict {
        Verdict::Clean(analysed) => analysed,
        other => panic!("expected a clean verdict, got {other:?}"),
    }
}

/// Whether a document, as IAM now holds it, grants any of the tests' restricted actions.
pub fn grants_restricted(document: &str) -> bool {
    let policy = Policy::parse(document).expect("IAM holds a valid document");
    analyse(&policy, &restricted(), Catalog::embedded()).grants_restricted()
}
