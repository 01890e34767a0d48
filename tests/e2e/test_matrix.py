"""Every decision for every kind of target a restricted grant can come through: a customer
managed policy (a new default version quarantines it), an inline role policy (rewritten in
place), a user's inline policy no rewrite of which fits the user's quota (deleted), an
attachment (detached), a group membership (the user removed from the group) and a permissions
boundary (the one before put back).
Decisions are taken on the page; the deadlines run on the
short-deadline deployment (APPROVAL_TIMEOUT=8s)."""

from __future__ import annotations

import pytest

from .expect import (AFTER_APPROVE, AFTER_KEEP, DECIDED, QUARANTINED, assert_decision_context,
                     comment_for, detail_types, headlines, original_in_notification, outcomes,
                     the_deadline_passes, wait_for_approval)
from .incidents import TARGETS, same_document

KINDS = list(TARGETS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_the_decision_taken_on_the_page_is_carried_out(h, decision, kind, request):
    """Approve: the original grant is back (the policy's v1 default again, the inline document
    as it was, the policy attached again) and "Approved and restored". Deny: the quarantine
    stays exactly as it was, and "Denied: quarantine kept" carries the original document. Both:
    the outcome names who decided, from where, with what comment."""
    target = TARGETS[kind](h, f"{decision}-{kind}")
    arn, _, during = wait_for_approval(h, target, f"{decision}-{kind}")
    decided = h.decide_on_page(arn, decision, target.names,
                               comment_for(request.node.name, decision))
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    if decision == "approve":
        assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path after approval: {entered[5:]}"
        restore = h.state_output(arn, "Restore").get("restore", {})
        assert restore.get("status") == "restored", f"restore record: {restore}"
        target.assert_restored(target.state())
    else:
        assert entered[-len(AFTER_KEEP):] == AFTER_KEEP and "Restore" not in entered, \
            f"path after denial: {entered[5:]}"
        assert target.state() == during, "the quarantine did not stay exactly as it was"
    notes, evs = h.published(arn, 2)
    headline, outcome, detail_type = DECIDED[decision]
    assert headlines(notes) == [QUARANTINED[0], headline], f"notifications: {headlines(notes)}"
    assert outcomes(evs) == ["quarantined", outcome], f"outcome events: {outcomes(evs)}"
    assert detail_types(evs) == [QUARANTINED[2], detail_type], f"detail-types: {detail_types(evs)}"
    action = evs[0]["detail"]["quarantine"]["action"]
    assert action["kind"] == target.action_kind, f"quarantine action {action}"
    last = evs[-1]["detail"]
    assert same_document(h.document(last.get("originalDocument")) or "", target.original), \
        "the outcome event's originalDocument is not the original"
    if decision == "approve":
        assert (last.get("restore") or {}).get("status") == "restored", f"restore {last.get('restore')}"
    else:
        assert last.get("restore") is None, f"a restore record: {last.get('restore')}"
        assert same_document(original_in_notification(h, notes[-1]) or "", target.original), \
            "the kept notification's Original document is not the original"
    missing = [name for name in target.subject if name not in notes[-1]]
    assert not missing, f"the outcome notification does not name {missing}"
    assert_decision_context(notes[-1], evs[-1], decided, decision)


@pytest.mark.parametrize("kind", KINDS)
def test_without_a_decision_by_the_deadline_the_quarantine_stays_and_the_link_expires(
        short, kind, note):
    the_deadline_passes(short, TARGETS[kind](short, f"timeout-{kind}"), f"timeout-{kind}", note)
