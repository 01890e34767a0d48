"""Lambda errors injected by the router instead of calling the function (Router.inject_errors),
answered exactly as Lambda answers a function error, to exercise each Task's Retry and Catch:
a transient error is retried with backoff, a permanent one is not, and retries that run out
end in a notified failure with nothing lost."""

from __future__ import annotations

import json
import re
import uuid

from harness.constants import ASL_PATH

from .expect import (FAILED_HEADLINE, QUARANTINED, attempt_gaps, comment_for,
                     deny_and_expect_the_quarantine_kept, headlines, original_in_notification,
                     outcomes, task_attempts, wait_for_approval)
from .incidents import ManagedPolicy, same_document, unique

# What the handlers answer for AWS throttling, and for access denied (docs/workflow-contract.md);
# what Lambda answers for a function that ran past its timeout.
RETRYABLE = ("Retryable", "injected: throttling")
NON_RETRYABLE = ("NonRetryable", "injected: access denied")
TIMED_OUT = ("Sandbox.Timedout", "RequestId: injected Error: Task timed out after 50.00 seconds")


def asl_retry(state: str, error: str = "Retryable") -> dict:
    """The Retry rule matching `error` of a Task in statemachine/remediation.asl.json."""
    states = json.loads(ASL_PATH.read_text())["States"]
    return next(r for r in states[state].get("Retry", []) if error in r["ErrorEquals"])


def retry_waits(rule: dict) -> list[float]:
    """The longest wait before each retry a rule allows (FULL jitter waits up to it)."""
    return [min(rule["IntervalSeconds"] * rule.get("BackoffRate", 2.0) ** i,
                rule.get("MaxDelaySeconds", float("inf")))
            for i in range(rule["MaxAttempts"])]


# Every Lambda Task retries Retryable for minutes (docs/workflow-contract.md): only its first
# waits are exercised here. Read from the ASL (Quarantine's and Restore's are the ones
# exercised; test_retryable_errors... checks they agree).
RETRY = asl_retry("Restore")
RETRY_WAITS = retry_waits(RETRY)
# A crash or timeout of the function is retried a few times only: what the exhaustion test runs out.
CRASH_RETRY = asl_retry("Restore", TIMED_OUT[0])
CRASH_MAX_ATTEMPTS = CRASH_RETRY["MaxAttempts"]
CRASH_WAITS = retry_waits(CRASH_RETRY)


def test_retryable_errors_are_retried_with_backoff_until_the_quarantine_succeeds(h, request, note):
    """Two Retryable errors (what the handlers answer for throttling) injected into
    quarantine-policy: Quarantine is retried, the third attempt quarantines; denied on the page."""
    assert asl_retry("Quarantine") == RETRY, \
        f"Quarantine's Retry {asl_retry('Quarantine')} is not Restore's {RETRY}: the waits assume it is"
    target = ManagedPolicy(h, "fault-retried")
    router = h.stack.router
    # The writers get the execution only: the faults are aimed at this test's execution by name.
    name = unique("fault-retried")
    fault = router.inject_errors("quarantine-policy", 2, *RETRYABLE, payload_contains=name)
    try:
        arn, _, during = wait_for_approval(h, target, "fault-retried", name=name)
    finally:
        left = router.clear_injected(fault)
    assert len(fault["used"]) == 2 and left == 0, \
        f"injected errors used {len(fault['used'])}, left {left} (expected 2 used, 0 left)"
    attempts = task_attempts(h, arn, "Quarantine")
    assert len(attempts) == 3 and all(a["type"].endswith("Failed") and a["error"] == "Retryable"
                                      and RETRYABLE[1] in a["cause"] for a in attempts[:2]) \
        and attempts[2]["type"].endswith("Succeeded"), \
        f"Quarantine attempts in the history: {[(a['type'], a['error']) for a in attempts]}, " \
        "expected 2 failed (Retryable) then success"
    calls = router.invocations_of("quarantine-policy", name)
    assert [bool(i.get("injected")) for i in calls] == [True, True, False] \
        and not calls[-1].get("error_type"), \
        f"quarantine-policy invocations (injected?, error): " \
        f"{[(bool(i.get('injected')), i.get('error_type')) for i in calls]}"
    gaps = attempt_gaps(attempts)
    assert len(gaps) == 2 and all(g <= w + 2 for g, w in zip(gaps, RETRY_WAITS)), \
        f"seconds between attempts {gaps}, expected at most {RETRY_WAITS[:2]} (+2 s slack)"
    note(f"Quarantine attempts {[a['type'] + ('(' + a['error'] + ')' if a['error'] else '') for a in attempts]}; "
         f"seconds between attempts {gaps} (FULL jitter: up to {RETRY_WAITS[:2]})")
    deny_and_expect_the_quarantine_kept(h, arn, target, during,
                                        comment_for(request.node.name, "deny"))


