"""The only module that makes system calls on the real filesystem.

Every function here takes a directory file descriptor and a single name (or a path that the
caller has already proven safe) and does exactly one thing. Nothing here checks anything: the
names say so. :mod:`jailfs.resolver` decides which fd and name are safe to pass; the filesystem
acts on them only through these functions. Final components are never followed: every call
uses ``O_NOFOLLOW`` / ``follow_symlinks=False`` / calls that do not follow by nature
(unlink, rmdir, rename, mkdir, symlink), so a symlink swapped in after resolution is acted on
as a link, never through.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import struct
import sys
from collections.abc import Iterator
from typing import Any

O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: an fd good only as a ``dir_fd`` anchor (Linux); elsewhere a read-only directory open
O_PATH = getattr(os, "O_PATH", 0)
_DIR_ANCHOR = (O_PATH or os.O_RDONLY) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
_DIR_READ = os.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

# openat2(2): Linux 5.6+. Flags from <linux/openat2.h>.
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_SYS_OPENAT2 = 437  # the same number on every Linux architecture (unified syscall table)


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        _syscall = _libc.syscall
        _syscall.restype = ctypes.c_long
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        _libc = None

HAVE_OPENAT2 = _libc is not None
_HOW_SIZE = ctypes.sizeof(_OpenHow)


def open_how(flags: int, resolve: int) -> Any:
    """The ``struct open_how`` argument of :func:`openat2_unchecked`, built once by the caller
    (``O_CLOEXEC`` added): the hot path passes it as is instead of building it per call."""
    return ctypes.byref(_OpenHow(flags | O_CLOEXEC, 0, resolve))


def openat2_unchecked(dir_fd: int, path: str, how: Any) -> int:
    """``openat2(dir_fd, path, how)`` (``how`` from :func:`open_how`); raises OSError with the
    kernel's errno."""
    if _libc is None:
        raise OSError(errno.ENOSYS, "openat2 is not available")
    # The arguments go through ctypes' default conversion (int -> C int, bytes -> char *,
    # byref -> pointer), which measures faster than declaring ``argtypes``.
    encoded = path.encode("utf-8", "surrogateescape")
    fd: int = _syscall(_SYS_OPENAT2, dir_fd, encoded, how, _HOW_SIZE)
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def open_dir_anchor_unchecked(dir_fd: int, name: str) -> int:
    """Open directory ``name`` under ``dir_fd`` without following it, as an anchor fd."""
    return os.open(name, _DIR_ANCHOR, dir_fd=dir_fd)


def open_dir_read_unchecked(dir_fd: int, name: str) -> int:
    """Open directory ``name`` under ``dir_fd`` for listing, without following it."""
    return os.open(name, _DIR_READ, dir_fd=dir_fd)


# The calls on an open fd that ``os`` makes exactly as needed are ``os``'s own functions (no
# wrapper frame: they run several times in every public call).
dup_unchecked = os.dup
close_unchecked = os.close
fstat_unchecked = os.fstat
read_unchecked = os.read
pread_unchecked = os.pread


def open_root_unchecked(host_path: str, *, create: bool) -> int:
    """Open the jail's root directory (a host path chosen by the host program, not the agent)."""
    if create:
        os.makedirs(host_path, exist_ok=True)
    return os.open(host_path, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC)


#: ext4/f2fs "casefold" directory flag (FS_CASEFOLD_FL), read with FS_IOC_GETFLAGS
_CASEFOLD_FL = 0x40000000
#: FS_IOC_GETFLAGS, _IOR('f', 1, long), where ioctl numbers use the common encoding
_FS_IOC_GETFLAGS = (
    (2 << 30) | (struct.calcsize("l") << 16) | (ord("f") << 8) | 1
    if platform.machine() in ("x86_64", "amd64", "i386", "i686", "aarch64", "arm64", "riscv64")
    or platform.machine().startswith("arm")
    else None
)


def _casefold_flag(dir_fd: int) -> bool:
    """Whether the directory carries the ext4/f2fs casefold flag (False where unknown)."""
    if _FS_IOC_GETFLAGS is None or not sys.platform.startswith("linux"):
        return False
    try:
        flags = fcntl.ioctl(dir_fd, _FS_IOC_GETFLAGS, bytes(8))
    except OSError:  # a filesystem without inode flags
        return False
    return bool(int.from_bytes(flags[:4], sys.byteorder) & _CASEFOLD_FL)


