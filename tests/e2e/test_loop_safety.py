"""Loop safety through the real trigger: template.yaml's IamPolicyChangeRule pattern -> SQS ->
start-incident -> StartExecution (LocalStack.deploy_trigger). iam-sentinel's own writes to IAM start
no incident of their own."""

from __future__ import annotations

import datetime
import json
import time

from harness import ACCOUNT, REGION
from harness.constants import CLOUDTRAIL_DETAIL_TYPE
from harness.processes import wait_until
from harness.template import function_names

from .expect import AFTER_APPROVE, comment_for
from .incidents import (ManagedPolicy, as_document, fixture, fresh_ids, now_iso, unique,
                        writer_detail)

LOOP_QUIET_SECONDS = 6  # the event source long-polls 1 s; moto delivers inside PutEvents


def cloudtrail_date(t: datetime.datetime) -> str:
    """A date inside responseElements as CloudTrail writes it: "Nov 21, 2026 9:30:00 AM"."""
    return f"{t:%b} {t.day}, {t.year} {t.hour % 12 or 12}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def eventbridge_envelope(event_id: str, detail: dict) -> dict:
    """The event as the rule would deliver it (the execution input)."""
    return {"version": "0", "id": event_id, "detail-type": CLOUDTRAIL_DETAIL_TYPE,
            "source": "aws.iam", "account": ACCOUNT, "time": detail["eventTime"],
            "region": REGION, "resources": [], "detail": detail}


