"""The account sweep on a deployment of its own (`sw`): the real sweep-account function reads
the whole account (GetAccountAuthorizationDetails), its findings go to the starter's queue and
through the real start-incident into the real workflow. A grant whose event never arrived is
found by the sweep after the baseline and quarantined; a grant approved earlier is left alone,
an attachment of an approved policy made since is detached; a user added to a group with the
event lost is asked about on the membership, after the group's policy; two sweeps, in a row or
at once, open one incident; the summary says what was examined and done; the rules file's alert
rules are reported, its exemptions named, a lapsed one too, and the rules the functions started
with were published, and `iam-sentinel scan --rules` gives the sweep's verdicts on the same
account. The tests run in order: the first sweep of the deployment
is the baseline."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess

from harness.processes import wait_until

from .conftest import E2E_RULES
from .expect import TO_APPROVAL, wait_for_approval
from .incidents import (ASSUME_EC2, GroupMembership, InlinePolicy, ManagedPolicy, Target,
                        same_document, unique)

BASELINE_KEY = {"pk": {"S": "sweep#baseline"}}


def incidents_of(sw, *summaries) -> list[str]:
    """The executions the starter started for these sweeps' findings."""
    ids = tuple(f"{s['sweepId']}-" for s in summaries)
    return [arn for _, arn, event_id in sw.stack.trigger.executions() if event_id.startswith(ids)]


def event_id_of(sw, arn: str) -> str:
    return next(e for _, a, e in sw.stack.trigger.executions() if a == arn)


def followed_to_the_approval(sw, arn: str, target):
    """A sweep's incident, as any event's: quarantined, then an approval request."""
    sw.watch(arn)
    sw.approval_token(arn)
    assert sw.states_entered(arn) == TO_APPROVAL, f"path: {sw.states_entered(arn)}"
    target.assert_quarantined(target.state())
    assert "SweepFinding" in sw.approval_email(arn)


def after_the_baseline(sw):
    """The deployment's baseline sweep has run (it has, when the tests run in order)."""
    if "Item" not in sw.dynamodb.get_item(TableName=sw.stack.decision_table, Key=BASELINE_KEY):
        sw.stack.sweep("baseline for a test run on its own")


def test_the_baseline_sweep_reports_a_grant_in_force_and_quarantines_nothing(sw):
    # GIVEN a grant made with its event suppressed (put straight into IAM), before any sweep
    lost = InlinePolicy(sw, "lost-before")
    # WHEN the first sweep runs
    summary = sw.stack.sweep("scheduled")
    # THEN it is the baseline: the grant is found and reported, nothing is started or changed
    assert summary["baseline"] is True, summary
    assert (summary["targetsFound"], summary["reported"], summary["incidentsStarted"]) == \
        (1, 1, 0), summary
    assert same_document(lost.state(), lost.original), "the baseline changed the policy"
    assert sw.stack.trigger.executions() == [], "the baseline started an incident"
    assert "Item" in sw.dynamodb.get_item(TableName=sw.stack.decision_table, Key=BASELINE_KEY)


def test_an_event_that_never_arrived_is_found_by_the_next_sweep_and_quarantined(sw):
    # GIVEN the baseline has run, and a grant made with its event suppressed
    after_the_baseline(sw)
    lost = InlinePolicy(sw, "lost-event")
    # WHEN the next sweep runs
    summary = sw.stack.sweep("scheduled")
    # THEN it starts one incident per grant nobody approved (this one, and the baseline's), each
    # through the starter, quarantined and asked about like any event's
    assert summary["baseline"] is False and summary["incidentsStarted"] == 2, summary
    arns = wait_until("the sweep's incidents",
                      lambda: len(got := incidents_of(sw, summary)) == 2 and got, 30, 0.2)
    mine = [a for a in arns if lost.role in sw.stack.trigger.body_of(event_id_of(sw, a))]
    assert len(mine) == 1, arns
    followed_to_the_approval(sw, mine[0], lost)


def test_two_sweeps_in_a_row_and_two_at_once_open_one_incident(sw):
    after_the_baseline(sw)
    lost = InlinePolicy(sw, "lost-twice")
    # WHEN two sweeps are invoked at once, and then another (the local stack runs one instance
    # of a function, so "at once" queues here; against_moto's sweep specs run two truly at once)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        both = list(pool.map(sw.stack.sweep, ["at once 1", "at once 2"]))
    again = sw.stack.sweep("in a row")
    # THEN one of them started the incident; the others found it claimed or quarantined
    started = [s["incidentsStarted"] for s in both + [again]]
    assert sorted(started) == [0, 0, 1], both + [again]
    arns = wait_until("the incident", lambda: incidents_of(sw, *both, again), 30, 0.2)
    assert len(arns) == 1, f"{len(arns)} incidents for one grant: {arns}"
    followed_to_the_approval(sw, arns[0], lost)
    assert incidents_of(sw, *both, again) == arns


