//! Inline policies of users, roles and groups: quarantine by rewriting in place (or deleting,
//! when no rewrite fits the principal's quota), restore the original, and leave alone what
//! changed in between.

use std::collections::BTreeSet;

use incident::quarantine::Intended;
use incident::{
    Assessment, DocumentRef, Principal, PrincipalId, PrincipalKind, QuarantineAction,
    QuarantineRecord, RestoreStatus, Target,
};
use policy_engine::{Catalog, Edit, Policy, PolicyKind, RestrictedActions, plan};
use remediation::handlers::analyse::handle as analyse_change;
use remediation::handlers::restore::restore;
use remediation::iam::IamPolicies;

use serde_json::json;

use crate::support::*;

/// One inline-policy fixture: the event and the principal and policy it names.
struct Case {
    fixture: &'static str,
    kind: PrincipalKind,
    name: &'static str,
    policy_name: &'static str,
}

const USER: Case = Case {
    fixture: "put-user-policy.json",
    kind: PrincipalKind::User,
    name: "carol",
    policy_name: "carol-power-user",
};
const ROLE: Case = Case {
    fixture: "put-role-policy.json",
    kind: PrincipalKind::Role,
    name: "data-pipeline",
    policy_name: "pipeline-s3-access",
};
const GROUP: Case = Case {
    fixture: "put-group-policy.json",
    kind: PrincipalKind::Group,
    name: "admins",
    policy_name: "admins-break-glass",
};

impl Case {
    fn principal(&self) -> Principal {
        principal(self.kind, self.name)
    }

    fn original(&self) -> String {
        document_of(&event(self.fixture))
    }

    /// The assessment Analyse makes of the event, its document kept in the store as Analyse
    /// keeps it.
    async fn incident(&self, moto: &Moto) -> Assessment {
        moto.keep(&self.original()).await;
        assessment_for(change_of(&event(self.fixture)))
    }

    /// The principal exists and holds the event's document, as it did right after the change.
    async fn in_iam(&self, moto: &Moto) {
        let iam = moto.iam_client();
        create_principal(&iam, &self.principal()).await;
        put_inline_policy(&iam, &self.principal(), self.policy_name, &self.original()).await;
    }

    async fn current(&self, moto: &Moto) -> String {
        inline_policy(&moto.iam_client(), &self.principal(), self.policy_name).await
    }
}

/// Every known S3 and EC2 action the document grants (resources and conditions aside).
fn granted_s3_and_ec2(document: &str) -> BTreeSet<&'static str> {
    let wide = RestrictedActions::parse("s3:*,ec2:*", Catalog::embedded()).unwrap();
    policy_engine::analysis::granted_known_actions(
        &Policy::parse(document).unwrap(),
        &wide,
        Catalog::embedded(),
    )
}

/// Quarantines the case's policy and checks everything the quarantine promises.
async fn assert_quarantine_rewrites_in_place(case: Case) {
    // GIVEN the principal holds the event's inline policy
    let moto = Moto::start();
    case.in_iam(&moto).await;
    // WHEN the incident is quarantined
    let record = quarantined(&moto, &case.incident(&moto).await).await;
    // THEN the quarantine is applied as an in-place rewrite of that inline policy
    let applied = applied(&record);
    assert_eq!(
        applied.action,
        QuarantineAction::InlineRewritten {
            principal: case.principal(),
            policy_name: case.policy_name.into()
        }
    );
    // AND the document now in IAM grants nothing restricted, and is the one recorded
    let now = case.current(&moto).await;
    assert!(!grants_restricted(&now), "still restricted: {now}");
    assert_eq!(
        json(&now),
        stored(&moto, applied.quarantined_document.as_ref().unwrap()).await
    );
    // AND every other S3/EC2 action the original granted is still granted
    let original = case.original();
    let expected: BTreeSet<_> = granted_s3_and_ec2(&original)
        .into_iter()
        .filter(|a| !["s3:DeleteBucket", "s3:DeleteObject"].contains(a))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(granted_s3_and_ec2(&now), expected);
    // AND the record keeps the original document
    assert_eq!(
        stored(&moto, &applied.original_document).await,
        json(&original)
    );
}