def test_iam_sentinels_own_writes_start_no_incident_but_a_persons_do(h, request, note):
    """A user's CreatePolicy event starts one incident; it is approved on the page and
    restored; then the CloudTrail events iam-sentinel's own writes produce in AWS (the
    quarantine's CreatePolicyVersion, the restore's SetDefaultPolicyVersion and
    DeletePolicyVersion, each by the policy writer role's session of that function) are put on
    the bus: no new execution starts (the rule drops them), and analyse-change would ignore
    them anyway ("iam-sentinel made this change itself"). A control: the same
    SetDefaultPolicyVersion by a person (alice) does start an execution."""
    stack = h.stack
    trigger = stack.deploy_trigger()
    functions = function_names(stack.template)
    before = len(trigger.executions())

    def started(event_id: str):
        return [x for x in trigger.executions() if x[2] == event_id]

    # 1. A person creates a bad policy; CloudTrail's event; the rule starts the incident.
    target = ManagedPolicy(h, "loop-safety")
    detail = target.event["detail"]
    detail["eventTime"] = now_iso()
    event_id = stack.put_cloudtrail_event(detail)
    _, arn, _ = wait_until("the rule to start an execution for the CreatePolicy",
                           lambda: (got := started(event_id)) and got[0], 30, 0.2)
    h.watch(arn)
    given = json.loads(h.sfn.describe_execution(executionArn=arn)["input"])
    assert given.get("id") == event_id and given.get("source") == "aws.iam" \
        and given.get("detail") == detail, \
        f"the execution's input is not the delivered event: {json.dumps(given)[:300]}"
    assert len(trigger.executions()) == before + 1, \
        f"{len(trigger.executions()) - before} executions started for one event"
    h.approval_token(arn)
    action = (h.state_output(arn, "Quarantine").get("quarantine") or {}).get("action") or {}
    qv = action.get("quarantineVersionId")
    assert action.get("kind") == "newDefaultVersion" and qv == "v2", f"quarantine action {action}"
    # 2. The quarantine's own write, as CloudTrail reports it (while the approval waits).
    quarantined = json.dumps(as_document(h.iam.get_policy_version(
        PolicyArn=target.arn, VersionId=qv)["PolicyVersion"]["Document"]), separators=(",", ":"))
    now = datetime.datetime.now(datetime.timezone.utc)
    own = [writer_detail("CreatePolicyVersion", functions["QuarantinePolicyFunction"]["name"],
                         {"policyArn": target.arn, "policyDocument": quarantined,
                          "setAsDefault": True},
                         {"policyVersion": {"versionId": qv, "isDefaultVersion": True,
                                            "createDate": cloudtrail_date(now)}})]
    own_ids = [stack.put_cloudtrail_event(own[0])]
    # 3. Approved on the page: the restore.
    h.decide_on_page(arn, "approve", target.names, comment_for(request.node.name, "approve"))
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path: {entered[5:]}"
    target.assert_restored(target.state())
    # 4. The restore's own writes (restore-policy: SetDefaultPolicyVersion v1, then
    # DeletePolicyVersion of the quarantine version), as CloudTrail reports them.
    restorer = functions["RestorePolicyFunction"]["name"]
    own += [writer_detail("SetDefaultPolicyVersion", restorer,
                          {"policyArn": target.arn, "versionId": "v1"}, None),
            writer_detail("DeletePolicyVersion", restorer,
                          {"policyArn": target.arn, "versionId": qv}, None)]
    own_ids += [stack.put_cloudtrail_event(d) for d in own[1:]]
    # A bounded wait: nothing more may start.
    deadline = time.monotonic() + LOOP_QUIET_SECONDS
    while time.monotonic() < deadline and len(trigger.executions()) == before + 1:
        time.sleep(0.25)
    runs = trigger.executions()
    assert len(runs) == before + 1, \
        f"{len(runs) - before} executions started by the trigger in this test, expected 1 " \
        f"(new: {[x[1].rsplit(':', 1)[1] for x in runs[before + 1:]]})"
    assert not any(started(i) for i in own_ids), "an execution started for iam-sentinel's own change"
    attrs = h.sqs.get_queue_attributes(QueueUrl=trigger.queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" \
        and attrs["ApproximateNumberOfMessagesNotVisible"] == "0", \
        f"the rule delivered something that is still in the queue: {attrs}"
    # 5. The control: the same SetDefaultPolicyVersion by a person does start an execution
    # (on a clean policy of its own, so it ends clean): the rule let the writer's through
    # for who made it, not for what it was.
    control_policy = h.iam.create_policy(PolicyName=unique("loop-safety-control"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                 "Resource": "arn:aws:s3:::acme-team-data/*"}]}))
    control = fresh_ids(fixture("set-default-policy-version.json"))["detail"]
    control["requestParameters"] = {"policyArn": control_policy["Policy"]["Arn"], "versionId": "v1"}
    control["eventTime"] = now_iso()
    control_id = stack.put_cloudtrail_event(control)
    _, control_arn, _ = wait_until(
        "the rule to start an execution for alice's SetDefaultPolicyVersion",
        lambda: (got := started(control_id)) and got[0], 30, 0.2)
    h.watch(control_arn)
    status = h.wait_done(control_arn)
    incident = h.state_output(control_arn, "Analyse").get("incident", {})
    assert status == "SUCCEEDED" and incident.get("verdict") == "clean", \
        f"control execution {status}, verdict {incident.get('verdict')}"
    assert len(trigger.executions()) == before + 2, \
        f"{len(trigger.executions()) - before} executions started by the trigger in this test, " \
        "expected 2 (the incident and the control)"
    note(f"trigger executions: the incident, then none for the writer's "
         f"{', '.join(d['eventName'] for d in own)} (by "
         f"{', '.join(sorted({d['userIdentity']['arn'].rsplit('/', 1)[1] for d in own}))}) within "
         f"{LOOP_QUIET_SECONDS} s, then one for the control (alice's SetDefaultPolicyVersion)")
    # 6. And Analyse would ignore them, were they delivered (the handler's own guard): each
    # started as the starter would start it, after the counts above.
    for d, i in zip(own, own_ids):
        own_arn = h.start(unique("own-write"), eventbridge_envelope(i, d))
        assert h.wait_done(own_arn) == "SUCCEEDED"
        incident = h.state_output(own_arn, "Analyse").get("incident") or {}
        assert incident.get("verdict") == "ignored" \
            and "itself" in (incident.get("ignoredReason") or ""), \
            f"Analyse on the writer's {d['eventName']}: {json.dumps(incident)[:300]}"
