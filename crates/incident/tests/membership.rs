//! A user added to a group: which restricted patterns the group's policies grant the user, its
//! other policies' Denies and its boundary applied, whatever it could do before
//! (`incident::membership::added_grants`, on the engine's effective access), and the group's
//! policies as one document (what a quarantine keeps and a restore compares with).

mod support;

use incident::membership::{added_grants, group_document};
use incident::same_document;
use policy_engine::Catalog;
use policy_engine::access::{PolicySource, PrincipalKind, PrincipalRef, SourcedPolicy};
use support::{RESTRICTED, admins_group_policies, carol_with, read_fixture, restricted};

/// An inline policy of carol's own (`through_group` None) or of another group of hers.
fn policy(name: &str, fixture: &str, through_group: Option<&str>) -> SourcedPolicy {
    let owner = match through_group {
        Some(group) => PrincipalRef {
            kind: PrincipalKind::Group,
            name: group.into(),
        },
        None => PrincipalRef {
            kind: PrincipalKind::User,
            name: "carol".into(),
        },
    };
    SourcedPolicy {
        source: PolicySource::Inline {
            owner,
            policy_name: name.into(),
        },
        through_group: through_group.map(str::to_owned),
        document: read_fixture("policies", fixture).into(),
    }
}

/// A group's inline policy, of `group`.
fn group_policy(group: &str, name: &str, fixture: &str) -> Vec<SourcedPolicy> {
    vec![policy(name, fixture, Some(group))]
}

#[test]
fn what_a_membership_grants_the_user_whatever_she_could_do_before() {
    let admin = admins_group_policies();
    let read_only = vec![policy(
        "reports",
        "read-only-reports-bucket.json",
        Some("admins"),
    )];
    let pass_any = group_policy("admins", "pass", "pass-any-role.json");
    // (case, carol's policies without admins, admins' policies, restricted, patterns added)
    type Case<'a> = (
        &'a str,
        Vec<SourcedPolicy>,
        &'a [SourcedPolicy],
        &'a str,
        &'a [&'a str],
    );
    let cases: [Case; 9] = [
        (
            "carol has nothing; admins grants everything",
            vec![],
            &admin,
            RESTRICTED,
            &["s3:DeleteBucket", "s3:DeleteObject"],
        ),
        (
            "carol can delete buckets and objects already: asked all the same (what she held \
             is judged on its own path, and may be taken away)",
            vec![policy("s3-admin", "administrator-access.json", None)],
            &admin,
            RESTRICTED,
            &["s3:DeleteBucket", "s3:DeleteObject"],
        ),
        (
            "another group of carol's denies bucket deletion: only object deletion is added",
            vec![policy(
                "guardrail",
                "deny-only-bucket-deletion.json",
                Some("contractors"),
            )],
            &admin,
            RESTRICTED,
            &["s3:DeleteObject"],
        ),
        (
            "admins grants nothing restricted",
            vec![],
            &read_only,
            RESTRICTED,
            &[],
        ),
        (
            "IAM lists carol in admins already: its policies count as the group's, not hers",
            admin.clone(),
            &admin,
            RESTRICTED,
            &["s3:DeleteBucket", "s3:DeleteObject"],
        ),
        (
            "review F1: carol reads IAM (iam:Get*, iam:List*); admins grants every IAM write",
            vec![policy("reads", "iam-read-only.json", None)],
            &admin,
            "iam:*",
            &["iam:*"],
        ),
        (
            "review F1: carol passes one role; the group passes any role",
            vec![policy("one", "pass-role-app-lambda-only.json", None)],
            &pass_any,
            "iam:PassRole",
            &["iam:PassRole"],
        ),
        (
            "review F1: carol's own (or an in-flight, not yet quarantined) policy allows \
             everything under a condition that never holds",
            vec![policy(
                "never",
                "everything-if-username-is-nobody.json",
                None,
            )],
            &admin,
            "iam:PassRole,iam:AttachRolePolicy,s3:DeleteBucket",
            &["iam:PassRole", "iam:AttachRolePolicy", "s3:DeleteBucket"],
        ),
        (
            "carol's own policy denies every bucket deletion: the group cannot grant it",
            vec![policy(
                "no-bucket-deletion",
                "deny-only-bucket-deletion.json",
                None,
            )],
            &admin,
            RESTRICTED,
            &["s3:DeleteObject"],
        ),
    ];
    for (case, identity, group, restricted_list, expected) in cases {
        // GIVEN carol's policies and the group's
        // WHEN the membership is assessed
        let (added, omitted) = added_grants(
            &carol_with(identity),
            "admins",
            group,
            &restricted(restricted_list),
            Catalog::embedded(),
        )
        .expect("the documents parse");
        // THEN every pattern the group grants her is added, each through the group's
        // statements only
        let patterns: Vec<&str> = added.iter().map(|g| g.pattern.as_str()).collect();
        assert_eq!(patterns, *expected, "{case}");
        assert_eq!(omitted, 0, "{case}");
        for grant in &added {
            assert!(
                grant
                    .via
                    .iter()
                    .all(|via| via.contains("group \"admins\"")
                        || via.contains("AdministratorAccess")),
                "{case}: {grant:?}"
            );
        }
    }
}

