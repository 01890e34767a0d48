"""The local iam-sentinel deployment: moto (server mode, executing the real ASL), the real Rust
Lambda handlers under `cargo lambda watch`, and the stand-ins for what moto cannot do itself.
The demo, the screenshots, the bench and the end-to-end tests (tests/e2e/) all run on it; how
to use it, and what differs from AWS: docs/LOCAL.md.

How the pieces talk:

    boto3 (tests) ──────────────────────────────> moto  :moto_port
    moto's ASL interpreter ──> router :router_port ─┬─> cargo lambda watch, one per function
       (MOTO_PORT=router_port)                      │     (/2015-03-31/functions/{name}/invocations)
                                                    └─> moto (everything else)
    Rust handlers (AWS_ENDPOINT_URL) ───────────> moto  :moto_port
    a browser / test ──> approval server :approval_port ──> router ──> approval-api
       (GET/POST /approvals/<id>, as API Gateway's HTTP API would; APPROVAL_URL)
    PutEvents ──> the template's rule ──> SQS ──> event source ──> router ──> start-incident
       (Lambda's event source mapping, emulated)                  ──> StartExecution
    SNS topic ──> SQS (raw), and the mailbox (http) when started

Everything listens on 127.0.0.1 on ports chosen at run time.

One module per concern:
    constants        paths, account, region, names
    template         template.yaml: function names, DefinitionSubstitutions, the trigger rule
    processes        spawning and stopping process trees, reserved ports, bounded waits
    loopback         the threaded loopback HTTP server the others build on
    router           the Lambda Invoke API (with fault injection), proxying the rest to moto
    approval_server  API Gateway's HTTP API for the approval page
    eventbridge      rules to SQS queues, CloudTrail events, the trigger and its queue's
                     event source mapping
    mailbox          the notification topic's email, kept for a person to read
    page             a browser's requests to the approval page, and reading its answers
    policy_check     the project's own CLI (`iam-sentinel check --format json`), built once
    stack            LocalStack: starts, wires and stops all of the above

Only the standard library, boto3 and PyYAML (a moto dependency) are used.
"""

from __future__ import annotations

from .constants import ACCOUNT, REGION, ROOT, STACK_NAME  # noqa: F401
from .mailbox import Mailbox, format_mail  # noqa: F401
from .page import PageParser, browser_request, form_fields  # noqa: F401
from .processes import alive, descendants, wait_until  # noqa: F401
from .stack import LocalStack  # noqa: F401
