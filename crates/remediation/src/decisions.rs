//! The decision record (DynamoDB `DecisionTable`): incidents' records, the executions the
//! starter started, the quarantines their steps were about to write, grant records (what the
//! sweep leaves alone), the baseline marker, the boundary ledger and the digest of the rules in
//! force, one item each under `pk` (`incident#...`, `start#...`, `quarantine#...`, `grant#...`,
//! `claim#...`, `sweep#baseline`, `boundary#...`, `rules#current`; `incident::decision_log` and
//! `incident::rules_changed` say what each holds). Who may write which kind is the template's
//! (the table's resource policy and each role's `dynamodb:LeadingKeys`); what justifies each
//! write is its caller's.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use incident::boundary::{BoundarySeen, LedgerEntry};
use incident::decision_log::{
    BASELINE_KEY, CLAIM_CLOCK_SKEW, GrantKey, GrantRecord, GrantStatus, IncidentRecord, intent_key,
    start_key,
};
use incident::history::StartRecord;
use incident::quarantine::Intended;
use incident::record::DocumentRef;
use incident::rules_changed::RULES_KEY;
use incident::{PrincipalId, Target, TargetKey};
use time::OffsetDateTime;

use crate::error::{AwsFailure, StepError};

/// What an attempt of a quarantine step recorded before it wrote IAM (`record_intent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The target, in full (`TargetKey::canonical`).
    pub target: String,
    /// The original document's reference.
    pub original: DocumentRef,
    pub intended: Intended,
    /// The principals with their ids as the first attempt that wrote read them; `None` in an
    /// item written before they were kept.
    pub principal_ids: Option<Vec<PrincipalId>>,
}

/// The table's attributes.
const KEY: &str = "pk";
const STATUS: &str = "status";
const INCIDENT: &str = "incident";
const AT: &str = "at";
const RECORD: &str = "record";
const EXPIRES_AT: &str = "expiresAt";
const DIGEST: &str = "digest";
/// A boundary ledger entry's: the digest of the boundary's document when seen.
const DOCUMENT_DIGEST: &str = "documentDigest";
/// A grant record's (or an intended quarantine's) target, in full (`TargetKey::canonical`): a
/// grant's key holds 64 bits of it.
const TARGET: &str = "target";
/// An intended quarantine's original document: its SHA-256 and length (a `DocumentRef`).
const ORIGINAL: &str = "original";
const CHARACTERS: &str = "characters";
/// An intended quarantine's write (`Intended`): "takeAway" or "rewrite"; absent in an item
/// written before rewrites were recorded, when only a take-away was.
const INTENDED: &str = "intended";
/// An intended quarantine's principals with their ids as first read (`PrincipalId`s, JSON).
const PRINCIPALS: &str = "principals";
/// The baseline marker's group memberships (a string set of `TargetKey`s; absent when none).
const MEMBERSHIPS: &str = "memberships";

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";
/// A transaction's cancellation reasons: an item's condition did not hold; another
/// transaction was writing the same item (it passes once that one ends).
const CHECK_FAILED: &str = "ConditionalCheckFailed";
const TRANSACTION_CONFLICT: &str = "TransactionConflict";
/// How often a claim cancelled by another transaction on its items is tried again.
const CONFLICT_ATTEMPTS: u32 = 3;
/// How long the starter's record of an execution vouches for it (`history::StartRecord`): its
/// Quarantine step runs within minutes, and a message SQS delivers again records it again.
const START_RECORD_LIFE: Duration = Duration::from_secs(24 * 3600);
/// How often items BatchWriteItem left unprocessed (throttled) are written again, backing off.
const UNPROCESSED_ATTEMPTS: u32 = 5;

#[derive(Clone)]
pub struct DecisionTable {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    /// How long an item stays after its last write (DynamoDB TTL, `DecisionRetentionDays`).
    pub retention: Duration,
}

/// The baseline sweep, as its marker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub sweep: String,
    /// When it read the account (`None` in a marker that does not say).
    pub at: Option<OffsetDateTime>,
    /// The group memberships it found a restricted grant through: accepted as they were.
    pub memberships: BTreeSet<String>,
}