def approved_attached_to_a_role(sw, prefix: str) -> tuple[ManagedPolicy, str, str]:
    """A policy change, in force through a role's attachment, quarantined and approved on the
    page: the original is in force again. (policy, execution ARN, role)"""
    target = ManagedPolicy(sw, prefix)
    role = attached_role(sw, f"{target.name}-role", target.arn)
    arn, _, _ = wait_for_approval(sw, target, prefix)
    sw.decide_on_page(arn, "approve", target.names, "needed, OPS-1234")
    assert sw.wait_done(arn) == "SUCCEEDED"
    target.assert_restored(target.state())
    return target, arn, role


def attached_role(sw, role: str, policy_arn: str) -> str:
    """A role of the test's own with the policy attached, straight into IAM (no event)."""
    sw.iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_EC2)
    sw.iam.attach_role_policy(RoleName=role, PolicyArn=policy_arn)
    return role


def approved_grants(sw, execution_arn: str) -> list[dict]:
    """The grant items recorded approved by that incident."""
    name = execution_arn.rsplit(":", 1)[1]
    items = sw.dynamodb.scan(TableName=sw.stack.decision_table, ConsistentRead=True)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("grant#")
            and i.get("incident", {}).get("S") == name]


def backdate(sw, item: dict, at: int):
    """Dates a decision record `at` (epoch seconds), as if written then."""
    sw.dynamodb.update_item(TableName=sw.stack.decision_table, Key={"pk": item["pk"]},
                            UpdateExpression="SET #at = :at",
                            ExpressionAttributeNames={"#at": "at"},
                            ExpressionAttributeValues={":at": {"N": str(at)}})


def role_created(sw, role: str) -> int:
    """When IAM created the role, in epoch seconds."""
    return int(sw.iam.get_role(RoleName=role)["Role"]["CreateDate"].timestamp())


def approvals_dated_back(sw, arn: str, role: str):
    """The approval's records (the document, and the document on the role's attachment) dated
    as far back as they can be: the document's a week, the attachment's to the second after the
    role was created (one written before then, or in that second, was for an earlier role of
    that name, T28)."""
    approved = approved_grants(sw, arn)
    assert len(approved) == 2 and {i["status"]["S"] for i in approved} == {"approved"}, approved
    for item in approved:
        on_the_role = item.get("target", {}).get("S", "").startswith("attachment")
        backdate(sw, item, role_created(sw, role) + 1 if on_the_role
                 else int(item["at"]["N"]) - 7 * 24 * 3600)


def test_a_grant_approved_earlier_is_not_quarantined_again(sw):
    after_the_baseline(sw)
    # GIVEN a policy change approved on the page while attached to a role
    target, arn, role = approved_attached_to_a_role(sw, "approved-earlier")
    # WHEN a sweep runs THEN the approved grant is left alone
    summary = sw.stack.sweep("scheduled")
    assert summary["approvedLeftAlone"] >= 1 and summary["incidentsStarted"] == 0, summary
    assert target.state()[0] == "v1", "the approved policy was quarantined again"
    # GIVEN its approval was recorded long ago
    approvals_dated_back(sw, arn, role)
    # WHEN another sweep runs THEN it is still left alone
    later = sw.stack.sweep("scheduled")
    assert later["approvedLeftAlone"] >= 1 and later["incidentsStarted"] == 0, later
    assert incidents_of(sw, summary, later) == []
    assert target.state()[0] == "v1"


