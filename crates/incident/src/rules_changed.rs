//! A change of the deployed rules, made visible: the decision record holds the digest of the
//! rules the deciding functions last started with (`rules#current`); a function that starts
//! with other rules publishes "IAM Sentinel Rules Changed" with what they now are, then records
//! their digest (docs/workflow-contract.md#the-rules-record).

use policy_engine::Rules;
use policy_engine::rules::PARAMETER_RULE;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::decision_log::rfc3339;

/// The decision record's item holding the digest of the rules in force.
pub const RULES_KEY: &str = "rules#current";
/// The `detail-type` of the event.
pub const RULES_CHANGED_DETAIL_TYPE: &str = "IAM Sentinel Rules Changed";

/// Whether rules with digest `current` are a change from the `recorded` digest (None: none
/// recorded yet, the first start: that is a change too, from nothing).
pub fn changed(current: &str, recorded: Option<&str>) -> bool {
    recorded != Some(current)
}

/// The event's detail: both digests, every rule (name, mode, how many patterns, its presets),
/// every exemption (name, owner, expiry), the `RestrictedActions` parameter's patterns, the
/// function that saw the change, and when.
pub fn rules_changed_detail(
    rules: &Rules,
    previous: Option<&str>,
    seen_by: &str,
    at: OffsetDateTime,
) -> Value {
    let listed: Vec<Value> = rules
        .rules()
        .iter()
        .map(|rule| {
            json!({
                "name": rule.name,
                "mode": rule.mode,
                "patterns": rule.patterns.len(),
                "presets": rule.presets,
            })
        })
        .collect();
    let exemptions: Vec<Value> = rules
        .exemptions()
        .iter()
        .map(|e| {
            let reference = e.reference();
            json!({"name": reference.name, "owner": reference.owner, "expires": reference.expires})
        })
        .collect();
    let parameter = rules
        .rules()
        .iter()
        .find(|r| r.name == PARAMETER_RULE)
        .map(|r| &r.patterns);
    json!({
        "digest": rules.digest(),
        "previousDigest": previous,
        "rules": listed,
        "exemptions": exemptions,
        "restrictedActionsParameter": parameter,
        "seenBy": seen_by,
        "seenAt": rfc3339(at),
    })
}

#[cfg(test)]
mod tests {
    use policy_engine::{Catalog, RestrictedActions};
    use time::macros::datetime;

    use super::*;

    const FILE: &str = r#"version = 1
[[rule]]
name = "escalation"
mode = "alert"
presets = ["privilege-escalation"]
actions = ["iam:PassRole"]
[[exemption]]
name = "ci"
reason = "Terraform"
owner = "platform@example.com"
expires = 2027-03-31
actor = "arn:aws:iam::*:role/ci"
"#;

    #[test]
    fn a_change_is_any_other_digest_or_none_recorded() {
        let cases = [
            ("a", None, true),
            ("a", Some("a"), false),
            ("a", Some("b"), true),
        ];
        for (current, recorded, expected) in cases {
            assert_eq!(
                changed(current, recorded),
                expected,
                "{current} {recorded:?}"
            );
        }
    }

    #[test]
    fn the_detail_says_what_the_rules_now_are() {
        let parameter = RestrictedActions::parse("s3:DeleteBucket", Catalog::embedded()).unwrap();
        let rules = Rules::parse(FILE, Catalog::embedded())
            .unwrap()
            .with_parameter(Some(&parameter));
        let detail = rules_changed_detail(
            &rules,
            Some("0123"),
            "iam-sentinel-analyse-change",
            datetime!(2026-12-02 08:00 UTC),
        );
        let preset = policy_engine::presets::get("privilege-escalation").unwrap();
        let patterns =
            preset.actions.len() + usize::from(!preset.actions.contains(&"iam:PassRole"));
        assert_eq!(
            detail,
            json!({
                "digest": rules.digest(),
                "previousDigest": "0123",
                "rules": [
                    {"name": "escalation", "mode": "alert", "patterns": patterns,
                     "presets": ["privilege-escalation"]},
                    {"name": "RestrictedActions", "mode": "enforce", "patterns": 1, "presets": []},
                ],
                "exemptions": [
                    {"name": "ci", "owner": "platform@example.com", "expires": "2027-03-31"},
                ],
                "restrictedActionsParameter": ["s3:DeleteBucket"],
                "seenBy": "iam-sentinel-analyse-change",
                "seenAt": "2026-12-02T08:00:00Z",
            })
        );
        let first = rules_changed_detail(&rules, None, "f", datetime!(2026-12-02 08:00 UTC));
        assert_eq!(first["previousDigest"], Value::Null);
    }
}
