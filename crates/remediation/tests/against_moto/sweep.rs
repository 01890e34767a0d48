//! The account sweep against moto: the whole account read with GetAccountAuthorizationDetails,
//! the baseline reporting only, later sweeps sending one finding per grant nobody approved to
//! the starter's queue (claimed once, however many sweeps run at once), approved grants left
//! alone, the boundary ledger and the summary; under a rules file, alert rules' grants reported
//! and never sent, exempted grants named and never sent.

use std::time::Duration;

use incident::decision_log::{GrantKey, boundary_key};
use incident::membership::group_document;
use incident::sweep::{SweepMode, SweepSummary};
use incident::{OwnRoles, PrincipalKind, Reading, Target, TargetKey, read_event};
use policy_engine::{Catalog, Rules};
use remediation::handlers::sweep::{SweepDeps, SweepRequest, handle};
use remediation::incident_queue::IncidentQueue;
use remediation::principals::group_policies;
use remediation::publisher::{Notifier, Publisher};
use serde_json::Value;
use time::OffsetDateTime;

use crate::support::*;

const DELETES_BUCKETS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Cleanup","Effect":"Allow","Action":["s3:DeleteBucket","s3:ListBucket"],"Resource":"*"}]}"#;
const READS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

struct Sweeping {
    moto: Moto,
    incidents: Queue,
    emails: Queue,
    topic_arn: String,
}

impl Sweeping {
    /// An account with alice's inline grant, the DataPlatform policy attached to bob and the
    /// data-pipeline role (with a permissions boundary), and a clean role.
    async fn start() -> Sweeping {
        let moto = Moto::start();
        let iam = moto.iam_client();
        let alice = principal(PrincipalKind::User, "alice");
        let bob = principal(PrincipalKind::User, "bob");
        let pipeline = principal(PrincipalKind::Role, "data-pipeline");
        let reports = principal(PrincipalKind::Role, "reports");
        for p in [&alice, &bob, &pipeline, &reports] {
            create_principal(&iam, p).await;
        }
        put_inline_policy(&iam, &alice, "alice-s3-cleanup", DELETES_BUCKETS).await;
        put_inline_policy(&iam, &reports, "read-reports", READS).await;
        let data_platform = create_managed_policy(
            &iam,
            "DataPlatform",
            &policy("data-platform-dense-6100.json"),
        )
        .await;
        iam.attach_user_policy()
            .user_name("bob")
            .policy_arn(&data_platform)
            .send()
            .await
            .unwrap();
        iam.attach_role_policy()
            .role_name("data-pipeline")
            .policy_arn(&data_platform)
            .send()
            .await
            .unwrap();
        let boundary = create_managed_policy(&iam, "PipelineBoundary", READS).await;
        iam.put_role_permissions_boundary()
            .role_name("data-pipeline")
            .permissions_boundary(&boundary)
            .send()
            .await
            .unwrap();
        let incidents = create_queue(&moto.sqs(), "incident-queue").await;
        let emails = create_queue(&moto.sqs(), "emails").await;
        let topic_arn = moto
            .sns()
            .create_topic()
            .name("iam-sentinel-notifications")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        moto.sns()
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&emails.arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        Sweeping {
            moto,
            incidents,
            emails,
            topic_arn,
        }
    }

    fn deps(&self, mode: SweepMode) -> SweepDeps {
        self.deps_with(mode, Rules::of_parameter(&restricted()))
    }

    fn deps_with(&self, mode: SweepMode, rules: Rules) -> SweepDeps {
        SweepDeps {
            iam: self.moto.iam_client(),
            decisions: self.moto.decisions(),
            queue: IncidentQueue {
                client: self.moto.sqs(),
                url: self.incidents.url.clone(),
            },
            publisher: Publisher {
                notifier: Notifier {
                    sns: self.moto.sns(),
                    topic_arn: self.topic_arn.clone(),
                },
                events: self.moto.events(),
                event_bus_name: "default".into(),
            },
            rules,
            own_roles: OwnRoles::parse("iam-sentinel-analyse-change"),
            mode,
            claim_lifetime: Duration::from_secs(48 * 3600),
            region: "us-east-1".into(),
        }
    }

