"""The four ways to do the same operation: raw ``os`` (the floor), fsspec ``LocalFileSystem``,
fsspec ``DirFileSystem`` over it, and ``JailFileSystem`` with a realistic policy and audit log.

Every operation is a plain attribute holding a callable (a bound method of the filesystem where
there is one), so the harness adds the same overhead to every backend: one call.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem

#: column order everywhere (raw os, Local, DirFS, jail)
BACKENDS = ("raw", "local", "dirfs", "jail")
LABELS = {"raw": "raw os", "local": "Local", "dirfs": "DirFS", "jail": "jail"}


@dataclass(frozen=True)
class Backend:
    """Operations on *native* paths (host paths for raw/Local, relative for DirFS/jail)."""

    name: str
    path: Callable[[str], str]  # relative path -> native path
    rel: Callable[[str], str]  # native path (as returned by find/glob) -> relative path
    info: Callable[[str], object]
    cat: Callable[[str], bytes]
    pipe: Callable[[str, bytes], object]
    open_read: Callable[[str], bytes]
    ls: Callable[[str], list[Any]]
    find: Callable[[str], list[str]]
    glob: Callable[[str], list[str]]
    exists: Callable[[str], bool]
    fs: Any = None  # the fsspec filesystem, if any


# -- raw os ------------------------------------------------------------------------------------


def _raw_cat(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        chunks = [os.read(fd, size + 1)]
        while chunks[-1] and len(chunks[-1]) == size + 1:  # grew meanwhile: read the rest
            chunks.append(os.read(fd, 1 << 20))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _raw_pipe(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _raw_ls(path: str) -> list[tuple[str, os.stat_result]]:
    with os.scandir(path) as it:
        return [(e.path, e.stat(follow_symlinks=False)) for e in it]


def _raw_find(path: str) -> list[str]:
    out: list[str] = []
    for top, _dirs, files in os.walk(path):
        out.extend(os.path.join(top, f) for f in files)
    out.sort()
    return out


def _raw_glob(pattern: str) -> list[str]:
    return sorted(_glob.glob(pattern, recursive=True))


def raw_backend(root: str) -> Backend:
    prefix = root.rstrip("/") + "/"
    return Backend(
        name="raw",
        path=lambda rel: prefix + rel if rel else root,
        rel=lambda native: native.removeprefix(prefix),
        info=os.stat,
        cat=_raw_cat,
        pipe=_raw_pipe,
        open_read=_raw_cat,
        ls=_raw_ls,
        find=_raw_find,
        glob=_raw_glob,
        exists=os.path.exists,
    )


# -- fsspec ------------------------------------------------------------------------------------


def _open_read(fs: Any, path: str) -> bytes:
    with fs.open(path, "rb") as f:
        data: bytes = f.read()
    return data


def fsspec_backend(name: str, fs: Any, prefix: str) -> Backend:
    """A backend over an fsspec filesystem whose native path is ``prefix + relative``."""
    root = prefix.rstrip("/")
    return Backend(
        name=name,
        path=lambda rel: prefix + rel if rel else root,
        rel=lambda native: native.removeprefix(prefix),
        info=fs.info,
        cat=fs.cat_file,
        pipe=fs.pipe_file,
        open_read=partial(_open_read, fs),
        ls=partial(fs.ls, detail=True),
        find=fs.find,
        glob=fs.glob,
        exists=fs.exists,
        fs=fs,
    )


def local_backend(root: str) -> Backend:
    return fsspec_backend("local", LocalFileSystem(), root.rstrip("/") + "/")


def dirfs_backend(root: str) -> Backend:
    return fsspec_backend("dirfs", DirFileSystem(path=root, fs=LocalFileSystem()), "")


def jail_backend(jail: Any) -> Backend:
    return fsspec_backend("jail", jail, "")


# -- the jail's policy -------------------------------------------------------------------------

#: 25 write rules of a realistic agent workspace; they make the project trees and ``src/``
#: writable (the benchmark writes only there) and leave the rest read-only
WRITE_RULES: tuple[str, ...] = (
    "src/**", "tests/**", "docs/**/*.md", "docs/**/*.rst", "pkg*/**/*.py", "pkg*/**/*.md",
    "pkg*/**/*.txt", "pkg*/**/*.json", "scripts/*.sh", "scripts/*.py", "notebooks/*.ipynb",
    "examples/**", "benchmarks/**", "README.md", "CHANGELOG.md", "pyproject.toml",
    "setup.cfg", "Makefile", "!**/*.lock", "!**/poetry.lock", "!**/package-lock.json",
    "!**/.git/", "!**/__pycache__/", "!**/*.min.js", "!vendor/**",
)  # fmt: skip

#: 25 deny rules (added to the secrets preset); none matches a benchmark file, so every backend
#: returns the same results
DENY_RULES: tuple[str, ...] = (
    "private/", "data/private/", "**/*.sqlite", "**/*.sqlite3", "**/*.db", "*.tfstate",
    "*.tfstate.backup", "**/credentials*.json", "**/service-account*.json", "**/*.keystore",
    "**/*.jks", ".git/config", ".git/hooks/", ".docker/config.json", ".kube/", ".gnupg/",
    "**/secrets.yaml", "**/secrets.yml", "**/vault.yml", "**/*.ovpn", "**/*.kdbx",
    "**/token.json", "**/.htpasswd", "backups/", "**/dump.sql",
)  # fmt: skip

assert len(WRITE_RULES) + len(DENY_RULES) == 50


def make_jail(root: str, audit_dir: str) -> Any:
    """The benchmarked jail: secrets preset + 50 write/deny rules, audit log in ``audit_dir``."""
    from jailfs import JailFileSystem

    return JailFileSystem(
        root,
        write=list(WRITE_RULES),
        deny=list(DENY_RULES),
        presets=("secrets",),
        audit=audit_dir,
        actor="benchmark",
    )


def all_backends(root: str, audit_dir: str | None) -> dict[str, Backend]:
    """The four backends over ``root`` (without the jail if ``audit_dir`` is None)."""
    out = {"raw": raw_backend(root), "local": local_backend(root), "dirfs": dirfs_backend(root)}
    if audit_dir is not None:
        out["jail"] = jail_backend(make_jail(root, audit_dir))
    return out
