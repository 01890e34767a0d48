//! IAM is eventually consistent: for a few seconds after CreatePolicy, CreatePolicyVersion,
//! PutRolePolicy or an attachment, a read can miss what the call created or show what it
//! replaced. A step that does not see the event's change therefore cannot tell IAM's lag from a
//! newer change until some time has passed since the event: within the window it waits (the
//! `NotYetConsistent` error, retried on its own schedule), after it it concludes (gone,
//! superseded).

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// How long after the event a read that does not show its change is taken for IAM's lag. IAM
/// documents its propagation delay as usually a few seconds; two minutes is far beyond that and
/// still short next to an approval's hours. The state machine's `NotYetConsistent` retries
/// cover it from the step's first attempt (docs/workflow-contract.md).
pub const CONSISTENCY_WINDOW: Duration = Duration::minutes(2);

/// Whether IAM may still be catching up with a change made at `event_time` (CloudTrail's
/// `eventTime`). An unreadable time counts as recent: the step then waits out its retries and
/// fails closed, never concluding "gone" or "superseded" on a read it cannot place in time.
pub fn may_lag(event_time: &str, now: OffsetDateTime) -> bool {
    match OffsetDateTime::parse(event_time, &Rfc3339) {
        Ok(changed) => now < changed + CONSISTENCY_WINDOW,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::may_lag;
    use time::macros::datetime;

    #[test]
    fn iam_may_lag_only_within_the_window_after_the_event() {
        let now = datetime!(2026-11-21 13:05:00 UTC);
        let cases: &[(&str, bool)] = &[
            ("2026-11-21T13:05:00Z", true),      // just now
            ("2026-11-21T13:03:01Z", true),      // 1 min 59 s ago
            ("2026-11-21T13:03:00Z", false),     // exactly the window ago
            ("2026-11-21T12:55:00Z", false),     // ten minutes ago
            ("2026-11-21T13:06:00Z", true),      // a clock ahead of ours
            ("2026-11-21T14:03:30+01:00", true), // another offset, 1 min 30 s ago
            ("not a time", true),                // unreadable: wait, fail closed
            ("", true),
        ];
        for (event_time, lagging) in cases {
            assert_eq!(
                may_lag(event_time, now),
                *lagging,
                "eventTime {event_time:?}"
            );
        }
    }
}