    async fn sweep(&self, request_id: &str) -> SweepSummary {
        handle(scheduled(), request_id, &self.deps(SweepMode::Quarantine))
            .await
            .expect("the sweep")
    }

    /// The findings sent to the starter's queue since the last look, as events.
    async fn findings(&self) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let bodies = take(&self.moto.sqs(), &self.incidents).await;
            if bodies.is_empty() {
                return all;
            }
            all.extend(bodies.iter().map(|b| serde_json::from_str(b).unwrap()));
        }
    }

    /// The targets of the findings sent since the last look.
    async fn found_targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = self
            .findings()
            .await
            .iter()
            .map(|event| match read_event(event, &scope()) {
                Ok(Reading::Change(change)) => change.target,
                other => panic!("not a change: {other:?}"),
            })
            .collect();
        targets.sort_by_key(|t| serde_json::to_string(t).unwrap());
        targets
    }
}

fn scheduled() -> SweepRequest {
    SweepRequest {
        sweep: "scheduled".into(),
    }
}

fn alice_inline() -> Target {
    Target::InlinePolicy {
        principal: principal(PrincipalKind::User, "alice"),
        policy_name: "alice-s3-cleanup".into(),
    }
}

fn data_platform() -> Target {
    Target::ManagedPolicy {
        policy_arn: "arn:aws:iam::123456789012:policy/DataPlatform".into(),
    }
}

#[tokio::test]
async fn the_baseline_reports_and_the_next_sweep_sends_one_finding_per_grant() {
    // GIVEN an account with two restricted grants in force (alice's inline policy; DataPlatform,
    // attached to bob and the data-pipeline role) and no sweep before
    let account = Sweeping::start().await;
    // WHEN the first sweep runs
    let baseline = account.sweep("request-1").await;
    // THEN it is the baseline: both found, nothing sent, the summary emailed
    assert!(baseline.baseline);
    assert_eq!(baseline.targets_found, 2, "{baseline:?}");
    assert_eq!(baseline.reported, 2);
    assert_eq!(baseline.incidents_started, 0);
    // (data-pipeline's boundary allows only s3:GetObject: DataPlatform grants it nothing)
    assert_eq!(baseline.principals_with_grants, 2);
    assert_eq!(
        (baseline.examined.users, baseline.examined.roles),
        (2, 2),
        "{baseline:?}"
    );
    assert!(account.findings().await.is_empty());
    let email = receive(&account.moto.sqs(), &account.emails, 5).await;
    assert!(
        email.iter().any(|e| e.contains("is a baseline")),
        "{email:?}"
    );
    let table = account.moto.decisions();
    assert!(table.baseline().await.unwrap().is_some());
    // AND the boundary ledger has every user and role, with data-pipeline's boundary
    let ledger = table
        .item(&boundary_key(PrincipalKind::Role, "data-pipeline"))
        .await
        .unwrap()
        .expect("data-pipeline's ledger item");
    assert_eq!(
        ledger["boundaryArn"],
        "arn:aws:iam::123456789012:policy/PipelineBoundary"
    );
    let alice = table
        .item(&boundary_key(PrincipalKind::User, "alice"))
        .await
        .unwrap()
        .expect("alice's ledger item");
    assert!(!alice.contains_key("boundaryArn"), "no boundary: {alice:?}");
    // WHEN the next sweep runs
    let next = account.sweep("request-2").await;
    // THEN one finding per document target goes to the starter's queue, each claimed
    assert!(!next.baseline);
    assert_eq!(next.incidents_started, 2, "{next:?}");
    assert_eq!(
        account.found_targets().await,
        [alice_inline(), data_platform()]
    );
    let grants = table.grants().await.unwrap();
    assert_eq!(grants.len(), 2, "{grants:?}");
    // AND a third finds both being decided and sends nothing
    let third = account.sweep("request-3").await;
    assert_eq!(third.deciding_left_alone, 2, "{third:?}");
    assert_eq!(third.incidents_started, 0);
    assert!(account.findings().await.is_empty());
}

