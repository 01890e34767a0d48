#!/usr/bin/env python3
"""A burst on the local stack: N incidents (default 300) arriving at once, as a Terraform apply
makes them, while IAM throttles a fraction (default 20 %) of the functions' IAM calls.

What: starts the local stack (local/harness/: moto executing the real ASL, the six real Rust
functions under `cargo lambda watch`, the router), warms it up (not timed), creates N bad
managed policies through IAM (not timed), then at t0 starts the N executions at once (the
CloudTrail CreatePolicy event of each as input, from 20 threads) while the router answers a
seeded fraction of the functions' IAM calls with IAM's own 400 Throttling (Router
.inject_aws_fault; real HTTP, IAM's XML error). The SDK retries some, the state machine the
rest (docs/workflow-contract.md#timeouts-and-retries).

Each function runs at most --concurrency instances (default 10), as Lambda's concurrency
limit: an invocation above it is throttled (Lambda.TooManyRequestsException) and the workflow
retries it, as in AWS.

Measured: for each incident, event -> quarantine = t0 until the quarantine-policy invocation
that quarantined it answered (the router's record; the function changes IAM before it
answers); the time to the last quarantine; how many IAM calls were throttled and how many
step attempts failed before succeeding. Checked at the end: every policy's default version in
IAM is the quarantine (v2, one version added), every execution is waiting for its approval
(none failed), each asked exactly once.

Prints the figures; writes them to target/bench/local-burst.json. Everything started is
stopped at the end; exit 1 if any incident was not quarantined, failed, or was asked twice.

Usage: .venv/bin/python bench/local-burst.py [--incidents 300] [--throttle 0.2] [--seed 11]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "local"))
import demo  # noqa: E402  (the CloudTrail record, what is left running)
import harness  # noqa: E402
from harness.router import AwsFault  # noqa: E402

DEFAULT_OUT = ROOT / "target" / "bench" / "local-burst.json"


def out(line: str = ""):
    print(line, flush=True)


def nearest_rank(sorted_values: list[float], p: float) -> float:
    return sorted_values[max(1, math.ceil(p / 100 * len(sorted_values))) - 1]


def quarantined_at(stack, arns: set[str]) -> dict[str, float]:
    """Execution ARN -> when its quarantine-policy invocation answered without error."""
    with stack.router._lock:
        records = list(stack.router.invocations)
    done = {}
    for r in records:
        if r.get("binary") != "quarantine-policy" or "duration" not in r or r.get("error_type"):
            continue
        arn = json.loads(r["payload"]).get("executionArn")
        if arn in arns and arn not in done:
            done[arn] = r["started"] + r["duration"]
    return done


def failed_attempts(stack, binary: str, since: float) -> dict[str, int]:
    """The function's invocations since `since` that failed, by error (each one retried by the
    workflow)."""
    with stack.router._lock:
        errors = [r["error_type"] for r in stack.router.invocations
                  if r.get("binary") == binary and r.get("error_type") and r["started"] >= since]
    return {e: errors.count(e) for e in sorted(set(errors))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--throttle", type=float, default=0.2,
                    help="fraction of the functions' IAM calls answered Throttling (default 0.2)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--concurrency", type=int, default=10,
                    help="each function's concurrency limit, as Lambda's: invocations above it "
                         "are throttled (Lambda.TooManyRequestsException); default 10")
    ap.add_argument("--timeout", type=float, default=1800,
                    help="seconds for every incident to be quarantined and asked (default 1800)")
    ap.add_argument("--build-timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    n = args.incidents
    tag = time.strftime("%H%M%S")
    out(f"Burst: {n} incidents at once, {args.throttle:.0%} of IAM calls throttled "
        f"(seed {args.seed}), each function's concurrency {args.concurrency}.")
    code, stack = 1, None
    try:
        stack = harness.LocalStack(quiet=True, reload_on_change=False,
                                   lambda_concurrency=args.concurrency)
        out(f"  Logs: {stack.run_dir.relative_to(ROOT)}/")
        with stack:
            out("  Warming up the functions (not timed; the first invoke may build them)...")
            stack.warm_up(first_timeout=args.build_timeout)
            iam, sfn = stack.client("iam"), stack.client("stepfunctions")
            out(f"  Creating {n} bad policies (not timed)...")
            policies = [iam.create_policy(PolicyName=f"burst-{tag}-{i:03d}",
                                          PolicyDocument=demo.POLICY_DOCUMENT)["Policy"]
                        for i in range(n)]
            events = [{"version": "0", "id": f"burst-{tag}-{i:03d}",
                       "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
                       "account": harness.ACCOUNT, "time": p["CreateDate"].strftime(
                           "%Y-%m-%dT%H:%M:%SZ"), "region": harness.REGION, "resources": [],
                       "detail": demo.cloudtrail_create_policy(p, demo.POLICY_DOCUMENT,
                                                               p["CreateDate"])}
                      for i, p in enumerate(policies)]
            fault = stack.router.inject_aws_fault(AwsFault(
                "iam", "*", throttle=args.throttle, seed=args.seed))
            out(f"  t0: starting {n} executions at once...")
            t0 = time.time()

            def start(i: int) -> str:
                return stack.start_incident(f"burst-{tag}-{i:03d}", events[i])

            with ThreadPoolExecutor(max_workers=20) as pool:
                arns = list(pool.map(start, range(n)))
            started = time.time() - t0
            out(f"  all {n} started in {started:.1f} s; waiting for the quarantines...")
            done, asked, ended, last_print = {}, set(), set(), 0.0
            deadline = t0 + args.timeout
            # Until every execution has asked for its approval or ended (failed), or the deadline.
            while len(asked | ended) < n and time.time() < deadline:
                time.sleep(2)
                done = quarantined_at(stack, set(arns))
                asked = {a for a in arns if stack.router.invocations_of("request-approval", a)}
                if time.time() - last_print > 30:
                    last_print = time.time()
                    ended = {a for a in set(arns) - asked
                             if sfn.describe_execution(executionArn=a)["status"] != "RUNNING"}
                    out(f"    {time.time() - t0:6.0f} s: {len(done)}/{n} quarantined, "
                        f"{len(asked)} asked for approval, {len(ended)} ended otherwise")
            stack.router.clear_aws_faults(fault)
            described = {a: sfn.describe_execution(executionArn=a) for a in arns}
            statuses = {a: d["status"] for a, d in described.items()}
            # From each execution's own start (moto's StartExecution is slow under the burst;
            # AWS starts executions in milliseconds).
            from_start = sorted(done[a] - described[a]["startDate"].timestamp() for a in done)
            twice = [a for a in arns
                     if len([r for r in stack.router.invocations_of("request-approval", a)
                             if not r.get("error_type")]) > 1]
            versions = {p["Arn"]: iam.get_policy(PolicyArn=p["Arn"])["Policy"]["DefaultVersionId"]
                        for p in policies}
            in_force = sum(1 for v in versions.values() if v == "v2")
            latencies = sorted(done[a] - t0 for a in done)
            throttled = sum(1 for _, what, _ in fault.hits if what == "throttled")
            result = {
                "incidents": n, "throttle_fraction": args.throttle, "seed": args.seed,
                "function_concurrency": args.concurrency,
                "quarantined": len(done), "quarantine_v2_in_force": in_force,
                "asked_for_approval": len(asked), "asked_twice": len(twice),
                "failed": sum(1 for s in statuses.values() if s == "FAILED"),
                "running": sum(1 for s in statuses.values() if s == "RUNNING"),
                "started_in_s": started,
                "last_quarantine_s": latencies[-1] if latencies else None,
                "event_to_quarantine_s": {
                    "p50": statistics.median(latencies), "p99": nearest_rank(latencies, 99),
                    "min": latencies[0], "max": latencies[-1]} if latencies else None,
                "execution_start_to_quarantine_s": {
                    "p50": statistics.median(from_start), "p99": nearest_rank(from_start, 99),
                    "max": from_start[-1]} if from_start else None,
                "iam_calls_through_the_fault": len(fault.hits), "iam_calls_throttled": throttled,
                "failed_attempts": {b: failed_attempts(stack, b, t0) for b in
                                    ("analyse-change", "quarantine-policy", "publish-outcome",
                                     "request-approval")},
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                           f"Python {platform.python_version()}",
                "functions": "debug builds under cargo lambda watch, on moto",
                "when": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "run_dir": str(stack.run_dir),
            }
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
            ok = (len(done) == n and in_force == n and result["failed"] == 0
                  and len(asked) == n and not twice)
            e2q = result["event_to_quarantine_s"] or {}
            out(f"  quarantined {len(done)}/{n} (v2 in force: {in_force}); asked for approval "
                f"{len(asked)}/{n}, twice: {len(twice)}; failed: {result['failed']}")
            out(f"  time to the last quarantine: {result['last_quarantine_s'] or float('nan'):.1f} s;"
                f" event -> quarantine p50 {e2q.get('p50', float('nan')):.1f} s, "
                f"p99 {e2q.get('p99', float('nan')):.1f} s")
            s2q = result["execution_start_to_quarantine_s"] or {}
            out(f"  from each execution's start: p50 {s2q.get('p50', float('nan')):.1f} s, "
                f"p99 {s2q.get('p99', float('nan')):.1f} s")
            out(f"  IAM calls throttled: {throttled} of {len(fault.hits)}; failed invocations "
                f"(each retried): {result['failed_attempts']}")
            out(f"  {'ALL QUARANTINED, NONE FAILED' if ok else 'NOT ALL QUARANTINED OR SOME FAILED'}"
                f"; written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
            code = 0 if ok else 1
    except KeyboardInterrupt:
        out("\nInterrupted: stopping everything...")
        code = 130
    finally:
        if stack is not None:
            stack.stop()
    if stack is not None and demo.said_left_running(stack, out):
        code = code or 1
    return code


if __name__ == "__main__":
    sys.exit(main())
