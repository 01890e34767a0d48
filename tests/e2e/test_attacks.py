"""The sentinel cannot be turned against the account (docs/THREAT-MODEL.md), on the whole local
stack: the writers refuse calls that are not their own workflow step and alert the operators,
a decision sent around the approval page restores nothing, a grant on iam-sentinel's own roles
is reported and never quarantined, and the writer role's other sessions are watched like anyone.
"""

from __future__ import annotations

import json

from harness.constants import ACCOUNT, OWN_ROLE_NAMES, REGION, WRITER_ROLE_ARN
from harness.eventbridge import drain_queue
from harness.processes import wait_until

from .expect import FAILED_HEADLINE, TO_APPROVAL, headlines, outcomes, wait_for_approval
from .incidents import (ASSUME_EC2, Attachment, ManagedPolicy, attached, fixture, fresh_ids,
                        now_iso, unique, writer_detail)

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def operator_alerts(h) -> list[str]:
    return drain_queue(h.sqs, h.stack.operator_queue_url)


def wait_for_alert(h, about: str) -> str:
    seen: list[str] = []

    def found():
        seen.extend(operator_alerts(h))
        return next((a for a in seen if about in a), None)
    return wait_until(f"an operator alert about {about}", found, 20, 0.3)


def test_a_forged_restore_invoked_directly_is_refused_and_alerted(h):
    """T1: a power user invokes restore-policy with a made-up record that would attach
    AdministratorAccess to their own user, and an execution ARN of this state machine that
    does not exist: refused (ForgedRequest), nothing attached, the operators told."""
    attacker = unique("mallory")
    h.iam.create_user(UserName=attacker)
    made_up = (f"arn:aws:states:{REGION}:{ACCOUNT}:execution:"
               f"{h.stack.main_state_machine_name}:{unique('forged')}")
    payload = {
        "executionArn": made_up,
        "incident": {"id": "x", "eventName": "AttachUserPolicy", "verdict": "restricted"},
        "quarantine": {"status": "applied", "action": {
            "kind": "detached", "principal": {"kind": "user", "name": attacker},
            "policyArn": ADMINISTRATOR_ACCESS}, "originalDocument": "{}", "findings": []},
        "approval": {"decision": "approve"},
    }
    code, headers, body = h.stack.invoke_direct_full("restore-policy", payload, 60)
    error = json.loads(body)
    assert code == 200 and headers.get("x-amz-function-error") and \
        error.get("errorType") == "ForgedRequest", f"HTTP {code} {headers} {body[:300]!r}"
    assert "not this deployment's workflow step" in error.get("errorMessage", ""), error
    attached = h.iam.list_attached_user_policies(UserName=attacker)["AttachedPolicies"]
    assert attached == [], f"the forged restore attached {attached}"
    alert = wait_for_alert(h, made_up)
    assert alert.startswith("iam-sentinel ALERT: restore-policy refused a call"), alert


def test_a_forged_quarantine_of_a_running_execution_in_another_state_is_refused(h):
    """T1: quarantine-policy invoked with the ARN of one of our executions that is waiting for
    its approval (its Quarantine step is over): refused, the policy untouched since, alerted."""
    target = ManagedPolicy(h, "forged-quarantine")
    arn, _, _ = wait_for_approval(h, target, "forged-quarantine")
    before = h.policy_state(target.arn)
    code, headers, body = h.stack.invoke_direct_full("quarantine-policy",
                                                     {"executionArn": arn}, 60)
    error = json.loads(body)
    assert headers.get("x-amz-function-error") and error.get("errorType") == "ForgedRequest", \
        f"HTTP {code} {body[:300]!r}"
    assert "RequestApproval" in error.get("errorMessage", ""), error
    assert h.policy_state(target.arn) == before, "the forged quarantine changed the policy"
    assert "quarantine-policy refused a call" in wait_for_alert(h, arn)
    assert h.status(arn) == "RUNNING", "the real execution was disturbed"


def test_an_incident_started_by_hand_with_a_made_up_event_quarantines_nothing(h):
    """T25: a power user calls StartExecution with a made-up CloudTrail event about a grant
    really in force (the walkthrough's policy, never changed since): Analyse refuses it (no
    start recorded by the starter) before anything is analysed, the policy is untouched, nobody
    is asked to approve, and the one notice and event repeat nothing the event claims."""
    target = ManagedPolicy(h, "started-by-hand")
    before = target.state()
    arn = h.start_by_hand(unique("by-hand"), target.event)
    assert h.wait_done(arn) == "FAILED"
    entered = h.states_entered(arn)
    assert entered == ["Analyse", "PublishFailed", "Failed"], entered
    assert target.state() == before, "the made-up incident changed the policy"
    notices, events = h.published(arn, 1)
    assert len(notices) == 1 and len(events) == 1, (notices, events)
    assert "Started by hand" in notices[0] and "ForgedStart" in notices[0], notices[0]
    assert not h.approval_emails(arn)
    for claim in (target.name, "alice"):
        assert claim not in notices[0], notices[0]
        assert claim not in json.dumps(events[0]), events[0]


