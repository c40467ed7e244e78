#!/usr/bin/env python3
"""Prints the last criterion run of the flunq benches as a Markdown table.

Each criterion group holds our crate and its peer measured in the same run; the table
gives every entry's median and its ratio to the group's peer (governor, backon,
failsafe, reqwest, or the peers' stack), so the README can quote ratios rather than
absolute numbers, which drift from run to run.

Usage: cargo bench -p flunq-benches && python3 benches/report.py [CRITERION_DIR]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion, else target/criterion.
"""

import json
import os
import sys
from pathlib import Path

# The entry each group is compared against (a prefix of its function name).
PEERS = {
    "ratelimit/": "governor",
    "circuit/": "failsafe default",
    "retry/": "backon",
    "stack/": "peers",
    "http_client/": "reqwest",
}


def criterion_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return Path(target) / "criterion"


def load(root: Path) -> dict:
    groups: dict = {}
    for bench in root.rglob("new/benchmark.json"):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        median_ns = estimates["median"]["point_estimate"]
        groups.setdefault(meta["group_id"], {})[meta["function_id"]] = median_ns
    return groups


def fmt_ns(ns: float) -> str:
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1_000:.1f} µs"
    return f"{ns:.1f} ns"


def main() -> int:
    root = criterion_dir()
    if not root.is_dir():
        print(f"no criterion results under {root}: run `cargo bench -p flunq-benches` first")
        return 1
    groups = load(root)
    print("| group | entry | median | vs peer |")
    print("| --- | --- | ---: | ---: |")
    for group in sorted(groups):
        entries = groups[group]
        peer_prefix = next((p for g, p in PEERS.items() if group.startswith(g)), None)
        peer = next((v for k, v in entries.items() if peer_prefix and k.startswith(peer_prefix)), None)
        for name in sorted(entries, key=lambda k: (not k.startswith("flunq"), k)):
            ns = entries[name]
            ratio = f"{ns / peer:.2f}×" if peer else ""
            print(f"| `{group}` | {name} | {fmt_ns(ns)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