def _same_entry_in_other_case(dir_fd: int, name: str) -> bool | None:
    """Whether ``name`` with its ASCII letters' case swapped names the same entry of ``dir_fd``;
    None when the name has no ASCII letter (or is gone)."""
    other = name.swapcase()
    if other == name or not name.isascii():
        return None
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return None
    try:
        alt = os.stat(other, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (alt.st_dev, alt.st_ino) == (st.st_dev, st.st_ino)


def case_insensitive_unchecked(root_fd: int, host_root: str) -> bool | None:
    """Whether names in the root directory match regardless of case; None when nothing tells.

    Asked in order: the casefold flag of the root (ext4, f2fs); every entry of the root until
    one with an ASCII letter answers (on such a filesystem any one does, so names an agent adds
    cannot hide the answer); the root's own name, where its parent is on the same filesystem.
    Nothing is created. Subdirectories on another filesystem, or with their own flag, are not
    seen.
    """
    if _casefold_flag(root_fd):
        return True
    with os.scandir(root_fd) as entries:
        for entry in entries:
            found = _same_entry_in_other_case(root_fd, entry.name)
            if found is not None:
                return found
    parent, name = os.path.split(host_root)
    if not name or os.stat(parent).st_dev != os.fstat(root_fd).st_dev:
        return None
    parent_fd = os.open(parent, os.O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    try:
        return _same_entry_in_other_case(parent_fd, name)
    finally:
        os.close(parent_fd)


def lstat_unchecked(dir_fd: int, name: str) -> os.stat_result:
    return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)


def readlink_unchecked(dir_fd: int, name: str) -> str:
    return os.readlink(name, dir_fd=dir_fd)


def open_file_unchecked(dir_fd: int, name: str, flags: int, mode: int = 0o666) -> int:
    """Open ``name`` under ``dir_fd`` without following it and without blocking on a FIFO.

    ``O_NONBLOCK`` keeps a FIFO swapped in after the caller's type check from hanging the open;
    the caller checks the type with :func:`fstat_unchecked` and keeps the fd only for a regular
    file, where the flag changes nothing (reads and writes of regular files never block).
    """
    return os.open(name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode, dir_fd=dir_fd)


def write_all_unchecked(fd: int, data: bytes | memoryview) -> int:
    view = memoryview(data)
    done = 0
    while done < len(view):
        done += os.write(fd, view[done:])
    return done


def fsync_unchecked(fd: int) -> None:
    os.fsync(fd)


def ftruncate_unchecked(fd: int, size: int) -> None:
    os.ftruncate(fd, size)


def mkdir_unchecked(dir_fd: int, name: str, mode: int = 0o777) -> None:
    os.mkdir(name, mode, dir_fd=dir_fd)


def unlink_unchecked(dir_fd: int, name: str) -> None:
    os.unlink(name, dir_fd=dir_fd)


def rmdir_unchecked(dir_fd: int, name: str) -> None:
    os.rmdir(name, dir_fd=dir_fd)


def rename_unchecked(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> None:
    os.rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def link_exclusive_unchecked(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str) -> None:
    """Hard-link ``src`` to ``dst``; EEXIST if ``dst`` exists (for exclusive creation)."""
    os.link(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd, follow_symlinks=False)


def symlink_unchecked(target: str, dir_fd: int, name: str) -> None:
    os.symlink(target, name, dir_fd=dir_fd)


def futime_unchecked(fd: int) -> None:
    """Set the times of the open file ``fd`` to now."""
    os.utime(fd)


def fchmod_unchecked(fd: int, mode: int) -> None:
    os.fchmod(fd, mode)


def scandir_unchecked(
    dir_fd: int, with_stat: bool
) -> Iterator[tuple[str, bool, bool, os.stat_result | None]]:
    """Entries of the directory open as ``dir_fd``: (name, is_dir, is_symlink, lstat or None).

    Types come from d_type where the filesystem gives it; the lstat (only ``with_stat``) is an
    fstatat on ``dir_fd`` and the entry name, never a path string. An entry that vanished in
    between is skipped.
    """
    with os.scandir(dir_fd) as it:
        for entry in it:
            try:
                is_link = entry.is_symlink()
                is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                st = entry.stat(follow_symlinks=False) if with_stat else None
            except FileNotFoundError:
                continue
            yield entry.name, is_dir, is_link, st
