"""Two changes to one target never undo each other, and a decision is only ever applied to the
state it was asked about: the newer change's incident takes over the decision (the older link
answers 410 and names it), whatever order the events arrive in; and when what approval would
restore is deleted while the decision waits, the page says so before anyone presses Approve,
and the outcome says it was deleted.

Executions are named as the starter names them (`<target key>-<change time>-<event id>`, see
docs/workflow-contract.md "One decision per target"): two changes to one policy share the
target key, and the later CloudTrail eventTime is the newer incident."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from .expect import outcomes
from .incidents import ManagedPolicy, fresh_ids, fixture, same_document, unique

SECOND = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "SecondChange", "Effect": "Allow",
    "Action": ["s3:DeleteBucket", "s3:ListAllMyBuckets"], "Resource": "*"}]})


def incident_name(target_key: str, event: dict) -> str:
    """The execution name the starter gives `event`'s incident on the target `target_key`."""
    stamp = event["detail"]["eventTime"].replace("-", "").replace(":", "")
    return f"{target_key}-{stamp}-{event['detail']['eventID']}"


def at(seconds_ago: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def second_change_event(target: ManagedPolicy, version_id: str, event_time: str) -> dict:
    """create-policy-version-default.json for `target`: SECOND made the default `version_id`."""
    event = fresh_ids(fixture("create-policy-version-default.json"))
    d = event["detail"]
    d["eventTime"] = event_time
    d["requestParameters"].update(policyArn=target.arn, policyDocument=SECOND,
                                  setAsDefault=True)
    d["responseElements"]["policyVersion"]["versionId"] = version_id
    return event


def first_change(h, prefix: str) -> tuple[str, ManagedPolicy, dict]:
    """A target key of the test's own, and alice's restricted policy (change 1, two minutes
    ago) with its CreatePolicy event."""
    target = ManagedPolicy(h, prefix)
    target.event["detail"]["eventTime"] = at(120)
    return uuid.uuid4().hex[:16], target, target.event


def make_default(h, target: ManagedPolicy, document: str) -> str:
    return h.iam.create_policy_version(PolicyArn=target.arn, PolicyDocument=document,
                                       SetAsDefault=True)["PolicyVersion"]["VersionId"]


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_a_newer_change_takes_over_the_decision_of_an_older_one_waiting(h, decision):
    # GIVEN alice's restricted policy (change 1) quarantined and waiting for a decision
    key, target, first = first_change(h, "ordered")
    older = h.start(incident_name(key, first), first)
    older_link = h.approval_link(older)
    # WHEN the policy is changed again (change 2: another restricted default version)
    v3 = make_default(h, target, SECOND)
    second = second_change_event(target, v3, at(60))
    newer = h.start(incident_name(key, second), second)
    # THEN the newer incident asks, and the older one's request is closed, naming it
    h.approval_token(newer)
    assert h.wait_done(older) == "SUCCEEDED", f"older execution {h.status(older)}"
    assert h.states_entered(older)[-3:] == ["RequestApproval", "PublishApprovalSuperseded",
                                            "Done"], f"older path {h.states_entered(older)}"
    _, older_events = h.published(older, 2)
    assert outcomes(older_events) == ["quarantined", "approval_superseded"], \
        f"older outcomes: {outcomes(older_events)}"
    # (the page names the newer execution from SendTaskFailure's cause, which moto 5.2.5 does not
    # record: docs/LOCAL.md)
    page = h.http("GET", older_link)
    assert page.status == 410 and page.h1 == "A newer change superseded this request", \
        f"the older link: {page!r}, expected 410 saying a newer change superseded it"
    # WHEN the administrator decides on the newer incident's page
    h.decide_on_page(newer, decision, [target.name])
    assert h.wait_done(newer) == "SUCCEEDED", f"newer execution {h.status(newer)}"
    # THEN the policy is what that decision asked about: change 2 back, or its quarantine
    default, versions = target.state()
    if decision == "approve":
        assert default == v3, f"approve: default {default}, expected change 2's {v3}"
    else:
        assert default not in ("v1", v3) and not h.check.grants(versions[default],
                                                                "s3:DeleteBucket"), \
            f"deny: default {default} grants s3:DeleteBucket or is not the quarantine"
    assert same_document(versions["v1"], target.original), "change 1's document was lost"


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_an_older_change_arriving_late_never_asks_or_undoes_the_newer_one(h, decision):
    # GIVEN both changes made (v1 then v2), and change 2's incident quarantined and waiting
    key, target, first = first_change(h, "reordered")
    v2 = make_default(h, target, SECOND)
    second = second_change_event(target, v2, at(60))
    newer = h.start(incident_name(key, second), second)
    h.approval_token(newer)
    quarantined = target.state()
    # WHEN change 1's event arrives only now (EventBridge does not keep order)
    older = h.start(incident_name(key, first), first)
    # THEN it ends without asking and without touching the policy
    assert h.wait_done(older) == "SUCCEEDED", f"older execution {h.status(older)}"
    assert "RequestApproval" not in h.states_entered(older) or \
        h.states_entered(older)[-2] == "PublishApprovalSuperseded", \
        f"older path {h.states_entered(older)}"
    assert h.approval_emails(older) == [], "the older change asked for a decision"
    assert target.state() == quarantined, "the late older incident changed the policy"
    # WHEN the administrator decides on change 2
    h.decide_on_page(newer, decision, [target.name])
    assert h.wait_done(newer) == "SUCCEEDED", f"newer execution {h.status(newer)}"
    default, _ = target.state()
    expected = v2 if decision == "approve" else quarantined[0]
    assert default == expected, f"{decision}: default {default}, expected {expected}"


def test_a_deleted_offending_version_is_named_on_the_page_and_in_the_outcome(h):
    # GIVEN a quarantined policy whose offending version v1 is deleted while the approval waits
    target = ManagedPolicy(h, "deleted-version")
    arn = h.start(unique("deleted-version"), target.event)
    link = h.approval_link(arn)
    h.iam.delete_policy_version(PolicyArn=target.arn, VersionId="v1")
    # WHEN the administrator opens the link
    page, form = h.open_page(link, [target.name])
    # THEN the page says, before any button is pressed, that approving restores nothing
    assert "Approve will restore nothing" in page.body and "v1" in page.body, \
        "the page does not say that the offending version was deleted"
    # WHEN they approve anyway
    h.submit(page, form, "approve")
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    # THEN the outcome is target_gone, the quarantine version stays the default
    assert h.states_entered(arn)[-3:] == ["CheckRestore", "PublishTargetGone", "Done"], \
        f"path {h.states_entered(arn)}"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "target_gone"], f"outcomes: {outcomes(evs)}"
    assert "deleted" in notes[-1], f"the notification does not say deleted: {notes[-1][:300]}"
    assert target.state()[0] == "v2", f"default {target.state()[0]}"


