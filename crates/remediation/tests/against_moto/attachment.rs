//! Attachments of managed policies to users, roles and groups: the document is read from IAM,
//! the quarantine detaches, the restore re-attaches.
//!
//! moto (without MOTO_IAM_LOAD_MANAGED_POLICIES) has no AWS managed policies, so the role case
//! (`attach-role-policy.json`, AWS managed AdministratorAccess) is played with a customer managed
//! copy of AdministratorAccess, the event's ARN pointed at it; and the event as it is tests that a
//! policy IAM does not have is ignored as "no longer exists".

use incident::{
    Assessment, Principal, PrincipalId, PrincipalKind, QuarantineAction, QuarantineRecord,
    RestoreStatus, Verdict,
};
use remediation::handlers::analyse::handle as analyse_change;
use remediation::handlers::quarantine::quarantine;
use remediation::handlers::restore::restore;
use serde_json::{Value, json};

use crate::support::*;

/// One attachment fixture, and the customer managed policy moto holds for it.
struct Case {
    fixture: &'static str,
    kind: PrincipalKind,
    name: &'static str,
    policy_name: &'static str,
    policy_path: &'static str,
    /// The policy's document: it grants a restricted action.
    document: fn() -> String,
    /// The ARN moto gives the policy (the event's, except for the AWS managed one).
    policy_arn: &'static str,
}

/// `team-s3-access` v2 as `create-policy-version-default.json` wrote it: `s3:*` on the team bucket.
fn team_s3_access() -> String {
    document_of(&event("create-policy-version-default.json"))
}

fn administrator_access() -> String {
    policy_fixture("administrator-access.json")
}

fn bucket_deletion_requires_mfa() -> String {
    policy_fixture("bucket-deletion-requires-mfa.json")
}