/// Quarantines, then restores, the case's policy: the original must be back exactly.
async fn assert_approval_restores_the_original(case: Case) {
    // GIVEN a quarantined inline policy
    let moto = Moto::start();
    case.in_iam(&moto).await;
    let incident = case.incident(&moto).await;
    let record = quarantined(&moto, &incident).await;
    applied(&record);
    // WHEN approval restores it
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN the original document is back, exactly
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    assert_eq!(json(&case.current(&moto).await), json(&case.original()));
}

#[tokio::test]
async fn quarantine_rewrites_a_users_inline_policy_in_place_without_the_restricted_grants() {
    assert_quarantine_rewrites_in_place(USER).await;
}

#[tokio::test]
async fn quarantine_rewrites_a_roles_inline_policy_in_place_without_the_restricted_grants() {
    assert_quarantine_rewrites_in_place(ROLE).await;
}

#[tokio::test]
async fn quarantine_rewrites_a_groups_inline_policy_in_place_without_the_restricted_grants() {
    assert_quarantine_rewrites_in_place(GROUP).await;
}

#[tokio::test]
async fn approval_puts_a_users_original_inline_policy_back_exactly() {
    assert_approval_restores_the_original(USER).await;
}

#[tokio::test]
async fn approval_puts_a_roles_original_inline_policy_back_exactly() {
    assert_approval_restores_the_original(ROLE).await;
}

#[tokio::test]
async fn approval_puts_a_groups_original_inline_policy_back_exactly() {
    assert_approval_restores_the_original(GROUP).await;
}

#[tokio::test]
async fn an_event_whose_document_cannot_be_read_is_analysed_from_the_policy_iam_holds() {
    let not_json = || {
        let mut event = event("put-role-policy.json");
        event["detail"]["requestParameters"]["policyDocument"] =
            json!("Version: 2012-10-17\nStatement: []\n");
        event
    };
    let cases = [
        (
            "the document as a JSON object, not the text the caller sent",
            USER,
            event("malformed/put-user-policy-document-object.json"),
            "requestParameters.policyDocument is not text",
        ),
        (
            "a document that is not JSON",
            ROLE,
            not_json(),
            "requestParameters.policyDocument is not a policy",
        ),
    ];
    for (case, target, event, noted) in cases {
        // GIVEN the principal holds its inline policy, and the event's document cannot be read
        let moto = Moto::start();
        target.in_iam(&moto).await;
        let deps = analyse_deps(moto.iam(), moto.documents());
        // WHEN the event is analysed
        let output = analyse_change(event, &deps).await.unwrap();
        // THEN the grant is found in the document IAM holds, and the event's is named unreadable
        let analysed = restricted_analysis(&output.incident);
        assert_eq!(
            stored(&moto, &analysed.document).await,
            json(&target.original()),
            "{case}"
        );
        let unreadable = &analysed.change.unreadable;
        assert!(
            unreadable.iter().any(|u| u.starts_with(noted)),
            "{case}: {unreadable:?}"
        );
    }
}

#[tokio::test]
async fn a_deleted_inline_policy_needs_no_quarantine() {
    // GIVEN carol exists but her inline policy was deleted after the event
    let moto = Moto::start();
    create_principal(&moto.iam_client(), &USER.principal()).await;
    // WHEN the incident reaches the quarantine step
    let record = quarantined(&moto, &USER.incident(&moto).await).await;
    // THEN there is nothing to do, and the record says why (a not_needed record has no action)
    let reason = not_needed_reason(&record);
    assert!(reason.contains("no longer exists"), "{reason}");
}

#[tokio::test]
async fn an_inline_policy_of_a_deleted_principal_needs_no_quarantine() {
    // GIVEN the role data-pipeline itself is gone
    let moto = Moto::start();
    // WHEN the incident reaches the quarantine step
    let record = quarantined(&moto, &ROLE.incident(&moto).await).await;
    // THEN there is nothing to do
    let reason = not_needed_reason(&record);
    assert!(reason.contains("no longer exists"), "{reason}");
}

