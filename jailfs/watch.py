"""Changes under a jail's root made *outside* the jail, seen by a watchdog observer.

The jail vouches only for calls made through it. An agent that also has a shell can change the
tree directly, where no rule applies. :class:`Watcher` observes the real root (recursively, with
watchdog) and turns each change into a :class:`WatchEvent` named by its virtual path; an event
that touches a path the policy denies, or keeps read-only, is *flagged*. With ``record=True`` each
event is appended to the jail's audit log as a record with decision ``"external"``
(``op`` = created / modified / deleted / moved, ``reason`` = "denied path" or "read-only path"
when flagged, ``rule`` = the rule that refuses a write there).

What is not reported:

- the jail's own audit directory (its writes would otherwise report themselves, forever);
- the jail's hidden temporary files (names starting with ``.jailfs-tmp-``); a temp file renamed
  over a name (an atomic whole-file write) is reported as ``modified`` on that name;
- "directory modified" notices (the change of a directory's entries is reported on the entry);
- changes the jail made itself: an event waits :data:`SETTLE_SECONDS`, then is dropped when an
  audit record of a changing call (allowed or failed, of any jail writing to the same audit
  directory) names the same path, a parent or a child of it, within :data:`MATCH_WINDOW` seconds.
  A shell that changes a path in the same moment as the jail does can therefore hide in that
  window; a jail whose audit log is ``":memory:"`` offers no records, so nothing is dropped.

:class:`LogTail` follows the segments of an audit directory as they grow (``jailfs log --follow``
uses it too).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from jailfs.errors import JailError
from jailfs.filesystem import JailFileSystem, is_temp
from jailfs.paths import normalize

__all__ = [
    "CHANGING_OPS",
    "EXTERNAL_OPS",
    "MATCH_WINDOW",
    "SETTLE_SECONDS",
    "LogTail",
    "WatchEvent",
    "Watcher",
]

#: the ``op`` values of external records
EXTERNAL_OPS: Final = ("created", "modified", "deleted", "moved")
#: seconds an event waits before it is reported, so that the jail's own record of it can arrive
SETTLE_SECONDS: Final = 0.25
#: seconds between an event and a jail record of the same path for the record to explain it
MATCH_WINDOW: Final = 2.0
#: audit ops of jail calls that change the tree (their records explain the events they cause)
CHANGING_OPS: Final = frozenset(
    {
        "pipe_file", "touch", "open", "close", "mkdir", "makedirs", "makedir", "mkdirs",
        "rmdir", "rm_file", "rm", "delete", "mv", "cp_file", "copy", "cp", "put", "put_file",
        "upload", "symlink", "chmod", "pipe", "write_text", "write_bytes",
    }
)  # fmt: skip
#: seconds during which another "modified" of a path just reported created or modified is dropped
REPEAT_SECONDS: Final = 0.5
#: seconds between two looks at the audit segments while events wait
_POLL: Final = 0.05
#: watchdog event types -> the op reported ("attrib": chmod, chown, utime)
_KINDS: Final = {
    "created": "created",
    "modified": "modified",
    "attrib": "modified",
    "deleted": "deleted",
    "moved": "moved",
}


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change under the root, made outside the jail."""

    #: UTC time the change was seen, ISO-8601 with "Z"
    ts: str
    #: "created", "modified", "deleted" or "moved"
    op: str
    #: the virtual path (for "moved": where it was)
    path: str
    #: where it went ("moved" only)
    dest: str | None
    is_dir: bool
    #: the change touches a denied or a read-only path
    flagged: bool
    #: "denied path", "read-only path", "invalid path", or None when not flagged
    reason: str | None
    #: the rule that refuses a write on the path, or None
    rule: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- following an audit directory -------------------------------------------------------------


