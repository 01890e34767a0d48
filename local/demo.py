"""make demo: one whole incident on this machine, as it happens in AWS.

    .venv/bin/python local/demo.py                      # you decide, in a browser
    .venv/bin/python local/demo.py --decision approve   # or deny, or timeout: nobody needed
    make demo [DECISION=approve|deny|timeout]

What runs (local/harness/): moto executing the real statemachine/remediation.asl.json, the seven
real Rust functions under `cargo lambda watch`, the approval server (API Gateway's part), the
EventBridge rule with template.yaml's own EventPattern delivering to the starter's SQS queue
(Lambda's event source mapping emulated), and a mailbox subscribed to the notification topic. Someone creates the walkthrough's bad policy through the IAM API; the CloudTrail-shaped
event goes onto the bus; the rule matches; the workflow quarantines, emails, asks, and acts on
the decision. The stack's own logs go to local/.runs/<run>/.

Exit status: 0 when the outcome is the one DECISION implies (approve: restored, v1 the default
again; deny: kept, v2; timeout: timed out, v2; none: whatever was decided, consistently), 1
otherwise, 130 on Ctrl-C. Every process started is stopped, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import re
import signal
import sys
import textwrap
import time
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness.processes import BackgroundThread  # noqa: E402

ROOT = harness.ROOT
FIXTURE = ROOT / "tests" / "fixtures" / "events" / "create-policy.json"
# The README's Deploy walkthrough: the bad policy, as a person creates it.
POLICY_NAME = "my-bad-policy-aws-5-mins"
POLICY_DOCUMENT = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "VisualEditor0",
        "Effect": "Allow",
        "Action": ["s3:GetBucketObjectLockConfiguration", "s3:DeleteObjectVersion",
                   "s3:DeleteBucket"],
        "Resource": "*",
    }],
}, indent=4)
# DECISION=timeout: the functions' APPROVAL_TIMEOUT, in seconds (in AWS: ApprovalTimeoutHours,
# whole hours, 1 at least).
TIMEOUT_SECONDS = 20
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) iam-sentinel-make-demo/1.0"
LINK = re.compile(r"Review and decide: (\S+)")
# What each decision must lead to: the final email's headline, the policy's default version.
EXPECTED = {
    "approve": ("Approved and restored", "v1"),
    "deny": ("Denied: quarantine kept", "v2"),
    "timeout": ("No decision in time: quarantine kept", "v2"),
}
FINAL_HEADLINES = {h for h, _ in EXPECTED.values()} | {
    "Approved, but not restored", "FAILED: needs a person", "Policy change checked: clean",
    "Policy changed again: nothing to quarantine"}
TERMINAL = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


def out(line: str = ""):
    print(line, flush=True)


def step(n: int, text: str):
    out(f"\n{n}. {text}")


def wrap(text: str, indent: str = "   ") -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


# ------------------------------------------------------------------ the CloudTrail record

def cloudtrail_create_policy(policy: dict, document: str, when: datetime.datetime) -> dict:
    """The CloudTrail record of this CreatePolicy as CloudTrail writes it: the fixture's record
    (alice, her IP and CLI) with fresh eventID and requestID, this call's time, and the policy
    IAM really created (name, id, ARN, dates, the document as sent)."""
    detail = copy.deepcopy(json.loads(FIXTURE.read_text())["detail"])
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    # CloudTrail's own format for these two: "Nov 21, 2026 9:30:00 AM".
    cloudtrail_date = (f"{when.strftime('%b')} {when.day}, {when.year} "
                       f"{(when.hour % 12) or 12}:{when.strftime('%M:%S')} "
                       f"{'AM' if when.hour < 12 else 'PM'}")
    detail.update(eventID=str(uuid.uuid4()), requestID=str(uuid.uuid4()), eventTime=stamp)
    detail["requestParameters"] = {"policyName": policy["PolicyName"], "policyDocument": document}
    detail["responseElements"] = {"policy": {
        "policyName": policy["PolicyName"],
        "policyId": policy["PolicyId"],
        "arn": policy["Arn"],
        "path": policy.get("Path", "/"),
        "defaultVersionId": policy.get("DefaultVersionId", "v1"),
        "attachmentCount": policy.get("AttachmentCount", 0),
        "permissionsBoundaryUsageCount": policy.get("PermissionsBoundaryUsageCount", 0),
        "isAttachable": policy.get("IsAttachable", True),
        "createDate": cloudtrail_date,
        "updateDate": cloudtrail_date,
    }}
    return detail


# ------------------------------------------------------------------ the approval page

def http_request(method: str, url: str, form: list[tuple[str, str]] | None = None):
    """One request as the demo's browser makes it: (status, body text)."""
    status, _, text = harness.browser_request(method, url, form, user_agent=USER_AGENT)
    return status, text


