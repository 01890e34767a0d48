"""What the tests make happen in IAM, and the CloudTrail events that say so: the repository's
event fixtures (tests/fixtures/events/) with fresh ids and names of the test's own, and the
four kinds of target a grant can come through (a managed policy, an inline policy, an
attachment, a group membership), each with what its quarantine and its restore must look like
in IAM."""

from __future__ import annotations

import copy
import json
import time
import urllib.parse
import uuid

from harness.constants import ACCOUNT, ROOT, WRITER_ROLE_ARN
from harness.stack import canonical_digest

FIXTURES = ROOT / "tests" / "fixtures" / "events"
ASSUME_EC2 = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def unique(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"


def fresh_ids(event: dict) -> dict:
    """A fixture's event with new EventBridge, CloudTrail and request IDs (its incident is its own)."""
    event["id"] = str(uuid.uuid4())
    event["detail"]["eventID"] = str(uuid.uuid4())
    event["detail"]["requestID"] = str(uuid.uuid4())
    return event


def as_document(doc) -> dict:
    """A policy document from boto3 (which decodes it already) or a string (raw or
    percent-encoded JSON)."""
    if isinstance(doc, dict):
        return doc
    text = doc if doc.lstrip().startswith("{") else urllib.parse.unquote(doc)
    return json.loads(text)


def same_document(a, b) -> bool:
    try:
        return as_document(a) == as_document(b)
    except (ValueError, TypeError, AttributeError):
        return False


def managed_policy_event(name: str, document: str | None = None) -> dict:
    """create-policy.json for another policy name (and document): fresh IDs, same shape."""
    event = fresh_ids(fixture("create-policy.json"))
    d = event["detail"]
    d["requestParameters"]["policyName"] = name
    if document is not None:
        d["requestParameters"]["policyDocument"] = document
    d["responseElements"]["policy"]["policyName"] = name
    d["responseElements"]["policy"]["arn"] = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    return event


def create_managed_policy(h, event: dict) -> str:
    """The policy a CreatePolicy event says was created, created; its ARN."""
    params = event["detail"]["requestParameters"]
    arn = h.iam.create_policy(PolicyName=params["policyName"],
                              PolicyDocument=params["policyDocument"])["Policy"]["Arn"]
    assert arn == event["detail"]["responseElements"]["policy"]["arn"], arn
    return arn


def attached(h, user: str) -> list[str]:
    return [a["PolicyArn"] for a in
            h.iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]]


class Target:
    """Where a restricted grant came from, set up in IAM as its event says. `names`: what the
    approval page must show; `subject`: what every notification about it must name;
    `original`: the document as the change made it; `action_kind`: the quarantine's kind."""

    kind = action_kind = ""
    event: dict
    names: list[str]
    subject: list[str]
    original: str

    def __init__(self, h):
        self.h = h

    def state(self):
        """What IAM says about the target now (comparable with ==)."""
        raise NotImplementedError

    def assert_quarantined(self, state):
        raise NotImplementedError

    def assert_restored(self, state):
        raise NotImplementedError


class ManagedPolicy(Target):
    """A customer managed policy created with a restricted grant (create-policy.json, the
    walkthrough's document: s3:DeleteBucket next to two actions that are not restricted)."""

    kind, action_kind = "managed-policy", "newDefaultVersion"
    KEPT = ["s3:GetBucketObjectLockConfiguration", "s3:DeleteObjectVersion"]

    def __init__(self, h, prefix: str = "managed", event: dict | None = None):
        super().__init__(h)
        self.event = event or managed_policy_event(unique(prefix))
        params = self.event["detail"]["requestParameters"]
        self.name, self.original = params["policyName"], params["policyDocument"]
        self.arn = create_managed_policy(h, self.event)
        self.subject, self.names = [self.name], [self.name, "s3:DeleteBucket"]

    def state(self):
        return self.h.policy_state(self.arn)

    def assert_quarantined(self, state):
        default, versions = state
        assert default == "v2" and sorted(versions) == ["v1", "v2"], \
            f"quarantined: default {default}, versions {sorted(versions)}, expected v2 of v1, v2"
        granted = self.h.check.granted(versions["v2"], ["s3:DeleteBucket", *self.KEPT])
        assert granted == set(self.KEPT), (
            f"v2 grants {sorted(granted)}: expected s3:DeleteBucket gone and {self.KEPT} kept "
            "(not restricted: s3:DeleteObject must not prefix-match s3:DeleteObjectVersion)")
        assert same_document(versions["v1"], self.original) \
            and self.h.check.grants(versions["v1"], "s3:DeleteBucket"), \
            "v1 (the offending original) not kept as it was"

    def assert_restored(self, state):
        default, versions = state
        assert default == "v1" and sorted(versions) == ["v1"], \
            f"restored: default {default}, versions {sorted(versions)} (v2 should be deleted)"
        assert same_document(versions["v1"], self.original), "v1 is not the original"


