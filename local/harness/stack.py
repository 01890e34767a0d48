"""The local deployment: moto, the router, one `cargo lambda watch` per function, the approval
server, and the resources template.yaml would create, wired together (see harness/__init__.py
for the picture, docs/LOCAL.md for the whole story).

    with LocalStack(approval_timeout_hours=24) as stack:
        stack.warm_up()                      # builds and starts every function once
        stack.start_incident("x", event)     # as start-incident would: recorded, started
"""

from __future__ import annotations

import atexit
import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import boto3

from . import eventbridge, processes, router as lambda_api
from .approval_server import ApprovalServer
from .constants import (ACCOUNT, CREDENTIALS, DECISION_KEY_ALIAS, INCIDENT_QUEUE_NAME,
                        LINK_KEY_ALIAS, OWN_ROLE_NAMES, REGION, ROOT, RUNS_DIR, STACK_NAME,
                        VENV_BIN, WRITER_SESSION_ARNS)
from .mailbox import Mailbox
from .router import Router
from .template import (DECISION_TABLE, DOCUMENT_TABLE, dynamodb_table, function_names,
                       quarantine_boundary, read_template, resource_ref,
                       state_machine_definition)


def approval_timeout(hours: int | str, seconds: int | None) -> str:
    """The functions' APPROVAL_TIMEOUT: `<hours>h` as the template writes it
    (`${ApprovalTimeoutHours}h`), or, locally, `<seconds>s` for a deadline a test can wait for."""
    if seconds is None:
        if not re.fullmatch(r"[1-9][0-9]*", str(hours)):
            raise ValueError(f"approval_timeout_hours: a positive whole number, not {hours!r}")
        return f"{hours}h"
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError(f"approval_timeout_seconds: a positive whole number, not {seconds!r}")
    return f"{seconds}s"