def test_a_permanent_error_is_not_retried_and_leaves_the_policy_untouched(h):
    """One NonRetryable error (access denied) injected into quarantine-policy: no retry, caught
    into PublishFailed (a FAILED notification and a failed event with the original document),
    the execution FAILED, the policy untouched. First, the injected answer on the wire is
    what the Invoke API gives for a function error."""
    target = ManagedPolicy(h, "fault-permanent")
    router = h.stack.router
    marker = f"wire-check-{uuid.uuid4().hex}"
    probe = router.inject_errors("quarantine-policy", 1, *NON_RETRYABLE, payload_contains=marker)
    status, headers, body = h.stack.invoke_direct_full("quarantine-policy", {"probe": marker}, 30)
    record = next((i for i in list(router.invocations) if marker in i["payload"]), {})
    assert status == 200 and headers.get("x-amz-function-error") == "Unhandled" \
        and json.loads(body) == {"errorType": NON_RETRYABLE[0], "errorMessage": NON_RETRYABLE[1]} \
        and headers.get("x-amzn-requestid") \
        and headers.get("x-amzn-requestid") == record.get("request_id") and record.get("injected") \
        and probe["used"] == [record.get("request_id")], \
        f"an injected error on the wire: HTTP {status} {headers} {body[:200]!r}; record {record}"
    name = unique("fault-permanent")
    fault = router.inject_errors("quarantine-policy", 1, *NON_RETRYABLE, payload_contains=name)
    try:
        arn = h.start(name, target.event)
        status = h.wait_done(arn)
    finally:
        left = router.clear_injected(fault)
    assert status == "FAILED", f"execution {status}, expected FAILED"
    assert len(fault["used"]) == 1 and left == 0, f"injected errors used {len(fault['used'])}, left {left}"
    desc = h.sfn.describe_execution(executionArn=arn)
    assert desc.get("error") == "IamSentinel.IncidentFailed", f"error {desc.get('error')}"
    entered = h.states_entered(arn)
    assert entered == ["Analyse", "CheckVerdict", "Quarantine", "PublishFailed", "Failed"], f"path {entered}"
    attempts = task_attempts(h, arn, "Quarantine")
    assert len(attempts) == 1 and attempts[0]["type"].endswith("Failed") \
        and attempts[0]["error"] == "NonRetryable" and NON_RETRYABLE[1] in attempts[0]["cause"], \
        f"Quarantine attempts: {[(a['type'], a['error'], a['cause'][:80]) for a in attempts]}, " \
        "expected exactly one, failed with NonRetryable (not retried)"
    calls = router.invocations_of("quarantine-policy", name)
    assert len(calls) == 1 and calls[0].get("injected"), \
        f"quarantine-policy invoked {len(calls)} times (expected once, the injected error)"
    default, versions = target.state()
    assert default == "v1" and sorted(versions) == ["v1"], f"policy changed: {default} {sorted(versions)}"
    assert same_document(versions["v1"], target.original), "the policy's document is not the original"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["failed"], f"outcome events: {outcomes(evs)}"
    assert headlines(notes) == [FAILED_HEADLINE], f"notifications: {headlines(notes)}"
    d = evs[0]["detail"]
    err = d.get("error") or {}
    assert err.get("Error") == "NonRetryable" and NON_RETRYABLE[1] in (err.get("Cause") or ""), \
        f"error in the failed event: {err}"
    assert same_document(h.document(d.get("originalDocument")) or "", target.original), \
        f"the failed event's originalDocument is not the original: {str(d.get('originalDocument'))[:200]}"
    assert d.get("quarantine") is None, f"the failed event has a quarantine record: {d.get('quarantine')}"
    assert "NonRetryable" in notes[0] and NON_RETRYABLE[1] in notes[0], \
        "the failure notification does not name the error"
    assert same_document(original_in_notification(h, notes[0]) or "", target.original), \
        "the failure notification's Original document is not the original"
    assert target.name in notes[0], "the failure notification does not name the policy"


