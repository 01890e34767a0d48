//! One module per Lambda function: a thin `handle(input, &deps)` over the domain and adapters.

pub mod analyse;
pub mod approval_api;
pub mod publish;
pub mod quarantine;
pub mod request_approval;
pub mod restore;

/// Documents compared as JSON values: IAM may hand back different white space or encoding.
pub(crate) fn same_json(a: Option<&str>, b: Option<&str>) -> bool {
    let parse = |s: Option<&str>| s.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
    matches!((parse(a), parse(b)), (Some(a), Some(b)) if a == b)
}
