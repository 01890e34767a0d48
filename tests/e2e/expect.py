"""What the workflow must do, shared by the test modules: the paths through the state machine,
what each outcome publishes, the decision's context in the outcome, and the two halves every
quarantine test has: up to the approval wait, and (without a decision) past the deadline."""

from __future__ import annotations

import re
import time

from .incidents import same_document, unique
from .person import USER_AGENT

# Paths through statemachine/remediation.asl.json.
TO_APPROVAL = ["Analyse", "CheckVerdict", "Quarantine", "CheckQuarantine", "PublishQuarantined",
               "RequestApproval"]
AFTER_APPROVE = ["RequestApproval", "CheckDecision", "Restore", "CheckRestore",
                 "PublishRestored", "Done"]
AFTER_KEEP = ["RequestApproval", "CheckDecision", "PublishKept", "Done"]
AFTER_TIMEOUT = ["RequestApproval", "PublishTimedOut", "Done"]

QUARANTINED = ("Restricted grant quarantined", "quarantined", "IAM Sentinel Policy Quarantined")
# decision -> (the outcome notification's headline, the outcome, the event's detail-type)
DECIDED = {
    "approve": ("Approved and restored", "restored", "IAM Sentinel Policy Restored"),
    "deny": ("Denied: quarantine kept", "kept", "IAM Sentinel Quarantine Kept"),
    "timeout": ("No decision in time: quarantine kept", "timed_out",
                "IAM Sentinel Approval Timed Out"),
}
FAILED_HEADLINE = "FAILED: needs a person"


def task_attempts(h, arn: str, state: str) -> list[dict]:
    """Every attempt of a Task state as the history shows it: the ...Succeeded / ...Failed /
    ...TimedOut events while that state was the current one, with their error and time."""
    attempts, current = [], None
    for e in h.history(arn):
        if "stateEnteredEventDetails" in e:
            current = e["stateEnteredEventDetails"]["name"]
        elif "stateExitedEventDetails" in e:
            current = None
        elif current == state and e["type"].endswith(("Succeeded", "Failed", "TimedOut")):
            detail = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
            attempts.append({"type": e["type"], "error": detail.get("error"),
                             "cause": detail.get("cause") or "", "at": e["timestamp"]})
    return attempts


def attempt_gaps(attempts: list[dict]) -> list[float]:
    """Seconds from each attempt's end to the next one's."""
    return [round((b["at"] - a["at"]).total_seconds(), 2) for a, b in zip(attempts, attempts[1:])]


def outcomes(events: list[dict]) -> list[str]:
    return [e["detail"].get("outcome") for e in events]


def headlines(notifications: list[str]) -> list[str]:
    return [n.split("\n", 1)[0] for n in notifications]


def detail_types(events: list[dict]) -> list[str]:
    return [e["detail-type"] for e in events]


def original_in_notification(h, notification: str) -> str | None:
    """The original document a notification names in its Documents section (by SHA-256), as the
    document store holds it; None if it names none."""
    found = re.search(r"\n  original: \d+ characters, SHA-256 ([0-9a-f]{64})\n", notification)
    return h.document(found.group(1)) if found else None


def comment_for(test: str, decision: str) -> str:
    """What a person types: a ticket, punctuation, a non-ASCII dash, an apostrophe, markup."""
    return f"{decision} in e2e {test}: bucket migration, OPS-1234 — it's <b>fine</b> & done"


def decision_section(notification: str) -> str:
    """The outcome notification's `Decision` section (its line after the heading)."""
    _, _, rest = notification.partition("\nDecision\n")
    return rest.split("\n", 1)[0].strip()


