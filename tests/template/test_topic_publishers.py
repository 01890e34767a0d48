"""Who may publish to the stack's topics (THREAT-MODEL T26): the administrators trust what
reaches them there, approval links included, and `sns:Publish` is in PowerUserAccess. Each
topic's policy denies `sns:Publish` to every principal but the stack's roles that publish to it
and AWS services (its alarms, its watch rules).

moto enforces no policy: the statements are evaluated here (evaluate.py).
"""
import pytest
from evaluate import ACCOUNT_USER, denied, from_inside, role_arn, roles, roles_allowed
from harness.template import read_template

TOPICS = ["NotificationTopic", "OperatorTopic"]


def topic_policy(template: dict, topic: str) -> list[dict]:
    policies = [r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::SNS::TopicPolicy"
                and {"Ref": topic} in r["Properties"]["Topics"]]
    assert len(policies) == 1, f"{topic}: {len(policies)} topic policies"
    return [s for s in policies[0]["PolicyDocument"]["Statement"] if "Effect" in s]


def publish_denied(template: dict, topic: str, context: dict) -> bool:
    return denied(topic_policy(template, topic), "sns:Publish", context)


def role_publishers(template: dict, topic: str) -> set[str]:
    """The stack's roles whose own policies allow sns:Publish on the topic."""
    return roles_allowed(template, "sns:Publish", {"Ref": topic})


@pytest.fixture(scope="module")
def template():
    return read_template()


@pytest.mark.parametrize("topic", TOPICS)
def test_a_power_user_cannot_publish_to_the_topic(template, topic):
    assert publish_denied(template, topic, from_inside(ACCOUNT_USER))


@pytest.mark.parametrize("topic", TOPICS)
def test_each_role_of_the_stack_that_publishes_to_the_topic_still_may(template, topic):
    publishers = role_publishers(template, topic)
    assert "PublishOutcomeRole" in publishers, publishers
    for role in publishers:
        assert not publish_denied(template, topic, from_inside(role_arn(role))), \
            f"{role} may not publish to {topic}"


@pytest.mark.parametrize("topic", TOPICS)
def test_a_role_of_the_stack_that_does_not_publish_there_cannot(template, topic):
    others = roles(template) - role_publishers(template, topic)
    assert "AnalyseChangeRole" in others, others
    for role in others:
        assert publish_denied(template, topic, from_inside(role_arn(role))), \
            f"{role} may publish to {topic}"


@pytest.mark.parametrize("topic", TOPICS)
def test_the_alarms_and_rules_as_aws_services_still_publish(template, topic):
    service = {"aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "true",
               "aws:SourceAccount": "123456789012"}
    assert not publish_denied(template, topic, service)