#[tokio::test]
async fn an_inline_policy_made_clean_after_the_event_is_left_untouched() {
    // GIVEN the role's inline policy was replaced by a clean document after the event
    let moto = Moto::start();
    ROLE.in_iam(&moto).await;
    put_inline_policy(
        &moto.iam_client(),
        &ROLE.principal(),
        ROLE.policy_name,
        CLEAN_DOCUMENT,
    )
    .await;
    // WHEN the incident reaches the quarantine step
    let record = quarantined(&moto, &ROLE.incident(&moto).await).await;
    // THEN nothing is written: the newer change stands, and the record says why
    let reason = not_needed_reason(&record);
    assert!(reason.contains("grants no restricted action"), "{reason}");
    assert_eq!(json(&ROLE.current(&moto).await), json(CLEAN_DOCUMENT));
}

#[tokio::test]
async fn restore_leaves_an_inline_policy_changed_after_the_quarantine_alone() {
    // GIVEN a quarantined group policy that someone rewrote afterwards
    let moto = Moto::start();
    GROUP.in_iam(&moto).await;
    let incident = GROUP.incident(&moto).await;
    let record = quarantined(&moto, &incident).await;
    applied(&record);
    put_inline_policy(
        &moto.iam_client(),
        &GROUP.principal(),
        GROUP.policy_name,
        CLEAN_DOCUMENT,
    )
    .await;
    // WHEN approval tries to restore
    let restored = restore(record, &restore_deps(&moto)).await.unwrap().record;
    // THEN the newer change stays, and the record explains
    assert_eq!(restored.status, RestoreStatus::Skipped);
    assert!(
        restored.detail.contains("changed after the quarantine"),
        "{}",
        restored.detail
    );
    assert_eq!(json(&GROUP.current(&moto).await), json(CLEAN_DOCUMENT));
}

/// A clean statement whose compact JSON is exactly `size` characters (padding in the resource).
fn filler_of_size(size: usize) -> String {
    let with = |pad: usize| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"ReadReports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-reports/{}"}}]}}"#,
            "r".repeat(pad)
        )
    };
    let bare = Policy::parse(&with(0)).unwrap().size();
    assert!(bare <= size, "a filler cannot be smaller than {bare}");
    let filler = with(size - bare);
    assert_eq!(Policy::parse(&filler).unwrap().size(), size);
    filler
}

#[tokio::test]
async fn a_wildcard_is_dropped_rather_than_expanded_when_the_users_inline_quota_is_nearly_used() {
    // GIVEN user carol with a policy holding the wildcard s3:Delete* (its expansion is larger
    // than the wildcard) and another inline policy using up the rest of the 2,048 characters
    let moto = Moto::start();
    let iam = moto.iam_client();
    let carol = principal(PrincipalKind::User, "carol");
    let wildcard = Policy::parse(&document_of(&event("put-role-policy.json")))
        .unwrap()
        .to_json();
    let budget = Policy::parse(&wildcard).unwrap().size();
    let limit = PolicyKind::UserInline.size_limit();
    let unconstrained = plan(
        &Policy::parse(&wildcard).unwrap(),
        &restricted(),
        Catalog::embedded(),
        limit,
    )
    .unwrap();
    assert!(
        unconstrained
            .edits
            .iter()
            .any(|e| matches!(e, Edit::ExpandedWildcard { .. }))
    );
    assert!(
        unconstrained.size > budget,
        "the expansion must not fit in what is left"
    );
    let filler = filler_of_size(limit - budget);
    create_principal(&iam, &carol).await;
    put_inline_policy(&iam, &carol, "staging-cleanup", &wildcard).await;
    put_inline_policy(&iam, &carol, "read-reports", &filler).await;
    let mut change = change_of(&event("put-user-policy.json"));
    change.target = Target::InlinePolicy {
        principal: carol.clone(),
        policy_name: "staging-cleanup".into(),
    };
    change.document = Some(wildcard.clone());
    moto.keep(&wildcard).await;
    // WHEN the incident is quarantined
    let record: QuarantineRecord = quarantined(&moto, &assessment_for(change)).await;
    // THEN the wildcard was dropped, not expanded
    let edits = &applied(&record).edits;
    assert!(
        edits.iter().any(
            |e| matches!(e, Edit::DroppedWildcard { wildcard, .. } if wildcard == "s3:Delete*")
        ),
        "{edits:?}"
    );
    assert!(
        !edits
            .iter()
            .any(|e| matches!(e, Edit::ExpandedWildcard { .. })),
        "{edits:?}"
    );
    // AND what was written fits next to the other policy, grants nothing restricted, keeps the rest
    let written = inline_policy(&iam, &carol, "staging-cleanup").await;
    let written_size = Policy::parse(&written).unwrap().size();
    assert!(written_size <= budget, "{written_size} > {budget}");
    assert!(written_size + Policy::parse(&filler).unwrap().size() <= limit);
    assert!(!grants_restricted(&written));
    assert_eq!(
        json(&written)["Statement"][1]["Action"],
        serde_json::json!(["s3:PutObject"])
    );
    // AND the other policy is untouched
    assert_eq!(
        json(&inline_policy(&iam, &carol, "read-reports").await),
        json(&filler)
    );
}

