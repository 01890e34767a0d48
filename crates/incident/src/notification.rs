//! Texts for people: the outcome notification, and the sections and one-line descriptions the
//! approval email and page share with it.

use serde_json::Value;

use policy_engine::Finding;
use policy_engine::document::SidLabel;

use crate::boundary::BoundaryChange;
use crate::event::{EventFacts, PolicyChange, Principal, Target};
use crate::history::SUPERSEDED;
use crate::name::IncidentName;
use crate::outcome::{Outcome, OutcomeState};
use crate::record::{
    AddedGrant, AppliedQuarantine, Assessment, DocumentRef, QuarantineAction, QuarantineRecord,
    TrustReport, Verdict, current_omitted_grants,
};

/// SNS refuses subjects of 100 characters or more.
pub const SUBJECT_LIMIT: usize = 99;

/// One email: SNS's subject and body.
pub struct Notification {
    pub subject: String,
    pub body: String,
}

/// The notification for people.
pub fn notification(outcome: Outcome, state: &OutcomeState, execution_arn: &str) -> Notification {
    let change = state.change();
    let change = change.as_ref();
    let facts = state.facts();
    let about = match (change, &facts) {
        (Some(change), _) => describe_target(change),
        (None, Some(facts)) => describe_facts_target(facts),
        (None, None) if state.is_made_up_start() => "an execution started by hand".into(),
        (None, None) => "unknown policy".into(),
    };
    let subject = format!("iam-sentinel: {} ({about})", outcome.headline());
    let mut body = format!("{}\n\n{}\n", outcome.headline(), outcome.what_happens());
    if state.is_made_up_start() {
        body += MADE_UP_START;
    }
    if let Some(change) = change {
        body += &change_section(change);
    }
    body += &boundary_section(state.incident.as_ref());
    if let Some(facts) = &facts {
        body += &facts_section(facts);
    }
    if let Some(findings) = state.findings().filter(|f| !f.is_empty()) {
        body += &grants_section(
            findings,
            current_omitted_grants(state.quarantine.as_ref(), state.incident.as_ref()),
        );
    }
    if let Some(grants) = state.group_grants() {
        body += &group_grants_section(grants);
    }
    if let Some(analysed) = state.incident.as_ref().and_then(Assessment::analysed) {
        body += &analysed.rules.section();
    }
    match state.incident.as_ref().map(|i| &i.verdict) {
        Some(Verdict::Reported(reported)) => {
            body += &format!("\nWhy reported\n  {}\n", reported.reported_because);
        }
        Some(Verdict::TrustReported(report)) => body += &trust_section(report),
        _ => {}
    }
    if let Some(quarantine) = &state.quarantine {
        body += &quarantine_section(quarantine);
    }
    if let Some(approval) = &state.approval {
        // Only approval-api proves its decisions: anything else was sent around the page.
        let unproven = if approval.proof.is_none() {
            " (sent to Step Functions without the approval page's proof: not taken on the page)"
        } else {
            ""
        };
        body += &format!(
            "\nDecision\n  {:?}{unproven} at {} from {}{}{}\n",
            approval.decision,
            approval.decided_at.as_deref().unwrap_or("an unknown time"),
            approval
                .source_ip
                .as_deref()
                .unwrap_or("an unknown address"),
            approval
                .user_agent
                .as_deref()
                .map(|ua| format!(" ({})", visible(ua)))
                .unwrap_or_default(),
            approval
                .comment
                .as_deref()
                .map(|c| format!(": \"{}\"", visible(c)))
                .unwrap_or_default(),
        );
    }
    if let Some(restore) = &state.restore {
        body += &format!("\nRestore\n  {}\n", restore.detail);
    }
    if !state.unreadable.is_empty() {
        body += "\nUnreadable parts of the workflow state (reported as received)\n";
        for part in &state.unreadable {
            body += &format!("  {}: {}\n  {}\n", part.part, part.problem, part.received);
        }
    }
    if let Some(error) = &state.error {
        body += &format!("\nError\n  {}\n", describe_error(error));
    }
    body += &documents_section(state.original_document(), state.quarantine.as_ref());
    body += &format!("\nExecution: {execution_arn}\n");
    Notification {
        subject: truncate(&subject, SUBJECT_LIMIT),
        body,
    }
}