def test_an_approval_is_not_carried_to_a_role_created_again_under_its_name(sw):
    """T28 on the sweep's path: the approved role is deleted and another created under its
    name, the approved policy attached to it with the event lost. The approval was for the
    earlier role: the sweep asks about the new one's attachment."""
    after_the_baseline(sw)
    # GIVEN a policy approved on the page while attached to a role, its approval recorded then
    target, arn, role = approved_attached_to_a_role(sw, "created-again")
    approvals_dated_back(sw, arn, role)
    # AND the role deleted and created again under its name, the policy attached (no event)
    sw.iam.detach_role_policy(RoleName=role, PolicyArn=target.arn)
    sw.iam.delete_role(RoleName=role)
    attached_role(sw, role, target.arn)
    on_the_role = [int(i["at"]["N"]) for i in approved_grants(sw, arn)
                   if i.get("target", {}).get("S", "").startswith("attachment")]
    assert len(on_the_role) == 1 and role_created(sw, role) >= on_the_role[0], \
        f"the new role was created before its attachment's approval: {on_the_role}"
    # WHEN a sweep runs THEN the new role's attachment gets an incident, detached and asked
    # about; the approved document itself is left alone
    summary = sw.stack.sweep("scheduled")
    mine = the_incidents_naming(sw, summary, target.arn)
    assert len(mine) == 1, f"incidents for {target.arn}: {mine}, summary {summary}"
    assert role in sw.stack.trigger.body_of(event_id_of(sw, mine[0]))
    followed_to_the_approval(sw, mine[0], RoleAttachment(sw, target, role))
    target.assert_restored(target.state())


class RoleAttachment(Target):
    """An approved customer managed policy's attachment to a role: quarantined by detaching it,
    as an AttachRolePolicy's incident is, the approved policy itself untouched."""

    def __init__(self, h, policy: ManagedPolicy, role: str):
        super().__init__(h)
        self.policy, self.role = policy, role

    def state(self):
        attached = self.h.iam.list_attached_role_policies(RoleName=self.role)["AttachedPolicies"]
        return [a["PolicyArn"] for a in attached], self.policy.state()

    def assert_quarantined(self, state):
        arns, policy_state = state
        assert self.policy.arn not in arns, f"{self.role}: still attached: {arns}"
        self.policy.assert_restored(policy_state)


def test_an_attachment_made_after_the_approval_with_its_event_lost_is_quarantined(sw):
    after_the_baseline(sw)
    # GIVEN a policy approved on the page while attached to one role
    target, _, first = approved_attached_to_a_role(sw, "attached-later")
    # AND attached to a second role since, with that event never delivered
    second = attached_role(sw, unique("attached-later-second"), target.arn)
    # WHEN a sweep runs (SweepMode=quarantine)
    summary = sw.stack.sweep("scheduled")
    # THEN the second attachment gets an incident of its own, through the starter: detached,
    # as an AttachRolePolicy's incident is, and asked about
    arns = wait_until("the sweep's incidents", lambda: incidents_of(sw, summary), 30, 0.2)
    about = {a: sw.stack.trigger.body_of(event_id_of(sw, a)) for a in arns}
    mine = [a for a, body in about.items() if target.arn in body]
    assert len(mine) == 1 and second in about[mine[0]] and first not in about[mine[0]], about
    followed_to_the_approval(sw, mine[0], RoleAttachment(sw, target, second))
    # AND the approved attachment and the approved document are left alone
    assert RoleAttachment(sw, target, first).state()[0] == [target.arn]
    target.assert_restored(target.state())
    assert summary["approvedLeftAlone"] >= 1, summary


def the_incidents_naming(sw, summary, name: str) -> list[str]:
    """The incidents this sweep started whose finding names `name`, once the starter has started
    every incident the sweep reported."""
    wait_until("the sweep's incidents started",
               lambda: len(incidents_of(sw, summary)) == summary["incidentsStarted"], 30, 0.2)
    return [a for a in incidents_of(sw, summary)
            if name in sw.stack.trigger.body_of(event_id_of(sw, a))]


def test_a_member_added_with_the_event_lost_is_quarantined_and_restored(sw):
    after_the_baseline(sw)
    # GIVEN a group whose inline policy deletes buckets, and a user added to it, neither event
    # delivered (both put straight into IAM)
    member = GroupMembership(sw, "lost-member")
    # WHEN a sweep runs THEN the group's policy is asked about on the group; the membership waits
    first = sw.stack.sweep("scheduled")
    [arn] = the_incidents_naming(sw, first, member.group)
    assert the_incidents_naming(sw, first, member.user) == []
    sw.watch(arn)
    sw.approval_token(arn)
    groups, policy = member.state()
    assert member.group in groups and not same_document(policy, member.grants), (groups, policy)
    # AND approved, the policy is back (approved on the group, which names no member)
    sw.decide_on_page(arn, "approve", [member.group, member.policy], "the group's policy, OPS-7")
    assert sw.wait_done(arn) == "SUCCEEDED"
    assert same_document(member.state()[1], member.grants)
    # WHEN the next sweep runs THEN the membership is asked about: the user is taken out of the
    # group (RemoveUserFromGroup, as for an AddUserToGroup event), the group left alone
    second = sw.stack.sweep("scheduled")
    [arn] = the_incidents_naming(sw, second, member.user)
    assert the_incidents_naming(sw, second, member.group) == [arn]
    followed_to_the_approval(sw, arn, member)
    # AND approved, the user is back in the group
    sw.decide_on_page(arn, "approve", member.names, "joins the group, OPS-8")
    assert sw.wait_done(arn) == "SUCCEEDED"
    member.assert_restored(member.state())
    # WHEN another sweep runs THEN it leaves the approved membership and policy alone
    third = sw.stack.sweep("scheduled")
    assert the_incidents_naming(sw, third, member.group) == []
    member.assert_restored(member.state())


