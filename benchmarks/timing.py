"""Interleaved timing: every round times one batch of N ops on each backend in turn (A B C D).

Per-op time of a round = batch time / N. Results are medians over rounds; ratios are computed
per round (so slow drifts of the machine cancel out) and their median reported.

Both clocks are recorded for every batch: wall time (``perf_counter``, what a user waits for) and
the thread's CPU time (``thread_time``: immune to other processes competing for the cores, blind
to time spent waiting for the disk). ``Settings.clock`` picks the one the results use.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Literal

#: one operation (its result is ignored)
Op = Callable[[], object]
#: runs ``n`` operations (for workloads that must not repeat an argument, like uncached lookups)
Batch = Callable[[int], None]
Clock = Literal["wall", "cpu"]

#: calibration grows the batch until one batch takes at least this long
_CALIBRATION_FLOOR_S = 0.002


def batch_of(op: Op) -> Batch:
    """A batch runner that calls ``op`` n times (the loop overhead is that of ``timeit``)."""

    def run(n: int) -> None:
        for _ in repeat(None, n):
            op()

    return run


@dataclass(frozen=True)
class Settings:
    rounds: int
    #: wall time one batch of the slowest backend should take
    batch_seconds: float
    max_batch: int = 100_000
    clock: Clock = "wall"


@dataclass
class Measurement:
    """Per-op times (ns) of each backend, one value per round, on both clocks."""

    batch: int
    clock: Clock = "wall"
    wall_ns: dict[str, list[float]] = field(default_factory=dict)
    cpu_ns: dict[str, list[float]] = field(default_factory=dict)

    @property
    def per_op_ns(self) -> dict[str, list[float]]:
        """The per-op times on the chosen clock."""
        return self.wall_ns if self.clock == "wall" else self.cpu_ns

    def median_us(self, backend: str, clock: Clock | None = None) -> float:
        series = self.per_op_ns if clock is None else getattr(self, f"{clock}_ns")
        return float(statistics.median(series[backend])) / 1000.0

    def ratios(self, num: str, den: str) -> list[float]:
        per_op = self.per_op_ns
        return [a / b for a, b in zip(per_op[num], per_op[den], strict=True)]

    def median_ratio(self, num: str, den: str) -> float:
        return float(statistics.median(self.ratios(num, den)))


def _time_batch(run: Batch, n: int) -> tuple[int, int]:
    """(wall ns, thread CPU ns) of ``run(n)``, with the garbage collector off (as ``timeit``)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        cpu = time.thread_time_ns()
        wall = time.perf_counter_ns()
        run(n)
        wall = time.perf_counter_ns() - wall
        cpu = time.thread_time_ns() - cpu
        return wall, cpu
    finally:
        if gc_was_enabled:
            gc.enable()


def calibrate(run: Batch, settings: Settings) -> int:
    """The batch size that makes one batch of ``run`` take about ``settings.batch_seconds``.

    Also serves as the warm-up: ``run`` is called at least once.
    """
    n = 1
    while True:
        wall, cpu = _time_batch(run, n)
        elapsed = wall if settings.clock == "wall" else cpu
        if elapsed >= _CALIBRATION_FLOOR_S * 1e9 or n >= settings.max_batch:
            break
        n = min(n * 8, settings.max_batch)
    per_op = max(elapsed / n, 1.0)
    return max(1, min(settings.max_batch, int(settings.batch_seconds * 1e9 / per_op)))


def measure(runs: Mapping[str, Batch], settings: Settings, batch: int | None = None) -> Measurement:
    """Time ``runs`` in interleaved rounds; ``batch`` defaults to the smallest calibrated size
    (so the slowest backend's batch takes about ``settings.batch_seconds``)."""
    if batch is None:
        batch = min(calibrate(run, settings) for run in runs.values())
    result = Measurement(batch=batch, clock=settings.clock)
    for name in runs:
        result.wall_ns[name] = []
        result.cpu_ns[name] = []
    gc.collect()  # once: a full collection per round costs seconds once the heap is large
    for _ in range(settings.rounds):
        for name, run in runs.items():
            wall, cpu = _time_batch(run, batch)
            result.wall_ns[name].append(wall / batch)
            result.cpu_ns[name].append(cpu / batch)
    return result
