"""Scaling curves as PNG files (matplotlib, Agg backend): what ``--plot DIR`` draws."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from benchmarks.backends import BACKENDS, LABELS
from benchmarks.workloads import DecisionResult, Row

_STYLE = {"raw": "k:", "local": "C0-", "dirfs": "C1--", "jail": "C3-"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    fig.tight_layout()
    fig.savefig(path, dpi=80, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _legend_below(ax: Any) -> None:
    """The legend under the plot, where it hides no point."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4, frameon=False)


def _backend_curves(rows: Sequence[Row], x_key: str, title: str, xlabel: str, log: bool) -> Any:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r.params[x_key] for r in rows]
    for b in BACKENDS:
        if all(b in r.medians_us for r in rows):
            ys = [r.medians_us[b] for r in rows]
            ax.plot(xs, ys, _STYLE[b], marker="o", markersize=3, label=LABELS[b])
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("median time per call (us)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    _legend_below(ax)
    return fig


def draw(
    directory: str,
    *,
    find: Sequence[Row],
    glob: Sequence[Row],
    depth: Sequence[Row],
    decisions: Sequence[DecisionResult],
) -> list[str]:
    """Write the PNGs into ``directory`` (created) and return their paths."""
    os.makedirs(directory, exist_ok=True)
    out: list[str] = []
    if find:
        fig = _backend_curves(find, "files", "find over a project tree", "files", True)
        out.append(_save(fig, directory, "scaling-find.png"))
    if glob:
        fig = _backend_curves(glob, "files", 'glob("**/*.py") over a project tree', "files", True)
        out.append(_save(fig, directory, "scaling-glob.png"))
    if depth:
        fig = _backend_curves(depth, "depth", "info of a file at depth d", "path depth", False)
        out.append(_save(fig, directory, "scaling-depth.png"))
    if decisions:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [d.rules for d in decisions]
        ax.plot(xs, [d.uncached_us for d in decisions], "C3-", marker="o", label="uncached")
        ax.plot(xs, [d.cold_us for d in decisions], "C1:", marker="o", label="uncached, new dirs")
        ax.plot(xs, [d.cached_us for d in decisions], "C2--", marker="o", label="cached")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rules")
        ax.set_ylabel("us per Policy.check")
        ax.set_title("policy decision vs number of rules")
        ax.grid(True, which="both", alpha=0.3)
        _legend_below(ax)
        out.append(_save(fig, directory, "scaling-decisions.png"))
    return out
