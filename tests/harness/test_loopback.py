"""The harness's own servers (router, approval server, mailbox) take a burst of connections as
API Gateway and Lambda do: every one is queued and answered, none is dropped or reset."""
import http.server
import socket

from harness.loopback import LoopbackServer, reply

# More than the 25 approval pages the load test opens at once, each through two servers.
BURST = 200


class Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        reply(self, 200, [], b"ok")


def test_a_burst_of_connections_made_before_any_is_accepted_is_each_answered(tmp_path):
    server = LoopbackServer("burst", Ok, tmp_path / "burst.log")
    clients = []
    try:
        # Not yet accepting: every connection waits in the listen queue. With socketserver's
        # backlog of 5 the kernel refuses the seventh's handshake and this connect times out.
        for _ in range(BURST):
            clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
        server.start()
        for c in clients:
            c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answers = [c.makefile("rb").readline() for c in clients]
        assert answers == [b"HTTP/1.1 200 OK\r\n"] * BURST
    finally:
        for c in clients:
            c.close()
        server.stop()