def test_when_retries_run_out_the_failure_is_notified_and_nothing_is_lost(h, request, note):
    """More function timeouts (Sandbox.Timedout, as Lambda answers) than the Retry allows
    injected into restore-policy after the approval on the page: 1 + 3 attempts with real
    backoff, then caught into PublishFailed; the quarantine stays exactly as it was, the
    original is in the failed notification and event."""
    target = ManagedPolicy(h, "fault-exhausted")
    arn, _, during = wait_for_approval(h, target, "fault-exhausted")
    router = h.stack.router
    injected = CRASH_MAX_ATTEMPTS + 2  # one more than can ever be used
    name = arn.rsplit(":", 1)[1]
    fault = router.inject_errors("restore-policy", injected, *TIMED_OUT, payload_contains=name)
    try:
        decided = h.decide_on_page(arn, "approve", target.subject,
                                   comment_for(request.node.name, "approve"))
        status = h.wait_done(arn, timeout=sum(CRASH_WAITS) + 120)
    finally:
        left = router.clear_injected(fault)
    assert status == "FAILED", f"execution {status}, expected FAILED"
    assert len(fault["used"]) == CRASH_MAX_ATTEMPTS + 1 and left == injected - CRASH_MAX_ATTEMPTS - 1, \
        f"injected errors used {len(fault['used'])}, left {left} " \
        f"(expected {CRASH_MAX_ATTEMPTS + 1} used: 1 attempt + {CRASH_MAX_ATTEMPTS} retries)"
    entered = h.states_entered(arn)
    assert entered[-5:] == ["RequestApproval", "CheckDecision", "Restore", "PublishFailed", "Failed"], \
        f"path after approval: {entered[5:]}"
    attempts = task_attempts(h, arn, "Restore")
    assert len(attempts) == CRASH_MAX_ATTEMPTS + 1 \
        and all(a["type"].endswith("Failed") and a["error"] == TIMED_OUT[0] for a in attempts), \
        f"Restore attempts: {[(a['type'], a['error']) for a in attempts]}, expected " \
        f"{CRASH_MAX_ATTEMPTS + 1} failed ({TIMED_OUT[0]})"
    calls = router.invocations_of("restore-policy", name)
    assert len(calls) == CRASH_MAX_ATTEMPTS + 1 and all(i.get("injected") for i in calls), \
        f"restore-policy invocations (injected?): {[bool(i.get('injected')) for i in calls]}"
    gaps = attempt_gaps(attempts)
    assert len(gaps) == CRASH_MAX_ATTEMPTS and all(g <= w + 2 for g, w in zip(gaps, CRASH_WAITS)), \
        f"seconds between attempts {gaps}, expected at most {CRASH_WAITS} (+2 s slack)"
    note(f"Restore: {len(attempts)} attempts over {sum(gaps):.1f} s, seconds between them {gaps} "
         f"(FULL jitter: up to {CRASH_WAITS}, {sum(CRASH_WAITS):.0f} s in all)")
    # during was checked by assert_quarantined: v2 default without s3:DeleteBucket, v1 the original
    assert target.state() == during, "the quarantine did not stay exactly as it was"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "failed"], f"outcome events: {outcomes(evs)}"
    assert headlines(notes) == [QUARANTINED[0], FAILED_HEADLINE], f"notifications: {headlines(notes)}"
    d = evs[1]["detail"]
    err = d.get("error") or {}
    assert err.get("Error") == TIMED_OUT[0] and TIMED_OUT[1] in (err.get("Cause") or ""), \
        f"error in the failed event: {err}"
    assert same_document(h.document(d.get("originalDocument")) or "", target.original), \
        "the failed event's originalDocument is not the original"
    approval = d.get("approval") or {}
    assert approval.get("decision") == "approve" and approval.get("comment") == decided["comment"], \
        f"the failed event's approval: {approval}"
    assert d.get("restore") is None, f"the failed event has a restore record: {d.get('restore')}"
    assert same_document(original_in_notification(h, notes[1]) or "", target.original), \
        "the failure notification's Original document is not the original"
    assert TIMED_OUT[0] in notes[1] and "\nDecision\n  Approve at " in notes[1], \
        "the failure notification does not name the error and the approval"
    # What the emailed link says now that the restore has failed.
    again = h.http("GET", decided["link"])
    assert again.status == 409, f"GET of the link after the failure: {again!r}, expected 409"
    said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", again.body.split("<h1>", 1)[-1]))
    note(f"the link, after the restore failed: {again.status} {said.split(' at ', 1)[0].strip()!r}")
