"""IAM as it behaves right after a change, and steps that time out: the router answers the
functions' IAM calls the way IAM may for a few seconds after a write (NoSuchEntity, the earlier
document), or holds an answer past the caller's timeout, or loses a function's answer after it
did its work (Lambda's Sandbox.Timedout). In every case the change is quarantined exactly once
and the approval is asked: never "superseded", never a second quarantine version, and a
detachment or group removal whose answer was lost is still the step's own (approving puts it
back)."""

from __future__ import annotations

import json
import time

import pytest
from harness.router import AwsFault

from .expect import (AFTER_APPROVE, DECIDED, QUARANTINED, comment_for,
                     deny_and_expect_the_quarantine_kept, headlines,
                     outcomes, task_attempts, wait_for_approval)
from .incidents import Attachment, GroupMembership, InlinePolicy, ManagedPolicy, now_iso, unique

# How long the router makes IAM lag after the test's own write: a few seconds, as IAM does.
LAG_SECONDS = 4
# Longer than the SDK's attempt timeout (8 s, remediation::setup::sdk_timeouts).
HELD_SECONDS = 10
PREVIOUS_DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-staging/*"}]})


def just_now(target):
    """The target's event, made just now (the router's lag is measured from the test's write)."""
    target.event["detail"]["eventTime"] = now_iso()
    return target


def attempts_of(h, arn: str, state: str) -> list[tuple[str, str | None]]:
    return [(a["type"].removeprefix("Task").removeprefix("LambdaFunction"), a["error"])
            for a in task_attempts(h, arn, state)]


def assert_quarantined_once_after_retries(h, arn: str, error: str, note, what: str):
    """Quarantine failed with `error` at least once, then succeeded; one quarantine notice."""
    attempts = attempts_of(h, arn, "Quarantine")
    assert len(attempts) >= 2 and attempts[-1][0] == "Succeeded" \
        and all(a == ("Failed", error) for a in attempts[:-1]), \
        f"Quarantine attempts {attempts}: expected {error} failures, then success"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["quarantined"] and headlines(notes) == [QUARANTINED[0]], \
        f"outcomes {outcomes(evs)}, notifications {headlines(notes)}: expected quarantined only"
    note(f"{what}: Quarantine attempts {attempts}")


def lose_the_first_quarantine_answer(h, target, test: str, note):
    """Starts the target's incident with quarantine-policy's first answer lost after its work
    (Sandbox.Timedout, as when Lambda ends an invocation at its timeout), follows it to the
    approval wait, and checks the step was retried once and quarantined once. Returns
    (execution ARN, the quarantined IAM state)."""
    name = unique(test)
    fault = h.stack.router.inject_errors(
        "quarantine-policy", 1, "Sandbox.Timedout",
        "RequestId: injected Error: Task timed out after 50.00 seconds",
        payload_contains=name, after_call=True)
    try:
        arn, _, during = wait_for_approval(h, target, test, name=name)
    finally:
        h.stack.router.clear_injected(fault)
    calls = h.stack.router.invocations_of("quarantine-policy", name)
    assert [bool(c.get("answer_lost")) for c in calls] == [True, False], \
        f"quarantine-policy invocations (answer lost?): {[c.get('answer_lost') for c in calls]}"
    assert_quarantined_once_after_retries(h, arn, "Sandbox.Timedout", note,
                                          f"{target.action_kind}, the first answer lost")
    return arn, during


def test_a_managed_policy_iam_does_not_show_yet_is_quarantined_not_superseded(h, request, note):
    """GetPolicy answers NoSuchEntity for the first seconds after CreatePolicy: Quarantine
    fails NotYetConsistent and is retried until IAM shows the policy; then the quarantine and
    the approval request, as without the lag."""
    target = just_now(ManagedPolicy(h, "lag-missing"))
    fault = h.stack.router.inject_aws_fault(AwsFault(
        "iam", "GetPolicy", match=target.arn, missing=True, until=time.time() + LAG_SECONDS))
    try:
        arn, _, during = wait_for_approval(h, target, "lag-missing")
    finally:
        h.stack.router.clear_aws_faults(fault)
    assert any(done == "missing" for _, done, _ in fault.hits), f"the lag was never seen: {fault.hits}"
    assert_quarantined_once_after_retries(h, arn, "NotYetConsistent", note, "NoSuchEntity for "
                                          f"{LAG_SECONDS} s")
    deny_and_expect_the_quarantine_kept(h, arn, target, during,
                                        comment_for(request.node.name, "deny"))


def test_an_inline_policy_read_as_its_earlier_document_is_quarantined_not_superseded(h, request,
                                                                                      note):
    """GetRolePolicy answers the policy's earlier, clean document for the first seconds after
    PutRolePolicy: not the event's document and not our quarantine, so Quarantine waits
    (NotYetConsistent) instead of concluding that a newer change superseded the event."""
    target = just_now(InlinePolicy(h, "lag-stale"))
    fault = h.stack.router.inject_aws_fault(AwsFault(
        "iam", "GetRolePolicy", match=target.role, stale_document=PREVIOUS_DOCUMENT,
        until=time.time() + LAG_SECONDS))
    try:
        arn, _, during = wait_for_approval(h, target, "lag-stale")
    finally:
        h.stack.router.clear_aws_faults(fault)
    assert any(done == "stale" for _, done, _ in fault.hits), f"the lag was never seen: {fault.hits}"
    assert_quarantined_once_after_retries(h, arn, "NotYetConsistent", note,
                                          f"the earlier document for {LAG_SECONDS} s")
    deny_and_expect_the_quarantine_kept(h, arn, target, during,
                                        comment_for(request.node.name, "deny"))


def test_a_quarantine_write_whose_answer_is_held_past_its_timeout_is_retried_and_made_once(
        h, request, note):
    """IAM makes the quarantine version but its answer to CreatePolicyVersion comes after the
    SDK's attempt timeout: the step fails Retryable, is retried, finds its own version in force
    and reports it applied. One quarantine version (v2), the approval asked once."""
    target = ManagedPolicy(h, "held-write")
    fault = h.stack.router.inject_aws_fault(AwsFault(
        "iam", "CreatePolicyVersion", match=target.arn, hold=HELD_SECONDS, hold_count=1))
    try:
        arn, _, during = wait_for_approval(h, target, "held-write")
    finally:
        h.stack.router.clear_aws_faults(fault)
    assert [done for _, done, _ in fault.hits] == ["held"], \
        f"CreatePolicyVersion calls: {fault.hits}, expected one (held), none retried by the SDK"
    assert_quarantined_once_after_retries(h, arn, "Retryable", note,
                                          f"CreatePolicyVersion answered after {HELD_SECONDS} s")
    deny_and_expect_the_quarantine_kept(h, arn, target, during,
                                        comment_for(request.node.name, "deny"))


def test_a_quarantine_that_timed_out_after_its_work_is_retried_and_recognises_it(h, request,
                                                                                note):
    """quarantine-policy quarantines, then its answer is lost as when Lambda ends an
    invocation at its timeout (Sandbox.Timedout): the step is retried, finds its own version
    and reports it applied. One quarantine version, the approval asked once."""
    target = ManagedPolicy(h, "timed-out")
    arn, during = lose_the_first_quarantine_answer(h, target, "timed-out", note)
    deny_and_expect_the_quarantine_kept(h, arn, target, during,
                                        comment_for(request.node.name, "deny"))


@pytest.mark.parametrize("make_target", [Attachment, GroupMembership],
                         ids=["detachment", "group-removal"])
def test_a_detachment_whose_answer_was_lost_is_the_steps_own_and_approval_puts_it_back(
        h, note, make_target):
    """quarantine-policy detaches the policy (takes the user out of the group), then its answer
    is lost (Sandbox.Timedout). IAM cannot tell that detachment from somebody else's: the retry
    reads what the step recorded before it wrote, reports the quarantine applied (not
    superseded) and the approval is asked once; approving puts the attachment (membership)
    back, as it would have without the loss."""
    target = make_target(h, "lost-" + make_target.kind)
    arn, _ = lose_the_first_quarantine_answer(h, target, "lost-answer", note)
    h.decide_on_page(arn, "approve", target.names)
    assert h.wait_done(arn) == "SUCCEEDED", "the execution did not succeed"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path after approval: {entered}"
    target.assert_restored(target.state())
    notes, _ = h.published(arn, 2)
    assert headlines(notes) == [QUARANTINED[0], DECIDED["approve"][0]], headlines(notes)


def test_a_decision_taken_but_answered_after_the_apis_timeout_is_said_recorded(h, request,
                                                                               note):
    """Step Functions takes the approval, but its answers to SendTaskSuccess come after the
    approval API's timeout for the call: the API reads the history, finds this very decision
    taken and says so (200, "Approved"), not "nothing was decided"; the original goes back."""
    target = ManagedPolicy(h, "held-decision")
    arn, _, _ = wait_for_approval(h, target, "held-decision")
    fault = h.stack.router.inject_aws_fault(AwsFault(
        "states", "SendTaskSuccess", hold=HELD_SECONDS, hold_count=3))
    try:
        h.decide_on_page(arn, "approve", target.names, comment_for(request.node.name, "approve"))
    finally:
        h.stack.router.clear_aws_faults(fault)
    held = [done for _, done, _ in fault.hits]
    assert held and set(held) == {"held"}, f"SendTaskSuccess calls: {fault.hits}"
    assert h.wait_done(arn) == "SUCCEEDED", "the execution did not succeed"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path after approval: {entered}"
    note(f"SendTaskSuccess answered after {HELD_SECONDS} s ({len(held)} attempts): the page "
         "said the approval was recorded, and the original went back")
