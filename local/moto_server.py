"""moto's server, with DynamoDB's single-item writes atomic as in AWS, and state machine
definitions parsed one at a time.

moto serves each request on its own thread and evaluates a condition expression, then writes,
with nothing between: two conditional PutItems on one key at once may both succeed. In AWS
each write is atomic ("Individual write operations such as UpdateItem are atomic and always
operate on the most recent version of the item, regardless of concurrency": DynamoDB developer
guide, best practices for handling concurrent updates), and the sweep's `deciding` claim relies
on it. One lock around the backend's writes gives moto the same guarantee.

moto parses a state machine's definition again in each execution's own thread, and its ASL
preprocessor keeps its scope stack in a class attribute (`Preprocessor._query_language_per_scope`,
a list every instance shares): two executions started at once can pop each other's scope, and
one then dies in its thread (IndexError) and stays RUNNING, doing nothing, for ever. It happened
once in a 300-incident burst (4 Dec 2026). AWS parses a definition once, when it is created. One
lock around the parse keeps moto's preprocessors apart.

It listens on 127.0.0.1 only, on the port given (`python local/moto_server.py -p PORT`), or
with `-p 0` on a port the kernel picks as it binds: a port chosen beforehand and released could
be handed to another server in between. Once it listens it prints its port as the first line of
stdout, and nothing else there.
"""

import argparse
import functools
import os
import signal
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

_WRITES = threading.RLock()
# Every backend method that evaluates a condition and then writes; a batch write calls put_item
# and delete_item per item, as AWS evaluates each of its items on its own.
ATOMIC = ("put_item", "update_item", "delete_item", "transact_write_items")


def _atomic(write):
    @functools.wraps(write)
    def locked(*args, **kwargs):
        with _WRITES:
            return write(*args, **kwargs)
    return locked


def make_writes_atomic():
    for name in ATOMIC:
        setattr(DynamoDBBackend, name, _atomic(getattr(DynamoDBBackend, name)))


_PARSING = threading.Lock()


def make_parsing_serial():
    parse = AmazonStateLanguageParser.parse

    @functools.wraps(parse)
    def serial(definition):
        with _PARSING:
            return parse(definition)
    AmazonStateLanguageParser.parse = staticmethod(serial)


def serve(argv=None):
    """moto.server.main without its options this project does not use (host, TLS, reloader)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--port", type=int, required=True,
                        help="the port on 127.0.0.1; 0: one the kernel picks")
    port = parser.parse_args(argv).port
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto.server.main: a failing request's traceback in the answer
    server = make_server("127.0.0.1", port, app, threaded=True,
                         request_handler=MotoRequestHandler)  # bound and listening
    # Where moto's own clients (the ASL interpreter's among them) call, unless the caller
    # points them elsewhere (the local stack's router).
    os.environ.setdefault("MOTO_PORT", str(server.port))
    print(server.port, flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the reader may stop reading stdout
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    make_writes_atomic()
    make_parsing_serial()
    serve()
