"""Deterministic trees built under a temporary directory.

A *project tree* of n files holds 20 files per directory in n/20 directories, two levels deep
(``pkgNN/subNN/``; top-level directories hold files too), with a mix of extensions (40 % ``.py``).
The *fixture tree* holds the files of the single-file workloads and the depth chain.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

FILES_PER_DIR = 20
EXTENSIONS = (".py", ".md", ".py", ".txt", ".json")

#: the single-file fixtures (paths relative to the fixture root)
INFO_FILE = "src/pkg/mod/target.py"  # three directories deep
CAT_FILE = "src/pkg/small.bin"  # 4 KiB
PIPE_FILE = "src/pkg/out.bin"  # rewritten with 4 KiB
BIG_FILE = "assets/big.bin"  # 1 MiB
LS_DIR = "src/listing"  # 100 entries
LS_ENTRIES = 100
MAX_DEPTH = 32
SMALL = 4 * 1024
BIG = 1024 * 1024


def depth_file(depth: int) -> str:
    """The file at ``depth`` path components: ``f1.txt``, ``d1/f2.txt``, ``d1/d2/f3.txt`` ..."""
    return "/".join([f"d{i}" for i in range(1, depth)] + [f"f{depth}.txt"])


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def source_text(i: int) -> bytes:
    """About 400 bytes of Python-looking text; one file in 7 has a TODO, one in 11 an Error."""
    lines = [
        f'"""Module {i}: generated for the jailfs benchmarks."""',
        "",
        "import os",
        "",
        f"VALUE_{i} = {i * 7 % 1000}",
        "",
        "",
        f"def function_{i}(x: int) -> int:",
        f"    return x * {i % 13} + VALUE_{i}",
        "",
        "",
        f"class Thing{i}:",
        "    def run(self) -> str:",
        f"        return os.path.join('a', '{i}')",
    ]
    if i % 7 == 0:
        lines.append(f"# TODO: revisit thing {i}")
    if i % 11 == 0:
        lines.append(f"class Thing{i}Error(Exception):\n    pass")
    lines.append("# edit: 0")
    return ("\n".join(lines) + "\n").encode()


def _shape(n_dirs: int) -> tuple[int, int]:
    """(top-level dirs, subdirs per top) with top * (1 + sub) == n_dirs, top near sqrt."""
    for top in range(math.isqrt(n_dirs), 0, -1):
        if n_dirs % top == 0 and n_dirs // top >= 1:
            return top, n_dirs // top - 1
    return 1, n_dirs - 1


@dataclass(frozen=True)
class ProjectTree:
    root: str
    n_files: int
    n_dirs: int
    n_py: int


def build_project(root: str, n_files: int, *, content: bool = True) -> ProjectTree:
    """``n_files`` files in ``n_files / 20`` directories under ``root`` (created); without
    ``content`` the files are empty (enough for walks, and much faster to create and remove)."""
    n_dirs = max(1, n_files // FILES_PER_DIR)
    top, sub = _shape(n_dirs)
    os.makedirs(root, exist_ok=True)
    dirs: list[str] = []
    for t in range(top):
        dirs.append(f"pkg{t:02d}")
        dirs.extend(f"pkg{t:02d}/sub{s:02d}" for s in range(sub))
    count = 0
    n_py = 0
    for d in dirs:
        os.mkdir(os.path.join(root, d))
        for k in range(FILES_PER_DIR):
            if count == n_files:
                break
            ext = EXTENSIONS[count % len(EXTENSIONS)]
            n_py += ext == ".py"
            data = source_text(count) if content else b""
            _write(os.path.join(root, d, f"file{k:02d}{ext}"), data)
            count += 1
    return ProjectTree(root=root, n_files=count, n_dirs=len(dirs), n_py=n_py)


def build_fixtures(root: str) -> None:
    """The single-file fixtures, the 100-entry directory and the depth chain."""
    for rel, data in (
        (INFO_FILE, source_text(1)),
        (CAT_FILE, bytes(range(256)) * (SMALL // 256)),
        (PIPE_FILE, b"\0" * SMALL),
        (BIG_FILE, os.urandom(BIG)),
    ):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write(path, data)
    listing = os.path.join(root, LS_DIR)
    os.makedirs(listing, exist_ok=True)
    for k in range(LS_ENTRIES):
        _write(os.path.join(listing, f"entry{k:03d}.txt"), source_text(k))
    for depth in range(1, MAX_DEPTH + 1):
        path = os.path.join(root, depth_file(depth))
        os.makedirs(os.path.dirname(path) or root, exist_ok=True)
        _write(path, source_text(depth))