class InlinePolicy(Target):
    """An inline role policy (put-role-policy.json: s3:Delete* next to reads and writes on the
    staging bucket) on a role and policy of the test's own."""

    kind, action_kind = "inline-policy", "inlineRewritten"

    def __init__(self, h, prefix: str = "inline"):
        super().__init__(h)
        self.event = fresh_ids(fixture("put-role-policy.json"))
        p = self.event["detail"]["requestParameters"]
        p["roleName"], p["policyName"] = unique(f"{prefix}-role"), unique(f"{prefix}-policy")
        self.role, self.name, self.original = p["roleName"], p["policyName"], p["policyDocument"]
        h.iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=ASSUME_EC2)
        h.iam.put_role_policy(RoleName=self.role, PolicyName=self.name,
                              PolicyDocument=self.original)
        self.subject = self.names = [self.role, self.name]

    def state(self):
        return as_document(self.h.iam.get_role_policy(
            RoleName=self.role, PolicyName=self.name)["PolicyDocument"])

    def assert_quarantined(self, state):
        assert not same_document(state, self.original), "the inline policy was not rewritten"
        granted = self.h.check.granted(state, ["s3:DeleteObject", "s3:DeleteBucket",
                                               "s3:GetObject", "s3:PutObject"])
        assert granted == {"s3:GetObject", "s3:PutObject"}, (
            f"the quarantined inline policy grants {sorted(granted)}: expected "
            "s3:DeleteObject/DeleteBucket gone, s3:GetObject/PutObject kept")

    def assert_restored(self, state):
        assert state == json.loads(self.original), "the original inline document is not back"


