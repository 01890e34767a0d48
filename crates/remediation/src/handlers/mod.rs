//! One module per Lambda function: a thin `handle(input, &deps)` over the domain and adapters.

pub mod analyse;
pub mod approval_api;
pub mod publish;
pub mod quarantine;
pub mod request_approval;
pub mod restore;
