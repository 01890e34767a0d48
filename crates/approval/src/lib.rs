//! The administrator's side of an incident, pure (no AWS SDK, no I/O): the approval request and
//! its email, the link (a public id and a key derived from the task token), finding the approval
//! in the execution's history, the decision form, and the pages the approval API answers with.

pub mod email;
pub mod form;
pub mod history;
pub mod id;
pub mod key;
pub mod page;
pub mod proof;
pub mod request;

pub use email::approval_request_email;
pub use form::{DecisionForm, FormError, echoed, parse_decision_form};
pub use history::{
    ApprovalStatus, EventKind, FoundApproval, HistoryEvent, Lookup, RequestInHistory, SUPERSEDED,
    UnreadableRequest, approval_requests, find_approval,
};
pub use id::{ApprovalId, IdError, StateMachine, approval_link, link_host};
pub use key::{ApprovalKey, KeyError};
pub use page::{Page, Response, ReviewDocuments, utc};
pub use proof::{decision_message, decode_proof, encode_proof};
pub use request::{ApprovalRequest, TaskToken};
