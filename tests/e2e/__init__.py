"""The end-to-end suite: the real state machine definition (statemachine/remediation.asl.json,
executed by moto) driving the real Rust handlers (cargo lambda watch) on moto's IAM, SNS,
EventBridge and SQS, through the local harness (local/harness/).

    .venv/bin/python -m pytest tests/e2e                       # what make test runs
    .venv/bin/python -m pytest tests/e2e -k "matrix and inline"
    .venv/bin/python -m pytest tests/e2e --timeout-case        # also the one-hour deadline

Decisions are taken the way a person takes them: the approval email's link is opened over HTTP
on the local approval server (what API Gateway does in AWS), and the page's own form is posted;
test_browser does it in headless Chromium (local/browser.py; `make test` installs Debian's
chromium and chromedriver, and the test FAILS without them). Only the tests that deliberately
send a decision the page cannot send call SendTaskSuccess directly. Whether a document grants
an action is asked of the project's own CLI (`iam-sentinel check --format json`).

Modules: test_decisions (approve, deny, the one-hour deadline), test_matrix (decision x
target: managed policy, inline policy, attachment; the deadlines on an 8 s deployment),
test_outcomes (what ends without a plain decision), test_safe_defaults, test_faults (injected
Lambda errors: Retry and Catch), test_loop_safety, test_load, test_browser, and last
test_no_token_leak. Helpers: driver (the Harness), person (the approval page), incidents (events
and targets), expect (shared expectations); conftest.py has the deployments."""
