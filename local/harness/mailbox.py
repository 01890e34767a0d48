"""Where the notification topic's email goes locally: an `http` subscriber on 127.0.0.1 that
keeps every message, for the demo and the bench to read as a person reads their mail."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

from .loopback import LoopbackServer


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
