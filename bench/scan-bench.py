#!/usr/bin/env python3
"""`iam-sentinel scan` against cloudsplaining and parliament's --auth-details-file mode.

What: for each authorization-details FILE (bench/generate-auth-details.py writes them), runs,
one after the other, each as the command a person runs, timed by wall clock (process start,
imports and output included; iam-sentinel's the median of --engine-runs runs, the others' one
run, which takes seconds to minutes):
  iam-sentinel    BINARY scan FILE --format json --restricted R
  cloudsplaining  cloudsplaining scan --input-file FILE --exclusions-file
                  bench/cloudsplaining-exclusions.yml (nothing excluded beyond what it always
                  skips) --flag-all-risky-actions (count statements with resource ARNs and
                  conditions too: the question is "can perform", not "unconstrained")
                  --skip-open-report --output DIR
  parliament      bench/parliament-auth-details.py FILE (the mode, each document it analyses
                  also asked parliament's get_allowed_actions), and the mode alone
                  (parliament --auth-details-file FILE --json) for its own time;
then maps each answer onto the shared question (bench/scan_question.py: which users and roles
can perform each restricted pattern) and prints
  1. wall time, principals/s and documents/s per tool, and each tool's time over iam-sentinel's;
  2. agreement on (principal, pattern) pairs between iam-sentinel and each other tool;
  3. the reason for every pair only one side reports, counted per reason; a pair no known
     reason explains is printed as UNEXPLAINED (with its principal and pattern).
Writes the figures and reasons to OUT_DIR/scan-<file stem>.json, each tool's mapped answer to
OUT_DIR/scan-<file stem>-<tool>.json (--reuse-runs compares those again without running).

Mapping cloudsplaining: for each principal, the actions in the InfrastructureModification,
PrivilegeEscalation, ResourceExposure, DataExfiltration and CredentialsExposure findings of its
inline, attached and groups' policies (its iam-results JSON), composed as for parliament.

Reasons (docs/BENCHMARKS.md gives figures and who is right):
 only iam-sentinel, against either:
  no-known-action         no action in iam-sentinel's catalog is both granted and restricted:
                          the grant's Action entries only overlap the pattern (s3:*MultipartUpload*
                          and s3:Delete*), which an action added later could fill; iam-sentinel
                          reports the overlap (with knownActionCount 0), the others know no
                          action to report
 only iam-sentinel, against cloudsplaining:
  service-linked-skipped  cloudsplaining always skips roles and policies under /aws-service-role/
  read-or-list-level      the statement grants only Read/List actions matching the pattern;
                          cloudsplaining reports Write, Permissions management and Tagging only
  no-resource-type        the matching actions it grants take no resource (wildcard-only, e.g.
                          organizations:LeaveOrganization); cloudsplaining drops those
  unknown-to-policy-sentry  no action matching the pattern that the statement grants is in
                          policy_sentry's data (newer actions, e.g. iam:PutAccountProperties)
  user-inline-unflagged   an inline policy whose document is also a user's inline policy, a
                          statement with resource ARNs or a condition: cloudsplaining 0.9.1 does
                          not pass --flag-all-risky-actions on to users (UserDetailList builds
                          UserDetail without it), so there it reports only unconditional
                          statements on "*"; and it keeps one result per distinct inline
                          document (keyed by its hash), the users' last, for roles and groups too
 only iam-sentinel, against parliament:
  aws-managed-skipped     the mode never reads AWS managed policies (arn:aws:iam::aws:)
  not-action              Allow + NotAction: parliament expands Action only
 only the other tool:
  deny-ignored            iam-sentinel removes the pattern by an unconditional Deny (another
                          policy of the principal, or the same one); cloudsplaining's findings
                          ignore Deny, parliament applies one only inside its own document and
                          on the identical Resource string or "*"
  outside-boundary        the principal's permissions boundary does not allow it
  resource-type           every statement granting the tool's actions names resources the
                          actions cannot apply to (s3:DeleteBucket on object ARNs), which
                          cloudsplaining's --flag-all-risky-actions ignores

Exit status: 0 whatever the comparison shows; 2 if a tool fails or its output is unreadable.

Usage: .venv/bin/python bench/scan-bench.py --binary target/release/iam-sentinel \
           --restricted 'iam:*,...' --out-dir target/bench target/bench/managed.json ...
"""
import argparse
import collections
import importlib.metadata
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import scan_question

