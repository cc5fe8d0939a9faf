"""The audit log: one JSON line per call, hash-chained, written before the call returns.

This module is the only code that writes audit files. It is host-side and trusted: it works on the
audit directory the host program names, with ordinary ``os`` calls, never through the jail.

Layout
    An audit *directory* (mode ``0o700``) holds *segments*. Each :class:`AuditLog` opens exactly one
    new segment, ``<UTC start YYYYmmddTHHMMSS.ffffffZ>-<session>.jsonl`` (mode ``0o600``, created
    with ``O_EXCL``, appended with ``O_APPEND``), so two jails, or two processes, never share a
    file. The names sort by start time.

Records
    One JSON object per line, with exactly the keys of :data:`FIELDS` (the session record adds
    ``meta``), values as follows::

        seq       0, 1, 2, ... within the segment (the session record is 0)
        ts        UTC time, ISO-8601 with microseconds and "Z": "2024-05-01T12:34:56.123456Z";
                  never decreases within a session (a clock stepping back is clamped)
        session   16 hex digits, random, the same on every line of a segment
        actor     who made the call ("agent" by default)
        op        the operation ("cat_file", "ls", "open", "close", ...)
        path      the virtual path the caller named, or null
        dest      the second path of copy/rename (of get/put: the host's local path, absolute),
                  or null
        resolved  the virtual path ``path`` resolved to (symlinks followed), or null
        decision  "allow"; "deny" (the jail refused the call: a rule, an escape, an invalid path,
                  an unsupported file type, a limit); "error" (the operating system failed it);
                  or "external" (a change seen outside the jail API). ``explain`` answers a
                  question, so it is "allow" even when the answer is "denied"
        reason    short reason of a refusal or failure ("denied", "escape", ...), or null
        rule      the rule that decided, or null
        error     the error message, or null
        bytes     bytes moved to or from files, or null (through a file object: what it read
                  from the file, read-ahead included, and wrote)
        count     entries returned (ls, find, glob, ...), or null
        us        duration of the call in microseconds
        tool      the agent tool that made the call, or null
        prev      ``hash`` of the previous line (:data:`GENESIS` on the session record)
        hash      see below

    The first line of a segment is the *session record*: ``op = "session"``, ``decision = "allow"``,
    ``path`` and the other optional fields null, plus one extra key, ``meta``, found on no other
    record: ``{"format": 1, "root": <host root>, "policy": <policy hash>, "pid": <int>,
    "user": <login name>, "version": <jailfs version>, "started": <ts>}``.

    Strings are stored as given, except that a value that is not a ``str``, or that holds a lone
    surrogate (an undecodable host name), is stored as its ``str()`` with surrogates written as
    ``\\udcXX`` text: the file stays valid UTF-8 and the record is never lost.

Hash chain
    ``canonical(obj) = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``

    ``hash = sha256(UTF-8(prev + canonical(record without its "hash" key))).hexdigest()``

    where ``prev`` is the record's own ``prev`` value (which is also inside the JSON). The line
    written is ``canonical(record) + "\\n"``, ``hash`` included. :func:`verify_log` recomputes every
    hash from the parsed JSON, checks ``prev`` against the line before and ``seq`` for gaps, so an
    edited, deleted, inserted or reordered line is reported with its line number. What a chain
    without a secret cannot show: the loss of whole segments, or of the *last* lines of one. Keep
    the last ``hash`` elsewhere (or ship lines off the machine) when that matters.

Durability and threads
    Each line goes to the OS with one ``write(2)`` (retried on a short write) before
    :meth:`AuditLog.record` returns, so it survives the process being killed; ``fsync=True`` also
    syncs each line to disk. One lock covers seq, time, chain and write: concurrent calls never
    interleave bytes or break the chain. A killed writer can leave at most one partial last line;
    readers skip it and :func:`verify_log` counts it as ``torn``.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
import heapq
import json
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from types import TracebackType
from typing import Final, cast

import platformdirs

import jailfs
from jailfs.errors import ConfigError, JailError

__all__ = [
    "FIELDS",
    "GENESIS",
    "AuditFormatError",
    "AuditLog",
    "SegmentEnd",
    "VerifyResult",
    "canonical_json",
    "default_audit_dir",
    "read_log",
    "record_hash",
    "segment_files",
    "verify_log",
]

#: the keys of every record, in the order of the dicts :meth:`AuditLog.record` returns
FIELDS: Final = (
    "seq",
    "ts",
    "session",
    "actor",
    "op",
    "path",
    "dest",
    "resolved",
    "decision",
    "reason",
    "rule",
    "error",
    "bytes",
    "count",
    "us",
    "tool",
    "prev",
    "hash",
)
#: ``prev`` of the first (session) record of every segment
GENESIS: Final = "0" * 64
#: the version of the record layout, written in the session record's ``meta``
FORMAT_VERSION: Final = 1
#: the ``decision`` values a record may carry
DECISIONS: Final = frozenset({"allow", "deny", "error", "external"})
#: the ``op`` of the first record of a segment
SESSION_OP: Final = "session"
#: the target that keeps records in memory instead of a directory
MEMORY: Final = ":memory:"

#: bytes read at a time by :func:`read_log` (per segment, while merging)
_READ_BLOCK: Final = 64 * 1024
#: bytes read at a time by :func:`verify_log`, and how often it reports progress
_VERIFY_BLOCK: Final = 1024 * 1024

_ENCODER: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_NULL: Final = "null"
#: an empty sha256, copied for each record (cheaper than a new one: no context set-up)
_SHA256: Final = hashlib.sha256()
_time_ns: Final = time.time_ns


def canonical_json(obj: object) -> str:
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``."""
    return _ENCODER.encode(obj)