def compact(document: dict) -> str:
    """Without white space, characters beyond ASCII as themselves (as IAM counts them)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


class InlinePolicyInAFullQuota(Target):
    """A user's inline policy granting s3:DeleteBucket and nothing else (put-user-policy.json),
    beside another that uses up the rest of IAM's 2,048 characters for a user's inline
    policies: no rewrite fits, not even one granting nothing, so the quarantine deletes it."""

    kind, action_kind = "inline-policy-full-quota", "inlineDeleted"
    USER_QUOTA = 2048

    def __init__(self, h, prefix: str = "full-quota", original: str | None = None):
        super().__init__(h)
        self.event = fresh_ids(fixture("put-user-policy.json"))
        self.original = original or compact({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"}]})
        bare = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/"}]}
        pad = self.USER_QUOTA - len(self.original) - len(compact(bare))
        bare["Statement"][0]["Resource"] += "r" * pad
        self.filler = compact(bare)
        assert len(self.original) + len(self.filler) == self.USER_QUOTA
        self.user, self.name = unique(f"{prefix}-user"), unique(f"{prefix}-policy")
        self.reports = unique(f"{prefix}-reports")
        h.iam.create_user(UserName=self.user)
        h.iam.put_user_policy(UserName=self.user, PolicyName=self.reports,
                              PolicyDocument=self.filler)
        h.iam.put_user_policy(UserName=self.user, PolicyName=self.name,
                              PolicyDocument=self.original)
        p = self.event["detail"]["requestParameters"]
        p["userName"], p["policyName"], p["policyDocument"] = self.user, self.name, self.original
        self.subject = self.names = [self.user, self.name]

    def state(self):
        names = self.h.iam.list_user_policies(UserName=self.user)["PolicyNames"]
        return {name: as_document(self.h.iam.get_user_policy(
            UserName=self.user, PolicyName=name)["PolicyDocument"]) for name in names}

    def assert_quarantined(self, state):
        assert self.name not in state, "the inline policy no rewrite fits was not deleted"
        assert state == {self.reports: json.loads(self.filler)}, "the other inline policy changed"

    def assert_restored(self, state):
        assert state == {self.name: json.loads(self.original),
                         self.reports: json.loads(self.filler)}, "the original is not back as it was"


class Attachment(Target):
    """A customer managed policy (create-policy-version-default.json's document: s3:* on a
    bucket) attached to a user (attach-user-policy.json), both of the test's own."""

    kind, action_kind = "attachment", "detached"

    def __init__(self, h, prefix: str = "attach"):
        super().__init__(h)
        self.event = fresh_ids(fixture("attach-user-policy.json"))
        self.original = fixture("create-policy-version-default.json")[
            "detail"]["requestParameters"]["policyDocument"]
        self.user = unique(f"{prefix}-user")
        self.policy_arn = h.iam.create_policy(PolicyName=unique(f"{prefix}-policy"),
                                              PolicyDocument=self.original)["Policy"]["Arn"]
        h.iam.create_user(UserName=self.user)
        h.iam.attach_user_policy(UserName=self.user, PolicyArn=self.policy_arn)
        p = self.event["detail"]["requestParameters"]
        p["userName"], p["policyArn"] = self.user, self.policy_arn
        self.subject = self.names = [self.user, self.policy_arn.rsplit("/", 1)[1]]

    def state(self):
        return attached(self.h, self.user), self.h.policy_state(self.policy_arn)

    def _assert_policy_untouched(self, policy_state):
        default, versions = policy_state
        assert default == "v1" and sorted(versions) == ["v1"] \
            and same_document(versions["v1"], self.original), \
            f"the attached policy itself changed: default {default}, versions {sorted(versions)}"

    def assert_quarantined(self, state):
        arns, policy_state = state
        assert self.policy_arn not in arns, f"still attached: {arns}"
        self._assert_policy_untouched(policy_state)

    def assert_restored(self, state):
        arns, policy_state = state
        assert arns == [self.policy_arn], f"attached: {arns}, expected [{self.policy_arn}]"
        self._assert_policy_untouched(policy_state)


class GroupMembership(Target):
    """A user added to a group whose inline policy is the walkthrough's document (s3:DeleteBucket
    among others): add-user-to-group.json for a user and group of the test's own. The user can
    do nothing without the group; its quarantine takes the user out of the group, and leaves the
    group and its policy alone."""

    kind, action_kind = "group-membership", "removedFromGroup"

    def __init__(self, h, prefix: str = "member"):
        super().__init__(h)
        self.event = fresh_ids(fixture("add-user-to-group.json"))
        self.user, self.group = unique(f"{prefix}-user"), unique(f"{prefix}-group")
        self.policy = unique(f"{prefix}-policy")
        self.grants = fixture("create-policy.json")["detail"]["requestParameters"]["policyDocument"]
        h.iam.create_user(UserName=self.user)
        h.iam.create_group(GroupName=self.group)
        h.iam.put_group_policy(GroupName=self.group, PolicyName=self.policy,
                               PolicyDocument=self.grants)
        h.iam.add_user_to_group(UserName=self.user, GroupName=self.group)
        p = self.event["detail"]["requestParameters"]
        p["userName"], p["groupName"] = self.user, self.group
        # What Analyse keeps as the document (incident::membership::group_document).
        self.original = json.dumps({"group": self.group, "policies": [{
            "source": {"kind": "inline", "owner": {"kind": "group", "name": self.group},
                       "policyName": self.policy},
            "document": json.loads(self.grants)}]})
        self.subject = [self.user, self.group]
        self.names = [self.user, self.group, "s3:DeleteBucket"]

    def groups(self) -> list[str]:
        return [g["GroupName"] for g in self.h.iam.list_groups_for_user(UserName=self.user)["Groups"]]

    def state(self):
        return self.groups(), as_document(self.h.iam.get_group_policy(
            GroupName=self.group, PolicyName=self.policy)["PolicyDocument"])

    def _assert_group_untouched(self, policy):
        assert same_document(policy, self.grants), "the group's policy changed"

    def assert_quarantined(self, state):
        groups, policy = state
        assert self.group not in groups, f"{self.user} is still in {groups}"
        self._assert_group_untouched(policy)

    def assert_restored(self, state):
        groups, policy = state
        assert groups == [self.group], f"{self.user} is in {groups}, expected [{self.group}]"
        self._assert_group_untouched(policy)