/// What a `deciding` claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This sweep holds the grant now: it starts the incident.
    Claimed,
    /// Approved, or claimed by another sweep whose claim still holds: nothing to start.
    Held,
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// A time written with `n` (epoch seconds); `None` when absent or not one.
fn time_of(value: Option<&AttributeValue>) -> Option<OffsetDateTime> {
    let seconds = value?.as_n().ok()?.parse::<i64>().ok()?;
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// A grant's `status` attribute.
fn status_text(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Approved => "approved",
        GrantStatus::Deciding => "deciding",
    }
}

impl DecisionTable {
    fn expires_at(&self, now: OffsetDateTime) -> AttributeValue {
        n(now
            .unix_timestamp()
            .saturating_add(self.retention.as_secs() as i64))
    }

    fn put(&self) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
        self.client.put_item().table_name(&self.table)
    }

    /// Sends a conditional write: whether it wrote (false: its condition did not hold, an
    /// answer rather than a failure). `what` names the item in an error.
    async fn written_if(
        put: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
        what: &str,
    ) -> Result<bool, AwsFailure> {
        match put.send().await {
            Ok(_) => Ok(true),
            Err(error) => {
                let failure = AwsFailure::from_sdk(&format!("DynamoDB PutItem ({what})"), error);
                if failure.is(CONDITION_FAILED) {
                    Ok(false)
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// The item under `key`, read consistently (`what` it is names it in an error); `None`
    /// when there is none.
    async fn read(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StepError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk(&format!("DynamoDB GetItem ({what})"), e))?;
        Ok(output.item)
    }

    /// A grant item: `key` at `status`, for `incident`, dated `at` (Unix seconds), kept for the
    /// retention from `now`.
    fn grant_item(
        &self,
        item_key: String,
        target: &Target,
        status: GrantStatus,
        incident: &str,
        at: i64,
        now: OffsetDateTime,
    ) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (KEY.to_owned(), s(item_key)),
            (TARGET.to_owned(), s(TargetKey::canonical(target))),
            (STATUS.to_owned(), s(status_text(status))),
            (INCIDENT.to_owned(), s(incident)),
            (AT.to_owned(), n(at)),
            (EXPIRES_AT.to_owned(), self.expires_at(now)),
        ])
    }

    /// Writes (or rewrites, at a later outcome) an incident's record.
    pub async fn put_incident(
        &self,
        record: &IncidentRecord,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        let json = serde_json::to_string(record)
            .map_err(|e| AwsFailure::unusable_answer("the incident record", &e.to_string()))?;
        self.put()
            .item(KEY, s(record.item_key()))
            .item(INCIDENT, s(&record.incident))
            .item(AT, n(now.unix_timestamp()))
            .item(RECORD, s(json))
            .item(EXPIRES_AT, self.expires_at(now))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB PutItem (incident record)", e))?;
        Ok(())
    }

    /// Records what `incident`'s quarantine step is about to do, before it writes IAM: take
    /// `target` away or rewrite it (`intended`), its original document kept as `original`, on
    /// the principals `principal_ids` names.
    pub async fn record_intent(
        &self,
        incident: &str,
        target: &Target,
        original: &DocumentRef,
        intended: Intended,
        principal_ids: &[PrincipalId],
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        let intended = match intended {
            Intended::TakeAway => "takeAway",
            Intended::Rewrite => "rewrite",
        };
        let principals = serde_json::to_string(principal_ids).expect("ids always serialise");
        self.put()
            .item(KEY, s(intent_key(incident)))
            .item(TARGET, s(TargetKey::canonical(target)))
            .item(INTENDED, s(intended))
            .item(PRINCIPALS, s(principals))
            .item(ORIGINAL, s(&original.sha256))
            .item(CHARACTERS, n(original.characters as i64))
            .item(AT, n(now.unix_timestamp()))
            .item(EXPIRES_AT, self.expires_at(now))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB PutItem (intended quarantine)", e))?;
        Ok(())
    }

    /// Records that the starter is about to start the execution `incident` with an input of
    /// canonical digest `input_digest`, for `START_RECORD_LIFE`: true when recorded (again, for
    /// a duplicate delivery of the same event), false when the name is recorded with another
    /// input (Step Functions would refuse it anyway: nothing is written).
    pub async fn record_start(
        &self,
        incident: &str,
        input_digest: &str,
        now: OffsetDateTime,
    ) -> Result<bool, AwsFailure> {
        let expires_at = now.unix_timestamp() + START_RECORD_LIFE.as_secs() as i64;
        let put = self
            .put()
            .item(KEY, s(start_key(incident)))
            .item(DIGEST, s(input_digest))
            .item(AT, n(now.unix_timestamp()))
            .item(EXPIRES_AT, n(expires_at))
            .condition_expression("attribute_not_exists(#key) OR #digest = :digest")
            .expression_attribute_names("#key", KEY)
            .expression_attribute_names("#digest", DIGEST)
            .expression_attribute_values(":digest", s(input_digest));
        Self::written_if(put, "incident start").await
    }

    /// The starter's record of the execution `incident`, read consistently; `None` when there
    /// is none (or its item is not one: fail closed, not started).
    pub async fn start_record(&self, incident: &str) -> Result<Option<StartRecord>, StepError> {
        let Some(item) = self.read(&start_key(incident), "incident start").await? else {
            return Ok(None);
        };
        let digest = item.get(DIGEST).and_then(|v| v.as_s().ok());
        let expires_at = time_of(item.get(EXPIRES_AT));
        Ok(match (digest, expires_at) {
            (Some(digest), Some(expires_at)) => Some(StartRecord {
                input_digest: digest.clone(),
                expires_at,
            }),
            _ => None,
        })
    }

    /// What an earlier attempt of `incident`'s quarantine step recorded before it wrote IAM,
    /// read consistently; `None` when there is none (or its item is not one: fail closed,
    /// unknown).
    pub async fn intent(&self, incident: &str) -> Result<Option<Intent>, StepError> {
        let Some(item) = self
            .read(&intent_key(incident), "intended quarantine")
            .await?
        else {
            return Ok(None);
        };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let characters = item
            .get(CHARACTERS)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok());
        // Absent: an item from before rewrites were recorded. Unknown: claims nothing.
        let intended = match text(INTENDED).map(String::as_str) {
            None | Some("takeAway") => Intended::TakeAway,
            Some(_) => Intended::Rewrite,
        };
        // Present but unreadable fails the step: reading the ids again instead could name a
        // principal created since (only this step writes these items).
        let principal_ids = match text(PRINCIPALS) {
            None => None,
            Some(json) => Some(serde_json::from_str(json).map_err(|e| {
                AwsFailure::unusable_answer(
                    "DynamoDB GetItem (intended quarantine)",
                    &format!("holds principals that do not read: {e}"),
                )
            })?),
        };
        Ok(match (text(TARGET), text(ORIGINAL), characters) {
            (Some(target), Some(sha256), Some(characters)) => Some(Intent {
                target: target.clone(),
                original: DocumentRef {
                    sha256: sha256.clone(),
                    characters,
                },
                intended,
                principal_ids,
            }),
            _ => None,
        })
    }

    /// Records `key` (the grant on `target`) approved by `incident` (after its restore):
    /// whatever the item held.
    pub async fn record_approved(
        &self,
        key: &GrantKey,
        target: &Target,
        incident: &str,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        let item = self.grant_item(
            key.item_key(),
            target,
            GrantStatus::Approved,
            incident,
            now.unix_timestamp(),
            now,
        );
        self.put()
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB PutItem (approved grant)", e))?;
        Ok(())
    }

    /// Claims `key` for `incident` (its `claim#` item) unless the grant is approved or held by a
    /// claim younger than `stale_after`: one transaction, checking the grant's `grant#` record
    /// (approved, or a claim written there before claims had their own key) and writing the
    /// claim, so of two sweeps at once exactly one claims, and an approval is never claimed. A
    /// record written before `principals_since` (when the latest of the target's principals
    /// was created; an approval, in that second too) was for an earlier principal of the same
    /// name, and holds nothing (`GrantRecord::is_for`).
    pub async fn claim(
        &self,
        key: &GrantKey,
        target: &Target,
        incident: &str,
        now: OffsetDateTime,
        stale_after: Duration,
        principals_since: Option<OffsetDateTime>,
    ) -> Result<Claim, StepError> {
        let stale_before = n(now.unix_timestamp() - stale_after.as_secs() as i64);
        // A claim dated ahead of any sweep's clock holds nothing (`GrantRecord::holds`).
        let ahead = n(now.unix_timestamp() + CLAIM_CLOCK_SKEW.as_secs() as i64);
        // No record is dated before the epoch: without principals, every record counts.
        let earlier = n(principals_since.map_or(0, OffsetDateTime::unix_timestamp));
        let deciding = s(status_text(GrantStatus::Deciding));
        let approved = s(status_text(GrantStatus::Approved));
        let item = self.grant_item(
            key.claim_key(),
            target,
            GrantStatus::Deciding,
            incident,
            now.unix_timestamp(),
            now,
        );
        let built = |e: aws_sdk_dynamodb::error::BuildError| {
            AwsFailure::unusable_answer("a deciding claim", &e.to_string())
        };
        let unapproved = ConditionCheck::builder()
            .table_name(&self.table)
            .key(KEY, s(key.item_key()))
            .condition_expression(
                "attribute_not_exists(#pk) OR (#status = :approved AND #at <= :earlier) OR \
                 (#status = :deciding AND (#at < :earlier OR #at < :stale OR #at > :ahead))",
            )
            .expression_attribute_names("#pk", KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#at", AT)
            .expression_attribute_values(":deciding", deciding)
            .expression_attribute_values(":approved", approved)
            .expression_attribute_values(":stale", stale_before.clone())
            .expression_attribute_values(":ahead", ahead.clone())
            .expression_attribute_values(":earlier", earlier.clone())
            .build()
            .map_err(built)?;
        let claim = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR #at < :earlier OR #at < :stale OR #at > :ahead",
            )
            .expression_attribute_names("#pk", KEY)
            .expression_attribute_names("#at", AT)
            .expression_attribute_values(":stale", stale_before)
            .expression_attribute_values(":ahead", ahead)
            .expression_attribute_values(":earlier", earlier)
            .build()
            .map_err(built)?;
        let items = [
            TransactWriteItem::builder()
                .condition_check(unapproved)
                .build(),
            TransactWriteItem::builder().put(claim).build(),
        ];
        const CALL: &str = "DynamoDB TransactWriteItems (deciding claim)";
        let mut attempt = 1;
        loop {
            let error = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.to_vec()))
                .send()
                .await
            {
                Ok(_) => return Ok(Claim::Claimed),
                Err(error) => error,
            };
            let reasons: Vec<String> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .filter_map(|r| r.code().map(str::to_owned))
                    .collect(),
                _ => return Err(AwsFailure::from_sdk(CALL, error).into()),
            };
            if reasons.iter().any(|code| code == CHECK_FAILED) {
                return Ok(Claim::Held);
            }
            let conflict = reasons.iter().any(|code| code == TRANSACTION_CONFLICT);
            if !conflict || attempt == CONFLICT_ATTEMPTS {
                let mut failure = AwsFailure::from_sdk(CALL, error);
                failure.retryable |= conflict;
                return Err(failure.into());
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            attempt += 1;
        }
    }

    /// Every grant's record, read consistently (a claim made a moment ago counts): of its
    /// approval and claims, the one the sweep goes by (`GrantRecord::either`).
    pub async fn grants(&self) -> Result<HashMap<GrantKey, GrantRecord>, StepError> {
        let pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("begins_with(#pk, :grant) OR begins_with(#pk, :claim)")
            .expression_attribute_names("#pk", KEY)
            .expression_attribute_values(":grant", s("grant#"))
            .expression_attribute_values(":claim", s("claim#"))
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB Scan (grant records)", e))?;
        let mut grants = HashMap::new();
        for item in pages.iter().flat_map(|page| page.items()) {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            // An item of no known status holds nothing: the sweep looks at the grant.
            let Some(status) = [GrantStatus::Approved, GrantStatus::Deciding]
                .into_iter()
                .find(|status| text(STATUS).map(String::as_str) == Some(status_text(*status)))
            else {
                continue;
            };
            let at = time_of(item.get(AT));
            // A claim's item says `deciding`; one that says anything else holds nothing.
            let key = text(KEY).and_then(|k| {
                GrantKey::from_item_key(k).or_else(|| {
                    GrantKey::from_claim_key(k).filter(|_| status == GrantStatus::Deciding)
                })
            });
            let (Some(key), Some(at)) = (key, at) else {
                continue;
            };
            let record = GrantRecord {
                status,
                incident: text(INCIDENT).cloned().unwrap_or_default(),
                at,
                target: text(TARGET).cloned(),
            };
            let record = match grants.remove(&key) {
                Some(other) => record.either(other),
                None => record,
            };
            grants.insert(key, record);
        }
        Ok(grants)
    }

    /// The account's baseline sweep, if one has run.
    pub async fn baseline(&self) -> Result<Option<Baseline>, StepError> {
        let item = self.read(BASELINE_KEY, "baseline").await?;
        Ok(item.map(|item| Baseline {
            sweep: item
                .get(INCIDENT)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default(),
            at: time_of(item.get(AT)),
            memberships: item
                .get(MEMBERSHIPS)
                .and_then(|v| v.as_ss().ok())
                .map(|keys| keys.iter().cloned().collect())
                .unwrap_or_default(),
        }))
    }

    /// Marks `sweep` as the baseline, with the group memberships it accepted, unless one is
    /// marked already (then false): never expires.
    pub async fn mark_baseline(
        &self,
        sweep: &str,
        memberships: &BTreeSet<String>,
        now: OffsetDateTime,
    ) -> Result<bool, StepError> {
        let mut put = self
            .put()
            .item(KEY, s(BASELINE_KEY))
            .item(INCIDENT, s(sweep))
            .item(AT, n(now.unix_timestamp()));
        // A string set cannot be empty: no memberships, no attribute.
        if !memberships.is_empty() {
            put = put.item(
                MEMBERSHIPS,
                AttributeValue::Ss(memberships.iter().cloned().collect()),
            );
        }
        let put = put
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", KEY);
        Ok(Self::written_if(put, "baseline").await?)
    }

    /// The digest of the rules the deciding functions last started with (None: never recorded).
    pub async fn rules_digest(&self) -> Result<Option<String>, StepError> {
        let item = self.read(RULES_KEY, "rules").await?;
        Ok(item
            .as_ref()
            .and_then(|item| item.get(DIGEST))
            .and_then(|v| v.as_s().ok())
            .cloned())
    }

    /// Records `digest` as the rules in force, only over `previous` (None: nothing recorded);
    /// false when another function recorded first. Never expires.
    pub async fn record_rules(
        &self,
        digest: &str,
        previous: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StepError> {
        let put = self
            .put()
            .item(KEY, s(RULES_KEY))
            .item(DIGEST, s(digest))
            .item(AT, n(now.unix_timestamp()))
            .expression_attribute_names("#pk", KEY);
        let put = match previous {
            None => put.condition_expression("attribute_not_exists(#pk)"),
            Some(previous) => put
                .condition_expression("attribute_exists(#pk) AND #digest = :previous")
                .expression_attribute_names("#digest", DIGEST)
                .expression_attribute_values(":previous", s(previous)),
        };
        Ok(Self::written_if(put, "rules").await?)
    }

    /// Gives `key`'s claim (of the grant on `target`) up (its incident could not be started):
    /// the claim is dated the epoch, so the next sweep takes it over. Only while it is still
    /// `incident`'s.
    pub async fn release(
        &self,
        key: &GrantKey,
        target: &Target,
        incident: &str,
    ) -> Result<(), StepError> {
        let item = self.grant_item(
            key.claim_key(),
            target,
            GrantStatus::Deciding,
            incident,
            0,
            OffsetDateTime::now_utc(),
        );
        let put = self
            .put()
            .set_item(Some(item))
            .condition_expression("#incident = :incident AND #status = :deciding")
            .expression_attribute_names("#incident", INCIDENT)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":incident", s(incident))
            .expression_attribute_values(":deciding", s(status_text(GrantStatus::Deciding)));
        // Not written: the claim is another's now, or approved; nothing to give up.
        Self::written_if(put, "release a claim").await?;
        Ok(())
    }

    /// The boundary ledger: `key` (`incident::decision_log::boundary_key`) had the boundary
    /// `boundary_arn` (None: none), its document of digest `digest`, when `source` saw it at
    /// `now`.
    pub async fn put_boundary(
        &self,
        key: &str,
        boundary_arn: Option<&str>,
        digest: Option<&str>,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        self.put()
            .set_item(Some(self.boundary_item(
                key,
                boundary_arn,
                digest,
                source,
                now,
            )))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk("DynamoDB PutItem (boundary ledger)", e))?;
        Ok(())
    }

    fn boundary_item(
        &self,
        key: &str,
        boundary_arn: Option<&str>,
        digest: Option<&str>,
        source: &str,
        now: OffsetDateTime,
    ) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (KEY.to_owned(), s(key)),
            (
                "boundaryArn".to_owned(),
                boundary_arn.map_or(AttributeValue::Null(true), s),
            ),
            ("seenAt".to_owned(), n(now.unix_timestamp())),
            ("source".to_owned(), s(source)),
            (EXPIRES_AT.to_owned(), self.expires_at(now)),
        ]);
        if let Some(digest) = digest {
            item.insert(DOCUMENT_DIGEST.to_owned(), s(digest));
        }
        item
    }

    /// The boundary ledger: each user's or role's boundary (`incident::decision_log::
    /// boundary_key`, its policy's ARN or None, and its document's digest) as `source` saw it
    /// at `now`, in batches of 25 (BatchWriteItem's most), what DynamoDB leaves unprocessed
    /// written again.
    pub async fn put_boundaries(
        &self,
        boundaries: &[LedgerEntry],
        source: &str,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        for batch in boundaries.chunks(25) {
            let mut requests: Vec<WriteRequest> = batch
                .iter()
                .map(|entry| {
                    let item = self.boundary_item(
                        &entry.key,
                        entry.boundary_arn.as_deref(),
                        entry.document_digest.as_deref(),
                        source,
                        now,
                    );
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(|e| {
                            AwsFailure::unusable_answer("a boundary ledger item", &e.to_string())
                        })
                })
                .collect::<Result<_, _>>()?;
            for attempt in 0.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| {
                        AwsFailure::from_sdk("DynamoDB BatchWriteItem (boundary ledger)", e)
                    })?;
                requests = output
                    .unprocessed_items()
                    .and_then(|left| left.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == UNPROCESSED_ATTEMPTS {
                    return Err(AwsFailure::with_code(
                        "DynamoDB BatchWriteItem (boundary ledger)",
                        Some("ProvisionedThroughputExceededException".into()),
                        &format!("{} items still unprocessed", requests.len()),
                    )
                    .into());
                }
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
        }
        Ok(())
    }

    /// What the boundary ledger remembers under `key`: `None` when it has never seen the
    /// principal (or its item is not one it wrote: fail closed, unknown).
    pub async fn boundary_seen(&self, key: &str) -> Result<Option<BoundarySeen>, StepError> {
        let Some(item) = self.read(key, "boundary ledger").await? else {
            return Ok(None);
        };
        let boundary_arn = match item.get("boundaryArn") {
            Some(AttributeValue::S(arn)) => Some(arn.clone()),
            Some(AttributeValue::Null(true)) => None,
            _ => return Ok(None),
        };
        let seen_at = item
            .get("seenAt")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|v| OffsetDateTime::from_unix_timestamp(v).ok());
        // Absent from an entry written before digests were kept: then read as unknown.
        let document_digest = match item.get(DOCUMENT_DIGEST) {
            Some(AttributeValue::S(digest)) => Some(digest.clone()),
            _ => None,
        };
        Ok(seen_at.map(|seen_at| BoundarySeen {
            boundary_arn,
            document_digest,
            seen_at,
        }))
    }

    /// An item's attributes as text, for the tests and tools that read the record (None: no
    /// such item).
    pub async fn item(&self, key: &str) -> Result<Option<HashMap<String, String>>, StepError> {
        let item = self.read(key, "an item").await?;
        Ok(item.map(|item| {
            item.iter()
                .filter_map(|(name, value)| match value {
                    AttributeValue::S(text) | AttributeValue::N(text) => {
                        Some((name.clone(), text.clone()))
                    }
                    _ => None,
                })
                .collect()
        }))
    }
}
