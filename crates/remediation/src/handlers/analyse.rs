//! Analyse: what did the change grant? Reads the document from the event, or from IAM when the
//! event does not carry it (attachments, SetDefaultPolicyVersion).

use incident::{Incident, PolicyChange, Reading, Target, Verdict, read_event};
use policy_engine::{Catalog, Policy, RestrictedActions, analyse, decode};
use serde_json::Value;

use crate::error::{StepError, invalid_input};
use crate::iam::IamPolicies;

pub struct AnalyseDeps {
    pub iam: IamPolicies,
    pub restricted: RestrictedActions,
    /// The policy-writer role: its own changes never start an incident.
    pub own_role_arn: String,
    pub notify_on_clean: bool,
}

pub async fn handle(event: Value, deps: &AnalyseDeps) -> Result<Incident, StepError> {
    let reading = read_event(&event, &deps.own_role_arn).map_err(invalid_input)?;
    let incident = |event_name: String, id: String| Incident {
        id,
        event_name,
        verdict: Verdict::Ignored,
        notify: false,
        ignored_reason: None,
        change: None,
        restricted_actions: deps.restricted.to_string(),
        document: None,
        version_id: None,
        findings: Vec::new(),
    };
    let event_id = || {
        event
            .pointer("/detail/eventID")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let change = match reading {
        Reading::Ignored { event_name, reason } => {
            tracing::info!(%event_name, %reason, "ignored");
            return Ok(Incident {
                ignored_reason: Some(reason),
                ..incident(event_name, event_id())
            });
        }
        Reading::Change(change) => *change,
    };
    let base = incident(change.event_name.clone(), change.event_id.clone());
    let Some((document, version_id)) = document_of(&change, &deps.iam).await? else {
        let reason = "the policy no longer exists, so it grants nothing".to_owned();
        tracing::info!(event = %change.event_name, %reason, "ignored");
        return Ok(Incident {
            ignored_reason: Some(reason),
            change: Some(change),
            ..base
        });
    };
    let json = decode(&document).map_err(|e| invalid_input(format!("the changed policy: {e}")))?;
    let policy =
        Policy::parse(&json).map_err(|e| invalid_input(format!("the changed policy: {e}")))?;
    let analysis = analyse(&policy, &deps.restricted, Catalog::embedded());
    let verdict = if analysis.grants_restricted() {
        Verdict::Restricted
    } else {
        Verdict::Clean
    };
    tracing::info!(event = %change.event_name, ?verdict, findings = analysis.findings.len(), "analysed");
    Ok(Incident {
        verdict,
        notify: verdict == Verdict::Restricted || deps.notify_on_clean,
        change: Some(change),
        document: Some(json.into_owned()),
        version_id,
        findings: analysis.findings,
        ..base
    })
}

/// The document the change put in force, and its version for managed policies. None when the
/// policy (or version) no longer exists.
async fn document_of(
    change: &PolicyChange,
    iam: &IamPolicies,
) -> Result<Option<(String, Option<String>)>, StepError> {
    if let Some(document) = &change.document {
        return Ok(Some((document.clone(), change.version_id.clone())));
    }
    match (&change.target, &change.version_id) {
        (Target::ManagedPolicy { policy_arn }, Some(version_id)) => {
            let document = iam.version_document(policy_arn, version_id).await?;
            Ok(document.map(|d| (d, Some(version_id.clone()))))
        }
        (Target::ManagedPolicy { policy_arn } | Target::Attachment { policy_arn, .. }, _) => {
            let version = iam.default_version(policy_arn).await?;
            Ok(version.map(|(id, d)| (d, Some(id))))
        }
        (Target::InlinePolicy { .. }, _) => Err(invalid_input(format!(
            "the {} event carries no policy document",
            change.event_name
        ))),
    }
}
