"""API Gateway's part: the HTTP API that serves the approval page. Turns each HTTP request into
the payload 2.0 event, invokes `approval-api` through the router, and turns the function's
answer back into HTTP, as API Gateway's HTTP API does."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import re
import time
import urllib.parse
import uuid
from pathlib import Path

from .constants import ACCOUNT, HOP_BY_HOP
from .loopback import LoopbackServer, reply

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
        return reply(req, *answer)

    @staticmethod
    def _plain(req, status: int, text: str) -> int:
        return reply(req, status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())

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
