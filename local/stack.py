"""A local iam-sentinel stack: moto (server mode, executing the real ASL), the real Rust Lambda
handlers under `cargo lambda watch`, and a router that makes them look like the Lambda Invoke API.

    with LocalStack(approval_timeout_hours=24) as stack:
        stack.warm_up()                      # builds and starts every function once
        sfn = stack.client("stepfunctions")
        sfn.start_execution(stateMachineArn=stack.state_machine_arn, name="x", input=...)

How the pieces talk (see ../shared/LOCAL-AWS.md):

    boto3 (tests) ──────────────────────────────> moto  :moto_port
    moto's ASL interpreter ──> router :router_port ─┬─> cargo lambda watch, one per function
       (MOTO_PORT=router_port)                      │     (/2015-03-31/functions/{name}/invocations)
                                                    └─> moto (everything else)
    Rust handlers (AWS_ENDPOINT_URL) ───────────> moto  :moto_port
    a browser / test ──> approval server :approval_port ──> router ──> approval-api
       (GET/POST /approvals/<id>, as API Gateway's HTTP API would; APPROVAL_URL)

Everything listens on 127.0.0.1 on ports chosen at run time. Everything started here is stopped
on exit (context manager), also on Ctrl-C, SIGTERM and exceptions; the direct children also get
SIGTERM if this process dies (PR_SET_PDEATHSIG).

Only stdlib, boto3 and PyYAML (a moto dependency, already in the venv) are used.
"""

from __future__ import annotations

import atexit
import base64
import html.parser
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
ASL_PATH = ROOT / "statemachine" / "remediation.asl.json"
TEMPLATE_PATH = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "iam-sentinel"
SENTINEL_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/iam-sentinel-policy-writer"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

# Headers that belong to one hop and must not be forwarded.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "content-length",
}

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago (the kernel picks them;
    each socket stays bound until all are chosen, so no port is handed out twice)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(what: str, predicate, timeout: float, interval: float = 0.5):
    """Polls predicate() until it returns something truthy, and returns that; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


# ------------------------------------------------------------------ template: names and substitutions

class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...) as {"Fn": value}."""


