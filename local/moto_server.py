"""moto's server, with DynamoDB's single-item writes atomic as in AWS.

moto serves each request on its own thread and evaluates a condition expression, then writes,
with nothing between: two conditional PutItems on one key at once may both succeed. In AWS
each write is atomic ("Individual write operations such as UpdateItem are atomic and always
operate on the most recent version of the item, regardless of concurrency": DynamoDB developer
guide, best practices for handling concurrent updates), and the sweep's `deciding` claim relies
on it. One lock around the backend's writes gives moto the same guarantee.

Usage: the arguments of `moto_server` (`python local/moto_server.py -H 127.0.0.1 -p PORT`).
"""

import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

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


if __name__ == "__main__":
    make_writes_atomic()
    sys.exit(main())
