//! Opening or deciding an approval without the emailed link. The task token is in the
//! execution's history, which read-only users (and the console) can see; the link's key is a
//! KMS HMAC of it that nobody without the key's use can compute, and it is accepted only
//! exactly as issued. A decision is accepted only as the page's own form posts it.

use approval::{ApprovalKey, TaskToken, link_host};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use remediation::handlers::approval_api::handle_event;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::approval::stack::{Answer, ApprovalStack, Requested, api_event};
use crate::support::API_URL;

/// The key as a form body carries it (`application/x-www-form-urlencoded`).
fn form_encoded(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes()).collect()
}

/// Opens the link and posts Approve with `key`: both answers.
async fn open_and_approve(stack: &ApprovalStack, requested: &Requested, key: &str) -> [Answer; 2] {
    [
        stack.call("open-link.json", &requested.id, key).await,
        stack
            .call("approve.json", &requested.id, &form_encoded(key))
            .await,
    ]
}

/// 403, the page shows nothing of the request, and nothing was decided.
async fn assert_forbidden(
    stack: &ApprovalStack,
    requested: &Requested,
    answers: &[Answer],
    case: &str,
) {
    for page in answers {
        assert_eq!(page.status, 403, "{case}: {}", page.body);
        assert!(!page.body.contains("my-bad-policy-aws-5-mins"), "{case}");
    }
    assert_eq!(
        stack.status(&requested.execution_arn).await,
        "RUNNING",
        "{case}"
    );
}