def _cfn_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {tag_suffix: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def read_template() -> dict:
    return yaml.load(TEMPLATE_PATH.read_text(), Loader=_CfnLoader)


def function_names(template: dict, stack_name: str = STACK_NAME) -> dict[str, dict]:
    """Logical id -> {"name": deployed function name, "binary": cargo binary} for every
    AWS::Serverless::Function, as the template defines them."""
    out = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        name = resource["Properties"].get("FunctionName", binary)
        if isinstance(name, dict) and "Sub" in name:
            name = name["Sub"].replace("${AWS::StackName}", stack_name)
        out[logical_id] = {"name": name, "binary": binary,
                           "code_uri": resource["Properties"]["CodeUri"]}
    return out


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def definition_substitutions(template: dict, parameters: dict[str, str],
                             stack_name: str = STACK_NAME) -> dict[str, str]:
    """The state machine's DefinitionSubstitutions, resolved the way CloudFormation would:
    !GetAtt <Function>.Arn -> the function's ARN, !Ref <Parameter> -> the given value (or the
    parameter's default)."""
    functions = function_names(template, stack_name)
    machine = next(r for r in template["Resources"].values()
                   if r.get("Type") == "AWS::Serverless::StateMachine")
    subs = {}
    for key, value in machine["Properties"]["DefinitionSubstitutions"].items():
        if isinstance(value, dict) and "GetAtt" in value:
            target = value["GetAtt"]
            logical_id, attribute = target.split(".", 1) if isinstance(target, str) else target
            if attribute != "Arn" or logical_id not in functions:
                raise ValueError(f"unsupported substitution {key}: {value}")
            subs[key] = function_arn(functions[logical_id]["name"])
        elif isinstance(value, dict) and "Ref" in value:
            param = value["Ref"]
            if param in parameters:
                subs[key] = str(parameters[param])
            else:
                subs[key] = str(template["Parameters"][param]["Default"])
        else:
            subs[key] = str(value)
    return subs


def substitute(definition: str, subs: dict[str, str]) -> str:
    """Fills ${Name} placeholders (moto has no DefinitionSubstitutions); every placeholder must
    be known, as CloudFormation requires."""
    missing = sorted(set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", definition)) - set(subs))
    if missing:
        raise ValueError(f"placeholders without a substitution: {missing}")
    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: subs[m.group(1)], definition)


def with_approval_timeout_seconds(definition: str, seconds: int) -> str:
    """LOCAL-ONLY OVERRIDE, never in AWS: the approval deadline as a literal number of seconds.

    In AWS the deadline is ApprovalTimeoutHours x 3600 (whole hours, at least 1): the Analyse
    state's ResultSelector computes `approvalTimeoutSeconds` from the substituted hours, and
    RequestApproval waits that long (TimeoutSecondsPath) and passes it to request-approval (the
    email's deadline). To see a timeout locally without waiting an hour, this replaces that one
    expression, `"approvalTimeoutSeconds.$": "States.MathAdd(...)"`, with
    `"approvalTimeoutSeconds": <seconds>`, on the parsed definition (every other state, path
    and field is left as the template's ASL has it)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError(f"approval timeout: a positive whole number of seconds, not {seconds!r}")
    asl = json.loads(definition)
    selector = asl["States"]["Analyse"]["ResultSelector"]
    if "approvalTimeoutSeconds.$" not in selector:
        raise ValueError("the Analyse state's ResultSelector has no approvalTimeoutSeconds.$ "
                         "expression to override: has the ASL changed?")
    del selector["approvalTimeoutSeconds.$"]
    selector["approvalTimeoutSeconds"] = seconds
    return json.dumps(asl, indent=2)


# The rule that starts the workflow in AWS, and the pseudo parameters CloudFormation would give.
TRIGGER_RULE = "IamPolicyChangeRule"
PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION,
                     "AWS::URLSuffix": "amazonaws.com"}
# Short-form tags as _CfnLoader reads them: {"Sub": ...}, {"Ref": ...}, ...
_INTRINSICS = {"Sub", "Ref", "GetAtt", "If", "Join", "Select", "Split", "Equals", "Not", "And",
               "Or", "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition",
               "Transform"}


def resource_ref(template: dict, logical_id: str, stack_name: str = STACK_NAME) -> str:
    """What `!Ref <logical id>` (or `${<logical id>}` in a !Sub) gives, for the resources whose
    Ref is a name the template sets: an IAM role's RoleName. Anything else is refused rather
    than guessed."""
    resource = template["Resources"].get(logical_id)
    if resource is None:
        raise ValueError(f"no resource {logical_id} in template.yaml")
    if resource.get("Type") == "AWS::IAM::Role" and "RoleName" in resource["Properties"]:
        return resolve_intrinsics(template, resource["Properties"]["RoleName"], stack_name)
    raise ValueError(f"cannot resolve a Ref to {logical_id} ({resource.get('Type')}) locally")


def resolve_sub(template: dict, text: str, stack_name: str = STACK_NAME) -> str:
    """`!Sub` with a string: ${AWS::...} pseudo parameters, ${AWS::StackName}, and
    ${<logical id>} (resource_ref). An unknown placeholder is an error."""
    def one(m):
        name = m.group(1)
        if name == "AWS::StackName":
            return stack_name
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if "." in name:
            raise ValueError(f"!Sub ${{{name}}}: attributes are not resolved locally")
        return resource_ref(template, name, stack_name)
    return re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", one, text)


def resolve_intrinsics(template: dict, node, stack_name: str = STACK_NAME):
    """A template value with its `!Sub` strings resolved (resolve_sub); any other intrinsic
    function is refused, so nothing is silently left as {"Ref": ...}."""
    if isinstance(node, dict):
        if len(node) == 1 and next(iter(node)) in _INTRINSICS:
            fn, arg = next(iter(node.items()))
            if fn == "Sub" and isinstance(arg, str):
                return resolve_sub(template, arg, stack_name)
            raise ValueError(f"unsupported intrinsic !{fn} {arg!r}")
        return {k: resolve_intrinsics(template, v, stack_name) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_intrinsics(template, v, stack_name) for v in node]
    return node


def trigger_rule(template: dict, stack_name: str = STACK_NAME) -> dict:
    """The template's IamPolicyChangeRule as deployed: {"name", "event_bus", "pattern"}, the
    EventPattern exactly as written in template.yaml with its !Sub placeholders resolved
    (partition aws, account 123456789012, ${PolicyWriterRole} = "<stack>-policy-writer")."""
    props = template["Resources"][TRIGGER_RULE]["Properties"]
    return {"name": resolve_intrinsics(template, props["Name"], stack_name),
            "event_bus": props.get("EventBusName", "default"),
            "pattern": resolve_intrinsics(template, props["EventPattern"], stack_name)}


# ------------------------------------------------------------------ talking to a page

def browser_request(method: str, url: str, form: list[tuple[str, str]] | None = None, *,
                    user_agent: str, timeout: float = 120) -> tuple[int, dict[str, str], str]:
    """One request as a browser makes it (a form as application/x-www-form-urlencoded, with
    its Origin): (status, headers with lower-case names, repeated ones joined, body text)."""
    split = urllib.parse.urlsplit(url)
    headers = {"User-Agent": user_agent, "Accept": "text/html"}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"{split.scheme}://{split.netloc}"
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=timeout)
    try:
        conn.request(method, split.path + (f"?{split.query}" if split.query else ""),
                     body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        got: dict[str, str] = {}
        for k, v in resp.getheaders():
            got[k.lower()] = f"{got[k.lower()]}, {v}" if k.lower() in got else v
        return resp.status, got, text
    finally:
        conn.close()


# ------------------------------------------------------------------ reading a page

class PageParser(html.parser.HTMLParser):
    """The title, h1 and forms (inputs, textareas, buttons) of an approval API page: what the
    demo, the e2e run and the bench read, as a browser would."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.forms: list[dict] = []
        self._form = None
        self._in = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"method": (a.get("method") or "get").lower(), "action": a.get("action"),
                          "inputs": [], "textareas": [], "buttons": []}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "button"):
            self._form[tag + "s"].append(a)
        if tag in ("title", "h1"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


# ------------------------------------------------------------------ loopback servers

class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1, on a port the kernel chose: bound at once, so the
    port can go into the functions' configuration before the server starts. With a log file
    that any handler thread may write to."""

    def __init__(self, name: str, handler: type, log_path: Path):
        self._log = open(log_path, "a", buffering=1)
        self._log_lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
        with self._log_lock:
            self._log.close()

    def log(self, line: str):
        with self._log_lock:
            if not self._log.closed:
                self._log.write(f"{time.strftime('%H:%M:%S')} {line}\n")


# ------------------------------------------------------------------ the router

class Router(LoopbackServer):
    """Serves the Lambda Invoke API (forwarded to cargo lambda watch) and proxies everything else
    to moto. Every invocation is recorded in `invocations`.

    Fault injection (tests): `inject_errors(binary, n, error_type, message)` makes the next n
    invocations of that function answer a function error without calling it, exactly as Lambda
    sends one (HTTP 200, `X-Amz-Function-Error: Unhandled`, a request id, the JSON error), and
    records them with `injected: True`."""

    def __init__(self, functions: dict[str, str], log_path: Path):
        self.functions = functions  # function name or binary -> binary
        self.moto_port: int | None = None
        self.lambda_ports: dict[str, int] = {}  # binary -> its cargo lambda watch
        self.invocations: list[dict] = []
        self._lock = threading.Lock()
        self._faults: list[dict] = []  # pending injected errors, oldest first (under _lock)
        router = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                router.log(fmt % args)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _dispatch(self):
                path = urllib.parse.urlsplit(self.path).path
                body = self._body()
                m = INVOKE_PATH.match(path)
                if m and self.command == "POST":
                    status, headers, out = router.invoke(urllib.parse.unquote(m.group("name")), body)
                else:
                    status, headers, out = router.proxy(self.command, self.path, self.headers, body)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch

        super().__init__("router", Handler, log_path)

    def binary_for(self, function: str) -> str | None:
        """Accepts a name, `name:qualifier`, a full ARN (with or without qualifier) or a partial
        ARN (`123456789012:function:name`), like the Invoke API."""
        parts = function.split(":")
        if function.startswith("arn:"):
            name = parts[6] if len(parts) >= 7 else ""
        elif len(parts) >= 3 and parts[1] == "function":
            name = parts[2]
        else:
            name = parts[0]
        return self.functions.get(name)

    # -- fault injection (tests)
    def inject_errors(self, function: str, count: int, error_type: str, error_message: str,
                      payload_contains: str | None = None) -> dict:
        """The next `count` invocations of `function` (name, ARN or binary) answer the function
        error {"errorType": error_type, "errorMessage": error_message} without the function
        being called. With `payload_contains`, only invocations whose payload contains that text
        count (so a scenario's faults cannot hit another scenario's executions). Returns the
        fault: its `used` lists the request ids of the invocations that got it, `remaining` how
        many are still pending. Thread-safe."""
        binary = self.binary_for(function)
        if binary is None:
            raise ValueError(f"no such function: {function}")
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        fault = {"binary": binary, "count": count, "remaining": count,
                 "error_type": error_type, "error_message": error_message,
                 "payload_contains": payload_contains, "used": []}
        with self._lock:
            self._faults.append(fault)
        self.log(f"inject {count} x {error_type} into {binary}"
                 + (" (matching payloads only)" if payload_contains else ""))
        return fault

    def clear_injected(self, fault: dict | None = None) -> int:
        """Withdraws the pending injected errors (of one fault, or all); returns how many
        invocations they would still have answered."""
        with self._lock:
            chosen = [f for f in self._faults if fault is None or f is fault]
            left = sum(f["remaining"] for f in chosen)
            for f in chosen:
                f["remaining"] = 0
            self._faults = [f for f in self._faults if not any(f is c for c in chosen)]
        return left

    def _take_fault(self, binary: str, payload: str) -> dict | None:
        with self._lock:
            for i, f in enumerate(self._faults):
                if f["binary"] == binary and f["remaining"] > 0 and (
                        f["payload_contains"] is None or f["payload_contains"] in payload):
                    f["remaining"] -= 1
                    if not f["remaining"]:
                        del self._faults[i]
                    return f
        return None

    def invoke(self, function: str, payload: bytes):
        request_id = str(uuid.uuid4())
        base = [("x-amzn-RequestId", request_id), ("Content-Type", "application/json")]
        binary = self.binary_for(function)
        record = {"function": function, "binary": binary, "request_id": request_id,
                  "payload": payload.decode("utf-8", "replace"), "started": time.time()}
        with self._lock:
            self.invocations.append(record)
        if binary is None:
            record.update(status=404, error_type="ResourceNotFoundException")
            body = json.dumps({"Type": "User", "message": f"Function not found: {function}"})
            return 404, base + [("x-amzn-ErrorType", "ResourceNotFoundException")], body.encode()
        fault = self._take_fault(binary, record["payload"])
        if fault is not None:
            # As Lambda answers a function error; the function is not called.
            error = {"errorType": fault["error_type"], "errorMessage": fault["error_message"]}
            with self._lock:
                fault["used"].append(request_id)
            record.update(status=200, injected=True, duration=0.0, error_type=error["errorType"],
                          error_message=error["errorMessage"])
            self.log(f"invoke {binary} -> injected error {error['errorType']}: "
                     f"{error['errorMessage'][:300]}")
            return 200, base + [("X-Amz-Executed-Version", "$LATEST"),
                                ("X-Amz-Function-Error", "Unhandled")], json.dumps(error).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.lambda_ports[binary], timeout=1200)
        try:
            conn.request("POST", f"/2015-03-31/functions/{binary}/invocations", body=payload,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            out = resp.read()
            status = resp.status
        except OSError as e:
            status, out = 599, f"cargo lambda watch unreachable: {e}".encode()
        finally:
            conn.close()
        record["duration"] = time.time() - record["started"]
        record["cargo_lambda_status"] = status
        headers = base + [("X-Amz-Executed-Version", "$LATEST")]
        if status == 200:
            record["status"] = 200
            record["output"] = out.decode("utf-8", "replace")
            self.log(f"invoke {binary} -> 200 in {record['duration']:.2f}s")
            return 200, headers, out
        # A function error: cargo-lambda answers 500 with the runtime's diagnostic; the Invoke
        # API answers 200 + X-Amz-Function-Error: Unhandled + {"errorType", "errorMessage"}.
        try:
            diag = json.loads(out)
            error = {"errorType": diag["errorType"], "errorMessage": diag.get("errorMessage", "")}
        except (ValueError, KeyError, TypeError):
            # Not a function's diagnostic: cargo-lambda itself failed (a build error, ...).
            error = {"errorType": "LocalRouter.CargoLambdaError",
                     "errorMessage": f"cargo lambda watch answered {status}: "
                                     f"{out.decode('utf-8', 'replace')[:2000]}"}
        record.update(status=200, error_type=error["errorType"], error_message=error["errorMessage"])
        self.log(f"invoke {binary} -> error {error['errorType']}: "
                 f"{error['errorMessage'][:300]} in {record['duration']:.2f}s")
        return 200, headers + [("X-Amz-Function-Error", "Unhandled")], json.dumps(error).encode()

    def proxy(self, method, path, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.moto_port, timeout=300)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            fwd["Content-Length"] = str(len(body))
            conn.request(method, path, body=body, headers=fwd)
            resp = conn.getresponse()
            out = resp.read()
            return resp.status, [(k, v) for k, v in resp.getheaders()
                                 if k.lower() not in HOP_BY_HOP], out
        except OSError as e:
            return 502, [("x-amzn-RequestId", str(uuid.uuid4()))], f"router: moto: {e}".encode()
        finally:
            conn.close()


# ------------------------------------------------------------------ the approval server

APPROVAL_ROUTE = re.compile(r"^/approvals/(?P<id>[^/]+)$")
APPROVAL_ROUTE_KEY = "/approvals/{approvalId}"
# API Gateway's payload limit is 10 MB; the approval form is a few hundred bytes.
MAX_APPROVAL_BODY = 1024 * 1024
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def api_gateway_time(epoch: float) -> str:
    """requestContext.time as API Gateway writes it: "21/Nov/2026:12:31:46 +0000" (English month
    names, whatever the locale)."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


class ApprovalServer(LoopbackServer):
    """What API Gateway's HTTP API (payload format 2.0, `$default` stage) does for the approval
    routes `GET /approvals/{approvalId}` and `POST /approvals/{approvalId}`: turns the HTTP
    request into the 2.0 event, invokes `approval-api` through `invoke` (the router), and turns
    the function's answer back into HTTP. Other methods on that path are passed on too (the
    function answers 405); any other path is a plain 404 without an invocation.

    Logs one line per request to `log_path`: method, path (never the query string, never the
    body: the key is a secret, whoever holds it can decide), status and time taken."""

    def __init__(self, invoke, log_path: Path, binary: str = "approval-api",
                 timeout: float = 120):
        # invoke(binary, payload, timeout) -> (status, headers with lower-case names, body)
        self._invoke = invoke
        self.binary = binary
        self.timeout = timeout
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def version_string(self):
                return "iam-sentinel-local-approval"

            def log_message(self, fmt, *args):
                # http.server's own lines carry the request line, query string and all: never.
                pass

            def _dispatch(self):
                started = time.monotonic()
                split = urllib.parse.urlsplit(self.path)
                status = 500
                try:
                    status = server.handle(self, split)
                finally:
                    server.log(f"{self.client_address[0]} {self.command} {split.path} -> "
                               f"{status} in {time.monotonic() - started:.2f}s")

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

        super().__init__("approval-server", Handler, log_path)

    # -- one request
    def handle(self, req: http.server.BaseHTTPRequestHandler, split) -> int:
        m = APPROVAL_ROUTE.match(split.path)
        if not m:
            return self._plain(req, 404, "Not Found\n")
        try:
            body = self._read_body(req)
        except ValueError as e:
            return self._plain(req, 400, f"Bad Request: {e}\n")
        if body is None:
            return self._plain(req, 413, "Request Entity Too Large\n")
        event = self.event(req, split, m.group("id"), body)
        try:
            status, headers, out = self._invoke(self.binary, event, self.timeout)
        except (OSError, http.client.HTTPException) as e:  # incl. a timeout
            self.log(f"approval-api not reachable: {type(e).__name__}")
            return self._plain(req, 502, "Bad Gateway: the approval function did not answer\n")
        if status != 200:
            self.log(f"approval-api: Invoke answered HTTP {status}")
            return self._plain(req, 502, "Bad Gateway: the approval function could not be invoked\n")
        if "x-amz-function-error" in headers:
            try:
                error_type = json.loads(out).get("errorType", "?")
            except (ValueError, AttributeError):
                error_type = "?"
            self.log(f"approval-api: function error {error_type}")
            return self._plain(req, 502, "Bad Gateway: the approval function failed\n")
        try:
            answer = self.http_answer(out)
        except ValueError as e:
            self.log(f"approval-api: unusable answer: {e}")
            return self._plain(req, 502, "Bad Gateway: the approval function's answer is malformed\n")
        status, headers, payload = answer
        req.send_response(status)
        for k, v in headers:
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(payload)
        return status

    @staticmethod
    def _plain(req, status: int, text: str) -> int:
        out = text.encode()
        req.send_response(status)
        req.send_header("Content-Type", "text/plain; charset=utf-8")
        req.send_header("Content-Length", str(len(out)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(out)
        return status

    @staticmethod
    def _read_body(req) -> bytes | None:
        """The request body (Content-Length or chunked); None if it is too large."""
        if "chunked" in (req.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                line = req.rfile.readline(1024)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while req.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return out
                out += req.rfile.read(size)
                req.rfile.readline(1024)
                if len(out) > MAX_APPROVAL_BODY:
                    req.close_connection = True
                    return None
        length = int(req.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_APPROVAL_BODY:
            req.close_connection = True
            return None
        return req.rfile.read(length) if length else b""

    def event(self, req, split, raw_id: str, body: bytes) -> dict:
        """The API Gateway HTTP API payload 2.0 event, as tests/fixtures/api/*.json show it."""
        now = time.time()
        headers: dict[str, str] = {}
        for name, value in req.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        cookies = None
        if "cookie" in headers:  # payload 2.0 moves cookies out of the headers
            cookies = [c.strip() for c in headers.pop("cookie").replace(",", ";").split(";")
                       if c.strip()]
        source_ip = req.client_address[0]
        headers.setdefault("x-forwarded-for", source_ip)
        headers.setdefault("x-forwarded-port", str(self.port))
        headers.setdefault("x-forwarded-proto", "http")
        query: dict[str, str] = {}
        for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        route_key = f"{req.command} {APPROVAL_ROUTE_KEY}"
        domain = headers.get("host", f"127.0.0.1:{self.port}")
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": split.path,
            "rawQueryString": split.query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": domain,
                "domainPrefix": domain.split(".", 1)[0],
                "http": {
                    "method": req.command,
                    "path": split.path,
                    "protocol": req.request_version,
                    "sourceIp": source_ip,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "time": api_gateway_time(now),
                "timeEpoch": int(now * 1000),
            },
            "pathParameters": {"approvalId": urllib.parse.unquote(raw_id)},
            "isBase64Encoded": False,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if body:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        return event

    @staticmethod
    def http_answer(out: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """The function's payload 2.0 answer as (status, headers, body). Like API Gateway, reads
        statusCode, headers, cookies, body and isBase64Encoded (multiValueHeaders is not part of
        the 2.0 format; aws_lambda_events serialises it, empty)."""
        answer = json.loads(out)
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")
        status = answer.get("statusCode")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"statusCode {status!r}")
        headers = []
        raw_headers = answer.get("headers") or {}
        if not isinstance(raw_headers, dict):
            raise ValueError("headers is not an object")
        for k, v in raw_headers.items():
            if k.lower() in HOP_BY_HOP:
                continue
            if isinstance(v, (dict, list)) or v is None:
                raise ValueError(f"header {k} is not a scalar")
            headers.append((k, v if isinstance(v, str) else json.dumps(v)))
        for cookie in answer.get("cookies") or []:
            headers.append(("Set-Cookie", str(cookie)))
        body = answer.get("body") or ""
        if not isinstance(body, str):
            raise ValueError("body is not a string")
        if answer.get("isBase64Encoded"):
            payload = base64.b64decode(body, validate=True)
        else:
            payload = body.encode("utf-8")
        if not any(k.lower() == "content-type" for k, _ in headers) and payload:
            headers.append(("Content-Type", "application/json"))
        return status, headers, payload


# ------------------------------------------------------------------ the trigger: rule -> SQS -> poller

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


class TriggerPoller:
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trigger-poller", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.POLL_SECONDS + 10)
        with self._lock:
            self._log.close()

    def executions(self) -> list[tuple[float, str, str]]:
        with self._lock:
            return list(self._started)

    def log(self, line: str):
        with self._lock:
            if not self._log.closed:
                self._log.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def _run(self):
        sqs, sfn = self._client_factory("sqs"), self._client_factory("stepfunctions")
        while not self._stop.is_set():
            try:
                messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=self.POLL_SECONDS).get("Messages", [])
            except Exception as e:  # noqa: BLE001 (moto going away at the end, ...)
                if not self._stop.is_set():
                    self.log(f"receive failed: {type(e).__name__}: {e}")
                    self._stop.wait(1)
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


# ------------------------------------------------------------------ the mailbox

class Mailbox(LoopbackServer):
    """Where the notification topic's email goes locally: an `http` subscriber on 127.0.0.1.
    moto POSTs each message as SNS's JSON Notification (Type, MessageId, TopicArn, Subject,
    Message, Timestamp, ...); every one is kept in `mails` as {"subject", "message",
    "timestamp", "message_id", "topic_arn"}, and `on_mail(mail)` (if given) is called as it
    arrives.

    moto delivers inside Publish, and one unreachable http subscriber makes every Publish fail
    with 500: the mailbox must be up before it is subscribed and until after the last publish
    (LocalStack.stop() stops it after moto). So it answers at once, and never fails."""

    def __init__(self, log_path: Path, on_mail=None):
        self.mails: list[dict] = []
        self.on_mail = on_mail
        self._cond = threading.Condition()
        mailbox = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass  # one line per message below, without the body

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                mailbox.receive(body)

        super().__init__("mailbox", Handler, log_path)

    def receive(self, body: bytes):
        try:
            note = json.loads(body)
        except ValueError:
            self.log(f"not JSON ({len(body)} bytes), ignored")
            return
        if not isinstance(note, dict) or note.get("Type") != "Notification":
            # SubscriptionConfirmation would need a GET of its SubscribeURL; moto confirms
            # http subscriptions itself and never sends one.
            self.log(f"not a Notification ({note.get('Type') if isinstance(note, dict) else '?'}), ignored")
            return
        mail = {"subject": note.get("Subject") or "", "message": note.get("Message") or "",
                "timestamp": note.get("Timestamp") or "", "message_id": note.get("MessageId"),
                "topic_arn": note.get("TopicArn")}
        with self._cond:
            self.mails.append(mail)
            self._cond.notify_all()
        self.log(f"mail {mail['message_id']}: {mail['subject']}")
        if self.on_mail is not None:
            try:
                self.on_mail(mail)
            except Exception as e:  # noqa: BLE001 (a printing callback must not lose mail)
                self.log(f"on_mail failed: {type(e).__name__}: {e}")

    def wait_for(self, predicate, timeout: float, start: int = 0) -> dict:
        """The first mail (from index `start`) for which predicate(mail) is true; waits, bounded."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for mail in self.mails[start:]:
                    if predicate(mail):
                        return mail
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"mailbox: no matching mail within {timeout:.0f} s")
                self._cond.wait(left)


def format_mail(mail: dict, indent: str = "  ") -> str:
    """A mail as a person reads it: who-from line, subject, body."""
    body = "\n".join(f"{indent}│ {line}".rstrip() for line in mail["message"].rstrip("\n").split("\n"))
    return (f"{indent}✉ You've got mail ({mail['timestamp']})\n"
            f"{indent}│ Subject: {mail['subject']}\n{indent}│\n{body}")


# ------------------------------------------------------------------ processes

# SIGTERM to each started process if the harness dies, set by setpriv (util-linux) just before
# it executes the command: safe while the harness's threads run, unlike a preexec_fn (a fork of a
# threaded process may only exec).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []


def _descendants(pid: int) -> list[int]:
    """Every process below pid, from /proc (cargo lambda watch runs functions in their own
    process groups, so killing its group is not enough)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_process_tree(proc: subprocess.Popen, grace: float = 5.0) -> list[int]:
    """SIGTERM to the process, its group and every descendant's group; SIGKILL what is left
    after `grace` seconds. Returns the pids still alive at the end (should be empty)."""
    if proc.poll() is not None and not _descendants(proc.pid):
        return []
    pids = [proc.pid] + _descendants(proc.pid)
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups.discard(os.getpgid(0))  # never our own group

    def signal_all(sig):
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        if not any(_alive(p) for p in pids if p != proc.pid) and proc.poll() is not None:
            break
        time.sleep(0.1)
    signal_all(signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.2)
    return [p for p in pids if _alive(p)]


# ------------------------------------------------------------------ the stack

class LocalStack:
    """Starts and wires everything; `with LocalStack(...) as s:` stops it all on exit."""

    def __init__(self, approval_timeout_hours: int | str = 24,
                 restricted_actions: str = "s3:DeleteBucket,s3:DeleteObject",
                 notify_on_clean_changes: bool = False, rust_log: str = "info",
                 run_dir: Path | None = None, quiet: bool = False,
                 cargo_target_dir: Path | None = None,
                 approval_timeout_seconds: int | None = None):
        self.approval_timeout_hours = str(approval_timeout_hours)
        # Local only: a deadline in seconds for the main state machine's approval wait (see
        # with_approval_timeout_seconds); None keeps the template's ApprovalTimeoutHours x 3600.
        if approval_timeout_seconds is not None and (
                isinstance(approval_timeout_seconds, bool)
                or not isinstance(approval_timeout_seconds, int) or approval_timeout_seconds < 1):
            raise ValueError(f"approval_timeout_seconds must be a positive whole number, "
                             f"not {approval_timeout_seconds!r}")
        self.approval_timeout_seconds = approval_timeout_seconds
        self.restricted_actions = restricted_actions
        self.notify_on_clean_changes = notify_on_clean_changes
        self.rust_log = rust_log
        self.quiet = quiet
        self.cargo_target_dir = cargo_target_dir
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.run_dir = run_dir or (ROOT / "local" / ".runs" / f"{stamp}-{os.getpid()}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.template = read_template()
        self.functions = function_names(self.template)
        names = {}
        for f in self.functions.values():
            names[f["name"]] = f["binary"]
            names[f["binary"]] = f["binary"]
        self.router = Router(names, self.run_dir / "router.log")
        binaries = [f["binary"] for f in self.functions.values()]
        self.moto_port, *ports = free_ports(1 + len(binaries))
        self.lambda_ports = dict(zip(binaries, ports))
        self.router.moto_port = self.moto_port
        self.router.lambda_ports = self.lambda_ports
        self.topic_name = f"{STACK_NAME}-notifications"
        self.topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.topic_name}"
        # The main state machine's ARN is deterministic, so the approval API's STATE_MACHINE_ARN
        # goes into the env file before the machine exists (as the template writes it out).
        self.main_state_machine_name = f"{STACK_NAME}-remediation"
        self.main_state_machine_arn = (f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:"
                                       f"{self.main_state_machine_name}")
        # The approval API as API Gateway would serve it; its socket is bound now (APPROVAL_URL
        # goes into the functions' env file), its thread starts with the router's.
        self.approval_server = ApprovalServer(self.invoke_direct_full,
                                              self.run_dir / "approval-server.log")
        self.approval_url = self.approval_server.url
        self.procs: dict[str, subprocess.Popen] = {}
        self._files = []
        self._stopped = False
        self.state_machine_arn: str | None = None
        self.timings: dict[str, float] = {}
        self.mailbox: Mailbox | None = None          # start_mailbox()
        self.trigger: TriggerPoller | None = None    # deploy_trigger()

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
        pointed at moto."""
        return {
            "RESTRICTED_ACTIONS": self.restricted_actions,
            "SENTINEL_ROLE_ARN": SENTINEL_ROLE_ARN,
            "NOTIFY_ON_CLEAN_CHANGES": "true" if self.notify_on_clean_changes else "false",
            "TOPIC_ARN": self.topic_arn,
            "EVENT_BUS_NAME": "default",
            # request-approval: the base of the emailed link (the local approval server);
            # approval-api: the state machine whose executions the approval ids name.
            "APPROVAL_URL": self.approval_url,
            "STATE_MACHINE_ARN": self.main_state_machine_arn,
            "RUST_LOG": self.rust_log,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.moto_port}",
            "AWS_EC2_METADATA_DISABLED": "true",
            # Hermetic: no profile from the machine (empty files in the run directory).
            "AWS_CONFIG_FILE": str(self.run_dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.run_dir / "no-aws-credentials"),
        }

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        log = open(self.run_dir / f"{name}.log", "ab")
        self._files.append(log)
        # Its own session (process group), so stop() can signal all it starts.
        proc = subprocess.Popen(DIE_WITH_PARENT + argv, cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.procs[name] = proc
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
        # 1. the router's socket is bound already (the kernel chose its port, no race).
        self.say(f"router on 127.0.0.1:{self.router.port}; moto on :{self.moto_port}; "
                 f"approval server on {self.approval_url}; "
                 f"cargo lambda watch on {self.lambda_ports}; logs in {self.run_dir}")
        # 2. cargo lambda watch, one per function, in the function's crate (its CodeUri).
        # Not one at the workspace root: the root is itself a package (the CLI), so there
        # `cargo run --bin analyse-change` fails ("no bin target named `analyse-change` in
        # default-run packages") and cargo lambda watch then never answers the invoke.
        for empty in ("no-aws-config", "no-aws-credentials"):
            (self.run_dir / empty).write_text("")
        env_file = self.run_dir / "functions.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in self.function_env().items()))
        cl_env = dict(base_env, **CREDENTIALS, AWS_REGION=REGION,
                      CARGO_TERM_COLOR="never")
        if self.cargo_target_dir:  # e.g. to time a cold debug build
            cl_env["CARGO_TARGET_DIR"] = str(self.cargo_target_dir)
        watchers = []
        for f in self.functions.values():
            watchers.append((self.lambda_ports[f["binary"]], self._spawn(
                f"watch-{f['binary']}",
                [str(VENV_BIN / "cargo-lambda"), "lambda", "watch",
                 "-A", "127.0.0.1", "-P", str(self.lambda_ports[f["binary"]]),
                 "--env-file", str(env_file)],
                cl_env, ROOT / f["code_uri"])))
        # 3. moto, whose ASL interpreter calls "localhost:$MOTO_PORT": the router
        moto_env = dict(base_env, **CREDENTIALS, MOTO_PORT=str(self.router.port),
                        AWS_DEFAULT_REGION=REGION)
        moto = self._spawn("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1",
                                    "-p", str(self.moto_port)], moto_env, ROOT)
        self.router.start()
        self.approval_server.start()
        t0 = time.monotonic()
        wait_for_port(self.moto_port, 60, moto)
        self.timings["moto_start"] = time.monotonic() - t0
        # 4. execution ON, before any state machine exists
        self._moto_config()
        # 5. resources
        self._create_resources()
        for port, proc in watchers:
            wait_for_port(port, 120, proc)
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
        topic_arn = sns.create_topic(Name=self.topic_name)["TopicArn"]
        assert topic_arn == self.topic_arn, topic_arn
        # Notifications, read back raw (the message body, no SNS envelope).
        self.notifications_queue_url = sqs.create_queue(QueueName="local-notifications")["QueueUrl"]
        q_arn = sqs.get_queue_attributes(QueueUrl=self.notifications_queue_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=q_arn,
                      Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)
        # Outcome events (source iam-sentinel on the default bus).
        self.events_queue_url = sqs.create_queue(QueueName="local-outcome-events")["QueueUrl"]
        e_arn = sqs.get_queue_attributes(QueueUrl=self.events_queue_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="local-iam-sentinel-outcomes", EventBusName="default",
                        EventPattern=json.dumps({"source": ["iam-sentinel"]}), State="ENABLED")
        events.put_targets(Rule="local-iam-sentinel-outcomes", EventBusName="default",
                           Targets=[{"Id": "outcomes-queue", "Arn": e_arn}])
        self.state_machine_arn = self.create_state_machine(
            self.main_state_machine_name, self.approval_timeout_hours,
            approval_timeout_seconds=self.approval_timeout_seconds)
        if self.state_machine_arn != self.main_state_machine_arn:
            raise RuntimeError(f"the main state machine is {self.state_machine_arn}, but the "
                               f"approval API was told {self.main_state_machine_arn}")

    def definition(self, approval_timeout_hours: str | int,
                   approval_timeout_seconds: int | None = None) -> str:
        """The ASL as deployed (DefinitionSubstitutions filled); with approval_timeout_seconds,
        also the local-only short deadline (with_approval_timeout_seconds)."""
        subs = definition_substitutions(self.template,
                                        {"ApprovalTimeoutHours": str(approval_timeout_hours)})
        definition = substitute(ASL_PATH.read_text(), subs)
        if approval_timeout_seconds is not None:
            definition = with_approval_timeout_seconds(definition, approval_timeout_seconds)
        return definition

    def create_state_machine(self, name: str, approval_timeout_hours: str | int,
                             approval_timeout_seconds: int | None = None) -> str:
        definition = self.definition(approval_timeout_hours, approval_timeout_seconds)
        (self.run_dir / f"{name}.asl.json").write_text(definition)
        arn = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, type="STANDARD",
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}-role")["stateMachineArn"]
        deadline = (f"approval deadline {approval_timeout_seconds} s (LOCAL OVERRIDE)"
                    if approval_timeout_seconds is not None
                    else f"ApprovalTimeoutHours={approval_timeout_hours}")
        self.say(f"state machine {arn} ({deadline})")
        return arn

    def invoke_direct(self, binary: str, payload: dict, timeout: float) -> tuple[int, bytes]:
        """Invokes a function through the router (not through Step Functions)."""
        status, _, body = self.invoke_direct_full(binary, payload, timeout)
        return status, body

    def invoke_direct_full(self, binary: str, payload: dict,
                           timeout: float) -> tuple[int, dict[str, str], bytes]:
        """invoke_direct, with the Invoke API's response headers (lower-cased names), e.g.
        `x-amz-function-error` for a function error."""
        conn = http.client.HTTPConnection("127.0.0.1", self.router.port, timeout=timeout)
        try:
            conn.request("POST", f"/2015-03-31/functions/{urllib.parse.quote(function_arn(binary), safe='')}"
                         "/invocations", body=json.dumps(payload))
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
        finally:
            conn.close()

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

    def deploy_trigger(self, self_check: bool = True) -> TriggerPoller:
        """The template's trigger, as far as moto goes: on the default bus, the rule
        IamPolicyChangeRule with the template's own EventPattern (trigger_rule), whose target
        is an SQS queue instead of the state machine, and the poller that starts the state
        machine from that queue (TriggerPoller). With self_check, first checks that moto applies
        the pattern as EventBridge does (check_trigger_pattern). Stopped by stop()."""
        if self.trigger is not None:
            return self.trigger
        rule = trigger_rule(self.template)
        self.trigger_rule_name = rule["name"]
        self.trigger_pattern = rule["pattern"]
        sqs, events = self.client("sqs"), self.client("events")
        queue_url = sqs.create_queue(QueueName="local-iam-policy-change-target",
                                     Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.put_rule(Name=rule["name"], EventBusName=rule["event_bus"],
                        EventPattern=json.dumps(rule["pattern"]), State="ENABLED",
                        Description="template.yaml IamPolicyChangeRule (local: SQS target)")
        stored = json.loads(events.describe_rule(Name=rule["name"], EventBusName=rule["event_bus"])
                            ["EventPattern"])
        if stored != rule["pattern"]:
            raise RuntimeError(f"moto stored another pattern than the template's: {stored}")
        events.put_targets(Rule=rule["name"], EventBusName=rule["event_bus"],
                           Targets=[{"Id": "local-poller-queue", "Arn": queue_arn}])
        (self.run_dir / "trigger-rule-pattern.json").write_text(json.dumps(rule["pattern"], indent=2))
        if self_check:
            self.check_trigger_pattern(queue_url)
        self.trigger = TriggerPoller(self.client, queue_url, self.state_machine_arn,
                                     self.run_dir / "trigger.log")
        self.trigger.start()
        self.say(f"rule {rule['name']} (template pattern) -> SQS {queue_arn} -> poller -> "
                 f"StartExecution {self.state_machine_arn}")
        return self.trigger

    def check_trigger_pattern(self, queue_url: str):
        """Before the poller runs: puts four CloudTrail-shaped probes on the bus and checks which
        the rule delivers, as EventBridge would: a successful CreatePolicy by a user and one by
        an AWS service (no userIdentity.arn) are delivered; a failed one (errorCode) and one by
        the policy writer's session are not. Raises if moto's matching differs (the pattern is
        never weakened to suit moto). The probes are removed from the queue."""
        writer_session = (f"arn:aws:sts::{ACCOUNT}:assumed-role/"
                          f"{SENTINEL_ROLE_ARN.rsplit('/', 1)[1]}/local-probe")
        base = {"eventSource": "iam.amazonaws.com", "eventName": "CreatePolicy",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/probe"},
                "requestParameters": {"policyName": "local-probe"}}
        probes = {
            "user": (base, True),
            "aws-service": (dict(base, userIdentity={"type": "AWSService",
                                                     "invokedBy": "probe.amazonaws.com"}), True),
            "failed-call": (dict(base, errorCode="AccessDenied", errorMessage="probe"), False),
            "policy-writer": (dict(base, userIdentity={"type": "AssumedRole",
                                                       "arn": writer_session}), False),
        }
        events, sqs = self.client("events"), self.client("sqs")
        for probe, (detail, _) in probes.items():
            detail = dict(detail, eventID=f"local-probe-{probe}")
            out = events.put_events(Entries=[{"Source": "aws.iam",
                                              "DetailType": CLOUDTRAIL_DETAIL_TYPE,
                                              "Detail": json.dumps(detail)}])
            if out.get("FailedEntryCount"):
                raise RuntimeError(f"moto refused a CloudTrail-shaped event: {out['Entries']}")
        delivered = set()
        for _ in range(20):  # bounded; moto delivers inside PutEvents
            msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                delivered.add(json.loads(m["Body"])["detail"]["eventID"].removeprefix("local-probe-"))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        expected = {p for p, (_, match) in probes.items() if match}
        if delivered != expected:
            raise RuntimeError(f"moto does not match the template's rule pattern as EventBridge "
                               f"does: delivered {sorted(delivered)}, expected {sorted(expected)}")
        self.say(f"rule pattern checked on moto: delivered {sorted(delivered)}, "
                 f"not {sorted(set(probes) - expected)}")

    def put_cloudtrail_event(self, detail: dict, event_time: float | None = None) -> str:
        """What CloudTrail does after an IAM call: PutEvents on the default bus with source
        aws.iam, detail-type "AWS API Call via CloudTrail" and the CloudTrail record as detail.
        Returns the event id (the `id` of the envelope the rule delivers)."""
        entry = {"Source": "aws.iam", "DetailType": CLOUDTRAIL_DETAIL_TYPE,
                 "Detail": json.dumps(detail), "EventBusName": "default"}
        if event_time is not None:
            entry["Time"] = event_time
        out = self.client("events").put_events(Entries=[entry])
        if out.get("FailedEntryCount"):
            raise RuntimeError(f"PutEvents failed: {out['Entries']}")
        return out["Entries"][0]["EventId"]

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
        if self.trigger is not None:  # first: it starts executions
            try:
                self.trigger.stop()
            except Exception:
                pass
        try:  # then: it invokes through the router
            self.approval_server.stop()
        except Exception:
            pass
        for name, proc in list(self.procs.items()):
            left = stop_process_tree(proc)
            self.say(f"stopped {name}" + (f" (STILL ALIVE: {left})" if left else ""))
        try:
            self.router.stop()
        except Exception:
            pass
        if self.mailbox is not None:  # last: after moto, so no Publish finds it gone
            try:
                self.mailbox.stop()
            except Exception:
                pass
        for f in self._files:
            f.close()
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    # Interactive use: start the stack, print how to reach it, wait for Ctrl-C.
    hours = sys.argv[1] if len(sys.argv) > 1 else "24"
    with LocalStack(approval_timeout_hours=hours) as s:
        s.warm_up()
        print(f"moto: http://127.0.0.1:{s.moto_port}  router: http://127.0.0.1:{s.router.port}\n"
              f"approval server: {s.approval_url}/approvals/<execution name>?key=...\n"
              f"state machine: {s.state_machine_arn}\nCtrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
