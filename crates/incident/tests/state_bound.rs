//! The workflow's own state stays far below Step Functions' 256 KiB limit (a state over it
//! fails the execution with `States.DataLimitExceeded`, which no Catch catches) for any
//! document IAM accepts: the largest state any path can reach, built the way the workflow builds
//! it, for the largest documents, white-space padded and dense.

#[macro_use]
mod support;

use incident::{Decision, DeletedVersion, DocumentRef, QuarantineAction};
use serde_json::json;
use support::{
    RESTRICTED, analysed, applied_mut, change_of, decision, quarantine_of, read_fixture, restore_of,
};

/// IAM's longest policy document, in characters, white space included (the `PolicyDocument`
/// parameter of CreatePolicy, PutRolePolicy, ...). Quotas count non-white-space characters only.
const IAM_MAX_DOCUMENT: usize = 131_072;

/// The bound asserted: a quarter of Step Functions' 256 KiB.
const BOUND: usize = 64 * 1024;

/// Step Functions keeps an error's cause up to 32,768 characters.
const MAX_CAUSE: usize = 32_768;

/// What the approval API records of a decision at most (`approval::MAX_COMMENT_CHARS`, and
/// the user agent it keeps).
const MAX_COMMENT_CHARS: usize = 1000;
const MAX_USER_AGENT_CHARS: usize = 512;

fn dense() -> String {
    read_fixture("policies", "data-platform-dense-6100.json")
}

/// The dense document padded with white space between its tokens up to IAM's maximum.
fn padded() -> String {
    let dense = dense();
    let statements = dense.matches("{\"Sid\"").count();
    let pad = (IAM_MAX_DOCUMENT - dense.len()) / statements;
    let padded = dense.replace("{\"Sid\"", &format!("{}{{\"Sid\"", " ".repeat(pad)));
    let rest = IAM_MAX_DOCUMENT - padded.len();
    format!("{padded}{}", "\n".repeat(rest))
}

/// White space IAM does not count, inside a condition value of a statement that grants a
/// restricted action: the findings name the condition.
fn spaces_in_a_condition() -> String {
    let dense = dense();
    let with = dense.replacen(
        "\"s3:DeleteBucket\"],",
        "\"s3:DeleteBucket\"],\"Condition\":{\"StringLike\":{\"aws:userid\":\"AIDA*SPACES\"}},",
        1,
    );
    let spaces = IAM_MAX_DOCUMENT - with.len() + "SPACES".len();
    with.replace("SPACES", &" ".repeat(spaces))
}

/// A role's whole inline quota (10,240 characters) of the smallest statements that grant a
/// restricted action: as many findings as a document can make.
fn most_findings() -> String {
    let statement = r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#;
    let count = (10_240 - 40) / (statement.len() + 1);
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![statement; count].join(",")
    )
}

/// The largest state of any path, for an inline policy of `document`: every part any path
/// adds (the assessment, the quarantine with a deleted version, the decision with the longest
/// comment and user agent, the restore, a caught error with the longest cause).
fn largest_state(document: &str) -> usize {
    let assessment = analysed(
        change_of("put-role-policy.json"),
        document,
        None,
        RESTRICTED,
    );
    let mut quarantine = quarantine_of(&assessment);
    let restore = restore_of(&quarantine, false);
    // A managed policy's action is the largest: it also names a version deleted to make room.
    applied_mut(&mut quarantine).action = QuarantineAction::NewDefaultVersion {
        policy_arn: format!("arn:aws:iam::123456789012:policy/{}", "p".repeat(128)),
        attached_to: Some(Box::new(DocumentRef::of("[]"))),
        offending_version_id: "v5".into(),
        quarantine_version_id: "v6".into(),
        deleted_version: Some(Box::new(DeletedVersion {
            version_id: "v1".into(),
            document: DocumentRef::of(document),
        })),
    };
    let mut approval = decision(Decision::Approve);
    approval.comment = Some("c".repeat(MAX_COMMENT_CHARS));
    approval.user_agent = Some("u".repeat(MAX_USER_AGENT_CHARS));
    let state = json!({
        "incident": assessment,
        "approvalTimeoutSeconds": 31_535_999,
        "quarantine": quarantine,
        "approval": approval,
        "restore": restore,
        "error": {"Error": "DocumentUnavailable", "Cause": "x".repeat(MAX_CAUSE)},
    });
    serde_json::to_vec(&state).expect("JSON").len()
}

#[test]
fn the_largest_state_stays_far_below_step_functions_limit_for_any_document() {
    for (case, document) in [
        ("white space padded to 131,072", padded()),
        ("dense, 6,100", dense()),
        (
            "white space inside a condition, 131,072",
            spaces_in_a_condition(),
        ),
        ("a role's whole inline quota of findings", most_findings()),
    ] {
        // GIVEN a document IAM accepts
        // WHEN the workflow carries it on its longest path
        let bytes = largest_state(&document);
        println!(
            "{case}: document {} characters, largest state {bytes} bytes",
            document.len()
        );
        // THEN the state stays under a quarter of 256 KiB
        assert!(bytes < BOUND, "{case}: {bytes} bytes");
    }
}
