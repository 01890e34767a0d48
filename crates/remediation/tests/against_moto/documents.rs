//! The document store (DynamoDB in moto): a document comes back exactly as it was kept, and a
//! restore refuses a document that is missing or not the one the state's hash names, even when
//! whoever can write the table has put another in its place.

use aws_sdk_dynamodb::types::AttributeValue;
use incident::{DocumentRef, PrincipalKind, QuarantineRecord};
use remediation::handlers::quarantine::quarantine;
use remediation::handlers::restore::restore;

use crate::support::*;

/// carol's inline policy (put-user-policy.json), quarantined: the record, and carol's policy
/// as IAM holds it now (the quarantined document).
async fn carols_quarantined_policy(moto: &Moto) -> (QuarantineRecord, String) {
    let carol = principal(PrincipalKind::User, "carol");
    let event = event("put-user-policy.json");
    let original = document_of(&event);
    create_principal(&moto.iam_client(), &carol).await;
    put_inline_policy(&moto.iam_client(), &carol, "carol-power-user", &original).await;
    moto.keep(&original).await;
    let record = quarantine(
        INCIDENT,
        assessment_for(change_of(&event)),
        &quarantine_deps(moto),
    )
    .await
    .expect("quarantined");
    let now = inline_policy(&moto.iam_client(), &carol, "carol-power-user").await;
    (record, now)
}

/// Restores `record` and expects it to fail closed: `DocumentUnavailable`, and carol's policy
/// still `quarantined`. Returns the error's message.
async fn refused_restore(moto: &Moto, record: QuarantineRecord, quarantined: &str) -> String {
    let error = restore(record, &restore_deps(moto))
        .await
        .expect_err("the restore must refuse");
    assert_eq!(error.error_type(), "DocumentUnavailable", "{error}");
    let carol = principal(PrincipalKind::User, "carol");
    assert_eq!(
        inline_policy(&moto.iam_client(), &carol, "carol-power-user").await,
        quarantined,
        "carol's policy is no longer the quarantine"
    );
    error.to_string()
}

#[tokio::test]
async fn the_longest_document_iam_accepts_comes_back_exactly() {
    // GIVEN a document of 131,072 characters, white space and Latin-1 letters included (IAM
    // accepts U+0009, U+000A, U+000D and U+0020 to U+00FF)
    let moto = Moto::start();
    let dense = policy("data-platform-dense-6100.json");
    let padding = "\u{00e9}\t \r\n".repeat((131_072 - dense.len()) / 5);
    let text = format!("{dense}{padding}");
    // WHEN it is kept and read back
    let reference = moto.documents().put(&text).await.unwrap();
    let read = moto.documents().get(&reference).await.unwrap();
    // THEN it is the same text, character for character
    assert_eq!(reference, DocumentRef::of(&text));
    assert!(read == text, "the text read back differs");
}

#[tokio::test]
async fn a_document_replaced_in_the_store_is_refused_and_nothing_is_restored() {
    // GIVEN a quarantined inline policy
    let moto = Moto::start();
    let (record, quarantined) = carols_quarantined_policy(&moto).await;
    let original = &applied(&record).original_document;
    // AND someone who can write the table replaced the original under its key with a document
    // that grants everything
    moto.documents()
        .client
        .put_item()
        .table_name(DOCUMENT_TABLE)
        .item("sha256", AttributeValue::S(original.sha256.clone()))
        .item(
            "document",
            AttributeValue::S(policy("administrator-access.json")),
        )
        .send()
        .await
        .unwrap();
    // WHEN approval restores it
    let error = refused_restore(&moto, record, &quarantined).await;
    // THEN it names the alteration
    assert!(error.contains("altered"), "{error}");
}

#[tokio::test]
async fn a_document_missing_from_the_store_fails_the_restore_closed() {
    // GIVEN a quarantined inline policy whose original is gone from the store
    let moto = Moto::start();
    let (record, quarantined) = carols_quarantined_policy(&moto).await;
    let original = &applied(&record).original_document;
    moto.documents()
        .client
        .delete_item()
        .table_name(DOCUMENT_TABLE)
        .key("sha256", AttributeValue::S(original.sha256.clone()))
        .send()
        .await
        .unwrap();
    // WHEN approval restores it
    let error = refused_restore(&moto, record.clone(), &quarantined).await;
    // THEN it names the missing document
    assert!(error.contains(&original.sha256), "{error}");
}