def decide_on_page(link: str, decision: str, comment: str) -> tuple[int, str]:
    """What a person does: opens the link, reads the page, types a comment, presses the button.
    Returns the answer's (status, h1)."""
    status, page = http_request("GET", link)
    form = page_form(link, status, page)
    try:
        fields = harness.form_fields(form, decision, comment)
    except ValueError:
        raise RuntimeError(f"the page has no {decision!r} button") from None
    status, answer = http_request("POST", urllib.parse.urljoin(link, form["action"] or ""), fields)
    return status, harness.PageParser(answer).h1.strip()


def page_form(link: str, status: int, page: str) -> dict:
    """The one decision form of the page the link opened; RuntimeError if there is none."""
    forms = harness.PageParser(page).post_forms() if status == 200 else []
    if len(forms) != 1:
        raise RuntimeError(f"{link.split('?')[0]} did not open a page with one decision form "
                           f"(HTTP {status})")
    return forms[0]


# ------------------------------------------------------------------ the execution, state by state

def history(sfn, arn: str) -> list[dict]:
    events, token = [], None
    for _ in range(50):  # bounded pagination
        kw = {"executionArn": arn, "maxResults": 1000, **({"nextToken": token} if token else {})}
        page = sfn.get_execution_history(**kw)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    return events


def utc(ts: datetime.datetime) -> str:
    return ts.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _findings_line(incident: dict) -> str:
    parts = []
    for f in incident.get("findings") or []:
        actions = ", ".join(sorted({h.get("restricted", "?") for h in f.get("hits") or []}))
        sid = f" ({f['sid']})" if f.get("sid") else ""
        parts.append(f"{actions} granted by statement {f.get('statement')}{sid}")
    return "; ".join(parts) or "no finding"


class Progress:
    """Reads the execution history and prints each state once, with what it meant: Choice
    and Publish states when entered, Task states that compute something when they exit
    (their result is the meaning), RequestApproval when it starts waiting."""

    ON_EXIT = {"Analyse", "Quarantine", "Restore"}

    def __init__(self, sfn, arn: str):
        self.sfn, self.arn = sfn, arn
        self.printed: set[int] = set()    # ids of stateEntered events already printed
        self.pending: dict | None = None  # an ON_EXIT state entered, not printed yet
        self.entered: list[str] = []
        self.approval_deadline: datetime.datetime | None = None
        self.end: dict | None = None
        self._lines: list[tuple[datetime.datetime, str]] = []

    def poll(self) -> list[tuple[datetime.datetime, str]]:
        """The new lines, with the time of the event each comes from."""
        for e in history(self.sfn, self.arn):
            if e["id"] in self.printed:
                continue
            if "stateEnteredEventDetails" in e:
                self.printed.add(e["id"])
                d = e["stateEnteredEventDetails"]
                if self.pending is not None:  # it never exited: an error was caught
                    self._line(e, self.pending["name"], "failed (caught: see the next state)")
                    self.pending = None
                self.entered.append(d["name"])
                state = json.loads(d.get("input") or "{}")
                if d["name"] in self.ON_EXIT:
                    self.pending = {"name": d["name"], "id": e["id"]}
                else:
                    self._line(e, d["name"], self.on_entry(d["name"], state, e["timestamp"]))
            elif "stateExitedEventDetails" in e and self.pending is not None:
                d = e["stateExitedEventDetails"]
                if d["name"] == self.pending["name"]:
                    self.printed.add(e["id"])
                    self._line(e, d["name"], self.on_exit(d["name"], json.loads(d.get("output") or "{}")))
                    self.pending = None
            elif e["type"] in TERMINAL:
                self.printed.add(e["id"])
                if self.pending is not None:
                    self._line(e, self.pending["name"], "failed")
                    self.pending = None
                self.end = e
        lines, self._lines = self._lines, []
        return lines

    def _line(self, event: dict, name: str, meaning: str):
        self._lines.append((event["timestamp"], f"   {name}: {meaning}"))

    def on_entry(self, name: str, state: dict, ts: datetime.datetime) -> str:
        incident = state.get("incident") or {}
        if name == "CheckVerdict":
            return f"verdict {incident.get('verdict')}"
        if name == "CheckNotifyClean":
            return "clean: notify?" if incident.get("notify") else "clean: nothing to report"
        if name == "CheckQuarantine":
            return f"quarantine {(state.get('quarantine') or {}).get('status')}"
        if name == "PublishQuarantined":
            return "emails the administrators and puts the outcome on the event bus"
        if name == "RequestApproval":
            seconds = state.get("approvalTimeoutSeconds")
            if isinstance(seconds, (int, float)):
                self.approval_deadline = ts + datetime.timedelta(seconds=seconds)
                return (f"emails the approval link; waiting for a decision until "
                        f"{utc(self.approval_deadline)} ({_duration(seconds)})")
            return "emails the approval link; waiting for a decision"
        if name == "CheckDecision":
            return f"decision {(state.get('approval') or {}).get('decision')}"
        if name == "CheckRestore":
            return f"restore {(state.get('restore') or {}).get('status')}"
        if name == "PublishTimedOut":
            return "nobody decided in time: the quarantine stays; emails the outcome"
        if name.startswith("Publish"):
            return "emails the outcome and puts it on the event bus"
        if name == "Done":
            return "the incident is closed"
        if name == "Failed":
            return "the execution fails (a failure notification went out)"
        return "entered"

    @staticmethod
    def on_exit(name: str, state: dict) -> str:
        if name == "Analyse":
            incident = state.get("incident") or {}
            if incident.get("verdict") == "restricted":
                return _findings_line(incident)
            return f"verdict {incident.get('verdict')}"
        if name == "Quarantine":
            q = state.get("quarantine") or {}
            action = q.get("action") or {}
            if action.get("kind") == "newDefaultVersion":
                return (f"new default version {action.get('quarantineVersionId')} without it; "
                        f"{action.get('offendingVersionId')} kept, not default")
            return f"{q.get('status')} ({action.get('kind') or q.get('reason')})"
        if name == "Restore":
            r = state.get("restore") or {}
            return f"{r.get('status')}: {r.get('detail')}"
        return "done"


