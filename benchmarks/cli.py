"""``python -m benchmarks [--quick] [--gate] [--json FILE] [--plot DIR] [--results FILE]``.

Builds the trees in a temporary directory, runs every workload through raw ``os``, fsspec
``LocalFileSystem``, ``DirFileSystem`` and ``JailFileSystem`` in interleaved rounds, prints a
markdown table and removes the trees. Exit status: 0, or 1 with ``--gate`` when a result is over
twice its target (or could not be measured), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks import machine, report, trees
from benchmarks.backends import Backend, all_backends
from benchmarks.targets import GATE_FACTOR
from benchmarks.timing import Settings
from benchmarks.workloads import (
    DecisionResult,
    Row,
    audit_workload,
    decision_rows,
    decision_workload,
    depth_workloads,
    file_workloads,
    fresh_jail_find,
    session_workload,
    tree_label,
    walk_workloads,
)


@dataclass(frozen=True)
class Mode:
    name: str
    settings: Settings
    tree_sizes: tuple[int, ...]
    #: rounds for the walks of trees this big or bigger (a single find takes seconds there)
    big_tree: int
    big_tree_rounds: int
    depths: tuple[int, ...] = (1, 2, 4, 8, 12, 16, 24, 32)
    rule_counts: tuple[int, ...] = (10, 100, 1_000, 10_000)
    profile_seconds: float = 3.0


QUICK = Mode("quick", Settings(rounds=7, batch_seconds=0.02), (10_000,), 10**9, 5)
FULL = Mode("full", Settings(rounds=11, batch_seconds=0.03), (1_000, 10_000, 100_000), 100_000, 2)

#: the tree whose numbers go into the main table (and that the agent session works on)
MAIN_TREE = 10_000
#: decision rows shown in the main table
SHOWN_RULES = (10, 1_000, 10_000)
GROUPS = ("files", "depth", "walk", "session", "decisions", "audit")


_T0 = time.perf_counter()


def _log(msg: str) -> None:
    """Progress on stderr, stamped with the seconds since the start."""
    print(f"[{time.perf_counter() - _T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


@dataclass
class Run:
    """Everything one run measured."""

    main: list[Row] = field(default_factory=list)
    scaling: list[Row] = field(default_factory=list)
    find: list[Row] = field(default_factory=list)
    glob: list[Row] = field(default_factory=list)
    depth: list[Row] = field(default_factory=list)
    decisions: list[DecisionResult] = field(default_factory=list)
    resolver: str | None = None
    build_seconds: float = 0.0
    profiles: dict[str, Any] = field(default_factory=dict)
    profile_text: list[str] = field(default_factory=list)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark jailfs against raw os, fsspec LocalFileSystem and DirFileSystem.",
    )
    p.add_argument("--quick", action="store_true", help="5 rounds, the 10k tree only (about 30 s)")
    p.add_argument(
        "--gate",
        action="store_true",
        help=f"exit 1 when a result is over {GATE_FACTOR:g} x its target (for CI)",
    )
    p.add_argument("--json", metavar="FILE", help="write the machine and every median and ratio")
    p.add_argument("--plot", metavar="DIR", help="draw the scaling curves as PNG files in DIR")
    p.add_argument(
        "--results", metavar="FILE", help="write a markdown summary (machine, table, plots)"
    )
    p.add_argument(
        "--profile",
        metavar="NAMES",
        help="cProfile the jail side of these workloads after the run: workload names, "
        '"missed" (those over their target) or "all", separated by ";"',
    )
    p.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="what the table reports: wall time (default) or the thread's CPU time (steadier "
        "on a busy machine, blind to disk waits); the JSON always has both",
    )
    p.add_argument(
        "--only",
        metavar="GROUPS",
        help=f"run only these groups (comma-separated: {', '.join(GROUPS)})",
    )
    return p


def _jail_available() -> str | None:
    """None if ``jailfs`` imports, else why not (the run goes on with the three baselines)."""
    try:
        import jailfs  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _workspace(tmp: str, name: str, with_jail: bool) -> dict[str, Backend]:
    root = os.path.join(tmp, name)
    audit = os.path.join(tmp, f"audit-{name}") if with_jail else None
    return all_backends(root, audit)


def _close_all(spaces: Sequence[dict[str, Backend]]) -> None:
    for space in spaces:
        jail = space.get("jail")
        if jail is not None and jail.fs is not None:
            jail.fs.close()


def execute(mode: Mode, groups: Sequence[str], with_jail: bool, profile: str | None) -> Run:
    run = Run()
    settings = mode.settings
    closers: list[Callable[[], object]] = []
    with tempfile.TemporaryDirectory(prefix="jailfs-bench-") as tmp:
        start = time.perf_counter()
        trees.build_fixtures(os.path.join(tmp, "fixtures"))
        projects: dict[int, trees.ProjectTree] = {}
        need_trees = {"walk", "session"} & set(groups)
        for n in mode.tree_sizes if need_trees else ():
            if "walk" not in groups and n != MAIN_TREE:
                continue
            root = os.path.join(tmp, f"tree-{tree_label(n)}")
            # only the session's tree needs file contents (it reads and greps them)
            projects[n] = trees.build_project(root, n, content=n == MAIN_TREE)
        run.build_seconds = time.perf_counter() - start
        _log(f"trees built in {run.build_seconds:.1f} s ({sum(projects)} files)")

        fixtures = _workspace(tmp, "fixtures", with_jail)
        spaces = [fixtures]
        if "jail" in fixtures:
            run.resolver = fixtures["jail"].fs.resolver_kind
        try:
            if "files" in groups:
                _log("file workloads ...")
                run.main += file_workloads(fixtures, settings)
            if "depth" in groups:
                _log("depth scaling ...")
                run.depth = depth_workloads(fixtures, settings, mode.depths)
                run.scaling += run.depth
            for n, tree in projects.items():
                space = _workspace(tmp, f"tree-{tree_label(n)}", with_jail)
                spaces.append(space)
                if "walk" in groups:
                    _log(f"find/glob over {tree_label(n)} files ...")
                    rounds = mode.big_tree_rounds if n >= mode.big_tree else None
                    find, glob = walk_workloads(space, tree, settings, rounds)
                    run.find.append(find)
                    run.glob.append(glob)
                    (run.main if n == MAIN_TREE else run.scaling).extend([find, glob])
                    if "jail" in space and n == MAIN_TREE:
                        audit = os.path.join(tmp, "audit-fresh")
                        fresh = fresh_jail_find(tree.root, audit, tree, settings, find)
                        run.scaling.append(fresh)
                if "session" in groups and n == MAIN_TREE:
                    _log("agent session ...")
                    run.main.append(session_workload(space, tree, settings))
            if with_jail and "decisions" in groups:
                for count in mode.rule_counts:
                    _log(f"decisions with {count:,} rules ...")
                    run.decisions.append(decision_workload(count, settings))
                run.main += decision_rows(run.decisions, SHOWN_RULES, settings.rounds)
            if with_jail and "audit" in groups:
                _log("audit record ...")
                run.main.append(audit_workload(os.path.join(tmp, "audit-alone"), settings, closers))
            if profile:
                _profile(run, profile, mode.profile_seconds)
        finally:
            _log("removing the trees ...")
            _close_all(spaces)
            for close in closers:
                close()
    _log("trees removed")
    return run


def _profile(run: Run, which: str, seconds: float) -> None:
    from benchmarks import profiling

    rows = [r for r in run.main + run.scaling if r.jail_op is not None]
    names = {n.strip() for n in which.split(";") if n.strip()}
    chosen = [
        r
        for r in rows
        if "all" in names or r.name in names or ("missed" in names and r.status in ("miss", "FAIL"))
    ]
    unknown = names - {r.name for r in rows} - {"all", "missed"}
    if unknown:
        _log(f"--profile: no measured workload named {', '.join(sorted(unknown))}")
    for row in chosen:
        assert row.jail_op is not None
        _log(f"profiling {row.name} ...")
        text, doc = profiling.report(row.name, row.jail_op, seconds)
        run.profile_text.append(text)
        run.profiles[row.name] = doc


def document(
    run: Run, mode: Mode, elapsed: float, load_at_start: Any, argv: Sequence[str]
) -> dict[str, Any]:
    described = machine.describe(run.resolver)
    described["load_average_at_start"] = load_at_start
    return {
        "machine": described,
        "mode": mode.name,
        "settings": {
            "rounds": mode.settings.rounds,
            "batch_seconds": mode.settings.batch_seconds,
            "big_tree_rounds": mode.big_tree_rounds,
            "clock": mode.settings.clock,
            "command": " ".join(["python", "-m", "benchmarks", *argv]),
        },
        "workloads": [r.to_json() for r in run.main],
        "scaling": {
            "find": [r.to_json() for r in run.find],
            "glob": [r.to_json() for r in run.glob],
            "depth": [r.to_json() for r in run.depth],
            "decisions": [
                {
                    "rules": d.rules,
                    "uncached_us": d.uncached_us,
                    "new_dirs_us": d.cold_us,
                    "cached_us": d.cached_us,
                    "batch": d.batch,
                    "build_ms": d.build_ms,
                }
                for d in run.decisions
            ],
        },
        "profiles": run.profiles,
        "build_seconds": run.build_seconds,
        "elapsed_seconds": elapsed,
        "platform": platform.platform(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    mode = QUICK if args.quick else FULL
    mode = dataclasses.replace(mode, settings=dataclasses.replace(mode.settings, clock=args.clock))
    groups: tuple[str, ...] = GROUPS
    if args.only:
        groups = tuple(g.strip() for g in args.only.split(","))
        bad = set(groups) - set(GROUPS)
        if bad:
            _parser().error(f"unknown group(s): {', '.join(sorted(bad))}")
    why = _jail_available()
    if why is not None:
        _log(f"warning: jailfs does not import ({why}); measuring the three baselines only")
    started = time.perf_counter()
    load_at_start = machine.load_average()
    run = execute(mode, groups, why is None, args.profile)
    plots: list[str] = []
    if args.plot:
        from benchmarks import plots as plotting  # matplotlib only when asked for

        plots = plotting.draw(
            args.plot, find=run.find, glob=run.glob, depth=run.depth, decisions=run.decisions
        )
        _log(f"{len(plots)} plots drawn in {args.plot}")
    elapsed = time.perf_counter() - started
    doc = document(run, mode, elapsed, load_at_start, argv)

    print(f"## jailfs benchmarks ({mode.name} run, {elapsed:.0f} s)\n")
    print(report.machine_line(doc["machine"]) + f"; clock: {mode.settings.clock}\n")
    print(report.table(run.main))
    if run.scaling:
        print("\n### Scaling\n")
        print(report.table(run.scaling))
    for text in run.profile_text:
        print("\n" + text)
    if args.json:
        report.to_json(doc, args.json)
    if args.results:
        text = report.results_markdown(doc, run.main, run.scaling, plots, args.results)
        with open(args.results, "w", encoding="utf-8") as f:
            f.write(text)
    if args.gate:
        failures = report.gate_failures(run.main) if why is None else ["jailfs did not import"]
        if failures:
            print(f"\nGATE FAILED ({len(failures)}):", file=sys.stderr)
            for line in failures:
                print(f"  {line}", file=sys.stderr)
            return 1
        missed = report.misses(run.main)
        print(
            f"\ngate passed: every result within {GATE_FACTOR:g} x its target, or its ceiling"
            + ("; targets NOT reached:" if missed else "; every target reached"),
            file=sys.stderr,
        )
        for line in missed:
            print(f"  {line}", file=sys.stderr)
    return 0
