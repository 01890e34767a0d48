//! What the specification's files share: the fixtures and the engine's inputs.

use std::path::Path;

use policy_engine::{Analysis, Catalog, Policy, PolicyKind, Quarantine, RestrictedActions};

/// The text of `tests/fixtures/policies/NAME`, at the workspace's root.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/policies")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn catalog() -> &'static Catalog {
    Catalog::embedded()
}

/// A restricted list, written as the deployment parameter (`s3:DeleteBucket,iam:*`).
pub fn restricted(list: &str) -> RestrictedActions {
    RestrictedActions::parse(list, catalog())
        .unwrap_or_else(|e| panic!("restricted list {list:?}: {e}"))
}

/// A raw JSON fixture, parsed.
pub fn policy(fixture_name: &str) -> Policy<'static> {
    let text = fixture(fixture_name);
    Policy::parse(&text)
        .unwrap_or_else(|e| panic!("{fixture_name}: {e}"))
        .into_owned()
}

/// The verdict on a fixture against a restricted list.
pub fn analysis_of(fixture_name: &str, restricted_list: &str) -> Analysis {
    policy_engine::analyse(
        &policy(fixture_name),
        &restricted(restricted_list),
        catalog(),
    )
}

/// The quarantine of a fixture against a restricted list, within the quota of `kind`.
pub fn quarantine_of(fixture_name: &str, restricted_list: &str, kind: PolicyKind) -> Quarantine {
    let restricted = restricted(restricted_list);
    policy_engine::plan(
        &policy(fixture_name),
        &restricted,
        catalog(),
        kind.size_limit(),
    )
    .unwrap_or_else(|e| panic!("{fixture_name} against {restricted_list}: {e}"))
}
