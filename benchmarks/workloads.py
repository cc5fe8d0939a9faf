"""The workloads: each runs the same operation on the same tree through every backend.

A workload is a name and one :data:`~benchmarks.timing.Batch` per backend; before it is timed,
every backend runs it once and the results are compared (normalized), so a backend that does less
work than the others is caught instead of measured.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from benchmarks import trees
from benchmarks.backends import Backend
from benchmarks.targets import TARGETS, Status, status
from benchmarks.timing import Batch, Measurement, Op, Settings, batch_of, measure

Normalize = Callable[[Backend, Any], object]


@dataclass
class Row:
    """One measured workload: medians per backend (us per op) and the jail/Local ratio."""

    name: str
    medians_us: dict[str, float]
    batch: int
    rounds: int
    ratio: float | None = None  # median of per-round jail/Local ratios
    ratio_dirfs: float | None = None  # median of per-round DirFS/Local ratios
    round_ratios: list[float] = field(default_factory=list)
    absolute: bool = False  # the target is on the jail's absolute time, not a ratio
    params: dict[str, Any] = field(default_factory=dict)
    clock: str = "wall"
    #: medians on both clocks (us per op), whichever the table shows
    wall_us: dict[str, float] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)
    #: median per-round jail/Local ratio on each clock
    clock_ratios: dict[str, float] = field(default_factory=dict)
    #: the jail's operation, kept for ``--profile`` (not serialized)
    jail_op: Op | None = field(default=None, repr=False, compare=False)

    @property
    def value(self) -> float | None:
        """What is compared with the target."""
        return self.medians_us.get("jail") if self.absolute else self.ratio

    @property
    def status(self) -> Status:
        return status(self.name, self.value)

    @property
    def target(self) -> str:
        target = TARGETS.get(self.name)
        return target.describe() if target else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "medians_us": self.medians_us,
            "clock": self.clock,
            "medians_wall_us": self.wall_us,
            "medians_cpu_us": self.cpu_us,
            "ratio_jail_local_by_clock": self.clock_ratios,
            "ratio_jail_local": self.ratio,
            "ratio_dirfs_local": self.ratio_dirfs,
            "round_ratios_jail_local": self.round_ratios,
            "batch": self.batch,
            "rounds": self.rounds,
            "target": self.target or None,
            "value": self.value,
            "status": self.status,
            **({"params": self.params} if self.params else {}),
        }


def row_from(name: str, m: Measurement, rounds: int, **params: Any) -> Row:
    medians = {b: m.median_us(b) for b in m.per_op_ns}
    row = Row(name=name, medians_us=medians, batch=m.batch, rounds=rounds, params=params)
    row.clock = m.clock
    row.wall_us = {b: m.median_us(b, "wall") for b in m.wall_ns}
    row.cpu_us = {b: m.median_us(b, "cpu") for b in m.cpu_ns}
    if "jail" in m.per_op_ns and "local" in m.per_op_ns:
        row.round_ratios = m.ratios("jail", "local")
        row.ratio = statistics.median(row.round_ratios)
        for clock in ("wall", "cpu"):
            series = getattr(m, f"{clock}_ns")
            row.clock_ratios[clock] = statistics.median(
                a / b for a, b in zip(series["jail"], series["local"], strict=True)
            )
    if "dirfs" in m.per_op_ns and "local" in m.per_op_ns:
        row.ratio_dirfs = m.median_ratio("dirfs", "local")
    return row


# -- comparing results across backends ---------------------------------------------------------


class BackendMismatchError(RuntimeError):
    """Two backends returned different results for the same workload."""


def check_same(
    name: str, backends: Mapping[str, Backend], ops: Mapping[str, Op], normalize: Normalize
) -> dict[str, float]:
    """Run every op once (the warm-up), compare the normalized results, return the seconds
    each took."""
    seen: dict[str, object] = {}
    took: dict[str, float] = {}
    for bname, op in ops.items():
        t0 = time.perf_counter()
        result = op()
        took[bname] = time.perf_counter() - t0
        seen[bname] = normalize(backends[bname], result)
    first_name, first = next(iter(seen.items()))
    for bname, value in seen.items():
        if value != first:
            raise BackendMismatchError(
                f"{name}: {bname} returned {str(value)[:300]!r}, "
                f"{first_name} returned {str(first)[:300]!r}"
            )
    return took


def _size(_b: Backend, result: Any) -> object:
    return result.st_size if isinstance(result, os.stat_result) else result["size"]


def _same(_b: Backend, result: Any) -> object:
    return result


def _names(_b: Backend, result: Any) -> object:
    names = (r[0] if isinstance(r, tuple) else r["name"] for r in result)
    return sorted(n.rsplit("/", 1)[-1] for n in names)


def _paths(b: Backend, result: Any) -> object:
    return sorted(b.rel(p) for p in result)


def _nothing(_b: Backend, _result: Any) -> object:
    return None


def run_workload(
    name: str,
    backends: Mapping[str, Backend],
    make_op: Callable[[Backend], Op],
    normalize: Normalize,
    settings: Settings,
    *,
    rounds: int | None = None,
    **params: Any,
) -> Row:
    ops = {bname: make_op(b) for bname, b in backends.items()}
    took = check_same(name, backends, ops, normalize)
    runs: dict[str, Batch] = {bname: batch_of(op) for bname, op in ops.items()}
    used = dataclasses.replace(settings, rounds=rounds or settings.rounds)
    # an op far slower than a batch is its own batch: no calibration runs needed
    batch = 1 if min(took.values()) >= 5 * used.batch_seconds else None
    row = row_from(name, measure(runs, used, batch), used.rounds, **params)
    row.jail_op = ops.get("jail")
    return row


# -- single-file and listing workloads (the fixture tree) ---------------------------------------

#: the workloads that read one fixture: name -> (its path, the Backend operation, normalizer)
READS: dict[str, tuple[str, str, Normalize]] = {
    "info": (trees.INFO_FILE, "info", _size),
    "cat_file 4 KiB": (trees.CAT_FILE, "cat", _same),
    "open+read 1 MiB": (trees.BIG_FILE, "open_read", _same),
    "ls 100 detail": (trees.LS_DIR, "ls", _names),
}


def read_op(backend: Backend, name: str) -> Op:
    """The operation of read workload ``name`` (:data:`READS`) through ``backend``."""
    rel, operation, _ = READS[name]
    op: Callable[[str], object] = getattr(backend, operation)
    return partial(op, backend.path(rel))


def file_workloads(backends: Mapping[str, Backend], settings: Settings) -> list[Row]:
    small = bytes(range(256)) * (trees.SMALL // 256)
    payload = bytes(reversed(small))

    def pipe_op(b: Backend) -> Op:
        return partial(b.pipe, b.path(trees.PIPE_FILE), payload)

    def pipe_check(b: Backend, _result: Any) -> object:
        return b.cat(b.path(trees.PIPE_FILE))

    def read(name: str) -> Row:
        rel, _, normalize = READS[name]
        return run_workload(
            name, backends, partial(read_op, name=name), normalize, settings, path=rel
        )

    return [
        read("info"),
        read("cat_file 4 KiB"),
        run_workload("pipe_file 4 KiB", backends, pipe_op, pipe_check, settings),
        read("open+read 1 MiB"),
        read("ls 100 detail"),
    ]


def depth_workloads(
    backends: Mapping[str, Backend], settings: Settings, depths: Sequence[int]
) -> list[Row]:
    """info of a file at each path depth (components, the file included)."""
    return [
        run_workload(
            f"info depth {d}",
            backends,
            lambda b, d=d: partial(b.info, b.path(trees.depth_file(d))),  # type: ignore[misc]
            _size,
            settings,
            depth=d,
        )
        for d in depths
    ]


# -- tree walks (a project tree) ----------------------------------------------------------------


def tree_label(n_files: int) -> str:
    return f"{n_files // 1000}k" if n_files % 1000 == 0 else str(n_files)


def walk_workloads(
    backends: Mapping[str, Backend],
    tree: trees.ProjectTree,
    settings: Settings,
    rounds: int | None = None,
) -> list[Row]:
    label = tree_label(tree.n_files)
    return [
        run_workload(
            f"find {label} files",
            backends,
            lambda b: partial(b.find, b.path("")),
            _paths,
            settings,
            rounds=rounds,
            files=tree.n_files,
            dirs=tree.n_dirs,
        ),
        run_workload(
            f"glob **/*.py {label}",
            backends,
            lambda b: partial(b.glob, b.path("**/*.py")),
            _paths,
            settings,
            rounds=rounds,
            files=tree.n_files,
            dirs=tree.n_dirs,
            matches=tree.n_py,
        ),
    ]


def fresh_jail_find(
    root: str, audit_dir: str, tree: trees.ProjectTree, settings: Settings, local: Row
) -> Row:
    """``find`` as the first call of a session: a new jail (cold policy caches) every time.

    Jail only; its ratio is against the median of ``local`` (the warm Local find).
    """
    from benchmarks.backends import make_jail

    def op() -> object:
        jail = make_jail(root, audit_dir)
        try:
            found: list[str] = jail.find("")
        finally:
            jail.close()
        if len(found) != tree.n_files:
            raise BackendMismatchError(f"fresh jail found {len(found)} of {tree.n_files} files")
        return found

    rounds = min(settings.rounds, 5)
    m = measure({"jail": batch_of(op)}, dataclasses.replace(settings, rounds=rounds), batch=1)
    jail_us = m.median_us("jail")
    local_us = local.medians_us.get("local")
    row = Row(
        f"{local.name}, new jail",
        {"jail": jail_us},
        1,
        rounds,
        ratio=jail_us / local_us if local_us else None,
        params={"files": tree.n_files, "ratio_from": "medians (jail vs the warm Local find)"},
        jail_op=op,
    )
    row.clock = m.clock
    row.wall_us = {"jail": m.median_us("jail", "wall")}
    row.cpu_us = {"jail": m.median_us("jail", "cpu")}
    return row


# -- an agent session ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPlan:
    """A fixed mix of what a coding agent does in one turn, in relative paths."""

    listings: tuple[str, ...]
    globs: tuple[str, ...]
    infos: tuple[str, ...]
    reads: tuple[str, ...]
    greps: tuple[tuple[str, str], ...]  # (regex, glob of the files searched)
    edits: tuple[str, ...]
    finds: tuple[str, ...]
    exists: tuple[str, ...]

    def describe(self) -> dict[str, int]:
        return {
            "ls": len(self.listings),
            "glob": len(self.globs),
            "info": len(self.infos),
            "cat_file": len(self.reads) + len(self.edits),
            "pipe_file": len(self.edits),
            "grep": len(self.greps),
            "find": len(self.finds),
            "exists": len(self.exists),
        }


def session_plan(tree: trees.ProjectTree) -> SessionPlan:
    """Pick existing files of ``tree`` deterministically (needs at least 2 top-level dirs)."""
    py: list[str] = []
    for top, dirs, files in os.walk(tree.root):
        dirs.sort()
        rel = os.path.relpath(top, tree.root)
        py.extend(os.path.join(rel, f) for f in sorted(files) if f.endswith(".py"))
    py = [p.removeprefix("./") for p in py]
    step = max(1, len(py) // 16)
    picks = py[::step]
    pkg_a, pkg_b = sorted(d for d in os.listdir(tree.root))[1:3]
    sub = sorted(os.listdir(os.path.join(tree.root, pkg_a)))
    sub_dir = next(f"{pkg_a}/{s}" for s in sub if os.path.isdir(os.path.join(tree.root, pkg_a, s)))
    return SessionPlan(
        listings=("", pkg_a, sub_dir),
        globs=(f"{pkg_a}/**/*.py", "**/test_*.py"),
        infos=tuple(picks[0:3]),
        reads=tuple(picks[3:9]),
        greps=((r"TODO", f"{sub_dir}/*.py"), (r"class \w+Error", f"{pkg_b}/**/*.py")),
        edits=tuple(picks[9:12]),
        finds=(sub_dir,),
        exists=(picks[12], f"{pkg_a}/no_such_file.py"),
    )


_EDIT_A = b"# edit: 0"
_EDIT_B = b"# edit: 1"


def run_session(b: Backend, plan: SessionPlan) -> int:
    """One agent turn; returns a tally (entries seen, matches, bytes) to compare backends."""
    tally = 0
    for rel in plan.listings:
        tally += len(b.ls(b.path(rel)))
    for pattern in plan.globs:
        tally += len(b.glob(b.path(pattern)))
    for rel in plan.infos:
        b.info(b.path(rel))
    for rel in plan.reads:
        tally += len(b.cat(b.path(rel)))
    for regex, pattern in plan.greps:
        compiled = re.compile(regex.encode())
        for native in b.glob(b.path(pattern)):
            for line in b.cat(native).splitlines():
                if compiled.search(line):
                    tally += 1
    for rel in plan.edits:
        native = b.path(rel)
        data = b.cat(native)
        edited = (
            data.replace(_EDIT_A, _EDIT_B) if _EDIT_A in data else data.replace(_EDIT_B, _EDIT_A)
        )
        b.pipe(native, edited)
        tally += len(edited)
    for rel in plan.finds:
        tally += len(b.find(b.path(rel)))
    for rel in plan.exists:
        tally += b.exists(b.path(rel))
    return tally


def session_workload(
    backends: Mapping[str, Backend], tree: trees.ProjectTree, settings: Settings
) -> Row:
    plan = session_plan(tree)
    return run_workload(
        "agent session",
        backends,
        lambda b: partial(run_session, b, plan),
        _same,
        settings,
        files=tree.n_files,
        mix=plan.describe(),
    )


# -- policy decisions and the audit record (jail only, absolute) --------------------------------

_WRITE_FORMS = (
    "src/module{i}/**", "tests/unit{i}/**/*.py", "docs/section{i}/*.md", "!src/module{i}/gen_*.py",
    "pkg{i}/**/*.txt", "notebooks/nb{i}.ipynb",
)  # fmt: skip
_DENY_FORMS = (
    "build{i}/", "**/*.ext{i}", "**/cache{i}/", "data/set{i}/*.csv", "vendor/lib{i}/**",
    "*.tmp{i}", "**/secret{i}.yaml",
)  # fmt: skip


def rules(n: int) -> tuple[list[str], list[str]]:
    """``n`` realistic rules, alternately write and deny (write first)."""
    write: list[str] = []
    deny: list[str] = []
    for i in range(n):
        if i % 2 == 0:
            write.append(_WRITE_FORMS[(i // 2) % len(_WRITE_FORMS)].format(i=i))
        else:
            deny.append(_DENY_FORMS[(i // 2) % len(_DENY_FORMS)].format(i=i))
    return write, deny


#: directories the "warm" decision paths live in (an agent works in a few hundred directories)
_WARM_DIRS = 25 * 8


def decision_paths(n_rules: int, count: int, start: int = 0, *, cold: bool = False) -> list[str]:
    """``count`` distinct paths, some matching rules (so every list is consulted).

    Warm paths are new file names in a fixed set of :data:`_WARM_DIRS` directories (the policy's
    per-directory cache is warm, its decision cache is not); cold paths are in new directories
    too.
    """
    out: list[str] = []
    for k in range(start, start + count):
        i = k % max(n_rules, 1)
        a, b = (k, k) if cold else (k % 25, k // 25 % 8)
        form = k % 4
        if form == 0:
            out.append(f"src/module{a}/sub{b}/file{k}.py")
        elif form == 1:
            out.append(f"pkg{a}/area{b}/notes{k}.txt")
        elif form == 2:
            out.append(f"tests/unit{a}/case{b}/test_{k}.py")
        else:
            out.append(f"lib/deep/er{a}/path{b}/x{k}.ext{i}")
    return out


@dataclass
class DecisionResult:
    rules: int
    uncached_us: float  # fresh file names, known directories
    cold_us: float  # fresh file names in fresh directories
    cached_us: float  # the same 100 paths again and again
    batch: int
    build_ms: float
    #: one uncached check per call, for ``--profile``
    profile_op: Op | None = field(default=None, repr=False, compare=False)


def _fresh_rounds(
    check: Callable[..., object], n_rules: int, settings: Settings, start: int, cold: bool
) -> Measurement:
    """Per-op time of ``check`` on never-seen paths: one pre-built list of them per round."""
    per_op_s = 1.0
    for attempt in range(2):  # the second estimate, once the code paths are warm
        probe = decision_paths(n_rules, 200, start=start + 90_000_000 + 1000 * attempt, cold=cold)
        t0 = time.perf_counter()
        for p in probe:
            check("write", p)
        per_op_s = (time.perf_counter() - t0) / len(probe)
    batch = max(1, min(settings.max_batch, 20_000, int(settings.batch_seconds / per_op_s)))
    rounds = iter(
        [
            decision_paths(n_rules, batch, start=start + r * batch, cold=cold)
            for r in range(settings.rounds)
        ]
    )

    def run(n: int) -> None:
        for p in next(rounds):
            check("write", p)

    return measure({"jail": run}, settings, batch=batch)


def decision_workload(n_rules: int, settings: Settings) -> DecisionResult:
    """µs per ``Policy.check("write", path)`` with ``n_rules`` rules (half write, half deny)."""
    from jailfs import Policy

    write, deny = rules(n_rules)
    t0 = time.perf_counter()
    policy = Policy(read=["**"], write=write, deny=deny, protect=[], presets=[])
    build_ms = (time.perf_counter() - t0) * 1000
    check = policy.check

    for p in decision_paths(n_rules, 4 * _WARM_DIRS, start=80_000_000):  # warm the directories
        check("write", p)
    warm = _fresh_rounds(check, n_rules, settings, 0, cold=False)
    cold = _fresh_rounds(check, n_rules, settings, 10_000_000, cold=True)

    hot = decision_paths(n_rules, 100, start=30_000_000)
    for p in hot:
        check("write", p)

    def cached(n: int) -> None:
        for _ in range(n // len(hot)):
            for p in hot:
                check("write", p)

    hot_batch = max(len(hot), (warm.batch // len(hot)) * len(hot))
    m_cached = measure({"jail": cached}, settings, batch=hot_batch)
    counter = itertools.count(40_000_000)

    def fresh_check() -> object:
        k = next(counter)
        return check("write", f"src/module{k % 25}/sub{k // 25 % 8}/file{k}.py")

    return DecisionResult(
        rules=n_rules,
        uncached_us=warm.median_us("jail"),
        cold_us=cold.median_us("jail"),
        cached_us=m_cached.median_us("jail"),
        batch=warm.batch,
        build_ms=build_ms,
        profile_op=fresh_check,
    )


def decision_rows(
    results: Sequence[DecisionResult], shown: Sequence[int], rounds: int
) -> list[Row]:
    """Three rows per rule count: uncached (the target), cold directories, cached."""
    rows: list[Row] = []
    for r in results:
        if r.rules not in shown:
            continue
        params = {"rules": r.rules, "build_ms": r.build_ms}
        name = f"decision {r.rules:,} rules"
        for suffix, us, op in (
            ("", r.uncached_us, r.profile_op),
            (", new dirs", r.cold_us, None),
            (", cached", r.cached_us, None),
        ):
            row = Row(name + suffix, {"jail": us}, r.batch, rounds, absolute=True, params=params)
            row.jail_op = op
            rows.append(row)
    return rows


def audit_workload(directory: str, settings: Settings, closers: list[Callable[[], object]]) -> Row:
    """µs per ``AuditLog.record`` into a real segment file (one write(2) per record).

    The log stays open (for ``--profile``); its ``close`` is appended to ``closers``.
    """
    from jailfs.audit import AuditLog

    log = AuditLog(directory, root="/bench/root", policy_hash="0" * 64, actor="benchmark")
    closers.append(log.close)
    record = log.record

    def op() -> object:
        return record("cat_file", "src/pkg/module.py", decision="allow", nbytes=4096, us=12)

    m = measure({"jail": batch_of(op)}, settings)
    return Row(
        "audit record",
        {"jail": m.median_us("jail")},
        m.batch,
        settings.rounds,
        absolute=True,
        jail_op=op,
    )
