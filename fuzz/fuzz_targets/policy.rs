//! Any bytes: decoding, parsing, analysis and quarantine planning must return, never panic, and
//! a quarantine must analyse clean.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use policy_engine::{Catalog, Policy, PolicyKind, RestrictedActions, analyse, decode, plan};

static RESTRICTED: LazyLock<RestrictedActions> = LazyLock::new(|| {
    RestrictedActions::parse("s3:DeleteBucket,s3:Delete*,iam:*,*:Terminate*", Catalog::embedded())
        .expect("valid restricted actions")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(json) = decode(text) else { return };
    let Ok(policy) = Policy::parse(&json) else { return };
    let catalog = Catalog::embedded();
    analyse(&policy, &RESTRICTED, catalog);
    if let Ok(quarantine) = plan(&policy, &RESTRICTED, catalog, PolicyKind::Managed.size_limit()) {
        assert!(!analyse(&quarantine.policy, &RESTRICTED, catalog).grants_restricted());
    }
});
