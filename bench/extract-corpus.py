#!/usr/bin/env python3
"""Extract the AWS managed policies shipped inside moto into a JSON Lines corpus.

What: moto/iam/aws_managed_policies.py holds one big JSON string,
`aws_managed_policies_data`, mapping PolicyName -> {"Document": {...}, ...}.
This writes one line per policy, sorted by name:
    {"name": "<PolicyName>", "document": <policy document object>}
and prints the count, the size distribution of the documents (compact JSON,
UTF-8 bytes: p50/p90/p99/max) and the five largest policies.

Why: a real-world, pinned (moto==5.2.5 in requirements-dev.txt), offline
corpus for benchmarking the engine against parliament; the same moto version
always yields the same corpus.

bench/managed_policies.py loads them.

Usage: .venv/bin/python bench/extract-corpus.py [--out target/bench/corpus.jsonl]
"""
import argparse
import json
from pathlib import Path

import managed_policies


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("target/bench/corpus.jsonl"))
    args = parser.parse_args()

    policies = managed_policies.load()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sizes = []
    with args.out.open("w", encoding="utf-8") as out:
        for name in sorted(policies):
            document = policies[name]["Document"]
            compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
            sizes.append((len(compact.encode("utf-8")), name))
            out.write(json.dumps({"name": name, "document": document},
                                 separators=(",", ":"), ensure_ascii=False) + "\n")

    values = sorted(size for size, _ in sizes)
    print(f"moto {managed_policies.moto_version()}: wrote {len(sizes)} policies to {args.out}")
    print("document size (compact JSON bytes): "
          + ", ".join(f"p{p}={percentile(values, p)}" for p in (50, 90, 99))
          + f", max={values[-1]}, total={sum(values)}")
    print("largest 5:")
    for size, name in sorted(sizes, key=lambda s: (-s[0], s[1]))[:5]:
        print(f"  {size:>8}  {name}")


if __name__ == "__main__":
    main()
