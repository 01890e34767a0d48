//! The approval API behind API Gateway (HTTP API, payload 2.0): `GET /approvals/{approvalId}`
//! shows the request and never decides; `POST` records the decision with SendTaskSuccess after
//! checking the key against the token in the execution's history. Every answer is a page.

use std::time::Duration;

use approval::{
    ApprovalId, ApprovalKey, ApprovalRequest, ApprovalStatus, FoundApproval, Lookup, Page,
    Response, ReviewDocuments, approval_requests, decision_message, encode_proof, find_approval,
    parse_decision_form,
};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue, Method};
use base64::Engine;
use incident::DecisionRecord;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::documents::DocumentStore;
use crate::error::StepError;
use crate::executions::{Executions, Sent};
use crate::handlers::restore::forecast_restore;
use crate::iam::IamPolicies;
use crate::kms::MacKey;

pub struct ApprovalApiDeps {
    pub executions: Executions,
    /// Reads (only) what approving would restore, for the review page.
    pub iam: IamPolicies,
    /// The request's documents, shown on the review page once checked against its hashes.
    pub documents: DocumentStore,
    /// Checks a link's key: the MAC request-approval made of the request's token.
    pub link_keys: MacKey,
    /// Proves a decision was taken here: restore-policy restores nothing without it.
    pub decision_keys: MacKey,
    /// The approval API's own host (`approval::link_host` of `APPROVAL_URL`): a link's key is
    /// checked as made for it, never for the host a request names, which a direct invocation
    /// of this function writes itself (T27).
    pub host: String,
}

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// A browser's user agent is kept as context for the decision, within reason.
const MAX_USER_AGENT_CHARS: usize = 512;

/// After sending a decision, how often to look for the winner in the history.
const WINNER_LOOKS: u32 = 5;
const WINNER_LOOK_INTERVAL: Duration = Duration::from_millis(200);

/// The function's entry: an event that is not an HTTP API request gets a 400 page too.
pub async fn handle_event(
    event: serde_json::Value,
    deps: &ApprovalApiDeps,
) -> ApiGatewayV2httpResponse {
    match serde_json::from_value::<ApiGatewayV2httpRequest>(event) {
        Ok(request) => handle(request, deps).await,
        Err(e) => {
            tracing::warn!(error = %e, "not an API Gateway HTTP API (2.0) event");
            to_api_gateway(
                Page::BadRequest(format!(
                    "the request is not an API Gateway HTTP API event: {e}"
                ))
                .render(),
            )
        }
    }
}

pub async fn handle(
    request: ApiGatewayV2httpRequest,
    deps: &ApprovalApiDeps,
) -> ApiGatewayV2httpResponse {
    // Boxed: the answer's future nests deep enough to overflow the compiler's layout limit.
    let response = Box::pin(answer(&request, deps)).await;
    // Method, id and status only: the key is in the query string or the body, never logged.
    tracing::info!(
        method = %request.request_context.http.method,
        approval_id = request.path_parameters.get("approvalId").map(String::as_str).unwrap_or(""),
        status = response.status,
        "approval API answered"
    );
    to_api_gateway(response)
}

async fn answer(request: &ApiGatewayV2httpRequest, deps: &ApprovalApiDeps) -> Response {
    let id = match request
        .path_parameters
        .get("approvalId")
        .map(|id| ApprovalId::parse(id))
    {
        Some(Ok(id)) => id,
        Some(Err(e)) => return Page::BadRequest(e.to_string()).render(),
        None => return Page::NotFound.render(),
    };
    match request.request_context.http.method {
        Method::GET => show(request, &id, deps).await,
        Method::POST => decide(request, &id, deps).await,
        _ => Page::MethodNotAllowed.render(),
    }
}

/// GET: the review page of an open request, or why it is not open. Never decides.
async fn show(
    request: &ApiGatewayV2httpRequest,
    id: &ApprovalId,
    deps: &ApprovalApiDeps,
) -> Response {
    let Some(key) = request.query_string_parameters.first("key") else {
        return Page::BadRequest("the link has no key; open the whole link from the email".into())
            .render();
    };
    let host = match host_of(request, deps) {
        Ok(host) => host,
        Err(page) => return page,
    };
    match lookup(deps, id, Opening::Key { key, host }).await {
        Ok((found, _)) if found.status == ApprovalStatus::Open => {
            let documents = match review_documents(&found.request, deps).await {
                Ok(documents) => documents,
                Err(page) => return page,
            };
            let approve_would = approve_would(&found, deps).await;
            Page::Review {
                found: &found,
                id,
                key,
                approve_would: approve_would.as_deref(),
                documents: &documents,
            }
            .render()
        }
        Ok((found, _)) => not_open(&found),
        Err(page) => page,
    }
}

