"""How incidents end other than by a plain decision on a new grant: nothing to do (a clean
change, a failed call, iam-sentinel's own change, a policy already changed again), a change
whose document is only in IAM (SetDefaultPolicyVersion), a policy changed again during the
approval wait, and a policy at IAM's five-version limit."""

from __future__ import annotations

import json

from .expect import (AFTER_APPROVE, TO_APPROVAL, assert_decision_context, comment_for,
                     headlines, outcomes, wait_for_approval)
from harness import ACCOUNT

from .incidents import (Attachment, ManagedPolicy, attached, fixture, fresh_ids,
                        managed_policy_event, same_document, unique)


def test_a_clean_change_is_only_reported_and_never_quarantined(h, note):
    document = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadLockConfig", "Effect": "Allow",
        "Action": ["s3:GetBucketObjectLockConfiguration", "s3:DeleteObjectVersion"],
        "Resource": "*"}]}, indent=4)
    target = ManagedPolicy(h, event=managed_policy_event(unique("my-clean-policy"), document))
    arn = h.start(unique("clean"), target.event)
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    incident = h.state_output(arn, "Analyse").get("incident", {})
    assert incident.get("verdict") == "clean", f"verdict {incident.get('verdict')}"
    notify = h.stack.notify_on_clean_changes
    expected = (["Analyse", "CheckVerdict", "CheckNotifyClean"]
                + (["PublishClean"] if notify else []) + ["Done"])
    entered = h.states_entered(arn)
    assert entered == expected, f"path {entered}, expected {expected}"
    default, versions = target.state()
    assert default == "v1" and sorted(versions) == ["v1"], f"policy changed: {default} {sorted(versions)}"
    notes, evs = h.published(arn, 1 if notify else 0)
    want = ["clean"] if notify else []
    assert outcomes(evs) == want, f"outcome events: {outcomes(evs)}, expected {want}"
    assert headlines(notes) == (["Policy change checked: clean"] if notify else []), \
        f"notifications: {headlines(notes)}"
    note(f"NOTIFY_ON_CLEAN_CHANGES={'true' if notify else 'false'}")


def assert_ignored_quietly(h, name: str, event: dict, because: str):
    """The event's execution ends after CheckVerdict: Analyse says ignored, with a reason that
    says `because`, and nothing is published."""
    arn = h.start(unique(name), event)
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    assert entered == ["Analyse", "CheckVerdict", "Done"], f"path {entered}"
    incident = h.state_output(arn, "Analyse").get("incident", {})
    assert incident.get("verdict") == "ignored" and because in (incident.get("ignoredReason") or ""), \
        f"incident {incident.get('verdict')} {incident.get('ignoredReason')!r}"
    notes, evs = h.published(arn, 0)
    assert not notes and not evs, f"published something: {headlines(notes)} {outcomes(evs)}"


def test_a_failed_iam_call_is_ignored(h):
    """create-policy-access-denied.json: the call failed, nothing changed."""
    assert_ignored_quietly(h, "failed-call", fixture("create-policy-access-denied.json"),
                           "AccessDenied")
    names = [p["PolicyName"] for p in h.iam.list_policies(Scope="Local")["Policies"]]
    assert "bob-admin-shortcut" not in names, "a policy was created"


def test_iam_sentinels_own_change_is_ignored(h):
    """put-role-policy-by-sentinel.json: the policy writer's own write-back."""
    assert_ignored_quietly(h, "own-change", fixture("put-role-policy-by-sentinel.json"), "itself")


def test_a_policy_already_clean_when_quarantine_looks_is_superseded(h):
    """The event carries a restricted document, but the policy's default version is clean by
    the time Quarantine looks: not_needed -> PublishSuperseded."""
    event = managed_policy_event(unique("my-bad-policy-superseded"))
    clean = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetBucketObjectLockConfiguration", "Resource": "*"}]})
    name = event["detail"]["requestParameters"]["policyName"]
    policy_arn = h.iam.create_policy(PolicyName=name, PolicyDocument=clean)["Policy"]["Arn"]
    arn = h.start(unique("superseded"), event)
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    entered = h.states_entered(arn)
    assert entered == ["Analyse", "CheckVerdict", "Quarantine", "CheckQuarantine",
                       "PublishSuperseded", "Done"], f"path {entered}"
    default, versions = h.policy_state(policy_arn)
    assert default == "v1" and sorted(versions) == ["v1"], f"policy changed: {default} {sorted(versions)}"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["superseded"], f"outcome events: {outcomes(evs)}"
    assert headlines(notes) == ["Policy changed again: nothing to quarantine"], \
        f"notifications: {headlines(notes)}"