/// Why a refused execution's notice shows nothing of its input.
const MADE_UP_START: &str = "\nStarted by hand\n  iam-sentinel's incident starter did not start this \
execution: someone called states:StartExecution with an input of their own. Nothing was written. \
What the input claims (who changed what, when) is not repeated here. Who started it is in \
CloudTrail (StartExecution).\n";

/// "Documents": each document the workflow kept, by size and SHA-256, and how to read it. Never
/// the texts: a policy may hold 131,072 characters, an SNS message 256 KB, and a person reads
/// the summary above (the approval page shows the texts).
pub fn documents_section(
    original: Option<&DocumentRef>,
    quarantine: Option<&QuarantineRecord>,
) -> String {
    let applied = quarantine.and_then(QuarantineRecord::applied);
    let mut lines: Vec<(String, &DocumentRef)> = original
        .map(|d| ("original".to_owned(), d))
        .into_iter()
        .collect();
    if let Some(quarantined) = applied.and_then(|q| q.quarantined_document.as_ref()) {
        lines.push(("quarantined (in force)".to_owned(), quarantined));
    }
    if let Some(QuarantineAction::NewDefaultVersion {
        deleted_version: Some(deleted),
        ..
    }) = applied.map(|q| &q.action)
    {
        lines.push((
            format!("version {} (deleted to make room)", deleted.version_id),
            &deleted.document,
        ));
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut section = "\nDocuments (kept in the document store, by SHA-256)\n".to_owned();
    for (what, document) in lines {
        section += &format!(
            "  {what}: {} characters, SHA-256 {}\n",
            document.characters, document.sha256
        );
    }
    section += "  To read one: aws dynamodb get-item --table-name <the stack's DocumentTableName> \
                --key '{\"sha256\":{\"S\":\"<SHA-256>\"}}' --query Item.document.S --output text\n";
    section
}

/// A caught error as Step Functions gives it (`{"Error", "Cause"}`), else as received. A
/// function's error arrives with the Lambda error (`{"errorType", "errorMessage"}`) as its
/// Cause: its message is what a person reads. A waiting task's Error and Cause are whatever
/// the holder of its token sent (`states:SendTaskFailure`, T26), so the Cause is shown on one
/// line, bounded, its invisible characters named; and a `Superseded` shows only the name of
/// the newer incident, the one Cause this workflow sends with it.
fn describe_error(error: &Value) -> String {
    let cause = error.get("Cause").and_then(Value::as_str).map(|cause| {
        serde_json::from_str::<Value>(cause)
            .ok()
            .and_then(|c| c.get("errorMessage")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| cause.to_owned())
    });
    match (error.get("Error").and_then(Value::as_str), cause) {
        (Some(SUPERSEDED), Some(cause)) if cause.parse::<IncidentName>().is_err() => format!(
            "{SUPERSEDED}, with a cause that is not an incident's name (not shown: whoever holds \
             the request's token can close it with states:SendTaskFailure and a text of their own)"
        ),
        (Some(kind), Some(cause)) => format!(
            "{}: {}",
            visible(&one_line(kind, CAUSE_LIMIT)),
            visible(&one_line(&cause, CAUSE_LIMIT))
        ),
        (Some(kind), None) => visible(&one_line(kind, CAUSE_LIMIT)),
        _ => format!(
            "(as received) {}",
            visible(&one_line(&error.to_string(), CAUSE_LIMIT))
        ),
    }
}

/// How much of an error's Cause a notice shows: the functions' own messages are far shorter.
const CAUSE_LIMIT: usize = 2000;

/// "Change": which call, on what, by whom, when and from where; and what of the event could
/// not be read.
pub fn change_section(change: &PolicyChange) -> String {
    let mut section = format!(
        "\nChange\n  {} on {}\n  by {}\n  at {} from {}\n",
        change.event_name,
        describe_target(change),
        describe_actor(change),
        Some(change.event_time.as_str())
            .filter(|t| !t.is_empty())
            .unwrap_or("an unknown time"),
        describe_origin(change),
    );
    for problem in &change.unreadable {
        section += &format!(
            "  unreadable in the event: {}\n",
            one_line(&visible(problem), 200)
        );
    }
    section
}

/// The notice's account of an event that could not be read as a change: every fact it named.
fn facts_section(facts: &EventFacts) -> String {
    let shown = |value: &Option<String>, unknown: &str| {
        value
            .as_deref()
            .map_or(unknown.to_owned(), |v| one_line(&visible(v), 200))
    };
    let mut section = format!(
        "\nWhat the event says (it could not be read as a policy change)\n  event {} ({})\n  on {}\n",
        shown(&facts.event_id, "without an ID"),
        shown(&facts.event_name, "no event name"),
        describe_facts_target(facts),
    );
    for (name, value) in &facts.named {
        section += &format!("  {name}: {}\n", one_line(&visible(value), 300));
    }
    let actor = facts
        .actor
        .as_ref()
        .map_or("an unknown identity".to_owned(), |actor| {
            format!(
                "{} ({})",
                one_line(&visible(&actor.display_name()), 300),
                actor.identity_type
            )
        });
    section += &format!(
        "  by {actor}\n  at {} from {}\n",
        shown(&facts.event_time, "an unknown time"),
        shown(&facts.source_ip, "an unknown address"),
    );
    section
}

/// The target an unreadable event names: all of it, else its names, else its call.
fn describe_facts_target(facts: &EventFacts) -> String {
    if let Some(target) = &facts.target {
        return target_text(target);
    }
    let names: Vec<String> = [
        "policyArn",
        "policyName",
        "userName",
        "roleName",
        "groupName",
    ]
    .iter()
    .filter_map(|key| facts.named.get(*key))
    .map(|value| name_of(value).to_owned())
    .collect();
    match (names.is_empty(), &facts.event_name) {
        (false, _) => format!("{}, target unreadable", names.join(", ")),
        (true, Some(event_name)) => format!("{event_name} event, target unreadable"),
        (true, None) => "unreadable event".into(),
    }
}

/// An email lists at most this many lines of one kind (grants, edits), then says how many more:
/// a dense policy can grant a restricted action in hundreds of statements.
pub const MAX_LISTED: usize = 20;

/// "Restricted actions granted": one line per restricted pattern and statement, and how many
/// more grants the state left out (`carried_findings`).
pub fn grants_section(findings: &[Finding], omitted: usize) -> String {
    let mut section = "\nRestricted actions granted\n".to_owned() + &listed(grant_lines(findings));
    if omitted > 0 {
        section += &format!("  ({omitted} more grants found, not listed here)\n");
    }
    section
}

/// One indented line per item, at most `MAX_LISTED` of them, then how many more there are.
pub fn listed(items: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    let mut text = String::new();
    let mut more = 0;
    for (n, item) in items.into_iter().enumerate() {
        if n < MAX_LISTED {
            text += &format!("  {item}\n");
        } else {
            more += 1;
        }
    }
    if more > 0 {
        text += &format!("  ... and {more} more (the approval page lists the documents whole)\n");
    }
    text
}

/// "Restricted actions the membership grants": one line per pattern the group adds to the
/// user's effective access, with the group's statements that grant it.
pub fn group_grants_section(grants: &[AddedGrant]) -> String {
    "\nRestricted actions the group membership grants (the user could not do them without it)\n"
        .to_owned()
        + &listed(grants)
}

/// "Who may assume the role": the trust policy's principals, the warnings first.
fn trust_section(report: &TrustReport) -> String {
    let mut section = String::new();
    if !report.warnings.is_empty() {
        section += "\nLook at this\n";
        section += &listed(report.warnings.iter().map(|w| visible(w)));
    }
    section += "\nWho may assume the role (the trust policy's statements)\n";
    section += &listed(report.trusted.iter().map(|t| visible(t)));
    section
}

pub fn quarantine_section(quarantine: &QuarantineRecord) -> String {
    let effect = quarantine
        .applied()
        .map(|applied| format!("\n  {}", quarantine_effect(applied)))
        .unwrap_or_default();
    format!(
        "\nQuarantine\n  {}{effect}\n",
        describe_quarantine(quarantine)
    )
}

/// What approving covers of a managed policy's attachments, for people: the users, roles and
/// groups it was attached to when quarantined (`incident::restore::approved_attachments`), the
/// first `LISTED_ATTACHMENTS` of them named.
pub fn approved_attachments_text(attached: &[Principal]) -> String {
    const LISTED_ATTACHMENTS: usize = 20;
    let since = "An attachment made since is not approved: the account sweep asks about it.";
    if attached.is_empty() {
        return format!(
            "It was attached to no user, role or group when quarantined: approving approves \
             the document itself only. {since}"
        );
    }
    let mut named: Vec<String> = attached
        .iter()
        .take(LISTED_ATTACHMENTS)
        .map(|p| format!("{} {}", p.kind_name(), p.name))
        .collect();
    if attached.len() > LISTED_ATTACHMENTS {
        named.push(format!("and {} more", attached.len() - LISTED_ATTACHMENTS));
    }
    format!(
        "Approving also approves it where it was attached when quarantined: {}. {since}",
        named.join(", ")
    )
}

/// What else the quarantine affects: a rewrite keeps every other grant, a detachment takes the
/// whole policy away from the principal.
pub fn quarantine_effect(applied: &AppliedQuarantine) -> &'static str {
    match applied.action {
        QuarantineAction::Detached { .. } => {
            "While it is detached, none of the policy's grants apply to that principal."
        }
        QuarantineAction::RemovedFromGroup { .. } => {
            "While the user is out of the group, none of the group's policies apply to the user; \
             the group and its other members are untouched."
        }
        QuarantineAction::InlineDeleted { .. } => {
            "While it is deleted, none of the inline policy's grants apply to that principal: no \
             rewrite without the restricted grants fits what the principal's other inline \
             policies leave of IAM's quota."
        }
        QuarantineAction::NewDefaultVersion { .. } | QuarantineAction::InlineRewritten { .. } => {
            "Everything else the policy grants still works."
        }
        QuarantineAction::BoundaryPutBack { .. } => {
            "The principal's policies are unchanged; the boundary put back holds back what the change let through."
        }
    }
}

