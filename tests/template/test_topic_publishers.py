"""Who may publish to the stack's topics (THREAT-MODEL T26): the administrators trust what
reaches them there, approval links included, and `sns:Publish` is in PowerUserAccess. Each
topic's policy denies `sns:Publish` to every principal but the stack's roles that publish to it
and AWS services (its alarms, its watch rules).

moto enforces no policy, so these evaluate the template's statements here, with the condition
operators' documented semantics (the `...IfExists` forms match when the key is absent), against
the requests each kind of caller makes. Role ARNs stand for `!GetAtt <Role>.Arn`.
"""
import fnmatch

import pytest
from harness.template import read_template

ACCOUNT_USER = "arn:aws:iam::123456789012:user/mallory"
TOPICS = ["NotificationTopic", "OperatorTopic"]


def role_arn(logical_id: str) -> str:
    return f"arn:aws:iam::123456789012:role/{logical_id}"


def resolve(value):
    """`!GetAtt Role.Arn` as role_arn(Role); `!Ref X` as X; lists element by element."""
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if isinstance(value, dict) and "GetAtt" in value:
        target = value["GetAtt"]
        logical_id, attribute = target.split(".") if isinstance(target, str) else target
        assert attribute == "Arn", value
        return role_arn(logical_id)
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    return value


def as_list(value):
    return value if isinstance(value, list) else [value]


def condition_holds(operator: str, key: str, expected, context: dict) -> bool:
    expected = [str(v) for v in as_list(resolve(expected))]
    if key not in context:
        assert operator.endswith("IfExists"), f"{operator} on {key}, absent from the request"
        return True
    actual = str(context[key])
    if operator.startswith("BoolIfExists") or operator == "Bool":
        return actual.lower() in [e.lower() for e in expected]
    if operator.startswith("ArnNotLike"):
        return not any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator.startswith("ArnLike") or operator.startswith("ArnEquals"):
        return any(fnmatch.fnmatchcase(actual, e) for e in expected)
    if operator.startswith("StringEquals"):
        return actual in expected
    raise AssertionError(f"condition operator {operator} not evaluated here")


def topic_policy(template: dict, topic: str) -> list[dict]:
    policies = [r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::SNS::TopicPolicy"
                and {"Ref": topic} in r["Properties"]["Topics"]]
    assert len(policies) == 1, f"{topic}: {len(policies)} topic policies"
    return [s for s in policies[0]["PolicyDocument"]["Statement"] if "Effect" in s]


def publish_denied(template: dict, topic: str, context: dict) -> bool:
    """Whether some Deny of the topic's policy applies to sns:Publish in this request."""
    for statement in topic_policy(template, topic):
        if statement["Effect"] != "Deny" or "sns:Publish" not in as_list(statement["Action"]):
            continue
        conditions = statement.get("Condition", {})
        if all(condition_holds(op, key, expected, context)
               for op, keys in conditions.items() for key, expected in keys.items()):
            return True
    return False


def role_publishers(template: dict, topic: str) -> set[str]:
    """The stack's roles whose own policies allow sns:Publish on the topic."""
    found = set()
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if (isinstance(statement, dict) and statement.get("Effect") == "Allow"
                        and "sns:Publish" in as_list(statement.get("Action", []))
                        and {"Ref": topic} in as_list(statement.get("Resource", []))):
                    found.add(logical_id)
    return found


@pytest.fixture(scope="module")
def template():
    return read_template()


def over_tls(**context):
    return {"aws:SecureTransport": "true", **context}


@pytest.mark.parametrize("topic", TOPICS)
def test_a_power_user_cannot_publish_to_the_topic(template, topic):
    mallory = over_tls(**{"aws:PrincipalArn": ACCOUNT_USER, "aws:PrincipalIsAWSService": "false"})
    assert publish_denied(template, topic, mallory)


@pytest.mark.parametrize("topic", TOPICS)
def test_each_role_of_the_stack_that_publishes_to_the_topic_still_may(template, topic):
    publishers = role_publishers(template, topic)
    assert "PublishOutcomeRole" in publishers, publishers
    for role in publishers:
        caller = over_tls(**{"aws:PrincipalArn": role_arn(role),
                             "aws:PrincipalIsAWSService": "false"})
        assert not publish_denied(template, topic, caller), f"{role} may not publish to {topic}"


@pytest.mark.parametrize("topic", TOPICS)
def test_a_role_of_the_stack_that_does_not_publish_there_cannot(template, topic):
    others = {r for r, res in template["Resources"].items()
              if res["Type"] == "AWS::IAM::Role"} - role_publishers(template, topic)
    assert "AnalyseChangeRole" in others, others
    for role in others:
        caller = over_tls(**{"aws:PrincipalArn": role_arn(role),
                             "aws:PrincipalIsAWSService": "false"})
        assert publish_denied(template, topic, caller), f"{role} may publish to {topic}"


@pytest.mark.parametrize("topic", TOPICS)
def test_the_alarms_and_rules_as_aws_services_still_publish(template, topic):
    service = over_tls(**{"aws:PrincipalIsAWSService": "true",
                          "aws:SourceAccount": "123456789012"})
    assert not publish_denied(template, topic, service)