/// What approving would do to the policy as IAM holds it now: the Restore step's own plan,
/// with IAM's count quotas forecast, read only. `None` (the page says so) when IAM cannot be
/// read just now: the page still opens.
async fn approve_would(found: &FoundApproval, deps: &ApprovalApiDeps) -> Option<String> {
    match forecast_restore(found.request.quarantine.clone(), &deps.iam, &deps.documents).await {
        Ok(planned) => Some(planned.plan.approve_would()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell what approving would do");
            None
        }
    }
}

/// The texts of the request's documents from the document store, or the page that says why they
/// cannot be shown: a document missing or altered is never shown (nor decided on).
async fn review_documents(
    request: &ApprovalRequest,
    deps: &ApprovalApiDeps,
) -> Result<ReviewDocuments, Response> {
    let Some(applied) = request.quarantine.applied() else {
        return Err(Page::Broken("the approval request names no quarantine".into()).render());
    };
    let read = async {
        let original = deps.documents.get(&applied.original_document).await?;
        let quarantined = match &applied.quarantined_document {
            Some(quarantined) => Some(deps.documents.get(quarantined).await?),
            None => None,
        };
        let attached_to = deps
            .documents
            .attached_principals(applied.action.attachments())
            .await?;
        Ok::<_, StepError>(ReviewDocuments {
            original,
            quarantined,
            attached_to,
        })
    };
    read.await.map_err(|error| match error {
        StepError::Document(problem) => {
            tracing::error!(incident = %request.incident.id, error = %problem, "a document of the approval request cannot be shown");
            Page::Broken(problem.to_string()).render()
        }
        other => {
            tracing::warn!(incident = %request.incident.id, error = %other, "cannot read the document store");
            Page::Unavailable.render()
        }
    })
}

/// POST: checks the key and sends the decision; a 200 only once Step Functions has it.
async fn decide(
    request: &ApiGatewayV2httpRequest,
    id: &ApprovalId,
    deps: &ApprovalApiDeps,
) -> Response {
    let form = match body_bytes(request)
        .and_then(|body| parse_decision_form(&body).map_err(|e| e.to_string()))
    {
        Ok(form) => form,
        Err(problem) => return Page::BadRequest(problem).render(),
    };
    let host = match host_of(request, deps) {
        Ok(host) => host,
        Err(page) => return page,
    };
    let opening = Opening::Key {
        key: &form.key,
        host,
    };
    let (found, opened) = match lookup(deps, id, opening).await {
        Ok((found, opened)) if found.status == ApprovalStatus::Open => (found, opened),
        Ok((found, _)) => return not_open(&found),
        Err(page) => return page,
    };
    let http = &request.request_context.http;
    let mut decision = DecisionRecord {
        decision: form.decision,
        // To the nanosecond: it tells two decisions apart when the history shows which won.
        decided_at: OffsetDateTime::now_utc().format(&Rfc3339).ok(),
        source_ip: http.source_ip.clone(),
        user_agent: http
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
        comment: form.comment,
        proof: None,
    };
    let execution_arn = deps.executions.state_machine.execution_arn(id);
    match deps
        .decision_keys
        .generate(&decision_message(
            &execution_arn,
            &found.request.task_token,
            &decision,
        ))
        .await
    {
        Ok(mac) => decision.proof = Some(encode_proof(&mac)),
        Err(failure) => {
            tracing::warn!(approval_id = %id, error = %failure.message, "the decision could not be proven");
            return Page::Unavailable.render();
        }
    }
    match deps
        .executions
        .send_decision(&found.request.task_token, &decision)
        .await
    {
        Ok(Sent::Recorded) => settle(deps, id, opened, &decision, true).await,
        Ok(Sent::NotOpen) => settle(deps, id, opened, &decision, false).await,
        Err(failure) => {
            tracing::warn!(approval_id = %id, error = %failure.message, "the decision did not reach Step Functions, or its answer did not come back");
            settle(deps, id, opened, &decision, false).await
        }
    }
}

/// Says which decision won, from the history: `ours` when it is there, whatever the call's
/// answer said (a call whose answer timed out after Step Functions took it fails, and the SDK's
/// retry of it is told the token is spent), or another one recorded first. Only the decision
/// the workflow goes on with gets a 200, even where SendTaskSuccess accepts a spent token (moto
/// does). Until the history shows a winner, a decision Step Functions `accepted` stands (it
/// accepts one per token) and one it did not has decided nothing, so a retry is safe (503).
async fn settle(
    deps: &ApprovalApiDeps,
    id: &ApprovalId,
    opened: usize,
    ours: &DecisionRecord,
    accepted: bool,
) -> Response {
    let mut unread = None;
    for _ in 0..WINNER_LOOKS {
        match lookup(deps, id, Opening::Request(opened)).await {
            Ok((found, _)) => match &found.status {
                ApprovalStatus::Open => {}
                ApprovalStatus::Decided { approval, .. } if approval == ours => {
                    return recorded(id, approval);
                }
                _ => return not_open(&found),
            },
            // The history may read on the next look (it may lag, too).
            Err(page) => unread = Some(page),
        }
        tokio::time::sleep(WINNER_LOOK_INTERVAL).await;
    }
    match (accepted, unread) {
        (true, _) => recorded(id, ours),
        (false, Some(page)) => page,
        (false, None) => Page::Unavailable.render(),
    }
}

