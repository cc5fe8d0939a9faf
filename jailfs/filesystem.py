"""``JailFileSystem``: an fsspec filesystem confined to one real directory.

Each public method is a few lines: normalize -> resolve (the choke point, on directory fds) ->
decide (the policy, on the requested AND the resolved path) -> act via :mod:`jailfs._unchecked` on
fds -> record (one audit line per public call, written before it returns).
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import datetime as _dt
import functools
import importlib
import inspect
import io
import os
import secrets
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, TypeVar, cast

from fsspec.spec import AbstractFileSystem
from fsspec.utils import glob_translate

from jailfs import _unchecked as raw
from jailfs import paths
from jailfs.audit import AuditLog, default_audit_dir
from jailfs.errors import (
    AccessDenied,
    HardlinkRefused,
    InvalidPathError,
    JailError,
    PathEscapeError,
    QuotaExceeded,
    UnsupportedFileType,
    errno_error,
)
from jailfs.policy import Access, Decision, Policy, fold, parse_size
from jailfs.resolver import Resolved, Resolver, ResolverKind

#: prefix of the hidden temporary files of atomic writes; such names never appear in results and
#: can never be named by a caller
TEMP_PREFIX = ".jailfs-tmp-"
_TEMP_LEN = len(TEMP_PREFIX)
#: the setuid and setgid bits, never kept on a file the agent writes
_SET_ID = stat.S_ISUID | stat.S_ISGID
#: where a root whose names tell nothing is taken as case-insensitive (macOS and Windows defaults)
_CASE_INSENSITIVE_PLATFORMS = ("darwin", "win32", "cygwin")
#: bytes copied per read when streaming a file
COPY_CHUNK = 1 << 20
#: most bytes asked of one pread (a bigger range is read in several)
_PREAD_MAX = 1 << 26

F = TypeVar("F", bound=Callable[..., Any])

_TYPE_NAMES = {
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


class _Call:
    """What one public call did, filled in on the way and written to the audit log at the end."""

    __slots__ = ("count", "dest", "nbytes", "op", "path", "resolved", "rule", "tool", "verdict")

    def __init__(self, op: str, path: str | None, dest: str | None) -> None:
        self.op = op
        self.path = path
        self.dest = dest
        self.resolved: str | None = None
        self.rule: str | None = None
        self.nbytes: int | None = None
        self.count: int | None = None
        self.tool: str | None = None
        self.verdict: JailError | None = None  # a refusal hidden from the caller (exists -> False)


#: what a listing without details knows of an entry (read-only: shared by every listing)
_DIR_INFO: dict[str, Any] = {"type": "directory"}
_NO_INFO: dict[str, Any] = {}


@dataclasses.dataclass(frozen=True, slots=True)
class _Member:
    """An entry of a recursive change: its real path, type and identity when it was checked,
    and the target of a symlink (None for anything else)."""

    path: str
    is_dir: bool
    ident: tuple[int, int]  # (st_dev, st_ino)
    link: str | None = None


class _ThreadState(threading.local):
    """Per-thread state of a jail: the public call in progress, the tool, a dry run."""

    call: _Call | None = None
    tool: str | None = None
    dry: bool = False
    dry_bytes: int = 0


#: the argument types shown as several paths in the audit record (a tuple: isinstance() is given
#: one object, not a ``list | tuple`` union built anew on every call)
_SEQUENCES = (list, tuple)
#: the results whose length is the record's ``count``
_COUNTED = (list, dict)


def is_temp(vpath: str) -> bool:
    """Whether the last name of ``vpath`` is a temp file's, in any spelling a case-insensitive
    filesystem would take for one (".JAILFS-TMP-x")."""
    name = vpath.rpartition("/")[2]
    if name[:1] != ".":
        return False
    if name.isascii():
        return name[:_TEMP_LEN].lower() == TEMP_PREFIX
    return fold(name).startswith(TEMP_PREFIX)


def _display(value: Any) -> str | None:
    """A path argument as it goes in the audit log: normalized if possible, else escaped text."""
    if value is None:
        return None
    if isinstance(value, dict):  # pipe({path: data, ...}): the paths, never the contents
        value = list(value)
    if isinstance(value, _SEQUENCES):
        return _several(value, _display)
    try:
        return paths.normalize(value)
    except JailError:
        text = value if isinstance(value, str) else repr(value)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")[:4096]
    except Exception:
        return repr(value)[:256]


def _several(values: Sequence[Any], show: Callable[[Any], str | None]) -> str:
    """Several path arguments as one audit field: the first three, and how many more."""
    shown = [show(v) or "" for v in values[:3]]
    more = f" (+{len(values) - 3} more)" if len(values) > 3 else ""
    return ", ".join(shown) + more


def _host_display(value: Any) -> str | None:
    """A path of the host program (the local side of get/put) as it goes in the audit log:
    absolute, as the host names it (it is not a path of the jail)."""
    if value is None:
        return None
    if isinstance(value, _SEQUENCES):
        return _several(value, _host_display)
    try:
        text = os.fsdecode(os.path.abspath(os.fspath(value)))
    except (TypeError, ValueError):
        return repr(value)[:256]
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:4096]


def _audited(
    op: str, path_arg: int | None = 0, dest_arg: int | None = None, *, local_dest: bool = False
) -> Callable[[F], F]:
    """Make a method a public call: exactly one audit record, allowed, denied or failed.
    ``local_dest``: the ``dest`` argument is a path of the host (get, put), recorded as such.

    Calls made from inside another public call (glob -> find -> ls) are not recorded again; the
    outer record carries their count.
    """

    def deco(fn: F) -> F:
        # the names of the path arguments, for calls that pass them by keyword
        names = list(inspect.signature(fn).parameters)[1:]  # (without self)
        path_kw = None if path_arg is None else names[path_arg]
        dest_kw = None if dest_arg is None else names[dest_arg]
        show_dest = _host_display if local_dest else _display

        @functools.wraps(fn)
        def wrapper(self: JailFileSystem, *args: Any, **kwargs: Any) -> Any:
            tls = self._tls
            if tls.call is not None:
                return fn(self, *args, **kwargs)
            nargs = len(args)
            if path_arg is not None and nargs > path_arg:
                path = _display(args[path_arg])
            else:
                path = _display(kwargs.get(path_kw)) if kwargs and path_kw else None
            if dest_arg is not None and nargs > dest_arg:
                dest = show_dest(args[dest_arg])
            else:
                dest = show_dest(kwargs.get(dest_kw)) if kwargs and dest_kw else None
            call = _Call(op, path, dest)
            tls.call = call
            start = time.perf_counter_ns()
            try:
                result = fn(self, *args, **kwargs)
            except BaseException as exc:
                tls.call = None
                self._finish(call, start, exc)
                raise
            tls.call = None
            if isinstance(result, _COUNTED):
                call.count = len(result)
            self._finish(call, start, None)
            return result

        return cast(F, wrapper)

    return deco


class JailFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """A filesystem jail: every path is confined to ``root``, checked by rules and audited.

    Threat model. The caller (an LLM agent) controls every argument: paths, globs, contents,
    rename targets. Other processes may change the tree under the root while the jail works.

    Guaranteed: no call reads, writes, lists, stats, creates or deletes anything outside the
    root, including through symlinks, ``..``, absolute paths and races on any path component
    (paths are resolved on directory file descriptors, never checked as strings and reopened).
    Rules apply to the requested AND the resolved path. Every public call leaves exactly one
    audit record before it returns. Bad input gets a typed error and nothing half-done is left:
    whole-file writes are atomic; recursive operations check every member before any change.

    Not guaranteed: bind mounts inside the root; hard links the host placed inside the root
    (writes to files with more than one link are refused, reads are not); code the agent runs
    outside this API; side channels (timing, free space); a directory moved out of the root by
    another process while an operation holds its fd (that needs write access outside the root,
    which a confined agent does not have). ``get``/``put`` trust their *local* argument: it
    belongs to the host program.

    Parameters
    ----------
    root: the real directory to confine to (a host path, chosen by the host program).
    create_root: create ``root`` if missing.
    resolver: "auto" (openat2 where the kernel has it, else the component walk), "openat2",
        or "walk".
    allow_symlink_creation: let ``symlink`` create relative links that stay inside.
    read, write, deny, protect, presets: the policy's gitignore-style rule lists
        (see :class:`jailfs.Policy`). The default jail is read-only with secrets denied.
    max_file_size, write_quota: size limits (bytes or strings like "10 MiB"). No file may be
        written past ``max_file_size``, nor opened or read whole when larger; ``cat_file`` of a
        byte range reads at most that many bytes of a larger file. ``write_quota`` caps the
        bytes this jail instance writes.
    audit: an audit directory, or ":memory:"; default: a per-root directory in the user's
        state directory. actor: who the records name. audit_fsync: fsync each record.
    config_file: the jailfs.toml this jail came from (denied to the agent if under the root).
    internal: more host paths that are the jail's own (denied and hidden if under the root),
        such as a config's audit directory when ``audit`` is overridden.
    case_insensitive: whether the root's filesystem ignores case (``.ENV`` is ``.env``); rules
        are then matched case-insensitively, so no spelling escapes them. None (the default):
        read off a name in the root, else the platform's default (macOS, Windows: yes).
    """

    protocol = "jail"
    root_marker = ""
    cachable = False
    local_file = False

    #: methods that take no path and do nothing on the tree (not audited, no resolution)
    NON_PATH_METHODS: ClassVar[frozenset[str]] = frozenset(
        {
            "clear_instance_cache", "current", "end_transaction", "from_dict", "from_json",
            "get_mapper", "invalidate_cache", "start_transaction", "to_dict", "to_json",
            "unstrip_protocol", "close", "sign", "tool_scope", "from_config",
        }
    )  # fmt: skip

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        create_root: bool = False,
        resolver: ResolverKind = "auto",
        allow_symlink_creation: bool = False,
        read: Sequence[str] = ("**",),
        write: Sequence[str] = (),
        deny: Sequence[str] = (),
        protect: Sequence[str] = (),
        presets: Sequence[str] = ("secrets",),
        max_file_size: int | str | None = None,
        write_quota: int | str | None = None,
        audit: str | os.PathLike[str] | None = None,
        actor: str = "agent",
        audit_fsync: bool = False,
        config_file: str | os.PathLike[str] | None = None,
        internal: Sequence[str | os.PathLike[str]] = (),
        case_insensitive: bool | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(**storage_options)
        host_root = os.path.realpath(os.fspath(root))
        self._root_fd = raw.open_root_unchecked(host_root, create=create_root)
        self._host_root = host_root
        if case_insensitive is None:
            found = raw.case_insensitive_unchecked(self._root_fd, host_root)
            # nothing tells (an empty root without letters in its name): the platform's default
            case_insensitive = (
                sys.platform in _CASE_INSENSITIVE_PLATFORMS if found is None else found
            )
        #: whether names differing only in case are one entry here (rules then match folded)
        self.case_insensitive = bool(case_insensitive)
        self._resolver = Resolver(self._root_fd, resolver)
        self.allow_symlink_creation = bool(allow_symlink_creation)
        self.max_file_size = parse_size(max_file_size)
        self.write_quota = parse_size(write_quota)
        self._written = 0
        self._quota_lock = threading.Lock()
        #: held by symlink() and all of mv(): a link made, or moved in, while a move checks
        #: its tree waits for it
        self._links_lock = threading.RLock()
        self._tls = _ThreadState()
        audit_target = audit if audit is not None else default_audit_dir(host_root)
        hosts = [config_file, *internal]
        if str(audit_target) != ":memory:":
            hosts.append(audit_target)
        inside = [self._inside(h) for h in hosts]
        self.policy = Policy(
            read=list(read),
            write=list(write),
            deny=list(deny),
            protect=list(protect),
            presets=list(presets),
            internal=[p for p in inside if p is not None],
            casefold=self.case_insensitive,
        )
        try:
            self.audit = AuditLog(
                audit_target,
                root=host_root,
                policy_hash=self.policy.hash,
                actor=actor,
                fsync=audit_fsync,
            )
        except OSError as exc:  # say it is the audit log, not the call, that cannot start
            raise OSError(
                exc.errno, f"cannot start the audit log in '{audit_target}': {exc.strerror}"
            ) from exc
        self.actor = actor

    # -- construction helpers --------------------------------------------------------------

    @classmethod
    def from_config(cls, config: str | os.PathLike[str], **overrides: Any) -> JailFileSystem:
        """A jail from a ``jailfs.toml`` file (see :mod:`jailfs.config`)."""
        from jailfs.config import load_config

        kwargs = load_config(config)
        kwargs.update(overrides)
        return cls(**kwargs)

    def _inside(self, host: str | os.PathLike[str] | None) -> str | None:
        """The virtual path of a host path if it lies under the root (config, audit dir)."""
        if host is None:
            return None
        real = os.path.realpath(os.fspath(host))
        root = self._host_root
        if self.case_insensitive:  # the same directory may be spelled in another case
            real, root = fold(real), fold(root)
        if real == root:
            return ""
        rel = os.path.relpath(real, root)
        if rel.startswith(".." + os.sep) or rel == "..":
            return None
        return rel.replace(os.sep, "/")

    def close(self) -> None:
        """Close the root fd and the audit segment; the jail is unusable afterwards. The files
        of a transaction still open are discarded (their temp files removed, each recorded)."""
        pending = self._transaction
        if self._intrans and pending is not None and self._root_fd >= 0:
            pending.complete(commit=False)
        if self._root_fd >= 0:
            raw.close_unchecked(self._root_fd)
            self._root_fd = -1
            self._resolver.root_fd = -1
        self.audit.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_root_fd", -1) >= 0:
                raw.close_unchecked(self._root_fd)
                self._root_fd = -1
        except Exception:  # noqa: S110 - interpreter shutdown
            pass

    @property
    def fsid(self) -> str:
        return f"jail-{self.audit.session}"

    @property
    def host_root(self) -> str:
        """The real directory of the jail (host side; never shown to the agent)."""
        return self._host_root

    @property
    def resolver_kind(self) -> str:
        """The resolver in use: "openat2" or "walk"."""
        return self._resolver.kind

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return paths.normalize(path)

    @classmethod
    def _parent(cls, path: Any) -> str:
        return paths.parent_of(paths.normalize(path))

    def unstrip_protocol(self, name: str) -> str:
        return f"jail://{paths.normalize(name)}"

    # -- the audit record ------------------------------------------------------------------

    def _call(self) -> _Call | None:
        return self._tls.call

    def _finish(self, call: _Call, start: int, exc: BaseException | None) -> None:
        us = (time.perf_counter_ns() - start) // 1000
        hidden = call.verdict
        if exc is None and hidden is None:
            decision, reason, error = "allow", None, None
        else:
            err = exc if exc is not None else hidden
            if isinstance(err, JailError):
                decision, reason = "deny", err.reason
                if isinstance(err, AccessDenied):
                    call.rule = err.rule
            else:
                decision, reason = "error", "error"
            error = f"{type(err).__name__}: {err}"
            if isinstance(err, OSError) and not isinstance(err, JailError) and call.path:
                # OS errors raised on dir fds name only a component: name the virtual path.
                err.filename = call.path
        self.audit.record(
            call.op,
            call.path,
            decision=decision,
            dest=call.dest,
            resolved=call.resolved,
            reason=reason,
            rule=call.rule,
            error=error,
            nbytes=call.nbytes,
            count=call.count,
            us=us,
            tool=call.tool or self._tls.tool,
            _result=False,
        )

    def _add_bytes(self, n: int) -> None:
        call = self._tls.call
        if call is not None:
            call.nbytes = (call.nbytes or 0) + n

    def _set_count(self, n: int) -> None:
        call = self._call()
        if call is not None:
            call.count = n

    def tool_scope(self, name: str | None) -> _ToolScope:
        """Tag the audit records of calls made inside ``with fs.tool_scope("read_file"):``."""
        return _ToolScope(self._tls, name)

    # -- the choke point: normalize, resolve, decide ----------------------------------------

    def _norm(self, path: Any) -> str:
        vpath = paths.normalize(path)
        if is_temp(vpath):
            raise InvalidPathError(f"names starting with '{TEMP_PREFIX}' are reserved")
        return vpath

    def _deny(self, op: str, decision: Decision) -> AccessDenied:
        rule = str(decision.rule)
        aliased = decision.resolved != decision.path
        if aliased and not self._visible(decision.resolved, False):
            # The target is hidden from the agent: name neither it nor the pattern that spells
            # it (the audit record keeps the rule).
            msg = f"{op} '{decision.path}' is denied: it leads to a path the jail hides"
        else:
            msg = f"{op} '{decision.path}' is {decision.reason}"
            if aliased:
                msg += f" (it resolves to '{decision.resolved}')"
        return AccessDenied(op, decision.path, rule, msg)

    def _precheck(
        self, access: Access, vpath: str, op: str, resolved: str | None = None
    ) -> Decision:
        """Name-only refusal (deny and internal rules), before the disk is touched, or once the
        real path is known, before telling whether it exists.

        Returns the decision; a refusal by another list (not readable, not writable) is left to
        :meth:`_authorize`, once the path is known to exist."""
        decision = self.policy.check(access, vpath, is_dir=False, resolved=resolved)
        if not decision.allowed and decision.rule.list in ("deny", "internal"):
            raise self._deny(op, decision)
        return decision

    def _require(self, access: Access, vpath: str, resolved: str, is_dir: bool, op: str) -> None:
        """Refuse unless the policy allows ``access`` on ``vpath`` resolving to ``resolved``."""
        decision = self.policy.check(access, vpath, is_dir=is_dir, resolved=resolved)
        if not decision.allowed:
            raise self._deny(op, decision)

    def _authorize(
        self, access: Access, vpath: str, res: Resolved, op: str, asked: Decision
    ) -> None:
        """The full decision on the requested and the resolved path, once the type is known.

        ``asked`` is the decision for ``access`` on ``vpath`` as a file, taken before resolving:
        when ``res`` is not a directory and resolved to ``vpath`` itself, the requested and the
        resolved path are that one file, so it is the whole answer (the same question)."""
        is_dir = res.is_dir
        call = self._tls.call
        if call is not None and call.resolved is None:
            call.resolved = res.path
        if access == "read" and is_dir:
            ok = self.policy.visible(vpath, is_dir=True) and self.policy.visible(
                res.path, is_dir=True
            )
            if ok:
                return
            decision = self.policy.check("read", vpath, is_dir=True, resolved=res.path)
            if decision.allowed:  # visible() refused a resolved alias
                decision = self.policy.check("read", res.path, is_dir=True)
            raise self._deny(op, decision)
        if is_dir or res.path != vpath:
            decision = self.policy.check(access, vpath, is_dir=is_dir, resolved=res.path)
        else:
            decision = asked
        if not decision.allowed:
            raise self._deny(op, decision)

    def _resolve(
        self,
        vpath: str,
        access: Access,
        op: str,
        *,
        follow: bool = True,
        create_parents: bool = False,
        must_exist: bool = True,
    ) -> Resolved:
        asked = self._precheck(access, vpath, op)
        may_create = None
        if create_parents:  # nothing is created for a write that would be refused anyway
            if not asked.allowed:
                raise self._deny(op, asked)
            may_create = functools.partial(self._require, access, vpath, is_dir=False, op=op)
        res = self._resolver.resolve(
            vpath, follow=follow, create_parents=create_parents, may_create=may_create
        )
        try:
            if res.path != vpath:  # a hidden target answers "denied", present or not
                self._precheck(access, vpath, op, res.path)
            if must_exist and res.st is None:
                raise errno_error(2, vpath)
            if is_temp(res.path):
                raise InvalidPathError(f"names starting with '{TEMP_PREFIX}' are reserved")
            self._authorize(access, vpath, res, op, asked)
        except BaseException:
            res.close()
            raise
        return res

    @_audited("explain", 1)
    def explain(self, op: str, path: str) -> Decision:
        """Why ``op`` ("read", "write", "delete") on ``path`` is allowed or denied.

        Resolves the path (following symlinks inside the jail) and returns the policy's
        decision with the resolved path and the symlink hops. Nothing on the tree is touched;
        the question itself is recorded (op ``explain``).
        """
        if op not in ("read", "write", "delete"):
            raise ValueError(f"op must be 'read', 'write' or 'delete', not {op!r}")
        access: Access = "read" if op == "read" else "write"
        vpath = paths.normalize(path)
        try:
            res = self._resolver.resolve(vpath, follow=True)
        except (FileNotFoundError, NotADirectoryError):  # decided on the name alone
            return self.policy.explain(access, vpath)
        with res:
            decision = self.policy.explain(
                access, vpath, is_dir=res.is_dir, resolved=res.path, hops=res.hops
            )
        if res.path != vpath and not self._visible(res.path, res.is_dir):
            # where a link to a hidden path leads stays hidden, as in info() and errors
            decision = dataclasses.replace(decision, resolved="(hidden)", hops=())
        elif any(not self._visible(hop, False) for hop in decision.hops):
            # so does a link on the way that lies in a hidden place
            shown = tuple(h if self._visible(h, False) else "(hidden)" for h in decision.hops)
            decision = dataclasses.replace(decision, hops=shown)
        return decision

    # -- info and listings --------------------------------------------------------------------

    def _info_from(self, name: str, st: os.stat_result) -> dict[str, Any]:
        mode = st.st_mode
        info: dict[str, Any] = {
            "name": name,
            "size": st.st_size,
            "type": "directory"
            if stat.S_ISDIR(mode)
            else "file"
            if stat.S_ISREG(mode)
            else "other",
            "created": getattr(st, "st_birthtime", st.st_ctime),
            "islink": False,
            "mode": mode,
            "uid": st.st_uid,
            "gid": st.st_gid,
            "mtime": st.st_mtime,
            "ino": st.st_ino,
            "nlink": st.st_nlink,
        }
        return info

    def _link_info(self, name: str, lst: os.stat_result) -> dict[str, Any]:
        """A symlink entry: described by its target when that is inside and visible."""
        info = self._info_from(name, lst)
        info["islink"] = True
        info["type"] = "other"
        info["size"] = 0
        try:
            res = self._resolver.resolve(name, follow=True)
        except (OSError, JailError):
            return info
        with res:
            if res.st is None or not self._visible(res.path, res.is_dir):
                return info
            target = self._info_from(name, res.st)
        target["islink"] = True
        target["destination"] = res.path
        return target

    def _visible(self, vpath: str, is_dir: bool) -> bool:
        return not is_temp(vpath) and self.policy.visible(vpath, is_dir=is_dir)

    @_audited("info")
    def info(self, path: Any, **kwargs: Any) -> dict[str, Any]:
        vpath = self._norm(path)
        with self._resolve(vpath, "read", "info", follow=False) as res:
            assert res.st is not None
            if res.is_link:
                return self._link_info_checked(vpath)
            return self._info_from(vpath, res.st)

    def _link_info_checked(self, vpath: str) -> dict[str, Any]:
        """info() of a symlink: the target must be inside and allowed (else an error)."""
        with self._resolve(vpath, "read", "info", follow=True) as target:
            assert target.st is not None
            out = self._info_from(vpath, target.st)
            out["islink"] = True
            out["destination"] = target.path
            return out

    @_audited("ls")
    def ls(self, path: Any, detail: bool = True, **kwargs: Any) -> list[Any]:
        vpath = self._norm(path)
        with self._resolve(vpath, "read", "ls") as res:
            assert res.st is not None
            if not res.is_dir:
                out = self._info_from(vpath, res.st)
                self._set_count(1)
                return [out] if detail else [vpath]
            dfd = raw.open_dir_read_unchecked(res.parent, res.name)
        try:
            entries = self._list_fd(dfd, vpath, res.path, detail)
        finally:
            raw.close_unchecked(dfd)
        self._set_count(len(entries))
        return entries

    def _list_fd(self, dfd: int, vpath: str, real: str, detail: bool) -> list[Any]:
        _, dirs, files, infos = self._scan(dfd, vpath, real, detail)
        if not detail:
            return [paths.join(vpath, n) for n in dirs + files]
        return [infos[n] for n in dirs + files]

    def _scan(
        self, dfd: int, vpath: str, real: str, detail: bool
    ) -> tuple[str, list[str], list[str], dict[str, dict[str, Any]]]:
        """One directory as the agent sees it: (dir, subdir names, other names, name -> info).

        An entry is shown only if it is visible both under the name asked for (``vpath``) and
        under its real place (``real``, differing when the walk came through a symlink).
        """
        dirs: list[str] = []
        files: list[str] = []
        infos: dict[str, dict[str, Any]] = {}
        aliased = vpath != real
        for name, is_dir, is_link, st in raw.scandir_unchecked(dfd, detail):
            rpath = paths.join(real, name)
            if not self._visible(rpath, is_dir):
                continue
            shown = paths.join(vpath, name)
            if aliased and not self._visible(shown, is_dir):
                continue
            (dirs if is_dir else files).append(name)
            if detail:
                assert st is not None
                if is_link:
                    info = self._link_info(rpath, st)
                    info["name"] = shown
                else:
                    info = self._info_from(shown, st)
                infos[name] = info
        return vpath, dirs, files, infos

    def _walk_fd(
        self, dfd: int, vpath: str, real: str, depth: int, maxdepth: int | None, detail: bool
    ) -> Iterator[tuple[str, list[str], list[str], dict[str, dict[str, Any]]]]:
        """Top-down walk of an open directory fd, as the agent sees it (see :meth:`_scan`).

        Only real directories are descended (opened with O_NOFOLLOW on the parent fd); symlinks
        are reported among the files and never followed.
        """
        top = self._scan(dfd, vpath, real, detail)
        yield top
        if maxdepth is not None and depth >= maxdepth:
            return
        for name in top[1]:
            try:
                cfd = raw.open_dir_read_unchecked(dfd, name)
            except OSError:  # vanished or swapped for a link since the listing: skip it
                continue
            try:
                yield from self._walk_fd(
                    cfd,
                    paths.join(vpath, name),
                    paths.join(real, name),
                    depth + 1,
                    maxdepth,
                    detail,
                )
            finally:
                raw.close_unchecked(cfd)

    def _walk(
        self, vpath: str, maxdepth: int | None, detail: bool = False
    ) -> Iterator[tuple[str, list[str], list[str], dict[str, dict[str, Any]]]]:
        with self._resolve(vpath, "read", "walk") as res:
            if not res.is_dir:
                return
            dfd = raw.open_dir_read_unchecked(res.parent, res.name)
            real = res.path
        try:
            yield from self._walk_fd(dfd, vpath, real, 1, maxdepth, detail)
        finally:
            raw.close_unchecked(dfd)

    @_audited("walk")
    def walk(
        self,
        path: Any,
        maxdepth: int | None = None,
        topdown: bool = True,
        on_error: str = "omit",
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Like fsspec's walk, computed in full before it returns (so it is one audited call)."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        detail = bool(kwargs.get("detail", False))
        vpath = self._norm(path)
        out: list[Any] = []
        try:
            for top, dirs, files, infos in self._walk(vpath, maxdepth, detail):
                if detail:
                    out.append((top, {d: infos[d] for d in dirs}, {f: infos[f] for f in files}))
                else:
                    out.append((top, dirs, files))
        except (FileNotFoundError, NotADirectoryError):
            if on_error == "raise":
                raise
        if not topdown:
            out.reverse()
        self._set_count(sum(len(d) + len(f) for _, d, f in out))
        return iter(out)

    def _entry_info(self, vpath: str) -> dict[str, Any]:
        with self._resolver.resolve(vpath, follow=False) as res:
            if res.st is None:
                raise errno_error(2, vpath)
            if res.is_link:
                return self._link_info(vpath, res.st)
            return self._info_from(vpath, res.st)

    @_audited("find")
    def find(
        self,
        path: Any,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        vpath = self._norm(path)
        found = self._find(vpath, maxdepth, withdirs, detail)
        self._set_count(len(found))
        if detail:
            return found
        return list(found)

    def _find(
        self, vpath: str, maxdepth: int | None, withdirs: bool, detail: bool
    ) -> dict[str, dict[str, Any]]:
        """Sorted {path: info} of everything visible below; without ``detail`` the info only
        says ``{"type": "directory"}`` for directories (from d_type: no stat per entry)."""
        found: dict[str, dict[str, Any]] = {}
        try:
            res = self._resolve(vpath, "read", "find", follow=False)
        except FileNotFoundError:
            return found
        with res:
            assert res.st is not None
            if not res.is_dir and not res.is_link:
                found[vpath] = self._info_from(vpath, res.st) if detail else {}
                return found
            light = _DIR_INFO
            if res.is_link:
                info = self._entry_info(vpath)
                if info["type"] != "directory":  # a link to a file, or leading nowhere allowed
                    found[vpath] = info if detail else {}
                    return found
            if withdirs and vpath:
                found[vpath] = self._entry_info(vpath) if detail else light
        for top, dirs, files, infos in self._walk(vpath, maxdepth, detail):
            for name in dirs if withdirs else ():
                found[paths.join(top, name)] = infos[name] if detail else light
            for name in files:
                found[paths.join(top, name)] = infos[name] if detail else _NO_INFO
        return dict(sorted(found.items()))

    @_audited("du")
    def du(
        self,
        path: Any,
        total: bool = True,
        maxdepth: int | None = None,
        withdirs: bool = False,
        **kwargs: Any,
    ) -> Any:
        vpath = self._norm(path)
        found = self._find(vpath, maxdepth, withdirs, True)
        sizes = {p: int(info["size"]) for p, info in found.items()}
        self._set_count(len(sizes))
        return sum(sizes.values()) if total else sizes

    @_audited("exists")
    def exists(self, path: Any, **kwargs: Any) -> bool:
        return self._probe(path, follow=True) is not None

    @_audited("lexists")
    def lexists(self, path: Any, **kwargs: Any) -> bool:
        return self._probe(path, follow=False) is not None

    @_audited("isdir")
    def isdir(self, path: Any) -> bool:
        st = self._probe(path, follow=True)
        return st is not None and stat.S_ISDIR(st.st_mode)

    @_audited("isfile")
    def isfile(self, path: Any) -> bool:
        st = self._probe(path, follow=True)
        return st is not None and stat.S_ISREG(st.st_mode)

    @_audited("islink")
    def islink(self, path: Any) -> bool:
        st = self._probe(path, follow=False)
        return st is not None and stat.S_ISLNK(st.st_mode)

    def _probe(self, path: Any, *, follow: bool) -> os.stat_result | None:
        """stat for the boolean queries: a refusal reads as "absent" (and is audited as deny)."""
        try:
            vpath = self._norm(path)
            with self._resolve(vpath, "read", "stat", follow=follow) as res:
                return res.st
        except InvalidPathError:
            raise
        except OSError as exc:  # absent, not a directory, a loop, an escape, denied: "no"
            call = self._call()
            if isinstance(exc, JailError) and call is not None:
                call.verdict = exc
            return None

    @_audited("created")
    def created(self, path: Any) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.info(path)["created"], tz=_dt.UTC)

    @_audited("modified")
    def modified(self, path: Any) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.info(path)["mtime"], tz=_dt.UTC)

    # -- reading -------------------------------------------------------------------------------

    def _open_regular(
        self, res: Resolved, vpath: str, flags: int, *, writing: bool = False
    ) -> tuple[int, os.stat_result]:
        """Open the resolved final entry as a regular file (never a FIFO, socket or device).

        ``writing``: also refuse a file with more than one hard link, checked on the open fd
        (a link swapped in after resolution is caught here, not written through)."""
        assert res.st is not None
        kind = stat.S_IFMT(res.st.st_mode)
        if kind == stat.S_IFDIR:
            raise errno_error(21, vpath)
        if kind != stat.S_IFREG:
            raise UnsupportedFileType(vpath, _TYPE_NAMES.get(kind, "special file"))
        fd = raw.open_file_unchecked(res.parent, res.name, flags)
        st = raw.fstat_unchecked(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped after the check above (O_NONBLOCK: no hang)
            raw.close_unchecked(fd)
            raise UnsupportedFileType(
                vpath, _TYPE_NAMES.get(stat.S_IFMT(st.st_mode), "special file")
            )
        if writing and st.st_nlink > 1:
            raw.close_unchecked(fd)
            raise HardlinkRefused(vpath)
        return fd, st

    def _open_to_write(self, res: Resolved, vpath: str, flags: int) -> tuple[int, os.stat_result]:
        """:meth:`_open_regular` for writing in place, without the setuid and setgid bits: what
        the kernel does for an unprivileged writer, done for every writer (a jail running as
        root would keep them otherwise), so the agent's bytes never run with them."""
        fd, st = self._open_regular(res, vpath, flags, writing=True)
        if st.st_mode & _SET_ID:
            try:
                raw.fchmod_unchecked(fd, stat.S_IMODE(st.st_mode) & ~_SET_ID)
            except BaseException:
                raw.close_unchecked(fd)
                raise
        return fd, st

    def _check_read_size(self, vpath: str, size: int) -> None:
        limit = self.max_file_size
        if limit is not None and size > limit:
            raise QuotaExceeded(
                "max_file_size",
                f"'{vpath}' is {size} bytes, over max_file_size ({limit} bytes) by {size - limit}",
                excess=size - limit,
            )

    @_audited("cat_file")
    def cat_file(
        self, path: Any, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        vpath = self._norm(path)
        with self._resolve(vpath, "read", "cat_file") as res:
            fd, st = self._open_regular(res, vpath, os.O_RDONLY)
        try:
            size = st.st_size
            if start is None and end is None:  # the whole file
                lo, hi = 0, size
            else:
                lo = 0 if start is None else (start if start >= 0 else max(size + start, 0))
                hi = size if end is None else (end if end >= 0 else max(size + end, 0))
                hi = min(hi, size)
            self._check_read_size(vpath, max(hi - lo, 0))
            data = _read_range(fd, lo, hi)
        finally:
            raw.close_unchecked(fd)
        self._add_bytes(len(data))
        return data

    # -- writing -------------------------------------------------------------------------------

    def _reserve(
        self, vpath: str, size: int, grow: int | None = None, *, count: bool = True
    ) -> None:
        """Refuse a write that makes ``vpath`` ``size`` bytes (``grow`` of them new) if that
        passes ``max_file_size`` or ``write_quota``; otherwise count ``grow`` against the quota.
        Called before any byte moves. ``count=False`` only checks (before creating parents for
        a whole-file write, which reserves for real once its target is resolved)."""
        limit = self.max_file_size
        if limit is not None and size > limit:
            raise QuotaExceeded(
                "max_file_size",
                f"writing '{vpath}' makes it {size} bytes, over max_file_size ({limit} bytes) "
                f"by {size - limit}",
                excess=size - limit,
            )
        quota = self.write_quota
        if quota is None:
            return
        grow = size if grow is None else grow
        with self._quota_lock:
            total = self._written + grow
            if total > quota:
                raise QuotaExceeded(
                    "write_quota",
                    f"writing {grow} bytes to '{vpath}' passes write_quota ({quota} bytes, "
                    f"{self._written} used) by {total - quota}",
                    excess=total - quota,
                )
            if count:
                self._written = total

    def _release(self, size: int) -> None:
        if self.write_quota is not None and size:
            with self._quota_lock:
                self._written -= size

    def _writable_target(self, vpath: str, op: str) -> Resolved:
        """Resolve a file about to be written: parents created, type and link count checked."""
        res = self._resolve(vpath, "write", op, create_parents=True, must_exist=False)
        try:
            if res.st is not None:
                kind = stat.S_IFMT(res.st.st_mode)
                if kind == stat.S_IFDIR:
                    raise errno_error(21, vpath)
                if kind != stat.S_IFREG:
                    raise UnsupportedFileType(vpath, _TYPE_NAMES.get(kind, "special file"))
                if res.st.st_nlink > 1:
                    raise HardlinkRefused(vpath)
        except BaseException:
            res.close()
            raise
        return res

    def _temp_file(self, res: Resolved) -> tuple[int, str]:
        """A new hidden temp file beside the target (same directory, so rename is atomic)."""
        for _ in range(16):
            name = TEMP_PREFIX + secrets.token_hex(8)
            try:
                # the target's permissions, never its setuid, setgid or sticky bit: the new
                # content is the agent's
                mode = res.st.st_mode & 0o777 if res.st is not None else 0o666
                fd = raw.open_file_unchecked(
                    res.parent, name, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode
                )
            except FileExistsError:
                continue
            return fd, name
        raise errno_error(17, "temporary file")

    def _check_still_there(self, res: Resolved, vpath: str) -> None:
        """Before a file opened earlier is moved into place: the jail is still open, and its
        directory is still where the write was checked (not moved under another name since)."""
        if self._root_fd < 0:
            raise JailError(f"the jail was closed; '{vpath}' was not written")
        try:
            now = self._resolver.resolve(res.path, follow=False)
        except OSError:
            now = None
        if now is not None:
            with now:
                before, after = raw.fstat_unchecked(res.parent), raw.fstat_unchecked(now.parent)
                if (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino):
                    return
        raise OSError(116, "its directory moved while the file was open; not written", vpath)

    def _commit(self, res: Resolved, temp: str, exclusive: bool, vpath: str) -> None:
        """Move the finished temp file into place (rename, or link+unlink for exclusive)."""
        if exclusive:
            try:
                raw.link_exclusive_unchecked(res.parent, temp, res.parent, res.name)
            except FileExistsError:
                raw.unlink_unchecked(res.parent, temp)
                raise errno_error(17, vpath) from None
            raw.unlink_unchecked(res.parent, temp)
        else:
            raw.rename_unchecked(res.parent, temp, res.parent, res.name)

    @_audited("pipe_file")
    def pipe_file(self, path: Any, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        vpath = self._norm(path)
        data = bytes(value) if not isinstance(value, bytes) else value
        self._reserve(vpath, len(data), count=False)  # (over a limit: no parent is created)
        with self._writable_target(vpath, "pipe_file") as res:
            if mode == "create" and res.st is not None:
                raise errno_error(17, vpath)
            written = self._replace(
                res, vpath, len(data), lambda out: raw.write_all_unchecked(out, data),
                exclusive=mode == "create",
            )  # fmt: skip
        self._add_bytes(written)

    def _replace(
        self,
        res: Resolved,
        vpath: str,
        size: int,
        fill: Callable[[int], int],
        *,
        exclusive: bool = False,
    ) -> int:
        """Give ``res`` new content atomically: ``size`` bytes counted against the limits first,
        ``fill`` writes them to a hidden temp file beside it, which is then moved into place.
        On any failure the temp file is removed and the old content stays."""
        self._reserve(vpath, size)
        fd, temp = self._temp_file(res)
        try:
            try:
                written = fill(fd)
            finally:
                raw.close_unchecked(fd)
            self._commit(res, temp, exclusive, vpath)
        except BaseException:
            _discard(res.parent, temp)
            self._release(size)
            raise
        return written

    @_audited("touch")
    def touch(self, path: Any, truncate: bool = True, **kwargs: Any) -> None:
        vpath = self._norm(path)
        with self._writable_target(vpath, "touch") as res:
            if res.st is not None and not truncate:
                fd, _ = self._open_regular(res, vpath, os.O_RDONLY, writing=True)
                try:
                    raw.futime_unchecked(fd)
                finally:
                    raw.close_unchecked(fd)
                return
            fd, temp = self._temp_file(res)
            raw.close_unchecked(fd)
            try:
                self._commit(res, temp, False, vpath)
            except BaseException:
                _discard(res.parent, temp)
                raise

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> io.IOBase:
        vpath = self._norm(path)
        base = mode.replace("b", "").replace("t", "")
        if base not in _MODES:
            raise ValueError(f"unsupported mode {mode!r}")
        kind, flags, plus = _MODES[base]
        if kind == "read":
            with self._resolve(vpath, "read", "open") as res:
                fd, st = self._open_regular(res, vpath, flags)
            try:
                self._check_read_size(vpath, st.st_size)
            except BaseException:
                raw.close_unchecked(fd)
                raise
            rawf: JailRawFile = JailRawFile(self, vpath, fd, "r+" if plus else "r")
            rawf.size = st.st_size
            if plus:
                return _JailRandom(rawf)
            return _JailReader(rawf)
        if kind == "update":  # r+: in place; it must exist (nothing is created) and be readable
            with self._resolve(vpath, "write", "open") as res:
                self._require("read", vpath, res.path, False, "open")
                fd, st = self._open_to_write(res, vpath, flags)
            rawf = JailRawFile(self, vpath, fd, "r+")
            rawf.size = st.st_size
            return _JailRandom(rawf)
        res = self._writable_target(vpath, "open")
        try:
            if kind == "append":
                if plus:  # a+ reads what is there: read access too
                    self._require("read", vpath, res.path, False, "open")
                if res.st is None:  # create it (the name stays a plain file: checked below)
                    fd = raw.open_file_unchecked(res.parent, res.name, flags | os.O_CREAT)
                    st = raw.fstat_unchecked(fd)
                    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
                        raw.close_unchecked(fd)
                        raise HardlinkRefused(vpath)
                else:
                    fd, _ = self._open_to_write(res, vpath, flags)
                rawf = JailRawFile(self, vpath, fd, "a+" if plus else "a")
                rawf.size = raw.fstat_unchecked(fd).st_size
                res.close()
                return _JailRandom(rawf) if plus else _JailWriter(rawf)
            # "w" and "x": a hidden temp file, moved into place when closed.
            if kind == "exclusive" and res.st is not None:
                raise errno_error(17, vpath)
            fd, temp = self._temp_file(res)
        except BaseException:
            res.close()
            raise
        rawf = JailRawFile(
            self, vpath, fd, "w+" if plus else "w", target=res.keep(), temp=temp,
            exclusive=kind == "exclusive", autocommit=autocommit,
        )  # fmt: skip
        return _JailRandom(rawf) if plus else _JailWriter(rawf)

    @_audited("open")
    def open(
        self,
        path: Any,
        mode: str = "rb",
        block_size: int | None = None,
        cache_options: Any = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> Any:
        text_kwargs = (
            {k: kwargs.pop(k) for k in ("encoding", "errors", "newline") if k in kwargs}
            if kwargs
            else {}
        )
        binary_mode = mode.replace("t", "") if "b" in mode else mode.replace("t", "") + "b"
        if "b" not in mode:  # a bad encoding or newline fails here, before anything is made
            codecs.lookup(text_kwargs.get("encoding") or "utf-8")
            if text_kwargs.get("newline") not in (None, "", "\n", "\r", "\r\n"):
                raise ValueError(f"illegal newline value: {text_kwargs['newline']!r}")
        autocommit = kwargs.pop("autocommit", not self._intrans)
        f: Any = self._open(path, binary_mode, block_size, autocommit, cache_options, **kwargs)
        opened = f
        try:
            if compression is not None:
                from fsspec.compression import compr
                from fsspec.core import get_compression

                f = compr[get_compression(paths.normalize(path), compression)](f, mode=mode[0])
            if "b" not in mode:
                text_kwargs.setdefault("encoding", "utf-8")
                f = _JailText(f, **text_kwargs)
        except BaseException:  # a bad encoding, newline or codec: write nothing, keep nothing
            opened.raw.failed = True
            opened.raw.record_close = False  # the failed open's own record says it all
            opened.close()
            raise
        if not autocommit and "r" not in mode:
            self.transaction.files.append(opened.raw)
        return f

    def _file_closed(self, f: JailRawFile, error: BaseException | None) -> None:
        """The ``close`` record of a file object, with the bytes it moved.

        A file opened and closed inside another public call (read_text, get, put, ...) adds its
        bytes to that call's record instead."""
        if not f.record_close:
            return
        outer = f.outer
        if outer is not None and outer.op != "open" and self._tls.call is outer and error is None:
            outer.nbytes = (outer.nbytes or 0) + f.bytes_read + f.bytes_written
            return
        call = _Call("close", f.vpath, None)
        call.nbytes = f.bytes_read + f.bytes_written
        call.tool = f.tool
        self._finish(call, f.opened_ns, error)

    # -- directories ---------------------------------------------------------------------------

    @_audited("mkdir")
    def mkdir(self, path: Any, create_parents: bool = True, **kwargs: Any) -> None:
        vpath = self._norm(path)
        self._mkdir(vpath, parents=create_parents, exist_ok=False)

    @_audited("makedirs")
    def makedirs(self, path: Any, exist_ok: bool = False) -> None:
        vpath = self._norm(path)
        self._mkdir(vpath, parents=True, exist_ok=exist_ok)

    def _mkdir(self, vpath: str, *, parents: bool, exist_ok: bool) -> None:
        if self._tls.dry:
            self._dry_check("write", vpath, is_dir=True)
            return
        if not vpath:  # the root: it exists, and is never the agent's to create
            with self._resolver.resolve(vpath):
                if exist_ok:
                    return
                raise errno_error(17, "/")
        decision = self.policy.check("write", vpath, is_dir=True)
        if not decision.allowed:
            raise self._deny("mkdir", decision)
        check = functools.partial(self._require, "write", vpath, is_dir=True, op="mkdir")
        with self._resolver.resolve(
            vpath, follow=True, create_parents=parents, may_create=check
        ) as res:
            call = self._call()
            if call is not None:
                call.resolved = res.path
            if res.path != vpath:
                decision = self.policy.check("write", vpath, is_dir=True, resolved=res.path)
                if not decision.allowed:
                    raise self._deny("mkdir", decision)
            if res.st is not None:
                if exist_ok and res.is_dir:
                    return
                raise errno_error(17, vpath)
            if not vpath:
                return
            try:
                raw.mkdir_unchecked(res.parent, res.name)
            except FileExistsError:
                if not exist_ok:
                    raise
                # raced by another process: fine only if it is a real directory now
                st = raw.lstat_unchecked(res.parent, res.name)
                if not stat.S_ISDIR(st.st_mode):
                    raise

    @_audited("rmdir")
    def rmdir(self, path: Any) -> None:
        vpath = self._norm(path)
        self._refuse_root(vpath, "rmdir")
        with self._resolve(vpath, "write", "rmdir", follow=False) as res:
            raw.rmdir_unchecked(res.parent, res.name)

    def _refuse_root(self, vpath: str, op: str) -> None:
        if not vpath:
            raise AccessDenied(op, "/", "root", f"{op} of the jail's root is refused")

    @_audited("rm_file")
    def rm_file(self, path: Any) -> None:
        vpath = self._norm(path)
        if self._tls.dry:
            self._dry_check("write", vpath)
            return
        self._refuse_root(vpath, "rm_file")
        with self._resolve(vpath, "write", "rm_file", follow=False) as res:
            if res.is_dir:
                raise errno_error(21, vpath)
            raw.unlink_unchecked(res.parent, res.name)

    def _rm(self, path: Any) -> None:
        self.rm_file(path)

    def _tree(self, real: str, maxdepth: int | None) -> list[_Member]:
        """Every member of the real directory ``real`` (itself included), deepest first, with
        the identity each had when listed. Hidden entries are included: a remove or a move must
        see what it would take along. Directories are descended on fds, never through links."""
        with self._resolver.resolve(real, follow=False) as res:
            assert res.st is not None
            top = _Member(real, True, (res.st.st_dev, res.st.st_ino))
            dfd = raw.open_dir_read_unchecked(res.parent, res.name)
        try:
            members = [top, *_walk_fd_all(dfd, real, 1, maxdepth)]
        finally:
            raw.close_unchecked(dfd)
        members.reverse()
        return members

    def _plan_removal(
        self, vpath: str, recursive: bool, maxdepth: int | None
    ) -> list[tuple[str, _Member]]:
        """(requested name, member) for everything ``rm(vpath)`` would remove, checked under
        both the requested and the real names before the first change."""
        self._refuse_root(vpath, "rm")
        with self._resolve(vpath, "write", "rm", follow=False) as res:
            assert res.st is not None
            real = res.path
            self._refuse_root(real, "rm")
            if not res.is_dir:
                return [(vpath, _Member(real, False, (res.st.st_dev, res.st.st_ino)))]
        if not recursive:
            raise IsADirectoryError(21, "is a directory; use recursive=True", vpath)
        members = self._tree(real, maxdepth)
        if maxdepth is not None and len(self._tree(real, None)) != len(members):
            raise OSError(39, f"'{vpath}' holds entries deeper than maxdepth={maxdepth}", vpath)
        return [(vpath + m.path[len(real) :], m) for m in members]

    def _remove_planned(self, plan: list[tuple[str, _Member]]) -> None:
        """Remove what was planned, each entry only if it is still the one that was checked."""
        for requested, member in plan:
            with self._resolver.resolve(member.path, follow=False) as res:
                if res.st is None:
                    continue
                if (  # swapped since the check: another entry, another type, or a link on the way
                    res.path != member.path
                    or res.hops
                    or res.is_dir != member.is_dir
                    or (res.st.st_dev, res.st.st_ino) != member.ident
                ):
                    raise OSError(
                        116, "changed while being removed; stopped", requested
                    )  # ESTALE: nothing that was not checked is ever removed
                if member.is_dir:
                    raw.rmdir_unchecked(res.parent, res.name)
                else:
                    raw.unlink_unchecked(res.parent, res.name)

    @_audited("rm")
    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        plan: list[tuple[str, _Member]] = []
        for vpath in self._expand_targets(path):
            plan.extend(self._plan_removal(vpath, recursive, maxdepth))
        # all or nothing: every member, under the name asked for and its real name
        self._check_members("rm", [(n, m.is_dir) for n, m in plan])
        self._check_members("rm", [(m.path, m.is_dir) for _, m in plan])
        if self._tls.dry:
            return
        self._remove_planned(plan)
        self._set_count(len(plan))

    @_audited("glob")
    def glob(self, path: Any, maxdepth: int | None = None, **kwargs: Any) -> Any:
        """fsspec's glob, matched with RE2 (linear time: no pattern can hang the process)."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        text = paths.to_str(path)
        ends_with_sep = text.endswith("/")
        vpath = self._norm(text)
        detail = kwargs.pop("detail", False)
        withdirs = kwargs.pop("withdirs", True)
        magic = [i for i in (vpath.find(c) for c in "*?[") if i >= 0]
        if not magic:
            if not self.exists(vpath):
                return {} if detail else []
            return {vpath: self.info(vpath)} if detail else [vpath]
        first = min(magic)
        cut = vpath.rfind("/", 0, first)
        top = vpath[: cut + 1] if cut >= 0 else ""
        depth: int | None = vpath[first + 1 :].count("/") + 1
        if "**" in vpath:
            depth = None
            if maxdepth is not None:
                star2 = vpath.find("**")
                depth = vpath[first + 1 :].count("/") + 1 - vpath[star2:].count("/") - 1 + maxdepth
        append_slash = ends_with_sep or vpath.endswith("/**")
        try:
            regex = glob_translate(vpath + ("/" if ends_with_sep else "")).replace(r"\Z", r"\z")
            matcher = _compile_linear(regex)
        except (ValueError, _re2.error) as exc:  # e.g. "**" inside a name: "a**b"
            raise InvalidPathError(f"invalid glob pattern '{vpath}': {exc}") from None
        found = self._find(top.rstrip("/"), depth, withdirs, detail)
        out = {
            p: info
            for p, info in found.items()
            if matcher.match(p + "/" if append_slash and info.get("type") == "directory" else p)
        }
        return out if detail else list(out)

    def _check_members(self, op: str, members: list[tuple[str, bool]]) -> None:
        """All or nothing: every member of a recursive change must be writable, else none is
        changed. A refused member that is hidden from the agent is not named in the error."""
        for member, is_dir in members:
            decision = self.policy.check("write", member, is_dir=is_dir)
            if decision.allowed:
                continue
            if self._visible(member, is_dir):
                raise self._deny(op, decision)
            top = members[-1][0] if op == "rm" else min((m for m, _ in members), key=len)
            raise AccessDenied(
                op, top, str(decision.rule),
                f"{op} '{top}' is refused: it contains entries the jail may not change",
            )  # fmt: skip

    def _expand_targets(self, path: Any) -> list[str]:
        items = path if isinstance(path, list | tuple) else [path]
        out: list[str] = []
        for item in items:
            text = paths.to_str(item)
            if any(c in text for c in "*?["):
                matches = self.glob(text)
                if not matches:
                    raise errno_error(2, paths.normalize(text))
                out.extend(matches)
            else:
                out.append(self._norm(text))
        return out

    # -- copy, move, link --------------------------------------------------------------------

    @_audited("cp_file", 0, 1)
    def cp_file(self, path1: Any, path2: Any, **kwargs: Any) -> None:
        src = self._norm(path1)
        dst = self._norm(path2)
        dry = self._tls.dry
        with self._resolve(src, "read", "cp_file") as sres:
            if dry:
                size = 0 if sres.is_dir or sres.st is None else sres.st.st_size
                self._dry_check("write", dst, is_dir=sres.is_dir, size=size)
                return
            if sres.is_dir:  # copied as a directory, like LocalFileSystem
                fd = -1
            else:
                fd, st = self._open_regular(sres, src, os.O_RDONLY)
        if fd < 0:
            self._mkdir(dst, parents=True, exist_ok=True)
            return
        try:
            size = st.st_size
            self._check_read_size(src, size)
            self._reserve(dst, size, count=False)  # (over a limit: no parent is created)
            with self._writable_target(dst, "cp_file") as dres:
                # the size checked and reserved, not more: a file growing meanwhile is cut there
                copied = self._replace(dres, dst, size, lambda out: _copy_fd(fd, out, size))
        finally:
            raw.close_unchecked(fd)
        self._add_bytes(copied)

    def _dry_check(
        self, access: Access, vpath: str, *, is_dir: bool = False, size: int = 0
    ) -> None:
        """The checking half of a dry run (see :meth:`_checked_twice`): the policy on the name
        and, where it exists already, on the real path; the limits on the bytes so far."""
        self._require(access, vpath, vpath, is_dir, "write")
        try:
            with self._resolver.resolve(vpath, follow=True) as res:
                if res.path != vpath:
                    self._require(access, vpath, res.path, is_dir, "write")
        except (FileNotFoundError, NotADirectoryError):
            pass  # its parents do not exist yet: the real run checks them as it creates them
        if size:
            self._tls.dry_bytes += size
            limit, quota = self.max_file_size, self.write_quota
            if limit is not None and size > limit:
                self._reserve(vpath, size)  # raises, naming the limit
            if quota is not None and self._written + self._tls.dry_bytes > quota:
                raise QuotaExceeded(
                    "write_quota",
                    f"the copy needs {self._tls.dry_bytes} bytes; write_quota ({quota} bytes, "
                    f"{self._written} used) is passed by "
                    f"{self._written + self._tls.dry_bytes - quota}",
                    excess=self._written + self._tls.dry_bytes - quota,
                )

    def _checked_twice(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a recursive fsspec operation as a dry run (policy only), then for real."""
        self._tls.dry = True
        self._tls.dry_bytes = 0
        try:
            fn(*args, **kwargs)
        finally:
            self._tls.dry = False
        return fn(*args, **kwargs)

    @_audited("copy", 0, 1)
    def copy(self, path1: Any, path2: Any, recursive: bool = False, **kwargs: Any) -> None:
        return cast(
            None,
            self._checked_twice(super().copy, path1, path2, recursive=recursive, **kwargs),
        )

    @_audited("put", 1, 0, local_dest=True)
    def put(self, lpath: Any, rpath: Any, recursive: bool = False, **kwargs: Any) -> None:
        return cast(
            None, self._checked_twice(super().put, lpath, rpath, recursive=recursive, **kwargs)
        )

    @_audited("put_file", 1, 0, local_dest=True)
    def put_file(self, lpath: Any, rpath: Any, **kwargs: Any) -> None:
        if self._tls.dry:
            self._dry_check("write", self._norm(rpath))
            return
        super().put_file(lpath, rpath, **kwargs)

    @_audited("mv", 0, 1)
    def mv(
        self,
        path1: Any,
        path2: Any,
        recursive: bool = False,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        # One move or symlink() at a time, from the listing of the tree to its rename: no call
        # of this jail can add a link to a tree while its links are checked.
        with self._links_lock:
            self._move(path1, path2)

    def _move(self, path1: Any, path2: Any) -> None:
        src = self._norm(path1)
        dst = self._norm(path2)
        self._refuse_root(src, "mv")
        self._refuse_root(dst, "mv")
        if src == dst:
            return
        self._precheck("write", dst, "mv")
        with self._resolve(src, "write", "mv", follow=False) as sres:
            assert sres.st is not None
            real_src = sres.path
            self._refuse_root(real_src, "mv")
            link = _link_text(sres.parent, sres.name) if sres.is_link else None
            top = _Member(real_src, sres.is_dir, (sres.st.st_dev, sres.st.st_ino), link)
        # Into an existing directory, like shutil.move.
        try:
            with self._resolver.resolve(dst, follow=True) as probe:
                if probe.is_dir:
                    dst = paths.join(dst, paths.basename(src))
        except FileNotFoundError:
            pass
        if paths.is_within(dst, src):
            raise OSError(22, "cannot move a directory into itself", dst)
        members = self._tree(real_src, None) if top.is_dir else [top]
        # every member leaves its name and takes a new one: all of them, asked-for and real
        # names on both sides, must be writable
        moved = [(src + m.path[len(real_src) :], m) for m in members]
        self._check_members("mv", [(n, m.is_dir) for n, m in moved])
        self._check_members("mv", [(m.path, m.is_dir) for m in members])
        self._check_members("mv", [(dst + n[len(src) :], m.is_dir) for n, m in moved])
        with (
            self._resolve(src, "write", "mv", follow=False) as sres,
            self._resolve(dst, "write", "mv", create_parents=True, must_exist=False) as dres,
        ):
            if (
                sres.st is None
                or sres.path != real_src
                or sres.is_dir != top.is_dir
                or (sres.st.st_dev, sres.st.st_ino) != top.ident
            ):
                raise OSError(116, "changed while being moved; nothing moved", src)
            if dres.path != dst:  # the destination resolves elsewhere: check the real names
                real_dst = dres.path
                self._check_members(
                    "mv", [(real_dst + m.path[len(real_src) :], m.is_dir) for m in members]
                )
            if paths.is_within(dres.path, real_src):
                raise OSError(22, "cannot move a directory into itself", dst)
            if dres.st is not None and stat.S_ISDIR(dres.st.st_mode) != top.is_dir:
                raise errno_error(21 if dres.is_dir else 20, dst)
            self._reads_stay(src, real_src, dres.path, members)
            self._links_stay_inside(src, real_src, dres.path, members)
            raw.rename_unchecked(sres.parent, sres.name, dres.parent, dres.name)
        self._set_count(len(members))

    def _reads_stay(self, src: str, real_src: str, real_dst: str, members: list[_Member]) -> None:
        """Refuse a move that would make a file readable that may not be read where it is:
        read rules go by name, so a rename could turn a write-only file into a readable one."""
        check = self.policy.check
        for m in members:
            if m.is_dir:
                continue
            here = check("read", m.path)
            if not here.allowed and check("read", real_dst + m.path[len(real_src) :]).allowed:
                name = src + m.path[len(real_src) :]
                raise AccessDenied(
                    "mv",
                    name,
                    str(here.rule),
                    f"mv '{src}' is refused: '{name}' may not be read, and would be readable "
                    "at its new place",
                )

    def _links_stay_inside(
        self, src: str, real_src: str, real_dst: str, members: list[_Member]
    ) -> None:
        """Refuse a move that would leave a symlink pointing outside the root: a relative
        target means something else from another directory ("../x" from one level deeper).
        Links are read when the tree is listed, under the lock that symlink() and mv() hold."""
        for m in members:
            if m.link is None:
                continue
            try:
                _check_link_target(real_dst + m.path[len(real_src) :], m.link)
            except PathEscapeError:
                name = src + m.path[len(real_src) :]
                raise PathEscapeError(
                    f"mv '{src}' is refused: the symlink '{name}' would point outside the jail "
                    "from its new place",
                    name,
                ) from None

    def move(self, path1: Any, path2: Any, **kwargs: Any) -> None:
        self.mv(path1, path2, **kwargs)

    def rename(self, path1: Any, path2: Any, **kwargs: Any) -> None:
        self.mv(path1, path2, **kwargs)

    @_audited("symlink", 1, 0)
    def symlink(self, target: Any, path: Any, **kwargs: Any) -> None:
        """Create a symlink at ``path`` to ``target`` (only when enabled; relative, inside)."""
        vpath = self._norm(path)
        if not self.allow_symlink_creation:
            raise AccessDenied(
                "symlink", vpath, "allow_symlink_creation", "creating symlinks is disabled"
            )
        text = paths.to_str(target)
        _check_link_target(vpath, text)
        with (
            self._links_lock,
            self._resolve(vpath, "write", "symlink", follow=False, must_exist=False) as res,
        ):
            if res.st is not None:
                raise errno_error(17, vpath)
            # The kernel reads the target relative to the link's REAL directory, which differs
            # from the requested one when a parent is itself a symlink: check it from there.
            self._precheck("read", paths.symlink_target(res.path, text), "symlink")
            raw.symlink_unchecked(text, res.parent, res.name)

    @_audited("chmod")
    def chmod(self, path: Any, mode: int) -> None:
        """Set the permission bits (0o777 at most: never setuid, setgid or sticky)."""
        vpath = self._norm(path)
        if type(mode) is not int or mode & ~0o777:
            raise AccessDenied(
                "chmod",
                vpath,
                "mode",
                f"chmod '{vpath}' to {mode!r}: only the bits 0o777 may be set",
            )
        with self._resolve(vpath, "write", "chmod") as res:
            if res.is_dir:
                fd = raw.open_dir_read_unchecked(res.parent, res.name)
            else:
                fd, _ = self._open_regular(res, vpath, os.O_RDONLY, writing=True)
        try:
            raw.fchmod_unchecked(fd, mode)
        finally:
            raw.close_unchecked(fd)


class _ToolScope:
    def __init__(self, tls: _ThreadState, name: str | None) -> None:
        self._tls = tls
        self._name = name
        self._prev: str | None = None

    def __enter__(self) -> None:
        self._prev = self._tls.tool
        self._tls.tool = self._name

    def __exit__(self, *exc: object) -> None:
        self._tls.tool = self._prev


# Inherited fsspec methods that are public calls of their own: one record each. Their inner
# calls (cat -> cat_file, get -> open ...) pass through the native methods above and the resolver.
_INHERITED: dict[str, tuple[int | None, int | None]] = {
    "cat": (0, None), "cat_ranges": (0, None), "pipe": (0, None), "head": (0, None),
    "tail": (0, None), "read_text": (0, None), "write_text": (0, None), "read_bytes": (0, None),
    "write_bytes": (0, None), "get": (0, 1), "get_file": (0, 1), "expand_path": (0, None),
    "size": (0, None), "sizes": (0, None), "checksum": (0, None), "ukey": (0, None),
    "disk_usage": (0, None), "listdir": (0, None),
    "stat": (0, None), "makedir": (0, None), "mkdirs": (0, None), "cp": (0, 1),
    "delete": (0, None), "upload": (1, 0), "download": (0, 1), "tree": (0, None),
    "read_block": (0, None),
}  # fmt: skip
#: the inherited calls whose ``dest`` is a path of the host
_LOCAL_DEST = frozenset({"get", "get_file", "upload", "download"})
for _name, (_p, _d) in _INHERITED.items():
    _wrap = _audited(_name, _p, _d, local_dest=_name in _LOCAL_DEST)
    setattr(JailFileSystem, _name, _wrap(getattr(AbstractFileSystem, _name)))
del _name, _p, _d, _wrap


# -- file objects ------------------------------------------------------------------------------

# mode -> (kind, open flags for an existing file, "+")
_MODES: dict[str, tuple[str, int, bool]] = {
    "r": ("read", os.O_RDONLY, False),
    "r+": ("update", os.O_RDWR, True),
    "w": ("write", os.O_RDWR, False),
    "w+": ("write", os.O_RDWR, True),
    "x": ("exclusive", os.O_RDWR, False),
    "x+": ("exclusive", os.O_RDWR, True),
    "a": ("append", os.O_WRONLY | os.O_APPEND, False),
    "a+": ("append", os.O_RDWR | os.O_APPEND, True),
}


class JailRawFile(io.FileIO):
    """An open file of the jail: size limits on every write, audit record on close.

    "w"/"x" files are written to a hidden temp file beside the target and moved into place when
    closed (atomic); closing after an exception or a refused write discards them instead.
    """

    # slots: a file object is made per open, and they make building it measurably cheaper
    __slots__ = (
        "autocommit", "bytes_read", "bytes_written", "exclusive", "failed", "failure",
        "finished", "fs", "opened_ns", "outer", "path", "record_close", "reserved", "size",
        "target", "temp", "tool", "vpath",
    )  # fmt: skip

    def __init__(
        self,
        fs: JailFileSystem,
        vpath: str,
        fd: int,
        mode: str,
        *,
        target: Resolved | None = None,
        temp: str | None = None,
        exclusive: bool = False,
        autocommit: bool = True,
    ) -> None:
        super().__init__(fd, mode, closefd=True)
        self.fs = fs
        self.vpath = vpath
        self.path = vpath
        self.size = 0
        self.bytes_read = 0
        self.bytes_written = 0
        self.reserved = 0
        self.target = target
        self.temp = temp
        self.exclusive = exclusive
        self.autocommit = autocommit
        self.failed = False
        self.failure: BaseException | None = None  # the refused write, for the close record
        self.record_close = True
        self.finished = False
        self.opened_ns = time.perf_counter_ns()
        tls = fs._tls
        self.tool: str | None = tls.tool
        self.outer = tls.call  # the public call that opened this file

    def readinto(self, buffer: Any) -> int | None:
        n = super().readinto(buffer)
        if n:
            self.bytes_read += n
        return n

    def readall(self) -> bytes:
        data = super().readall()
        self.bytes_read += len(data)
        return data

    def write(self, data: Any, /) -> int:
        view = memoryview(data)
        # O_APPEND writes land at the end of the file, wherever the position is
        start = raw.fstat_unchecked(self.fileno()).st_size if "a" in self.mode else self.tell()
        self._grow_to(start + len(view))
        n = super().write(view) or 0
        self.bytes_written += n
        return n

    def truncate(self, size: int | None = None) -> int:
        self._grow_to(self.tell() if size is None else size)
        result = super().truncate(size)
        self.size = result
        return result

    def _grow_to(self, end: int) -> None:
        """Count the bytes a write or truncate adds against the limits, before it happens."""
        grow = end - max(self.size, 0)
        if grow <= 0:
            return
        try:
            self.fs._reserve(self.vpath, end, grow)
        except QuotaExceeded as exc:
            self.failed = True
            self.failure = exc
            raise
        self.reserved += grow
        self.size = end

    def close(self) -> None:
        if self.closed:
            return
        error: BaseException | None = None
        try:
            super().close()
        except BaseException as exc:
            error = exc
        if self.target is None:  # read, "r+" or "a": written in place, nothing to move
            self.finished = True
        elif self.autocommit and error is None and not self.failed:
            try:
                self.commit()
            except BaseException as exc:
                error = exc
        elif self.autocommit:
            self.discard()
        self.fs._file_closed(self, error or self.failure)
        if error is not None:
            raise error

    def commit(self) -> None:
        """Move the written temp file into place (transactions call this at their end; that
        leaves a ``commit`` record, allowed or failed: the ``close`` record came before)."""
        if self.finished or self.target is None or self.temp is None:
            self._release_target()
            return
        start = time.perf_counter_ns()
        try:
            self.fs._check_still_there(self.target, self.vpath)
            self.fs._commit(self.target, self.temp, self.exclusive, self.vpath)
        except BaseException as exc:
            _discard(self.target.parent, self.temp)
            self.fs._release(self.reserved)
            self._release_target()
            self._record_end("commit", start, exc)
            raise
        self._release_target()
        self._record_end("commit", start, None)

    def discard(self) -> None:
        """Drop the temp file: the target keeps its old content (a transaction's discard leaves
        a ``discard`` record)."""
        if not self.finished and self.target is not None and self.temp is not None:
            start = time.perf_counter_ns()
            _discard(self.target.parent, self.temp)
            self.fs._release(self.reserved)
            self._release_target()
            self._record_end("discard", start, None)
            return
        self._release_target()

    def _record_end(self, op: str, start: int, error: BaseException | None) -> None:
        """The record of a transaction's commit or discard of this file (autocommitted files
        are done when closed: their ``close`` record says it all)."""
        if self.autocommit or not self.record_close:
            return
        call = _Call(op, self.vpath, None)
        call.nbytes = self.bytes_written
        call.tool = self.tool
        self.fs._finish(call, start, error)

    def _release_target(self) -> None:
        self.finished = True
        if self.target is not None:
            self.target.close()


def _discard_on_error(f: Any, exc_type: object) -> None:
    if exc_type is not None and isinstance(f.raw, JailRawFile):
        f.raw.failed = True


class _JailReader(io.BufferedReader):
    @property
    def size(self) -> int:
        """The file's size when opened (fsspec's file objects have it; read_block uses it)."""
        raw_file = self.raw
        assert isinstance(raw_file, JailRawFile)
        return raw_file.size


class _JailWriter(io.BufferedWriter):
    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        _discard_on_error(self, exc_type)
        super().__exit__(exc_type, *rest)


class _JailRandom(io.BufferedRandom):
    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        _discard_on_error(self, exc_type)
        super().__exit__(exc_type, *rest)


class _JailText(io.TextIOWrapper):
    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        buffer = self.buffer
        if exc_type is not None and hasattr(buffer, "raw"):
            _discard_on_error(buffer, exc_type)
        super().__exit__(exc_type, *rest)


def _compile_linear(regex: str) -> Any:
    """Compile with RE2 (linear time); the agent writes glob patterns."""
    return _re2.compile(regex)


_re2: Any = importlib.import_module("re2")


# -- fd helpers ------------------------------------------------------------------------------


def _read_range(fd: int, lo: int, hi: int) -> bytes:
    """Bytes ``lo`` to ``hi`` of an open file (fewer if it ends sooner): one pread, usually."""
    if hi <= lo:
        return b""
    data = raw.pread_unchecked(fd, min(hi - lo, _PREAD_MAX), lo)
    if len(data) == hi - lo or not data:
        return data
    chunks = [data]
    pos = lo + len(data)
    while pos < hi:  # a short read: the rest in more preads
        chunk = raw.pread_unchecked(fd, min(hi - pos, _PREAD_MAX), pos)
        if not chunk:
            break
        chunks.append(chunk)
        pos += len(chunk)
    return b"".join(chunks)


def _copy_fd(src: int, dst: int, limit: int) -> int:
    """Copy up to ``limit`` bytes from ``src`` to ``dst``; the bytes copied."""
    total = 0
    while total < limit:
        chunk = raw.read_unchecked(src, min(COPY_CHUNK, limit - total))
        if not chunk:
            break
        total += raw.write_all_unchecked(dst, chunk)
    return total


def _discard(dir_fd: int, temp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        raw.unlink_unchecked(dir_fd, temp)


def _link_text(dfd: int, name: str) -> str | None:
    """The target of symlink ``name`` in ``dfd``; None if it is gone or no longer a link."""
    try:
        return raw.readlink_unchecked(dfd, name)
    except OSError:
        return None


def _check_link_target(link: str, text: str) -> None:
    """Refuse (PathEscapeError) a symlink at real path ``link`` with target ``text`` unless it
    stays inside: relative, never above the root, and ".." only as leading steps (there the
    kernel, which reads "a/.." through a if a is a link, and the jail read it alike)."""
    paths.symlink_target(link, text)  # absolute, or climbing above the root: an escape
    steps = [s for s in text.split("/") if s not in ("", ".")]
    leading = next((i for i, s in enumerate(steps) if s != ".."), len(steps))
    if ".." in steps[leading:]:
        raise PathEscapeError(f"'{link}': '..' may only lead a symlink's target", link)


def _walk_fd_all(dfd: int, vpath: str, depth: int, maxdepth: int | None) -> Iterator[_Member]:
    """Every entry below the open directory ``dfd`` (hidden ones too), top-down."""
    dirs: list[str] = []
    for name, is_dir, is_link, st in raw.scandir_unchecked(dfd, True):
        assert st is not None
        link = _link_text(dfd, name) if is_link else None
        yield _Member(paths.join(vpath, name), is_dir, (st.st_dev, st.st_ino), link)
        if is_dir:
            dirs.append(name)
    if maxdepth is not None and depth >= maxdepth:
        return
    for name in dirs:
        try:
            cfd = raw.open_dir_read_unchecked(dfd, name)
        except OSError:  # swapped for a link or removed since the listing: not descended
            continue
        try:
            yield from _walk_fd_all(cfd, paths.join(vpath, name), depth + 1, maxdepth)
        finally:
            raw.close_unchecked(cfd)
