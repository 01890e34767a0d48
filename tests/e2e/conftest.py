"""The end-to-end suite's deployments and hooks.

Session fixtures: `check` (the project's CLI, built once), `h` (the main deployment's Harness),
`short` (a second deployment whose approval deadline is 8 s, started on first use), `sw` (the
sweep's deployment, its decision record empty at first, started on first use), `one_hour`
(a deployment with the shortest real deadline, for the opt-in --timeout-case test) and
`deployments` (every deployment started so far, for the no-token-leak check, which runs last).
A failing test's report carries each deployment's explanation: the execution history's last
events and the function errors seen during the test."""

from __future__ import annotations

import contextlib
import time

import pytest

pytest.register_assert_rewrite(*(f"{__package__}.{m}" for m in
                                 ("driver", "expect", "incidents", "person")))

from harness import STACK_NAME, LocalStack  # noqa: E402
from harness.constants import ROOT  # noqa: E402
from harness.policy_check import PolicyCheck  # noqa: E402

from .driver import Harness  # noqa: E402

SHORT_DEADLINE_SECONDS = 8
# The rules file every deployment of the tests is built with (test_rules.py drives it).
E2E_RULES = ROOT / "tests" / "fixtures" / "rules" / "e2e.toml"
DEPLOYMENTS = pytest.StashKey[list]()
ONE_HOUR_SKIP = (
    "the shortest real deadline (ApprovalTimeoutHours=1) takes an hour: --timeout-case runs it "
    f"(make test PYTEST_ARGS=--timeout-case); test_matrix covers the path with an "
    f"{SHORT_DEADLINE_SECONDS} s APPROVAL_TIMEOUT")


def pytest_addoption(parser):
    group = parser.getgroup("iam-sentinel end to end")
    group.addoption("--timeout-case", action="store_true",
                    help="also run the one-hour approval deadline (waits about an hour)")
    group.addoption("--approval-timeout-hours", default="24",
                    help="ApprovalTimeoutHours of the main deployment (default 24)")
    group.addoption("--notify-clean", choices=["true", "false"], default="true",
                    help="NOTIFY_ON_CLEAN_CHANGES (default true, to exercise PublishClean)")
    group.addoption("--build-timeout", type=float, default=900,
                    help="seconds for a deployment's first invoke (the debug build), default 900")
    group.addoption("--cargo-target-dir",
                    help="CARGO_TARGET_DIR for cargo lambda watch (default: the workspace's "
                         "target/; an empty directory times a cold debug build)")


def pytest_configure(config):
    config.stash[DEPLOYMENTS] = []


def pytest_collection_modifyitems(config, items):
    """The one-hour test only with --timeout-case; the tests marked runs_last after all others
    (no-token-leak must see every token of the run)."""
    if not config.getoption("--timeout-case"):
        for item in items:
            if "one_hour" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=ONE_HOUR_SKIP))
    items.sort(key=lambda item: "runs_last" in item.keywords)


