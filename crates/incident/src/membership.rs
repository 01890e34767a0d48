//! A user added to a group, pure: what the group's policies grant the user, as IAM would
//! evaluate them for it (its other policies' Denies and its permissions boundary apply), and the
//! group's policies as one document, the record of what an approval approves.
//!
//! What the user could do before never counts: it would have to be read as an
//! under-approximation (per action and resource, unconditional Allows only, and none of the
//! grants an incident may still take away, such as a policy put on the user a moment before the
//! membership), and the user's other grants are judged on their own paths anyway. A membership
//! granting what the user holds already is asked about too (over-asks, never misses).

use policy_engine::access::{DocumentError, PrincipalPolicies, SourcedPolicy, effective_access};
use policy_engine::{Catalog, RestrictedActions, decode};
use serde_json::{Value, json};

use crate::record::{AddedGrant, carried_added_grants};

/// The restricted patterns `user` can perform as a member of `group` through the group's own
/// statements, with those statements (carried: cut short for the state), and how many were left
/// out. `user` is the user's policies as IAM holds them, with or without the group's (IAM may
/// not show the new membership yet); `group_policies` are the group's own.
pub fn added_grants(
    user: &PrincipalPolicies,
    group: &str,
    group_policies: &[SourcedPolicy],
    restricted: &RestrictedActions,
    catalog: &Catalog,
) -> Result<(Vec<AddedGrant>, usize), DocumentError> {
    let mut with = user.clone();
    with.identity
        .retain(|p| !through(p.through_group.as_deref(), group));
    with.identity
        .extend(group_policies.iter().map(|p| SourcedPolicy {
            through_group: Some(group.to_owned()),
            ..p.clone()
        }));
    let after = effective_access(&with, restricted, catalog)?;
    let added = after
        .grants
        .into_iter()
        .filter_map(|mut grant| {
            grant
                .via
                .retain(|via| through(via.through_group.as_deref(), group));
            (!grant.via.is_empty()).then(|| AddedGrant::of(grant))
        })
        .collect();
    Ok(carried_added_grants(added))
}

/// IAM's names are not distinguished by case.
fn through(through_group: Option<&str>, group: &str) -> bool {
    through_group.is_some_and(|g| g.eq_ignore_ascii_case(group))
}

/// The group's policies as one JSON document: each source with its document (as JSON when it
/// reads as JSON), in a fixed order, so the same policies always give the same document
/// whatever order IAM lists them in. What the quarantine keeps as the original and the restore
/// compares with (`same_document`): approval re-adds the user only to the group it approved.
pub fn group_document(group: &str, policies: &[SourcedPolicy]) -> String {
    let mut entries: Vec<(String, Value)> = policies
        .iter()
        .map(|policy| {
            let document = decode(&policy.document)
                .ok()
                .and_then(|json| serde_json::from_str::<Value>(&json).ok())
                .unwrap_or_else(|| Value::String(policy.document.to_string()));
            let source = serde_json::to_value(&policy.source).unwrap_or(Value::Null);
            (
                source.to_string(),
                json!({"source": source, "document": document}),
            )
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let policies: Vec<Value> = entries.into_iter().map(|(_, entry)| entry).collect();
    serde_json::to_string(&json!({"group": group, "policies": policies})).unwrap_or_default()
}
