"""Policies as large as IAM accepts: a 100,000-character inline policy (white space, which IAM
does not count against its quota) and a dense 6,100-character managed policy. Each is
quarantined and its approval asked (the documents travel as SHA-256 references, so the state
stays far below Step Functions' 256 KiB), every email stays short, the page shows both
documents, and Approve puts back exactly the text the change made. And a rewrite IAM refuses
for its size (the harness's router enforces IAM's quotas) is replaced by a deletion."""

from __future__ import annotations

import re
import urllib.parse

from botocore.handlers import json_decode_policies

from harness.constants import ROOT

from .expect import AFTER_APPROVE, DECIDED, QUARANTINED, headlines, wait_for_approval
from .incidents import (InlinePolicy, InlinePolicyInAFullQuota, ManagedPolicy, compact,
                        managed_policy_event, unique)

# What a person can read in an email: far below SNS's 256 KB message limit.
EMAIL_MAX_CHARS = 8_000
EMAIL_MAX_LINES = 100
# Step Functions refuses a state over 256 KiB; the largest state this suite may see.
STATE_MAX_BYTES = 64 * 1024

DENSE = (ROOT / "tests" / "fixtures" / "policies" / "data-platform-dense-6100.json").read_text()


def padded(document: str, characters: int) -> str:
    """`document` with white space between its statements, up to `characters` in all (inside
    the outermost braces: white space after the document is not kept by every reader)."""
    document = document.strip()
    statements = document.count('{"Sid"') or document.count('{\n')
    pad = (characters - len(document)) // max(statements, 1)
    spread = document.replace('{"Sid"', " " * pad + '{"Sid"') if '{"Sid"' in document \
        else document.replace("{\n", "{\n" + " " * pad)
    return spread[:-1] + "\n" * (characters - len(spread)) + "}"


def raw_iam(h):
    """An IAM client that returns policy documents as IAM sends them (percent-encoded text),
    not parsed: what "exactly" is checked against."""
    iam = h.stack.client("iam")
    iam.meta.events.unregister("after-call.iam", json_decode_policies)
    return iam


def assert_readable(email: str, what: str):
    lines = email.count("\n") + 1
    assert len(email) <= EMAIL_MAX_CHARS and lines <= EMAIL_MAX_LINES, \
        f"{what}: {len(email)} characters, {lines} lines (at most {EMAIL_MAX_CHARS}, " \
        f"{EMAIL_MAX_LINES})"


def assert_small_states(h, arn: str) -> int:
    """Every state the workflow makes stays far below 256 KiB: each state's input in the
    history after Analyse's (which is the CloudTrail event itself, EventBridge's to bound).
    Returns the largest, in bytes."""
    entered = [e["stateEnteredEventDetails"] for e in h.history(arn)
               if e.get("stateEnteredEventDetails")]
    assert entered[0]["name"] == "Analyse", entered[0]["name"]
    sizes = [len(e.get("input", "").encode()) for e in entered[1:]]
    assert max(sizes) < STATE_MAX_BYTES, f"the largest state is {max(sizes)} bytes"
    return max(sizes)


def approve_and_expect_restored(h, arn: str, target, note):
    h.decide_on_page(arn, "approve", target.names)
    assert h.wait_done(arn) == "SUCCEEDED", "the execution did not succeed"
    entered = h.states_entered(arn)
    assert entered[-len(AFTER_APPROVE):] == AFTER_APPROVE, f"path after approval: {entered}"
    notes, _ = h.published(arn, 2)
    assert headlines(notes) == [QUARANTINED[0], DECIDED["approve"][0]], headlines(notes)
    for notification in notes:
        assert_readable(notification, "an outcome notification")
    note(f"largest state after Analyse: {assert_small_states(h, arn)} bytes; emails "
         f"{[len(n) for n in [h.approval_email(arn), *notes]]} characters")


