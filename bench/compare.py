#!/usr/bin/env python3
"""Compare the engine's benchmark report with parliament's.

What: reads two reports of the same shape (bench/parliament-bench.py writes
one; the Rust bench writes the other with "tool": "iam-sentinel"):
    {"tool", "version", "restricted", "policies", "seconds",
     "policies_per_second", "p50_us", "p99_us", "verdicts": {name: [action]},
     "errors": {name: message}}
and prints
  1. a side-by-side performance table, the throughput ratio (engine /
     parliament) and whether the targets hold (ratio >= 100, engine p99 < 50 us);
  2. verdict agreement policy by policy, each disagreement with the actions
     only one side reports (first few, with totals);
  3. the actions behind most disagreements;
  4. with --corpus, the reason for each policy-action pair only one side
     reports, and a count per reason; a pair no known reason explains is
     printed as UNEXPLAINED.

Why: one command that says whether the engine is fast enough and where its
answers differ from the reference tool, and why.

Reasons (docs/BENCHMARKS.md says who is right in each):
  newer-than-parliament: the action is not in parliament's own definitions
      (its report's "known_actions"), so parliament cannot report it;
  not-action: an Allow with NotAction grants it; parliament expands Action only;
  no-resource-type: the catalog lists no resource type for the action (iam:ListRoles),
      so the engine takes an Allow to apply on any resource (safe side: AWS's own
      examples allow s3:ListAllMyBuckets, also without one, on arn:aws:s3:::*);
      parliament counts it only on "*";
  other-resource-type: the statement names ARNs of a resource type the action
      accepts but parliament does not count (iam:SimulatePrincipalPolicy on role
      ARNs: it accepts group, role and user);
  arn-slide: every statement that grants it names resources with a `*` before
      the resource part (arn:*:..., arn:aws:iam::*:...), which IAM lets expand
      past a colon; parliament matches those segments one by one, the engine
      keeps the grant unless the name's character set rules it out;
  scoped-deny (only parliament): an unconditional Deny on resources other
      than "*" covers every resource type of the action; parliament removes a
      grant only on the identical Resource string.

Exit status: 0 whatever the comparison shows; 2 if a file is missing or
malformed (including a parliament throughput of 0, which leaves no ratio).

Usage: .venv/bin/python bench/compare.py target/bench/engine.json target/bench/parliament.json
"""
import argparse
import collections
import fnmatch
import json
import sys

TARGET_RATIO = 100
TARGET_P99_US = 50
NUMBERS = ("policies", "seconds", "policies_per_second", "p50_us", "p99_us")
SHOW = 5  # actions shown per side for one disagreement
TOP_ACTIONS = 25


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def load(path):
    """Load and validate one report; exit 2 with a clear message if it is bad."""
    try:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except (OSError, ValueError) as e:
        fail(f"{path}: not readable JSON: {e}")
    if not isinstance(report, dict):
        fail(f"{path}: top level must be a JSON object")
    for key in ("tool", "version"):
        if not isinstance(report.get(key), str):
            fail(f"{path}: '{key}' must be a string")
    for key in NUMBERS:
        value = report.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(f"{path}: '{key}' must be a number")
    restricted = report.get("restricted")
    if not isinstance(restricted, list) or not all(isinstance(p, str) for p in restricted):
        fail(f"{path}: 'restricted' must be a list of strings")
    verdicts = report.get("verdicts")
    if not isinstance(verdicts, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in verdicts.values()):
        fail(f"{path}: 'verdicts' must map policy names to lists of action strings")
    errors = report.get("errors", {})
    if not isinstance(errors, dict):
        fail(f"{path}: 'errors' must map policy names to messages")
    report["errors"] = errors
    return report


def show(actions):
    """First few actions, then how many more."""
    shown = ", ".join(actions[:SHOW])
    return shown + (f", ... (+{len(actions) - SHOW})" if len(actions) > SHOW else "")


