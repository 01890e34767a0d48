"""Malformed events fail closed and say what they know (tests/fixtures/events/malformed/): a
fact of the wrong type (time, address) never stops the analysis, so the restricted grant is
still quarantined; a document the event carries unreadably is read from IAM; an event whose
target cannot be read fails, once, with a failure notice and event naming every fact it gave
(event ID, call, names, actor, time), never "(unknown policy)"."""

from __future__ import annotations

import json

from .expect import (FAILED_HEADLINE, QUARANTINED, deny_and_expect_the_quarantine_kept,
                     headlines, wait_for_approval)
from .incidents import InlinePolicy, ManagedPolicy, fixture, managed_policy_event, unique


def test_a_time_and_address_of_the_wrong_type_still_quarantine_the_grant(h):
    """create-policy-time-as-number.json's eventTime (epoch ms) and an array sourceIPAddress:
    analysed, quarantined, approval asked; the quarantine email says what it could not read;
    deny keeps the quarantine."""
    event = managed_policy_event(unique("my-bad-policy-epoch"))
    malformed = fixture("malformed/create-policy-time-as-number.json")["detail"]["eventTime"]
    event["detail"]["eventTime"] = malformed
    event["detail"]["sourceIPAddress"] = [event["detail"]["sourceIPAddress"]]
    target = ManagedPolicy(h, event=event)
    arn, _, during = wait_for_approval(h, target, "epoch-time")
    notes, _ = h.published(arn, 1)
    assert headlines(notes) == [QUARANTINED[0]], f"notifications: {headlines(notes)}"
    for said in (f"unreadable in the event: eventTime is not text: {malformed}",
                 "unreadable in the event: sourceIPAddress is not text",
                 "at an unknown time from an unknown address"):
        assert said in notes[0], f"the quarantine email does not say {said!r}"
    deny_and_expect_the_quarantine_kept(h, arn, target, during)


def test_a_document_that_is_not_text_is_read_from_iam_and_quarantined(h):
    """put-user-policy-document-object.json's shape on a role policy: policyDocument is a JSON
    object, not the text sent. The grant is analysed as IAM holds it and quarantined."""
    target = InlinePolicy(h, "inline-doc-object")
    params = target.event["detail"]["requestParameters"]
    params["policyDocument"] = json.loads(params["policyDocument"])
    arn, _, during = wait_for_approval(h, target, "doc-object")
    incident = h.state_output(arn, "Analyse")["incident"]
    unreadable = incident["change"].get("unreadable") or []
    assert any(u.startswith("requestParameters.policyDocument is not text") for u in unreadable), \
        f"Analyse does not name the unreadable document: {unreadable}"
    deny_and_expect_the_quarantine_kept(h, arn, target, during)


def test_an_event_without_its_target_fails_closed_naming_its_facts(h):
    """create-policy-no-response.json's shape: no ARN of the new policy. analyse-change answers
    InvalidInput (not retried) -> PublishFailed -> Failed; the failure email and event name the
    event ID, the call, the policy name, the actor and the time."""
    name = unique("no-response-elements")
    event = managed_policy_event(name)
    event["detail"]["responseElements"] = None
    detail = event["detail"]
    arn = h.start(unique("analyse-fails"), event)
    status = h.wait_done(arn)
    assert status == "FAILED", f"execution {status}, expected FAILED"
    desc = h.sfn.describe_execution(executionArn=arn)
    assert desc.get("error") == "IamSentinel.IncidentFailed", f"error {desc.get('error')}"
    entered = h.states_entered(arn)
    assert entered == ["Analyse", "PublishFailed", "Failed"], f"path {entered}"
    calls = h.stack.router.invocations_of("analyse-change", arn)
    assert len(calls) == 1, \
        f"analyse-change invoked {len(calls)} times (InvalidInput must not be retried)"
    notes, evs = h.published(arn, 1)
    assert [e["detail"]["outcome"] for e in evs] == ["failed"], "no failed outcome event"
    assert headlines(notes) == [FAILED_HEADLINE], f"notifications: {headlines(notes)}"
    email = notes[0]
    assert "unknown policy" not in email, "the failure email says unknown policy"
    for fact in (detail["eventID"], "CreatePolicy", f"policyName: {name}",
                 detail["userIdentity"]["arn"], detail["eventTime"], "InvalidInput",
                 "responseElements.policy.arn"):
        assert fact in email, f"the failure email does not name {fact!r}"
    facts = evs[0]["detail"].get("eventFacts") or {}
    assert (facts.get("eventId"), facts.get("eventName"), facts.get("named", {}).get("policyName"),
            (facts.get("actor") or {}).get("arn")) == \
        (detail["eventID"], "CreatePolicy", name, detail["userIdentity"]["arn"]), \
        f"the failed event's facts: {facts}"
    assert evs[0]["detail"].get("change") is None, "a change named although no target was read"