#[tokio::test]
async fn two_sweeps_at_once_send_each_finding_once() {
    // GIVEN the baseline has run
    let account = Sweeping::start().await;
    account.sweep("baseline").await;
    // WHEN two sweeps run at the same time
    let deps = account.deps(SweepMode::Quarantine);
    let (first, second) = tokio::join!(
        handle(scheduled(), "one", &deps),
        handle(scheduled(), "two", &deps)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    // THEN each grant is claimed by one of them, and sent once
    assert_eq!(first.incidents_started + second.incidents_started, 2);
    assert_eq!(first.deciding_left_alone + second.deciding_left_alone, 2);
    assert_eq!(
        account.found_targets().await,
        [alice_inline(), data_platform()]
    );
}

/// When restore-policy records an approval in these tests: after the principals it is for were
/// created, as it always is. IAM dates them to the second, and an approval of the same second
/// is for a principal they replaced (`GrantRecord::is_for`); moto creates them now.
fn after_the_principals() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(1)
}

#[tokio::test]
async fn an_approved_grant_is_left_alone_and_report_mode_sends_nothing() {
    // GIVEN the baseline has run, and alice's grant was approved (after alice was created)
    let account = Sweeping::start().await;
    account.sweep("baseline").await;
    let table = account.moto.decisions();
    let approved = GrantKey::of(&alice_inline(), DELETES_BUCKETS).unwrap();
    table
        .record_approved(
            &approved,
            &alice_inline(),
            "approved-incident",
            after_the_principals(),
        )
        .await
        .unwrap();
    // WHEN a sweep runs in report mode THEN it reports DataPlatform and sends nothing
    let report = handle(scheduled(), "report", &account.deps(SweepMode::Report))
        .await
        .unwrap();
    assert_eq!(report.approved_left_alone, 1, "{report:?}");
    assert_eq!(report.reported, 1);
    assert!(account.findings().await.is_empty());
    // WHEN a sweep runs in quarantine mode THEN only DataPlatform gets an incident
    let sweep = account.sweep("quarantine").await;
    assert_eq!(sweep.approved_left_alone, 1, "{sweep:?}");
    assert_eq!(account.found_targets().await, [data_platform()]);
}

#[tokio::test]
async fn an_alert_rule_reports_and_an_exemption_is_named_and_nothing_is_sent() {
    // GIVEN the baseline has run, and rules that alert on bucket deletes (alice's grant) and
    // enforce object deletes with bob (DataPlatform's only holder: data-pipeline's boundary
    // leaves it nothing) exempted
    let account = Sweeping::start().await;
    account.sweep("baseline").await;
    let rules = Rules::parse(
        r#"version = 1
[[rule]]
name = "bucket-deletes"
mode = "alert"
actions = ["s3:DeleteBucket"]
[[rule]]
name = "object-deletes"
mode = "enforce"
actions = ["s3:DeleteObject"]
[[exemption]]
name = "bob-data-platform"
reason = "bob runs the data platform's clean-up"
owner = "data-team@example.com"
expires = 2099-12-31
principal = "arn:aws:iam::*:user/bob"
"#,
        Catalog::embedded(),
    )
    .unwrap();
    // WHEN a sweep runs in quarantine mode
    let sweep = handle(
        scheduled(),
        "rules",
        &account.deps_with(SweepMode::Quarantine, rules),
    )
    .await
    .unwrap();
    // THEN nothing is sent to the starter: alice's grant is alerted, bob's exempted
    assert_eq!(sweep.incidents_started, 0, "{sweep:?}");
    assert!(account.findings().await.is_empty());
    assert_eq!((sweep.alerted, sweep.alerts_found), (1, 1), "{sweep:?}");
    // (bob's bucket and object deletes: the exemption names no rule, so it covers both)
    assert_eq!((sweep.grants_exempted, sweep.exemptions_applied), (2, 1));
    assert!(account.moto.decisions().grants().await.unwrap().is_empty());
    // AND the email names both, the exemption with its owner, expiry and reason
    let emails = receive(&account.moto.sqs(), &account.emails, 5).await;
    let email = emails
        .iter()
        .find(|e| e.contains("bob-data-platform"))
        .unwrap_or_else(|| panic!("{emails:?}"));
    for line in [
        "inline policy alice-s3-cleanup of user alice [alert rules: reported]",
        "exemption \"bob-data-platform\" (owner data-team@example.com, until 2099-12-31: bob runs the data platform's clean-up)",
        "2 grants (10 statements) of s3:DeleteBucket, s3:DeleteObject for user \"bob\"",
    ] {
        assert!(email.contains(line), "{line:?} in {email}");
    }
}

