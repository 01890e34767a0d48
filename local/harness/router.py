"""The Lambda Invoke API in front of the functions: what moto's ASL interpreter and the approval
server call, forwarded to each function's `cargo lambda watch`; everything else (the functions'
own AWS calls included) is proxied to moto, with IAM's size and count quotas enforced as IAM does.
Tests can make a function answer errors (fault injection), and make AWS API calls answer as AWS
does under load or right after a change: throttled, not found yet, an earlier document, or slow."""

from __future__ import annotations

import http.client
import http.server
import json
import random
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .constants import HOP_BY_HOP
from .loopback import LoopbackServer, reply
from .template import function_arn

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
# The service a signed request is for: its credential scope (.../us-east-1/iam/aws4_request).
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/[0-9]{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
# IAM's quotas on policy size, in characters without white space ("policy size calculations do
# not include white space characters"; IAM and AWS STS quotas): the inline policies of one user,
# role or group together, and each managed policy. moto enforces neither; the router refuses a
# write over them with IAM's own answer (409 LimitExceeded).
INLINE_POLICY_QUOTA = {"User": 2048, "Role": 10240, "Group": 5120}
MANAGED_POLICY_QUOTA = 6144
PUT_INLINE = re.compile(r"^Put(?P<kind>User|Role|Group)Policy$")
# IAM's count quotas, as moto's GetAccountSummary reports them (IAM's defaults), which moto does
# not enforce either: managed policies attached to one user, role or group, and groups a user
# is in. IAM refuses one more with 409 LimitExceeded ("Cannot exceed quota for PoliciesPerRole:
# 10"); attaching a policy attached already, or adding a member again, changes nothing and is
# not refused.
ATTACHED_POLICIES_QUOTA = 10
GROUPS_PER_USER_QUOTA = 10
ATTACH = re.compile(r"^Attach(?P<kind>User|Role|Group)Policy$")


def aws_call(headers, body: bytes) -> tuple[str, str, str]:
    """(service, action, readable request) of an AWS API request: the service from its
    signature, the action from a query-protocol body (Action=...) or a JSON protocol's
    X-Amz-Target; the request URL-decoded, for matching."""
    scope = CREDENTIAL_SCOPE.search(headers.get("Authorization") or "")
    service = scope.group("service") if scope else ""
    text = body.decode("utf-8", "replace")
    target = headers.get("X-Amz-Target") or ""
    if target:
        return service, target.rsplit(".", 1)[-1], text
    form = urllib.parse.parse_qs(text)
    return service, (form.get("Action") or [""])[0], urllib.parse.unquote_plus(text)


def iam_error(status: int, code: str, message: str) -> tuple[int, list, bytes]:
    """An IAM error exactly as IAM answers one (query protocol: XML, the code in <Code>)."""
    request_id = str(uuid.uuid4())
    body = (f'<ErrorResponse xmlns="{IAM_NAMESPACE}"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return status, [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")], body.encode()


def iam_size(document: str) -> int:
    """A policy's size as IAM counts it against its quotas."""
    return sum(1 for c in document if c not in " \t\n\r")


def stale_answer(body: bytes, version: tuple[str, str] | None, document: str | None) -> bytes:
    """moto's IAM answer made to show an earlier state: the default version id, the document."""
    text = body.decode("utf-8")
    if version is not None:
        old, new = version
        text = text.replace(f"<DefaultVersionId>{new}</DefaultVersionId>",
                            f"<DefaultVersionId>{old}</DefaultVersionId>")
    if document is not None:
        encoded = urllib.parse.quote(document, safe="")
        text = re.sub(r"<(PolicyDocument|Document)>.*?</\1>",
                      lambda m: f"<{m.group(1)}>{encoded}</{m.group(1)}>", text, flags=re.S)
    return text.encode("utf-8")


@dataclass
class AwsFault:
    """How matching AWS API calls (`service`, `action`, and `match` in the request) answer while
    the fault is armed (until `until`, time.time()):
    - `missing`: 404 NoSuchEntity, as IAM answers for an entity it does not show yet;
    - `stale_version` (old, new): GetPolicy's DefaultVersionId `new` answered as `old`, and
      `stale_document`: the document in moto's real answer (inline or version) replaced by this
      earlier one, URL-encoded as IAM sends documents: an earlier state, as IAM may show it;
    - `throttle`: this fraction of calls (seeded) answers 400 Throttling;
    - `hold`: the first `hold_count` calls go to moto at once (a write is made), and their answer
      comes `hold` seconds later, past the caller's timeout.
    `hits` lists (action, what was done, time.time()) for each call it answered."""
    service: str
    action: str
    match: str | None = None
    until: float = float("inf")
    missing: bool = False
    stale_version: tuple[str, str] | None = None
    stale_document: str | None = None
    throttle: float = 0.0
    seed: int = 0
    hold: float = 0.0
    hold_count: int = 0
    hits: list = field(default_factory=list)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self):
        self._random = random.Random(self.seed)

    def applies(self, service: str, action: str, request: str) -> bool:
        return (self.service == service and self.action in ("*", action)
                and (self.match is None or self.match in request) and time.time() < self.until)


def invoke(port: int, function: str, payload: dict,
           timeout: float) -> tuple[int, dict[str, str], bytes]:
    """Invokes a function (name or binary) through the Invoke API at 127.0.0.1:port: (status,
    response headers with lower-cased names, e.g. `x-amz-function-error`, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", f"/2015-03-31/functions/"
                             f"{urllib.parse.quote(function_arn(function), safe='')}/invocations",
                     body=json.dumps(payload))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


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
        self._aws_faults: list[AwsFault] = []  # armed AWS API faults (under _lock)
        self.quota_refusals: list[str] = []  # each write refused over IAM's size or count quotas
        # Lambda's concurrency limit per function (None: unlimited, calls queue in cargo lambda
        # watch); above it an invocation is throttled, as Lambda throttles (under _lock).
        self.concurrency: int | None = None
        self._in_flight: dict[str, int] = {}
        router = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                router.log(fmt % args)

            def _dispatch(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                m = INVOKE_PATH.match(urllib.parse.urlsplit(self.path).path)
                if m and self.command == "POST":
                    status, headers, out = router.invoke(urllib.parse.unquote(m.group("name")), body)
                else:
                    status, headers, out = router.proxy_aws(self.command, self.path, self.headers,
                                                            body)
                try:
                    reply(self, status, headers, out)
                except (BrokenPipeError, ConnectionResetError):
                    # The caller gave up first (an SDK attempt timeout), as callers of AWS do.
                    router.log(f"{self.command} {self.path}: the caller had gone")
                    self.close_connection = True

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

    def invocations_of(self, binary: str, text: str = "", since: float = 0.0) -> list[dict]:
        """The records of `binary`'s invocations whose payload contains `text`, started at or
        after `since` (time.time())."""
        with self._lock:
            records = list(self.invocations)
        return [i for i in records if i["binary"] == binary and text in i["payload"]
                and i["started"] >= since]

    # -- fault injection (tests)
    def inject_errors(self, function: str, count: int, error_type: str, error_message: str,
                      payload_contains: str | None = None, after_call: bool = False) -> dict:
        """The next `count` invocations of `function` (name, ARN or binary) answer the function
        error {"errorType": error_type, "errorMessage": error_message} without the function
        being called; with `after_call`, after the function has run and done its work (its
        answer lost, as when Lambda ends an invocation at its timeout). With
        `payload_contains`, only invocations whose payload contains that text count (so a
        test's faults cannot hit another test's executions). Returns the fault: its `used`
        lists the request ids of the invocations that got it, `remaining` how many are still
        pending. Thread-safe."""
        binary = self.binary_for(function)
        if binary is None:
            raise ValueError(f"no such function: {function}")
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        fault = {"binary": binary, "count": count, "remaining": count,
                 "error_type": error_type, "error_message": error_message,
                 "payload_contains": payload_contains, "after_call": after_call, "used": []}
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

    # -- AWS API faults (tests, benchmarks)
    def inject_aws_fault(self, fault: AwsFault) -> AwsFault:
        """Arms `fault` for the functions' AWS calls until `fault.until` or clear_aws_faults."""
        with self._lock:
            self._aws_faults.append(fault)
        self.log(f"arm AWS fault {fault}")
        return fault

    def clear_aws_faults(self, fault: AwsFault | None = None):
        with self._lock:
            self._aws_faults = [f for f in self._aws_faults if fault is not None and f is not fault]

    def _aws_fault_for(self, headers, body: bytes):
        with self._lock:
            if not self._aws_faults:
                return None, ""
            service, action, request = aws_call(headers, body)
            for fault in self._aws_faults:
                if fault.applies(service, action, request):
                    return fault, action
        return None, action

    def _iam_query(self, path, headers, params: dict) -> str:
        """moto's answer to an IAM query made with the caller's credentials (its account)."""
        body = urllib.parse.urlencode({**params, "Version": "2010-05-08"}).encode()
        asked = {k: v for k, v in headers.items() if k.lower() != "x-amz-target"}
        asked["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        status, _, out = self.proxy("POST", path, asked, body)
        return out.decode("utf-8", "replace") if status == 200 else ""

    def _over_count_quota(self, path, headers, action: str, form: dict):
        """IAM's refusal of an attachment or a membership over its count quotas, or None."""
        attach = ATTACH.match(action)
        if attach:
            kind = attach["kind"]
            name = form.get(f"{kind}Name", "")
            listed = self._iam_query(path, headers, {"Action": f"ListAttached{kind}Policies",
                                                     f"{kind}Name": name, "MaxItems": "1000"})
            taken = set(re.findall(r"<PolicyArn>(.*?)</PolicyArn>", listed))
            asked = form.get("PolicyArn", "")
            quota, refusal = ATTACHED_POLICIES_QUOTA, f"PoliciesPer{kind}"
        elif action == "AddUserToGroup":
            name = form.get("UserName", "")
            listed = self._iam_query(path, headers, {"Action": "ListGroupsForUser",
                                                     "UserName": name, "MaxItems": "1000"})
            # Group names are one whatever their case (IAM's).
            taken = {g.lower() for g in re.findall(r"<GroupName>(.*?)</GroupName>", listed)}
            asked = form.get("GroupName", "").lower()
            quota, refusal = GROUPS_PER_USER_QUOTA, "GroupsPerUser"
        else:
            return None
        if asked in taken or len(taken) < quota:
            return None
        refused = f"refused {action} {name} {asked}: {len(taken)} of {quota} taken"
        self.quota_refusals.append(refused)
        self.log(refused)
        return iam_error(409, "LimitExceeded", f"Cannot exceed quota for {refusal}: {quota}")

    def _over_iam_quota(self, path, headers, body):
        """IAM's refusal of a write over its size or count quotas, or None."""
        service, action, _ = aws_call(headers, body)
        if service != "iam":
            return None
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        counted = self._over_count_quota(path, headers, action, form)
        if counted is not None:
            return counted
        document = form.get("PolicyDocument", "")
        if action in ("CreatePolicy", "CreatePolicyVersion"):
            if iam_size(document) > MANAGED_POLICY_QUOTA:
                return iam_error(409, "LimitExceeded",
                                 f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_QUOTA}")
            return None
        put = PUT_INLINE.match(action)
        if put is None:
            return None
        kind, name = put["kind"], form.get(f"{put['kind']}Name", "")
        listed = self._iam_query(path, headers, {"Action": f"List{kind}Policies",
                                                 f"{kind}Name": name, "MaxItems": "1000"})
        if not listed:
            # No such principal: moto answers the write with NoSuchEntity, as IAM does.
            self.log(f"{action} {name}: its inline policies cannot be listed")
        used = 0
        for other in re.findall(r"<member>(.*?)</member>", listed):
            if other == form.get("PolicyName"):
                continue
            answer = self._iam_query(path, headers, {"Action": f"Get{kind}Policy",
                                                     f"{kind}Name": name, "PolicyName": other})
            found = re.search(r"<PolicyDocument>(.*?)</PolicyDocument>", answer, re.S)
            used += iam_size(urllib.parse.unquote(found.group(1))) if found else 0
        quota = INLINE_POLICY_QUOTA[kind]
        if used + iam_size(document) > quota:
            refusal = f"refused {action} {name}: {used} + {iam_size(document)} > {quota}"
            self.quota_refusals.append(refusal)
            self.log(refusal)
            return iam_error(409, "LimitExceeded",
                             f"Maximum policy size of {quota} bytes exceeded for {kind.lower()} {name}")
        return None

    def _forward(self, method, path, headers, body):
        """To moto, unless IAM would refuse the write over a quota."""
        refused = self._over_iam_quota(path, headers, body)
        return refused if refused is not None else self.proxy(method, path, headers, body)

    def proxy_aws(self, method, path, headers, body):
        """A call to moto, answered as AWS would: refused over IAM's size quotas, and as an armed
        fault makes it."""
        fault, action = self._aws_fault_for(headers, body)
        if fault is None:
            return self._forward(method, path, headers, body)
        with self._lock:
            throttled = fault.throttle and fault._random.random() < fault.throttle
            held = fault.hold and fault.hold_count > 0
            if held:
                fault.hold_count -= 1
            stale = fault.stale_version or fault.stale_document
            done = ("throttled" if throttled else "missing" if fault.missing else
                    "held" if held else "stale" if stale else "passed")
            fault.hits.append((action, done, time.time()))
        if throttled:
            return iam_error(400, "Throttling", "Rate exceeded")
        if fault.missing:
            return iam_error(404, "NoSuchEntity", f"The entity {fault.match or ''} cannot be found.")
        status, out_headers, out = self._forward(method, path, headers, body)
        if status == 200:
            out = stale_answer(out, fault.stale_version, fault.stale_document)
        if held:
            self.log(f"holding the answer to {action} for {fault.hold} s")
            time.sleep(fault.hold)
        return status, out_headers, out

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
        if not self._enter(binary):
            # Lambda answers 429 TooManyRequestsException, which Step Functions reports as
            # Lambda.TooManyRequestsException; moto's interpreter names every Invoke client error
            # "Exception", so the router answers with the name AWS reports, as a function error.
            record.update(status=200, throttled=True, error_type="Lambda.TooManyRequestsException")
            error = {"errorType": "Lambda.TooManyRequestsException",
                     "errorMessage": "Rate Exceeded. (ReservedFunctionConcurrentInvocationLimitExceeded)"}
            return 200, base + [("X-Amz-Function-Error", "Unhandled")], json.dumps(error).encode()
        try:
            return self._invoke_function(binary, payload, record, request_id, base)
        finally:
            with self._lock:
                self._in_flight[binary] -= 1

    def _enter(self, binary: str) -> bool:
        """Counts an invocation in flight, unless the function is at its concurrency limit."""
        with self._lock:
            if self.concurrency is not None and self._in_flight.get(binary, 0) >= self.concurrency:
                return False
            self._in_flight[binary] = self._in_flight.get(binary, 0) + 1
            return True

    def _invoke_function(self, binary: str, payload: bytes, record: dict, request_id: str,
                         base: list):
        fault = self._take_fault(binary, record["payload"])
        if fault is not None and fault["after_call"]:
            self._call_function(binary, payload, record)
            record["answer_lost"] = True
        if fault is not None:
            # As Lambda answers a function error (the function not called, or its answer lost).
            error = {"errorType": fault["error_type"], "errorMessage": fault["error_message"]}
            with self._lock:
                fault["used"].append(request_id)
            record.setdefault("duration", 0.0)
            record.update(status=200, injected=True, error_type=error["errorType"],
                          error_message=error["errorMessage"])
            self.log(f"invoke {binary} -> injected error {error['errorType']}: "
                     f"{error['errorMessage'][:300]}")
            return 200, base + [("X-Amz-Executed-Version", "$LATEST"),
                                ("X-Amz-Function-Error", "Unhandled")], json.dumps(error).encode()
        status, out = self._call_function(binary, payload, record)
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

    def _call_function(self, binary: str, payload: bytes, record: dict) -> tuple[int, bytes]:
        """The function's own answer from its cargo lambda watch: (status, body)."""
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
        return status, out

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