def test_a_100000_character_inline_policy_is_quarantined_and_restored_exactly(h, note):
    """put-role-policy.json's document padded with white space to 100,000 characters:
    quarantined, approval asked, emails and page readable, Approve puts back exactly that text."""
    target = InlinePolicy(h, "large-inline")
    original = padded(target.original, 100_000)
    target.original = original
    target.event["detail"]["requestParameters"]["policyDocument"] = original
    h.iam.put_role_policy(RoleName=target.role, PolicyName=target.name, PolicyDocument=original)
    arn, _, _ = wait_for_approval(h, target, "large-inline")
    assert_readable(h.approval_email(arn), "the approval email")
    assert_small_states(h, arn)
    page = h.http("GET", h.approval_link(arn))
    sizes = re.findall(r"\d+ characters as written", page.body)
    assert page.status == 200 and "100000 characters as written" in sizes, \
        f"the page does not show the original's size: {page!r} {sizes}"
    approve_and_expect_restored(h, arn, target, note)
    got = raw_iam(h).get_role_policy(RoleName=target.role, PolicyName=target.name)
    assert urllib.parse.unquote(got["PolicyDocument"]) == original, \
        "the restored inline policy is not exactly the 100,000-character original"


def test_a_dense_6100_character_managed_policy_is_quarantined_and_restored_exactly(h, note):
    """A managed policy of 6,100 characters without white space (28 statements; s3:DeleteObject
    and s3:DeleteBucket in several): quarantined as v2, approval asked, emails readable,
    Approve makes v1 (exactly the text created) the default again."""
    target = ManagedPolicy(h, event=managed_policy_event(unique("large-managed"), DENSE))
    target.names = [target.name, "s3:DeleteObject"]
    arn, _, _ = wait_for_approval_dense(h, target)
    assert_readable(h.approval_email(arn), "the approval email")
    assert_small_states(h, arn)
    approve_and_expect_restored(h, arn, target, note)
    policy = raw_iam(h).get_policy(PolicyArn=target.arn)["Policy"]
    assert policy["DefaultVersionId"] == "v1", f"default {policy['DefaultVersionId']}"
    v1 = raw_iam(h).get_policy_version(PolicyArn=target.arn, VersionId="v1")["PolicyVersion"]
    assert urllib.parse.unquote(v1["Document"]) == DENSE, "v1 is not exactly the text created"


def wait_for_approval_dense(h, target):
    """wait_for_approval, with the dense policy's quarantine: v2 in force without the restricted
    grants, v1 kept."""
    target.assert_quarantined = lambda state: assert_dense_quarantined(h, target, state)
    return wait_for_approval(h, target, "large-managed")


def assert_dense_quarantined(h, target, state):
    default, versions = state
    assert default == "v2" and sorted(versions) == ["v1", "v2"], \
        f"quarantined: default {default}, versions {sorted(versions)}"
    granted = h.check.granted(versions["v2"], ["s3:DeleteObject", "s3:DeleteBucket",
                                               "s3:GetObject"])
    assert granted == {"s3:GetObject"}, f"v2 grants {sorted(granted)}"


def test_a_rewrite_iam_refuses_for_its_size_deletes_the_policy_instead(h, note):
    """A user's inline policy grants s3:Delete* under a condition whose value holds 600
    non-breaking spaces, beside another that fills the rest of the user's 2,048 characters. The
    engine leaves those spaces out of its count as white space, so the expansion of s3:Delete*
    without the restricted actions seems to fit; the router counts them, as a strict IAM would,
    and refuses the rewrite with LimitExceeded. The quarantine deletes the policy instead (the
    grant is not left in force), and Approve puts it back exactly."""
    condition = {"StringEquals": {"aws:PrincipalTag/team": "data" + "\u00a0" * 600}}
    original = compact({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:Delete*", "Resource": "*", "Condition": condition}]})
    target = InlinePolicyInAFullQuota(h, "refused-rewrite", original)
    arn, _, _ = wait_for_approval(h, target, "refused-rewrite")
    refusals = [r for r in h.stack.router.quota_refusals if target.user in r]
    assert refusals and refusals[0].startswith("refused PutUserPolicy"), \
        f"the rewrite was not refused for its size: {h.stack.router.quota_refusals}"
    _, events = h.published(arn, 1)
    action = events[0]["detail"]["quarantine"]["action"]
    assert action["kind"] == "inlineDeleted", f"quarantine action {action}"
    approve_and_expect_restored(h, arn, target, note)
    target.assert_restored(target.state())
    note(refusals[0])
