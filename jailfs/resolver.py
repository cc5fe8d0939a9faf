"""THE choke point: a normalized virtual path -> a parent directory fd beneath the root + a name.

Every operation of :class:`jailfs.JailFileSystem` starts here. :meth:`Resolver.resolve` returns
a :class:`Resolved`: an fd of the *parent* directory, opened without following any symlink and
proven to lie beneath the root, plus the final name and the path it resolved to. The caller then
acts on ``(parent fd, name)`` with :mod:`jailfs._unchecked`, whose calls never follow a final
symlink. So a string is never checked and then reopened: what was checked is what is used.

Two ways to open the parent, with identical answers:

* ``openat2`` (Linux 5.6+): one syscall, ``RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
  RESOLVE_NO_SYMLINKS``; the kernel refuses anything that would leave the root. It is the fast
  path for the common case of a path with no symlink on the way; if a symlink is met (``ELOOP``)
  the walk below takes over, because the policy must learn the path the link resolves to.
* the component walk (everywhere, and the fallback): each component opened with
  ``O_NOFOLLOW | O_DIRECTORY`` relative to the previous fd; a symlink is read with ``readlinkat``
  and its target re-resolved lexically from the root, so it can never climb above it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from jailfs import _unchecked as raw
from jailfs import paths
from jailfs.errors import PathEscapeError

#: symlinks followed in one resolution before ELOOP (Linux's own limit)
MAX_SYMLINK_HOPS = 40
#: openat2 EAGAIN retries (the kernel's answer to a concurrent rename during a BENEATH walk)
MAX_EAGAIN_RETRIES = 32
#: directory creations retried when another process races us with the same name
MAX_MKDIR_RETRIES = 8

ResolverKind = Literal["auto", "openat2", "walk"]

_OPENAT2_RESOLVE = raw.RESOLVE_BENEATH | raw.RESOLVE_NO_MAGICLINKS | raw.RESOLVE_NO_SYMLINKS
_OPENAT2_FLAGS = (raw.O_PATH or os.O_RDONLY) | raw.O_DIRECTORY
_OPENAT2_HOW = raw.open_how(_OPENAT2_FLAGS, _OPENAT2_RESOLVE)
#: errnos meaning "openat2 is not usable here" (missing, filtered by seccomp, old kernel)
_OPENAT2_UNSUPPORTED = frozenset({errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG})


def _final_check(may_create: Callable[[str], None], name: str) -> Callable[[str], None]:
    """``may_create`` for a parent directory: called with the final entry's real path."""
    return lambda parent: may_create(paths.join(parent, name))


def _escape(link: str) -> PathEscapeError:
    return PathEscapeError(f"'{link}' is a symlink that points outside the jail", link)


def _loop(path: str) -> OSError:
    return OSError(errno.ELOOP, f"too many levels of symbolic links resolving '{path}'", path)


