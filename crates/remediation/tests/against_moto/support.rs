//! What the specifications share: a private moto server per test and SDK clients pointed at it,
//! the SDK's replay client standing in for AWS answers moto cannot give, fixtures, IAM set-up
//! straight through the SDK, and the steps as the state machine runs them.

mod fixtures;
mod iam_setup;
mod moto;
mod queues;
mod replay;
mod steps;

pub use fixtures::*;
pub use iam_setup::*;
pub use moto::*;
pub use queues::*;
pub use replay::*;
pub use steps::*;
