#!/usr/bin/env python3
"""Run parliament's --auth-details-file mode and map what it read onto the scan question.

What: runs parliament.cli.main(["parliament", "--auth-details-file", FILE, "--json"]) (its
findings to /dev/null), with parliament.cli's analyze_policy_string wrapped so that every
document the mode analyses is also asked parliament's own
`policy.get_allowed_actions(raise_exceptions=False)`, kept where an action matches a
--restricted pattern. The mode itself decides which documents it reads: customer managed
policies (default version; it skips every AWS managed policy, `arn:aws:iam::aws:`, and
policies whose path or name looks like a service role's) and inline policies of users, roles
and groups. Per-document answers are then composed per principal (bench/scan_question.py:
own, attached and groups' policies; parliament has no notion of Deny across documents or of
permissions boundaries). Writes a report for bench/scan-bench.py:
    {"tool", "version", "seconds" (the mode plus the question, in this process),
     "documents_analysed",
     "answers": {principal: {pattern: [actions]}}, "errors": {document: message}}

Why: parliament's auth-details mode prints lint findings (RESOURCE_STAR, ...), not who can do
what; asking the policies it analysed, through its own analysis, is its answer to the question.

Usage: .venv/bin/python bench/parliament-auth-details.py FILE --restricted 'iam:*,...' --out REPORT
"""
import argparse
import contextlib
import json
import os
import time
import warnings
from pathlib import Path

import scan_question

# parliament imports the deprecated pkg_resources (see requirements-dev.txt).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
import parliament  # noqa: E402
import parliament.cli  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--restricted", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    restricted = scan_question.patterns(args.restricted)

    found, errors, analysed = {}, {}, [0]
    analyse = parliament.cli.analyze_policy_string

    def analyse_and_ask(policy_text, filepath=None, **kwargs):
        policy = analyse(policy_text, filepath, **kwargs)
        analysed[0] += 1
        try:
            allowed = policy.get_allowed_actions(raise_exceptions=False) if policy.policy_json is not None else []
        except Exception as e:  # parliament raises plain Exceptions (e.g. "Unknown data format")
            errors[filepath] = f"{type(e).__name__}: {e}"
            allowed = []
        found.setdefault(filepath, set()).update(
            a for a in allowed if any(scan_question.glob(p, a) for p in restricted))
        return policy

    parliament.cli.analyze_policy_string = analyse_and_ask
    start = time.perf_counter()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        parliament.cli.main(["parliament", "--auth-details-file", str(args.file), "--json"])
    seconds = time.perf_counter() - start

    details = json.loads(args.file.read_text(encoding="utf-8"))
    # Inline documents are recorded under their owner's ARN, managed ones under their own.
    answers = scan_question.compose(
        details, restricted,
        lambda owner, document: found.get(owner if isinstance(document, tuple) else document, set()))
    report = {"tool": "parliament", "version": parliament.__version__, "seconds": round(seconds, 3),
              "documents_analysed": analysed[0], "answers": answers, "errors": errors}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
