"""The Lambda Invoke API in front of the functions: what moto's ASL interpreter and the approval
server call, forwarded to each function's `cargo lambda watch`; everything else is proxied to
moto. Tests can make a function answer errors without calling it (fault injection)."""

from __future__ import annotations

import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

from .constants import HOP_BY_HOP
from .loopback import LoopbackServer, reply
from .template import function_arn

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


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
                    status, headers, out = router.proxy(self.command, self.path, self.headers, body)
                reply(self, status, headers, out)

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
                      payload_contains: str | None = None) -> dict:
        """The next `count` invocations of `function` (name, ARN or binary) answer the function
        error {"errorType": error_type, "errorMessage": error_message} without the function
        being called. With `payload_contains`, only invocations whose payload contains that text
        count (so a test's faults cannot hit another test's executions). Returns the fault: its
        `used` lists the request ids of the invocations that got it, `remaining` how many are
        still pending. Thread-safe."""
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