fn recorded(id: &ApprovalId, decision: &DecisionRecord) -> Response {
    tracing::info!(approval_id = %id, decision = ?decision.decision, "decision recorded");
    Page::Recorded {
        decision: decision.decision,
    }
    .render()
}

/// Which request a lookup opens: the one whose token the link's key is the MAC of (KMS says),
/// or one found before (its place in the history stays: a history only grows).
enum Opening<'a> {
    /// A link's key, and the host the request came to (the key is made for one host).
    Key {
        key: &'a str,
        host: &'a str,
    },
    Request(usize),
}

/// Finds the approval `opening` names, and its place in the history, or the page that says why
/// there is none.
async fn lookup(
    deps: &ApprovalApiDeps,
    id: &ApprovalId,
    opening: Opening<'_>,
) -> Result<(FoundApproval, usize), Response> {
    let events = match deps.executions.history(id).await {
        Ok(Some(events)) => events,
        Ok(None) => return Err(Page::NotFound.render()),
        Err(failure) => {
            tracing::warn!(approval_id = %id, error = %failure.message, "cannot read the execution history");
            return Err(Page::Unavailable.render());
        }
    };
    let matched = match opening {
        Opening::Key { key, host } => matching_request(deps, &events, key, host).await?,
        Opening::Request(request) => Some(request),
    };
    match find_approval(&events, matched, OffsetDateTime::now_utc()) {
        Ok(Lookup::Found(found)) => Ok((*found, matched.unwrap_or_default())),
        Ok(Lookup::NoRequest) => Err(Page::NotFound.render()),
        Ok(Lookup::WrongKey) => {
            tracing::warn!(approval_id = %id, "wrong approval key");
            Err(Page::WrongKey.render())
        }
        Err(unreadable) => {
            tracing::error!(approval_id = %id, error = %unreadable, "unreadable approval request");
            Err(Page::Broken(unreadable.to_string()).render())
        }
    }
}

/// The host a link's key is checked as made for: the approval API's own, and only for a
/// request that came there (as API Gateway names it, in any case).
fn host_of<'d>(
    request: &ApiGatewayV2httpRequest,
    deps: &'d ApprovalApiDeps,
) -> Result<&'d str, Response> {
    match request.request_context.domain_name.as_deref() {
        None | Some("") => Err(Page::BadRequest("the request names no host".into()).render()),
        Some(host) if host.eq_ignore_ascii_case(&deps.host) => Ok(&deps.host),
        Some(_) => Err(Page::BadRequest(
            "the request was not made to the approval page's own address".into(),
        )
        .render()),
    }
}

/// Which approval request in the history the link's key opens: the one whose token's MAC, for
/// this host, it is. A key not written exactly as the email wrote it opens none.
async fn matching_request(
    deps: &ApprovalApiDeps,
    events: &[approval::HistoryEvent],
    key: &str,
    host: &str,
) -> Result<Option<usize>, Response> {
    let requests = match approval_requests(events) {
        Ok(requests) => requests,
        Err(unreadable) => {
            tracing::error!(error = %unreadable, "unreadable approval request");
            return Err(Page::Broken(unreadable.to_string()).render());
        }
    };
    let Ok(key) = ApprovalKey::parse(key) else {
        return Ok(None);
    };
    for request in requests {
        match deps
            .link_keys
            .verify(&ApprovalKey::message(host, &request.token), key.as_bytes())
            .await
        {
            Ok(true) => return Ok(Some(request.index)),
            Ok(false) => {}
            Err(failure) => {
                tracing::warn!(error = %failure.message, "cannot check the approval key");
                return Err(Page::Unavailable.render());
            }
        }
    }
    Ok(None)
}

/// The page for a request that can no longer be decided.
fn not_open(found: &FoundApproval) -> Response {
    match &found.status {
        ApprovalStatus::Decided { approval, at } => Page::AlreadyDecided { approval, at: *at },
        ApprovalStatus::Expired => Page::Expired {
            deadline: found.deadline,
        },
        ApprovalStatus::Superseded { by } => Page::Superseded { by: by.as_deref() },
        ApprovalStatus::Closed | ApprovalStatus::Open => Page::Closed,
    }
    .render()
}

/// The form body; HTTP APIs base64-encode it. Only the page's own form's content type is
/// accepted: a body of any other type is not a decision taken on the page.
fn body_bytes(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, String> {
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        return Err(format!(
            "the decision must be sent by the page's form ({FORM_CONTENT_TYPE}), not as {:?}",
            approval::echoed(content_type)
        ));
    }
    let body = request.body.as_deref().unwrap_or_default();
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the request body is not valid base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

fn to_api_gateway(response: Response) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = response.status.into();
    answer.headers = headers;
    answer.body = Some(Body::Text(response.body));
    answer.is_base64_encoded = false;
    answer
}