fn membership(user: &str) -> Target {
    Target::GroupMembership {
        user: user.into(),
        group: "Admins".into(),
    }
}

#[tokio::test]
async fn a_member_since_the_baseline_is_asked_about_and_its_approval_keyed_as_restore_keys_it() {
    // GIVEN Admins, whose inline policy deletes buckets (approved on the group), and carol in it
    let account = Sweeping::start().await;
    let iam = account.moto.iam_client();
    let admins = principal(PrincipalKind::Group, "Admins");
    create_principal(&iam, &admins).await;
    put_inline_policy(&iam, &admins, "admins-cleanup", DELETES_BUCKETS).await;
    for user in ["carol", "mallory"] {
        create_principal(&iam, &principal(PrincipalKind::User, user)).await;
    }
    add_to_group(&iam, "carol", "Admins").await;
    let table = account.moto.decisions();
    let on_group = Target::InlinePolicy {
        principal: admins.clone(),
        policy_name: "admins-cleanup".into(),
    };
    let approved_at = after_the_principals();
    table
        .record_approved(
            &GrantKey::of(&on_group, DELETES_BUCKETS).unwrap(),
            &on_group,
            "approved-group",
            approved_at,
        )
        .await
        .unwrap();
    // WHEN the baseline runs THEN its marker records carol's membership
    account.sweep("baseline").await;
    let recorded = table.baseline().await.unwrap().expect("the baseline");
    assert_eq!(
        recorded.memberships,
        [TargetKey::of(&membership("carol")).to_string()].into()
    );
    // WHEN mallory joins Admins (the event never arrives) and a sweep runs
    add_to_group(&iam, "mallory", "Admins").await;
    let sweep = account.sweep("after").await;
    // THEN her membership gets an incident; carol, a member at the baseline, and the group's
    // approved policy are left alone
    assert_eq!(
        account.found_targets().await,
        [membership("mallory"), alice_inline(), data_platform()]
    );
    assert_eq!(sweep.approved_left_alone, 2, "{sweep:?}");
    // WHEN restore-policy records her membership approved (the group's policies read from IAM,
    // as restore-policy reads them)
    let policies = group_policies(&account.moto.iam(), "Admins")
        .await
        .unwrap()
        .unwrap();
    let approved =
        GrantKey::of(&membership("mallory"), &group_document("Admins", &policies)).unwrap();
    table
        .record_approved(
            &approved,
            &membership("mallory"),
            "approved-mallory",
            approved_at,
        )
        .await
        .unwrap();
    // THEN the next sweep leaves it alone: the sweep keys it as restore-policy does
    let next = account.sweep("next").await;
    assert_eq!(next.approved_left_alone, 3, "{next:?}");
    assert!(account.found_targets().await.is_empty());
}
