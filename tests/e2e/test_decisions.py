"""The three ways an approval request ends, on the README walkthrough's managed policy: a person
approves on the page, a person denies, nobody decides before the real deadline."""

from __future__ import annotations

import uuid

import pytest

from .expect import (AFTER_APPROVE, DECIDED, QUARANTINED, assert_decision_context, comment_for,
                     deny_and_expect_the_quarantine_kept, detail_types, headlines, outcomes,
                     the_deadline_passes, wait_for_approval)
from .incidents import ManagedPolicy, fixture


def test_approving_on_the_page_restores_the_policy_and_spends_the_link(h, request):
    """create-policy.json as it is: quarantined; a wrong key, a missing key, an unknown id,
    DELETE and another path decide nothing; Approve restores v1 and deletes v2; then the
    link is spent (409 on a second press and a reload, 403 with a forged key)."""
    target = ManagedPolicy(h, event=fixture("create-policy.json"))
    event = target.event
    arn, _, _ = wait_for_approval(h, target, "approve")
    link = h.approval_link(arn)
    key = link.split("?key=", 1)[1]
    wrong_key = ("A" if key[0] != "A" else "B") + key[1:]
    base = link.split("?", 1)[0]
    # Before the decision: a wrong key neither shows nor decides anything.
    got = h.http("GET", f"{base}?key={wrong_key}")
    assert got.status == 403, f"GET with a wrong key: {got!r}, expected 403"
    page, form = h.open_page(link, target.names)
    got = h.submit(page, form, "approve", key=wrong_key)
    assert got.status == 403, f"POST with a wrong key: {got!r}, expected 403"
    got = h.http("GET", base)
    assert got.status == 400, f"GET without a key: {got!r}, expected 400"
    got = h.http("GET", f"{h.stack.approval_url}/approvals/no-such-execution-"
                        f"{uuid.uuid4().hex[:8]}?key={key}")
    assert got.status == 404, f"GET of an unknown id: {got!r}, expected 404"
    got = h.http("DELETE", link)
    assert got.status == 405 and "GET" in got.headers.get("allow", ""), \
        f"DELETE: {got!r}, expected 405"
    got = h.http("GET", f"{h.stack.approval_url}/elsewhere?key={key}")
    assert got.status == 404 and got.page is None, f"GET of another path: {got!r}, expected a plain 404"
    assert h.status(arn) == "RUNNING" and "CheckDecision" not in h.states_entered(arn), \
        "something decided before the Approve button was pressed"
    # The person presses Approve.
    decided = {"comment": comment_for(request.node.name, "approve")}
    answer = h.submit(page, form, "approve", decided["comment"])
    assert answer.status == 200 and answer.h1 == "Approved", \
        f"POST approve: {answer!r}, expected 200 'Approved'"
    # The link is spent: a second press, a reload, and a forged key.
    again = h.submit(page, form, "deny", "changed my mind")
    assert again.status == 409, f"POST again after the decision: {again!r}, expected 409"
    reload = h.http("GET", link)
    assert reload.status == 409, f"GET of the link after the decision: {reload!r}, expected 409"
    assert "approved" in reload.body and "127.0.0.1" in reload.body, \
        "the already-decided page does not say it was approved, from 127.0.0.1"
    forged = h.submit(page, form, "deny", key=wrong_key)
    assert forged.status == 403, f"POST with a wrong key after the decision: {forged!r}, expected 403"
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path after approval: {entered[5:]}"
    restore = h.state_output(arn, "Restore").get("restore", {})
    assert restore.get("status") == "restored", f"restore record: {restore}"
    target.assert_restored(target.state())
    notes, evs = h.published(arn, 2)
    assert headlines(notes) == [QUARANTINED[0], DECIDED["approve"][0]], f"notifications: {headlines(notes)}"
    assert outcomes(evs) == ["quarantined", "restored"], f"outcome events: {outcomes(evs)}"
    assert detail_types(evs) == [QUARANTINED[2], DECIDED["approve"][2]], f"detail-types: {detail_types(evs)}"
    # On the stack's own bus, which only its functions may put events on (T26): none on the
    # default bus, where anyone allowed events:PutEvents can.
    assert not any(e.get("detail", {}).get("executionArn") == arn for e in h.default_bus_events), \
        "an outcome event on the default bus"
    assert_decision_context(notes[-1], evs[-1], decided, "approve")
    assert len(h.approval_emails(arn)) == 1, f"{len(h.approval_emails(arn))} approval emails"
    d = evs[-1]["detail"]
    assert d.get("incidentId") == event["detail"]["eventID"], f"incidentId {d.get('incidentId')}"
    assert (d.get("quarantine") or {}).get("action", {}).get("kind") == "newDefaultVersion", \
        f"quarantine.action {(d.get('quarantine') or {}).get('action')}"
    assert (d.get("change") or {}).get("actor", {}).get("arn") == \
        "arn:aws:iam::123456789012:user/alice", "the event does not name alice"
    assert h.document(d.get("originalDocument")) == \
        event["detail"]["requestParameters"]["policyDocument"], \
        "originalDocument does not name the document as created"
    assert "203.0.113.24" in notes[0] and "user/alice" in notes[0], \
        "the quarantine notification does not say who and from where"
    assert "s3:DeleteBucket" in notes[0], "the quarantine notification does not name s3:DeleteBucket"


def test_denying_on_the_page_without_a_comment_keeps_the_quarantine(h):
    target = ManagedPolicy(h, "my-bad-policy-deny")
    arn, _, during = wait_for_approval(h, target, "deny")
    deny_and_expect_the_quarantine_kept(h, arn, target, during)


@pytest.mark.one_hour
def test_without_a_decision_the_real_one_hour_deadline_keeps_the_quarantine(one_hour, note):
    """ApprovalTimeoutHours=1, the shortest the template allows: waits it out."""
    the_deadline_passes(one_hour, ManagedPolicy(one_hour, "my-bad-policy-timeout"),
                        "timeout", note)
