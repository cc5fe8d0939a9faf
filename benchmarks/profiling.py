"""cProfile of the jail side of a workload: where the time goes (``--profile``)."""

from __future__ import annotations

import cProfile
import os
import pstats
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.timing import Op


@dataclass(frozen=True)
class Entry:
    function: str
    calls: int
    tottime_pct: float
    cumtime_pct: float
    us_per_op: float  # own time per workload op


def _name(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func  # a builtin: "<built-in method posix.stat>"
    parts = file.split(os.sep)
    for anchor in ("jailfs", "fsspec", "pathspec", "benchmarks"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{'/'.join(parts[i:])}:{line}({func})"
    return f"{os.path.basename(file)}:{line}({func})"


def profile(op: Op, seconds: float) -> tuple[int, float, list[Entry]]:
    """Run ``op`` under cProfile for about ``seconds``; (ops, total s, entries by own time)."""
    prof = cProfile.Profile()
    n = 0
    deadline = time.perf_counter() + seconds
    prof.enable()
    while True:
        op()
        n += 1
        if time.perf_counter() >= deadline:
            break
    prof.disable()
    stats: Any = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats
    total = sum(v[2] for v in raw.values()) or 1e-9
    entries = [
        Entry(
            function=_name(key),
            calls=v[1],
            tottime_pct=100.0 * v[2] / total,
            cumtime_pct=100.0 * v[3] / total,
            us_per_op=1e6 * v[2] / n,
        )
        for key, v in raw.items()
    ]
    entries.sort(key=lambda e: e.tottime_pct, reverse=True)
    return n, total, entries


def report(name: str, op: Op, seconds: float, top: int = 20) -> tuple[str, dict[str, Any]]:
    """A text report (own time and cumulative views) and its JSON form."""
    n, total, entries = profile(op, seconds)
    lines = [
        f"### profile: {name} (jail side, {n} ops, {1e6 * total / n:.1f} us/op under cProfile)",
        "",
        "own time (tottime):",
        f"{'%own':>6} {'%cum':>6} {'us/op':>8} {'calls':>9}  function",
    ]
    for e in entries[:top]:
        lines.append(
            f"{e.tottime_pct:6.1f} {e.cumtime_pct:6.1f} {e.us_per_op:8.2f} {e.calls:9d}"
            f"  {e.function}"
        )
    by_cum = sorted(
        (e for e in entries if "jailfs/" in e.function or "fsspec/" in e.function),
        key=lambda e: e.cumtime_pct,
        reverse=True,
    )
    lines += ["", "cumulative (jailfs and fsspec functions):"]
    for e in by_cum[:top]:
        lines.append(f"{e.cumtime_pct:6.1f}%  {e.function}")
    doc = {
        "ops": n,
        "us_per_op_profiled": 1e6 * total / n,
        "top_own": [e.__dict__ for e in entries[:top]],
        "top_cumulative": [e.__dict__ for e in by_cum[:top]],
    }
    return "\n".join(lines), doc
