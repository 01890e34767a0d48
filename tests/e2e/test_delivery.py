"""EventBridge delivers at least once: the same CloudTrail event can reach the starter's queue
twice, at once or hours later. Through the template's own trigger (rule -> SQS -> the real
start-incident -> StartExecution), all deliveries of one event make one incident: one
execution, one quarantine, one approval email, one decision."""

from __future__ import annotations

from harness.processes import wait_until

from .driver import APPROVAL_HEADLINE
from .expect import (AFTER_APPROVE, DECIDED, QUARANTINED, TO_APPROVAL,
                     deny_and_expect_the_quarantine_kept)
from .incidents import Attachment, ManagedPolicy, now_iso

APPROVAL = "Approval needed"


def started_for(h, event_id: str) -> list[str]:
    """Every execution whose input is this event."""
    return [arn for _, arn, e in h.stack.trigger.executions() if e == event_id]


def batch_of(h, message_id: str) -> dict:
    """The batch the event source handed the starter with this message, once answered."""
    return wait_until(f"the starter to take message {message_id}",
                      lambda: next((b for b in h.stack.trigger.batches
                                    if message_id in b["messages"]), None), 30, 0.2)


def emails_about(h, name: str) -> list[str]:
    """What each email naming `name` is: its headline, or "Approval needed"."""
    h.drain()
    return [APPROVAL if b.startswith(APPROVAL_HEADLINE) else b.split("\n", 1)[0]
            for b in h.notifications if name in b]


def incident_through_the_rule(h, target, deliveries: int) -> tuple[str, str]:
    """The target's CloudTrail event put on the bus once and delivered `deliveries` times at
    once; its one execution followed to the approval wait, quarantined. (event id, ARN)"""
    h.stack.deploy_trigger()
    detail = target.event["detail"]
    detail["eventTime"] = now_iso()
    event_id = h.stack.put_cloudtrail_event(detail, deliveries=deliveries)
    arn = wait_until("the starter to start an execution",
                     lambda: (got := started_for(h, event_id)) and got[0], 30, 0.2)
    h.watch(arn)
    h.approval_token(arn)
    assert h.states_entered(arn) == TO_APPROVAL, f"path to the approval: {h.states_entered(arn)}"
    target.assert_quarantined(target.state())
    return event_id, arn


def assert_one_incident(h, event_id: str, arn: str, target, emails: list[str]):
    """One execution for the event; exactly `emails` naming the target; every delivery taken
    (the queue empty, no message reported as failed)."""
    assert started_for(h, event_id) == [arn], \
        f"executions for event {event_id}: {started_for(h, event_id)}, expected only {arn}"
    name = target.subject[0]
    try:
        got = wait_until("the emails", lambda: (e := emails_about(h, name)) == emails and e,
                         20, 0.5)
    except TimeoutError:
        got = emails_about(h, name)
    assert got == emails, f"emails naming {name}: {got}, expected {emails}"
    attrs = h.sqs.get_queue_attributes(QueueUrl=h.stack.trigger.queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert attrs == {"ApproximateNumberOfMessages": "0",
                     "ApproximateNumberOfMessagesNotVisible": "0"}, \
        f"deliveries left in the starter's queue: {attrs}"
    failed = [b for b in h.stack.trigger.batches if event_id in b["events"] and b["failed"]]
    assert not failed, f"deliveries the starter did not take: {failed}"


def test_the_same_event_delivered_twice_at_once_makes_one_incident(h, note):
    """Two deliveries of one CreatePolicy event reach the queue together: the starter gets both
    in one batch; one execution starts, the other message is taken as a duplicate. One
    quarantine (v2 of v1, v2), one approval email; deny keeps it: one decision."""
    target = ManagedPolicy(h, "twice-at-once")
    event_id, arn = incident_through_the_rule(h, target, deliveries=2)
    body = h.stack.trigger.body_of(event_id)
    together = [b for b in h.stack.trigger.batches if len(b["messages"]) == 2]
    assert together, "the two deliveries did not reach the starter in one batch"
    assert_one_incident(h, event_id, arn, target, [QUARANTINED[0], APPROVAL])
    deny_and_expect_the_quarantine_kept(h, arn, target, target.state())
    assert_one_incident(h, event_id, arn, target,
                        [QUARANTINED[0], APPROVAL, DECIDED["deny"][0]])
    note(f"2 deliveries ({len(body)}-byte body) in one batch: 1 execution, 1 quarantine, "
         "1 approval email, 1 decision")


def test_the_same_event_delivered_again_while_the_approval_waits_and_after_makes_one_incident(
        h, request, note):
    """The event comes again while its execution waits for approval (StartExecution answers
    with the running execution) and again after the decision (ExecutionAlreadyExists): nothing
    starts, nothing is emailed again, nothing fails; approve restores once."""
    target = ManagedPolicy(h, "again-while-waiting")
    event_id, arn = incident_through_the_rule(h, target, deliveries=1)
    waiting = batch_of(h, h.stack.deliver_again(event_id))
    assert waiting["failed"] == [], f"the starter failed the second delivery: {waiting}"
    assert_one_incident(h, event_id, arn, target, [QUARANTINED[0], APPROVAL])
    assert h.status(arn) == "RUNNING" and "CheckDecision" not in h.states_entered(arn), \
        "the second delivery disturbed the waiting execution"
    h.decide_on_page(arn, "approve", target.names, f"approve in e2e {request.node.name}")
    assert h.wait_done(arn) == "SUCCEEDED"
    assert h.states_entered(arn)[-len(AFTER_APPROVE):] == AFTER_APPROVE, h.states_entered(arn)
    target.assert_restored(target.state())
    after = batch_of(h, h.stack.deliver_again(event_id))
    assert after["failed"] == [], f"the starter failed the delivery after the end: {after}"
    assert_one_incident(h, event_id, arn, target,
                        [QUARANTINED[0], APPROVAL, DECIDED["approve"][0]])
    target.assert_restored(target.state())
    note("deliveries 2 (waiting) and 3 (ended) started nothing: 1 execution, 1 approval "
         "email, 1 decision, restored once")


def test_an_attachment_delivered_twice_at_once_and_again_later_makes_one_incident(h, note):
    """An AttachUserPolicy event delivered twice at once, and a third time while the approval
    waits: one execution, one detachment, one approval email; deny keeps it detached, and no
    second execution re-attaches what the decision kept detached."""
    target = Attachment(h, "attach-twice")
    event_id, arn = incident_through_the_rule(h, target, deliveries=2)
    again = batch_of(h, h.stack.deliver_again(event_id))
    assert again["failed"] == [], f"the starter failed the third delivery: {again}"
    assert_one_incident(h, event_id, arn, target, [QUARANTINED[0], APPROVAL])
    deny_and_expect_the_quarantine_kept(h, arn, target, target.state())
    assert_one_incident(h, event_id, arn, target,
                        [QUARANTINED[0], APPROVAL, DECIDED["deny"][0]])
    target.assert_quarantined(target.state())
    note("3 deliveries of AttachUserPolicy: 1 execution, detached once, 1 approval email, "
         "1 decision (deny), still detached")