#[test]
fn the_groups_document_does_not_depend_on_the_order_iam_lists_its_policies_in() {
    // GIVEN a group's policies, listed in one order and in the other
    let mut policies = admins_group_policies();
    policies.push(policy(
        "reports",
        "read-only-reports-bucket.json",
        Some("admins"),
    ));
    let mut reversed = policies.clone();
    reversed.reverse();
    // WHEN each is written as the group's document
    // THEN the two are the same document, and a changed policy makes another
    assert_eq!(
        group_document("admins", &policies),
        group_document("admins", &reversed)
    );
    let mut changed = policies.clone();
    changed[1].document = read_fixture("policies", "s3-delete-wildcard.json").into();
    assert!(!same_document(
        &group_document("admins", &policies),
        &group_document("admins", &changed)
    ));
}

#[test]
fn the_exemptions_a_membership_meets_are_named_active_or_expired() {
    use incident::path_exemptions;
    use policy_engine::Rules;
    use policy_engine::rules::{Context, Mode};
    // GIVEN s3 deletions enforced, carol exempted from DeleteBucket (active) and from
    // DeleteObject (expired), and the membership of admins (AdministratorAccess)
    let rules = Rules::parse(
        r#"version = 1
        [[rule]]
        name = "destructive"
        mode = "enforce"
        actions = ["s3:DeleteBucket", "s3:DeleteObject"]
        [[exemption]]
        name = "carol-buckets"
        reason = "she runs the bucket clean-up"
        owner = "storage-team@example.com"
        expires = 2027-03-31
        principal = "arn:aws:iam::123456789012:user/carol"
        actions = ["s3:DeleteBucket"]
        [[exemption]]
        name = "carol-objects"
        reason = "the migration"
        owner = "storage-team@example.com"
        expires = 2026-11-30
        principal = "arn:aws:iam::123456789012:user/carol"
        actions = ["s3:DeleteObject"]
        "#,
        Catalog::embedded(),
    )
    .expect("a valid rules file");
    let context = Context {
        actor: Vec::new(),
        principal: Some("arn:aws:iam::123456789012:user/carol"),
        policy: None,
    };
    let today = time::macros::date!(2026 - 12 - 02);
    let adds = |restricted| {
        added_grants(
            &carol_with(Vec::new()),
            "admins",
            &admins_group_policies(),
            &restricted,
            Catalog::embedded(),
        )
        .expect("the documents parse")
        .0
    };
    let with = adds(
        rules
            .restricted(Mode::Enforce, &context, today)
            .expect("DeleteObject counts"),
    );
    let without = adds(rules.unexempted(Mode::Enforce).expect("both"));
    // WHEN the exemptions it met are named
    let (exempted, expired) =
        path_exemptions(&rules, Mode::Enforce, &context, today, &without, &with);
    // THEN DeleteBucket is exempted by carol-buckets, DeleteObject counts and names
    // carol-objects as expired
    let named = |list: &[incident::ExemptedPattern]| -> Vec<(String, String)> {
        list.iter()
            .map(|p| (p.pattern.clone(), p.exemption.name.clone()))
            .collect()
    };
    assert_eq!(
        named(&exempted),
        [("s3:DeleteBucket".to_owned(), "carol-buckets".to_owned())]
    );
    assert_eq!(
        named(&expired),
        [("s3:DeleteObject".to_owned(), "carol-objects".to_owned())]
    );
    assert_eq!(
        with.iter().map(|g| g.pattern.as_str()).collect::<Vec<_>>(),
        ["s3:DeleteObject"]
    );
}