class LocalStack:
    """Starts and wires everything; `with LocalStack(...) as s:` stops it all on exit, also on
    Ctrl-C, SIGTERM and exceptions (and the processes get SIGTERM if this one dies).

    approval_timeout_hours is the template's ApprovalTimeoutHours; approval_timeout_seconds,
    when given, replaces it with a deadline in seconds (APPROVAL_TIMEOUT=<n>s: plain
    configuration of the functions, the ASL is the template's either way). state_machine_name
    names the one state machine (the approval API's STATE_MACHINE_ARN). reload_on_change=False
    keeps each function as first built (cargo lambda watch --ignore-changes), so a test run
    is not disturbed by edits made while it runs. lambda_concurrency: each function's
    concurrency limit, as Lambda's (that many instances run; an invocation above it is
    throttled); None: one instance, and invocations wait their turn. rules_file: the rules file
    the deciding functions are built with (IAM_SENTINEL_RULES for cargo); None: rules.toml."""

    def __init__(self, approval_timeout_hours: int | str = 24,
                 restricted_actions: str = "s3:DeleteBucket,s3:DeleteObject",
                 notify_on_clean_changes: bool = False, rust_log: str = "info",
                 run_dir: Path | None = None, quiet: bool = False,
                 cargo_target_dir: Path | None = None,
                 approval_timeout_seconds: int | None = None,
                 state_machine_name: str = f"{STACK_NAME}-remediation",
                 reload_on_change: bool = True, lambda_concurrency: int | None = None,
                 sweep_mode: str = "quarantine", rules_file: Path | None = None):
        self.approval_timeout_hours = str(approval_timeout_hours)
        self.approval_timeout_seconds = approval_timeout_seconds
        self.approval_timeout = approval_timeout(approval_timeout_hours, approval_timeout_seconds)
        self.restricted_actions = restricted_actions
        self.sweep_mode = sweep_mode
        self.rules_file = rules_file
        self.notify_on_clean_changes = notify_on_clean_changes
        self.rust_log = rust_log
        self.quiet = quiet
        self.cargo_target_dir = cargo_target_dir
        self.reload_on_change = reload_on_change
        self.lambda_concurrency = lambda_concurrency
        self.run_dir = run_dir or (RUNS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.template = read_template()
        self.quarantine_boundary_arn = (f"arn:aws:iam::{ACCOUNT}:policy/"
                                        + quarantine_boundary(self.template, restricted_actions)["name"])
        self.functions = function_names(self.template)
        names = {}
        for f in self.functions.values():
            names[f["name"]] = f["binary"]
            names[f["binary"]] = f["binary"]
        self.router = Router(names, self.run_dir / "router.log")
        binaries = [f["binary"] for f in self.functions.values()]
        # moto's and each cargo lambda watch's port, held until they listen (start()), so
        # that no server bound meanwhile (the approval server, the mailbox) gets one of them.
        self.reserved_ports = processes.PortReservation(1 + len(binaries))
        self.moto_port, *ports = self.reserved_ports.ports
        self.lambda_ports = dict(zip(binaries, ports))
        self.router.moto_port = self.moto_port
        self.router.lambda_ports = self.lambda_ports
        self.router.concurrency = lambda_concurrency
        self.topic_name = f"{STACK_NAME}-notifications"
        self.topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.topic_name}"
        self.operator_topic_name = f"{STACK_NAME}-operator"
        self.operator_topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.operator_topic_name}"
        # Where the functions put their events: the template's own bus.
        self.event_bus_name = resource_ref(self.template, "SentinelEventBus")
        # The state machine's ARN is deterministic, so the approval API's STATE_MACHINE_ARN
        # goes into the env file before the machine exists (as the template writes it out).
        self.main_state_machine_name = state_machine_name
        self.main_state_machine_arn = (f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"
                                       f"{state_machine_name}")
        # The approval API as API Gateway would serve it; its socket is bound now (APPROVAL_URL
        # goes into the functions' env file), its thread starts with the router's.
        self.approval_server = ApprovalServer(self.invoke_direct_full,
                                              self.run_dir / "approval-server.log")
        self.approval_url = self.approval_server.url
        self.procs: dict[str, subprocess.Popen] = {}
        self._files = []
        self._stopped = False
        self.state_machine_arn: str | None = None
        self.document_table = dynamodb_table(self.template, DOCUMENT_TABLE)["create"]["TableName"]
        self.decision_table = dynamodb_table(self.template, DECISION_TABLE)["create"]["TableName"]
        self.timings: dict[str, float] = {}
        self.mailbox: Mailbox | None = None                  # start_mailbox()
        self.trigger: eventbridge.SqsEventSource | None = None  # deploy_trigger()

    @property
    def approval_deadline_seconds(self) -> int:
        """How long RequestApproval waits for a decision (what analyse-change makes of
        APPROVAL_TIMEOUT)."""
        if self.approval_timeout_seconds is not None:
            return self.approval_timeout_seconds
        return int(self.approval_timeout_hours) * 3600

    # -- logging
    def say(self, msg: str):
        line = f"[stack {time.strftime('%H:%M:%S')}] {msg}"
        if not self.quiet:
            print(line, flush=True)
        with open(self.run_dir / "stack.log", "a") as log:  # also when quiet
            log.write(line + "\n")

    # -- clients (straight to moto)
    def client(self, service: str):
        return boto3.client(service, region_name=REGION,
                            endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def function_env(self) -> dict[str, str]:
        """The functions' environment: the union of what template.yaml gives each function,
        pointed at moto through the router."""
        return {
            "RESTRICTED_ACTIONS": self.restricted_actions,
            # analyse-change: exactly these sessions are iam-sentinel's own writes; a restricted
            # grant on these roles is reported, never quarantined.
            "WRITER_SESSION_ARNS": ",".join(WRITER_SESSION_ARNS),
            # analyse-change: the account it acts in (moto's); another account's events are
            # ignored.
            "ACCOUNT_ID": ACCOUNT,
            "OWN_ROLE_NAMES": ",".join(OWN_ROLE_NAMES),
            "NOTIFY_ON_CLEAN_CHANGES": "true" if self.notify_on_clean_changes else "false",
            # analyse-change: how long RequestApproval waits (approvalTimeoutSeconds).
            "APPROVAL_TIMEOUT": self.approval_timeout,
            "TOPIC_ARN": self.topic_arn,
            "EVENT_BUS_NAME": self.event_bus_name,
            # request-approval: the base of the emailed link (the local approval server);
            # approval-api: the state machine whose executions the approval ids name.
            "APPROVAL_URL": self.approval_url,
            "STATE_MACHINE_ARN": self.main_state_machine_arn,
            # the writers alert refused calls there; the HMAC keys of links and decisions.
            "OPERATOR_TOPIC_ARN": self.operator_topic_arn,
            "LINK_KEY_ID": LINK_KEY_ALIAS,
            "DECISION_KEY_ID": DECISION_KEY_ALIAS,
            # analyse, the writers and approval-api: the document store (the template's table).
            "DOCUMENT_TABLE": self.document_table,
            # quarantine-policy: the template's quarantine boundary.
            "QUARANTINE_BOUNDARY_ARN": self.quarantine_boundary_arn,
            # publish-outcome, restore-policy and the sweep: the decision record.
            "DECISION_TABLE": self.decision_table,
            "DECISION_RETENTION_DAYS": str(
                self.template["Parameters"]["DecisionRetentionDays"]["Default"]),
            # the sweep: what later sweeps do, and the starter's queue (deploy_trigger makes it).
            "SWEEP_MODE": self.sweep_mode,
            "INCIDENT_QUEUE_URL": f"http://127.0.0.1:{self.moto_port}/{ACCOUNT}/{INCIDENT_QUEUE_NAME}",
            # the starter: only this queue's messages start incidents.
            "INCIDENT_QUEUE_ARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{INCIDENT_QUEUE_NAME}",
            "RUST_LOG": self.rust_log,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **CREDENTIALS,
            # Through the router, which proxies to moto and can answer as AWS does under load
            # or right after a change (Router.inject_aws_fault).
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.router.port}",
        }

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        log = open(self.run_dir / f"{name}.log", "ab")
        self._files.append(log)
        self.procs[name] = proc = processes.spawn(argv, env, cwd, log)
        self.say(f"started {name} (pid {proc.pid}): {' '.join(argv)}")
        return proc

    def __enter__(self):
        atexit.register(self.stop)
        self._old_sigterm = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        signal.signal(signal.SIGTERM, self._old_sigterm)
        return False

    def start(self):
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        base_env["PATH"] = f"{VENV_BIN}:{base_env.get('PATH', '')}"
        base_env.pop("MOTO_PORT", None)
        # 1. the router's and the approval server's sockets are bound already (the kernel
        # chose their ports), moto's and the watches' ports reserved.
        self.say(f"router on 127.0.0.1:{self.router.port}; moto on :{self.moto_port}; "
                 f"approval server on {self.approval_url}; "
                 f"cargo lambda watch on {self.lambda_ports}; logs in {self.run_dir}")
        # 2. cargo lambda watch, one per function, in the function's crate (its CodeUri).
        # Not one at the workspace root: the root is itself a package (the CLI), so there
        # `cargo run --bin analyse-change` fails ("no bin target named `analyse-change` in
        # default-run packages") and cargo lambda watch then never answers the invoke.
        env_file = self.run_dir / "functions.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.function_env().items()))
        cl_env = dict(base_env, **CREDENTIALS, AWS_REGION=REGION, CARGO_TERM_COLOR="never")
        if self.cargo_target_dir:  # e.g. to time a cold debug build
            cl_env["CARGO_TARGET_DIR"] = str(self.cargo_target_dir)
        # The rules file compiled into the deciding functions (crates/deployed-rules): a build
        # input, not the functions' environment, as in AWS.
        if self.rules_file:
            cl_env["IAM_SENTINEL_RULES"] = str(self.rules_file.resolve())
        else:
            cl_env.pop("IAM_SENTINEL_RULES", None)
        watchers = []
        for f in self.functions.values():
            port = self.lambda_ports[f["binary"]]
            argv = [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "-A", "127.0.0.1",
                    "-P", str(port), "--env-file", str(env_file)]
            if not self.reload_on_change:
                argv.append("--ignore-changes")
            if self.lambda_concurrency:
                argv += ["--concurrency", str(self.lambda_concurrency)]
            watchers.append((port, self._spawn(f"watch-{f['binary']}", argv, cl_env,
                                               ROOT / f["code_uri"])))
        # 3. moto, whose ASL interpreter calls "localhost:$MOTO_PORT": the router
        moto_env = dict(base_env, **CREDENTIALS, MOTO_PORT=str(self.router.port),
                        AWS_DEFAULT_REGION=REGION)
        moto = self._spawn("moto", [str(VENV_BIN / "python3"), str(ROOT / "local" / "moto_server.py"),
                                    "-p", str(self.moto_port)], moto_env, ROOT)
        self.router.start()
        self.approval_server.start()
        t0 = time.monotonic()
        processes.wait_for_port(self.moto_port, 60, moto)
        self.timings["moto_start"] = time.monotonic() - t0
        # 4. execution ON, before any state machine exists
        self._moto_config()
        # 5. resources
        self._create_resources()
        for port, proc in watchers:
            processes.wait_for_port(port, 120, proc)
        self.reserved_ports.release()
        self.say("every cargo lambda watch is listening")

    def _moto_config(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=30)
        body = json.dumps({"stepfunctions": {"execute_state_machine": True},
                           "lambda": {"use_docker": False}})
        conn.request("POST", "/moto-api/config", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if not 200 <= resp.status < 300:
            raise RuntimeError(f"moto config: HTTP {resp.status}")
        conn.request("GET", "/moto-api/config")
        cfg = json.loads(conn.getresponse().read())
        conn.close()
        # moto 5.2.5 sets but never echoes the stepfunctions section (get_config returns only
        # batch and lambda), so only the lambda part can be checked here; executions prove the rest.
        if cfg.get("lambda", {}).get("use_docker") is not False:
            raise RuntimeError(f"moto did not take the config: {cfg}")
        self.say("moto: state machine execution on, lambda docker off")

    def _create_resources(self):
        sns, sqs, events = self.client("sns"), self.client("sqs"), self.client("events")
        # Notifications, and the operators' topic (refused calls to the writers alert there),
        # each read back raw (the message body, no SNS envelope).
        self.notifications_queue_url = self._topic_read_back(
            sns, sqs, self.topic_name, self.topic_arn, "local-notifications")
        self.operator_queue_url = self._topic_read_back(
            sns, sqs, self.operator_topic_name, self.operator_topic_arn, "local-operator-alerts")
        # The HMAC keys (the template's ApprovalLinkKey and DecisionKey), under the aliases the
        # functions are configured with.
        kms = self.client("kms")
        for alias in (LINK_KEY_ALIAS, DECISION_KEY_ALIAS):
            key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                                    Description=alias)["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        # The document store and the decision record, as the template's tables.
        dynamodb = self.client("dynamodb")
        for logical_id in (DOCUMENT_TABLE, DECISION_TABLE):
            table = dynamodb_table(self.template, logical_id)
            name = table["create"]["TableName"]
            dynamodb.create_table(**table["create"])
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=table["ttl"])
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": table["pitr"]})
        # The quarantine boundary, as the template's QuarantineBoundaryPolicy.
        boundary = quarantine_boundary(self.template, self.restricted_actions)
        created = self.client("iam").create_policy(PolicyName=boundary["name"],
                                                   PolicyDocument=boundary["document"])
        assert created["Policy"]["Arn"] == self.quarantine_boundary_arn, created["Policy"]["Arn"]
        # Outcome events (source iam-sentinel), on the template's bus; and any with that source
        # on the default bus, where none should be.
        events.create_event_bus(Name=self.event_bus_name)
        self.events_queue_url, _ = eventbridge.rule_to_queue(
            events, sqs, "local-iam-sentinel-outcomes", {"source": ["iam-sentinel"]},
            "local-outcome-events", "outcomes-queue", bus=self.event_bus_name)
        self.default_bus_events_queue_url, _ = eventbridge.rule_to_queue(
            events, sqs, "local-iam-sentinel-on-the-default-bus", {"source": ["iam-sentinel"]},
            "local-default-bus-events", "default-bus-queue")
        self.state_machine_arn = self.create_state_machine(self.main_state_machine_name)
        if self.state_machine_arn != self.main_state_machine_arn:
            raise RuntimeError(f"the state machine is {self.state_machine_arn}, but the "
                               f"approval API was told {self.main_state_machine_arn}")

    @staticmethod
    def _topic_read_back(sns, sqs, name: str, expected_arn: str, queue: str) -> str:
        """Creates the topic `name` and an SQS queue subscribed to it with raw delivery;
        returns the queue's URL."""
        topic_arn = sns.create_topic(Name=name)["TopicArn"]
        assert topic_arn == expected_arn, topic_arn
        queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)
        return queue_url

    def create_state_machine(self, name: str) -> str:
        """A state machine with the template's ASL as deployed (DefinitionSubstitutions filled
        with this stack's parameters); its definition is kept in the run directory."""
        definition = state_machine_definition(
            self.template, {"ApprovalTimeoutHours": self.approval_timeout_hours})
        (self.run_dir / f"{name}.asl.json").write_text(definition)
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, type="STANDARD",
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-role")["stateMachineArn"]
        self.say(f"state machine {arn} (APPROVAL_TIMEOUT={self.approval_timeout})")
        return arn

    def start_incident(self, name: str, event: dict) -> str:
        """Starts the execution `name` with `event` as start-incident does: its start recorded
        first (remediation's DecisionTable::record_start item), since the writers act in no
        other execution. For what bypasses the queue (the tests' chosen names, a burst)."""
        now = int(time.time())
        self.client("dynamodb").put_item(TableName=self.decision_table, Item={
            "pk": {"S": f"start#{name}"}, "digest": {"S": canonical_digest(event)},
            "at": {"N": str(now)}, "expiresAt": {"N": str(now + 24 * 3600)}})
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name,
            input=json.dumps(event))["executionArn"]

    def invoke_direct(self, binary: str, payload: dict, timeout: float) -> tuple[int, bytes]:
        """Invokes a function through the router (not through Step Functions)."""
        status, _, body = self.invoke_direct_full(binary, payload, timeout)
        return status, body

    def invoke_direct_full(self, binary: str, payload: dict,
                           timeout: float) -> tuple[int, dict[str, str], bytes]:
        """invoke_direct, with the Invoke API's response headers (lower-cased names), e.g.
        `x-amz-function-error` for a function error."""
        return lambda_api.invoke(self.router.port, binary, payload, timeout)

    def sweep(self, why: str = "on demand", timeout: float = 300) -> dict:
        """One account sweep, as `aws lambda invoke` runs one (the function's summary); its
        findings go to the starter's queue (deploy_trigger first)."""
        status, headers, body = self.invoke_direct_full("sweep-account", {"sweep": why}, timeout)
        if status != 200 or "x-amz-function-error" in headers:
            raise RuntimeError(f"the sweep failed: {status} {body[:2000]!r}")
        return json.loads(body)

    def start_mailbox(self, on_mail=None) -> Mailbox:
        """Starts the local mailbox and subscribes it (protocol http) to the notification topic,
        where the template subscribes NotificationEmail. Stopped by stop(), after moto."""
        if self.mailbox is None:
            self.mailbox = Mailbox(self.run_dir / "mailbox.log", on_mail)
            self.mailbox.start()  # up before the subscription: see Mailbox
            sub = self.client("sns").subscribe(TopicArn=self.topic_arn, Protocol="http",
                                               Endpoint=f"{self.mailbox.url}/",
                                               ReturnSubscriptionArn=True)["SubscriptionArn"]
            self.say(f"mailbox on {self.mailbox.url}, subscribed to {self.topic_arn} ({sub})")
        return self.mailbox

    def deploy_trigger(self, self_check: bool = True) -> eventbridge.SqsEventSource:
        """The template's trigger rule -> its SQS queue -> the event source mapping -> the
        start-incident function -> StartExecution of this stack's state machine
        (eventbridge.deploy_trigger), once. Stopped by stop()."""
        if self.trigger is None:
            self.trigger, rule, checked = eventbridge.deploy_trigger(
                self.client, self.template, self.state_machine_arn, self.invoke_direct_full,
                self.run_dir, self_check)
            self.trigger_rule_name, self.trigger_pattern = rule["name"], rule["pattern"]
            self.say(f"rule {rule['name']} (template pattern; {checked}) -> SQS "
                     f"{rule['queue_arn']} -> event source mapping -> {rule['function']} -> "
                     f"StartExecution {self.state_machine_arn}")
        return self.trigger

    def put_cloudtrail_event(self, detail: dict, event_time: float | None = None,
                             deliveries: int = 1) -> str:
        """CloudTrail's event for an IAM call, on the default bus (eventbridge.put_cloudtrail_event).
        With deliveries=n (the trigger deployed), the rule's delivery reaches the queue n times
        at once, the same body each time, as EventBridge's at-least-once delivery may: the
        starter gets them together."""
        if deliveries == 1:
            return eventbridge.put_cloudtrail_event(self.client("events"), detail, event_time)
        if self.trigger is None or deliveries < 1:
            raise ValueError(f"deliveries={deliveries} needs the trigger deployed and n >= 1")
        with self.trigger.held():
            event_id = eventbridge.put_cloudtrail_event(self.client("events"), detail, event_time)
            body = self.trigger.take_delivery(event_id)
            for _ in range(deliveries):
                self.trigger.deliver(body)
        return event_id

    def deliver_again(self, event_id: str) -> str:
        """One more delivery of an event the rule delivered already (EventBridge retrying, say,
        after a lost acknowledgement): the same body on the starter's queue. Its message id."""
        return self.trigger.deliver(self.trigger.body_of(event_id))

    def warm_up(self, first_timeout: float = 900, each_timeout: float = 300,
                on_ready=None) -> dict[str, float]:
        """Invokes every function once with `{}` (each answers an error without touching AWS),
        so cargo lambda watch builds and starts them before any Task's 60 s deadline runs.
        Returns the seconds each took; the first includes the debug build. on_ready(binary,
        seconds), if given, is called as each function answers."""
        times = {}
        for i, f in enumerate(self.functions.values()):
            t0 = time.monotonic()
            self.say(f"warming up {f['binary']} (first invoke; may build)...")
            status, body = self._invoke_watching_start_up(
                f["binary"], first_timeout if i == 0 else each_timeout)
            times[f["binary"]] = time.monotonic() - t0
            text = body.decode("utf-8", "replace")
            if status != 200 or "LocalRouter.CargoLambdaError" in text:
                raise RuntimeError(f"warm-up of {f['binary']} failed: {status} {text[:2000]}")
            if f["binary"] == self.approval_server.binary:
                # It answers every event with a page: `{}` is a 400 page, a normal answer.
                try:
                    ApprovalServer.http_answer(body)
                except ValueError as e:
                    raise RuntimeError(f"warm-up of {f['binary']}: not an HTTP API answer ({e}): "
                                       f"{text[:2000]}") from None
            self.say(f"  {f['binary']} answered in {times[f['binary']]:.1f} s: {text[:160]}")
            if on_ready is not None:
                on_ready(f["binary"], times[f["binary"]])
        self.timings["warm_up"] = sum(times.values())
        return times

    def _invoke_watching_start_up(self, binary: str, timeout: float) -> tuple[int, bytes]:
        """invoke_direct, but fails at once if the function dies at start-up (its `main` returns
        an error, e.g. a missing APPROVAL_URL, or the build fails): cargo lambda watch then
        leaves the invocation hanging until the timeout."""
        log = self.run_dir / f"watch-{binary}.log"
        offset = log.stat().st_size if log.exists() else 0
        result: dict = {}

        def call():
            try:
                result["answer"] = self.invoke_direct(binary, {}, timeout)
            except BaseException as e:  # noqa: BLE001 (handed to the caller)
                result["error"] = e

        caller = threading.Thread(target=call, name=f"warm-up-{binary}", daemon=True)
        caller.start()
        while caller.is_alive():
            caller.join(0.5)
            with open(log, "rb") as fh:
                fh.seek(offset)
                new = fh.read().decode("utf-8", "replace")
            died = re.search(r"^(Error: .*|error(\[E\d+\])?: .*)$", new, re.M)
            if caller.is_alive() and died and "command exited" in new[died.end():]:
                raise RuntimeError(f"{binary} failed at start-up: {died.group(0)[:2000]} "
                                   f"(see {log})")
        if "error" in result:
            raise result["error"]
        return result["answer"]

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        # The trigger first (it starts executions), then the approval server (it invokes
        # through the router), the processes, the router; the mailbox last, after moto, so no
        # Publish finds it gone.
        for what in (self.trigger, self.approval_server):
            if what is not None:
                _quietly(what.stop)
        for name, proc in list(self.procs.items()):
            left = processes.stop_process_tree(proc)
            self.say(f"stopped {name}" + (f" (STILL ALIVE: {left})" if left else ""))
        for what in (self.router, self.mailbox):
            if what is not None:
                _quietly(what.stop)
        self.reserved_ports.release()
        for f in self._files:
            f.close()
        _quietly(lambda: atexit.unregister(self.stop))


def _quietly(stop):
    try:
        stop()
    except Exception:  # noqa: BLE001 (stopping goes on whatever one part does)
        pass


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def canonical_digest(document) -> str:
    """incident::decision_log::canonical_digest: SHA-256 of the JSON (a text, percent-encoded
    or not, or a value) with sorted keys and no white space."""
    value = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
