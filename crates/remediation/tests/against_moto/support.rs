//! What the specifications share: a private moto server per test and SDK clients pointed at it,
//! the SDK's replay client standing in for AWS answers moto cannot give, fixtures, IAM set-up
//! straight through the SDK, the writers' IAM work with its dependencies, and a deployment in
//! moto (the state machine executing, the real handlers answering its Lambda calls, the KMS
//! keys, the administrators' and the operators' topics).

mod fixtures;
mod functions;
mod iam_setup;
mod moto;
mod queues;
mod replay;
mod steps;
mod workflow;

pub use fixtures::*;
pub use iam_setup::*;
pub use moto::*;
pub use queues::*;
pub use replay::*;
pub use steps::*;
pub use workflow::*;