# What a deleted boundary leaves in force: nothing limits the principal (incident::boundary's
# NO_BOUNDARY, the document a boundary deletion's records name).
NO_BOUNDARY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "NoPermissionsBoundary", "Effect": "Allow", "Action": "*", "Resource": "*"}]})
POLICIES = ROOT / "tests" / "fixtures" / "policies"


def boundary_of(h, role: str) -> str | None:
    """The ARN of the role's permissions boundary (None: it has none)."""
    role = h.iam.get_role(RoleName=role)["Role"]
    return (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")


def ledger_saw(h, role: str, boundary_arn: str | None):
    """The boundary ledger has seen `boundary_arn` on the role a second after IAM created it,
    with the digest of its default document, as a sweep would have written it (decisions.rs
    put_boundary's item). Returns once a change made now comes after it: the ledger counts only
    what it saw strictly after the role's creation and before the change, in whole seconds."""
    seen = role_created(h, role) + 1
    item = {"pk": {"S": f"boundary#role#{role.lower()}"},
            "boundaryArn": {"S": boundary_arn} if boundary_arn else {"NULL": True},
            "seenAt": {"N": str(seen)}, "source": {"S": "sweep"}}
    if boundary_arn:
        policy = h.iam.get_policy(PolicyArn=boundary_arn)["Policy"]
        version = h.iam.get_policy_version(PolicyArn=boundary_arn,
                                           VersionId=policy["DefaultVersionId"])
        item["documentDigest"] = {"S": canonical_digest(version["PolicyVersion"]["Document"])}
    h.dynamodb.put_item(TableName=h.stack.decision_table, Item=item)
    past_second(seen)


def role_created(h, role: str) -> int:
    """IAM's CreateDate of the role, in whole seconds."""
    return int(h.iam.get_role(RoleName=role)["Role"]["CreateDate"].timestamp())


def past_second(second: int):
    """Waits until the clock is past `second` (whole seconds since the epoch). time.sleep counts
    on the monotonic clock, time.time() is the wall clock, and the two may drift apart by a
    little while NTP slews it: so look again after each sleep."""
    while (left := second + 1 - time.time()) > 0:
        time.sleep(left + 0.01)


def ledger_says(h, role: str) -> str | None:
    item = h.dynamodb.get_item(TableName=h.stack.decision_table, ConsistentRead=True,
                               Key={"pk": {"S": f"boundary#role#{role.lower()}"}})["Item"]
    return item["boundaryArn"].get("S")


class BoundaryRole:
    """A role with put-role-policy.json's inline policy (s3:Delete* on its staging bucket) and
    the boundary policies named (tests/fixtures/policies/<name>.json, each under a name of the
    test's own), none of them its boundary yet."""

    def __init__(self, h, prefix: str, boundaries: list[str]):
        self.h = h
        self.role = unique(f"{prefix}-role")
        inline = fixture("put-role-policy.json")["detail"]["requestParameters"]["policyDocument"]
        h.iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=ASSUME_EC2)
        h.iam.put_role_policy(RoleName=self.role, PolicyName="pipeline-s3-access",
                              PolicyDocument=inline)
        self.arns = {name: h.iam.create_policy(
            PolicyName=unique(f"{prefix}-{name}"),
            PolicyDocument=(POLICIES / f"{name}.json").read_text())["Policy"]["Arn"]
            for name in boundaries}
        # What the ledger sees of the role counts only from the second after its creation.
        past_second(role_created(h, self.role))

    def set(self, name: str | None):
        """Someone's boundary change, straight through IAM."""
        if name is None:
            self.h.iam.delete_role_permissions_boundary(RoleName=self.role)
        else:
            self.h.iam.put_role_permissions_boundary(RoleName=self.role,
                                                     PermissionsBoundary=self.arns[name])

    def event(self, name: str | None) -> dict:
        """CloudTrail's event of that change, made now (put- or delete-role-permissions-boundary.json)."""
        fixture_name = ("delete-role-permissions-boundary.json" if name is None
                        else "put-role-permissions-boundary.json")
        event = fresh_ids(fixture(fixture_name))
        params = event["detail"]["requestParameters"]
        params["roleName"] = self.role
        if name is not None:
            params["permissionsBoundary"] = self.arns[name]
        event["detail"]["eventTime"] = now_iso()
        return event

    def boundary(self) -> str | None:
        return boundary_of(self.h, self.role)


