"""EventBridge, as far as moto goes: rules that deliver to SQS queues, CloudTrail's events put
on the default bus, and the template's trigger as AWS runs it: IamPolicyChangeRule (its own
EventPattern) delivers to the starter's queue, and SqsEventSource does what Lambda's event source
mapping does there, feeding the real start-incident function, which starts the executions."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

from .constants import (ACCOUNT, CLOUDTRAIL_DETAIL_TYPE, INCIDENT_QUEUE_NAME, REGION,
                        WRITER_ROLE_ARN, WRITER_SESSION_ARNS)
from .processes import BackgroundThread
from .template import trigger_delivery, trigger_rule


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
    """Before the event source runs: puts five CloudTrail-shaped probes on the bus and checks which
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


def deploy_trigger(client, template: dict, state_machine_arn: str, invoke, run_dir: Path,
                   self_check: bool = True) -> tuple["SqsEventSource", dict, str]:
    """The template's trigger: on the default bus, the rule IamPolicyChangeRule with the
    template's own EventPattern (trigger_rule), delivering to the starter's queue, made as the
    template makes it (visibility timeout, retention, a dead-letter queue after
    maxReceiveCount receives: trigger_delivery), and the queue's event source mapping, which
    invokes the template's starter through `invoke` (started). With self_check, first checks
    that moto applies the pattern as EventBridge does (check_trigger_pattern). Returns (the
    event source, the rule with the queue's ARN, what was checked, in words)."""
    rule, delivery = trigger_rule(template), trigger_delivery(template)
    sqs, events = client("sqs"), client("events")
    queue = delivery["queue"]
    dlq_url = sqs.create_queue(QueueName="local-incident-dead-letters")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url, queue_arn = rule_to_queue(
        events, sqs, rule["name"], rule["pattern"], INCIDENT_QUEUE_NAME, "incident-queue",
        bus=rule["event_bus"], description="template.yaml IamPolicyChangeRule",
        queue_attributes={
            "VisibilityTimeout": str(queue["visibility_timeout"]),
            "MessageRetentionPeriod": str(queue["retention"]),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": queue["max_receive_count"]})})
    (run_dir / "trigger-rule-pattern.json").write_text(json.dumps(rule["pattern"], indent=2))
    checked = "not checked"
    if self_check:
        yes, no = check_trigger_pattern(events, sqs, queue_url)
        checked = f"pattern checked on moto: delivered {yes}, not {no}"
    source = SqsEventSource(client, queue_url, queue_arn, delivery, invoke, state_machine_arn,
                            run_dir / "trigger.log")
    source.dead_letter_queue_url = dlq_url
    source.start()
    return source, dict(rule, queue_arn=queue_arn, function=delivery["function"]), checked


class SqsEventSource(BackgroundThread):
    """What Lambda's SQS event source mapping does (template.yaml's StartIncidentEventSource):
    long-polls the queue for batches of up to BatchSize, invokes the function (`invoke(name,
    payload, timeout)`, the Invoke API) with the SQS event as Lambda sends it, then deletes the
    messages the answer does not list in `batchItemFailures`. Those, or the whole batch when the
    function fails or answers what Lambda would take as a failed batch, stay in the queue and
    come back after its visibility timeout (and go to the dead-letter queue after
    maxReceiveCount receives, as SQS's redrive policy does).

    `executions()`: the executions of the state machine whose input is an event this queue
    delivered: (start time, execution ARN, event id), oldest first. `held()` keeps it from
    receiving meanwhile; `deliver(body)` puts a message on the queue as EventBridge does."""

    POLL_SECONDS = 1  # long-poll wait; also how long stop() may take
    INVOKE_TIMEOUT = 120

    def __init__(self, client_factory, queue_url: str, queue_arn: str, delivery: dict, invoke,
                 state_machine_arn: str, log_path: Path):
        self._client_factory = client_factory
        self.queue_url, self.queue_arn = queue_url, queue_arn
        self.function, self.batch_size = delivery["function"], delivery["batch_size"]
        self.partial = "ReportBatchItemFailures" in delivery["response_types"]
        self._invoke = invoke
        self.state_machine_arn = state_machine_arn
        self.dead_letter_queue_url: str | None = None
        self._log = open(log_path, "a", buffering=1)
        self._lock = threading.Lock()
        self._gate = threading.Lock()  # held while receiving and handing on a batch
        self._bodies: dict[str, str] = {}  # event id -> the body as the rule delivered it
        self._seen: dict[str, tuple[float, str]] = {}  # execution ARN -> (start, its event's id)
        # each batch handed on: its message ids and event ids, the failed ones, the answer
        self.batches: list[dict] = []
        super().__init__("sqs-event-source")
        self.join_timeout = self.POLL_SECONDS + self.INVOKE_TIMEOUT + 10

    def stop(self):
        super().stop()
        with self._lock:
            self._log.close()

    def log(self, line: str):
        with self._lock:
            if not self._log.closed:
                self._log.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    @contextlib.contextmanager
    def held(self):
        """Nothing is received from the queue inside this block (a batch being handed on is
        finished first)."""
        with self._gate:
            yield

    def deliver(self, body: str) -> str:
        """One more delivery of an event, as EventBridge's SendMessage makes it; the message id."""
        return self._client_factory("sqs").send_message(QueueUrl=self.queue_url,
                                                        MessageBody=body)["MessageId"]

    def body_of(self, event_id: str) -> str:
        """The body the rule delivered for event `event_id` (it must have been received)."""
        with self._lock:
            return self._bodies[event_id]

    def take_delivery(self, event_id: str, timeout: float = 10) -> str:
        """Inside held(): removes the rule's delivery of event `event_id` from the queue and
        returns its body."""
        sqs = self._client_factory("sqs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                         WaitTimeSeconds=1).get("Messages", []):
                if _event_id(m["Body"]) == event_id:
                    sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
                    self._remember(m["Body"])
                    return m["Body"]
                sqs.change_message_visibility(QueueUrl=self.queue_url,
                                              ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
        raise TimeoutError(f"event {event_id} never reached {self.queue_url}")

    def executions(self) -> list[tuple[float, str, str]]:
        sfn = self._client_factory("stepfunctions")
        for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn, PaginationConfig={"MaxItems": 10000}):
            for e in page["executions"]:
                arn = e["executionArn"]
                with self._lock:
                    known = arn in self._seen
                if not known:  # each execution's input is read once
                    event_id = _event_id(sfn.describe_execution(executionArn=arn)["input"])
                    with self._lock:
                        self._seen[arn] = (e["startDate"].timestamp(), event_id)
        with self._lock:
            return sorted((start, arn, event_id) for arn, (start, event_id) in self._seen.items()
                          if event_id in self._bodies)

    def _remember(self, body: str):
        event_id = _event_id(body)
        if event_id:
            with self._lock:
                self._bodies.setdefault(event_id, body)

    def run(self):
        sqs = self._client_factory("sqs")
        while not self.stopping.is_set():
            with self._gate:
                try:
                    messages = sqs.receive_message(
                        QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                        WaitTimeSeconds=self.POLL_SECONDS,
                        MessageSystemAttributeNames=["All"]).get("Messages", [])
                except Exception as e:  # noqa: BLE001 (moto going away at the end, ...)
                    messages = []
                    if not self.stopping.is_set():
                        self.log(f"receive failed: {type(e).__name__}: {e}")
                if messages:
                    self._hand_on(sqs, messages)
            if not messages:
                self.stopping.wait(0.05)  # let held() in between polls

    def _hand_on(self, sqs, messages: list[dict]):
        for m in messages:
            self._remember(m["Body"])
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn, "awsRegion": REGION} for m in messages]}
        ids = [m["MessageId"] for m in messages]
        events = [_event_id(m["Body"]) for m in messages]
        try:
            status, headers, body = self._invoke(self.function, event, self.INVOKE_TIMEOUT)
        except OSError as e:
            status, headers, body = 0, {}, f"{type(e).__name__}: {e}".encode()
        failed = _failed_messages(status, headers, body, ids, self.partial)
        done = [m for m in messages if m["MessageId"] not in failed]
        for m in done:
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        answer = body.decode("utf-8", "replace")[:500]
        with self._lock:
            self.batches.append({"messages": ids, "events": events, "failed": sorted(failed),
                                 "status": status, "answer": answer, "at": time.time()})
        self.log(f"batch of {len(ids)} ({', '.join(e or '?' for e in events)})"
                 f" -> {self.function}: HTTP {status} {answer}; deleted {len(done)}, "
                 f"left {len(failed)} for another attempt")


def _event_id(body: str) -> str:
    """The EventBridge event id of a message body ("" when it has none)."""
    try:
        event = json.loads(body)
    except ValueError:
        return ""
    return event.get("id", "") if isinstance(event, dict) else ""


def _failed_messages(status: int, headers: dict[str, str], body: bytes, ids: list[str],
                     partial: bool) -> set[str]:
    """The messages Lambda leaves in the queue after an invocation: all of them when the
    invocation failed (no 200, a function error) or, with ReportBatchItemFailures, when the
    answer is not a valid partial batch response (not JSON, an itemIdentifier that is empty or
    not a message of the batch); else those listed in batchItemFailures (none, without
    ReportBatchItemFailures)."""
    if status != 200 or "x-amz-function-error" in headers:
        return set(ids)
    if not partial:
        return set()
    try:
        answer = json.loads(body) if body.strip() else None
        failures = (answer or {}).get("batchItemFailures") or []
        listed = {f["itemIdentifier"] for f in failures}
    except (ValueError, TypeError, KeyError, AttributeError):
        return set(ids)
    return listed if listed <= set(ids) else set(ids)