/// The key as approval keys were derived before they were MACs: the first 24 bytes of
/// SHA-256 of a fixed context and the token.
fn old_derivation(token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"iam-sentinel approval key v1\0")
        .chain_update(token.as_bytes())
        .finalize();
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// An HMAC-SHA-256 of the very message KMS MACs, with a secret the attacker guessed.
fn guessed_hmac(token: &str, secret: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any length");
    mac.update(&ApprovalKey::message(
        link_host(API_URL),
        &TaskToken::new(token),
    ));
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[tokio::test(flavor = "current_thread")]
async fn keys_computed_from_what_the_history_shows_get_403_and_decide_nothing() {
    // GIVEN an approval request, whose task token mallory reads in the execution's history
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-derived-keys", 3600).await;
    let token = requested.token.as_str();
    let key_id = stack.workflow.link_keys.key_id.clone();
    // WHEN she opens the link and posts Approve with keys made from it: the token itself, the
    // old derivation, and HMACs of the MACed message with secrets she could guess
    let cases = [
        (token.to_owned(), "the token itself"),
        (old_derivation(token), "the old derivation"),
        (guessed_hmac(token, b""), "an HMAC with an empty secret"),
        (
            guessed_hmac(token, b"iam-sentinel"),
            "an HMAC with the product's name",
        ),
        (
            guessed_hmac(token, token.as_bytes()),
            "an HMAC keyed with the token",
        ),
        (
            guessed_hmac(token, key_id.as_bytes()),
            "an HMAC keyed with the KMS key's id",
        ),
    ];
    for (key, case) in cases {
        assert_ne!(key, requested.key, "{case}");
        let answers = open_and_approve(&stack, &requested, &key).await;
        // THEN every one gets 403 and decides nothing
        assert_forbidden(&stack, &requested, &answers, case).await;
    }
    // AND the emailed key still opens the request
    let page = stack
        .call("open-link.json", &requested.id, &requested.key)
        .await;
    assert_eq!(page.status, 200);
}

#[tokio::test(flavor = "current_thread")]
async fn the_real_key_written_any_other_way_gets_403_and_decides_nothing() {
    // GIVEN an approval request and its emailed key
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-respelled-key", 3600).await;
    let key = requested.key.as_str();
    let bytes = URL_SAFE_NO_PAD.decode(key).unwrap();
    // The last character carries two spare bits: its neighbour decodes to the same bytes.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = alphabet.find(key.chars().last().unwrap()).unwrap();
    let sibling = format!("{}{}", &key[..42], &alphabet[last ^ 1..=last ^ 1]);
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    assert_eq!(lenient.decode(&sibling).unwrap(), bytes);
    // WHEN the same bytes are written some other way
    let mut cases = vec![
        (format!("{key} "), "a trailing space"),
        (format!(" {key}"), "a leading space"),
        (URL_SAFE.encode(&bytes), "with padding"),
        (STANDARD.encode(&bytes), "standard base64, padded"),
        (sibling, "the spare bits set"),
    ];
    let standard = STANDARD_NO_PAD.encode(&bytes);
    if standard != key {
        cases.push((standard, "standard base64"));
    }
    for (respelled, case) in cases {
        assert_ne!(respelled, key, "{case}");
        let answers = open_and_approve(&stack, &requested, &respelled).await;
        // THEN every spelling gets 403 and decides nothing
        assert_forbidden(&stack, &requested, &answers, case).await;
    }
    // AND the key as issued still opens the request
    let page = stack.call("open-link.json", &requested.id, key).await;
    assert_eq!(page.status, 200);
}

/// approve.json with the real key, posted as `content_type` with `body` (None: no header).
fn posted_as(requested: &Requested, content_type: Option<&str>, body: &str) -> Value {
    let mut event = api_event("approve.json", &requested.id, &requested.key);
    let headers = event["headers"].as_object_mut().unwrap();
    match content_type {
        Some(content_type) => headers.insert("content-type".into(), json!(content_type)),
        None => headers.remove("content-type"),
    };
    event["body"] = json!(STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
    event
}

#[tokio::test(flavor = "current_thread")]
async fn a_decision_posted_as_anything_but_the_pages_form_gets_400_and_decides_nothing() {
    // GIVEN an approval request, and its real key
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-content-type", 3600).await;
    let form = format!("key={}&decision=approve", requested.key);
    let boundary = "----mallory7MA4YWxkTrZu0gW";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"decision\"\r\n\r\napprove\r\n--{boundary}--\r\n",
        requested.key
    );
    let as_json = json!({"key": requested.key, "decision": "approve"}).to_string();
    // WHEN Approve arrives with a body that is not the page's form: the form's very text sent
    // as text/plain (what another site's form can post without asking), multipart, JSON, and
    // no content type at all
    let cases = [
        (Some("text/plain"), form.as_str()),
        (Some("text/plain;charset=UTF-8"), form.as_str()),
        (
            Some(&*format!("multipart/form-data; boundary={boundary}")),
            multipart.as_str(),
        ),
        (Some("application/json"), as_json.as_str()),
        (None, form.as_str()),
    ];
    for (content_type, body) in cases {
        let event = posted_as(&requested, content_type, body);
        let page = Answer::from(handle_event(event, &stack.api()).await);
        // THEN each gets 400 naming the form's content type, and decides nothing
        assert_eq!(page.status, 400, "{content_type:?}: {}", page.body);
        assert!(
            page.body.contains("application/x-www-form-urlencoded"),
            "{content_type:?}: {}",
            page.body
        );
        assert_eq!(stack.status(&requested.execution_arn).await, "RUNNING");
    }
    // AND the same decision posted as the page's form is taken
    let event = posted_as(&requested, Some("application/x-www-form-urlencoded"), &form);
    let page = Answer::from(handle_event(event, &stack.api()).await);
    assert_eq!(page.status, 200, "{}", page.body);
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_opens_its_request_only_at_the_host_it_was_made_for() {
    // A link pointed at another API (request-approval's APPROVAL_URL changed to an API Gateway
    // endpoint of mallory's) hands her a key made for her host: on the real page, a key made
    // for another host than the one it is used at opens nothing (T27). Shown the other way
    // round: the emailed key, made for the real host, used at another.
    // GIVEN an approval request and its emailed key
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-other-host", 3600).await;
    // WHEN the key is used in requests that came to another host, or name none
    for (host, case) in [
        (
            json!("zzzzzzzzzz.execute-api.us-east-1.amazonaws.com"),
            "another API's host",
        ),
        (
            json!("A1B2C3D4E5.execute-api.us-east-1.amazonaws.com.evil.example"),
            "a longer name",
        ),
        (Value::Null, "no host at all"),
    ] {
        let mut answers = Vec::new();
        for fixture in ["open-link.json", "approve.json"] {
            let key = if fixture == "approve.json" {
                form_encoded(&requested.key)
            } else {
                requested.key.clone()
            };
            let mut event = api_event(fixture, &requested.id, &key);
            event["requestContext"]["domainName"] = host.clone();
            answers.push(Answer::from(handle_event(event, &stack.api()).await));
        }
        // THEN it opens nothing and decides nothing
        for page in &answers {
            assert!(
                matches!(page.status, 400 | 403),
                "{case}: {} {}",
                page.status,
                page.body
            );
            assert!(!page.body.contains("my-bad-policy-aws-5-mins"), "{case}");
        }
        assert_eq!(
            stack.status(&requested.execution_arn).await,
            "RUNNING",
            "{case}"
        );
    }
    // AND at its own host, in any case, it still opens the request
    let mut event = api_event("open-link.json", &requested.id, &requested.key);
    event["requestContext"]["domainName"] = json!("A1B2C3D4E5.execute-api.us-east-1.amazonaws.com");
    assert_eq!(
        Answer::from(handle_event(event, &stack.api()).await).status,
        200
    );
}

#[tokio::test]
async fn a_key_made_for_another_host_opens_nothing_even_invoked_directly_naming_that_host() {
    // mallory changed request-approval's APPROVAL_URL to an API of hers: the next email's key
    // is made for her host, and a scanner opening the link hands it to her. She then invokes
    // approval-api directly (no API Gateway in between), with an event naming her host (T27).
    let stack = ApprovalStack::start().await;
    let requested = stack.request("incident-direct-invoke", 3600).await;
    let hers = "zzzzzzzzzz.execute-api.us-east-1.amazonaws.com";
    let mac = stack
        .workflow
        .link_keys
        .generate(&ApprovalKey::message(
            hers,
            &TaskToken::new(requested.token.as_str()),
        ))
        .await
        .unwrap();
    let key = ApprovalKey::from_mac(&mac).unwrap().encoded();
    // WHEN she opens and approves with it, naming her host, then the real one
    for (host, case) in [
        (hers, "her host"),
        (
            "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "the real host",
        ),
    ] {
        for fixture in ["open-link.json", "approve.json"] {
            let sent = if fixture == "approve.json" {
                form_encoded(&key)
            } else {
                key.clone()
            };
            let mut event = api_event(fixture, &requested.id, &sent);
            event["requestContext"]["domainName"] = json!(host);
            let page = Answer::from(handle_event(event, &stack.api()).await);
            // THEN nothing opens and nothing is decided: the key is checked as made for the
            // approval API's own host, whatever host the event names
            assert!(
                matches!(page.status, 400 | 403),
                "{case} {fixture}: {} {}",
                page.status,
                page.body
            );
            assert!(!page.body.contains("my-bad-policy-aws-5-mins"), "{case}");
        }
    }
    assert_eq!(stack.status(&requested.execution_arn).await, "RUNNING");
}