/// Carol holds `staging-cleanup`, which grants s3:DeleteBucket and nothing else, beside another
/// inline policy that uses up the rest of her 2,048 characters: no rewrite fits, not even one
/// granting nothing (larger than a one-statement original).
async fn carol_with_a_full_quota(moto: &Moto) -> (Assessment, String, String) {
    let iam = moto.iam_client();
    let carol = principal(PrincipalKind::User, "carol");
    let cleanup = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
    let filler = filler_of_size(
        PolicyKind::UserInline.size_limit() - Policy::parse(cleanup).unwrap().size(),
    );
    create_principal(&iam, &carol).await;
    put_inline_policy(&iam, &carol, "staging-cleanup", cleanup).await;
    put_inline_policy(&iam, &carol, "read-reports", &filler).await;
    let mut change = change_of(&event("put-user-policy.json"));
    change.target = Target::InlinePolicy {
        principal: carol,
        policy_name: "staging-cleanup".into(),
    };
    change.document = Some(cleanup.into());
    moto.keep(cleanup).await;
    (assessment_for(change), cleanup.into(), filler)
}

async fn user_policy_names(moto: &Moto, user: &str) -> Vec<String> {
    moto.iam_client()
        .list_user_policies()
        .user_name(user)
        .send()
        .await
        .expect("ListUserPolicies")
        .policy_names
}

#[tokio::test]
async fn an_inline_policy_no_rewrite_of_which_fits_the_quota_is_deleted_and_approval_puts_it_back()
{
    // GIVEN carol's restricted inline policy, her quota full
    let moto = Moto::start();
    let (incident, cleanup, filler) = carol_with_a_full_quota(&moto).await;
    // WHEN the incident is quarantined
    let record = quarantined(&moto, &incident).await;
    // THEN the policy is deleted, and the record keeps its original
    let applied = applied(&record);
    assert_eq!(
        applied.action,
        QuarantineAction::InlineDeleted {
            principal: principal(PrincipalKind::User, "carol"),
            policy_name: "staging-cleanup".into()
        }
    );
    assert_eq!(
        stored(&moto, &applied.original_document).await,
        json(&cleanup)
    );
    assert_eq!(user_policy_names(&moto, "carol").await, ["read-reports"]);
    // AND a retry after its answer was lost reports the same deletion, not a supersession
    assert_eq!(quarantined(&moto, &incident).await, record);
    // WHEN approval restores it
    let restored = restored(&moto, &record).await;
    // THEN the original is back exactly, and the other policy untouched
    assert_eq!(restored.status, RestoreStatus::Restored, "{restored:?}");
    let carol = principal(PrincipalKind::User, "carol");
    assert_eq!(
        json(&inline_policy(&moto.iam_client(), &carol, "staging-cleanup").await),
        json(&cleanup)
    );
    assert_eq!(
        json(&inline_policy(&moto.iam_client(), &carol, "read-reports").await),
        json(&filler)
    );
}

