//! The scene of the attacks: the attacker (mallory) and what she wants, the incidents the
//! deployment is working on, everything IAM holds (to show it unchanged), and the operators'
//! alerts.

use aws_sdk_iam::types::PolicyScopeType;
use incident::{
    AppliedQuarantine, Assessment, DocumentRef, Principal, PrincipalKind, QuarantineAction,
    QuarantineRecord,
};
use remediation::handlers::approval_api::handle_event;
use serde_json::{Value, json};

use crate::approval::stack::{Answer, api_event};
use crate::support::*;

/// The attacker's own IAM user.
pub const MALLORY: &str = "mallory";
/// A customer managed copy of AdministratorAccess (moto has no AWS managed policies).
pub const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::123456789012:policy/AdministratorAccess";
/// Mallory's inline policy, which grants s3:GetObject only.
pub const NOTES: &str = "mallory-notes";
/// Mallory's managed policy: v1 once granted everything, v2 (the default) s3:GetObject only.
pub const TOOLS: &str = "arn:aws:iam::123456789012:policy/mallory-tools";

pub fn administrator_access() -> String {
    policy("administrator-access.json")
}

/// What IAM holds before the attack: mallory with her two harmless policies, AdministratorAccess
/// (not hers), and the data-pipeline role that does hold AdministratorAccess.
pub async fn attackers_ground(moto: &Moto) {
    let iam = moto.iam_client();
    let mallory = principal(PrincipalKind::User, MALLORY);
    create_principal(&iam, &mallory).await;
    put_inline_policy(&iam, &mallory, NOTES, CLEAN_DOCUMENT).await;
    create_managed_policy(&iam, "AdministratorAccess", &administrator_access()).await;
    create_managed_policy(&iam, "mallory-tools", &administrator_access()).await;
    iam.create_policy_version()
        .policy_arn(TOOLS)
        .policy_document(CLEAN_DOCUMENT)
        .set_as_default(true)
        .send()
        .await
        .expect("CreatePolicyVersion");
    let pipeline = principal(PrincipalKind::Role, "data-pipeline");
    create_principal(&iam, &pipeline).await;
    attach_policy(&iam, &pipeline, ADMINISTRATOR_ACCESS).await;
}

/// The three kinds of quarantine a restore undoes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Re-attach: AdministratorAccess to mallory.
    Detached,
    /// Put back an "original": mallory's notes granting everything.
    InlineRewritten,
    /// Roll back to the offending version: mallory-tools v1, which grants everything.
    NewDefaultVersion,
}

pub const KINDS: [Kind; 3] = [
    Kind::Detached,
    Kind::InlineRewritten,
    Kind::NewDefaultVersion,
];

/// A made-up quarantine record whose restore would give mallory everything.
pub fn forged_record(kind: Kind) -> QuarantineRecord {
    let mallory = principal(PrincipalKind::User, MALLORY);
    let (action, quarantined_document) = match kind {
        Kind::Detached => (
            QuarantineAction::Detached {
                principal: mallory,
                policy_arn: ADMINISTRATOR_ACCESS.into(),
            },
            None,
        ),
        Kind::InlineRewritten => (
            QuarantineAction::InlineRewritten {
                principal: mallory,
                policy_name: NOTES.into(),
            },
            Some(DocumentRef::of(CLEAN_DOCUMENT)),
        ),
        Kind::NewDefaultVersion => (
            QuarantineAction::NewDefaultVersion {
                policy_arn: TOOLS.into(),
                offending_version_id: "v1".into(),
                quarantine_version_id: "v2".into(),
                deleted_version: None,
                attached_to: None,
            },
            Some(DocumentRef::of(CLEAN_DOCUMENT)),
        ),
    };
    QuarantineRecord::Applied(Box::new(AppliedQuarantine {
        action,
        original_document: DocumentRef::of(&administrator_access()),
        quarantined_document,
        edits: Vec::new(),
        omitted_changes: 0,
        omitted_grants: 0,
        findings: Vec::new(),
        principal_ids: Vec::new(),
    }))
}