def record_hash(record: dict[str, object]) -> str:
    """The hash a record must carry: sha256 of ``prev`` + canonical JSON without ``hash``."""
    rest = dict(record)
    rest.pop("hash", None)
    text = str(record["prev"]) + _ENCODER.encode(rest)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditFormatError(JailError, ValueError):
    """An audit file holds a line that is not a well-formed record (named as ``file:line``)."""

    reason = "audit"

    def __init__(self, file: str, line: int, problem: str) -> None:
        super().__init__(f"{file}:{line}: {problem}")
        self.file = file
        self.line = line
        self.problem = problem


# -- writing --------------------------------------------------------------------------------------

#: every open AuditLog, so that a forked child can be stopped from continuing the parent's chain
_OPEN_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for log in list(_OPEN_LOGS):
        log._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _user_name() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        pass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _clean_text(value: object) -> str:
    """``value`` as a str that encodes to UTF-8: ``str()`` of it, lone surrogates as text."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _clean_opt(value: object) -> str | None:
    return None if value is None else _clean_text(value)


#: what ``record(_result=False)`` returns (the jail does not use the record)
_NO_RECORD: dict[str, object] = {}


def _clean_int(name: str, value: object) -> int | None:
    if value is None or type(value) is int:
        return value
    if isinstance(value, int):  # bool and other int subclasses: store the plain number
        return int(value)
    raise TypeError(f"audit field {name!r} must be an int or None, not {type(value).__name__}")


def _write_rest(fd: int, data: bytes, written: int) -> None:
    """Finish a short write: hand the OS the rest of ``data`` (EINTR is retried by Python)."""
    while written < len(data):
        written += os.write(fd, memoryview(data)[written:])


def _make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each with mode 0o700."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        directory.chmod(0o700)  # the umask may have taken bits away; never more than 0o700
    if not path.is_dir():
        raise ConfigError(f"audit directory {str(path)!r} exists and is not a directory")


class AuditLog:
    """Appends hash-chained records of one session to its own segment (or to memory).

    ``target`` is an audit directory, created with mode 0o700 if missing, or ``":memory:"``.
    The first record is the session record (see the module docstring). ``record()`` is the hot
    path: it costs a few microseconds and one ``write(2)``.
    """

    session: str
    segment: Path | None

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        root: str,
        policy_hash: str,
        actor: str = "agent",
        fsync: bool = False,
        version: str | None = None,
    ) -> None:
        self.session = secrets.token_hex(8)
        self.actor = _clean_text(actor)
        self.root = root
        self.policy_hash = policy_hash
        self.fsync = fsync
        self.version = _clean_text(jailfs.__version__ if version is None else version)
        self._lock = threading.Lock()
        self._seq = 0
        self._prev = GENESIS
        self._last_us = 0
        self._second = -1
        self._second_text = ""
        self._closed = False
        self._broken: str | None = None
        self._fd = -1
        self._size = 0  # bytes of complete lines in the segment
        self._memory: list[str] | None = None
        self._finalizer: weakref.finalize[[int], AuditLog] | None = None
        # constant parts of every line
        self._actor_json = encode_basestring(self.actor)
        self._session_json = f',"session":"{self.session}","tool":'

        started_us = time.time_ns() // 1000
        ts = self._timestamp(started_us)
        if isinstance(target, str) and target == MEMORY:
            self.segment = None
            self._memory = []
        else:
            directory = Path(target)
            _make_dirs(directory)
            stamp = ts.replace("-", "").replace(":", "")
            self.segment = directory / f"{stamp}-{self.session}.jsonl"
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.segment, flags, 0o600)
            self._finalizer = weakref.finalize(self, os.close, self._fd)
        try:
            if self.segment is not None:
                os.fchmod(self._fd, 0o600)  # exactly 0o600, whatever the umask
                if fsync:
                    _fsync_dir(self.segment.parent)
            self._write_session_record(ts)
        except BaseException:
            self._closed = True
            if self._finalizer is not None:
                self._finalizer()
            raise
        _OPEN_LOGS.add(self)

    # -- the hot path --

    def record(
        self,
        op: str,
        path: str | None,
        *,
        decision: str,
        dest: str | None = None,
        resolved: str | None = None,
        reason: str | None = None,
        rule: str | None = None,
        error: str | None = None,
        nbytes: int | None = None,
        count: int | None = None,
        us: int = 0,
        actor: str | None = None,
        tool: str | None = None,
        _result: bool = True,
    ) -> dict[str, object]:
        """Append one record and return it (a dict with exactly :data:`FIELDS`).

        The line has reached the OS when this returns. ``nbytes`` is stored as ``bytes``.
        Raises ValueError for an unknown ``decision`` or ``op == "session"``, and JailError once
        the log is closed. (The jail passes ``_result=False``: it needs no dict back.)
        """
        if decision not in DECISIONS:
            raise ValueError(f"audit decision must be one of {sorted(DECISIONS)}, not {decision!r}")
        if op == SESSION_OP:
            raise ValueError("op 'session' is reserved for the first record of a segment")
        if actor is None:
            actor = self.actor
        if (
            (nbytes is not None and type(nbytes) is not int)
            or (count is not None and type(count) is not int)
            or type(us) is not int
        ):
            nbytes = _clean_int("bytes", nbytes)
            count = _clean_int("count", count)
            us = _clean_int("us", us) or 0
        # The canonical JSON is built by hand, keys in sorted order ("hash" sorts between "error"
        # and "op"), each string through json's own encode_basestring, so it equals
        # canonical_json() byte for byte (tests check it). A value that is not a str raises
        # TypeError here and a lone surrogate raises UnicodeEncodeError at the first encode(),
        # both before anything is written or any state changes: the record is then stored with
        # cleaned text instead.
        try:
            head = (
                f'{{"actor":{self._actor_json if actor is self.actor else encode_basestring(actor)}'
                f',"bytes":{_NULL if nbytes is None else nbytes}'
                f',"count":{_NULL if count is None else count}'
                f',"decision":"{decision}"'
                f',"dest":{_NULL if dest is None else encode_basestring(dest)}'
                f',"error":{_NULL if error is None else encode_basestring(error)}'
            )
            op_json = encode_basestring(op)
            path_json = _NULL if path is None else encode_basestring(path)
            reason_json = _NULL if reason is None else encode_basestring(reason)
            resolved_json = _NULL if resolved is None else encode_basestring(resolved)
            rule_json = _NULL if rule is None else encode_basestring(rule)
            tool_json = _NULL if tool is None else encode_basestring(tool)
            lock = self._lock  # acquire/release: cheaper than a with block on this path
            lock.acquire()
            try:
                if self._closed:
                    raise JailError(self._broken or "audit log is closed")
                seq = self._seq
                prev = self._prev
                now = _time_ns() // 1000
                if now < self._last_us:  # the wall clock stepped back: keep the session ordered
                    now = self._last_us
                self._last_us = now
                second = now // 1_000_000
                if second != self._second:  # strftime once a second, not once a record
                    self._second = second
                    self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
                ts = f"{self._second_text}.{str(now - second * 1_000_000 + 1_000_000)[1:]}Z"
                rest = (
                    f',"op":{op_json},"path":{path_json},"prev":"{prev}","reason":{reason_json}'
                    f',"resolved":{resolved_json},"rule":{rule_json},"seq":{seq}'
                    f'{self._session_json}{tool_json},"ts":"{ts}","us":{us}}}'
                )
                sha = _SHA256.copy()
                sha.update(f"{prev}{head}{rest}".encode())
                digest = sha.hexdigest()
                self._emit(f'{head},"hash":"{digest}"{rest}\n')
                self._seq = seq + 1
                self._prev = digest
            finally:
                lock.release()
        except (TypeError, UnicodeEncodeError):
            return self.record(
                _clean_text(op),
                _clean_opt(path),
                decision=decision,
                dest=_clean_opt(dest),
                resolved=_clean_opt(resolved),
                reason=_clean_opt(reason),
                rule=_clean_opt(rule),
                error=_clean_opt(error),
                nbytes=nbytes,
                count=count,
                us=us,
                actor=_clean_text(actor),
                tool=_clean_opt(tool),
            )
        if not _result:
            return _NO_RECORD
        return {
            "seq": seq,
            "ts": ts,
            "session": self.session,
            "actor": actor,
            "op": op,
            "path": path,
            "dest": dest,
            "resolved": resolved,
            "decision": decision,
            "reason": reason,
            "rule": rule,
            "error": error,
            "bytes": nbytes,
            "count": count,
            "us": us,
            "tool": tool,
            "prev": prev,
            "hash": digest,
        }

    def _timestamp(self, now_us: int) -> str:
        """``now_us`` (µs since the epoch) as ISO-8601 UTC; never before the previous one."""
        if now_us < self._last_us:  # the wall clock stepped back: keep the session ordered
            now_us = self._last_us
        self._last_us = now_us
        second, micro = divmod(now_us, 1_000_000)
        if second != self._second:  # strftime once a second, not once a record
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{micro:06d}Z"

    def _emit(self, line: str) -> None:
        """Write one complete line; the caller holds the lock."""
        if self._memory is not None:
            self._memory.append(line)
            return
        data = line.encode()
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                _write_rest(self._fd, data, written)
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            # The record is lost and the call fails. A partial line would corrupt every later one:
            # cut the file back to the last complete line, or stop writing if that fails too.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                self._break(f"audit log stopped after a failed write: {exc}")
            raise
        self._size += len(data)

    def _write_session_record(self, ts: str) -> None:
        record: dict[str, object] = dict.fromkeys(FIELDS)
        record.update(
            seq=0,
            ts=ts,
            session=self.session,
            actor=self.actor,
            op=SESSION_OP,
            decision="allow",
            us=0,
            prev=GENESIS,
            meta={
                "format": FORMAT_VERSION,
                "root": _clean_text(self.root),
                "policy": _clean_text(self.policy_hash),
                "pid": os.getpid(),
                "user": _clean_text(_user_name()),
                "version": self.version,
                "started": ts,
            },
        )
        record["hash"] = digest = record_hash(record)  # record_hash leaves "hash" out
        self._emit(canonical_json(record) + "\n")
        self._seq = 1
        self._prev = digest

    # -- lifecycle --

    def _break(self, why: str) -> None:
        """Stop writing for good (the caller holds the lock, or no other thread can)."""
        self._broken = why
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()  # closes the fd, once

    def _forked(self) -> None:
        """Called in a forked child: the parent owns the chain; this copy must not extend it."""
        self._lock = threading.Lock()  # another thread of the parent may have held it
        self._break("audit log was opened by the parent process; open a new AuditLog after fork")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or writing stopped after an error)."""
        return self._closed

    def records(self) -> list[dict[str, object]]:
        """The records of this session, in order (read back from the segment, or from memory)."""
        if self.segment is not None:
            return list(read_log(self.segment))
        with self._lock:
            lines = list(self._memory or ())
        return [json.loads(line) for line in lines]

    def close(self) -> None:
        """Close the segment; calling it again does nothing. record() then raises JailError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._finalizer is not None:
                self._finalizer()
        _OPEN_LOGS.discard(self)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = MEMORY if self.segment is None else str(self.segment)
        state = "closed" if self._closed else f"seq={self._seq}"
        return f"<AuditLog {where} session={self.session} {state}>"


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_audit_dir(root_realpath: str) -> Path:
    """Where a jail rooted at ``root_realpath`` keeps its audit log when none is configured.

    ``platformdirs.user_state_path("jailfs") / "audit" / sha256(root)[:16]``. That place must not
    lie under the root (the agent would see its own log), nor hold the root: if it would (a root
    of ``/`` or of the home directory), ConfigError asks for an explicit audit directory.
    """
    digest = hashlib.sha256(os.fsencode(root_realpath)).hexdigest()[:16]
    path = platformdirs.user_state_path("jailfs") / "audit" / digest
    root = os.path.realpath(root_realpath)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) in (root, real):
        raise ConfigError(
            f"the default audit directory {str(path)!r} lies under the jail's root; "
            "give the jail an explicit audit directory outside the root"
        )
    return path


# -- reading --------------------------------------------------------------------------------------


def segment_files(path: str | os.PathLike[str]) -> list[Path]:
    """The segment files of an audit directory (sorted by name, so by start time), or [path].

    A directory that cannot be listed raises (PermissionError): it is not an empty log."""
    target = Path(path)
    if target.is_dir():
        with os.scandir(target) as entries:
            found = [Path(e.path) for e in entries if e.name.endswith(".jsonl") and e.is_file()]
        return sorted(found)
    if not target.exists():
        raise FileNotFoundError(errno.ENOENT, "no audit log at this path", str(target))
    return [target]


def _lines(path: Path, block: int, limit: int | None = None) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(line number, line without "\\n", complete)`` for the first ``limit`` bytes.

    Only a last line without its newline is yielded with ``complete=False`` (a torn tail). The
    file is reopened for each block, so merging many segments never holds many descriptors.
    """
    offset = 0
    lineno = 0
    carry = b""
    while limit is None or offset < limit:
        size = block if limit is None else min(block, limit - offset)
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read(size)
        if not data:
            break
        offset += len(data)
        parts = (carry + data).split(b"\n")
        carry = parts.pop()
        for part in parts:
            lineno += 1
            yield lineno, part, True
    if carry:
        yield lineno + 1, carry, False