HERE = Path(__file__).resolve().parent
EXCLUSIONS = HERE / "cloudsplaining-exclusions.yml"
CLOUDSPLAINING_FINDINGS = ("InfrastructureModification", "PrivilegeEscalation", "ResourceExposure",
                           "DataExfiltration", "CredentialsExposure")
SHOW = 5


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def timed(command, ok_codes=(0,), stdout=subprocess.PIPE):
    start = time.perf_counter()
    done = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in ok_codes:
        fail(f"{' '.join(map(str, command))} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout


# ---- iam-sentinel ----

def run_engine(binary, path, restricted_text, runs):
    """The median wall time of `runs` runs (it takes seconds at most: one run is noise)."""
    # 1: findings; 2: some principal could not be analysed (listed under "invalid", counted).
    times = []
    for _ in range(runs):
        seconds, out = timed([binary, "scan", str(path), "--format", "json", "--restricted", restricted_text],
                             ok_codes=(0, 1, 2))
        times.append(seconds)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[-1:] or ["?"]
    return engine_report(out) | {"version": version[0], "seconds": sorted(times)[len(times) // 2]}


def engine_report(text):
    """`iam-sentinel scan --format json` mapped onto the question, with each grant's statements
    (`via`), its count of known actions (`known`) and each removed pattern's reasons
    (`removed`), by principal and pattern."""
    try:
        report = json.loads(text)
        answers, removed, via, known = {}, {}, {}, {}
        for p in report["principals"]:
            k = scan_question.key(p["kind"], p["name"])
            for g in p.get("grants", []):
                answers.setdefault(k, {})[g["pattern"]] = sorted({a.lower() for v in g["via"] for a in v.get("actions", [])})
                via.setdefault(k, {})[g["pattern"]] = g["via"]
                known.setdefault(k, {})[g["pattern"]] = g["knownActionCount"]
            for r in p.get("removed", []):
                removed.setdefault(k, {}).setdefault(r["pattern"], []).append(r["by"])
    except (ValueError, KeyError, TypeError) as e:
        fail(f"iam-sentinel scan printed JSON this bench cannot read: {e}")
    return {"tool": "iam-sentinel", "answers": answers, "removed": removed, "via": via, "known": known,
            "invalid": len(report.get("invalid", [])), "incomplete": len(report.get("incomplete", []))}


# ---- cloudsplaining ----

def run_cloudsplaining(venv_bin, path, restricted):
    with tempfile.TemporaryDirectory() as out_dir:
        seconds, _ = timed([venv_bin / "cloudsplaining", "scan", "--input-file", str(path),
                            "--exclusions-file", str(EXCLUSIONS), "--flag-all-risky-actions",
                            "--skip-open-report", "--output", out_dir])
        results = json.loads((Path(out_dir) / f"iam-results-{path.stem}.json").read_text(encoding="utf-8"))
    policies = {}
    for table in ("aws_managed_policies", "customer_managed_policies", "inline_policies"):
        for policy_id, p in results.get(table, {}).items():
            policies[policy_id] = {a for f in CLOUDSPLAINING_FINDINGS for a in _finding_actions(p.get(f))}

    def actions_of(entry):
        found = set()
        for table in ("aws_managed_policies", "customer_managed_policies", "inline_policies"):
            for policy_id in entry.get(table, {}):
                found |= policies.get(policy_id, set())
        return found

    answers = {}
    for kind, table in (("user", "users"), ("role", "roles")):
        for entry in results.get(table, {}).values():
            if entry.get("is_excluded"):
                continue
            found = actions_of(entry)
            for group in entry.get("groups", {}).values():  # users only: each group with its policies
                found |= actions_of(group)
            patterns_found = scan_question.by_pattern(found, restricted)
            if patterns_found:
                answers[scan_question.key(kind, entry["name"])] = patterns_found
    return {"tool": "cloudsplaining", "version": importlib.metadata.version("cloudsplaining"), "seconds": seconds,
            "answers": answers}


def _finding_actions(finding):
    if not isinstance(finding, dict):
        return []
    out = []
    for f in finding.get("findings", []):
        out.extend(f.get("actions", []) if isinstance(f, dict) else [f])  # PrivilegeEscalation: {type, actions}
    return out


# ---- parliament ----

def run_parliament(venv_bin, path, restricted_text):
    with tempfile.TemporaryDirectory() as out_dir:
        report_path = Path(out_dir) / "parliament.json"
        seconds, _ = timed([venv_bin / "python", HERE / "parliament-auth-details.py", str(path),
                            "--restricted", restricted_text, "--out", str(report_path)])
        report = json.loads(report_path.read_text(encoding="utf-8"))
    mode_seconds, _ = timed([venv_bin / "parliament", "--auth-details-file", str(path), "--json"],
                            ok_codes=(0, 1), stdout=subprocess.DEVNULL)
    report.update(seconds=seconds, mode_seconds=mode_seconds)
    return report


# ---- why one side reports a pair the other does not ----

class Reasons:
    def __init__(self, details, restricted):
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import parliament
        from cloudsplaining.shared.utils import remove_read_level_actions, remove_wildcard_only_actions
        from policy_sentry.querying.all import get_all_actions
        self.remove_read_level, self.remove_wildcard_only = remove_read_level_actions, remove_wildcard_only_actions
        self.principals = scan_question.principals(details)
        self.groups = scan_question.groups(details)
        self.managed = scan_question.default_documents(details)
        self.user_inline = {json.dumps(doc) for p in self.principals.values() if p["kind"] == "user"
                            for _, doc in p["inline"]}
        sentry = get_all_actions()
        parliament_actions = {f"{s['prefix']}:{p['privilege']}" for s in parliament.iam_definition for p in s["privileges"]}
        # Per pattern, the actions each data set knows: statements are matched against these.
        self.known = {name: {p: [a for a in actions if scan_question.glob(p, a)] for p in restricted}
                      for name, actions in (("cloudsplaining", sentry), ("parliament", parliament_actions))}

    def documents(self, k):
        """(descriptor, document) for every identity policy of principal k (not its boundary)."""
        p = self.principals[k]
        for arn in p["managed"]:
            if arn in self.managed:
                yield ("managed", arn), self.managed[arn][2]
        for name, doc in p["inline"]:
            yield ("inline", scan_question.key(p["kind"], p["name"]), name), doc
        for g in p["groups"]:
            group = self.groups.get(g.lower(), {"managed": [], "inline": []})
            for arn in group["managed"]:
                if arn in self.managed:
                    yield ("managed", arn), self.managed[arn][2]
            for name, doc in group["inline"]:
                yield ("inline", scan_question.key("group", g), name), doc

    def statement(self, k, via):
        """The (descriptor, document, statement) an engine GrantingStatement names, or None. Its source is
        {"kind": "managed", "policyArn", "versionId"} or {"kind": "inline", "owner": {"kind",
        "name"}, "policyName"}; its statement the Sid or "#<index>"."""
        source = via.get("source", {})
        if source.get("kind") == "managed":
            wanted = ("managed", source.get("policyArn"))
        else:
            owner = source.get("owner", {})
            wanted = ("inline", scan_question.key(owner.get("kind", ""), owner.get("name", "")), source.get("policyName"))
        for descriptor, doc in self.documents(k):
            if descriptor == wanted:
                statements = doc.get("Statement", [])
                statements = statements if isinstance(statements, list) else [statements]
                label = via.get("statement", "")
                for i, s in enumerate(statements):
                    if s.get("Sid") == label or f"#{i}" == label:
                        return descriptor, doc, s
        return None

    def granted(self, tool, statement, pattern):
        """The actions of `tool`'s data matching `pattern` that the statement's Action/NotAction grants."""
        if "NotAction" in statement:
            entries = _list(statement["NotAction"])
            return [a for a in self.known[tool][pattern] if not any(scan_question.glob(e, a) for e in entries)]
        entries = _list(statement.get("Action", []))
        return [a for a in self.known[tool][pattern] if any(scan_question.glob(e, a) for e in entries)]

    def only_engine(self, tool, k, pattern, vias):
        reasons = set()
        for via in vias:
            found = self.statement(k, via)
            if found is None:
                return None
            reason = (self._cloudsplaining_missed if tool == "cloudsplaining" else self._parliament_missed)(
                k, pattern, *found)
            if reason is None:
                return None
            reasons.add(reason)
        return "+".join(sorted(reasons)) or None

    def _cloudsplaining_missed(self, k, pattern, descriptor, document, statement):
        if self.principals[k]["path"].startswith("/aws-service-role/") or (
                descriptor[0] == "managed" and self.managed[descriptor[1]][0].startswith("/aws-service-role/")):
            return "service-linked-skipped"
        actions = self.granted("cloudsplaining", statement, pattern)
        if not actions:
            return "unknown-to-policy-sentry"
        restrictable = self.remove_wildcard_only(actions)
        if self.remove_read_level(restrictable):
            # It flags these, except in users' inline policies, where 0.9.1 reads statements
            # with resource ARNs or conditions without --flag-all-risky-actions; and it keeps
            # one result per distinct inline document (sha256 of its JSON), the users' last.
            if descriptor[0] == "inline" and json.dumps(document) in self.user_inline and (
                    _list(statement.get("Resource", "*")) != ["*"] or "Condition" in statement):
                return "user-inline-unflagged"
            return None
        if self.remove_read_level(actions):
            return "no-resource-type"
        return "read-or-list-level"

    def _parliament_missed(self, k, pattern, descriptor, document, statement):
        if descriptor[0] == "managed" and descriptor[1].startswith("arn:aws:iam::aws:"):
            return "aws-managed-skipped"
        if "NotAction" in statement:
            return "not-action"
        return None

    def only_other(self, k, pattern, removals, actions):
        """Why only the other tool reports the pair. `removals` are iam-sentinel's for it; a
        principal left with no grant at all is not in its output, so the documents are read too."""
        boundary = self.principals[k]["boundary"]
        if any(r.get("kind") == "outsideBoundary" or (r.get("source") or {}).get("policyArn") == boundary
               for r in removals) or self._outside_boundary(k, actions):
            return "outside-boundary"
        if removals or all(any(_denies(s, a) for _, doc in self.documents(k) for s in _list(doc.get("Statement", [])))
                           for a in actions):
            return "deny-ignored"
        # No grant and nothing removed: every statement granting the tool's actions names resources.
        granting = [s for _, doc in self.documents(k) for s in _list(doc.get("Statement", []))
                    if s.get("Effect") == "Allow" and any(_grants(s, a) for a in actions)]
        if granting and all(_list(s.get("Resource", "*")) != ["*"] and "NotResource" not in s for s in granting):
            return "resource-type"
        return None


    def _outside_boundary(self, k, actions):
        """Whether the principal's boundary allows none of `actions` (or denies each)."""
        arn = self.principals[k]["boundary"]
        if arn not in self.managed:
            return False
        statements = _list(self.managed[arn][2].get("Statement", []))
        return all(any(_denies(s, a) for s in statements)
                   or not any(s.get("Effect") == "Allow" and _grants(s, a) for s in statements)
                   for a in actions)


def _denies(statement, action):
    """An unconditional Deny of `action` (iam-sentinel applies one only where its resources
    cover the action's; a principal it removes everything from is not in its output)."""
    return statement.get("Effect") == "Deny" and "Condition" not in statement and _grants(statement, action)


def _grants(statement, action):
    if "NotAction" in statement:
        return not any(scan_question.glob(e, action) for e in _list(statement["NotAction"]))
    return any(scan_question.glob(e, action) for e in _list(statement.get("Action", [])))


def _list(value):
    return value if isinstance(value, list) else [value]


def pairs(answers):
    return {(k, p) for k, by in answers.items() for p in by}


def compare(engine, other, reasons):
    e, o = pairs(engine["answers"]), pairs(other["answers"])
    counts, examples = collections.Counter(), collections.defaultdict(list)
    for k, pattern in sorted(e - o):
        why = ("no-known-action" if engine["known"][k][pattern] == 0 else
               reasons.only_engine(other["tool"], k, pattern, engine["via"][k][pattern]) or "UNEXPLAINED")
        counts[("only iam-sentinel", why)] += 1
        examples[("only iam-sentinel", why)].append(f"{k} {pattern}")
    for k, pattern in sorted(o - e):
        why = reasons.only_other(k, pattern, engine["removed"].get(k, {}).get(pattern, []),
                                 other["answers"][k][pattern]) or "UNEXPLAINED"
        counts[(f"only {other['tool']}", why)] += 1
        examples[(f"only {other['tool']}", why)].append(f"{k} {pattern} ({', '.join(other['answers'][k][pattern][:3])})")
    principals = set(engine["answers"]) | set(other["answers"])
    same = sum(1 for k in principals if set(engine["answers"].get(k, {})) == set(other["answers"].get(k, {})))
    return {"both": len(e & o), "only_engine": len(e - o), "only_other": len(o - e),
            "principals_either": len(principals), "principals_same": same,
            "reasons": [{"side": side, "reason": why, "pairs": n, "examples": examples[(side, why)][:SHOW]}
                        for (side, why), n in sorted(counts.items(), key=lambda kv: (kv[0][1] == "UNEXPLAINED", kv[0]))]}


def bench_file(path, args, restricted):
    details = json.loads(path.read_text(encoding="utf-8"))
    principal_count = len(details["UserDetailList"]) + len(details["RoleDetailList"])
    documents = scan_question.documents_examined(details)
    print(f"== {path.name}: {len(details['RoleDetailList']):,} roles, {len(details['UserDetailList']):,} users, "
          f"{len(details['GroupDetailList']):,} groups, {len(details['Policies']):,} managed policies; "
          f"{documents:,} policy documents, {path.stat().st_size / 1e6:.1f} MB", flush=True)
    runs = {"iam-sentinel": lambda: run_engine(args.binary, path, args.restricted, args.engine_runs),
            "cloudsplaining": lambda: run_cloudsplaining(args.venv_bin, path, restricted),
            "parliament": lambda: run_parliament(args.venv_bin, path, args.restricted)}
    reports = []
    for tool, run in runs.items():
        saved = args.out_dir / f"scan-{path.stem}-{tool}.json"
        if args.reuse_runs:
            reports.append(json.loads(saved.read_text(encoding="utf-8")))
        else:
            reports.append(run())
            saved.write_text(json.dumps(reports[-1]) + "\n", encoding="utf-8")
    engine, others = reports[0], reports[1:]

    print(f"{'tool':<16}{'version':>9}{'wall s':>10}{'principals/s':>14}{'documents/s':>13}{'time / iam-sentinel':>21}")
    for r in [engine] + others:
        print(f"{r['tool']:<16}{r['version']:>9}{r['seconds']:>10.3f}{principal_count / r['seconds']:>14,.0f}"
              f"{documents / r['seconds']:>13,.0f}{r['seconds'] / engine['seconds']:>20,.1f}x")
    parl = others[1]
    print(f"  (parliament's mode alone, lint findings only: {parl['mode_seconds']:.3f} s, "
          f"{parl['mode_seconds'] / engine['seconds']:,.1f}x; it analysed {parl['documents_analysed']:,} documents)")
    if engine["invalid"] or engine["incomplete"]:
        print(f"  iam-sentinel: {engine['invalid']} principals invalid, {engine['incomplete']} incomplete")
    print("principals that can perform a restricted pattern: "
          + ", ".join(f"{r['tool']} {len(r['answers']):,}" for r in [engine] + others))

    reasons = Reasons(details, restricted)
    summary = {"file": path.name, "principals": principal_count, "documents": documents,
               "restricted": restricted, "tools": {}, "comparisons": {}}
    for r in [engine] + others:
        summary["tools"][r["tool"]] = {k: r[k] for k in ("version", "seconds") if k in r} | {
            "principals_found": len(r["answers"]), "pairs": len(pairs(r["answers"]))}
    summary["tools"]["parliament"]["mode_seconds"] = parl["mode_seconds"]
    summary["tools"]["iam-sentinel"] |= {k: engine[k] for k in ("invalid", "incomplete")}
    for other in others:
        c = compare(engine, other, reasons)
        summary["comparisons"][other["tool"]] = c
        print(f"iam-sentinel vs {other['tool']}: (principal, pattern) pairs both {c['both']:,}, "
              f"only iam-sentinel {c['only_engine']:,}, only {other['tool']} {c['only_other']:,}; "
              f"principals with the same patterns {c['principals_same']:,} of {c['principals_either']:,}")
        for row in c["reasons"]:
            print(f"  {row['side']:<22} {row['reason']:<28} {row['pairs']:>6}   e.g. {'; '.join(row['examples'][:2])}")
        for row in c["reasons"]:
            if row["reason"] == "UNEXPLAINED":
                for example in row["examples"]:
                    print(f"  UNEXPLAINED {row['side']}: {example}")
    out = args.out_dir / f"scan-{path.stem}.json"
    out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"-> {out}\n", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--binary", type=Path, required=True, help="iam-sentinel, a release build")
    parser.add_argument("--restricted", required=True, help="comma-separated patterns, as BENCH_RESTRICTED")
    parser.add_argument("--out-dir", type=Path, default=Path("target/bench"))
    parser.add_argument("--engine-runs", type=int, default=5, help="iam-sentinel's time is the median of these")
    parser.add_argument("--reuse-runs", action="store_true",
                        help="compare the answers and times the last run saved (OUT_DIR/scan-<file>-<tool>.json)"
                             " instead of running the tools again")
    parser.add_argument("--venv-bin", type=Path, default=Path(sys.executable).parent,
                        help="where cloudsplaining and parliament are installed (default: this Python's)")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    restricted = scan_question.patterns(args.restricted)
    for path in args.files:
        bench_file(path, args, restricted)


if __name__ == "__main__":
    main()