/// For a permissions-boundary change: the boundary before and after it, and each restricted
/// pattern the principal can perform since, with what grants it. Empty for any other change.
pub fn boundary_section(assessment: Option<&Assessment>) -> String {
    let Some(change) = boundary_change(assessment) else {
        return String::new();
    };
    let mut section = format!(
        "\nPermissions boundary\n  before the change: {}\n  after the change: {}\n",
        change.describe_previous(),
        change.now.as_deref().unwrap_or("none (deleted)")
    );
    if !change.added.is_empty() {
        section += "\nRestricted actions the boundary change lets through (held back before it)\n";
        section += &listed(&change.added);
    }
    section
}

/// The assessment of a permissions-boundary change, when it is one.
pub fn boundary_change(assessment: Option<&Assessment>) -> Option<&BoundaryChange> {
    assessment
        .and_then(Assessment::analysed)
        .and_then(|analysed| analysed.boundary.as_ref())
}

/// "arn:aws:iam::123456789012:user/carol (IAMUser)".
pub fn describe_actor(change: &PolicyChange) -> String {
    format!(
        "{} ({})",
        change.actor.display_name(),
        change.actor.identity_type
    )
}

/// "203.0.113.7 (aws-cli/2.15.0 ...)": the source address and the client, as CloudTrail saw them.
pub fn describe_origin(change: &PolicyChange) -> String {
    format!(
        "{}{}",
        change.source_ip.as_deref().unwrap_or("an unknown address"),
        change
            .user_agent
            .as_deref()
            .map(|ua| format!(" ({})", visible(ua)))
            .unwrap_or_default(),
    )
}

