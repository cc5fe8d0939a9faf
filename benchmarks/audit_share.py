"""How much of a single-file call its audit record costs: the jail with and without it.

``python -m benchmarks.audit_share [--rounds 15]`` times ``info``, ``cat_file`` 4 KiB and
``open`` + read 1 MiB (the workloads and fixtures of the benchmarks) through ``LocalFileSystem``,
the benchmarked jail, and the same jail with ``AuditLog.record`` replaced by a no-op, in
interleaved rounds, and prints each median and each per-round ratio to Local. It is a tool for a
developer deciding where to optimize: a real jail never runs without its record.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from benchmarks import trees
from benchmarks.backends import jail_backend, local_backend, make_jail
from benchmarks.timing import Settings, batch_of, measure
from benchmarks.workloads import read_op

#: the columns: Local, the jail, the jail whose records are not written
_RUNS = ("local", "jail", "no record")
#: the single-file workloads of the benchmarks (:data:`benchmarks.workloads.READS`)
_WORKLOADS = ("info", "cat_file 4 KiB", "open+read 1 MiB")


def _no_record(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for ``AuditLog.record``: the call does everything else."""


def run(rounds: int) -> list[str]:
    """The markdown table, one row per workload."""
    work = tempfile.mkdtemp(prefix="jailfs-audit-share-")
    try:
        root = os.path.join(work, "tree")
        os.makedirs(root)
        trees.build_fixtures(root)
        bare = make_jail(root, os.path.join(work, "audit-unused"))
        bare.audit.record = _no_record  # (the instance attribute hides the method)
        backends = {
            "local": local_backend(root),
            "jail": jail_backend(make_jail(root, os.path.join(work, "audit"))),
            "no record": jail_backend(bare),
        }
        settings = Settings(rounds=rounds, batch_seconds=0.05)
        lines = [
            "| workload | Local us | jail us | jail, no record us | jail/Local | no record/Local |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in _WORKLOADS:
            ops = {key: batch_of(read_op(backend, name)) for key, backend in backends.items()}
            m = measure(ops, settings)
            us = [f"{m.median_us(key):.1f}" for key in _RUNS]
            ratios = [f"{m.median_ratio(key, 'local'):.2f}" for key in _RUNS[1:]]
            lines.append(f"| {name} | " + " | ".join(us + ratios) + " |")
        return lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.audit_share",
        description="Single-file calls through Local, the jail, and the jail without its record.",
    )
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print("\n".join(run(args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