fn policy_fixture(name: &str) -> String {
    let path = format!(
        "{}/../../tests/fixtures/policies/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const USER: Case = Case {
    fixture: "attach-user-policy.json",
    kind: PrincipalKind::User,
    name: "carol",
    policy_name: "team-s3-access",
    policy_path: "/",
    document: team_s3_access,
    policy_arn: "arn:aws:iam::123456789012:policy/team-s3-access",
};
/// The AWS managed AdministratorAccess, played by a customer managed copy.
const ROLE: Case = Case {
    fixture: "attach-role-policy.json",
    kind: PrincipalKind::Role,
    name: "data-pipeline",
    policy_name: "AdministratorAccess",
    policy_path: "/",
    document: administrator_access,
    policy_arn: "arn:aws:iam::123456789012:policy/AdministratorAccess",
};
const GROUP: Case = Case {
    fixture: "attach-group-policy.json",
    kind: PrincipalKind::Group,
    name: "admins",
    policy_name: "ops-break-glass",
    policy_path: "/teams/",
    document: bucket_deletion_requires_mfa,
    policy_arn: "arn:aws:iam::123456789012:policy/teams/ops-break-glass",
};

impl Case {
    fn principal(&self) -> Principal {
        principal(self.kind, self.name)
    }

    /// The event, its policy ARN pointed at the policy moto holds.
    fn event(&self) -> Value {
        let mut event = event(self.fixture);
        event["detail"]["requestParameters"]["policyArn"] = Value::from(self.policy_arn);
        event
    }

    /// The principal, and the policy with `document`, exist in IAM, not (yet) attached.
    async fn exists_with(&self, moto: &Moto, document: &str) {
        let iam = moto.iam_client();
        create_principal(&iam, &self.principal()).await;
        let created = iam
            .create_policy()
            .policy_name(self.policy_name)
            .path(self.policy_path)
            .policy_document(document)
            .send()
            .await
            .expect("CreatePolicy");
        assert_eq!(
            created.policy().and_then(|p| p.arn()),
            Some(self.policy_arn)
        );
    }

    /// The state right after the event: the restricted policy is attached.
    async fn attached(&self, moto: &Moto) {
        self.exists_with(moto, &(self.document)()).await;
        attach_policy(&moto.iam_client(), &self.principal(), self.policy_arn).await;
    }

    async fn attached_now(&self, moto: &Moto) -> Vec<String> {
        attached_policies(&moto.iam_client(), &self.principal()).await
    }

    /// The assessment Analyse makes of the event: restricted, with the document read from IAM.
    fn incident(&self) -> Assessment {
        assessment_with(change_of(&self.event()), (self.document)())
    }
}

async fn assert_analyse_reads_the_document_from_iam(case: Case) {
    // GIVEN the policy is attached (the event carries no document)
    let moto = Moto::start();
    case.attached(&moto).await;
    // WHEN the event is analysed
    let output = analyse_change(case.event(), &analyse_deps(moto.iam(), moto.documents()))
        .await
        .unwrap();
    // THEN the policy's default version was read from IAM and found restricted
    let analysed = restricted_analysis(&output.incident);
    assert!(analysed.notify);
    assert_eq!(analysed.version_id.as_deref(), Some("v1"));
    assert_eq!(
        stored(&moto, &analysed.document).await,
        json(&(case.document)())
    );
    assert!(!analysed.findings.is_empty());
}

async fn assert_quarantine_detaches(case: Case) {
    // GIVEN the restricted policy is attached
    let moto = Moto::start();
    case.attached(&moto).await;
    let incident = case.incident();
    // WHEN the incident is quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN the policy is detached, and only that
    let applied = applied(&record);
    assert_eq!(
        applied.action,
        QuarantineAction::Detached {
            principal: case.principal(),
            policy_arn: case.policy_arn.into()
        }
    );
    assert!(case.attached_now(&moto).await.is_empty());
    // AND the record keeps the policy's document and what it grants
    assert_eq!(
        stored(&moto, &applied.original_document).await,
        json(&(case.document)())
    );
    assert!(!applied.findings.is_empty());
    // AND the policy itself is unchanged (other principals may use it)
    let (version, document) = moto
        .iam()
        .default_version(case.policy_arn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (version.as_str(), json(&document)),
        ("v1", json(&(case.document)()))
    );
}

async fn assert_approval_reattaches(case: Case) {
    // GIVEN a quarantined (detached) attachment
    let moto = Moto::start();
    case.attached(&moto).await;
    let incident = case.incident();
    let record = quarantined(&moto, &incident).await;
    assert!(case.attached_now(&moto).await.is_empty());
    // WHEN approval restores it
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN the policy is attached again
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    assert_eq!(case.attached_now(&moto).await, [case.policy_arn]);
}

#[tokio::test]
async fn analysing_a_policy_attached_to_a_user_reads_its_document_from_iam() {
    assert_analyse_reads_the_document_from_iam(USER).await;
}

#[tokio::test]
async fn analysing_a_policy_attached_to_a_role_reads_its_document_from_iam() {
    assert_analyse_reads_the_document_from_iam(ROLE).await;
}

#[tokio::test]
async fn analysing_a_policy_with_a_path_attached_to_a_group_reads_its_document_from_iam() {
    assert_analyse_reads_the_document_from_iam(GROUP).await;
}

#[tokio::test]
async fn quarantine_detaches_a_restricted_policy_from_a_user() {
    assert_quarantine_detaches(USER).await;
}

#[tokio::test]
async fn quarantine_detaches_a_restricted_policy_from_a_role() {
    assert_quarantine_detaches(ROLE).await;
}

#[tokio::test]
async fn quarantine_detaches_a_restricted_policy_with_a_path_from_a_group() {
    assert_quarantine_detaches(GROUP).await;
}

#[tokio::test]
async fn approval_reattaches_the_policy_to_the_user() {
    assert_approval_reattaches(USER).await;
}

#[tokio::test]
async fn approval_reattaches_the_policy_to_the_role() {
    assert_approval_reattaches(ROLE).await;
}

#[tokio::test]
async fn approval_reattaches_the_policy_to_the_group() {
    assert_approval_reattaches(GROUP).await;
}

#[tokio::test]
async fn a_policy_detached_after_the_event_needs_no_quarantine() {
    // GIVEN team-s3-access was attached to carol and detached again before the quarantine step
    let moto = Moto::start();
    USER.attached(&moto).await;
    moto.iam()
        .detach(&USER.principal(), USER.policy_arn)
        .await
        .unwrap();
    let incident = USER.incident();
    // WHEN the incident reaches the quarantine step
    let record = quarantined(&moto, &incident).await;
    // THEN there is nothing to do, and the record says why
    let reason = not_needed_reason(&record);
    assert!(reason.contains("no longer attached"), "{reason}");
    assert!(USER.attached_now(&moto).await.is_empty());
}

#[tokio::test]
async fn a_detachment_whose_answer_was_lost_is_reported_applied_by_the_retry() {
    // GIVEN carol's team-s3-access detached by the quarantine step, whose answer was then lost
    // (Lambda's timeout, say): IAM shows the policy detached, as after somebody else's change
    let moto = Moto::start();
    USER.attached(&moto).await;
    let first = quarantined(&moto, &USER.incident()).await;
    assert!(USER.attached_now(&moto).await.is_empty());
    // WHEN Step Functions retries the step
    let retried = quarantined(&moto, &USER.incident()).await;
    // THEN the retry reports the detachment it recorded before making it: the quarantine is
    // applied (an approval can put it back), not superseded; IAM is left as it is
    assert_eq!(retried, first);
    assert!(USER.attached_now(&moto).await.is_empty());
    // AND another incident on the same attachment, which recorded nothing, is superseded
    let other = quarantine("another-incident", USER.incident(), &quarantine_deps(&moto))
        .await
        .unwrap();
    let reason = not_needed_reason(&other);
    assert!(reason.contains("no longer attached"), "{reason}");
}

#[tokio::test]
async fn an_attached_policy_with_a_clean_document_is_found_clean() {
    // GIVEN carol has team-s3-access attached, and it grants s3:GetObject only
    let moto = Moto::start();
    USER.exists_with(&moto, CLEAN_DOCUMENT).await;
    attach_policy(&moto.iam_client(), &USER.principal(), USER.policy_arn).await;
    // WHEN the attachment is analysed
    let output = analyse_change(USER.event(), &analyse_deps(moto.iam(), moto.documents()))
        .await
        .unwrap();
    // THEN it is clean, and nobody is told (notify on clean changes is off)
    let analysed = clean_analysis(&output.incident);
    assert!(!analysed.notify);
    assert!(analysed.findings.is_empty());
    assert_eq!(
        stored(&moto, &analysed.document).await,
        json(CLEAN_DOCUMENT)
    );
}

#[tokio::test]
async fn an_attached_aws_managed_policy_iam_does_not_have_is_ignored_as_no_longer_existing() {
    // GIVEN moto holds no AWS managed policies, so AdministratorAccess does not exist in it
    let moto = Moto::start();
    create_principal(&moto.iam_client(), &ROLE.principal()).await;
    // WHEN the unmodified attach-role-policy.json event is analysed
    let output = analyse_change(
        event("attach-role-policy.json"),
        &analyse_deps(moto.iam(), moto.documents()),
    )
    .await
    .unwrap();
    // THEN it is ignored, because the policy no longer exists (and the change is still named)
    let Verdict::Ignored {
        ignored_reason,
        change,
    } = &output.incident.verdict
    else {
        panic!("expected an ignored verdict, got {:?}", output.incident);
    };
    assert!(
        ignored_reason.contains("no longer exists"),
        "{ignored_reason}"
    );
    assert!(change.is_some());
}

#[tokio::test]
async fn a_just_attached_policy_iam_does_not_show_yet_is_not_yet_consistent() {
    // GIVEN the same attachment, made just now: IAM may not show the policy yet
    let moto = Moto::start();
    create_principal(&moto.iam_client(), &ROLE.principal()).await;
    let mut fresh = event("attach-role-policy.json");
    fresh["detail"]["eventTime"] = json!(
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    // WHEN it is analysed
    let error = analyse_change(fresh, &analyse_deps(moto.iam(), moto.documents()))
        .await
        .expect_err("IAM may still be catching up");
    // THEN the step waits (NotYetConsistent, retried by the state machine), concluding nothing
    assert_eq!(error.error_type(), "NotYetConsistent", "{error}");
}

#[tokio::test]
async fn restore_reports_a_policy_deleted_after_the_quarantine_as_gone() {
    // GIVEN team-s3-access was detached from carol by the quarantine, then deleted
    let moto = Moto::start();
    USER.attached(&moto).await;
    let incident = USER.incident();
    let record = quarantined(&moto, &incident).await;
    moto.iam_client()
        .delete_policy()
        .policy_arn(USER.policy_arn)
        .send()
        .await
        .expect("DeletePolicy");
    // WHEN approval tries to restore
    let restored = restore(record, &restore_deps(&moto)).await;
    // THEN the deletion stands, and the record says so (as for the other two kinds of target)
    let restored = restored
        .unwrap_or_else(|e| panic!("{}: {e}", e.error_type()))
        .record;
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
}

#[tokio::test]
async fn restore_does_not_reattach_a_policy_whose_document_changed_after_the_quarantine() {
    // GIVEN team-s3-access was detached from carol, then given a new default version that
    // grants s3:DeleteObject everywhere (not the document that was approved)
    let moto = Moto::start();
    USER.attached(&moto).await;
    let incident = USER.incident();
    let record = quarantined(&moto, &incident).await;
    let newer = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"*"}]}"#;
    moto.iam_client()
        .create_policy_version()
        .policy_arn(USER.policy_arn)
        .policy_document(newer)
        .set_as_default(true)
        .send()
        .await
        .expect("CreatePolicyVersion");
    // WHEN approval (given for the original document) tries to restore
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN the policy stays detached: re-attaching would put a document nobody approved in force
    assert_eq!(restored.status, RestoreStatus::Skipped, "{restored:?}");
    assert!(USER.attached_now(&moto).await.is_empty());
}

