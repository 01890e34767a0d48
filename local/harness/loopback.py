"""The base of every server the local stack runs itself (router, approval server, mailbox)."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path


def reply(req: http.server.BaseHTTPRequestHandler, status: int,
          headers: list[tuple[str, str]], body: bytes) -> int:
    """Sends one whole answer (its Content-Length set; no body for HEAD); returns the status."""
    req.send_response(status)
    for k, v in headers:
        req.send_header(k, v)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    if req.command != "HEAD":
        req.wfile.write(body)
    return status


class _ThreadingServer(http.server.ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of connections (25 approval pages
    # opened at once) overflows it and the kernel resets some of them, which API Gateway and
    # Lambda never do. The kernel caps the backlog at net.core.somaxconn.
    request_queue_size = 1024
    daemon_threads = True


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1, on a port the kernel chose: bound at once, so the
    port can go into the functions' configuration before the server starts. With a log file
    that any handler thread may write to."""

    def __init__(self, name: str, handler: type, log_path: Path):
        self._log = open(log_path, "a", buffering=1)
        self._log_lock = threading.Lock()
        self.server = _ThreadingServer(("127.0.0.1", 0), handler)
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
