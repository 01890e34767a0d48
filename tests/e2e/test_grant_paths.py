"""Grant paths without a policy edit, through the template's own rule: a user added to a group
(AddUserToGroup) gets what the group's policies grant, so a membership that adds a restricted
grant is held back until approved, and one that adds nothing restricted is left alone; a made-up
membership event adds nobody to any group; a permissions boundary deleted or widened turns on
what it held back, so the boundary before the change is put back until approved, and one that
narrows is left alone; a role's new trust policy is reported, never quarantined. (The decisions
on a membership and on a deleted boundary, approve, deny and no answer, are in test_matrix.py
with every other target.)"""

from __future__ import annotations

import json
import time

from harness.processes import wait_until
from harness.template import function_names

from .expect import AFTER_APPROVE, QUARANTINED, TO_APPROVAL, headlines, outcomes
from .incidents import (BoundaryRole, GroupMembership, fixture, fresh_ids, ledger_saw,
                        ledger_says, now_iso, unique, writer_detail)
from .test_loop_safety import LOOP_QUIET_SECONDS

READ_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}]})


def through_the_rule(h, event: dict) -> str:
    """The event's CloudTrail record put on the default bus now; the execution the template's
    rule, its queue and the real starter start for it."""
    h.stack.deploy_trigger()
    detail = event["detail"]
    detail["eventTime"] = now_iso()
    event_id = h.stack.put_cloudtrail_event(detail)
    arn = wait_until("the starter to start an execution",
                     lambda: next((a for _, a, e in h.stack.trigger.executions()
                                   if e == event_id), None), 30, 0.2)
    h.watch(arn)
    return arn


def test_a_membership_that_adds_a_restricted_grant_is_held_back_and_given_back_on_approval(h):
    """The rule matches AddUserToGroup; the user is removed from the group (the group and its
    policy untouched); the emails and the page say which membership was held back and what it
    grants; Approve adds the user back to that group."""
    target = GroupMembership(h, "held")
    arn = through_the_rule(h, target.event)
    h.approval_token(arn)
    assert h.states_entered(arn) == TO_APPROVAL, f"path to the approval: {h.states_entered(arn)}"
    target.assert_quarantined(target.state())
    email = h.approval_email(arn)
    held = f"user {target.user} removed from group {target.group}: the membership is held back"
    assert held in email and "s3:DeleteBucket through inline policy" in email, email
    h.decide_on_page(arn, "approve", target.names, "the team needs it")
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path after approval: {entered[5:]}"
    target.assert_restored(target.state())
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restored"], f"outcome events: {outcomes(evs)}"
    assert held in notes[0], notes[0]
    grants = [g["pattern"] for g in evs[0]["detail"].get("groupGrants") or []]
    assert grants == ["s3:DeleteBucket"], f"groupGrants: {grants}"
    assert h.state_output(arn, "Restore")["restore"]["detail"] == \
        f"user {target.user} is in group {target.group} again"
    # The writers' own RemoveUserFromGroup and AddUserToGroup, as CloudTrail reports them,
    # start nothing: the rule drops the policy writer's sessions whatever the call.
    functions = function_names(h.stack.template)
    names = {"userName": target.user, "groupName": target.group}
    own = [writer_detail("RemoveUserFromGroup", functions["QuarantinePolicyFunction"]["name"],
                         names, None),
           writer_detail("AddUserToGroup", functions["RestorePolicyFunction"]["name"],
                         names, None)]
    before = len(h.stack.trigger.executions())
    for detail in own:
        h.stack.put_cloudtrail_event(detail)
    time.sleep(LOOP_QUIET_SECONDS)
    assert len(h.stack.trigger.executions()) == before, "the writers' own calls started an incident"


def test_a_membership_of_a_group_with_nothing_restricted_starts_no_quarantine(h):
    """The group only reads: clean, the user stays in the group, nothing asked."""
    user, group = unique("reader-user"), unique("reader-group")
    h.iam.create_user(UserName=user)
    h.iam.create_group(GroupName=group)
    h.iam.put_group_policy(GroupName=group, PolicyName="read", PolicyDocument=READ_ONLY)
    h.iam.add_user_to_group(UserName=user, GroupName=group)
    event = fresh_ids(fixture("add-user-to-group.json"))
    event["detail"]["requestParameters"].update(userName=user, groupName=group)
    arn = through_the_rule(h, event)
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    incident = h.state_output(arn, "Analyse")["incident"]
    assert incident["verdict"] == "clean", f"verdict {incident['verdict']}"
    assert "Quarantine" not in h.states_entered(arn), f"path {h.states_entered(arn)}"
    groups = [g["GroupName"] for g in h.iam.list_groups_for_user(UserName=user)["Groups"]]
    assert groups == [group], f"{user} is in {groups}"
    assert not h.approval_emails(arn), "an approval was asked"


