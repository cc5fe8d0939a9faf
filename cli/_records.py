"""Audit records for people: filters (``jailfs log``) and statistics (``jailfs stats``)."""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jailfs.audit import SESSION_OP

Record = dict[str, Any]

#: ops whose ``bytes`` were read from the jail
READ_OPS: Final = frozenset(
    {
        "cat_file", "cat", "cat_ranges", "head", "tail", "read_text", "read_bytes", "read_block",
        "get", "get_file", "download",
    }
)  # fmt: skip
#: ops whose ``bytes`` were written into the jail
WRITE_OPS: Final = frozenset(
    {
        "pipe_file", "pipe", "write_text", "write_bytes", "put", "put_file", "upload", "cp_file",
        "copy", "cp",
    }
)  # fmt: skip
#: the decisions a record may carry, in the order tables show them
DECISIONS: Final = ("allow", "deny", "error", "external")

_RELATIVE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, *, now: _dt.datetime | None = None) -> _dt.datetime:
    """A point in time from ISO-8601 (without a zone: UTC, as the log shows times) or a relative
    age: 30s, 10m, 2h, 1d, 1w.

    Raises ValueError with a message for anything else.
    """
    now = now or _dt.datetime.now(tz=_dt.UTC)
    m = _RELATIVE.fullmatch(text)
    if m:
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
        return now - _dt.timedelta(seconds=seconds)
    try:
        when = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is neither an ISO time (2024-05-01T12:00) nor an age like 10m, 2h, 1d"
        ) from None
    if when.tzinfo is None:  # as the log's "time (UTC)" column shows it
        return when.replace(tzinfo=_dt.UTC)
    return when.astimezone(_dt.UTC)


def record_time(record: Record) -> _dt.datetime | None:
    ts = record.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        return _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class RecordFilter:
    """Which records ``jailfs log`` shows. Empty sequences mean "any"."""

    ops: Sequence[str] = ()
    decisions: Sequence[str] = ()
    path: str | None = None
    actors: Sequence[str] = ()
    since: _dt.datetime | None = None
    sessions: Sequence[str] = ()

    def __call__(self, record: Record) -> bool:
        op = record.get("op")
        if self.ops:
            if op not in self.ops:
                return False
        elif op == SESSION_OP:  # session headers are shown only when asked for
            return False
        if self.decisions and record.get("decision") not in self.decisions:
            return False
        if self.actors and record.get("actor") not in self.actors:
            return False
        if self.sessions and not any(
            str(record.get("session", "")).startswith(s) for s in self.sessions
        ):
            return False
        if self.path is not None and not any(
            isinstance(record.get(key), str) and fnmatch.fnmatchcase(record[key], self.path)
            for key in ("path", "dest", "resolved")
        ):
            return False
        if self.since is not None:
            when = record_time(record)
            if when is None or when < self.since:
                return False
        return True


def select(records: Iterable[Record], keep: RecordFilter, limit: int | None) -> list[Record]:
    """The records ``keep`` accepts; with ``limit``, only the newest ``limit`` of them."""
    chosen = [r for r in records if keep(r)]
    if limit is not None:
        chosen = chosen[-limit:] if limit > 0 else []
    return chosen


# -- statistics ------------------------------------------------------------------------------


def _bytes(record: Record) -> int:
    value = record.get("bytes")
    return value if isinstance(value, int) else 0


def compute_stats(records: Iterable[Record], *, top: int = 10) -> dict[str, Any]:
    """Calls by op and decision, top denied paths, bytes read and written, per session.

    ``close`` records carry the bytes a file object moved, without saying which way: they are
    counted as ``file_object_bytes``. Session records are not calls; sessions without a call
    (a jail opened and closed, as ``jailfs check`` does) are only counted, as ``empty_sessions``.
    """
    by_op: dict[str, Counter[str]] = {}
    decisions: Counter[str] = Counter()
    denied: Counter[str] = Counter()
    sessions: dict[str, dict[str, Any]] = {}
    totals = {"calls": 0, "bytes_read": 0, "bytes_written": 0, "file_object_bytes": 0}
    for rec in records:
        sid = str(rec.get("session"))
        sess = sessions.get(sid)
        if sess is None:
            sess = sessions[sid] = {
                "session": sid,
                "actor": rec.get("actor"),
                "started": rec.get("ts"),
                "last": rec.get("ts"),
                "root": None,
                "calls": 0,
                **dict.fromkeys(DECISIONS, 0),
                "bytes_read": 0,
                "bytes_written": 0,
                "file_object_bytes": 0,
            }
        op = str(rec.get("op"))
        if op == SESSION_OP:
            meta = rec.get("meta")
            if isinstance(meta, dict):
                sess["root"] = meta.get("root")
            sess["started"] = rec.get("ts")
            continue
        decision = str(rec.get("decision"))
        sess["last"] = rec.get("ts")
        sess["calls"] += 1
        sess[decision] = sess.get(decision, 0) + 1
        totals["calls"] += 1
        decisions[decision] += 1
        by_op.setdefault(op, Counter())[decision] += 1
        if decision == "deny" and isinstance(rec.get("path"), str):
            denied[rec["path"]] += 1
        n = _bytes(rec)
        kind = (
            "bytes_read"
            if op in READ_OPS
            else "bytes_written"
            if op in WRITE_OPS
            else "file_object_bytes"
            if op == "close"
            else None
        )
        if kind is not None and n:
            totals[kind] += n
            sess[kind] += n
    ops = [
        {"op": op, "calls": sum(c.values()), **{d: c.get(d, 0) for d in DECISIONS}}
        for op, c in sorted(by_op.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    ]
    return {
        **totals,
        "decisions": {d: decisions.get(d, 0) for d in DECISIONS},
        "ops": ops,
        "top_denied": [{"path": p, "count": n} for p, n in denied.most_common(top)],
        "sessions": [s for s in sessions.values() if s["calls"]],
        "empty_sessions": sum(1 for s in sessions.values() if not s["calls"]),
    }