def _not_json_reason(data: bytes) -> str:
    """Why a line does not parse: an object cut short, or something else."""
    line = data.strip()
    if not line:
        return "empty line"
    return "truncated line" if line.startswith(b"{") and not line.endswith(b"}") else "not JSON"


def _parse_line(data: bytes) -> dict[str, object] | str:
    """The record on a complete line, or the reason it is not one."""
    try:
        record = json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return _not_json_reason(data)
    if not isinstance(record, dict):
        return "not a JSON object"
    return record


def _read_segment(path: Path) -> Iterator[dict[str, object]]:
    for lineno, data, complete in _lines(path, _READ_BLOCK):
        if not complete:
            return  # a writer killed mid-line: the record was never acknowledged
        record = _parse_line(data)
        if isinstance(record, str):
            raise AuditFormatError(str(path), lineno, record)
        if (
            not isinstance(record.get("ts"), str)
            or not isinstance(record.get("session"), str)
            or type(record.get("seq")) is not int
        ):
            raise AuditFormatError(str(path), lineno, "not an audit record (ts, session, seq)")
        yield record


def _merge_key(record: dict[str, object]) -> tuple[str, str, int]:
    return (cast(str, record["ts"]), cast(str, record["session"]), cast(int, record["seq"]))


def read_log(path: str | os.PathLike[str]) -> Iterator[dict[str, object]]:
    """The records of a segment file, or of every segment of an audit directory.

    Segments are merged by ``(ts, session, seq)``. A torn last line (a writer killed mid-write)
    is skipped; any other line that is not a record raises :class:`AuditFormatError` naming
    ``file:line``. Records are parsed lazily, as the iterator is consumed.
    """
    files = segment_files(path)
    if len(files) == 1:
        yield from _read_segment(files[0])
    else:
        yield from heapq.merge(*(_read_segment(file) for file in files), key=_merge_key)