def test_the_summary_says_what_was_examined_found_and_started(sw):
    after_the_baseline(sw)
    summary = sw.stack.sweep("on demand")
    # THEN its figures are the account's: every user, role, group and managed policy
    iam = sw.iam
    counts = {"users": len(iam.list_users()["Users"]), "roles": len(iam.list_roles()["Roles"]),
              "groups": len(iam.list_groups()["Groups"]),
              "policies": len(iam.list_policies(Scope="Local")["Policies"])}
    assert {k: summary["examined"][k] for k in counts} == counts, summary
    assert summary["seconds"] > 0
    # AND people get it by email, tools as the "IAM Sentinel Sweep Completed" event
    def published():
        sw.drain()
        mail = [b for b in sw.notifications if f"Account sweep {summary['sweepId']}" in b]
        events = [e for e in sw.events if e.get("detail-type") == "IAM Sentinel Sweep Completed"
                  and e["detail"]["summary"]["sweepId"] == summary["sweepId"]]
        return mail and events and (mail[0], events[0])
    mail, event = wait_until("the summary's email and event", published, 20, 0.2)
    assert f"{counts['users']} users, {counts['roles']} roles" in mail, mail
    assert f"incidents started: {summary['incidentsStarted']}" in mail, mail
    assert event["source"] == "iam-sentinel"
    assert event["detail"]["summary"] == summary


def inline_role(sw, prefix: str, statement: dict) -> tuple[str, str, dict]:
    """A role of the test's own with one inline policy, put straight into IAM (no event)."""
    role, name = unique(prefix), unique(f"{prefix}-policy")
    document = {"Version": "2012-10-17", "Statement": [statement]}
    sw.iam.create_role(RoleName=role, AssumeRolePolicyDocument=ASSUME_EC2)
    sw.iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    return role, name, document


def test_the_rules_file_alerts_exempts_and_names_a_lapsed_exemption(sw):
    # GIVEN the deployment's rules (tests/fixtures/rules/e2e.toml) and three grants in force put
    # straight into IAM: one of the alert rule e2e-parameters, one on a break-glass role
    # (exemption e2e-break-glass), one in a statement whose exemption e2e-lapsed expired
    after_the_baseline(sw)
    alerted = inline_role(sw, "swept-alerted", {
        "Sid": "Parameters", "Effect": "Allow", "Action": "ssm:DeleteParameter", "Resource": "*"})
    glass = inline_role(sw, "e2e-break-glass", {
        "Sid": "Secrets", "Effect": "Allow", "Action": "secretsmanager:DeleteSecret",
        "Resource": "*"})
    lapsed = inline_role(sw, "swept-lapsed", {
        "Sid": "E2eLapsedMigration", "Effect": "Allow", "Action": "secretsmanager:DeleteSecret",
        "Resource": "*"})
    # WHEN a sweep runs
    summary = sw.stack.sweep("scheduled")
    # THEN only the lapsed exemption's grant starts an incident
    arns = wait_until("the sweep's incident",
                      lambda: incidents_of(sw, summary), 30, 0.2)
    assert summary["incidentsStarted"] == 1 and len(arns) == 1, (summary, arns)
    assert lapsed[0] in sw.stack.trigger.body_of(event_id_of(sw, arns[0]))
    # AND the alerted and the exempted grants are left as they are
    for role, name, document in (alerted, glass):
        state = sw.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        assert same_document(state, document), f"{role}'s policy was changed"
    assert summary["alerted"] >= 1 and summary["grantsExempted"] >= 1, summary
    # AND the email and the summary event name the exemption and the lapsed one, with owners
    def published():
        sw.drain()
        mail = [b for b in sw.notifications if f"Account sweep {summary['sweepId']}" in b]
        events = [e for e in sw.events if e.get("detail-type") == "IAM Sentinel Sweep Completed"
                  and e["detail"]["summary"]["sweepId"] == summary["sweepId"]]
        return mail and events and (mail[0], events[0]["detail"])
    mail, detail = wait_until("the summary's email and event", published, 20, 0.2)
    assert f"inline policy {alerted[1]} of role {alerted[0]} [alert rules: reported]" in mail, mail
    assert ('exemption "e2e-break-glass" (owner security-team@example.com, until 2099-12-31: '
            "the break-glass role may do anything)") in mail, mail
    assert 'exemption "e2e-lapsed" (owner data-team@example.com, until 2020-01-31' in mail, mail
    exempted = {u["exemption"]["name"]: u for u in detail["exempted"]}
    assert f'role "{glass[0]}"' in exempted["e2e-break-glass"]["principals"], detail
    expired = {u["exemption"]["name"]: u for u in detail["expired"]}
    assert f'role "{lapsed[0]}"' in expired["e2e-lapsed"]["principals"], detail
    # AND `iam-sentinel scan --rules` on the same account and file gives the same verdicts
    roles = scanned(sw)
    assert verdict(roles[alerted[0]]) == ([], ["ssm:DeleteParameter"], [], set(), set()), roles
    delete = "secretsmanager:DeleteSecret"
    assert verdict(roles[glass[0]]) == ([], [], [delete], {"e2e-break-glass"}, set()), \
        roles[glass[0]]
    assert verdict(roles[lapsed[0]]) == ([delete], [], [], set(), {"e2e-lapsed"}), \
        roles[lapsed[0]]
    assert delete in exempted["e2e-break-glass"]["patterns"], detail
    assert delete in expired["e2e-lapsed"]["patterns"], detail