def assert_decision_context(notification: str, event: dict, decided: dict, decision: str):
    """The outcome carries who decided and how: our address, user agent and comment."""
    comment = decided["comment"]
    line = decision_section(notification)
    assert line.startswith({"approve": "Approve", "deny": "Deny"}[decision] + " at "), \
        f"Decision section {line!r}"
    assert " from 127.0.0.1 " in line, f"the Decision section does not name 127.0.0.1: {line!r}"
    assert f"({USER_AGENT})" in line, f"the Decision section does not name our user agent: {line!r}"
    if comment:
        assert f': "{comment}"' in line, f"the Decision section lacks the comment: {line!r}"
    approval = event["detail"].get("approval") or {}
    assert (approval.get("decision") == decision and approval.get("sourceIp") == "127.0.0.1"
            and approval.get("userAgent") == USER_AGENT and approval.get("comment") == comment
            and approval.get("decidedAt")), f"the outcome event's approval: {approval}"


def deny_and_expect_the_quarantine_kept(h, arn: str, target, during, comment: str | None = None):
    """A person presses Deny on the page: the execution succeeds through PublishKept, the
    quarantine stays exactly as it was (`during`), "Denied: quarantine kept" names who denied."""
    decided = h.decide_on_page(arn, "deny", target.names, comment)
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_KEEP):] == AFTER_KEEP, f"path after denial: {entered[5:]}"
    assert target.state() == during, "the quarantine did not stay as it was"
    notes, evs = h.published(arn, 2)
    assert headlines(notes) == [QUARANTINED[0], DECIDED["deny"][0]], f"notifications: {headlines(notes)}"
    assert outcomes(evs) == ["quarantined", "kept"], f"outcome events: {outcomes(evs)}"
    assert_decision_context(notes[-1], evs[-1], decided, "deny")


def assert_kept_by_the_safe_default(h, arn: str, target):
    """A decision that is neither approve nor deny: CheckDecision's default keeps the
    quarantine (PublishKept), and the outcome says kept."""
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status} (expected SUCCEEDED via PublishKept)"
    entered = h.states_entered(arn)
    assert entered[-4:] == AFTER_KEEP, f"path after the decision: {entered[5:]}"
    target.assert_quarantined(target.state())
    _, evs = h.published(arn, 2, timeout=8)
    assert outcomes(evs) == ["quarantined", "kept"], f"outcome events: {outcomes(evs)}"


def wait_for_approval(h, target, test: str, name: str | None = None) -> tuple[str, str, object]:
    """Starts the target's incident and follows it to the approval wait: the path to
    RequestApproval, the deadline it waits for (the deployment's APPROVAL_TIMEOUT), the
    quarantine in IAM, one request-approval invocation without error, and an approval email
    without the task token. Returns (execution ARN, task token, the quarantined IAM state).
    `name`: the execution's name, when the test must know it before the start."""
    arn = h.start(name or unique(test), target.event)
    token = h.approval_token(arn)
    entered = h.states_entered(arn)
    assert entered == TO_APPROVAL, f"path to the approval: {entered}"
    waits = h.state_input(arn, "RequestApproval").get("approvalTimeoutSeconds")
    want = h.stack.approval_deadline_seconds
    assert waits == want, f"approvalTimeoutSeconds = {waits!r}, expected {want} " \
                          f"(APPROVAL_TIMEOUT={h.stack.approval_timeout})"
    during = target.state()
    target.assert_quarantined(during)
    calls = h.stack.router.invocations_of("request-approval", arn)
    assert len(calls) == 1 and not calls[0].get("error_type"), \
        f"request-approval invocations for this execution: " \
        f"{[(i.get('error_type'), i.get('error_message')) for i in calls]}"
    assert token not in h.approval_email(arn), "the approval email carries the task token"
    return arn, token, during


