//! A change of the deployed rules, made visible (`incident::rules_changed`): the first
//! invocation of a deciding function compares the digest of the rules it was built with to the
//! one the decision record holds, and when they differ publishes "IAM Sentinel Rules Changed"
//! on the stack's bus, then records the new digest. Publish first, record after: a failure in
//! between publishes again at the next start (at least once), never records an unpublished
//! change.

use std::sync::atomic::{AtomicBool, Ordering};

use incident::rules_changed::{RULES_CHANGED_DETAIL_TYPE, changed, rules_changed_detail};
use policy_engine::Rules;
use time::OffsetDateTime;

use crate::decisions::DecisionTable;
use crate::error::StepError;
use crate::publisher::put_event;

pub struct RulesRecord {
    pub decisions: DecisionTable,
    pub events: aws_sdk_eventbridge::Client,
    pub event_bus_name: String,
    /// The function that reads the rules (`AWS_LAMBDA_FUNCTION_NAME`), named in the event.
    pub seen_by: String,
    /// Set once this instance's rules are known to be recorded.
    pub checked: AtomicBool,
}

/// What a start found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    /// The rules recorded are these.
    Unchanged,
    /// Published; `recorded`: false when another start recorded the digest first.
    Published { recorded: bool },
}

impl RulesRecord {
    /// On this instance's first invocation (and each later one until it succeeds): announces
    /// the rules when they changed. A failure fails the invocation, which is retried.
    pub async fn check_once(&self, rules: &Rules) -> Result<(), StepError> {
        if !self.checked.load(Ordering::Acquire) {
            self.announce(rules, OffsetDateTime::now_utc()).await?;
            self.checked.store(true, Ordering::Release);
        }
        Ok(())
    }

    pub async fn announce(
        &self,
        rules: &Rules,
        at: OffsetDateTime,
    ) -> Result<Announced, StepError> {
        let previous = self.decisions.rules_digest().await?;
        if !changed(rules.digest(), previous.as_deref()) {
            return Ok(Announced::Unchanged);
        }
        let detail = rules_changed_detail(rules, previous.as_deref(), &self.seen_by, at);
        put_event(
            &self.events,
            &self.event_bus_name,
            RULES_CHANGED_DETAIL_TYPE,
            &detail,
        )
        .await?;
        let recorded = self
            .decisions
            .record_rules(rules.digest(), previous.as_deref(), at)
            .await?;
        tracing::warn!(
            digest = rules.digest(),
            previous = previous.as_deref().unwrap_or("none"),
            recorded,
            "the rules changed: published"
        );
        Ok(Announced::Published { recorded })
    }
}