def verdict(principal: dict) -> tuple:
    """A principal of `scan --rules --format json`: its enforced, alerted and exempted patterns,
    the exemptions that cover its statements and those that expired."""
    grants = principal["grants"] + principal["alerted"] + principal["exempted"]
    def names(key):
        return {by["exemption"]["name"] for g in grants for c in g[key] for by in c["by"]}
    return ([g["pattern"] for g in principal["grants"]],
            [g["pattern"] for g in principal["alerted"]],
            [g["pattern"] for g in principal["exempted"]], names("exempted"), names("expired"))


def scanned(sw) -> dict[str, dict]:
    """`iam-sentinel scan --rules` (the deployment's file and parameter) on the account as
    `aws iam get-account-authorization-details` prints it (every page in one document): each
    role the report lists, by name."""
    details = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
    for page in sw.iam.get_paginator("get_account_authorization_details").paginate():
        for key, values in details.items():
            values += page.get(key, [])
    argv = [str(sw.check.binary), "scan", "-", "--rules", str(E2E_RULES),
            "--restricted", sw.stack.restricted_actions, "--format", "json"]
    done = subprocess.run(argv, input=json.dumps(details, default=str), capture_output=True,
                          text=True, timeout=120)
    # 2: a document another test left is one IAM would refuse; the others are still reported.
    assert done.returncode in (0, 1, 2) and done.stdout, f"iam-sentinel scan: {done.stderr[:2000]}"
    report = json.loads(done.stdout)
    return {p["name"]: p for p in report["principals"] if p["kind"] == "role"}


def test_the_rules_the_functions_started_with_were_published_and_recorded(sw):
    # GIVEN a deployment whose functions have started (the fixture warmed them up)
    sw.stack.sweep("on demand")
    # THEN the change from no rules to the file's was published, every time with one digest,
    # and that digest is the record's
    def published():
        sw.drain()
        return [e for e in sw.events if e.get("detail-type") == "IAM Sentinel Rules Changed"]
    events = wait_until("the rules-changed event", published, 20, 0.2)
    digests = {e["detail"]["digest"] for e in events}
    assert len(digests) == 1 and all(e["detail"]["previousDigest"] is None for e in events), events
    names = [r["name"] for r in events[0]["detail"]["rules"]]
    assert names[:3] == ["e2e-secrets", "e2e-parameters", "e2e-queues"], names
    assert "e2e-break-glass" in [x["name"] for x in events[0]["detail"]["exemptions"]]
    item = sw.dynamodb.get_item(TableName=sw.stack.decision_table,
                                Key={"pk": {"S": "rules#current"}}, ConsistentRead=True)["Item"]
    assert item["digest"]["S"] in digests, item
