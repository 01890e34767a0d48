"""What the trigger rule (IamPolicyChangeRule) and the heartbeat rule take from the default bus:
this account's CloudTrail records of IAM calls, never one replayed from an archive (THREAT-MODEL
T24): an old change delivered again, its execution name free after 90 days, would quarantine
what was approved since. The patterns as written, matched by moto's EventBridge matcher (the
template's references resolved as test_tamper_rule resolves them)."""
import json

import pytest
from harness.template import read_template
from moto.events.models import EventPattern
from test_tamper_rule import ACCOUNT, cloudtrail_event, deployed

RULES = ["IamPolicyChangeRule", "HeartbeatRule"]


@pytest.fixture(scope="module")
def template():
    return read_template()


def matches(template: dict, rule: str, event: dict) -> bool:
    pattern = template["Resources"][rule]["Properties"]["EventPattern"]
    return EventPattern.load(json.dumps(deployed(template, pattern))).matches_event(event)


def iam_call(rule: str) -> dict:
    if rule == "HeartbeatRule":
        return cloudtrail_event("aws.iam", "TagRole", {"roleName": "iam-sentinel-heartbeat"})
    return cloudtrail_event("aws.iam", "PutRolePolicy",
                            {"roleName": "data", "policyName": "p", "policyDocument": "{}"})


@pytest.mark.parametrize("rule", RULES)
def test_a_call_of_this_account_is_taken_and_the_same_call_replayed_is_not(template, rule):
    event = iam_call(rule)
    event["detail"]["eventSource"] = "iam.amazonaws.com"
    assert event["account"] == ACCOUNT
    assert matches(template, rule, event), "the call itself"
    replayed = dict(event, **{"replay-name": "again"})
    assert not matches(template, rule, replayed), "the call replayed"