def _say(config, line: str):
    """A line on the terminal now, while a test's output is being captured."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(line)


@contextlib.contextmanager
def _deployment(config, check, what: str, **kwargs):
    """A LocalStack (functions kept as first built: edits made during the run do not reach it),
    warmed up, as a Harness; stopped when the session ends."""
    opt = config.option
    t0 = time.monotonic()
    with LocalStack(quiet=True, reload_on_change=False, rules_file=E2E_RULES,
                    notify_on_clean_changes=opt.notify_clean == "true",
                    cargo_target_dir=opt.cargo_target_dir, **kwargs) as stack:
        warm = stack.warm_up(first_timeout=opt.build_timeout)
        h = Harness(stack, check)
        config.stash[DEPLOYMENTS].append(h)
        _say(config, f"[{what}] up in {time.monotonic() - t0:.1f} s (first invokes "
                     f"{sum(warm.values()):.1f} s): {stack.main_state_machine_name}, "
                     f"APPROVAL_TIMEOUT={stack.approval_timeout}, logs {stack.run_dir}")
        yield h


@pytest.fixture(scope="session")
def check():
    """`iam-sentinel check --format json`, built once (harness.policy_check)."""
    return PolicyCheck.build()


@pytest.fixture(scope="session")
def h(pytestconfig, check):
    """The main deployment: ApprovalTimeoutHours from --approval-timeout-hours (24)."""
    with _deployment(pytestconfig, check, "main deployment",
                     approval_timeout_hours=pytestconfig.option.approval_timeout_hours) as main:
        yield main


@pytest.fixture(scope="session")
def short(pytestconfig, check, h):
    """The short-deadline deployment, started on first use: APPROVAL_TIMEOUT=8s, its state
    machine iam-sentinel-remediation-short-deadline, logs in the main run directory's
    short-deadline/.

    A deployment of its own, not a second state machine next to the main one, because the
    emailed link is one deployment's: request-approval builds it from ONE APPROVAL_URL, and
    the approval API turns the link's id (an execution name) into an execution of ONE state
    machine (STATE_MACHINE_ARN). As in AWS, one deployment: one deadline, one state machine,
    one approval API."""
    with _deployment(pytestconfig, check, "short-deadline deployment",
                     approval_timeout_seconds=SHORT_DEADLINE_SECONDS,
                     state_machine_name=f"{STACK_NAME}-remediation-short-deadline",
                     run_dir=h.stack.run_dir / "short-deadline") as deployment:
        yield deployment


@pytest.fixture(scope="session")
def sw(pytestconfig, check, h):
    """The sweep's deployment, started on first use, with its trigger: its decision record
    starts empty, so its first sweep is the baseline whatever the other tests left in the main
    deployment's IAM; logs in sweep/."""
    with _deployment(pytestconfig, check, "sweep deployment",
                     state_machine_name=f"{STACK_NAME}-remediation-sweep",
                     run_dir=h.stack.run_dir / "sweep") as deployment:
        deployment.stack.deploy_trigger()
        yield deployment


@pytest.fixture(scope="session")
def one_hour(pytestconfig, check, h):
    """A deployment with ApprovalTimeoutHours=1 (--timeout-case only); logs in one-hour/."""
    with _deployment(pytestconfig, check, "one-hour deployment", approval_timeout_hours=1,
                     state_machine_name=f"{STACK_NAME}-remediation-1h",
                     run_dir=h.stack.run_dir / "one-hour") as deployment:
        yield deployment


@pytest.fixture(scope="session")
def deployments(pytestconfig) -> list[Harness]:
    """Every deployment started so far in this session, the main one first."""
    return pytestconfig.stash[DEPLOYMENTS]


@pytest.fixture(autouse=True)
def _test_bounds(pytestconfig):
    """Marks where each test begins, for the explanation of a failure."""
    for deployment in pytestconfig.stash[DEPLOYMENTS]:
        deployment.begin_test()


@pytest.fixture
def note(request):
    """note(text): a line kept with the test's result and shown at the end of the run."""
    return lambda text: request.node.user_properties.append(("note", text))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report gets each deployment's explanation (explain_test)."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        for deployment in item.config.stash[DEPLOYMENTS]:
            text = deployment.explain_test()
            if text:
                report.sections.append(
                    (f"what {deployment.stack.main_state_machine_name} saw", text))
    return report


def pytest_report_teststatus(report, config):
    """Each test's line says why it was skipped or failed: SKIPPED (the reason), FAILED or
    ERROR (the first line of the assertion's or exception's message)."""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        return "skipped", "s", (f"SKIPPED ({reason})", {"yellow": True})
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        reason = f" ({crash.message.split(chr(10), 1)[0][:300]})" if crash else ""
        if report.when == "call":
            return "failed", "F", (f"FAILED{reason}", {"red": True})
        return "error", "E", (f"ERROR{reason}", {"red": True})
    return None


def pytest_terminal_summary(terminalreporter, config):
    notes = [(report.nodeid, text) for reports in terminalreporter.stats.values()
             for report in reports if getattr(report, "when", None) == "call"
             for key, text in getattr(report, "user_properties", []) if key == "note"]
    if notes:
        terminalreporter.section("notes")
        for nodeid, text in notes:
            terminalreporter.write_line(f"{nodeid.split('::', 1)[-1]}: {text}")
    for deployment in config.stash[DEPLOYMENTS]:
        router = deployment.stack.router
        unknown = [i["function"] for i in router.invocations if i.get("status") == 404]
        left = router.clear_injected()
        terminalreporter.write_line(
            f"logs of {deployment.stack.main_state_machine_name}: {deployment.stack.run_dir}"
            + (f"; invocations of unknown functions: {unknown}" if unknown else "")
            + (f"; {left} injected errors left unused" if left else ""))
