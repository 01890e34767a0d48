//! The email that asks a person to decide: everything needed to judge the change, the deadline,
//! and one link to the approval page (which decides nothing until a button is pressed).

use incident::{
    Notification, Principal, SUBJECT_LIMIT, approved_attachments_text, boundary_section,
    change_section, current_omitted_grants, describe_target, documents_section, grants_section,
    group_grants_section, listed, quarantine_section, truncate,
};

use crate::request::ApprovalRequest;

/// `attached`: the users, roles and groups a managed policy was attached to when quarantined
/// (read back from the document store), for a managed policy's quarantine that kept them.
pub fn approval_request_email(
    request: &ApprovalRequest,
    link: &str,
    deadline: &str,
    attached: Option<&[Principal]>,
) -> Notification {
    let change = request.incident.change();
    let target = change.map_or("unknown policy".into(), describe_target);
    let subject = truncate(
        &format!("iam-sentinel: approval needed: {target}"),
        SUBJECT_LIMIT,
    );
    let mut body = format!(
        "Approval needed: {target}\n\n\
         A change granted restricted actions. Those grants are quarantined until you decide \
         (the Quarantine section says what else that affects).\n\n\
         Review and decide: {link}\n\n\
         Decide before {deadline}.\n  \
         Approve: the change is restored exactly as it was made.\n  \
         Deny: the quarantine stays (the original stays recoverable).\n  \
         No decision by the deadline: the quarantine stays.\n"
    );
    if let Some(change) = change {
        body += &change_section(change);
    }
    body += &boundary_section(Some(&request.incident));
    if let Some(findings) = request.findings().filter(|f| !f.is_empty()) {
        body += &grants_section(
            findings,
            current_omitted_grants(Some(&request.quarantine), Some(&request.incident)),
        );
    }
    if !request.group_grants().is_empty() {
        body += &group_grants_section(request.group_grants());
    }
    body += &quarantine_section(&request.quarantine);
    body += &listed(request.quarantine.applied().map_or(&[][..], |q| &q.edits));
    if let Some(attached) = attached {
        body += &format!(
            "\nWhere the policy is attached\n  {}\n",
            approved_attachments_text(attached)
        );
    }
    body += &documents_section(
        request.quarantine.applied().map(|q| &q.original_document),
        Some(&request.quarantine),
    );
    body += &format!(
        "\nThe link opens a page that shows both documents; nothing is decided until you press \
         Approve or Deny there. Whoever holds the link can decide: do not forward this email.\n\
         \nIncident: {}\nExecution: {}\n",
        request.incident.id, request.execution_arn
    );
    Notification { subject, body }
}