class LogTail:
    """The records appended to an audit directory (or one segment file) since the last poll.

    ``from_start``: the first :meth:`poll` returns every record already there; otherwise only
    records written after construction (segments created later are read from their start). Only
    complete lines are returned; a line that is not a JSON object is skipped and named in
    :attr:`problems` (``file:line``, counted from where the tail started reading the file).
    """

    def __init__(self, target: str | os.PathLike[str], *, from_start: bool = True) -> None:
        self.target = Path(target)
        self._offsets: dict[Path, int] = {}
        self._lines: dict[Path, int] = {}
        #: the lines skipped so far, as "file:line: why"; the caller may report and clear them
        self.problems: list[str] = []
        if not from_start:
            for file in self._files():
                self._offsets[file] = _size(file)

    def _files(self) -> list[Path]:
        if self.target.is_dir():
            return sorted(f for f in self.target.glob("*.jsonl") if f.is_file())
        return [self.target] if self.target.is_file() else []

    def poll(self) -> list[dict[str, Any]]:
        """New complete records, ordered by (ts, session, seq)."""
        out: list[dict[str, Any]] = []
        for file in self._files():
            offset = self._offsets.get(file, 0)
            try:
                with file.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
            except OSError:
                continue
            end = data.rfind(b"\n")
            if end < 0:
                continue
            self._offsets[file] = offset + end + 1
            for line in data[: end + 1].splitlines():
                lineno = self._lines[file] = self._lines.get(file, 0) + 1
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    out.append(record)
                else:
                    self.problems.append(f"{file}:{lineno}: not an audit record, skipped")
        out.sort(key=lambda r: (str(r.get("ts")), str(r.get("session")), _int(r.get("seq"))))
        return out


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _parse_ts(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _iso(wall: float) -> str:
    stamp = _dt.datetime.fromtimestamp(wall, tz=_dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


# -- the watcher ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Raw:
    """A watchdog event as received: host paths, times of arrival."""

    op: str
    src: str
    dest: str | None
    is_dir: bool
    wall: float
    due: float


class _Handler(FileSystemEventHandler):
    def __init__(self, sink: queue.Queue[_Raw], settle: float) -> None:
        super().__init__()
        self._sink = sink
        self._settle = settle

    def dispatch(self, event: FileSystemEvent) -> None:
        op = _KINDS.get(event.event_type)
        if op is None or (op == "modified" and event.is_directory):
            return  # opened/closed notices; a directory's entries changing
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if op == "moved" and event.dest_path else None
        now = time.monotonic()
        self._sink.put(
            _Raw(op, src, dest, bool(event.is_directory), time.time(), now + self._settle)
        )


class Watcher:
    """Reports changes under ``fs``'s root made outside the jail (see the module docstring).

    ``record``: append each event to ``fs.audit`` as an ``external`` record. ``settle``: seconds
    an event waits for the jail's own record of the same change. Use as a context manager, or
    call :meth:`start` and :meth:`stop`; read events with :meth:`poll` or :meth:`run`.
    """

    def __init__(
        self,
        fs: JailFileSystem,
        *,
        record: bool = False,
        settle: float = SETTLE_SECONDS,
        window: float = MATCH_WINDOW,
    ) -> None:
        self.fs = fs
        self.record = record
        self.settle = settle
        self.window = window
        self.root = os.path.realpath(fs.host_root)
        segment = fs.audit.segment
        self.audit_dir: str | None = None if segment is None else os.path.realpath(segment.parent)
        self._queue: queue.Queue[_Raw] = queue.Queue()
        self._pending: list[_Raw] = []
        self._tail = None if self.audit_dir is None else LogTail(self.audit_dir, from_start=False)
        #: (time, path, dest, resolved) of recent changing jail calls
        self._jail_calls: list[tuple[float, str | None, str | None, str | None]] = []
        self._observer: Any = None
        #: path -> time of its last reported created/modified event
        self._recent: dict[str, float] = {}

    # -- lifecycle --

    def start(self) -> None:
        """Start observing; changes made after this returns are seen."""
        if self._observer is not None:
            return
        observer = Observer()
        observer.schedule(_Handler(self._queue, self.settle), self.root, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        """Stop observing (events still waiting are dropped)."""
        observer = self._observer
        self._observer = None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading events --

    def poll(self, timeout: float = 0.0) -> list[WatchEvent]:
        """The events that are due, waiting up to ``timeout`` seconds for the first of them."""
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            now = time.monotonic()
            if self._pending and self._pending[0].due <= now:
                return self._settle_due(now)
            if now >= deadline:
                return []
            wake = deadline if not self._pending else min(deadline, self._pending[0].due)
            try:
                item = self._queue.get(timeout=max(0.0, min(wake - now, _POLL * 4)))
            except queue.Empty:
                continue
            self._pending.append(item)

    def run(
        self,
        on_event: Callable[[WatchEvent], None],
        *,
        duration: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Call ``on_event`` for each event until ``duration`` passes or ``stop`` is set."""
        end = None if duration is None else time.monotonic() + duration
        while stop is None or not stop.is_set():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            for event in self.poll(0.2 if left is None else min(0.2, left)):
                on_event(event)

    def events(self, *, duration: float | None = None) -> Iterator[WatchEvent]:
        """The events, as they come, until ``duration`` seconds pass (forever if None)."""
        end = None if duration is None else time.monotonic() + duration
        while True:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return
            yield from self.poll(0.2 if left is None else min(0.2, left))

    # -- internals --

    def _drain(self) -> None:
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                return

    def _settle_due(self, now: float) -> list[WatchEvent]:
        due = [raw for raw in self._pending if raw.due <= now]
        self._pending = [raw for raw in self._pending if raw.due > now]
        self._read_jail_calls()
        out: list[WatchEvent] = []
        seen: set[tuple[str, str, str | None]] = set()
        created = {(e.src) for e in due if e.op == "created"}
        for raw in due:
            event = self._convert(raw)
            if event is None:
                continue
            key = (event.op, event.path, event.dest)
            if key in seen or (event.op == "modified" and raw.src in created):
                continue  # one change, several notices (created + modified + ...)
            seen.add(key)
            if event.op in ("created", "modified"):
                last = self._recent.get(event.path)
                self._recent[event.path] = raw.wall
                if event.op == "modified" and last is not None and raw.wall - last < REPEAT_SECONDS:
                    continue  # a truncate and a write: one change
            if len(self._recent) > 4096:
                self._recent.clear()
            if self._made_by_jail(event, raw.wall):
                continue
            if self.record:
                self.fs.audit.record(
                    event.op,
                    event.path,
                    decision="external",
                    dest=event.dest,
                    reason=event.reason,
                    rule=event.rule,
                )
            out.append(event)
        return out

    def _virtual(self, host: str) -> str | None:
        """The virtual path of a host path under the root; None: outside, the root, ignored."""
        rel = os.path.relpath(host, self.root)
        if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
            return None
        if self.audit_dir is not None:
            real_parent = os.path.realpath(os.path.dirname(host))
            full = os.path.join(real_parent, os.path.basename(host))
            if full == self.audit_dir or full.startswith(self.audit_dir + os.sep):
                return None
        return rel.replace(os.sep, "/")

    def _convert(self, raw: _Raw) -> WatchEvent | None:
        src = self._virtual(raw.src)
        dest = None if raw.dest is None else self._virtual(raw.dest)
        op = raw.op
        if op == "moved":
            if dest is None:  # moved out of the root (or into the audit dir): gone from view
                op, dest = "deleted", None
            elif src is None:  # moved in from outside
                op, src, dest = "created", dest, None
            elif is_temp(src):  # an atomic write: new content under the destination name
                op, src, dest = "modified", dest, None
        if src is None or is_temp(src) or (dest is not None and is_temp(dest)):
            return None
        flags = [self._flag(src, raw.is_dir)]
        if dest is not None:
            flags.append(self._flag(dest, raw.is_dir))
        reason, rule = next(((r, ru) for r, ru in flags if r is not None), (None, None))
        for r, ru in flags:  # a denied path outranks a read-only one
            if r == "denied path" or r == "invalid path":
                reason, rule = r, ru
        return WatchEvent(
            ts=_iso(raw.wall),
            op=op,
            path=_shown(src),
            dest=None if dest is None else _shown(dest),
            is_dir=raw.is_dir,
            flagged=reason is not None,
            reason=reason,
            rule=rule,
        )

    def _flag(self, vpath: str, is_dir: bool) -> tuple[str | None, str | None]:
        try:
            if normalize(vpath) != vpath:
                return "invalid path", None
            decision = self.fs.policy.check("write", vpath, is_dir=is_dir)
        except (JailError, UnicodeError):
            return "invalid path", None
        if decision.allowed:
            return None, None
        if decision.rule.list in ("deny", "internal"):
            return "denied path", str(decision.rule)
        return "read-only path", str(decision.rule)

    def _read_jail_calls(self) -> None:
        if self._tail is None:
            return
        horizon = time.time() - 2 * self.window - self.settle
        calls = [c for c in self._jail_calls if c[0] >= horizon]
        for rec in self._tail.poll():
            if rec.get("op") not in CHANGING_OPS or rec.get("decision") not in ("allow", "error"):
                continue
            when = _parse_ts(rec.get("ts"))
            if when is None:
                continue
            calls.append(
                (when, _opt(rec.get("path")), _opt(rec.get("dest")), _opt(rec.get("resolved")))
            )
        self._jail_calls = calls

    def _made_by_jail(self, event: WatchEvent, wall: float) -> bool:
        for when, *named in self._jail_calls:
            if abs(when - wall) > self.window:
                continue
            for path in named:
                if path is None:
                    continue
                if _related(path, event.path) or (
                    event.dest is not None and _related(path, event.dest)
                ):
                    return True
        return False


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _related(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same path, or one lies below the other."""
    if a == b:
        return True
    if not a or not b:
        return False
    return b.startswith(a + "/") or a.startswith(b + "/")


def _shown(vpath: str) -> str:
    """A path as text that encodes to UTF-8 (undecodable host names shown escaped)."""
    try:
        vpath.encode("utf-8")
    except UnicodeEncodeError:
        return vpath.encode("utf-8", "backslashreplace").decode("utf-8")
    return vpath
