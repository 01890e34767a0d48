//! Reading `aws iam get-account-authorization-details` output, and the policies in force for
//! each user and role.

use std::path::Path;

use policy_engine::{
    AccountError, AuthorizationDetails, PolicySource, PrincipalPolicies, Unresolved,
    effective_access,
};

use crate::support::{catalog, restricted};

fn account_fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/account")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn principals(fixture: &str) -> Vec<PrincipalPolicies> {
    AuthorizationDetails::from_json(&account_fixture(fixture))
        .unwrap()
        .principals()
        .unwrap()
}

/// `user/Name` or `role/Name` -> its grants and removals, in words.
fn verdicts(fixture: &str, list: &str) -> Vec<String> {
    let restricted = restricted(list);
    principals(fixture)
        .iter()
        .map(|p| {
            let access = effective_access(p, &restricted, catalog()).unwrap();
            let grants: Vec<&str> = access.grants.iter().map(|g| g.pattern.as_str()).collect();
            let removed: Vec<&str> = access.removed.iter().map(|r| r.pattern.as_str()).collect();
            format!(
                "{}/{}: grants {grants:?} removed {removed:?}",
                p.principal.kind, p.principal.name
            )
        })
        .collect()
}

/// Each document as the JSON value it holds, whether written out or percent-encoded.
fn decoded(p: &PrincipalPolicies) -> Vec<(String, serde_json::Value)> {
    p.identity
        .iter()
        .chain(p.boundary.as_ref())
        .map(|s| {
            let json = policy_engine::decode(&s.document).unwrap();
            (s.source.to_string(), serde_json::from_str(&json).unwrap())
        })
        .collect()
}

/// The CLI prints documents as objects; the API returns them percent-encoded.
#[test]
fn the_cli_output_and_the_api_encoding_read_the_same() {
    let cli = principals("cli-output.json");
    let api = principals("api-encoded.json");
    assert_eq!(cli.len(), api.len());
    for (c, a) in cli.iter().zip(&api) {
        assert_eq!(c.principal, a.principal);
        assert_eq!(decoded(c), decoded(a), "{}", c.principal);
        assert_eq!(c.unresolved, a.unresolved);
    }
    assert_eq!(
        verdicts("cli-output.json", "iam:*,s3:DeleteBucket"),
        verdicts("api-encoded.json", "iam:*,s3:DeleteBucket")
    );
}

#[test]
fn every_user_and_role_with_its_effective_access() {
    assert_eq!(
        verdicts("cli-output.json", "iam:*,s3:DeleteBucket"),
        [
            r#"user/Alice: grants ["iam:*", "s3:DeleteBucket"] removed []"#,
            r#"user/Bob: grants [] removed ["iam:*", "s3:DeleteBucket"]"#,
            r#"user/Carol: grants ["s3:DeleteBucket"] removed ["iam:*"]"#,
            r#"role/EC2role: grants [] removed []"#,
            r#"role/deploy: grants [] removed ["iam:*", "s3:DeleteBucket"]"#,
        ]
    );
}

#[test]
fn policies_resolve_through_groups_to_the_default_version() {
    let all = principals("cli-output.json");
    let carol = &all[2];
    let sources: Vec<(String, Option<&str>)> = carol
        .identity
        .iter()
        .map(|s| (s.source.to_string(), s.through_group.as_deref()))
        .collect();
    assert_eq!(
        sources,
        [
            (
                "managed policy arn:aws:iam::aws:policy/AdministratorAccess (v1)".to_owned(),
                Some("Admins")
            ),
            (
                "inline policy \"NoIdentityChanges\" of group \"Contractors\"".to_owned(),
                Some("Contractors")
            ),
        ]
    );
    let bob = &all[1];
    let boundary = bob.boundary.as_ref().unwrap();
    assert_eq!(
        boundary.source,
        PolicySource::Managed {
            policy_arn: "arn:aws:iam::123456789012:policy/DeveloperBoundary".into(),
            version_id: Some("v2".into())
        }
    );
    assert!(boundary.document.contains("OnlyStorageAndCompute"));
    assert_eq!(carol.path.as_deref(), Some("/contractors/"));
}