def performance(engine, parl):
    rows = [("tool", engine["tool"], parl["tool"]), ("version", engine["version"], parl["version"])]
    rows += [(key, f"{engine[key]:,.3f}".rstrip("0").rstrip("."), f"{parl[key]:,.3f}".rstrip("0").rstrip("."))
             for key in NUMBERS]
    rows.append(("errors", str(len(engine["errors"])), str(len(parl["errors"]))))
    rows.insert(0, ("", "engine", "parliament"))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    for label, e, p in rows:
        print(f"{label:{width[0]}}  {e:>{width[1]}}  {p:>{width[2]}}")

    if parl["policies_per_second"] <= 0:
        fail("parliament report has policies_per_second <= 0; cannot compute the ratio")
    ratio = engine["policies_per_second"] / parl["policies_per_second"]
    ratio_ok = ratio >= TARGET_RATIO
    p99_ok = engine["p99_us"] < TARGET_P99_US
    print()
    print(f"throughput ratio (engine / parliament): {ratio:,.1f}x  "
          f"target >= {TARGET_RATIO}x: {'PASS' if ratio_ok else 'FAIL'}")
    print(f"engine p99: {engine['p99_us']:,.3f} us  target < {TARGET_P99_US} us: "
          f"{'PASS' if p99_ok else 'FAIL'}")
    if engine["policies"] != parl["policies"]:
        print(f"warning: the reports cover different numbers of policies "
              f"({engine['policies']} vs {parl['policies']})")