@dataclass(slots=True)
class Resolved:
    """A resolved path: own the ``parent`` fd and close it (use as a context manager)."""

    path: str  #: the virtual path the request resolved to (after following symlinks)
    parent: int  #: fd of the parent directory, beneath the root
    name: str  #: the final component ("." for the root itself)
    st: os.stat_result | None  #: lstat of the final component at resolution time
    hops: tuple[str, ...] = field(default=())  #: the symlinks followed, as virtual paths
    owned: bool = True  #: whether ``parent`` is ours to close (False: it is the root fd)

    @property
    def exists(self) -> bool:
        return self.st is not None

    @property
    def is_dir(self) -> bool:
        return self.st is not None and stat.S_ISDIR(self.st.st_mode)

    @property
    def is_link(self) -> bool:
        return self.st is not None and stat.S_ISLNK(self.st.st_mode)

    def keep(self) -> Resolved:
        """Own the parent fd (dup the root fd if needed), to hold it beyond the call."""
        if not self.owned and self.parent >= 0:
            self.parent = raw.dup_unchecked(self.parent)
            self.owned = True
        return self

    def close(self) -> None:
        if self.parent >= 0 and self.owned:
            raw.close_unchecked(self.parent)
        self.parent = -1

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Resolver:
    """Resolves virtual paths beneath one root directory fd (see the module docstring)."""

    def __init__(self, root_fd: int, kind: ResolverKind = "auto") -> None:
        if kind not in ("auto", "openat2", "walk"):
            raise ValueError(f"resolver must be 'auto', 'openat2' or 'walk', not {kind!r}")
        self.root_fd = root_fd
        self.requested = kind
        self.use_openat2 = kind != "walk" and raw.HAVE_OPENAT2
        if kind == "openat2" and not raw.HAVE_OPENAT2:
            raise OSError(errno.ENOSYS, "openat2 is not available on this system")
        #: resolutions performed (tests use it to prove every operation passes through here)
        self.calls = 0

    @property
    def kind(self) -> str:
        return "openat2" if self.use_openat2 else "walk"

    def resolve(
        self,
        path: str,
        *,
        follow: bool = True,
        create_parents: bool = False,
        may_create: Callable[[str], None] | None = None,
    ) -> Resolved:
        """Resolve normalized ``path``; with ``follow`` a final symlink is followed (inside only).

        Missing intermediate directories raise FileNotFoundError unless ``create_parents``, when
        each is created with mkdirat on the fd of its parent. Before the first one is created,
        ``may_create`` is called with the real path the final entry will have (all of it known
        by then: the missing part holds no links); it raises to refuse, and nothing is created.
        A missing final component is not an error: ``Resolved.st`` is None.
        """
        self.calls += 1
        hops: list[str] = []
        while True:
            parent_path, _, name = path.rpartition("/")
            if not name:  # the root itself
                return Resolved("", self.root_fd, ".", self._root_stat(), tuple(hops), False)
            if parent_path:
                check = None if may_create is None else _final_check(may_create, name)
                parent_fd, parent_real = self._open_dir(parent_path, hops, create_parents, check)
                owned = True
            else:  # an entry of the root: its parent is the root fd itself (not closed)
                parent_fd, parent_real, owned = self.root_fd, "", False
            try:
                st: os.stat_result | None = raw.lstat_unchecked(parent_fd, name)
            except FileNotFoundError:
                st = None
            except BaseException:
                if owned:
                    raw.close_unchecked(parent_fd)
                raise
            real = paths.join(parent_real, name)
            if not (follow and st is not None and stat.S_ISLNK(st.st_mode)):
                return Resolved(real, parent_fd, name, st, tuple(hops) if hops else (), owned)
            # Follow a final symlink ourselves: read it on the parent fd and start again from the
            # root with its target, resolved lexically (an absolute or climbing target is an
            # escape). If the link is swapped after this read, the new walk sees the new state.
            try:
                target = raw.readlink_unchecked(parent_fd, name)
            except OSError as exc:  # swapped for a non-link between lstat and readlink: retry
                if exc.errno != errno.EINVAL:
                    raise
                continue
            finally:
                if owned:
                    raw.close_unchecked(parent_fd)
            hops.append(real)
            if len(hops) > MAX_SYMLINK_HOPS:
                raise _loop(hops[0])
            path = paths.symlink_target(real, target)

    def _root_stat(self) -> os.stat_result:
        return raw.fstat_unchecked(self.root_fd)

    def _open_dir(
        self, path: str, hops: list[str], create: bool, may_create: Callable[[str], None] | None
    ) -> tuple[int, str]:
        """An anchor fd of directory ``path`` beneath the root, and the path it resolved to."""
        if not path:
            return raw.dup_unchecked(self.root_fd), ""
        if self.use_openat2:
            for _ in range(MAX_EAGAIN_RETRIES):
                try:
                    return raw.openat2_unchecked(self.root_fd, path, _OPENAT2_HOW), path
                except OSError as exc:
                    code = exc.errno or 0
                if code == errno.EAGAIN:  # a rename raced the kernel's walk: try again
                    continue
                if code in (errno.ELOOP, errno.ENOENT):
                    break  # a symlink on the way, or a directory to create: walk
                if code in _OPENAT2_UNSUPPORTED:
                    self.use_openat2 = False  # refused here (seccomp, old kernel): walk from now
                    break
                if code == errno.EXDEV:  # RESOLVE_BENEATH refused an escape
                    raise PathEscapeError(f"'{path}' leads outside the jail", path)
                raise OSError(code, os.strerror(code), path)
        return self._walk(path, hops, create, may_create)

    def _walk(
        self, path: str, hops: list[str], create: bool, may_create: Callable[[str], None] | None
    ) -> tuple[int, str]:
        """The component walk: O_NOFOLLOW|O_DIRECTORY per component, links re-resolved."""
        todo = path.split("/")
        done: list[str] = []
        fd = raw.dup_unchecked(self.root_fd)
        mkdir_races = 0
        approved: str | None = None
        try:
            while todo:
                name = todo[0]
                try:
                    nfd = raw.open_dir_anchor_unchecked(fd, name)
                except FileNotFoundError:
                    if not create:
                        raise FileNotFoundError(
                            errno.ENOENT, "no such directory", paths.join("/".join(done), name)
                        ) from None
                    if may_create is not None:  # the rest of the way is known: ask first
                        route = "/".join(done + todo)
                        if route != approved:  # (asked again if a link changed the route)
                            may_create(route)
                            approved = route
                    try:
                        raw.mkdir_unchecked(fd, name)
                    except FileExistsError:  # created concurrently (maybe as a link): look again
                        mkdir_races += 1
                        if mkdir_races > MAX_MKDIR_RETRIES:
                            raise
                    continue
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    # Not a directory we may enter: a symlink to expand, or not a directory.
                    current = paths.join("/".join(done), name)
                    st = raw.lstat_unchecked(fd, name)
                    if not stat.S_ISLNK(st.st_mode):
                        raise NotADirectoryError(
                            errno.ENOTDIR, "not a directory", current
                        ) from None
                    try:
                        target = raw.readlink_unchecked(fd, name)
                    except OSError as err:
                        if err.errno == errno.EINVAL:  # swapped back to a non-link: look again
                            continue
                        raise
                    hops.append(current)
                    if len(hops) > MAX_SYMLINK_HOPS:
                        raise _loop(hops[0]) from None
                    # Restart from the root with the link's target followed by what is left.
                    rest = "/".join(todo[1:])
                    expanded = paths.symlink_target(current, target)
                    new_path = paths.join(expanded, rest) if rest else expanded
                    todo = new_path.split("/") if new_path else []
                    done = []
                    raw.close_unchecked(fd)
                    fd = raw.dup_unchecked(self.root_fd)
                    continue
                raw.close_unchecked(fd)
                fd = nfd
                done.append(todo.pop(0))
            return fd, "/".join(done)
        except BaseException:
            raw.close_unchecked(fd)
            raise
