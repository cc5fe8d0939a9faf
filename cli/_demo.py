"""``jailfs demo``: prints what :func:`jailfs.demo.run_demo` does."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from jailfs.audit import SESSION_OP
from jailfs.demo import REPORT_ACTOR, DemoReport, DemoStep, run_demo

from . import _render
from ._common import console
from ._records import compute_stats

_OUTCOME_STYLE = {"ALLOWED": "bold green", "DENIED": "bold red", "ERROR": "bold yellow"}
#: lines of a tool's output shown under its step
_SHOWN_LINES = 4


def _args(step: DemoStep) -> str:
    args = step.step.args
    main = args.get("path") if "pattern" not in args else args["pattern"]
    extra = f" in {args['path']}" if "pattern" in args and "path" in args else ""
    return f"{step.step.tool} {main}{extra}"


def run(directory: Path | None, *, keep: bool) -> bool:
    """Run the demo in ``directory`` (kept) or a temp dir (removed unless ``keep``)."""
    out = console()
    base = directory if directory is not None else Path(tempfile.mkdtemp(prefix="jailfs-demo-"))
    remove = directory is None and not keep
    counter = iter(range(1, 1000))

    def show(step: DemoStep) -> None:
        n = next(counter)
        tag = Text(" attack", "magenta") if step.step.attack else Text("")
        line = Text(f"{n:>2}. ")
        line.append(f"{step.step.title:<31} ")
        line.append(f"{_args(step):<38} ", "cyan")
        line.append(f"{step.outcome:<8}", _OUTCOME_STYLE.get(step.outcome, ""))
        line.append(tag)
        out.print(line)
        lines = step.output.expandtabs(4).rstrip().lstrip("\n").splitlines()
        for text in lines[:_SHOWN_LINES]:
            out.print(Text(f"      {text}", "dim"))
        if len(lines) > _SHOWN_LINES:
            out.print(Text(f"      ... ({len(lines) - _SHOWN_LINES} more lines)", "dim"))
        if step.step.note:
            out.print(Text(f"      ({step.step.note})", "italic"))

    try:
        out.rule("jailfs demo: a scripted agent in a jail")
        out.print(f"example in {escape(str(base))}")
        out.print(
            "  project/           the jail's root; jailfs.toml: write src/** and tests/** only"
        )
        out.print("  project/.env       a fake API key (denied by the secrets preset)")
        out.print("  project/docs/link  a symlink planted to ../../outside/secret.txt")
        out.print("  outside/secret.txt a secret outside the root")
        out.print()
        report = run_demo(base, on_step=show)
        _summary(report)
    finally:
        if remove:
            shutil.rmtree(base, ignore_errors=True)
    if remove:
        out.print(Text("removed the example (use --keep or --dir to look at it)", "dim"))
    else:
        out.print(f"the example is kept in {escape(str(base))}")
    return report.ok


def _summary(report: DemoReport) -> None:
    out = console()
    out.print()
    out.print(Text(f"(the agent's tools: {report.tools})", "dim"))
    out.print()

    decisions = Table(title="Decisions", title_justify="left", show_edge=False)
    for name in ("op", "path", "verdict", "rule", "resolved"):
        decisions.add_column(name, overflow="fold")
    for d in report.decisions:
        verdict = Text("allowed", "green") if d["allowed"] else Text("denied", "bold red")
        rule = d["reason"] if d["list"] == "escape" else d["rule"]
        resolved = d["resolved"] or "-"
        if d["hops"]:
            resolved += " (via " + " -> ".join(d["hops"]) + ")"
        decisions.add_row(d["op"], d["path"], verdict, rule, resolved)
    out.print(decisions)
    out.print()

    agent = [r for r in report.records if r.get("actor") != REPORT_ACTOR]  # (not the table's)
    calls = [r for r in agent if r.get("op") != SESSION_OP]
    out.print(_render.log_table(calls, title="Audit log"))
    out.print()
    for table in _render.stats_tables(compute_stats(agent)):
        out.print(table)
        out.print()

    v = report.verify
    if v.ok:
        out.print(
            Text.assemble(
                ("chain verified", "bold green"),
                f": {v.records} records in {v.files} segment(s), every hash recomputed",
            )
        )
    else:
        out.print(Text(f"CHAIN BROKEN at {v.file}:{v.line}: {v.reason}", "bold red"))

    attacks = [s for s in report.steps if s.step.attack]
    refused = [s for s in attacks if s.outcome != "ALLOWED"]
    out.print(
        f"escape and theft attempts: {len(attacks)}; refused by the jail: {len(refused)}; "
        f"the rest found nothing ({len(attacks) - len(refused)})"
    )
    if report.attacks_stopped and report.secrets_never_read:
        out.print(
            Text.assemble(
                ("outside secret never read", "bold green"),
                ": its content (and the .env key) appears in no output of the agent's tools",
            )
        )
    else:
        out.print(Text("A SECRET LEAKED into the agent's output", "bold red"))
    if report.secret_unchanged:
        out.print(
            Text.assemble(
                ("outside secret unchanged", "bold green"),
                f": sha256 {report.secret_sha256_after[:16]}... and mtime as before",
            )
        )
    else:
        out.print(Text("THE OUTSIDE SECRET CHANGED", "bold red"))