def test_a_made_up_membership_event_adds_nobody_to_any_group(h):
    """Attack (THREAT-MODEL T15): whoever can start executions sends an AddUserToGroup event
    naming mallory and a group that grants the restricted actions, although mallory was never
    added. Quarantine finds no membership to hold back, so nothing is asked and nothing can be
    approved: mallory is in no group afterwards, and the group is untouched."""
    target = GroupMembership(h, "forged")
    h.iam.remove_user_from_group(UserName=target.user, GroupName=target.group)
    event = target.event
    # Older than the consistency window: no lag to wait out.
    event["detail"]["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(time.time() - 600))
    arn = h.start(unique("forged-membership"), event)
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    entered = h.states_entered(arn)
    assert entered[:4] == ["Analyse", "CheckVerdict", "Quarantine", "CheckQuarantine"] \
        and "RequestApproval" not in entered and "Restore" not in entered, f"path {entered}"
    reason = h.state_output(arn, "Quarantine")["quarantine"].get("reason", "")
    assert "is no longer in group" in reason, f"quarantine {reason!r}"
    assert target.groups() == [], f"mallory is in {target.groups()}"
    assert not h.approval_emails(arn), "an approval was asked"


def test_a_trust_policy_change_is_reported_and_never_quarantined(h):
    """update-assume-role-policy.json for a role of the test's own: reported (another account
    may assume the role), published as trust_reported, the trust policy left as it is."""
    event = fresh_ids(fixture("update-assume-role-policy.json"))
    role = unique("trusting-role")
    document = event["detail"]["requestParameters"]["policyDocument"]
    event["detail"]["requestParameters"]["roleName"] = role
    h.iam.create_role(RoleName=role, AssumeRolePolicyDocument=document)
    arn = through_the_rule(h, event)
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    entered = h.states_entered(arn)
    assert entered == ["Analyse", "CheckVerdict", "PublishTrustReported", "Done"], f"path {entered}"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["trust_reported"], f"outcome events: {outcomes(evs)}"
    assert evs[0]["detail-type"] == "IAM Sentinel Trust Policy Changed", evs[0]["detail-type"]
    warnings = evs[0]["detail"]["trust"]["warnings"]
    assert len(warnings) == 1 and "444455556666" in warnings[0], f"warnings: {warnings}"
    assert headlines(notes) == ["Trust policy changed: who may assume the role"], headlines(notes)
    assert QUARANTINED[0] not in notes[0]
    kept = h.iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert kept == json.loads(document), "the trust policy was changed"


def test_a_widening_boundary_is_held_by_the_previous_one_until_approved(h):
    """PutRolePermissionsBoundary of a wider boundary (pipeline-boundary-wide.json: s3:*) on a
    role whose narrow one the ledger saw: the rule matches it; the narrow boundary is put back
    (the emails say which, and what the change let through); the ledger says it is in force;
    Approve makes the wide one the boundary again, and the ledger follows."""
    role = BoundaryRole(h, "widened", ["pipeline-boundary", "pipeline-boundary-wide"])
    role.set("pipeline-boundary")
    ledger_saw(h, role.role, role.arns["pipeline-boundary"])
    role.set("pipeline-boundary-wide")
    arn = through_the_rule(h, role.event("pipeline-boundary-wide"))
    h.approval_token(arn)
    assert h.states_entered(arn) == TO_APPROVAL, f"path to the approval: {h.states_entered(arn)}"
    narrow, wide = role.arns["pipeline-boundary"], role.arns["pipeline-boundary-wide"]
    assert role.boundary() == narrow, f"boundary {role.boundary()}, expected {narrow} back"
    assert ledger_says(h, role.role) == narrow
    email = h.approval_email(arn)
    put_back = f"permissions boundary {narrow} put back on role {role.role}"
    assert put_back in email and "s3:DeleteBucket through inline policy" in email, email
    h.decide_on_page(arn, "approve", [role.role, narrow], "the pipeline cleans up now")
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    assert role.boundary() == wide, f"boundary {role.boundary()}, expected {wide}"
    assert ledger_says(h, role.role) == wide
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restored"], f"outcome events: {outcomes(evs)}"
    assert put_back in notes[0], notes[0]


def test_a_narrowing_boundary_starts_no_quarantine_and_is_the_one_put_back_next(h):
    """The ledger never saw the role; someone gives it the narrow boundary: clean (nothing
    restricted gets through it), no quarantine, and the ledger now knows it. Then someone
    deletes it: that narrow boundary is what the quarantine puts back."""
    role = BoundaryRole(h, "narrowed", ["pipeline-boundary"])
    narrow = role.arns["pipeline-boundary"]
    role.set("pipeline-boundary")
    first = through_the_rule(h, role.event("pipeline-boundary"))
    assert h.wait_done(first) == "SUCCEEDED", f"execution {h.status(first)}"
    assert h.state_output(first, "Analyse")["incident"]["verdict"] == "clean"
    assert "Quarantine" not in h.states_entered(first), f"path {h.states_entered(first)}"
    assert not h.approval_emails(first), "an approval was asked"
    assert role.boundary() == narrow and ledger_says(h, role.role) == narrow
    # The ledger's entry must predate the deletion (whole seconds): it did not see the change.
    time.sleep(1.1)
    role.set(None)
    second = through_the_rule(h, role.event(None))
    h.approval_token(second)
    assert role.boundary() == narrow, f"boundary {role.boundary()}, expected {narrow} back"
