"""A Terraform-sized burst: 300 incidents at once while IAM throttles a fifth of the functions'
IAM calls and each function is held to 10 concurrent instances, as Lambda's concurrency limit
would (issue 11's burst). Run by the benchmark itself (bench/local-burst.py, on a stack of its
own), so `make test` and `make bench` check the same thing; the figures are the bench's."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.constants import ROOT

INCIDENTS = 300


def test_300_incidents_at_once_with_iam_throttling_are_all_quarantined_and_asked_once(tmp_path):
    out = tmp_path / "burst.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "local-burst.py"), "--incidents", str(INCIDENTS),
         "--throttle", "0.2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=2400)
    assert out.exists(), f"the burst wrote no result (exit {run.returncode}):\n{run.stdout[-3000:]}"
    result = json.loads(out.read_text())
    assert result["iam_calls_throttled"] > 0, "no IAM call was throttled: the fault did not apply"
    # every policy quarantined (its quarantine version in force), none failed, each asked once
    assert (result["quarantined"], result["quarantine_v2_in_force"]) == (INCIDENTS, INCIDENTS), \
        f"quarantined {result['quarantined']}, in force {result['quarantine_v2_in_force']}"
    assert result["failed"] == 0, f"{result['failed']} executions failed"
    assert (result["asked_for_approval"], result["asked_twice"]) == (INCIDENTS, 0), \
        f"asked {result['asked_for_approval']}, twice {result['asked_twice']}"
    assert run.returncode == 0, f"the burst exited {run.returncode}:\n{run.stdout[-3000:]}"
    print(f"\nburst: last quarantine at {result['last_quarantine_s']:.0f} s, "
          f"{result['iam_calls_throttled']} of {result['iam_calls_through_the_fault']} IAM calls "
          f"throttled")