/// AdministratorAccess detached from data-pipeline, and, while the approval waited, ten other
/// policies attached to the role: as many as the account summary says a role may have
/// (AttachedPoliciesPerRoleQuota; moto, unlike IAM, attaches any number).
async fn detached_and_the_place_taken(moto: &Moto) -> QuarantineRecord {
    ROLE.attached(moto).await;
    let record = quarantined(moto, &ROLE.incident()).await;
    let iam = moto.iam_client();
    for n in 0..10 {
        let arn = create_managed_policy(&iam, &format!("read-only-{n}"), &team_s3_access()).await;
        attach_policy(&iam, &ROLE.principal(), &arn).await;
    }
    record
}

#[tokio::test]
async fn the_page_says_a_policy_stays_detached_once_the_roles_managed_policies_fill_its_quota() {
    // GIVEN the place the detachment freed was taken while the approval waited
    let moto = Moto::start();
    let record = detached_and_the_place_taken(&moto).await;
    // WHEN the approval page asks what approving would do THEN nothing, and why: IAM would
    // refuse the attachment
    let forecast = forecast_skipped(&moto, record).await;
    assert!(
        forecast.approve_would().contains(
            "role data-pipeline has 10 managed policies attached now, and the account's quota \
             is 10"
        ),
        "{}",
        forecast.approve_would()
    );
}