/// A made-up restricted assessment whose quarantine would take AdministratorAccess away from
/// the data-pipeline role (the work stops; the operators scramble).
pub fn forged_incident() -> Assessment {
    let mut event = event("attach-role-policy.json");
    event["detail"]["requestParameters"]["policyArn"] = json!(ADMINISTRATOR_ACCESS);
    assessment_with(change_of(&event), administrator_access())
}

/// Everything an attacker would put in a call to restore-policy: the execution, and the
/// records the function used to take from its caller, with an approval "proof".
pub fn forged_restore_payload(execution_arn: &str, kind: Kind) -> Value {
    json!({
        "executionArn": execution_arn,
        "incident": forged_incident(),
        "quarantine": forged_record(kind),
        "approval": {
            "decision": "approve",
            "decidedAt": "2026-11-21T09:47:12.123456789Z",
            "proof": "c2VlLCBJIGFwcHJvdmVkIGl0IG15c2VsZiwgdHJ1c3QgbWU="
        },
        "restore": {"status": "restored", "detail": "nothing to see"}
    })
}

/// Everything an attacker would put in a call to quarantine-policy.
pub fn forged_quarantine_payload(execution_arn: &str) -> Value {
    json!({"executionArn": execution_arn, "incident": forged_incident()})
}

/// The deployment, its workflow running, and mallory's ground in its IAM.
pub async fn deployment() -> Workflow {
    let workflow = Workflow::start(deployed_definition()).await;
    attackers_ground(&workflow.moto).await;
    workflow
}

/// An execution of this state machine that never was.
pub fn made_up_execution(name: &str) -> String {
    format!(
        "{}:{name}",
        STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")
    )
}