def the_deadline_passes(h, target, test: str, note):
    """One incident that nobody decides: quarantine, the approval email, the link open (200)
    while the request is; then the deadline passes: States.Timeout caught -> PublishTimedOut
    -> Done (SUCCEEDED), "No decision in time: quarantine kept" with the original document, a
    timed_out event with it too, the quarantine still in IAM exactly as it was, and the
    emailed link answering 410 ("The deadline has passed") on GET and on POST (the page's own
    form, as a person who comes back to the open tab and presses Approve), deciding nothing."""
    deadline = h.stack.approval_deadline_seconds
    arn, _, during = wait_for_approval(h, target, test)
    link = h.approval_link(arn)
    # While the request is open, the link shows the review page (so the 410 below is the
    # deadline's doing, not a link that never worked); unless the deadline is already gone.
    scheduled, _ = h.approval_wait(arn)
    page = h.http("GET", link)
    form = None
    if scheduled and time.time() < scheduled.timestamp() + deadline - 0.5:
        assert page.status == 200 and all(n in page.body for n in target.names), \
            f"GET of the link before the deadline: {page!r}, expected 200 naming {target.names}"
        forms = page.page.post_forms() if page.page else []
        form = forms[0] if len(forms) == 1 else None
    else:
        note(f"the link was opened only after the deadline ({page!r}): no open page seen")
    assert h.status(arn) == "RUNNING" and "CheckDecision" not in h.states_entered(arn), \
        "something decided while nobody pressed a button"
    # Nobody decides.
    status = h.wait_done(arn, timeout=deadline + 120 + deadline // 10)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    assert entered[5:] == AFTER_TIMEOUT, f"path after the deadline: {entered[5:]}"
    caught = h.state_input(arn, "PublishTimedOut").get("error") or {}
    assert caught.get("Error") == "States.Timeout", f"the error caught into PublishTimedOut: {caught}"
    scheduled, ended = h.approval_wait(arn)
    waited = (ended["timestamp"] - scheduled).total_seconds() if scheduled and ended else None
    assert ended is not None and ended["type"] == "TaskTimedOut" \
        and waited is not None and deadline - 0.5 <= waited <= deadline + 10, \
        f"the approval wait ended by {ended and ended['type']} after {waited} s, expected " \
        f"TaskTimedOut after about {deadline} s"
    assert target.state() == during, "the quarantine did not stay exactly as it was"
    notes, evs = h.published(arn, 2)
    assert headlines(notes) == [QUARANTINED[0], DECIDED["timeout"][0]], \
        f"notifications: {headlines(notes)}"
    assert outcomes(evs) == ["quarantined", "timed_out"], f"outcome events: {outcomes(evs)}"
    assert detail_types(evs)[-1:] == [DECIDED["timeout"][2]], f"detail-types: {detail_types(evs)}"
    assert same_document(original_in_notification(h, notes[1]) or "", target.original), \
        "the timed-out notification's Original document is not the original"
    assert "\nDecision\n" not in notes[1], "the timed-out notification names a decision"
    d = evs[1]["detail"]
    assert same_document(h.document(d.get("originalDocument")) or "", target.original), \
        f"the timed_out event's originalDocument is not the original: {str(d.get('originalDocument'))[:120]}"
    assert d.get("approval") is None and d.get("restore") is None, \
        f"the timed_out event has an approval or restore: {d.get('approval')} {d.get('restore')}"
    assert (d.get("error") or {}).get("Error") == "States.Timeout", f"its error: {d.get('error')}"
    # The emailed link, after the deadline: 410 on GET, and on POST (nothing decided).
    before = len(h.history(arn))
    gone = h.http("GET", link)
    assert gone.status == 410 and gone.h1 == "The deadline has passed", \
        f"GET of the link after the deadline: {gone!r}, expected 410 'The deadline has passed'"
    if form is not None:
        pressed = h.submit(page, form, "approve", comment_for(test, "approve"))
    else:
        pressed = h.http("POST", link.split("?", 1)[0], [("key", link.split("?key=", 1)[1]),
                                                         ("comment", ""), ("decision", "approve")])
    assert pressed.status == 410 and pressed.h1 == "The deadline has passed", \
        f"POST approve after the deadline: {pressed!r}, expected 410 'The deadline has passed'"
    time.sleep(1)
    assert len(h.history(arn)) == before and target.state() == during, \
        "the POST after the deadline changed the execution's history or IAM"
    note(f"deadline {deadline} s (APPROVAL_TIMEOUT={h.stack.approval_timeout}); the approval "
         f"wait ended after {waited} s; link: {'200 while open, ' if form is not None else ''}"
         "410 on GET and POST after")