/// "statement 0 (Sid Admin): s3:Delete* - explanation", one per restricted pattern hit.
pub fn grant_lines(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .flat_map(|finding| {
            let sid = SidLabel(finding.sid.clone());
            finding.hits.iter().map(move |hit| {
                format!(
                    "statement {}{sid}: {} - {}",
                    finding.statement, hit.restricted, hit.explanation
                )
            })
        })
        .collect()
}

pub fn describe_target(change: &PolicyChange) -> String {
    target_text(&change.target)
}

pub(crate) fn target_text(target: &Target) -> String {
    match target {
        Target::ManagedPolicy { policy_arn } => format!("managed policy {}", name_of(policy_arn)),
        Target::InlinePolicy {
            principal,
            policy_name,
        } => {
            format!("inline policy {policy_name} of {principal}")
        }
        Target::Attachment {
            principal,
            policy_arn,
        } => {
            format!("{} attached to {principal}", name_of(policy_arn))
        }
        Target::GroupMembership { user, group } => format!("user {user} in group {group}"),
        Target::TrustPolicy { role_name } => format!("trust policy of role {role_name}"),
        Target::PermissionsBoundary { principal } => {
            format!("permissions boundary of {principal}")
        }
    }
}

/// What the quarantine did, in one sentence.
pub fn describe_quarantine(quarantine: &QuarantineRecord) -> String {
    let applied = match quarantine {
        QuarantineRecord::Applied(applied) => applied,
        QuarantineRecord::NotNeeded { reason } => return reason.clone(),
    };
    match &applied.action {
        QuarantineAction::NewDefaultVersion {
            offending_version_id,
            quarantine_version_id,
            deleted_version,
            ..
        } => {
            let deleted = deleted_version
                .as_ref()
                .map(|d| format!("; version {} was deleted to make room (its document is kept in the document store)", d.version_id))
                .unwrap_or_default();
            format!(
                "new default version {quarantine_version_id} without the restricted grants; {offending_version_id} kept as a non-default version{deleted}"
            )
        }
        QuarantineAction::InlineRewritten { policy_name, .. } => {
            format!("inline policy {policy_name} rewritten without the restricted grants")
        }
        QuarantineAction::InlineDeleted { policy_name, .. } => format!(
            "inline policy {policy_name} deleted (no rewrite fits the principal's inline-policy \
             quota; its document is kept in the document store)"
        ),
        QuarantineAction::Detached {
            policy_arn,
            principal,
        } => {
            format!("{} detached from {principal}", name_of(policy_arn))
        }
        QuarantineAction::RemovedFromGroup { user, group } => {
            format!("user {user} removed from group {group}: the membership is held back")
        }
        QuarantineAction::BoundaryPutBack {
            principal,
            previous_boundary_arn,
            changed_to,
        } => {
            let change = match changed_to {
                Some(arn) => format!("the change had set {}", name_of(arn)),
                None => "the change had deleted the boundary".to_owned(),
            };
            format!(
                "permissions boundary {previous_boundary_arn} put back on {principal} ({change})"
            )
        }
    }
}

