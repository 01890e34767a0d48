#!/usr/bin/env python3
"""Baseline benchmark: ask parliament which restricted actions each policy allows.

What: for every policy in a JSON Lines corpus (see bench/extract-corpus.py),
times the whole per-policy question with time.perf_counter_ns:
    parliament.analyze_policy_string(json text)   # parse + parliament's analysis
    policy.get_allowed_actions(raise_exceptions=False)
    keep actions matching any --restricted pattern
and writes a JSON report that bench/compare.py diffs against the engine's.

Why: parliament (pinned 1.6.4) is the reference Python tool; the engine's
targets are stated relative to it.

Matching: case-insensitive, `*` and `?` wildcards over the whole
`service:action` string (fnmatchcase on lowercased strings; `[` has no
special meaning). Verdicts are lowercased and sorted.

How parliament answers (parliament/policy.py, statement.py), in short:
candidates come only from `Action` elements (an Allow with NotAction adds
none); an Allow counts only on resources whose ARN fits the action's required
resource type (or "*"); a Deny without Condition removes an action on the
identical Resource string, or everywhere if its Resource is "*"; a Deny with
a Condition is ignored, as are Conditions on Allow; NotResource counts as
Resource "*"; actions missing from parliament's own action list are skipped
(raise_exceptions=False) or, with --strict, make the policy an error.

A policy that raises goes into "errors", never into "verdicts".

Usage:
  .venv/bin/python bench/parliament-bench.py --corpus target/bench/corpus.jsonl \
      --restricted 'iam:*,s3:Delete*' --out target/bench/parliament.json
"""
import argparse
import fnmatch
import json
import time
import warnings
from pathlib import Path

# parliament imports the deprecated pkg_resources (see requirements-dev.txt).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
import parliament  # noqa: E402


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def restricted_actions(policy_text, patterns, strict):
    """The whole per-policy question: parse, analyse, filter."""
    policy = parliament.analyze_policy_string(policy_text, ignore_private_auditors=True)
    if policy.policy_json is None:  # parliament reports bad JSON as a finding
        raise ValueError("; ".join(str(f.detail) for f in policy.findings))
    allowed = policy.get_allowed_actions(raise_exceptions=strict)
    return sorted({a.lower() for a in allowed
                   if any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns)})


def known_restricted(patterns):
    """The actions in parliament's own definitions that match a restricted pattern, lowercased."""
    known = (f"{service['prefix']}:{p['privilege']}".lower()
             for service in parliament.iam_definition for p in service["privileges"])
    return sorted({a for a in known if any(fnmatch.fnmatchcase(a, p) for p in patterns)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("target/bench/corpus.jsonl"))
    parser.add_argument("--restricted", required=True,
                        help="comma-separated patterns, e.g. 'iam:*,s3:Delete*'")
    parser.add_argument("--out", type=Path, default=Path("target/bench/parliament.json"))
    parser.add_argument("--strict", action="store_true",
                        help="unknown actions make the policy an error instead of being skipped")
    args = parser.parse_args()

    restricted = [p.strip() for p in args.restricted.split(",") if p.strip()]
    # Escape '[' so that fnmatch treats only '*' and '?' as wildcards.
    patterns = [p.lower().replace("[", "[[]") for p in restricted]
    corpus = [json.loads(line) for line in args.corpus.open(encoding="utf-8") if line.strip()]
    # Serialise outside the timed region: the question starts from policy text.
    texts = [(p["name"], json.dumps(p["document"])) for p in corpus]

    verdicts, errors, durations = {}, {}, []
    loop_start = time.perf_counter_ns()
    for name, text in texts:
        start = time.perf_counter_ns()
        try:
            verdicts[name] = restricted_actions(text, patterns, args.strict)
        except Exception as e:  # parliament raises plain Exceptions too
            errors[name] = f"{type(e).__name__}: {e}"
        durations.append((time.perf_counter_ns() - start, name))
    total_ns = time.perf_counter_ns() - loop_start

    slowest = sorted(durations, reverse=True)[:5]
    durations = sorted(d for d, _ in durations)
    seconds = total_ns / 1e9
    report = {
        "tool": "parliament",
        "version": parliament.__version__,
        "restricted": restricted,
        "policies": len(texts),
        "seconds": round(seconds, 6),
        "policies_per_second": round(len(texts) / seconds, 3) if seconds else 0,
        "p50_us": round(percentile(durations, 50) / 1e3, 3),
        "p99_us": round(percentile(durations, 99) / 1e3, 3),
        "verdicts": verdicts,
        "errors": errors,
        # The restricted actions parliament knows at all: what it cannot report (for compare.py).
        "known_actions": known_restricted(patterns),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    flagged = sum(1 for v in verdicts.values() if v)
    print(f"parliament {report['version']}: {report['policies']} policies in {seconds:.2f}s "
          f"({report['policies_per_second']}/s, p50 {report['p50_us']}us, p99 {report['p99_us']}us); "
          f"{flagged} allow a restricted action, {len(errors)} errors -> {args.out}")
    print("slowest: " + ", ".join(f"{name} {ns / 1e6:.0f}ms" for ns, name in slowest))


if __name__ == "__main__":
    main()
