"""bench/scan-bench.py maps each tool's answer onto the shared question, and names the reason
for each disagreement, on a small account whose answers are known (no timings asserted).

tests/fixtures/bench/scan-question.json: role "power" (inline Allow NotAction iam/organizations/
account), role "reader" (AWS managed IAMReadOnlyAccess), role "ops" (a managed policy whose
non-default v1 allows "*"; default v2 allows ec2:TerminateInstances on tagged instances),
user "alice" (group "admins" with inline Allow "*"; attached Deny iam:*), user "bob" (inline
iam:PassRole on role/app-* and s3:DeleteObject on objects; boundary allowing s3 and logs),
role "cleaner" (inline s3:DeleteBucket on object ARNs: grants nothing).
iam-sentinel's answer is a live `iam-sentinel scan` of it (cargo run: the build `make test`
has just made), so a change to the engine or to the scan's JSON shows here.
"""
import importlib.util
import json
import sys
from pathlib import Path

import subprocess

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "bench" / "scan-question.json"
RESTRICTED = "iam:*,s3:Delete*,kms:ScheduleKeyDeletion,ec2:TerminateInstances,organizations:LeaveOrganization"
ALL_BUT_IAM = ["ec2:TerminateInstances", "kms:ScheduleKeyDeletion", "s3:Delete*"]

sys.path.insert(0, str(ROOT / "bench"))
_spec = importlib.util.spec_from_file_location("scan_bench", ROOT / "bench" / "scan-bench.py")
scan_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scan_bench)
import scan_question  # noqa: E402


@pytest.fixture(scope="module")
def answers():
    restricted = scan_question.patterns(RESTRICTED)
    return {"iam-sentinel": scan_bench.engine_report(live_scan()),
            "cloudsplaining": scan_bench.run_cloudsplaining(Path(sys.executable).parent, FIXTURE, restricted),
            "parliament": scan_bench.run_parliament(Path(sys.executable).parent, FIXTURE, RESTRICTED)}


def live_scan():
    """`iam-sentinel scan` of the fixture, as JSON; exit 1 means it found grants."""
    run = subprocess.run(["cargo", "run", "--locked", "--quiet", "--bin", "iam-sentinel", "--",
                          "scan", str(FIXTURE), "--format", "json", "--restricted", RESTRICTED],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 1, run.stderr
    return run.stdout


def patterns_by_principal(report):
    return {k: sorted(v) for k, v in report["answers"].items()}


def test_iam_sentinel_answer_per_principal(answers):
    """The scan says what the design says it must (not cleaner)."""
    assert patterns_by_principal(answers["iam-sentinel"]) == {
        "role/power": ALL_BUT_IAM,
        "role/reader": ["iam:*"],
        "role/ops": ["ec2:TerminateInstances"],
        "user/alice": sorted(ALL_BUT_IAM + ["organizations:LeaveOrganization"]),  # iam:* denied
        "user/bob": ["s3:Delete*"],  # iam:PassRole outside the boundary
    }


def test_cloudsplaining_answer_per_principal(answers):
    assert patterns_by_principal(answers["cloudsplaining"]) == {
        "role/power": ALL_BUT_IAM,                      # NotAction on "*": expanded
        "role/ops": ["ec2:TerminateInstances"],         # the default version, not v1's "*"
        "user/alice": sorted(ALL_BUT_IAM + ["iam:*"]),  # no LeaveOrganization (no resource type)
        "role/cleaner": ["s3:Delete*"],                 # resources ignored
    }  # not reader (read level only), not bob (a user's inline ARNs: unflagged)


def test_parliament_answer_per_principal(answers):
    assert patterns_by_principal(answers["parliament"]) == {
        "role/ops": ["ec2:TerminateInstances"],
        "user/alice": sorted(ALL_BUT_IAM + ["iam:*", "organizations:LeaveOrganization"]),
        "user/bob": ["iam:*", "s3:Delete*"],
    }  # not power (NotAction), not reader (AWS managed: never read)


def reasons(comparison):
    return sorted((r["side"], r["reason"], r["pairs"]) for r in comparison["reasons"])


def test_each_disagreement_with_cloudsplaining_has_its_reason(answers):
    details = json.loads(FIXTURE.read_text(encoding="utf-8"))
    c = scan_bench.compare(answers["iam-sentinel"], answers["cloudsplaining"],
                           scan_bench.Reasons(details, scan_question.patterns(RESTRICTED)))
    assert (c["both"], c["only_engine"], c["only_other"]) == (7, 3, 2)
    assert reasons(c) == [("only cloudsplaining", "deny-ignored", 1),          # alice iam:*
                          ("only cloudsplaining", "resource-type", 1),         # cleaner DeleteBucket
                          ("only iam-sentinel", "no-resource-type", 1),        # alice LeaveOrganization
                          ("only iam-sentinel", "read-or-list-level", 1),      # reader iam:*
                          ("only iam-sentinel", "user-inline-unflagged", 1)]   # bob s3:DeleteObject


def test_each_disagreement_with_parliament_has_its_reason(answers):
    details = json.loads(FIXTURE.read_text(encoding="utf-8"))
    c = scan_bench.compare(answers["iam-sentinel"], answers["parliament"],
                           scan_bench.Reasons(details, scan_question.patterns(RESTRICTED)))
    assert (c["both"], c["only_engine"], c["only_other"]) == (6, 4, 2)
    assert reasons(c) == [("only iam-sentinel", "aws-managed-skipped", 1),     # reader iam:*
                          ("only iam-sentinel", "not-action", 3),              # power
                          ("only parliament", "deny-ignored", 1),              # alice iam:*
                          ("only parliament", "outside-boundary", 1)]          # bob iam:PassRole