fn name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The document indented for reading; as received when it is not JSON.
pub fn pretty(document: &str) -> String {
    serde_json::from_str::<Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

/// SNS subjects: printable ASCII, no line breaks, under `limit` characters.
pub fn truncate(text: &str, limit: usize) -> String {
    let ascii: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= limit {
        return ascii;
    }
    format!("{}...", &ascii[..limit - 3])
}

/// The operators' alert when a workflow function (one that writes IAM, or request-approval)
/// refused a call that was not its own workflow step (a forged or replayed invocation, or an
/// approve decision sent around the approval page). Every value is the caller's: shown on one
/// line each, cut short.
pub fn refusal_alert(function: &str, execution_arn: &str, reason: &str) -> Notification {
    let subject = truncate(
        &format!("iam-sentinel ALERT: {function} refused a call"),
        SUBJECT_LIMIT,
    );
    let body = format!(
        "iam-sentinel ALERT: {function} refused a call\n\n\
         A function of the workflow (one that writes IAM policies, or sends approval requests) \
         was called, but not as its own step of a running execution of this deployment's \
         workflow, or with an approval that the approval page did not give. It changed and sent \
         nothing. Someone who may invoke the function or send a task result \
         tried to make it write: find out who in CloudTrail (Lambda Invoke data events, Step \
         Functions SendTaskSuccess) around this time.\n\n\
         Function: {function}\n\
         Execution given: {}\n\
         Why it was refused: {}\n",
        one_line(execution_arn, 300),
        one_line(reason, 1000),
    );
    Notification { subject, body }
}

/// The operators' alert when start-incident refused records that its queue did not hand over
/// (a batch made up by someone allowed to invoke the function): each message id given and why.
/// Every value is the caller's: shown on one line each, cut short, at most ten records listed.
pub fn forged_delivery_alert(refused: &[(String, String)]) -> Notification {
    let subject =
        "iam-sentinel ALERT: start-incident refused records not from its queue".to_owned();
    let mut body = format!(
        "iam-sentinel ALERT: start-incident refused {} record(s) not from its queue\n\n\
         start-incident starts an incident only for a message its own queue handed over and still \
         holds. It was invoked with records that are not such messages, and started nothing for \
         them. Someone who may invoke the function tried to start incidents of their own making: \
         find out who in CloudTrail (Lambda Invoke data events) around this time.\n\n",
        refused.len()
    );
    for (message_id, reason) in refused.iter().take(10) {
        body.push_str(&format!(
            "Message given: {}\nWhy it was refused: {}\n",
            one_line(message_id, 100),
            one_line(reason, 300)
        ));
    }
    if refused.len() > 10 {
        body.push_str(&format!("... and {} more\n", refused.len() - 10));
    }
    Notification { subject, body }
}

/// The operators' alert when changes found their incident's execution name taken by an
/// execution with another input (started by hand under the name, before the starter): each
/// change, as its CloudTrail event says, has no incident until the sweep finds its grant.
pub fn name_taken_alert(taken: &[(&Value, &str)]) -> Notification {
    let subject =
        "iam-sentinel ALERT: a change has no incident: its execution name was taken".to_owned();
    let mut body = format!(
        "iam-sentinel ALERT: {} change(s) have no incident: their execution name was taken\n\n\
         Each change below came through the trigger rule and its queue, and its incident's \
         execution name (derived from the event) was already taken by an execution started \
         with another input: someone started one by hand under that name first (the tamper \
         rule reported the StartExecution; that execution fails at its first step). Nothing \
         quarantined these changes. Review each one, or run an account sweep now: it finds \
         every restricted grant in force and starts an incident under its own name.\n\n",
        taken.len()
    );
    let detail = |event: &Value, field: &str| {
        one_line(
            event
                .pointer(&format!("/detail/{field}"))
                .and_then(Value::as_str)
                .unwrap_or("?"),
            200,
        )
    };
    for (event, execution_arn) in taken.iter().take(10) {
        body.push_str(&format!(
            "Change: {} by {} at {} (CloudTrail event {})\nExecution holding its name: {}\n",
            detail(event, "eventName"),
            detail(event, "userIdentity/arn"),
            detail(event, "eventTime"),
            detail(event, "eventID"),
            one_line(execution_arn, 300)
        ));
    }
    if taken.len() > 10 {
        body.push_str(&format!("... and {} more\n", taken.len() - 10));
    }
    Notification { subject, body }
}

/// Text from a caller, safe in a plain-text email: one line, no control characters, at most
/// `limit` characters.
fn one_line(text: &str, limit: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(limit)
        .collect();
    if text.chars().count() > limit {
        format!("{line}...")
    } else {
        line
    }
}

/// Text someone else chose (a user agent, a comment), as it really is: characters that change
/// how the text around them reads without showing themselves (bidirectional overrides and
/// isolates, zero-width and other invisible characters) are written as `<U+202E>`, so they can
/// neither reorder nor hide what a person reads in an email or on the page.
pub fn visible(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if is_invisible_control(c) {
            shown += &format!("<U+{:04X}>", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    shown
}

fn is_invisible_control(c: char) -> bool {
    matches!(c,
        '\u{0080}'..='\u{009F}'  // C1 controls
        | '\u{00AD}'              // soft hyphen
        | '\u{034F}'               // combining grapheme joiner
        | '\u{061C}'               // Arabic letter mark
        | '\u{115F}' | '\u{1160}'  // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'  // Mongolian selectors and vowel separator
        | '\u{200B}'..='\u{200F}'  // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}'  // embeddings and overrides
        | '\u{2060}'..='\u{206F}'  // word joiner, invisible operators, isolates
        | '\u{3164}'               // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'  // variation selectors
        | '\u{FEFF}'               // zero-width no-break space
        | '\u{FFA0}'
        | '\u{FFF9}'..='\u{FFFB}'  // interlinear annotations
        | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}' // musical format controls
        | '\u{E0000}'..='\u{E0FFF}' // tags, variation selectors supplement
    )
}