def test_an_approve_sent_around_the_page_restores_nothing(h, note):
    """T3: SendTaskSuccess("approve") by someone other than the approval API (no proof): the
    state machine goes to Restore, which refuses (ForgedRequest, not retried), the execution
    fails with the refusal in its failure notification, the quarantine stays, alerted."""
    target = ManagedPolicy(h, "approve-around-the-page")
    arn, token, _ = wait_for_approval(h, target, "around-the-page")
    h.sfn.send_task_success(taskToken=token, output=json.dumps({
        "decision": "approve", "decidedAt": "2026-12-01T10:00:00Z",
        "proof": "bm90IGEgcHJvb2Y="}))
    status = h.wait_done(arn)
    assert status == "FAILED", f"execution {status}, expected FAILED"
    entered = h.states_entered(arn)
    assert entered[-4:] == ["CheckDecision", "Restore", "PublishFailed", "Failed"], \
        f"path {entered[len(TO_APPROVAL):]}"
    calls = h.stack.router.invocations_of("restore-policy", arn.rsplit(":", 1)[1])
    assert len(calls) == 1, f"restore-policy invoked {len(calls)} times (must not be retried)"
    target.assert_quarantined(target.state())
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "failed"], f"outcome events: {outcomes(evs)}"
    assert headlines(notes)[-1] == FAILED_HEADLINE
    err = evs[1]["detail"].get("error") or {}
    assert err.get("Error") == "ForgedRequest" and "proof" in (err.get("Cause") or ""), err
    assert "restore-policy refused a call" in wait_for_alert(h, arn)


def test_an_approval_is_not_given_to_a_user_created_again_under_the_same_name(h):
    """T28: while the approval waits, the user whose attachment was quarantined is deleted and
    another created under the same name. The page says before anyone decides that approving
    restores nothing; Approve ends target_gone, and the new user gets nothing attached."""
    target = Attachment(h, "created-again")
    arn, _, _ = wait_for_approval(h, target, "created-again")
    h.iam.delete_user(UserName=target.user)
    h.iam.create_user(UserName=target.user)
    page, form = h.open_page(h.approval_link(arn), target.names)
    told = f"user {target.user} was deleted and created again after the quarantine"
    assert "Approve will restore nothing" in page.body and told in page.body, \
        "the page does not say that the user is another one now"
    h.submit(page, form, "approve")
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    assert h.states_entered(arn)[-3:] == ["CheckRestore", "PublishTargetGone", "Done"], \
        f"path {h.states_entered(arn)}"
    assert attached(h, target.user) == [], "the new user got the quarantined policy"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "target_gone"], f"outcomes: {outcomes(evs)}"
    assert told in notes[-1], f"the notification does not say why: {notes[-1][:400]}"


def test_a_restricted_grant_on_iam_sentinels_own_role_is_reported_and_never_quarantined(h):
    """T6: a PutRolePolicy that grants a restricted action to one of the stack's own roles
    (here by a person, not CloudFormation): reported (PublishReported), the role's policy left
    as it is, and the notification says someone is changing the control itself."""
    role = next(r for r in OWN_ROLE_NAMES if r.endswith("approval-api"))
    event = fresh_ids(fixture("put-role-policy.json"))
    params = event["detail"]["requestParameters"]
    params["roleName"], params["policyName"] = role, unique("escalate")
    if role not in {r["RoleName"] for r in h.iam.list_roles()["Roles"]}:
        h.iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_EC2)
    h.iam.put_role_policy(RoleName=role, PolicyName=params["policyName"],
                          PolicyDocument=params["policyDocument"])
    arn = h.start(unique("own-role"), event)
    assert h.wait_done(arn) == "SUCCEEDED"
    assert h.states_entered(arn) == ["Analyse", "CheckVerdict", "PublishReported", "Done"], \
        h.states_entered(arn)
    now = h.iam.get_role_policy(RoleName=role, PolicyName=params["policyName"])
    assert json.dumps(now["PolicyDocument"], sort_keys=True) == \
        json.dumps(json.loads(params["policyDocument"]), sort_keys=True), "the own role was changed"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["reported"], outcomes(evs)
    assert "someone is changing the security control itself" in notes[0], notes[0]


def test_another_session_of_the_writer_role_starts_an_incident(h):
    """T4: only the two writer functions' sessions are iam-sentinel's own. The same
    CreatePolicyVersion made in any other session of the policy-writer role goes through the
    template's own rule and is analysed like anyone's change."""
    trigger = h.stack.deploy_trigger()
    target = ManagedPolicy(h, "writer-elsewhere")
    detail = writer_detail("CreatePolicyVersion", "copied-credentials",
                           {"policyArn": target.arn, "setAsDefault": True,
                            "policyDocument": target.event["detail"]["requestParameters"][
                                "policyDocument"]},
                           {"policyVersion": {"versionId": "v1", "isDefaultVersion": True}})
    assert detail["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == WRITER_ROLE_ARN
    detail["eventTime"] = now_iso()
    event_id = h.stack.put_cloudtrail_event(detail)
    _, arn, _ = wait_until("the rule to start an execution for the writer role's other session",
                           lambda: next((x for x in trigger.executions() if x[2] == event_id),
                                        None), 30, 0.2)
    h.watch(arn)
    h.approval_token(arn)
    assert h.states_entered(arn) == TO_APPROVAL, h.states_entered(arn)