#[tokio::test]
async fn a_deleted_inline_policy_is_not_put_back_on_a_user_deleted_since() {
    // GIVEN carol's policy deleted by the quarantine, then carol deleted
    let moto = Moto::start();
    let (incident, _, _) = carol_with_a_full_quota(&moto).await;
    let record = quarantined(&moto, &incident).await;
    let iam = moto.iam_client();
    delete_inline_policy(
        &iam,
        &principal(PrincipalKind::User, "carol"),
        "read-reports",
    )
    .await;
    iam.delete_user()
        .user_name("carol")
        .send()
        .await
        .expect("DeleteUser");
    // WHEN approval tries to restore
    let restored = restored(&moto, &record).await;
    // THEN nothing is written, and the record says why
    assert_eq!(restored.status, RestoreStatus::Gone, "{restored:?}");
    assert!(
        restored.detail.contains("user carol no longer exists"),
        "{}",
        restored.detail
    );
}

#[tokio::test]
async fn an_inline_policy_whose_room_was_used_while_the_approval_waited_is_not_put_back() {
    // GIVEN carol's policy deleted by the quarantine (her quota full)
    let moto = Moto::start();
    let (incident, _, _) = carol_with_a_full_quota(&moto).await;
    let record = quarantined(&moto, &incident).await;
    // AND carol given another inline policy while the approval waited, in the room it left
    let carol = principal(PrincipalKind::User, "carol");
    let more = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    put_inline_policy(&moto.iam_client(), &carol, "more-reports", more).await;
    // WHEN approval restores it
    let restored = restored(&moto, &record).await;
    // THEN nothing is written (IAM would refuse it), and the record says why
    assert_eq!(restored.status, RestoreStatus::Skipped, "{restored:?}");
    assert!(
        restored.detail.starts_with(
            "inline policy staging-cleanup of user carol no longer fits the user's inline-policy \
             quota: its other inline policies leave 3 of 2048 characters now"
        ),
        "{}",
        restored.detail
    );
    let mut names = user_policy_names(&moto, "carol").await;
    names.sort();
    assert_eq!(names, ["more-reports", "read-reports"]);
}

#[tokio::test]
async fn a_put_back_iam_refuses_for_its_size_is_skipped_not_failed() {
    // GIVEN IAM counts otherwise than the plan: the deleted policy is absent, carol exists and
    // has no other inline policy, and IAM refuses the put-back for its size all the same
    let moto = Moto::start();
    let (incident, _, _) = carol_with_a_full_quota(&moto).await;
    let mut record = quarantined(&moto, &incident).await;
    // (its principal's id left out: the ids are not what this is about)
    if let QuarantineRecord::Applied(applied) = &mut record {
        applied.principal_ids.clear();
    }
    let iam = Replay::in_turn(vec![
        answer(404, "text/xml", NO_SUCH_POLICY),
        answer(200, "text/xml", CAROL),
        answer(200, "text/xml", NO_INLINE_POLICIES),
        answer(409, "text/xml", POLICY_SIZE_EXCEEDED),
    ]);
    // WHEN approval restores it
    let deps = restore_deps_with(IamPolicies::new(iam.iam()), moto.documents());
    let restored = restore(record, &deps)
        .await
        .expect("a record, not a failure")
        .record;
    // THEN the restore is skipped, saying why, and the original is kept
    assert_eq!(restored.status, RestoreStatus::Skipped, "{restored:?}");
    assert!(
        restored
            .detail
            .contains("no longer fits the user's inline-policy quota: IAM refused"),
        "{}",
        restored.detail
    );
    let requests = iam.request_bodies();
    assert!(
        requests[3].starts_with("Action=PutUserPolicy&"),
        "{requests:?}"
    );
}

