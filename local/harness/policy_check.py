"""The project's own policy engine, through its CLI: `iam-sentinel check --format json` (src/main.rs,
src/report.rs). The harness asks it whether a document grants an action instead of matching
wildcards itself, so a quarantine is judged by the same engine that planned it (NotAction,
wildcards on either side, case, unconditional Deny).

    check = PolicyCheck.build()              # cargo build, once; then only the binary runs
    check.grants(document, "s3:DeleteBucket")
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from .constants import ROOT

PACKAGE = "iam-sentinel"  # the workspace's root package; its binary has the same name


class PolicyCheckError(RuntimeError):
    """The CLI could not be built, or refused its input (exit status 2)."""


class PolicyCheck:
    def __init__(self, binary: Path):
        self.binary = binary

    @classmethod
    def build(cls, attempts: int = 6, pause: float = 30) -> "PolicyCheck":
        """`cargo build --locked` of the CLI (debug, the workspace's target directory); the
        binary's path is what cargo reports. The tree is shared with people editing Rust: a
        failed build is tried again after `pause` seconds, `attempts` times in all."""
        argv = ["cargo", "build", "--quiet", "--locked", "-p", PACKAGE, "--bin", PACKAGE,
                "--message-format=json-render-diagnostics"]
        env = dict(os.environ, CARGO_TERM_COLOR="never")
        for attempt in range(1, attempts + 1):
            done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode == 0:
                for line in done.stdout.splitlines():
                    message = json.loads(line) if line.startswith("{") else {}
                    if (message.get("reason") == "compiler-artifact"
                            and message["target"]["name"] == PACKAGE and message.get("executable")):
                        return cls(Path(message["executable"]))
                raise PolicyCheckError(f"cargo built {PACKAGE} but named no executable")
            if attempt < attempts:
                time.sleep(pause)
        raise PolicyCheckError(f"cargo build of {PACKAGE} failed {attempts} times; last: "
                               f"{done.stderr.strip()[-3000:]}")

    def report(self, document, restricted: list[str]) -> dict:
        """The JSON report for one document (a dict, or its JSON text, raw or percent-encoded)
        checked against the restricted patterns: {"restricted", "catalog", "files": [one]}."""
        text = document if isinstance(document, str) else json.dumps(document)
        done = subprocess.run([str(self.binary), "check", "--restricted", ",".join(restricted),
                               "--format", "json", "-"], input=text, capture_output=True,
                              text=True, timeout=60)
        if done.returncode not in (0, 1):
            raise PolicyCheckError(f"iam-sentinel check exited {done.returncode}: "
                                   f"{done.stderr.strip()[:2000]}")
        return json.loads(done.stdout)

    def granted(self, document, actions: list[str]) -> set[str]:
        """Which of `actions` (or patterns) the document grants."""
        [checked] = self.report(document, actions)["files"]
        if checked["status"] == "invalid":
            raise PolicyCheckError(f"not a policy the engine reads: {checked.get('error')}")
        hits = {hit["restricted"] for finding in checked.get("findings", [])
                for hit in finding["hits"]}
        return {a for a in actions if a in hits}

    def grants(self, document, action: str) -> bool:
        return action in self.granted(document, [action])
