"""What the tamper rules (StackTamper*Rule, seven of them: EventBridge's pattern size quota) send
to the operators (and, for the topics and their subscriptions, to the administrators too): each change to the control's
own resources that would otherwise go unseen (THREAT-MODEL T9, T16, T26, T27), and not the
calls that change nothing of it. The rule's pattern, as template.yaml writes it, is matched by
moto's EventBridge pattern matcher against CloudTrail records shaped as EventBridge delivers
them; the template's references are resolved to the names the stack gives its resources.
"""
import json
import re

import pytest
from harness.template import read_template
from moto.events.models import EventPattern

STACK = "iam-sentinel"
ACCOUNT = "123456789012"
REGION = "us-east-1"
API_ID = "a1b2c3d4e5"          # the approval API's id, as CloudFormation would make one


def generated_name(logical_id: str) -> str:
    """The name CloudFormation gives a resource the template does not name."""
    return f"{STACK}-{logical_id}-1A2B3C4D5E6F"


PSEUDO = {"AWS::StackName": STACK, "AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
          "AWS::Partition": "aws"}


@pytest.fixture(scope="module")
def template():
    return read_template()


def deployed(template: dict, value):
    """`value` with its intrinsic functions replaced by what the stack would make them."""
    resources = template["Resources"]

    def name_of(logical_id: str) -> str:
        props = resources[logical_id]["Properties"]
        for key in ("TableName", "Name", "RoleName", "FunctionName", "QueueName", "StateMachineName"):
            if key in props:
                return deployed(template, props[key])
        return generated_name(logical_id)

    def ref(target: str) -> str:
        if target in PSEUDO:
            return PSEUDO[target]
        kind = resources[target]["Type"]
        if kind == "AWS::Serverless::HttpApi":
            return API_ID
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name_of(target)}"
        if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name_of(target)}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-{target}"
        return name_of(target)

    def arn(target: str) -> str:
        kind = resources[target]["Type"]
        service = {"AWS::DynamoDB::Table": f"dynamodb:{REGION}:{ACCOUNT}:table/",
                   "AWS::Events::EventBus": f"events:{REGION}:{ACCOUNT}:event-bus/",
                   "AWS::SQS::Queue": f"sqs:{REGION}:{ACCOUNT}:"}.get(kind)
        return f"arn:aws:{service}{name_of(target)}" if service else f"arn:aws:test:::{generated_name(target)}"

    def attribute(reference: str) -> str:
        """`!GetAtt X.Arn` or `X.QueueName`; a plain name is a `!Ref`."""
        if "." not in reference:
            return ref(reference)
        target, name = reference.split(".")
        if name == "QueueName":
            return name_of(target)
        assert name == "Arn", reference
        return arn(target)

    if isinstance(value, list):
        return [deployed(template, v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Sub"} and isinstance(value["Sub"], str):
            return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: attribute(m.group(1)), value["Sub"])
        if set(value) == {"Ref"}:
            return ref(value["Ref"])
        if set(value) == {"GetAtt"}:
            return attribute(value["GetAtt"])
        return {k: deployed(template, v) for k, v in value.items()}
    return value


def tamper_rules(template: dict) -> list[dict]:
    """The rules that send changes to the control to the operators' topic."""
    rules = [r["Properties"] for name, r in template["Resources"].items()
             if r["Type"] == "AWS::Events::Rule" and name.startswith("StackTamper")]
    assert len(rules) > 1 and all(
        r["Targets"][0] == {"Id": "operator-topic", "Arn": {"Ref": "OperatorTopic"}} for r in rules)
    return rules


def rules_sending(template: dict, event: dict) -> list[dict]:
    return [rule for rule in tamper_rules(template)
            if EventPattern.load(json.dumps(deployed(template, rule["EventPattern"])))
            .matches_event(event)]


def sent_to_the_operators(template: dict, source: str, event_name: str, parameters: dict) -> bool:
    return bool(rules_sending(template, cloudtrail_event(source, event_name, parameters)))


def cloudtrail_event(source: str, event_name: str, parameters: dict) -> dict:
    return {"version": "0", "id": "7c3e6b1e-0000-4000-8000-000000000001",
             "detail-type": "AWS API Call via CloudTrail", "source": source, "account": ACCOUNT,
             "time": "2026-12-03T21:00:00Z", "region": REGION, "resources": [],
             "detail": {"eventVersion": "1.09", "eventSource": source[4:] + ".amazonaws.com",
                        "eventName": event_name, "awsRegion": REGION,
                        "userIdentity": {"type": "IAMUser",
                                         "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory"},
                        "requestParameters": parameters}}


BUS = f"{STACK}-events"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}"
DECISIONS = f"{STACK}-decisions"
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-remediation"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{generated_name('IncidentQueue')}"

