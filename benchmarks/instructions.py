"""Instructions per uncached policy decision, counted by valgrind's callgrind.

Wall time on a shared VM scatters from run to run; the number of instructions a decision runs
does not. ``python -m benchmarks.instructions [--rules 10,1000,10000] [--checks 4000]`` runs the
decision workload of the benchmarks (fresh file names in known directories, rules half write,
half deny) under ``valgrind --tool=callgrind`` twice per rule count: once with the checks and
once with the same loop doing nothing. The difference, divided by the checks, is printed.
Needs valgrind (Debian's ``valgrind`` package); it is a tool for a developer, not part of CI.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _child(n_rules: int, checks: int, mode: str) -> None:
    """Build the policy, warm it, then run ``checks`` decisions (or the bare loop)."""
    from benchmarks.workloads import decision_paths, rules
    from jailfs import Policy

    write, deny = rules(n_rules)
    policy = Policy(read=["**"], write=write, deny=deny, protect=[], presets=[])
    for path in decision_paths(n_rules, 800, start=80_000_000):  # the directories
        policy.check("write", path)
    for path in decision_paths(n_rules, 3000, start=5_000_000):  # the automaton's states
        policy.check("write", path)
    paths = decision_paths(n_rules, checks, start=0)
    check = policy.check
    gc.disable()
    if mode == "check":
        for path in paths:
            check("write", path)
    else:
        for _ in paths:
            pass


def _count(n_rules: int, checks: int, mode: str) -> int:
    """Instructions of one child run under callgrind."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--child",
        f"{n_rules},{checks},{mode}",
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions",
        description="Instructions per uncached Policy.check, counted by callgrind.",
    )
    parser.add_argument("--rules", default="10,1000,10000", help="rule counts, comma-separated")
    parser.add_argument("--checks", type=int, default=4000, help="decisions per count")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n_rules, checks, mode = args.child.split(",")
        _child(int(n_rules), int(checks), mode)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    print("| rules | instructions per uncached decision |\n|---:|---:|")
    for n_rules in (int(n) for n in args.rules.split(",")):
        loop = _count(n_rules, args.checks, "loop")
        checks = _count(n_rules, args.checks, "check")
        print(f"| {n_rules:,} | {(checks - loop) // args.checks:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