#[tokio::test]
async fn restore_leaves_the_count_to_iam() {
    // GIVEN the place the detachment freed was taken, by the account summary's count; IAM (here
    // moto) takes another all the same, as it would under a quota raised beyond what the
    // summary says
    let moto = Moto::start();
    let record = detached_and_the_place_taken(&moto).await;
    // WHEN approval restores
    let restored = restored(&moto, &record).await;
    // THEN the Restore step attaches: only IAM's refusal (`refused_over_quota`) skips it
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    assert!(
        (ROLE.attached_now(&moto).await).contains(&ROLE.policy_arn.to_owned()),
        "not re-attached"
    );
}

#[tokio::test]
async fn a_reattachment_retried_after_it_worked_reports_restored() {
    // GIVEN the re-attachment worked, but its answer never reached Step Functions
    let moto = Moto::start();
    ROLE.attached(&moto).await;
    let incident = ROLE.incident();
    let record = quarantined(&moto, &incident).await;
    restored(&moto, &record).await;
    // WHEN the step is retried
    let retried = restored(&moto, &record).await;
    // THEN it reports the policy re-attached, attached once
    assert_eq!(retried.status, RestoreStatus::Restored, "{retried:?}");
    assert_eq!(ROLE.attached_now(&moto).await, [ROLE.policy_arn]);
}

#[tokio::test]
async fn approval_does_not_reattach_to_a_role_deleted_and_created_again_under_its_name() {
    // GIVEN AdministratorAccess detached from data-pipeline, the role's id in the record
    let moto = Moto::start();
    ROLE.attached(&moto).await;
    let iam = moto.iam_client();
    let first_id = principal_id(&iam, &ROLE.principal()).await;
    let record = quarantined(&moto, &ROLE.incident()).await;
    assert_eq!(
        applied(&record).principal_ids,
        [PrincipalId {
            principal: ROLE.principal(),
            id: Some(first_id.clone())
        }]
    );
    // AND the role deleted, and another created under its name while the approval waited
    delete_principal(&iam, &ROLE.principal()).await;
    create_principal(&iam, &ROLE.principal()).await;
    let second_id = principal_id(&iam, &ROLE.principal()).await;
    assert_ne!(first_id, second_id);
    // WHEN approval restores it
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN the new role gets nothing: the approval was for the role quarantined
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
    assert_eq!(
        restored.detail,
        format!(
            "role data-pipeline was deleted and created again after the quarantine (IAM id \
             {first_id} then, {second_id} now): the approval was for the earlier one"
        )
    );
    assert!(ROLE.attached_now(&moto).await.is_empty());
}

#[tokio::test]
async fn a_retry_after_the_role_was_created_again_names_the_role_it_detached_from() {
    // GIVEN AdministratorAccess detached from data-pipeline, the step's answer lost
    let moto = Moto::start();
    ROLE.attached(&moto).await;
    let iam = moto.iam_client();
    let first_id = principal_id(&iam, &ROLE.principal()).await;
    quarantined(&moto, &ROLE.incident()).await;
    // AND the role deleted, and another created under its name, before the step was retried
    delete_principal(&iam, &ROLE.principal()).await;
    create_principal(&iam, &ROLE.principal()).await;
    // WHEN the step is retried
    let retried = quarantined(&moto, &ROLE.incident()).await;
    // THEN it reports its detachment with the id of the role it detached from
    assert_eq!(
        applied(&retried).principal_ids,
        [PrincipalId {
            principal: ROLE.principal(),
            id: Some(first_id)
        }]
    );
    // AND approval gives the new role nothing
    let restored = restore(retried, &restore_deps(&moto)).await.unwrap().record;
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
    assert!(ROLE.attached_now(&moto).await.is_empty());
}
