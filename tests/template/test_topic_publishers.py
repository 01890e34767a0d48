"""Who may publish to the stack's topics (THREAT-MODEL T26): the administrators trust what
reaches them there, approval links included, and `sns:Publish` is in PowerUserAccess. Each
topic's policy denies `sns:Publish` to every principal but the stack's roles that publish to it
and AWS services; of these, CloudWatch only for the stack's own alarms (the alarms of anyone in
the account could otherwise write there).

moto enforces no policy: the statements are evaluated here (evaluate.py).
"""
import pytest
from evaluate import (ACCOUNT_USER, allowed_to_service, as_list, denied, from_inside, resolve,
                      role_arn, roles, roles_allowed, statements_of)
from harness.template import read_template

TOPICS = ["NotificationTopic", "OperatorTopic"]


def topic_policy(template: dict, topic: str) -> list[dict]:
    policies = [r["Properties"] for r in template["Resources"].values()
                if r["Type"] == "AWS::SNS::TopicPolicy"
                and {"Ref": topic} in r["Properties"]["Topics"]]
    assert len(policies) == 1, f"{topic}: {len(policies)} topic policies"
    return statements_of(policies[0]["PolicyDocument"])


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


def alarms_of(template: dict, topic: str) -> set[str]:
    """The stack's alarms whose actions publish to the topic."""
    return {name for name, r in template["Resources"].items()
            if r["Type"] == "AWS::CloudWatch::Alarm"
            and topic in as_list(resolve(r["Properties"].get("AlarmActions", [])))}


def alarm_publishes(template: dict, topic: str, alarm_arn: str) -> bool:
    request = {"aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "true",
               "aws:SourceArn": alarm_arn, "aws:SourceAccount": "123456789012"}
    return allowed_to_service(topic_policy(template, topic), "cloudwatch.amazonaws.com",
                              "sns:Publish", request)


@pytest.mark.parametrize("topic", TOPICS)
def test_each_alarm_of_the_stack_that_publishes_to_the_topic_may(template, topic):
    alarms = alarms_of(template, topic)
    assert alarms, f"no alarm publishes to {topic}"
    for alarm in alarms:
        assert alarm_publishes(template, topic, role_arn(alarm)), f"{alarm} may not publish"


@pytest.mark.parametrize("topic", TOPICS)
def test_an_alarm_that_is_not_the_stacks_cannot_publish_to_the_topic(template, topic):
    someone_elses = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:iam-sentinel: approve now"
    assert not alarm_publishes(template, topic, someone_elses)