/// A running execution of the attacker's own state machine, in its own state called `step`
/// (Quarantine or Restore), entered with her forged records.
pub async fn attackers_execution(workflow: &Workflow, step: &str) -> String {
    let sfn = workflow.moto.sfn();
    let definition = json!({
        "StartAt": "Route",
        "States": {
            "Route": {"Type": "Choice", "Choices": [
                {"Variable": "$.step", "StringEquals": "Quarantine", "Next": "Quarantine"}
            ], "Default": "Restore"},
            "Quarantine": {"Type": "Wait", "Seconds": 3600, "End": true},
            "Restore": {"Type": "Wait", "Seconds": 3600, "End": true}
        }
    });
    let machine = sfn
        .create_state_machine()
        .name(format!("mallory-{}", step.to_lowercase()))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/mallory-machine")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let mut input = forged_restore_payload("", Kind::Detached);
    input["step"] = json!(step);
    let execution = sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(format!("mallory-{}", step.to_lowercase()))
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    for _ in 0..100 {
        if workflow
            .states_entered(&execution)
            .await
            .iter()
            .any(|s| s == step)
        {
            return execution;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the attacker's execution never entered {step}");
}

/// One incident the deployment is working on: a managed policy of its own, quarantined, its
/// approval requested.
pub struct Incident {
    pub execution_arn: String,
    pub policy_arn: String,
    pub id: String,
    pub key: String,
    /// The approval email's text.
    pub email: String,
}

/// The walkthrough's CreatePolicy, of a policy called `name`, running in the whole workflow
/// until it waits in RequestApproval (its email sent).
pub async fn incident_waiting_for_approval(workflow: &Workflow, name: &str) -> Incident {
    incident_attached_and_waiting_for_approval(workflow, name, &[]).await
}

/// The same, the policy attached to `attached` (created here) before the event is delivered.
pub async fn incident_attached_and_waiting_for_approval(
    workflow: &Workflow,
    name: &str,
    attached: &[Principal],
) -> Incident {
    let original = event("create-policy.json");
    let document = document_of(&original);
    let iam = workflow.moto.iam_client();
    let policy_arn = create_managed_policy(&iam, name, &document).await;
    for principal in attached {
        create_principal(&iam, principal).await;
        attach_policy(&iam, principal, &policy_arn).await;
    }
    let text = original
        .to_string()
        .replace("my-bad-policy-aws-5-mins", name)
        .replace(
            "47e675e7-a06b-499a-961b-2284a99aba5a",
            &format!("event-{name}"),
        );
    let execution_arn = workflow
        .start_execution(name, &serde_json::from_str(&text).unwrap())
        .await;
    let needle = format!("{API_URL}/approvals/{name}?key=");
    let email = workflow.email_containing(&needle).await;
    let key = email.body.split(&needle).nth(1).unwrap();
    let key = key.split_whitespace().next().unwrap().to_owned();
    Incident {
        execution_arn,
        policy_arn,
        id: name.to_owned(),
        key,
        email: email.body,
    }
}

impl Incident {
    /// The administrator's decision on the approval page: `approve.json` or `deny.json`.
    pub async fn decide_on_the_page(&self, workflow: &Workflow, fixture: &str) -> Answer {
        let event = api_event(fixture, &self.id, &self.key);
        Answer::from(handle_event(event, &workflow.api()).await)
    }

    /// The default version of the incident's policy, and its document.
    pub async fn policy_now(&self, workflow: &Workflow) -> (String, String) {
        workflow
            .moto
            .iam()
            .default_version(&self.policy_arn)
            .await
            .unwrap()
            .expect("the policy exists")
    }
}

/// An incident the administrator denied: the execution has ended, the quarantine stays.
pub async fn denied_incident(workflow: &Workflow, name: &str) -> Incident {
    let incident = incident_waiting_for_approval(workflow, name).await;
    let page = incident.decide_on_the_page(workflow, "deny.json").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let ended = workflow.ended(&incident.execution_arn).await;
    assert_eq!(ended.status().as_str(), "SUCCEEDED");
    incident
}

/// No grant is recorded approved by the execution `execution_arn`: the sweep would leave a
/// forged approval's grant alone.
pub async fn assert_no_grant_approved(workflow: &Workflow, execution_arn: &str) {
    let grants = workflow.moto.decisions().grants().await.unwrap();
    let name = execution_arn.rsplit(':').next().unwrap();
    assert!(
        grants.values().all(|g| g.incident != name),
        "a grant was recorded for {name}: {grants:?}"
    );
}

/// Every alert names the function, the execution it was given and why it was refused.
pub fn assert_alerted(alerts: &[String], function: &str, execution_arn: &str, reason: &str) {
    assert!(!alerts.is_empty(), "the operators got no alert");
    for alert in alerts {
        for expected in [
            format!("iam-sentinel ALERT: {function} refused a call"),
            format!("Function: {function}\n"),
            format!("Execution given: {execution_arn}\n"),
            "Why it was refused: refused: ".to_owned(),
            reason.to_owned(),
        ] {
            assert!(alert.contains(&expected), "missing {expected:?}:\n{alert}");
        }
    }
}

/// Everything IAM holds that a writer could change: each user's, role's and group's attached
/// and inline policies, each customer managed policy's versions and which is the default.
pub async fn iam_now(moto: &Moto) -> Vec<String> {
    let iam = moto.iam_client();
    let mut lines = Vec::new();
    let users = iam.list_users().send().await.unwrap();
    let roles = iam.list_roles().send().await.unwrap();
    let groups = iam.list_groups().send().await.unwrap();
    let principals = (users
        .users()
        .iter()
        .map(|u| principal(PrincipalKind::User, u.user_name())))
    .chain(
        roles
            .roles()
            .iter()
            .map(|r| principal(PrincipalKind::Role, r.role_name())),
    )
    .chain(
        groups
            .groups()
            .iter()
            .map(|g| principal(PrincipalKind::Group, g.group_name())),
    );
    for who in principals {
        for arn in attached_policies(&iam, &who).await {
            lines.push(format!("{who} has {arn} attached"));
        }
        for name in moto.iam().inline_policy_names(&who).await.unwrap() {
            let document = inline_policy(&iam, &who, &name).await;
            lines.push(format!("{who} has inline {name}: {}", json(&document)));
        }
    }
    let policies = iam
        .list_policies()
        .scope(PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    for policy in policies.policies() {
        let arn = policy.arn().unwrap();
        let versions = iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
        for version in versions.versions() {
            let id = version.version_id().unwrap();
            let document = moto.iam().version_document(arn, id).await.unwrap().unwrap();
            let default = if version.is_default_version() {
                " (default)"
            } else {
                ""
            };
            lines.push(format!("{arn} {id}{default}: {}", json(&document)));
        }
    }
    lines.sort();
    lines
}