def test_a_policy_deleted_while_its_approval_waits_is_reported_as_deleted(h):
    target = ManagedPolicy(h, "deleted-policy")
    arn = h.start(unique("deleted-policy"), target.event)
    h.approval_link(arn)
    h.iam.delete_policy_version(PolicyArn=target.arn, VersionId="v1")
    h.iam.delete_policy(PolicyArn=target.arn)
    h.decide_on_page(arn, "approve", [target.name])
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "target_gone"], f"outcomes: {outcomes(evs)}"
    assert "no longer exists" in notes[-1] and "changed the policy" not in notes[-1], \
        f"the notification: {notes[-1][:400]}"


def test_a_made_up_newer_incident_can_close_a_request_but_never_lift_a_quarantine(h):
    """T12: whoever can start executions names a made-up one as the newest change to a target
    (a 2099 eventTime, the original document so that it claims the quarantine in force)."""
    key = uuid.uuid4().hex[:16]
    target = ManagedPolicy(h, "forged-newer")
    real = h.start(incident_name(key, target.event), target.event)
    real_link = h.approval_link(real)
    quarantined = target.state()
    forged_event = fresh_ids(json.loads(json.dumps(target.event)))
    forged_event["detail"]["eventTime"] = "2099-01-01T00:00:00Z"
    forged = h.start(incident_name(key, forged_event), forged_event)
    # THEN the real request is closed (410), the made-up incident asks by email like any
    # other: the administrators see it; and the quarantine never moved
    assert h.wait_done(real) == "SUCCEEDED", f"real execution {h.status(real)}"
    assert h.http("GET", real_link).status == 410
    h.approval_email(forged)
    assert target.state() == quarantined, "the made-up incident changed the policy"
    # WHEN nobody approves it (deny)
    h.decide_on_page(forged, "deny", [target.name])
    assert h.wait_done(forged) == "SUCCEEDED", f"made-up execution {h.status(forged)}"
    # THEN the restricted grant stays quarantined: closing a request only ever keeps one
    assert target.state() == quarantined, "the quarantine was lifted"
    assert not h.check.grants(target.state()[1][target.state()[0]], "s3:DeleteBucket")
