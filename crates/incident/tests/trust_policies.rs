//! A role's trust policy, read for people (`incident::trust::who_may_assume`): every principal
//! it names, and warnings for anyone and for other accounts.

mod support;

use incident::trust::who_may_assume;
use support::{change_of, fixture};

const ACCOUNT: &str = "123456789012";

#[test]
fn who_may_assume_a_role_and_what_deserves_a_look() {
    let statement = |principal: &str, condition: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole"{condition}}}]}}"#
        )
    };
    let mfa = r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#;
    // (case, trust policy, principals listed, warnings that start so)
    let cases = [
        (
            "a service of this account's: nothing to look at",
            statement(r#"{"Service":"lambda.amazonaws.com"}"#, ""),
            vec!["statement 0: Allow Service lambda.amazonaws.com: sts:AssumeRole"],
            vec![],
        ),
        (
            "a role of this account",
            statement(r#"{"AWS":"arn:aws:iam::123456789012:role/DevOpsRole"}"#, ""),
            vec![
                "statement 0: Allow AWS arn:aws:iam::123456789012:role/DevOpsRole: sts:AssumeRole",
            ],
            vec![],
        ),
        (
            "another account, by its bare id",
            statement(r#"{"AWS":"444455556666"}"#, ""),
            vec!["statement 0: Allow AWS 444455556666: sts:AssumeRole"],
            vec!["statement 0 lets account 444455556666 (not this account, 123456789012)"],
        ),
        (
            "anyone, with no condition",
            statement(r#""*""#, ""),
            vec!["statement 0: Allow principal *: sts:AssumeRole"],
            vec!["statement 0 lets anyone (principal *) assume role r, with no condition"],
        ),
        (
            "anyone with MFA: only the condition stands in the way",
            statement(r#"{"AWS":"*"}"#, mfa),
            vec!["statement 0: Allow AWS *: sts:AssumeRole, under a condition"],
            vec!["statement 0 lets anyone (AWS *) assume role r: only its condition"],
        ),
        (
            "a web identity provider with no condition: any of its users, any GitHub repository",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#.to_owned(),
            vec!["statement 0: Allow Federated arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com: sts:AssumeRoleWithWebIdentity"],
            vec!["statement 0 lets anyone the identity provider"],
        ),
        (
            "a web identity provider under a condition: listed, nothing to look at",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"cognito-identity.amazonaws.com:aud":"eu-west-1:pool"}}}]}"#.to_owned(),
            vec!["statement 0: Allow Federated cognito-identity.amazonaws.com: sts:AssumeRoleWithWebIdentity, under a condition"],
            vec![],
        ),
        (
            "anyone, through an action pattern that covers AssumeRole",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:Assume*"}]}"#.to_owned(),
            vec!["statement 0: Allow principal *: sts:Assume*"],
            vec!["statement 0 lets anyone (principal *) assume role r, with no condition"],
        ),
        (
            "another account, through a one-character wildcard",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"STS:AssumeRol?"}]}"#.to_owned(),
            vec!["statement 0: Allow AWS 444455556666: STS:AssumeRol?"],
            vec!["statement 0 lets account 444455556666 (not this account, 123456789012)"],
        ),
    ];
    for (case, document, trusted, warnings) in cases {
        // GIVEN the trust policy of role r
        // WHEN it is read
        let trust = who_may_assume(&document, "r", ACCOUNT).expect("a trust policy");
        // THEN every principal is listed, and anyone and other accounts are warned of
        assert_eq!(trust.trusted, trusted, "{case}");
        assert_eq!(
            trust.warnings.len(),
            warnings.len(),
            "{case}: {:?}",
            trust.warnings
        );
        for (warning, start) in trust.warnings.iter().zip(&warnings) {
            assert!(warning.starts_with(start), "{case}: {warning}");
        }
    }
}

#[test]
fn the_fixtures_trust_policies_are_read_as_their_readme_says() {
    // GIVEN UpdateAssumeRolePolicy of data-pipeline (another account's root, a role of this
    // account, Lambda) and CreateRole of partner-access ("AWS": "*")
    let update = change_of("update-assume-role-policy.json");
    let trust = who_may_assume(
        update.document.as_deref().expect("a document"),
        "data-pipeline",
        ACCOUNT,
    )
    .expect("a trust policy");
    // THEN the other account is the one warning; three principals are listed
    assert_eq!(trust.trusted.len(), 3, "{:?}", trust.trusted);
    assert_eq!(trust.warnings.len(), 1, "{:?}", trust.warnings);
    assert!(
        trust.warnings[0].contains("444455556666"),
        "{:?}",
        trust.warnings
    );
    let create = fixture("create-role.json");
    let document = create["detail"]["requestParameters"]["assumeRolePolicyDocument"]
        .as_str()
        .expect("a document");
    let trust = who_may_assume(document, "partner-access", ACCOUNT).expect("a trust policy");
    assert!(trust.warnings[0].contains("anyone"), "{:?}", trust.warnings);
}

#[test]
fn a_trust_policy_that_is_not_json_is_refused() {
    assert!(who_may_assume("Version: 2012-10-17", "r", ACCOUNT).is_err());
    assert!(who_may_assume("{}", "r", ACCOUNT).is_err());
}
