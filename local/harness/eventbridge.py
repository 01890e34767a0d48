"""EventBridge, as far as moto goes: rules that deliver to SQS queues, CloudTrail's events put
on the default bus, and the template's trigger (IamPolicyChangeRule with its own EventPattern)
whose Step Functions target moto cannot deliver to: its rule targets an SQS queue instead, and
TriggerPoller starts the state machine from that queue, as the target would."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from .constants import ACCOUNT, CLOUDTRAIL_DETAIL_TYPE, WRITER_ROLE_ARN, WRITER_SESSION_ARNS
from .processes import BackgroundThread
from .template import trigger_rule


def rule_to_queue(events, sqs, rule: str, pattern: dict, queue: str, target_id: str,
                  bus: str = "default", description: str = "",
                  queue_attributes: dict | None = None) -> tuple[str, str]:
    """An SQS queue and a rule on `bus` that delivers what `pattern` matches to it, checked to
    be stored as given. Returns (queue URL, queue ARN)."""
    url = sqs.create_queue(QueueName=queue, Attributes=queue_attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern),
                    State="ENABLED", Description=description)
    stored = json.loads(events.describe_rule(Name=rule, EventBusName=bus)["EventPattern"])
    if stored != pattern:
        raise RuntimeError(f"moto stored another pattern for {rule} than given: {stored}")
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": target_id, "Arn": arn}])
    return url, arn


def drain_queue(sqs, queue_url: str, parse=str) -> list:
    """Every message waiting in the queue, parsed, and deleted (bounded: 200 at most)."""
    out = []
    for _ in range(20):
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            out.append(parse(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return out


def put_cloudtrail_event(events, detail: dict, event_time: float | None = None) -> str:
    """What CloudTrail does after an IAM call: PutEvents on the default bus with source
    aws.iam, detail-type "AWS API Call via CloudTrail" and the CloudTrail record as detail.
    Returns the event id (the `id` of the envelope the rule delivers)."""
    entry = {"Source": "aws.iam", "DetailType": CLOUDTRAIL_DETAIL_TYPE,
             "Detail": json.dumps(detail), "EventBusName": "default"}
    if event_time is not None:
        entry["Time"] = event_time
    out = events.put_events(Entries=[entry])
    if out.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents failed: {out['Entries']}")
    return out["Entries"][0]["EventId"]


def check_trigger_pattern(events, sqs, queue_url: str) -> tuple[list[str], list[str]]:
    """Before the poller runs: puts five CloudTrail-shaped probes on the bus and checks which
    the rule delivers, as EventBridge would: a successful CreatePolicy by a user, one by an AWS
    service (no userIdentity.arn) and one by another session of the policy writer's role are
    delivered; a failed one (errorCode) and one by a writer function's session are not. Raises if moto's matching differs (the pattern is never
    weakened to suit moto). The probes are removed from the queue. Returns (delivered, not)."""
    other_session = (f"arn:aws:sts::{ACCOUNT}:assumed-role/"
                     f"{WRITER_ROLE_ARN.rsplit('/', 1)[1]}/local-probe")
    base = {"eventSource": "iam.amazonaws.com", "eventName": "CreatePolicy",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/probe"},
            "requestParameters": {"policyName": "local-probe"}}
    probes = {
        "user": (base, True),
        "aws-service": (dict(base, userIdentity={"type": "AWSService",
                                                 "invokedBy": "probe.amazonaws.com"}), True),
        "failed-call": (dict(base, errorCode="AccessDenied", errorMessage="probe"), False),
        "policy-writer": (dict(base, userIdentity={"type": "AssumedRole",
                                                   "arn": WRITER_SESSION_ARNS[0]}), False),
        "writer-role-elsewhere": (dict(base, userIdentity={"type": "AssumedRole",
                                                           "arn": other_session}), True),
    }
    for probe, (detail, _) in probes.items():
        put_cloudtrail_event(events, dict(detail, eventID=f"local-probe-{probe}"))
    # moto delivers inside PutEvents
    delivered = {json.loads(body)["detail"]["eventID"].removeprefix("local-probe-")
                 for body in drain_queue(sqs, queue_url)}
    expected = {p for p, (_, match) in probes.items() if match}
    if delivered != expected:
        raise RuntimeError(f"moto does not match the template's rule pattern as EventBridge "
                           f"does: delivered {sorted(delivered)}, expected {sorted(expected)}")
    return sorted(delivered), sorted(set(probes) - expected)


def deploy_trigger(client, template: dict, state_machine_arn: str, run_dir: Path,
                   self_check: bool = True) -> tuple["TriggerPoller", dict, str]:
    """The template's trigger: on the default bus, the rule IamPolicyChangeRule with the
    template's own EventPattern (trigger_rule), whose target is an SQS queue instead of the
    state machine, and the poller that starts the state machine from that queue (started).
    With self_check, first checks that moto applies the pattern as EventBridge does
    (check_trigger_pattern). Returns (the poller, the rule, what was checked, in words)."""
    rule = trigger_rule(template)
    sqs, events = client("sqs"), client("events")
    queue_url, queue_arn = rule_to_queue(
        events, sqs, rule["name"], rule["pattern"], "local-iam-policy-change-target",
        "local-poller-queue", bus=rule["event_bus"],
        description="template.yaml IamPolicyChangeRule (local: SQS target)",
        queue_attributes={"VisibilityTimeout": "10"})
    (run_dir / "trigger-rule-pattern.json").write_text(json.dumps(rule["pattern"], indent=2))
    checked = "not checked"
    if self_check:
        yes, no = check_trigger_pattern(events, sqs, queue_url)
        checked = f"pattern checked on moto: delivered {yes}, not {no}"
    poller = TriggerPoller(client, queue_url, state_machine_arn, run_dir / "trigger.log")
    poller.start()
    return poller, dict(rule, queue_arn=queue_arn), checked


class TriggerPoller(BackgroundThread):
    """What the template's EventBridge target does in AWS (start the state machine with the
    event), for moto, which cannot deliver to Step Functions: the rule (the template's own
    pattern, see trigger_rule) targets an SQS queue, and this thread receives from it, calls
    StartExecution with the delivered event as input, named with a fresh UUID (EventBridge
    starts executions without a name, so AWS names them with a UUID; moto needs one), and
    deletes the message. A failed StartExecution leaves the message to come back after the
    queue's visibility timeout (EventBridge retries too).

    `executions()` lists what it started: (time, execution ARN, event id)."""

    POLL_SECONDS = 1  # long-poll wait; also how long stop() may take

    def __init__(self, client_factory, queue_url: str, state_machine_arn: str, log_path: Path):
        self._client_factory = client_factory
        self.queue_url = queue_url
        self.state_machine_arn = state_machine_arn
        self._log = open(log_path, "a", buffering=1)
        self._lock = threading.Lock()
        self._started: list[tuple[float, str, str]] = []
        super().__init__("trigger-poller")
        self.join_timeout = self.POLL_SECONDS + 10

    def stop(self):
        super().stop()
        with self._lock:
            self._log.close()

    def executions(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return list(self._started)

    def log(self, line: str):
        with self._lock:
            if not self._log.closed:
                self._log.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def run(self):
        sqs, sfn = self._client_factory("sqs"), self._client_factory("stepfunctions")
        while not self.stopping.is_set():
            try:
                messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=self.POLL_SECONDS).get("Messages", [])
            except Exception as e:  # noqa: BLE001 (moto going away at the end, ...)
                if not self.stopping.is_set():
                    self.log(f"receive failed: {type(e).__name__}: {e}")
                    self.stopping.wait(1)
                continue
            for m in messages:
                self._deliver(sqs, sfn, m)

    def _deliver(self, sqs, sfn, message: dict):
        try:
            event = json.loads(message["Body"])
        except ValueError:
            self.log(f"not JSON, dropped: {message['Body'][:200]!r}")
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return
        # moto's delivery leaves out the envelope's `account`, which EventBridge always sends
        # (the account of the bus): put it back, so the input is the event as AWS delivers it.
        event.setdefault("account", ACCOUNT)
        name = str(uuid.uuid4())
        try:
            arn = sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                      input=json.dumps(event))["executionArn"]
        except Exception as e:  # noqa: BLE001 (retried: the message comes back)
            self.log(f"StartExecution failed for event {event.get('id')}: {type(e).__name__}: {e}")
            return
        with self._lock:
            self._started.append((time.time(), arn, event.get("id", "")))
        detail = event.get("detail") or {}
        self.log(f"event {event.get('id')} ({detail.get('eventName')} by "
                 f"{(detail.get('userIdentity') or {}).get('arn')}) -> execution {arn}")
        sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
