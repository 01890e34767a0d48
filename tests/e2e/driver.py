"""The tests' view of one local deployment: its executions and their histories, what they
published (emails, outcome events), IAM, the approval page (person.Person), and, when a test
fails, what went wrong (explain)."""

from __future__ import annotations

import hashlib
import json
import threading
import time

from harness.eventbridge import drain_queue
from harness.processes import wait_until

from .incidents import as_document
from .person import Person

APPROVAL_HEADLINE = "Approval needed: "
ENDED = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


def event_detail(event: dict) -> dict:
    """The `...EventDetails` of a history event ({} if it has none)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def is_approval_request(event: dict) -> bool:
    d = event.get("taskScheduledEventDetails")
    return bool(d) and d.get("resource", "").endswith("invoke.waitForTaskToken")


class Harness(Person):
    """One deployment (a harness.LocalStack) as the tests drive and observe it. `check` is the
    project's CLI (harness.policy_check.PolicyCheck), asked what a document grants."""

    def __init__(self, stack, check):
        self.stack, self.check = stack, check
        self.sfn = stack.client("stepfunctions")
        self.iam = stack.client("iam")
        self.sqs = stack.client("sqs")
        self.dynamodb = stack.client("dynamodb")
        self.notifications: list[str] = []   # raw SNS message bodies
        self.events: list[dict] = []         # EventBridge events (source iam-sentinel)
        self.default_bus_events: list[dict] = []  # the same source on the default bus
        # Every link and URL used and every request and page body exchanged with the approval
        # server, as (what, text); every approval key seen in a link; the run directory's logs
        # written by the tests' own browser (the person's link is legitimately there).
        self.texts: list[tuple[str, str]] = []
        self.keys: set[str] = set()
        self.browser_logs: set[str] = set()
        self._drain_lock = threading.Lock()  # tests may drain from several threads
        self.begin_test()

    # -- what the current test did (for explain)
    def begin_test(self):
        self.since = time.time()
        self.started: list[str] = []

    def watch(self, arn: str) -> str:
        """Counts an execution as the current test's (start() does it itself)."""
        self.started.append(arn)
        return arn

    # -- the document store
    def document(self, reference) -> str | None:
        """The text the document store holds for a reference ({"sha256", "characters"}, as the
        state and the outcome events carry it) or a SHA-256, checked against the hash; None for
        no reference."""
        if reference is None:
            return None
        sha = reference["sha256"] if isinstance(reference, dict) else reference
        item = self.dynamodb.get_item(TableName=self.stack.document_table,
                                      Key={"sha256": {"S": sha}}, ConsistentRead=True)["Item"]
        text = item["document"]["S"]
        assert hashlib.sha256(text.encode()).hexdigest() == sha, f"the store's {sha} is altered"
        return text

    # -- executions
    def start(self, name: str, event: dict) -> str:
        """Starts the execution `name` with `event` as start-incident does (recorded first)."""
        return self.watch(self.stack.start_incident(name, event))

    def start_by_hand(self, name: str, event: dict) -> str:
        """StartExecution and nothing else, as anyone allowed it could call it."""
        return self.watch(self.sfn.start_execution(
            stateMachineArn=self.stack.state_machine_arn, name=name,
            input=json.dumps(event))["executionArn"])

    def history(self, arn: str) -> list[dict]:
        events, token = [], None
        for _ in range(100):  # bounded pagination
            kw = {"executionArn": arn, "maxResults": 1000}
            if token:
                kw["nextToken"] = token
            page = self.sfn.get_execution_history(**kw)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        return events

    def status(self, arn: str) -> str:
        return self.sfn.describe_execution(executionArn=arn)["status"]

    def wait_done(self, arn: str, timeout: float = 180) -> str:
        return wait_until(f"execution {arn.rsplit(':', 1)[1]} to finish",
                          lambda: (s := self.status(arn)) != "RUNNING" and s, timeout)

    def states_entered(self, arn: str) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.history(arn)
                if "stateEnteredEventDetails" in e]

    def state_input(self, arn: str, state: str) -> dict:
        """The input of the first entry into `state` ({} if never entered)."""
        return self._state_io(arn, state, "stateEnteredEventDetails", "input")

    def state_output(self, arn: str, state: str) -> dict:
        """The output of the first exit from `state` ({} if it never exited)."""
        return self._state_io(arn, state, "stateExitedEventDetails", "output")

    def _state_io(self, arn: str, state: str, kind: str, field: str) -> dict:
        for e in self.history(arn):
            d = e.get(kind)
            if d and d["name"] == state:
                return json.loads(d[field])
        return {}

    def approval_token(self, arn: str, timeout: float = 180) -> str:
        """Waits until RequestApproval's task is scheduled and its function has answered (the
        token is in TaskScheduled's parameters); fails fast if the execution ends first."""
        def find():
            events = self.history(arn)
            token = None
            for e in filter(is_approval_request, events):
                payload = json.loads(e["taskScheduledEventDetails"]["parameters"]).get("Payload")
                token = (json.loads(payload) if isinstance(payload, str) else payload)["taskToken"]
            if token and any(e["type"] == "TaskSubmitted" for e in events):
                return token
            assert not any(e["type"] in ENDED for e in events), \
                f"the execution ended before RequestApproval waited: {self.status(arn)}"
            return None
        return wait_until("RequestApproval to wait for its task token", find, timeout)

    def approval_wait(self, arn: str) -> tuple:
        """(when RequestApproval's task was scheduled, the event that ended its wait)."""
        scheduled, ended = None, None
        for e in self.history(arn):
            if is_approval_request(e):
                scheduled = e["timestamp"]
            elif scheduled is not None and ended is None and e["type"] in (
                    "TaskTimedOut", "TaskSucceeded", "TaskFailed"):
                ended = e
        return scheduled, ended

    def all_executions(self) -> list[str]:
        """Every execution of every state machine in this deployment's moto."""
        arns = []
        for machines in self.sfn.get_paginator("list_state_machines").paginate(
                PaginationConfig={"MaxItems": 1000}):
            for m in machines["stateMachines"]:
                for page in self.sfn.get_paginator("list_executions").paginate(
                        stateMachineArn=m["stateMachineArn"], PaginationConfig={"MaxItems": 10000}):
                    arns += [e["executionArn"] for e in page["executions"]]
        return arns

    # -- what was published
    def drain(self):
        with self._drain_lock:
            self.notifications += drain_queue(self.sqs, self.stack.notifications_queue_url)
            self.events += drain_queue(self.sqs, self.stack.events_queue_url, json.loads)
            self.default_bus_events += drain_queue(
                self.sqs, self.stack.default_bus_events_queue_url, json.loads)

    def _of(self, arn: str) -> list[str]:
        """Every notification of one execution (they end with an `Execution: <arn>` line)."""
        return [b for b in self.notifications if f"\nExecution: {arn}\n" in b + "\n"]

    def outcome_notifications(self, arn: str) -> list[str]:
        return [b for b in self._of(arn) if not b.startswith(APPROVAL_HEADLINE)]

    def approval_emails(self, arn: str) -> list[str]:
        return [b for b in self._of(arn) if b.startswith(APPROVAL_HEADLINE)]

    def outcome_events(self, arn: str) -> list[dict]:
        return [ev for ev in self.events if ev.get("detail", {}).get("executionArn") == arn]

    def published(self, arn: str, expected: int, timeout: float = 20):
        """(outcome notifications, outcome events) of one execution, waiting (bounded) for
        `expected` of each; returns whatever arrived. With expected 0, waits 1.5 s for anything
        that should not come. Approval emails are not outcomes: see approval_email()."""
        def got():
            self.drain()
            n, e = self.outcome_notifications(arn), self.outcome_events(arn)
            return (n, e) if len(n) >= expected and len(e) >= expected else None
        if expected == 0:
            time.sleep(1.5)
        try:
            return wait_until("notifications and events", got, timeout)
        except TimeoutError:
            return self.outcome_notifications(arn), self.outcome_events(arn)

    def approval_email(self, arn: str, timeout: float = 30) -> str:
        """The approval request emailed for one execution (waits, bounded)."""
        def got():
            self.drain()
            return self.approval_emails(arn)
        return wait_until(f"the approval email for {arn.rsplit(':', 1)[1]}", got, timeout)[0]

    # -- IAM
    def policy_state(self, policy_arn: str) -> tuple[str, dict[str, dict]]:
        """(default version id, {version id: document})."""
        default = self.iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
        versions = {}
        for v in self.iam.list_policy_versions(PolicyArn=policy_arn)["Versions"]:
            doc = self.iam.get_policy_version(PolicyArn=policy_arn,
                                              VersionId=v["VersionId"])["PolicyVersion"]["Document"]
            versions[v["VersionId"]] = as_document(doc)
        return default, versions

    # -- diagnostics
    def explain(self, arn: str | None, since: float) -> str:
        """The execution's status and last 14 history events, and the function errors seen
        since `since` (time.time())."""
        lines = []
        if arn:
            try:
                events = self.history(arn)
                lines.append(f"execution {arn}: {self.status(arn)}; last {min(len(events), 14)} "
                             f"of {len(events)} history events:")
                for e in events[-14:]:
                    detail, bits = event_detail(e), []
                    for key in ("name", "error", "cause", "input", "output", "resource"):
                        if key in detail:
                            val = str(detail[key])
                            bits.append(f"{key}={val[:400]}{'...' if len(val) > 400 else ''}")
                    lines.append(f"  #{e['id']} {e['type']} {' '.join(bits)}")
            except Exception as ex:  # noqa: BLE001 (a diagnostic must not hide the failure)
                lines.append(f"(history of {arn} unavailable: {ex})")
        errors = [i for i in list(self.stack.router.invocations)
                  if i["started"] >= since and i.get("error_type")]
        if errors:
            lines.append("function errors in this test:")
            for i in errors:
                lines.append(f"  {i['binary']}: {i['error_type']}: {i.get('error_message', '')[:600]}"
                             + (" (injected)" if i.get("injected") else ""))
                lines.append(f"    input: {i['payload'][:600]}")
        return "\n".join(lines)

    def explain_test(self) -> str:
        """explain() for the current test: its first execution in full, the others' status."""
        text = self.explain(self.started[0] if self.started else None, self.since)
        others = []
        for arn in self.started[1:]:
            try:
                others.append(f"  {arn.rsplit(':', 1)[1]}: {self.status(arn)}")
            except Exception as ex:  # noqa: BLE001
                others.append(f"  {arn.rsplit(':', 1)[1]}: ({ex})")
        if others:
            text += f"\nthe test's other {len(others)} executions:\n" + "\n".join(others)
        return text