const NO_SUCH_POLICY: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user policy with name staging-cleanup cannot be found.</Message></Error><RequestId>1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b</RequestId></ErrorResponse>"#;
const CAROL: &str = r#"<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetUserResult><User><Path>/</Path><UserName>carol</UserName><UserId>AIDAEXAMPLECAROL0001</UserId><Arn>arn:aws:iam::123456789012:user/carol</Arn><CreateDate>2026-12-01T10:00:00Z</CreateDate></User></GetUserResult><ResponseMetadata><RequestId>2a3b4c5d-6e7f-4819-9a0b-1c2d3e4f5a6b</RequestId></ResponseMetadata></GetUserResponse>"#;
const NO_INLINE_POLICIES: &str = r#"<ListUserPoliciesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUserPoliciesResult><PolicyNames/><IsTruncated>false</IsTruncated></ListUserPoliciesResult><ResponseMetadata><RequestId>3b4c5d6e-7f8a-4920-8b1c-2d3e4f5a6b7c</RequestId></ResponseMetadata></ListUserPoliciesResponse>"#;
const POLICY_SIZE_EXCEEDED: &str = r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>LimitExceeded</Code><Message>Maximum policy size of 2048 bytes exceeded for user carol</Message></Error><RequestId>4c5d6e7f-8a9b-4031-9c2d-3e4f5a6b7c8d</RequestId></ErrorResponse>"#;

#[tokio::test]
async fn a_retry_does_not_take_a_deletion_for_its_own_once_a_later_attempt_rewrote_instead() {
    // GIVEN carol's quota full: an attempt recorded that it would delete staging-cleanup, and
    // IAM throttled its DeleteUserPolicy (the record stays, the policy too)
    let moto = Moto::start();
    let (incident, cleanup, _) = carol_with_a_full_quota(&moto).await;
    let carol = principal(PrincipalKind::User, "carol");
    let target = Target::InlinePolicy {
        principal: carol.clone(),
        policy_name: "staging-cleanup".into(),
    };
    let at = time::OffsetDateTime::now_utc();
    (moto.decisions())
        .record_intent(
            INCIDENT,
            &target,
            &DocumentRef::of(&cleanup),
            Intended::TakeAway,
            &[PrincipalId {
                principal: carol.clone(),
                id: Some(principal_id(&moto.iam_client(), &carol).await),
            }],
            at,
        )
        .await
        .expect("the first attempt's record");
    // AND carol's other policy went, so the next attempt rewrote instead; its answer was lost
    let iam = moto.iam_client();
    delete_inline_policy(
        &iam,
        &principal(PrincipalKind::User, "carol"),
        "read-reports",
    )
    .await;
    let rewritten = quarantined(&moto, &incident).await;
    assert!(
        matches!(
            applied(&rewritten).action,
            QuarantineAction::InlineRewritten { .. }
        ),
        "{rewritten:?}"
    );
    // AND carol then deleted the rewritten policy herself
    delete_inline_policy(
        &iam,
        &principal(PrincipalKind::User, "carol"),
        "staging-cleanup",
    )
    .await;
    // WHEN the step is retried once more
    let retried = quarantined(&moto, &incident).await;
    // THEN the policy's absence is her doing, not a deletion of this step's: nothing for an
    // approval to put back over it
    assert!(
        not_needed_reason(&retried).contains("no longer exists"),
        "{retried:?}"
    );
}

#[tokio::test]
async fn an_inline_quarantine_retried_after_it_worked_keeps_the_original_in_the_record() {
    // GIVEN the rewrite worked, but its answer never reached Step Functions
    let moto = Moto::start();
    USER.in_iam(&moto).await;
    let first = quarantined(&moto, &USER.incident(&moto).await).await;
    // WHEN the step is retried (IAM now holds only the quarantined document)
    let retried = quarantined(&moto, &USER.incident(&moto).await).await;
    // THEN the quarantine stands, with the original from the event, so approval can restore it
    assert_eq!(applied(&retried).action, applied(&first).action);
    assert_eq!(
        stored(&moto, &applied(&retried).original_document).await,
        json(&USER.original())
    );
}

#[tokio::test]
async fn an_inline_restore_retried_after_it_worked_reports_restored() {
    // GIVEN the restore worked, but its answer never reached Step Functions
    let moto = Moto::start();
    USER.in_iam(&moto).await;
    let incident = USER.incident(&moto).await;
    let record = quarantined(&moto, &incident).await;
    restored(&moto, &record).await;
    // WHEN the step is retried
    let retried = restored(&moto, &record).await;
    // THEN it reports the original restored, and the original is what IAM holds
    assert_eq!(retried.status, RestoreStatus::Restored, "{retried:?}");
    assert_eq!(json(&USER.current(&moto).await), json(&USER.original()));
}