def test_a_new_default_version_is_read_from_iam_and_approval_makes_it_default_again(h):
    """set-default-policy-version.json carries no document: analyse-change reads v2 from IAM;
    approved on the page -> v2 default again, the quarantine version v3 deleted."""
    name = unique("team-s3-access")
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    event = fresh_ids(fixture("set-default-policy-version.json"))
    event["detail"]["requestParameters"]["policyArn"] = policy_arn
    restricted = fixture("create-policy-version-default.json")["detail"]["requestParameters"]["policyDocument"]
    clean = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-team-data/*"}]})
    h.iam.create_policy(PolicyName=name, PolicyDocument=clean)
    h.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=restricted, SetAsDefault=True)
    arn = h.start(unique("set-default"), event)
    token = h.approval_token(arn)
    incident = h.state_output(arn, "Analyse").get("incident", {})
    assert incident.get("verdict") == "restricted" and incident.get("versionId") == "v2", \
        f"incident verdict {incident.get('verdict')} version {incident.get('versionId')}"
    default, versions = h.policy_state(policy_arn)
    assert default == "v3" and not h.check.grants(versions["v3"], "s3:DeleteBucket"), \
        f"during approval: default {default}, expected v3 without s3:DeleteBucket"
    assert token not in h.approval_email(arn), "the approval email carries the task token"
    h.decide_on_page(arn, "approve", [name])
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    default, versions = h.policy_state(policy_arn)
    assert default == "v2" and sorted(versions) == ["v1", "v2"], \
        f"after approval: default {default}, versions {sorted(versions)}"
    _, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restored"], f"outcome events: {outcomes(evs)}"


def test_approval_does_not_undo_a_change_made_during_the_wait(h):
    """Someone changes the policy while the approval waits; Approve must not clobber their
    change, and the outcome says so (restore_skipped, not "Approved and restored")."""
    target = ManagedPolicy(h, "my-bad-policy-changed")
    arn = h.start(unique("restore-skipped"), target.event)
    h.approval_token(arn)
    newer = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetBucketObjectLockConfiguration", "Resource": "*"}]})
    v3 = h.iam.create_policy_version(PolicyArn=target.arn, PolicyDocument=newer,
                                     SetAsDefault=True)["PolicyVersion"]["VersionId"]
    h.decide_on_page(arn, "approve", [target.name])
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    default, _ = target.state()
    assert default == v3, f"their change was clobbered: default {default}, expected {v3}"
    restore = h.state_output(arn, "Restore").get("restore", {})
    assert restore.get("status") == "skipped", f"restore record {restore}"
    entered = h.states_entered(arn)
    assert entered[-4:] == ["Restore", "CheckRestore", "PublishRestoreSkipped", "Done"], \
        f"path after approval: {entered[6:]}"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restore_skipped"], f"outcome events: {outcomes(evs)}"
    assert len(notes) == 2 and "The original policy is back in force" not in notes[1], \
        f"the notification for a SKIPPED restore says the original is back in force: " \
        f"{headlines(notes)}"


def test_approval_leaves_a_policy_detached_once_the_place_it_freed_is_taken(h):
    """While the approval waits, ten other policies are attached to the user: the place the
    detachment freed among its ten is taken, and IAM (here the router, as moto attaches any
    number) refuses an eleventh. The page says before anyone decides that approving restores
    nothing, and why; Approve tries all the same (IAM decides), ends restore_skipped on IAM's
    refusal, the policy stays detached, and the notification says why."""
    target = Attachment(h, "quota-full")
    arn, _, _ = wait_for_approval(h, target, "quota-full")
    read_only = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    for n in range(10):
        other = h.iam.create_policy(PolicyName=unique(f"quota-fill-{n}"),
                                    PolicyDocument=read_only)["Policy"]["Arn"]
        h.iam.attach_user_policy(UserName=target.user, PolicyArn=other)
    page, form = h.open_page(h.approval_link(arn), target.names)
    told = f"user {target.user} has 10 managed policies attached now, and the account's quota is 10"
    assert "Approve will restore nothing" in page.body and told in page.body, \
        "the page does not say that no place is left"
    h.submit(page, form, "approve")
    assert h.wait_done(arn) == "SUCCEEDED", f"execution {h.status(arn)}"
    entered = h.states_entered(arn)
    assert entered[-4:] == ["Restore", "CheckRestore", "PublishRestoreSkipped", "Done"], \
        f"path after approval: {entered[6:]}"
    assert target.policy_arn not in attached(h, target.user), "re-attached over the quota"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restore_skipped"], f"outcomes: {outcomes(evs)}"
    refused = (f"user {target.user} has as many managed policies attached as its quota allows: "
               f"IAM refused to attach {target.policy_arn} again")
    assert refused in notes[-1], f"the notification does not say why: {notes[-1][:400]}"
    assert any(target.user in r for r in h.stack.router.quota_refusals), \
        f"IAM (the router) refused no attachment: {h.stack.router.quota_refusals}"


def test_a_policy_at_five_versions_makes_room_and_approval_restores_its_default(h, request, note):
    """Five versions, the new default v5 grants s3:DeleteBucket: Quarantine deletes the oldest
    non-default version (v1), records its document, and adds the quarantine version; approved
    on the page -> v5 default again."""
    name = unique("five-versions")
    policy_arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    bucket = "arn:aws:s3:::acme-team-data"

    def doc(sid: str, actions: list[str]) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": bucket}]})
    docs = {"v1": doc("FirstReadOnly", ["s3:GetBucketLocation"]),
            "v2": doc("SecondList", ["s3:GetBucketLocation", "s3:ListBucket"]),
            "v3": doc("ThirdTagging", ["s3:ListBucket", "s3:GetBucketTagging"]),
            "v4": doc("FourthVersioning", ["s3:ListBucket", "s3:GetBucketVersioning"])}
    offending = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "TeamBucketRead", "Effect": "Allow",
         "Action": ["s3:ListBucket", "s3:GetBucketVersioning"], "Resource": bucket},
        {"Sid": "TeamBucketCleanup", "Effect": "Allow", "Action": "s3:DeleteBucket",
         "Resource": bucket}]}, indent=2)
    created = h.iam.create_policy(PolicyName=name, PolicyDocument=docs["v1"])["Policy"]["Arn"]
    assert created == policy_arn, created
    for v in ("v2", "v3", "v4"):
        got = h.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=docs[v],
                                          SetAsDefault=True)["PolicyVersion"]["VersionId"]
        assert got == v, (got, v)
    v5 = h.iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=offending,
                                     SetAsDefault=True)["PolicyVersion"]["VersionId"]
    default, versions = h.policy_state(policy_arn)
    assert v5 == "v5" and default == "v5" and sorted(versions) == ["v1", "v2", "v3", "v4", "v5"], \
        f"set-up: created {v5}, default {default}, versions {sorted(versions)}"
    # The CloudTrail event of that CreatePolicyVersion, from the fixture.
    event = fresh_ids(fixture("create-policy-version-default.json"))
    d = event["detail"]
    d["requestParameters"]["policyArn"] = policy_arn
    d["requestParameters"]["policyDocument"] = offending
    d["responseElements"]["policyVersion"]["versionId"] = v5
    arn = h.start(unique("five-versions"), event)
    token = h.approval_token(arn)
    entered = h.states_entered(arn)
    assert entered == TO_APPROVAL, f"path to the approval: {entered}"
    action = (h.state_output(arn, "Quarantine").get("quarantine") or {}).get("action") or {}
    deleted = action.get("deletedVersion") or {}
    qv = action.get("quarantineVersionId")
    assert action.get("kind") == "newDefaultVersion" and action.get("offendingVersionId") == "v5", \
        f"quarantine action {action}"
    assert deleted.get("versionId") == "v1" \
        and same_document(h.document(deleted.get("document")) or "", docs["v1"]), \
        f"deleted version recorded: {deleted} (expected v1, its document in the store)"
    default, versions = h.policy_state(policy_arn)
    assert qv and default == qv and sorted(versions) == sorted(["v2", "v3", "v4", "v5", qv]), \
        f"during approval: default {default}, versions {sorted(versions)}, quarantine version {qv}"
    granted = h.check.granted(versions[qv], ["s3:DeleteBucket", "s3:ListBucket",
                                             "s3:GetBucketVersioning"])
    assert granted == {"s3:ListBucket", "s3:GetBucketVersioning"}, \
        f"the quarantine version {qv} is not v5 without s3:DeleteBucket: it grants {sorted(granted)}"
    changed = [v for v in ("v2", "v3", "v4") if not same_document(versions[v], docs[v])]
    assert not changed, f"{changed} changed"
    assert same_document(versions["v5"], offending), "v5 (the offending original) changed"
    notes, evs = h.published(arn, 1)
    assert outcomes(evs) == ["quarantined"], f"outcome events: {outcomes(evs)}"
    dv = evs[0]["detail"]["quarantine"]["action"].get("deletedVersion") or {}
    assert dv.get("versionId") == "v1" \
        and same_document(h.document(dv.get("document")) or "", docs["v1"]), \
        f"the quarantined event's deletedVersion: {dv}"
    assert "version v1 was deleted to make room" in notes[0], \
        "the quarantined notification does not say v1 was deleted"
    note("the quarantined notification names the deleted version; its document is in the "
         "document store, under the SHA-256 the event gives (quarantine.action.deletedVersion)")
    assert token not in h.approval_email(arn), "the approval email carries the task token"
    decided = h.decide_on_page(arn, "approve", [name, "s3:DeleteBucket", "v1 was deleted"],
                               comment_for(request.node.name, "approve"))
    status = h.wait_done(arn)
    assert status == "SUCCEEDED", f"execution {status}"
    assert h.states_entered(arn)[-len(AFTER_APPROVE):] == AFTER_APPROVE, "path after approval"
    default, versions = h.policy_state(policy_arn)
    assert default == "v5" and sorted(versions) == ["v2", "v3", "v4", "v5"], \
        f"after approval: default {default}, versions {sorted(versions)} (expected v5 of v2..v5)"
    assert same_document(versions["v5"], offending), "v5 is not the original document"
    notes, evs = h.published(arn, 2)
    assert outcomes(evs) == ["quarantined", "restored"], f"outcome events: {outcomes(evs)}"
    assert_decision_context(notes[-1], evs[-1], decided, "approve")
    note(f"quarantine version {qv}; v1 deleted to make room and recorded")