def mail_time(mail: dict) -> datetime.datetime:
    """The SNS Timestamp (2026-11-21T12:56:28.311Z), comparable with the history's times."""
    try:
        return datetime.datetime.fromisoformat(mail["timestamp"].replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return datetime.datetime.now(datetime.timezone.utc)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s, local APPROVAL_TIMEOUT" if seconds < 3600 else f"{seconds} s"


class BuildTicker(BackgroundThread):
    """While the first build runs: a line every 30 s with the crates compiled so far (from
    cargo's own lines in the watchers' logs)."""

    def __init__(self, run_dir: Path, t0: float, every: float = 30):
        self.run_dir, self.t0, self.every = run_dir, t0, every
        super().__init__("build-ticker")

    def compiled(self) -> int:
        n = 0
        for log in self.run_dir.glob("watch-*.log"):
            try:
                n += sum(1 for line in log.read_text(errors="replace").splitlines()
                         if line.lstrip().startswith("Compiling "))
            except OSError:
                pass
        return n

    def run(self):
        while not self.stopping.wait(self.every):
            out(f"   … still building: {self.compiled()} crates compiled so far "
                f"({time.monotonic() - self.t0:.0f} s)")


# ------------------------------------------------------------------ after the run

def leftovers(stack: harness.LocalStack) -> list[str]:
    """Processes of this run still alive: anything below this process, and any process whose
    command line names one of this run's ports (moto_server -p, cargo lambda watch -P) or whose
    environment points at this run's moto (the function binaries)."""
    ports = {str(stack.moto_port), *map(str, stack.lambda_ports.values())}
    endpoint = f"AWS_ENDPOINT_URL=http://127.0.0.1:{stack.moto_port}".encode()
    found = [f"{pid} (child of the demo)" for pid in harness.descendants(os.getpid())
             if harness.alive(pid)]
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        args = [a.decode("utf-8", "replace") for a in argv if a]
        named = any(a in ports for i, a in enumerate(args) if i and args[i - 1] in ("-p", "-P"))
        if (named or endpoint in environ.split(b"\0")) and harness.alive(int(entry)):
            found.append(f"{entry} {' '.join(args)[:120]}")
    return found


def said_left_running(stack: harness.LocalStack, out, indent: str = "  ") -> bool:
    """After stack.stop(): says which processes of this run are still alive, or that none is;
    True when some are (the run then fails)."""
    left = leftovers(stack)
    if left:
        out(f"{indent}STILL RUNNING: " + "; ".join(left))
    else:
        out(f"{indent}Stopped: no moto_server, cargo-lambda or function process of this run is "
            "left.")
    return bool(left)


def policy_state(iam, arn: str) -> tuple[str, list[str], dict]:
    """(default version, every version id, the default version's document)."""
    default = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    versions = sorted(v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"])
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
    if isinstance(doc, str):  # moto: raw JSON here; AWS: percent-encoded
        doc = json.loads(doc if doc.lstrip().startswith("{") else urllib.parse.unquote(doc))
    return default, versions, doc


# ------------------------------------------------------------------ the demo

def run(stack: harness.LocalStack, decision: str | None, build_timeout: float) -> int:
    started = time.monotonic()
    # 1. the stack is up (moto, router, approval server, cargo lambda watch); now the functions
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "debug"
    missing = [f["binary"] for f in stack.functions.values() if not (target / f["binary"]).exists()]
    t0 = time.monotonic()
    if missing:
        out(f"   First run: cargo lambda watch builds the {len(stack.functions)} functions' debug "
            "binaries; this takes minutes (3 on this 2-core machine)…")
        ticker = BuildTicker(stack.run_dir, t0)
        ticker.start()
        try:
            stack.warm_up(first_timeout=build_timeout, on_ready=lambda binary, secs: out(
                f"   {binary} ready after {time.monotonic() - t0:.0f} s"))
        finally:
            ticker.stop()
    else:
        out(f"   Starting the {len(stack.functions)} functions "
            "(cargo lambda watch rebuilds one only if its code changed)…")
        stack.warm_up(first_timeout=build_timeout)
    out(f"   Ready: {len(stack.functions)} functions answered, in {time.monotonic() - t0:.0f} s.")
    mailbox = stack.start_mailbox()
    out(f"   Mailbox: {mailbox.url}, subscribed (http) to the {stack.topic_name} topic.")

    # 2. what the template deploys
    step(2, "Deployed from the template:")
    out(f"   state machine {stack.main_state_machine_name}: statemachine/remediation.asl.json, "
        "DefinitionSubstitutions filled in")
    if stack.approval_timeout_seconds is not None:
        out(f"   (locally the functions' APPROVAL_TIMEOUT is {stack.approval_timeout}; "
            "in AWS ${ApprovalTimeoutHours}h)")
    trigger = stack.deploy_trigger()
    out(f"   EventBridge rule {stack.trigger_rule_name}: template.yaml's EventPattern "
        "-> SQS -> start-incident -> StartExecution")
    out("   (checked on moto: a user's CreatePolicy matches; a failed call and the policy "
        "writer's own change do not)")

    # 3. the bad policy, and CloudTrail's event
    step(3, f"Someone creates the walkthrough's bad policy (RESTRICTED_ACTIONS={stack.restricted_actions}):")
    iam = stack.client("iam")
    policy = iam.create_policy(PolicyName=POLICY_NAME, PolicyDocument=POLICY_DOCUMENT)["Policy"]
    created = policy["CreateDate"]
    out(f"   IAM CreatePolicy {POLICY_NAME}: Allow s3:GetBucketObjectLockConfiguration, "
        "s3:DeleteObjectVersion, s3:DeleteBucket on * (Sid VisualEditor0)")
    detail = cloudtrail_create_policy(policy, POLICY_DOCUMENT, created)
    event_id = stack.put_cloudtrail_event(detail, event_time=created.timestamp())
    out(f"   CloudTrail -> EventBridge: CreatePolicy by {detail['userIdentity']['arn']} "
        f"(event {event_id})")

    # 4. the rule starts the workflow
    _, arn, _ = harness.wait_until(
        "the rule to start an execution",
        lambda: next((x for x in trigger.executions() if x[2] == event_id), None), 30, 0.2)
    step(4, f"The rule matched; execution {arn.rsplit(':', 1)[1]} started:")
    sfn = stack.client("stepfunctions")
    progress = Progress(sfn, arn)
    seen_mail = 0
    link = None
    decided = False
    final_mail = None
    end_seen = None  # when the execution's end was first seen
    while True:
        # State lines and emails, in the order they happened.
        lines = progress.poll()
        for mail in mailbox.mails[seen_mail:]:
            seen_mail += 1
            if f"\nExecution: {arn}" not in "\n" + mail["message"]:
                continue
            lines.append((mail_time(mail), harness.format_mail(mail, indent="     ")))
            m = LINK.search(mail["message"])
            if m and link is None:
                link = m.group(1)
            if mail["message"].split("\n", 1)[0] in FINAL_HEADLINES:
                final_mail = mail
        for _, line in sorted(lines, key=lambda x: x[0]):
            out(line)
        if link and not decided and progress.approval_deadline is not None:
            decided = True
            out(f"\n   Approval link: {link}")
            if decision in ("approve", "deny"):
                out(f"   DECISION={decision}: opening it and pressing "
                    f"{decision.capitalize()} on the page, as a browser would…")
                status, h1 = decide_on_page(link, decision, f"make demo DECISION={decision}")
                out(f"   The page answered HTTP {status}: {h1}")
                if status != 200:
                    raise RuntimeError(f"the approval page answered {status} {h1!r}")
            elif decision == "timeout":
                out(f"   DECISION=timeout: nobody decides; the deadline is "
                    f"{utc(progress.approval_deadline)}.")
            else:
                out("   Open this link in a browser and press Approve or Deny (Ctrl-C to stop).")
            out("")
        if progress.end is not None:
            end_seen = end_seen or time.monotonic()
            if final_mail is not None or time.monotonic() - end_seen > 30:
                break  # without the final email after 30 s: reported below
        time.sleep(0.3)

    # 5. the outcome
    status = progress.end["type"].removeprefix("Execution").upper()
    headline = final_mail["message"].split("\n", 1)[0] if final_mail else "(no outcome email)"
    default, versions, doc = policy_state(iam, policy["Arn"])
    step(5, f"Outcome: {headline}")
    out(f"   execution {status}; states: {' -> '.join(progress.entered)}")
    out(f"   policy {POLICY_NAME}: default version {default}; versions "
        f"{', '.join(v + (' (default)' if v == default else '') for v in versions)}")
    out(f"   default version's document ({default}):")
    out(textwrap.indent(json.dumps(doc, indent=2), "     "))
    want = EXPECTED.get(decision or "")
    if want is None:  # a person decided: the outcome must agree with the policy
        want = {"Approved and restored": EXPECTED["approve"],
                "Denied: quarantine kept": EXPECTED["deny"],
                "No decision in time: quarantine kept": EXPECTED["timeout"]}.get(headline)
    ok = (want is not None and status == "SUCCEEDED" and headline == want[0]
          and default == want[1] and (default != "v1" or versions == ["v1"]))
    label = f"DECISION={decision}" if decision else "the decision taken"
    if ok:
        out(f"   As expected for {label}: \"{want[0]}\", {want[1]} is the default"
            + (" again, v2 deleted." if want[1] == "v1" else ", v1 kept to restore by hand."))
    else:
        out(f"   NOT as expected for {label}: wanted "
            f"{want if want else 'a restored, kept or timed-out outcome'}, got {status}, "
            f"\"{headline}\", default {default}, versions {versions}. Logs: {stack.run_dir}")
    out(f"   ({time.monotonic() - started:.0f} s from the warm-up to the outcome)")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decision", choices=["approve", "deny", "timeout"],
                    help="decide without a person (default: you decide in a browser)")
    ap.add_argument("--build-timeout", type=float, default=1800,
                    help="seconds for the first invoke, which may build (default 1800)")
    args = ap.parse_args()

    def interrupt(signum, frame):
        # The first Ctrl-C stops the demo; more must not interrupt the clean-up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, interrupt)

    wall = time.monotonic()
    out(f"iam-sentinel demo: one incident, start to finish, on this machine"
        f"{f' (DECISION={args.decision})' if args.decision else ''}")
    step(1, "Starting the local stack (moto, the router, cargo lambda watch for each function, "
            "the approval server, the mailbox)…")
    code, stack = 1, None
    try:
        try:
            stack = harness.LocalStack(
                quiet=True,
                approval_timeout_seconds=TIMEOUT_SECONDS if args.decision == "timeout" else None)
            out(f"   Logs: {stack.run_dir.relative_to(ROOT)}/")
            with stack:
                code = run(stack, args.decision, args.build_timeout)
                out("\nStopping everything…")
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        except KeyboardInterrupt:
            out("\nInterrupted: stopping everything…")
            code = 130
        except Exception as e:  # noqa: BLE001 (said plainly; details in the run directory)
            out(f"\nFAILED: {type(e).__name__}: {e}"
                + (f"\n   Logs: {stack.run_dir}" if stack else ""))
            code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if stack is not None:
            stack.stop()
    if stack is None:
        return code
    if said_left_running(stack, out, "   "):
        code = code or 1
    out(f"   Total: {time.monotonic() - wall:.0f} s.")
    return code


if __name__ == "__main__":
    sys.exit(main())