class PermissionsBoundary(Target):
    """A role whose boundary (pipeline-boundary.json: reads and writes, no deletions) the
    ledger saw in force, deleted (delete-role-permissions-boundary.json): its inline policy's
    s3:Delete* is in force again. The quarantine puts that boundary back; approval deletes it
    again."""

    kind, action_kind = "permissions-boundary", "boundaryPutBack"

    def __init__(self, h, prefix: str = "boundary"):
        super().__init__(h)
        self.pipeline = BoundaryRole(h, prefix, ["pipeline-boundary"])
        self.role, self.boundary_arn = self.pipeline.role, self.pipeline.arns["pipeline-boundary"]
        self.pipeline.set("pipeline-boundary")
        ledger_saw(h, self.role, self.boundary_arn)
        self.pipeline.set(None)
        self.event = self.pipeline.event(None)
        self.original = NO_BOUNDARY
        self.subject = [self.role]
        self.names = [self.role, self.boundary_arn, "s3:DeleteBucket"]

    def state(self):
        return self.pipeline.boundary()

    def assert_quarantined(self, state):
        assert state == self.boundary_arn, f"boundary {state}, expected {self.boundary_arn} back"

    def assert_restored(self, state):
        assert state is None, f"boundary {state}, expected it deleted again"


TARGETS = {t.kind: t for t in (ManagedPolicy, InlinePolicy, InlinePolicyInAFullQuota, Attachment,
                               GroupMembership, PermissionsBoundary)}


def now_iso() -> str:
    """Now, as CloudTrail writes eventTime."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def writer_detail(event_name: str, session: str, request_parameters: dict,
                  response_elements) -> dict:
    """The CloudTrail record of a call made by the policy writer role's session `session` (the
    Lambda function's name, as Lambda names its sessions), shaped like
    put-role-policy-by-sentinel.json: assumed-role ARN
    arn:aws:sts::123456789012:assumed-role/iam-sentinel-policy-writer/<session>, principalId
    <role id>:<session>, sessionContext.sessionIssuer.arn = the role's ARN."""
    detail = copy.deepcopy(fixture("put-role-policy-by-sentinel.json")["detail"])
    identity = detail["userIdentity"]
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert issuer["arn"] == WRITER_ROLE_ARN, issuer["arn"]
    now = now_iso()
    identity["arn"] = (f"arn:aws:sts::{ACCOUNT}:assumed-role/"
                       f"{WRITER_ROLE_ARN.rsplit('/', 1)[1]}/{session}")
    identity["principalId"] = f"{issuer['principalId']}:{session}"
    identity["sessionContext"]["attributes"]["creationDate"] = now
    detail.update(eventTime=now, eventName=event_name, requestParameters=request_parameters,
                  responseElements=response_elements, requestID=str(uuid.uuid4()),
                  eventID=str(uuid.uuid4()))
    return detail