def verdicts(engine, parl):
    if [p.lower() for p in engine["restricted"]] != [p.lower() for p in parl["restricted"]]:
        print(f"warning: restricted patterns differ: engine {engine['restricted']} "
              f"vs parliament {parl['restricted']}")
    ev, pv = engine["verdicts"], parl["verdicts"]
    both = sorted(set(ev) & set(pv))
    agree, disagreements = 0, []
    by_action = collections.defaultdict(lambda: [0, 0])  # action -> [only engine, only parliament]
    for name in both:
        e = {a.lower() for a in ev[name]}
        p = {a.lower() for a in pv[name]}
        if e == p:
            agree += 1
            continue
        only_e, only_p = sorted(e - p), sorted(p - e)
        disagreements.append((name, only_e, only_p))
        for a in only_e:
            by_action[a][0] += 1
        for a in only_p:
            by_action[a][1] += 1

    print(f"policies with a verdict from both: {len(both)}; agree: {agree}; "
          f"disagree: {len(disagreements)}")
    for label, names in (("only the engine has a verdict for", set(ev) - set(pv)),
                         ("only parliament has a verdict for", set(pv) - set(ev))):
        if names:
            print(f"{label} {len(names)}: {show(sorted(names))}")
    for side, report in (("engine", engine), ("parliament", parl)):
        for name, message in sorted(report["errors"].items()):
            print(f"{side} error: {name}: {message}")

    if disagreements:
        print()
        print("disagreements (most differing actions first):")
        disagreements.sort(key=lambda d: (-(len(d[1]) + len(d[2])), d[0]))
        for name, only_e, only_p in disagreements:
            print(f"  {name}")
            if only_e:
                print(f"    only engine ({len(only_e)}): {show(only_e)}")
            if only_p:
                print(f"    only parliament ({len(only_p)}): {show(only_p)}")

        print()
        print(f"actions behind most disagreements ({min(TOP_ACTIONS, len(by_action))} of {len(by_action)}; "
              f"counts are policies):")
        print(f"  {'action':<50} {'only engine':>11} {'only parl.':>10}")
        ranked = sorted(by_action.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        for action, (e, p) in ranked[:TOP_ACTIONS]:
            print(f"  {action:<50} {e:>11} {p:>10}")


def as_list(value):
    return value if isinstance(value, list) else [value]


def glob(pattern, text):
    """IAM's `*` and `?`, case-insensitively, `[` literal."""
    return fnmatch.fnmatchcase(text.lower(), pattern.lower().replace("[", "[[]"))


CATALOG = "crates/policy-engine/data/iam-actions.txt"


def resource_types():
    """{lowercase action: [resource type names]} from the engine's catalog."""
    types = {}
    with open(CATALOG, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                action, *names = line.split()
                types[action.lower()] = names
    return types


def reason(action, document, known_to_parliament, types):
    """Why only the engine reports `action` for this document, or None if no known reason."""
    if action not in known_to_parliament:
        return "newer-than-parliament"
    allows = [s for s in as_list(document.get("Statement", [])) if s.get("Effect") == "Allow"]
    if any("NotAction" in s and not any(glob(p, action) for p in as_list(s["NotAction"]))
           for s in allows):
        return "not-action"
    if types.get(action) == []:
        return "no-resource-type"
    granting = [s for s in allows if any(glob(p, action) for p in as_list(s.get("Action", [])))]
    named = lambda r: ":".join(r.split(":")[5:]).split("/")[0]  # noqa: E731
    if any(named(r) in types.get(action, []) for s in granting for r in as_list(s.get("Resource", []))):
        return "other-resource-type"
    slides = lambda r: r != "*" and "*" in ":".join(r.split(":")[:5])  # noqa: E731
    if granting and all("Resource" in s and any(slides(r) for r in as_list(s["Resource"]))
                        for s in granting):
        return "arn-slide"
    return None


def parliament_only_reason(action, document):
    """Why only parliament reports `action`, or None if no known reason."""
    denies = [s for s in as_list(document.get("Statement", []))
              if s.get("Effect") == "Deny" and "Condition" not in s
              and any(glob(p, action) for p in as_list(s.get("Action", [])))]
    if any(as_list(s.get("Resource", [])) != ["*"] for s in denies):
        return "scoped-deny"
    return None


def reasons(engine, parl, corpus_path):
    """Print each disagreement's pairs with their reason, then a count per reason."""
    documents = {}
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                entry = json.loads(line)
                documents[entry["name"]] = entry["document"]
    known = {a.lower() for a in parl.get("known_actions", [])}
    types = resource_types()
    if not known:
        print("warning: the parliament report has no known_actions; re-run bench/parliament-bench.py")
    counts = collections.Counter()
    policies = collections.defaultdict(set)
    unexplained = []
    for name in sorted(set(engine["verdicts"]) & set(parl["verdicts"])):
        e = {a.lower() for a in engine["verdicts"][name]}
        p = {a.lower() for a in parl["verdicts"][name]}
        for action in sorted(e - p):
            why = reason(action, documents.get(name, {}), known, types) or "UNEXPLAINED"
            counts[why] += 1
            policies[why].add(name)
            if why == "UNEXPLAINED":
                unexplained.append((name, f"only engine: {action}"))
        for action in sorted(p - e):
            why = parliament_only_reason(action, documents.get(name, {})) or "UNEXPLAINED"
            counts[why] += 1
            policies[why].add(name)
            if why == "UNEXPLAINED":
                unexplained.append((name, f"only parliament: {action}"))
    print("reasons for the pairs only one side reports (pairs, policies):")
    for why in sorted(counts, key=lambda w: (w == "UNEXPLAINED", w)):
        print(f"  {why:<22} {counts[why]:>5} {len(policies[why]):>5}   "
              f"e.g. {show(sorted(policies[why]))}")
    for name, pair in unexplained:
        print(f"  UNEXPLAINED {name}: {pair}")
    return not unexplained


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", help="engine report, e.g. target/bench/engine.json")
    parser.add_argument("parliament", help="parliament report, e.g. target/bench/parliament.json")
    parser.add_argument("--corpus", help="the corpus both ran on, to give each disagreement its reason")
    args = parser.parse_args()
    engine, parl = load(args.engine), load(args.parliament)
    performance(engine, parl)
    print()
    verdicts(engine, parl)
    if args.corpus:
        print()
        reasons(engine, parl, args.corpus)


if __name__ == "__main__":
    main()
