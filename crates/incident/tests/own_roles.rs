//! A change to iam-sentinel's own roles (threat model T6): reported, never quarantined, and
//! said to be the deployment's or someone else's.

mod support;

use incident::{OwnRoles, PolicyChange, Principal, PrincipalKind, Target};
use serde_json::json;
use support::{change, fixture, user_identity_mut};

const OWN: &str = "iam-sentinel-policy-writer, iam-sentinel-approval-api";

/// alice's PutRolePolicy, made to the role `role`; by CloudFormation when `by_cloudformation`.
fn put_role_policy(role: &str, by_cloudformation: bool) -> PolicyChange {
    let mut event = fixture("put-role-policy.json");
    event["detail"]["requestParameters"]["roleName"] = json!(role);
    if by_cloudformation {
        user_identity_mut(&mut event)
            .insert("invokedBy".into(), json!("cloudformation.amazonaws.com"));
        event["detail"]["sourceIPAddress"] = json!("cloudformation.amazonaws.com");
    }
    change(&event)
}

#[test]
fn which_changes_to_own_roles_are_reported_and_why() {
    let own = OwnRoles::parse(OWN);
    let user_named_like_a_role = {
        let mut change = put_role_policy("iam-sentinel-approval-api", false);
        change.target = Target::InlinePolicy {
            principal: Principal {
                kind: PrincipalKind::User,
                name: "iam-sentinel-approval-api".into(),
            },
            policy_name: "p".into(),
        };
        change
    };
    // (case, change, expected: None = quarantined as usual, Some(words the reason contains))
    let cases: [(&str, PolicyChange, Option<&str>); 6] = [
        (
            "a customer's role",
            put_role_policy("data-pipeline", false),
            None,
        ),
        (
            "an own role, by the deployment",
            put_role_policy("iam-sentinel-approval-api", true),
            Some("changed through CloudFormation (its deployment, or any other stack"),
        ),
        (
            "an own role, by someone else",
            put_role_policy("iam-sentinel-policy-writer", false),
            Some("changed outside its deployment by arn:aws:iam::123456789012:user/alice"),
        ),
        (
            "an own role named in another case (IAM's role names ignore case)",
            put_role_policy("IAM-Sentinel-Policy-Writer", false),
            Some("changed outside its deployment"),
        ),
        (
            "a role whose name only starts like an own role's",
            put_role_policy("iam-sentinel-approval-api-2", false),
            None,
        ),
        (
            "a user named like an own role",
            user_named_like_a_role,
            None,
        ),
    ];
    for (case, change, expected) in cases {
        let reason = own.protects(&change);
        match expected {
            None => assert_eq!(reason, None, "{case}"),
            Some(words) => {
                let reason = reason.unwrap_or_else(|| panic!("{case}: not reported"));
                assert!(reason.contains(words), "{case}: {reason}");
            }
        }
    }
}

#[test]
fn a_managed_policy_is_never_an_own_role() {
    let change = change(&fixture("create-policy.json"));
    assert_eq!(OwnRoles::parse(OWN).protects(&change), None);
}

#[test]
fn a_trust_policy_of_an_own_role_is_said_to_be_one() {
    // GIVEN UpdateAssumeRolePolicy of the policy writer by alice, and of a customer's role
    let mut event = fixture("update-assume-role-policy.json");
    event["detail"]["requestParameters"]["roleName"] = json!("iam-sentinel-policy-writer");
    let own = OwnRoles::parse(OWN);
    // THEN the first is said to be an own role changed outside the deployment; the other not
    let reason = own.protects(&change(&event)).expect("an own role");
    assert!(
        reason.contains("changed outside its deployment"),
        "{reason}"
    );
    assert_eq!(
        own.protects(&change(&fixture("update-assume-role-policy.json"))),
        None
    );
}