# -- verifying ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentEnd:
    """Where one verified segment ends: ``hash`` is the ``hash`` of its last record."""

    file: str
    records: int
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify_log` found. ``file``, ``line`` and ``reason`` name the first break."""

    ok: bool
    #: records whose chain was checked
    records: int
    #: segment files looked at (up to and including a broken one)
    files: int
    file: str | None = None
    #: 1-based line number of the first break in ``file``
    line: int | None = None
    reason: str | None = None
    #: segments ending in a torn line (a writer killed mid-write); tolerated, not counted
    torn: int = 0
    #: each segment checked whole: its file, records and last hash. Keep the last hashes
    #: elsewhere to detect, later, the loss of a segment's last lines (a chain cannot show it).
    ends: tuple[SegmentEnd, ...] = field(default=(), compare=False)


_FIELD_SET: Final = frozenset(FIELDS)
_SESSION_FIELD_SET: Final = _FIELD_SET | {"meta"}


def _field_problem(record: dict[str, object], expected: frozenset[str]) -> str | None:
    keys = record.keys()
    if keys == expected:
        return None
    missing = sorted(expected - keys)
    if missing:
        return f"missing field {missing[0]!r}"
    return f"unexpected field {sorted(keys - expected)[0]!r}"


class _Progress:
    """Calls ``progress(done, total)`` about once per :data:`_VERIFY_BLOCK` bytes."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.next = _VERIFY_BLOCK

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self.callback is not None and self.done >= self.next:
            self.callback(self.done, self.total)
            self.next = self.done + _VERIFY_BLOCK


@dataclass(frozen=True, slots=True)
class _Checked:
    """What checking one segment found: ``reason`` and ``line`` name a break, if any."""

    records: int
    line: int = 0
    reason: str | None = None
    #: 1 if the segment ends in a torn line
    torn: int = 0
    #: the hash of the last record checked
    last: str = GENESIS


def _verify_segment(path: Path, size: int, progress: _Progress) -> _Checked:
    """Check one segment's chain."""
    checked = 0
    prev_hash = GENESIS
    session: object = None
    for lineno, data, complete in _lines(path, _VERIFY_BLOCK, size):
        progress.advance(len(data) + complete)
        if not complete:
            if checked == 0:
                return _Checked(checked, 1, "session record missing", torn=1)
            return _Checked(checked, torn=1, last=prev_hash)
        record = _parse_line(data)
        if isinstance(record, str):
            return _Checked(checked, lineno, record)
        first = lineno == 1
        problem = _field_problem(record, _SESSION_FIELD_SET if first else _FIELD_SET)
        if problem is not None:
            if first and record.get("op") != SESSION_OP:
                problem = "session record missing"
            return _Checked(checked, lineno, problem)
        seq = record["seq"]
        prev = record["prev"]
        stored = record["hash"]
        if type(seq) is not int or not isinstance(prev, str) or not isinstance(stored, str):
            return _Checked(checked, lineno, "seq, prev or hash has the wrong type")
        if first:
            if record["op"] != SESSION_OP or not isinstance(record["meta"], dict):
                return _Checked(checked, lineno, "session record missing")
            session = record["session"]
        elif record["op"] == SESSION_OP:
            return _Checked(checked, lineno, "a second session record")
        if seq != checked:
            return _Checked(checked, lineno, f"seq gap: expected {checked}, got {seq}")
        if prev != prev_hash:
            if first:
                return _Checked(
                    checked, lineno, "prev of the session record is not the genesis hash"
                )
            return _Checked(checked, lineno, f"prev does not match line {lineno - 1}")
        if record["session"] != session:
            return _Checked(checked, lineno, "session differs from the session record's")
        if record_hash(record) != stored:
            return _Checked(checked, lineno, "hash mismatch")
        prev_hash = stored
        checked += 1
    if checked == 0:
        return _Checked(checked, 1, "session record missing")
    return _Checked(checked, last=prev_hash)


def verify_log(
    path: str | os.PathLike[str], *, progress: Callable[[int, int], None] | None = None
) -> VerifyResult:
    """Recompute the hash chain of a segment file, or of every segment of an audit directory.

    Each segment must start with a session record (seq 0, prev = GENESIS); each later line must
    have seq one more than the line before, prev equal to that line's hash, and a hash that
    recomputes. The first anomaly ends the check with ``ok=False`` and its file, line and reason.
    A torn last line (a writer killed mid-write) is tolerated and counted in ``torn``. Each file
    is checked up to the size it had when the check began, so a live log can be verified.
    ``progress(done_bytes, total_bytes)`` is called about once a MiB and once at the end.
    A directory without segments is not a verified log: ``ok=False``, reason "no audit
    segments". ``ends`` gives the last hash of each segment checked whole.
    """
    files = segment_files(path)
    if not files:
        return VerifyResult(False, 0, 0, str(path), None, "no audit segments")
    sizes = [file.stat().st_size for file in files]
    meter = _Progress(progress, sum(sizes))
    records = 0
    torn = 0
    ends: list[SegmentEnd] = []
    for index, (file, size) in enumerate(zip(files, sizes, strict=True), start=1):
        found = _verify_segment(file, size, meter)
        records += found.records
        torn += found.torn
        if found.reason is not None:
            return VerifyResult(
                False, records, index, str(file), found.line, found.reason, torn, tuple(ends)
            )
        ends.append(SegmentEnd(str(file), found.records, found.last))
    if progress is not None:
        progress(meter.done, meter.total)
    return VerifyResult(True, records, len(files), torn=torn, ends=tuple(ends))
