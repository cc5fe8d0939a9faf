"""Rich tables for people; the JSON forms live beside the commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from rich.table import Table
from rich.text import Text

from ._common import human_size
from ._records import DECISIONS, Record

DECISION_STYLE: Final = {
    "allow": "green",
    "deny": "bold red",
    "error": "yellow",
    "external": "magenta",
}


def decision_text(decision: str) -> Text:
    return Text(decision, style=DECISION_STYLE.get(decision, ""))


def _time(ts: object) -> str:
    if not isinstance(ts, str):
        return ""
    return ts.replace("T", " ")[:23]  # "2024-05-01 12:34:56.123", UTC


def _detail(rec: Record) -> str:
    if rec.get("decision") == "allow":
        parts = []
        if rec.get("resolved") not in (None, rec.get("path")):
            parts.append(f"-> {rec['resolved']}")
        if rec.get("count") is not None:
            parts.append(f"{rec['count']} entries")
        return "  ".join(parts)
    rule = rec.get("rule")
    reason = rec.get("reason")
    error = rec.get("error")
    if rec.get("decision") == "external":
        return " ".join(str(x) for x in (reason, f"({rule})" if rule else None) if x)
    if rule:
        return f"{reason}: {rule}" if reason else str(rule)
    if isinstance(error, str) and reason not in (None, "error"):
        return f"{reason}: {error.partition(': ')[2] or error}"
    return str(error or reason or "")


def log_table(records: Sequence[Record], *, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("time (UTC)", no_wrap=True, style="dim")
    table.add_column("session", no_wrap=True, style="dim")
    table.add_column("actor", no_wrap=True)
    table.add_column("op", no_wrap=True)
    table.add_column("path", overflow="fold", min_width=12)
    table.add_column("decision", no_wrap=True)
    table.add_column("detail", overflow="fold", min_width=12)
    table.add_column("bytes", justify="right", no_wrap=True)
    tools = any(rec.get("tool") for rec in records)
    if tools:
        table.add_column("tool", no_wrap=True, style="dim")
    for rec in records:
        cells = log_cells(rec)
        table.add_row(*cells, *((str(rec.get("tool") or ""),) if tools else ()))
    return table


def log_cells(rec: Record) -> tuple[str, str, str, str, str, Text, str, str]:
    """The cells of one record's row: time, session, actor, op, path, decision, detail, bytes."""
    path = str(rec.get("path") or "")
    if rec.get("dest"):
        path += f" -> {rec['dest']}"
    return (
        _time(rec.get("ts")),
        str(rec.get("session", ""))[:8],
        str(rec.get("actor", "")),
        str(rec.get("op", "")),
        path,
        decision_text(str(rec.get("decision", ""))),
        _detail(rec),
        "" if rec.get("bytes") is None else str(rec["bytes"]),
    )


def log_line(rec: Record) -> Text:
    """One record as one line (for ``jailfs log --follow``)."""
    ts, session, actor, op, path, decision, detail, nbytes = log_cells(rec)
    line = Text(f"{ts}  {session}  {actor:<6} {op:<10} ")
    line.append(path or "-")
    line.append("  ")
    line.append(decision)
    if detail:
        line.append(f"  {detail}")
    if nbytes:
        line.append(f"  {nbytes} B")
    return line


def stats_tables(stats: dict[str, Any]) -> list[Table]:
    """Calls by op and decision, top denied paths, bytes, sessions."""
    ops = Table(title="Calls by op and decision", title_justify="left", show_edge=False)
    ops.add_column("op")
    ops.add_column("calls", justify="right")
    for d in DECISIONS:
        ops.add_column(d, justify="right", style=DECISION_STYLE[d])
    for row in stats["ops"]:
        ops.add_row(row["op"], str(row["calls"]), *(str(row[d]) for d in DECISIONS))
    ops.add_section()
    ops.add_row("total", str(stats["calls"]), *(str(stats["decisions"][d]) for d in DECISIONS))

    denied = Table(title="Top denied paths", title_justify="left", show_edge=False)
    denied.add_column("path", overflow="fold")
    denied.add_column("denials", justify="right")
    for row in stats["top_denied"]:
        denied.add_row(row["path"], str(row["count"]))

    volume = Table(title="Bytes", title_justify="left", show_edge=False)
    volume.add_column("read", justify="right")
    volume.add_column("written", justify="right")
    volume.add_column("file objects", justify="right")
    volume.add_row(
        _bytes_cell(stats["bytes_read"]),
        _bytes_cell(stats["bytes_written"]),
        _bytes_cell(stats["file_object_bytes"]),
    )

    empty = stats.get("empty_sessions", 0)
    sessions = Table(
        title="Sessions",
        title_justify="left",
        show_edge=False,
        caption=f"(and {empty} session(s) without calls)" if empty else None,
        caption_justify="left",
    )
    for name, justify in (
        ("session", "left"),
        ("actor", "left"),
        ("started (UTC)", "left"),
        ("calls", "right"),
        ("allow", "right"),
        ("deny", "right"),
        ("error", "right"),
        ("external", "right"),
        ("read", "right"),
        ("written", "right"),
    ):
        sessions.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in stats["sessions"]:
        sessions.add_row(
            str(s["session"])[:8],
            str(s["actor"]),
            _time(s["started"]),
            str(s["calls"]),
            *(str(s.get(d, 0)) for d in DECISIONS),
            _bytes_cell(s["bytes_read"]),
            _bytes_cell(s["bytes_written"]),
        )
    return [ops, denied, volume, sessions]


def _bytes_cell(n: int) -> str:
    return f"{n} ({human_size(n)})" if n >= 1024 else str(n)