/// `--filter` can leave AWS managed policies out: the attachment is reported, not dropped.
#[test]
fn an_attachment_without_its_document_is_reported_unresolved() {
    let all = principals("cli-output.json");
    let ec2 = all.iter().find(|p| p.principal.name == "EC2role").unwrap();
    assert!(ec2.identity.is_empty());
    assert_eq!(
        ec2.unresolved,
        [Unresolved::ManagedPolicy {
            policy_arn: "arn:aws:iam::aws:policy/AmazonS3FullAccess".into(),
            through_group: None
        }]
    );
    let mut details = AuthorizationDetails::from_json(&account_fixture("cli-output.json")).unwrap();
    details.groups.clear();
    details.policies.clear();
    let all = details.principals().unwrap();
    assert_eq!(
        all[1].unresolved,
        [Unresolved::Boundary {
            policy_arn: "arn:aws:iam::123456789012:policy/DeveloperBoundary".into()
        }]
    );
    assert_eq!(
        all[2].unresolved,
        [
            Unresolved::Group {
                group_name: "Admins".into()
            },
            Unresolved::Group {
                group_name: "Contractors".into()
            }
        ]
    );
}

#[test]
fn errors_name_the_json_path() {
    let cases = [
        (
            r#"{"RoleDetailList": [{"RoleName": "a"}, {"RolePolicyList": []}]}"#,
            "the authorization details at RoleDetailList[1]: missing field `RoleName`",
        ),
        (
            r#"{"UserDetailList": [{"UserName": "u", "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": 3}]}]}"#,
            "the authorization details at UserDetailList[0].UserPolicyList[0].PolicyDocument: \
             a policy document must be a JSON object or a string",
        ),
        (
            r#"{"Policies": [{"Arn": "arn:aws:iam::1:policy/p", "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": false}]}]}"#,
            "the authorization details at Policies[0]: managed policy arn:aws:iam::1:policy/p \
             has no default version with a Document",
        ),
    ];
    for (text, expected) in cases {
        let error = AuthorizationDetails::from_json(text)
            .and_then(|d| d.principals())
            .unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(expected), "{message}");
    }
    assert!(matches!(
        AuthorizationDetails::from_json("{\"UserDetailList\": ["),
        Err(AccountError::Json(_))
    ));
}

/// One page of several would give a verdict that looks complete and is not.
#[test]
fn one_page_of_several_is_refused() {
    for (page, key) in [
        (
            r#"{"RoleDetailList": [], "IsTruncated": true, "Marker": "AAE"}"#,
            "IsTruncated",
        ),
        (
            r#"{"RoleDetailList": [], "NextToken": "eyJNYXJrZXIiOiBudWxsfQ=="}"#,
            "NextToken",
        ),
    ] {
        let error = AuthorizationDetails::from_json(page)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "the authorization details at {key}: the file is one page"
            )),
            "{error}"
        );
    }
    assert!(
        AuthorizationDetails::from_json(r#"{"RoleDetailList": [], "IsTruncated": false}"#).is_ok()
    );
}

/// Every list defaults to empty: anything but the command's output would otherwise read as an
/// account with nobody in it, and pass.
#[test]
fn another_document_is_not_an_empty_account() {
    for text in [
        "{}",
        "[]",
        r#"[{"UserDetailList": []}]"#,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        // `aws iam list-users`, and an SDK's camelCase output
        r#"{"Users": [{"UserName": "alice", "Arn": "arn:aws:iam::123456789012:user/alice"}]}"#,
        r#"{"userDetailList": [], "roleDetailList": []}"#,
    ] {
        let error = AuthorizationDetails::from_json(text).unwrap_err();
        assert!(
            matches!(error, AccountError::NotAuthorizationDetails(_)),
            "{text}: {error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("not the output of `aws iam get-account-authorization-details`"),
            "{error}"
        );
    }
    // With `--filter`, the command prints only the lists asked for.
    assert!(AuthorizationDetails::from_json(r#"{"Policies": []}"#).is_ok());
}
