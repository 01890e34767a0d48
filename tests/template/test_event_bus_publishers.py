"""Who may put events on the stack's event bus (THREAT-MODEL T26): the outcomes and the rule
changes are published there for other tools to act on, and `events:PutEvents` is in
PowerUserAccess. The bus's policy denies it to every principal but the stack's roles that
publish there; the default bus, open to anyone IAM allows, carries none of them.

moto enforces no policy: the statements are evaluated here (evaluate.py).
"""
import fnmatch

import pytest
from evaluate import ACCOUNT_USER, as_list, denied, from_inside, role_arn, roles, roles_allowed
from harness.template import read_template

BUS = "SentinelEventBus"


@pytest.fixture(scope="module")
def template():
    return read_template()


def bus_policy(template: dict) -> list[dict]:
    return template["Resources"][BUS]["Properties"]["Policy"]["Statement"]


def bus_arn(template: dict):
    """The bus's ARN as its policy and the roles write it out (a !Sub: no cycle), checked to be
    the ARN of the bus's own name."""
    arns = [s["Resource"] for s in bus_policy(template)]
    assert all(a == arns[0] for a in arns), arns
    name = template["Resources"][BUS]["Properties"]["Name"]["Sub"]
    prefix = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"
    assert arns[0] == {"Sub": prefix + name}, f"{arns[0]} is not the ARN of the bus {name}"
    return arns[0]


def put_denied(template: dict, context: dict) -> bool:
    return denied(bus_policy(template), "events:PutEvents", context)


def role_publishers(template: dict) -> set[str]:
    return roles_allowed(template, "events:PutEvents", bus_arn(template))


def test_a_power_user_cannot_put_events_on_the_bus(template):
    assert all(s["Principal"] == "*" for s in bus_policy(template)), bus_policy(template)
    assert put_denied(template, from_inside(ACCOUNT_USER))


def test_each_role_that_publishes_there_still_may(template):
    publishers = role_publishers(template)
    assert publishers == {"AnalyseChangeRole", "PublishOutcomeRole", "SweepAccountRole"}, publishers
    for role in publishers:
        assert not put_denied(template, from_inside(role_arn(role))), f"{role} may not put events"


def test_every_other_role_of_the_stack_cannot(template):
    others = roles(template) - role_publishers(template)
    assert "PolicyWriterRole" in others, others
    for role in others:
        assert put_denied(template, from_inside(role_arn(role))), f"{role} may put events"


def test_no_role_of_the_stack_puts_events_on_another_bus(template):
    """Every events:PutEvents the roles allow names the stack's bus: nothing falls back to the
    default bus."""
    for logical_id in roles(template):
        for policy in template["Resources"][logical_id]["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = as_list(statement.get("Action", [])) if isinstance(statement, dict) else []
                if any(fnmatch.fnmatchcase("events:PutEvents", a) for a in actions):
                    assert statement["Resource"] == bus_arn(template), \
                        f"{logical_id} may put events on {statement['Resource']}"


def test_the_functions_are_told_the_stacks_bus(template):
    told = {name: f["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"]
            for name, f in template["Resources"].items()
            if f["Type"] == "AWS::Serverless::Function"
            and "EVENT_BUS_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})}
    assert told and all(v == {"Ref": BUS} for v in told.values()), told
