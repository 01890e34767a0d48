"""The starter's queue takes messages from the trigger rule and the sweep only (THREAT-MODEL
T24). SQS moves a message into a dead-letter queue without a SendMessage, so the queue policy's
Deny does not apply to it, and by default any queue of the account may name another its
dead-letter queue: the starter's queue must refuse to be one. A missed change is replayed into
it by the administrators (AdministratorArns), who may send; nobody else may.

moto enforces no policy: the statements are evaluated here (evaluate.py).
"""
from evaluate import ACCOUNT_USER, ADMINISTRATOR, denied, from_inside, role_arn, statements_of
from harness.template import read_template


def queue_policy() -> list[dict]:
    policies = [r["Properties"]["PolicyDocument"] for r in read_template()["Resources"].values()
                if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": "IncidentQueue"} in r["Properties"]["Queues"]]
    assert len(policies) == 1, policies
    return statements_of(policies[0])


def test_a_power_user_cannot_send_to_the_starters_queue():
    assert denied(queue_policy(), "sqs:SendMessage", from_inside(ACCOUNT_USER))


def test_the_sweep_and_the_administrators_may():
    for sender in (role_arn("SweepAccountRole"), ADMINISTRATOR):
        assert not denied(queue_policy(), "sqs:SendMessage", from_inside(sender)), sender


def test_no_other_queue_can_move_its_messages_into_the_starters_queue():
    queue = read_template()["Resources"]["IncidentQueue"]["Properties"]
    assert queue.get("RedriveAllowPolicy") == {"redrivePermission": "denyAll"}, \
        queue.get("RedriveAllowPolicy")


def test_the_trigger_rule_may():
    eventbridge = {"aws:SecureTransport": "true", "aws:PrincipalIsAWSService": "true",
                   "aws:SourceArn": role_arn("IamPolicyChangeRule")}
    assert not denied(queue_policy(), "sqs:SendMessage", eventbridge)
