//! The approval page and every answer the approval API gives, as self-contained HTML: no
//! external assets, no script, one inline style allowed by its hash. maud escapes every value.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use incident::{
    Decision, DecisionRecord, Principal, QuarantineAction, approved_attachments_text,
    boundary_change, describe_actor, describe_origin, describe_quarantine, describe_target,
    grant_lines, pretty, quarantine_effect, visible,
};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::form::MAX_COMMENT_CHARS;
use crate::history::FoundApproval;
use crate::id::ApprovalId;
use crate::request::ApprovalRequest;

const STYLE: &str = "\
body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1b1f24}\
main{max-width:52rem;margin:0 auto;padding:1rem}\
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}section>h2:first-child{margin-top:0}\
section,.card{background:#fff;border:1px solid #d0d5dc;border-radius:8px;padding:1rem;margin:0 0 1rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
ul{padding-left:1.2rem;margin:.25rem 0}li{overflow-wrap:anywhere}\
pre{background:#f6f8fa;border:1px solid #d0d5dc;border-radius:6px;padding:.75rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem;margin:.25rem 0}\
.docs{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.docs>div{min-width:0}pre.doc{max-height:36rem;overflow:auto}\
textarea{width:100%;box-sizing:border-box;min-height:4.5rem;font:inherit;padding:.5rem;border:1px solid #aab2bd;border-radius:6px}\
.buttons{display:flex;gap:1rem;flex-wrap:wrap;margin-top:1rem}\
button{flex:1 1 12rem;font:inherit;font-weight:600;padding:.9rem 1rem;border-radius:8px;border:0;cursor:pointer;color:#fff}\
button.approve{background:#1a7f37}button.deny{background:#b42318}\
.deadline{font-weight:600}.note{color:#57606a;font-size:.9rem}\
.status{border-left:6px solid #57606a}.status.good{border-color:#1a7f37}.status.bad{border-color:#b42318}\
@media (max-width:40rem){.docs{grid-template-columns:1fr}dl{grid-template-columns:1fr}dt{margin-top:.5rem}pre{font-size:.72rem;padding:.5rem}}";

/// The Content-Security-Policy: nothing may load, run or frame; only our own style applies and
/// the form posts only to its own origin.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

/// The texts of the request's documents, read back from the document store and checked against
/// the hashes the request names (the approval API refuses to show a page otherwise).
pub struct ReviewDocuments {
    pub original: String,
    /// `None` when the policy was detached instead.
    pub quarantined: Option<String>,
    /// For a managed policy's new default version, the users, roles and groups it was attached
    /// to when quarantined: where approving also approves it. `None` when the record keeps no
    /// such list.
    pub attached_to: Option<Vec<Principal>>,
}

/// What the approval API answers.
pub enum Page<'a> {
    /// The request, both documents and the two buttons (GET of an open approval).
    Review {
        found: &'a FoundApproval,
        id: &'a ApprovalId,
        key: &'a str,
        /// What approving would do to the policy as it is now (`RestorePlan::approve_would`);
        /// `None` when IAM could not be read just now.
        approve_would: Option<&'a str>,
        documents: &'a ReviewDocuments,
    },
    /// The decision reached Step Functions.
    Recorded {
        decision: Decision,
    },
    AlreadyDecided {
        approval: &'a DecisionRecord,
        at: OffsetDateTime,
    },
    Expired {
        deadline: Option<OffsetDateTime>,
    },
    Closed,
    /// A newer change to the same target started its own incident, which asks instead.
    Superseded {
        /// The newer incident's execution name, when the history records it.
        by: Option<&'a str>,
    },
    NotFound,
    WrongKey,
    BadRequest(String),
    MethodNotAllowed,
    /// Step Functions could not be reached or refused: nothing was decided.
    Unavailable,
    /// Our own records cannot be read: nothing was decided.
    Broken(String),
}

/// An HTTP answer, independent of how it is delivered (API Gateway or the local server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Page<'_> {
    pub fn status(&self) -> u16 {
        match self {
            Page::Review { .. } | Page::Recorded { .. } => 200,
            Page::BadRequest(_) => 400,
            Page::WrongKey => 403,
            Page::NotFound => 404,
            Page::MethodNotAllowed => 405,
            Page::AlreadyDecided { .. } => 409,
            Page::Expired { .. } | Page::Closed | Page::Superseded { .. } => 410,
            Page::Broken(_) => 500,
            Page::Unavailable => 503,
        }
    }

    pub fn render(&self) -> Response {
        let mut headers = vec![
            ("content-type", "text/html; charset=utf-8".to_owned()),
            ("cache-control", "no-store".to_owned()),
            ("content-security-policy", CONTENT_SECURITY_POLICY.clone()),
            ("x-content-type-options", "nosniff".to_owned()),
            ("x-frame-options", "DENY".to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
        ];
        if matches!(self, Page::MethodNotAllowed) {
            headers.push(("allow", "GET, POST".to_owned()));
        }
        let (title, content) = self.content();
        Response {
            status: self.status(),
            headers,
            body: layout(&title, content).into_string(),
        }
    }

    fn content(&self) -> (String, Markup) {
        match self {
            Page::Review {
                found,
                id,
                key,
                approve_would,
                documents,
            } => review(found, id, key, *approve_would, documents),
            Page::Recorded { decision } => recorded(*decision),
            Page::AlreadyDecided { approval, at } => already_decided(approval, *at),
            Page::Expired { deadline } => status_card(
                "The deadline has passed",
                false,
                &format!(
                    "Nobody decided before {}, so the quarantine stayed, and this link can no \
                     longer decide. The original document is kept in the document store, under \
                     the SHA-256 the \"no decision in time\" email gives; restore it by hand if \
                     it is still wanted.",
                    deadline.map_or("the deadline".into(), utc)
                ),
            ),
            Page::Closed => status_card(
                "This approval request is closed",
                false,
                "The workflow is no longer waiting for this request: it failed, was stopped, or \
                 sent a newer request by email. This link decided nothing; the quarantine stays \
                 unless a newer request is approved.",
            ),
            Page::Superseded { by } => status_card(
                "A newer change superseded this request",
                false,
                &format!(
                    "The same policy was changed again after this request was sent, and that \
                     newer change started an incident of its own ({}), which emailed its own \
                     approval request. Decide there: the decision applies to the policy \
                     as it is now. This link decided nothing, and the quarantine stays until the \
                     newer request is decided.",
                    by.map_or_else(
                        || "see its email".to_owned(),
                        |name| format!("execution {name}")
                    )
                ),
            ),
            Page::NotFound => status_card(
                "No such approval",
                false,
                "There is no approval request with this id. Check that the whole link from the \
                 email was opened.",
            ),
            Page::WrongKey => status_card(
                "This link is not valid",
                false,
                "The key in this link does not belong to this approval request. Open the link \
                 from the email exactly as it was sent.",
            ),
            Page::BadRequest(problem) => status_card(
                "The request is malformed",
                false,
                &format!("Nothing was decided: {problem}."),
            ),
            Page::MethodNotAllowed => status_card(
                "Not allowed",
                false,
                "Approval links are opened (GET) and decided with the page's buttons (POST).",
            ),
            Page::Unavailable => status_card(
                "Nothing was decided: AWS did not answer",
                false,
                "Step Functions could not be reached or refused the call, so your decision was \
                 not recorded. It is safe to try again: go back and press the button once more.",
            ),
            Page::Broken(problem) => status_card(
                "Nothing was decided: the request cannot be read",
                false,
                &format!(
                    "{}. The quarantine stays; the execution's history has the details.",
                    capitalised(problem)
                ),
            ),
        }
    }
}

fn layout(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { "iam-sentinel: " (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (content) } }
        }
    }
}

fn status_card(title: &str, good: bool, message: &str) -> (String, Markup) {
    let markup = html! {
        h1 { (title) }
        div class={ "card status " (if good { "good" } else { "bad" }) } { p { (message) } }
    };
    (title.to_owned(), markup)
}

fn review(
    found: &FoundApproval,
    id: &ApprovalId,
    key: &str,
    approve_would: Option<&str>,
    documents: &ReviewDocuments,
) -> (String, Markup) {
    let request: &ApprovalRequest = &found.request;
    let change = request.incident.change();
    let target = change.map_or("unknown policy".into(), describe_target);
    let title = format!("Approval needed: {target}");
    let boundary = boundary_change(Some(&request.incident));
    let mut grants = request.findings().map(grant_lines).unwrap_or_default();
    grants.extend(request.group_grants().iter().map(ToString::to_string));
    grants.extend(
        boundary
            .iter()
            .flat_map(|b| b.added.iter().map(ToString::to_string)),
    );
    let quarantine = &request.quarantine;
    let applied = quarantine.applied();
    let edits = applied.map_or(&[][..], |q| q.edits.as_slice());
    let markup = html! {
        h1 { (title) }
        section {
            p { "A change granted restricted actions. Those grants are quarantined until you decide." }
            @if let Some(deadline) = found.deadline {
                p class="deadline" { "Decide before " (utc(deadline)) ". With no decision by then, the quarantine stays." }
            }
            dl {
                dt { "Policy" } dd { (target) }
                @if let Some(change) = change {
                    dt { "Change" } dd { (change.event_name) }
                    dt { "By" } dd { (describe_actor(change)) }
                    dt { "At" } dd { (change.event_time) }
                    dt { "From" } dd { (describe_origin(change)) }
                    dt { "Account" } dd { (change.account) " in " (change.region) }
                }
                @if let Some(boundary) = boundary {
                    dt { "Boundary before" } dd { (boundary.describe_previous()) }
                    dt { "Boundary after" } dd { (boundary.now.as_deref().unwrap_or("none (deleted)")) }
                }
            }
        }
        section {
            h2 { "Restricted actions granted" }
            ul { @for line in &grants { li { (line) } } }
            h2 { "What the quarantine did" }
            p { (describe_quarantine(quarantine)) }
            @if let Some(applied) = applied { p { (quarantine_effect(applied)) } }
            @if let Some(attached) = &documents.attached_to {
                p class="attachments" { (approved_attachments_text(attached)) }
            }
            @if !edits.is_empty() {
                ul { @for edit in edits { li { (edit) } } }
            }
        }
        // Posts to the page's own path (`<id>` relative to `approvals/<id>?key=...`) without the
        // query string: the key travels in the body.
        form method="post" action=(id.path_segment()) class="card" {
            input type="hidden" name="key" value=(key);
            label for="comment" { "Comment (optional, recorded with your decision)" }
            textarea id="comment" name="comment" maxlength=(MAX_COMMENT_CHARS) {}
            div class="buttons" {
                button class="approve" type="submit" name="decision" value="approve" { "Approve: restore the change" }
                button class="deny" type="submit" name="decision" value="deny" { "Deny: keep the quarantine" }
            }
            p class="approve-would" { (approve_would.unwrap_or("What approving would do cannot be read from IAM just now: approve puts the policy back exactly as the change made it, if the quarantine is still what is in force then.")) }
            p class="note" { "Deny keeps the quarantine; the original stays recoverable. The first decision recorded wins. Approve restores only while the quarantine is what IAM holds: it never undoes a later change." }
        }
        div class="docs" {
            div {
                h2 { "Original (as the change made it)" }
                (document_view(&documents.original))
            }
            div {
                h2 { "Quarantined (in force now)" }
                @match &documents.quarantined {
                    Some(quarantined) => (document_view(quarantined)),
                    None => pre { (match applied.map(|q| &q.action) {
                        Some(QuarantineAction::RemovedFromGroup { .. }) => "the user was removed from the group; no document changed",
                        Some(QuarantineAction::InlineDeleted { .. }) => "the inline policy was deleted: no rewrite fits the principal's inline-policy quota",
                        _ => "the policy was detached; no document changed",
                    }) },
                }
            }
        }
        p class="note" { "Incident " (request.incident.id) " · execution " (request.execution_arn) }
    };
    (title, markup)
}

/// A document indented for reading, in a box that scrolls (a policy can run to thousands of
/// lines), with its size as written: Approve restores it exactly as written. An escape such as
/// `\u202e` is the character itself once indented, so invisible and direction-changing
/// characters are written out by their code points, never obeyed (T7).
fn document_view(text: &str) -> Markup {
    let indented = pretty(text);
    let shown = visible(&indented);
    html! {
        p class="note" {
            (text.chars().count()) " characters as written"
            @if indented.len() < text.len() { "; shown here without its extra white space" }
            @if shown != indented { "; invisible and direction-changing characters shown as <U+…>" }
        }
        pre class="doc" { (shown) }
    }
}

fn recorded(decision: Decision) -> (String, Markup) {
    match decision {
        Decision::Approve => status_card(
            "Approved",
            true,
            "Your approval is recorded. The workflow puts the original policy back now, and an \
             email confirms it. If someone changed the policy after the quarantine, their change \
             stands and the email says so.",
        ),
        _ => status_card(
            "Denied",
            true,
            "Your decision is recorded: the quarantine stays. The original document stays \
             recoverable (in the document store, under the SHA-256 the outcome email and the \
             incident's event give); an email confirms the outcome.",
        ),
    }
}

fn already_decided(approval: &DecisionRecord, at: OffsetDateTime) -> (String, Markup) {
    let decision = match approval.decision {
        Decision::Approve => {
            "approved (the workflow restores the original; the outcome email says whether it did)"
        }
        Decision::Deny => "denied (the quarantine stays)",
        Decision::Unrecognised => "closed with an unrecognised decision (the quarantine stays)",
    };
    let title = "Already decided".to_owned();
    let markup = html! {
        h1 { (title) }
        div class="card status bad" {
            p { "This request was already " (decision) " at " (decided_at(approval, at)) ". This click changed nothing: the first decision recorded wins." }
            dl {
                @if let Some(ip) = &approval.source_ip { dt { "From" } dd { (visible(ip)) } }
                @if let Some(agent) = &approval.user_agent { dt { "Browser" } dd { (visible(agent)) } }
                @if let Some(comment) = &approval.comment { dt { "Comment" } dd { (visible(comment)) } }
            }
        }
    };
    (title, markup)
}

/// An error message (lower case, as errors are written) as the start of a sentence.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// When a decision was taken, written like every other time on the pages: as the decision says
/// (RFC 3339), else when the history recorded it.
fn decided_at(approval: &DecisionRecord, recorded: OffsetDateTime) -> String {
    approval
        .decided_at
        .as_deref()
        .and_then(|at| OffsetDateTime::parse(at, &Rfc3339).ok())
        .map_or_else(|| utc(recorded), utc)
}

/// "2026-11-22 12:06:52 UTC".
pub fn utc(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_else(|_| at.to_string())
}
