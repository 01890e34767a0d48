//! Reading everything in force for a user or role from IAM (`remediation::principals`): its
//! inline and attached policies, a user's groups' and its permissions boundary, each managed
//! policy at its default version; a principal that does not exist reads as None.

use incident::PrincipalKind;
use policy_engine::access::PolicySource;
use remediation::principals::{group_policies, principal_policies};

use crate::support::*;

const ACCOUNT_POLICY: &str = "arn:aws:iam::123456789012:policy/";

fn sources(policies: &[policy_engine::access::SourcedPolicy]) -> Vec<(String, Option<String>)> {
    let mut sources: Vec<(String, Option<String>)> = policies
        .iter()
        .map(|p| (p.source.to_string(), p.through_group.clone()))
        .collect();
    sources.sort();
    sources
}

#[tokio::test]
async fn everything_in_force_for_a_user_is_read_from_iam() {
    // GIVEN carol with an inline and an attached policy of her own, and two groups: admins (an
    // inline and an attached policy) and readers (none)
    let moto = Moto::start();
    let iam = moto.iam_client();
    let carol = principal(PrincipalKind::User, "carol");
    create_principal(&iam, &carol).await;
    put_inline_policy(
        &iam,
        &carol,
        "carol-own",
        &policy("read-only-reports-bucket.json"),
    )
    .await;
    let reports =
        create_managed_policy(&iam, "reports", &policy("read-only-reports-bucket.json")).await;
    attach_policy(&iam, &carol, &reports).await;
    let admins = principal(PrincipalKind::Group, "admins");
    create_principal(&iam, &admins).await;
    put_inline_policy(
        &iam,
        &admins,
        "admins-all",
        &policy("administrator-access.json"),
    )
    .await;
    let glass = create_managed_policy(
        &iam,
        "ops-break-glass",
        &policy("bucket-deletion-requires-mfa.json"),
    )
    .await;
    attach_policy(&iam, &admins, &glass).await;
    create_principal(&iam, &principal(PrincipalKind::Group, "readers")).await;
    add_to_group(&iam, "carol", "admins").await;
    add_to_group(&iam, "carol", "readers").await;
    // WHEN her policies in force are read
    let read = principal_policies(&moto.iam(), &carol)
        .await
        .unwrap()
        .expect("carol exists");
    // THEN each policy is there once, with where it comes from, its document and its group
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        sources(&read.identity),
        [
            (
                r#"inline policy "admins-all" of group "admins""#.to_owned(),
                some("admins")
            ),
            (
                r#"inline policy "carol-own" of user "carol""#.to_owned(),
                None
            ),
            (
                format!("managed policy {ACCOUNT_POLICY}ops-break-glass (v1)"),
                some("admins")
            ),
            (format!("managed policy {ACCOUNT_POLICY}reports (v1)"), None),
        ]
    );
    let admins_all = read
        .identity
        .iter()
        .find(|p| p.through_group.is_some() && matches!(p.source, PolicySource::Inline { .. }))
        .unwrap();
    assert_eq!(
        json(&admins_all.document),
        json(&policy("administrator-access.json"))
    );
    // AND her ARN and path are IAM's; she has no boundary (moto 5.2.5 does not implement
    // PutUserPermissionsBoundary: the role below has one)
    assert!(read.boundary.is_none());
    assert_eq!(
        read.arn.as_deref(),
        Some("arn:aws:iam::123456789012:user/carol")
    );
    assert_eq!(read.path.as_deref(), Some("/"));
    assert!(read.unresolved.is_empty());
}

#[tokio::test]
async fn everything_in_force_for_a_role_is_read_and_a_missing_principal_is_none() {
    // GIVEN data-pipeline with an inline and an attached policy and a permissions boundary, and
    // no user mallory
    let moto = Moto::start();
    let iam = moto.iam_client();
    let role = principal(PrincipalKind::Role, "data-pipeline");
    create_principal(&iam, &role).await;
    put_inline_policy(&iam, &role, "pipeline", &policy("s3-delete-wildcard.json")).await;
    let admin = create_managed_policy(
        &iam,
        "AdministratorAccess",
        &policy("administrator-access.json"),
    )
    .await;
    attach_policy(&iam, &role, &admin).await;
    let boundary = create_managed_policy(
        &iam,
        "pipeline-boundary",
        &policy("s3-delete-wildcard.json"),
    )
    .await;
    iam.put_role_permissions_boundary()
        .role_name("data-pipeline")
        .permissions_boundary(&boundary)
        .send()
        .await
        .expect("PutRolePermissionsBoundary");
    // WHEN their policies in force are read
    let read = principal_policies(&moto.iam(), &role)
        .await
        .unwrap()
        .expect("the role exists");
    // THEN the role's are there, with no group
    assert_eq!(
        sources(&read.identity),
        [
            (
                r#"inline policy "pipeline" of role "data-pipeline""#.to_owned(),
                None
            ),
            (format!("managed policy {admin} (v1)"), None),
        ]
    );
    // AND the boundary is its policy's default version
    assert_eq!(
        read.boundary
            .map(|b| (b.source.to_string(), json(&b.document))),
        Some((
            format!("managed policy {boundary} (v1)"),
            json(&policy("s3-delete-wildcard.json"))
        ))
    );
    // AND a user or group that does not exist reads as None, not as "no policies"
    let mallory = principal(PrincipalKind::User, "mallory");
    assert!(
        principal_policies(&moto.iam(), &mallory)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        group_policies(&moto.iam(), "nobody")
            .await
            .unwrap()
            .is_none()
    );
}