SENT = [
    ("aws.lambda", "UpdateFunctionCode20150331v2", {"functionName": f"{STACK}-quarantine-policy"}),
    ("aws.events", "RemovePermission", {"eventBusName": BUS, "removeAllPermissions": True}),
    ("aws.events", "PutPermission", {"eventBusName": BUS, "policy": "{}"}),
    ("aws.events", "DeleteEventBus", {"name": BUS}),
    ("aws.events", "CreateArchive", {"archiveName": "keep", "eventSourceArn": BUS_ARN}),
    ("aws.events", "StartReplay", {"replayName": "again", "destination": {"arn": BUS_ARN}}),
    ("aws.dynamodb", "DeleteResourcePolicy",
     {"resourceArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{DECISIONS}"}),
    ("aws.dynamodb", "UpdateTable", {"tableName": DECISIONS, "deletionProtectionEnabled": False}),
    ("aws.dynamodb", "DeleteTable", {"tableName": f"{STACK}-documents"}),
    ("aws.apigateway", "UpdateRoute", {"apiId": API_ID, "routeId": "r1", "target": "integrations/x"}),
    ("aws.apigateway", "CreateIntegration", {"apiId": API_ID, "integrationType": "HTTP_PROXY"}),
    ("aws.scheduler", "UpdateSchedule", {"name": f"{STACK}-sweep", "state": "DISABLED"}),
    ("aws.lambda", "CreateEventSourceMapping20150331",
     {"eventSourceArn": QUEUE_ARN, "functionName": f"{STACK}-start-incident:1"}),
    ("aws.lambda", "PublishVersion20150331", {"functionName": f"{STACK}-start-incident"}),
    ("aws.states", "StartExecution", {"stateMachineArn": MACHINE, "name": "made-up"}),
    ("aws.states", "StartExecution", {"stateMachineArn": f"{MACHINE}:1", "name": "via-a-version"}),
    ("aws.states", "PublishStateMachineVersion", {"stateMachineArn": MACHINE}),
    ("aws.states", "UpdateStateMachineAlias", {"stateMachineAliasArn": f"{MACHINE}:live"}),
    ("aws.states", "RedriveExecution",
     {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{STACK}-remediation:abc"}),
    ("aws.logs", "DeleteLogGroup", {"logGroupName": f"/aws/lambda/{STACK}-approval-api"}),
    ("aws.logs", "PutRetentionPolicy",
     {"logGroupName": f"/aws/vendedlogs/states/{STACK}-remediation", "retentionInDays": 1}),
    ("aws.logs", "PutDataProtectionPolicy",
     {"logGroupIdentifier": f"/aws/lambda/{STACK}-restore-policy", "policyDocument": "{}"}),
    ("aws.logs", "DisassociateKmsKey",
     {"resourceIdentifier": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-sweep-account"}),
]

OPERATOR_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-OperatorTopic"
NOTIFICATION_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-NotificationTopic"
# Nothing in the stack can refuse these (no topic policy may name them): each must reach the
# subscribers of both topics, so that silencing one is told on the other (T5).
CHANNEL = [
    ("aws.sns", "Unsubscribe", {"subscriptionArn": f"{OPERATOR_TOPIC}:0b1c2d3e"}),
    ("aws.sns", "Unsubscribe", {"subscriptionArn": f"{NOTIFICATION_TOPIC}:0b1c2d3e"}),
    ("aws.sns", "SetSubscriptionAttributes",
     {"subscriptionArn": f"{OPERATOR_TOPIC}:0b1c2d3e", "attributeName": "FilterPolicy",
      "attributeValue": '{"never": ["sent"]}'}),
    ("aws.sns", "SetTopicAttributes", {"topicArn": NOTIFICATION_TOPIC, "attributeName": "Policy"}),
    ("aws.sns", "DeleteTopic", {"topicArn": OPERATOR_TOPIC}),
    ("aws.sns", "PutDataProtectionPolicy", {"resourceArn": NOTIFICATION_TOPIC}),
]


@pytest.mark.parametrize("source,event_name,parameters", CHANNEL,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CHANNEL)])
def test_a_change_to_the_channel_is_sent_to_both_topics(template, source, event_name, parameters):
    """To the notification topic when a customer managed key encrypts it: EventBridge cannot
    publish under the AWS managed key the topic has without KmsKeyArn."""
    targets = [t for rule in rules_sending(template, cloudtrail_event(source, event_name, parameters))
               for t in rule["Targets"]]
    assert {"Id": "operator-topic", "Arn": {"Ref": "OperatorTopic"}} in targets, targets
    assert {"If": ["HasKmsKey", {"Id": "notification-topic", "Arn": {"Ref": "NotificationTopic"}},
                   {"Ref": "AWS::NoValue"}]} in targets, targets
    key = template["Resources"]["NotificationTopic"]["Properties"]["KmsMasterKeyId"]
    assert key == {"If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, "alias/aws/sns"]}, key


INCIDENT_QUEUE = generated_name("IncidentQueue")
# The same queue, as SQS accepts it: its URL as GetQueueUrl gives it, the legacy endpoint's,
# the regional legacy one's (CloudTrail records the URL as the caller sent it).
QUEUE_URLS = [f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{INCIDENT_QUEUE}",
              f"https://queue.amazonaws.com/{ACCOUNT}/{INCIDENT_QUEUE}",
              f"https://{REGION}.queue.amazonaws.com/{ACCOUNT}/{INCIDENT_QUEUE}"]


@pytest.mark.parametrize("url", QUEUE_URLS)
def test_the_starters_queue_rewired_is_sent_however_its_url_is_spelt(template, url):
    assert sent_to_the_operators(template, "aws.sqs", "SetQueueAttributes",
                                 {"queueUrl": url, "attributes": {"Policy": "{}"}})


NOT_SENT = [
    ("aws.sqs", "SetQueueAttributes",
     {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders-{INCIDENT_QUEUE}"}),
    ("aws.sns", "Unsubscribe",
     {"subscriptionArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:orders:0b1c2d3e"}),
    # A consumer's rule on the sentinel's bus, another bus's policy, another table, another API,
    # another queue's mapping: nothing of the control changes.
    ("aws.events", "PutRule", {"name": "siem-forwarder", "eventBusName": BUS}),
    ("aws.events", "PutPermission", {"eventBusName": "default", "policy": "{}"}),
    ("aws.dynamodb", "UpdateTable", {"tableName": "orders", "deletionProtectionEnabled": False}),
    ("aws.apigateway", "UpdateRoute", {"apiId": "zzzzzzzzzz", "routeId": "r1"}),
    ("aws.lambda", "CreateEventSourceMapping20150331",
     {"eventSourceArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders", "functionName": "worker"}),
    ("aws.states", "StartExecution",
     {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders"}),
    ("aws.logs", "DeleteLogGroup", {"logGroupName": "/aws/lambda/orders"}),
]


@pytest.mark.parametrize("source,event_name,parameters", SENT, ids=[f"{s[1]}" for s in SENT])
def test_a_change_to_the_controls_own_resources_is_sent_to_the_operators(
        template, source, event_name, parameters):
    assert sent_to_the_operators(template, source, event_name, parameters)


@pytest.mark.parametrize("source,event_name,parameters", NOT_SENT,
                         ids=[f"{s[1]}-{i}" for i, s in enumerate(NOT_SENT)])
def test_a_call_that_changes_nothing_of_the_control_is_not(template, source, event_name, parameters):
    assert not sent_to_the_operators(template, source, event_name, parameters)


TABLE_CALLS = ["PutResourcePolicy", "DeleteResourcePolicy", "UpdateTable", "DeleteTable",
               "UpdateTimeToLive", "UpdateContinuousBackups"]


@pytest.mark.parametrize("table", [f"{STACK}-documents", DECISIONS])
@pytest.mark.parametrize("call", TABLE_CALLS)
def test_each_call_on_either_table_by_name_or_arn_is_sent_to_the_operators(template, table, call):
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    for parameters in ({"tableName": table}, {"tableName": arn}, {"resourceArn": arn}):
        assert sent_to_the_operators(template, "aws.dynamodb", call, parameters), parameters
