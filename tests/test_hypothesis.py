"""Hypothesis: arbitrary path strings into every kind of operation, with both resolvers.

The strings mix ``..``, ``/``, NUL, unicode and lone surrogates, very long runs, ``jail://``,
``~``, ``$HOME``, ``%2e``, backslashes and lookalikes with the names of a fixed tree that holds
symlinks leading outside (absolute, relative, through a directory, chained, looping), a FIFO and a
hard link. Every call must act inside the root or raise a JailError / OSError (a ValueError only
where fsspec's glob rejects a malformed pattern); no result holds outside bytes, sizes or inode
numbers; the outside tree never changes. The root is repaired after any call that changed it.
No example database is written (``database=None``): nothing outside temp dirs is touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RESOLVERS, snapshot
from jailfs import JailError, JailFileSystem

MARK = f"OUTSIDE-HYPO-{uuid.uuid4().hex}".encode()
OUTSIDE_SIZE = 6661
SECRET = MARK + b"h" * (OUTSIDE_SIZE - len(MARK))
DATA = b"hypothesis-data\n"

#: link name -> target ("{outside}" becomes the host path)
LINKS = {
    "l_abs": "{outside}/secret",
    "l_out": "../outside/secret",
    "l_dir": "../outside/dir",
    "a/l_climb": "../../outside/secret",
    "chain": "a/l_climb",
    "loop": "loop2",
    "loop2": "loop",
    "dangle": "../outside/newfile",
    "d": "../outside",
    "up": "..",
    "self": ".",
    "l_in": "file.txt",
}

NAMES = [
    "file.txt", "a", "b", "a/b", "a/b/c.txt", "fifo", "hl", "empty", "new", "new/deeper",
    *LINKS,
]  # fmt: skip

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ---------------------------------------------------------------------------------------------
# path strings

_specials = st.sampled_from(
    [
        "..", ".", "", "...", "~", "~root", "$HOME", "${HOME}", "%2e%2e", "%2f", "..\\..",
        "a\\..\\..", "\x00", "a\x00b", "\udcff", "\ud800x", "\uff0e\uff0e", "\u2025", "\u2024",
        ".\u200b.", "x" * 256, "y" * 255, "\n", " ", "*", "**", "?", "[a]", "jail:", "..\x00",
        "outside", "secret", "root", "root-evil", "é" * 128,
    ]
)  # fmt: skip
_chars = st.characters(exclude_categories=(), codec=None)
_component = st.one_of(
    st.sampled_from(NAMES),
    _specials,
    st.text(alphabet=st.sampled_from("./\\a~$%\x00é\udcff*"), max_size=6),
    st.text(alphabet=_chars, max_size=12),
)
_prefix = st.sampled_from(["", "", "", "/", "//", "./", "jail://", "jail::", "jail:///", "../"])
_suffix = st.sampled_from(["", "", "", "/", "/.", "/..", "//"])


@st.composite
def path_strings(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:  # anything at all
        return draw(st.text(alphabet=_chars, max_size=40))
    if kind == 1:  # very long
        unit = draw(st.sampled_from(["a/", "../", "x" * 100 + "/", "l_in/", "self/", "é/"]))
        return unit * draw(st.integers(40, 1400))
    parts = draw(st.lists(_component, min_size=1, max_size=7))
    return draw(_prefix) + "/".join(parts) + draw(_suffix)


# ---------------------------------------------------------------------------------------------
# the tree


@dataclass
class World:
    base: Path
    outside: Path
    root: Path
    local: Path
    inos: frozenset[int] = frozenset()
    pristine_outside: Any = None
    pristine_root: Any = None
    jails: dict[str, JailFileSystem] = field(default_factory=dict)


def _state(top: str, *, read: bool) -> tuple[Any, ...]:
    out: list[Any] = []
    stack = [(top, "")]
    while stack:
        full, rel = stack.pop()
        st_ = os.lstat(full)
        extra: Any = st_.st_ctime_ns if rel not in ("/hl", "/hostlinked") else None
        if stat.S_ISREG(st_.st_mode) and (read or extra is None):
            with open(full, "rb") as f:
                extra = (extra, hashlib.sha256(f.read()).digest())
        elif stat.S_ISDIR(st_.st_mode):
            stack.extend((os.path.join(full, n), f"{rel}/{n}") for n in os.listdir(full))
        out.append((rel, st_.st_mode, st_.st_ino, st_.st_size, st_.st_mtime_ns, extra))
    return tuple(sorted(out, key=lambda e: e[0]))


def outside_state(w: World) -> Any:
    return (_state(str(w.outside), read=False), sorted(os.listdir(w.base)))


def root_state(w: World) -> Any:
    return _state(str(w.root), read=True)


def build_root(w: World) -> None:
    r = w.root
    os.chmod(r, 0o755)
    for entry in os.scandir(r):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    (r / "a" / "b").mkdir(parents=True)
    (r / "empty").mkdir()
    (r / "file.txt").write_bytes(b"inside\n")
    (r / "a" / "b" / "c.txt").write_bytes(b"inside c\n")
    os.mkfifo(r / "fifo")
    os.link(w.outside / "hostlinked", r / "hl")
    for name, target in LINKS.items():
        os.symlink(target.replace("{outside}", str(w.outside)), r / name)
    w.pristine_root = root_state(w)


@pytest.fixture(autouse=True)
def _isolated_state(module_xdg_state: None) -> None:
    """Overrides conftest's per-test fixture: once per module here (see module_xdg_state)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("hypo")
    w = World(base, base / "outside", base / "root", tmp_path_factory.mktemp("hypo-local"))
    (w.outside / "dir").mkdir(parents=True)
    (w.outside / "secret").write_bytes(SECRET)
    (w.outside / "dir" / "inner").write_bytes(SECRET)
    (w.outside / "hostlinked").write_bytes(b"host hard link\n")
    os.mkfifo(w.outside / "fifo")
    (base / "root-evil").mkdir()
    (base / "root-evil" / "x").write_bytes(SECRET)
    w.root.mkdir()
    build_root(w)
    w.inos = frozenset(
        os.lstat(os.path.join(dp, n)).st_ino
        for top in (w.outside, base / "root-evil")
        for dp, ds, fs in os.walk(top)
        for n in ds + fs
        if n != "hostlinked"
    )
    w.pristine_outside = outside_state(w)
    first = (snapshot(w.outside), snapshot(base / "root-evil"))
    for kind in RESOLVERS:
        w.jails[kind] = JailFileSystem(
            w.root, resolver=kind, write=["**"], presets=(), audit=":memory:"
        )  # type: ignore[arg-type]
    yield w
    for fs in w.jails.values():
        fs.close()
    assert (snapshot(w.outside), snapshot(base / "root-evil")) == first


# ---------------------------------------------------------------------------------------------
# operations, by group: fn(fs, path, world)

Fn = Callable[[JailFileSystem, str, World], Any]


def _read_open(fs: JailFileSystem, p: str, w: World) -> bytes:
    with fs.open(p, "rb") as f:
        return bytes(f.read())


def _write_open(fs: JailFileSystem, p: str, w: World) -> None:
    with fs.open(p, "wb") as f:
        f.write(DATA)


def _get(fs: JailFileSystem, p: str, w: World) -> list[bytes]:
    dest = w.local / "dest"
    try:
        fs.get(p, str(dest), recursive=True)
        if dest.is_file():
            return [dest.read_bytes()]
        return [Path(dp, n).read_bytes() for dp, _, ns in os.walk(dest) for n in ns]
    finally:
        if dest.is_dir():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()


GROUPS: dict[str, dict[str, Fn]] = {
    "reads": {
        "cat_file": lambda fs, p, w: fs.cat_file(p),
        "cat": lambda fs, p, w: fs.cat(p),
        "head": lambda fs, p, w: fs.head(p, 64),
        "open-rb": _read_open,
        "read_text": lambda fs, p, w: fs.read_text(p),
        "info": lambda fs, p, w: fs.info(p),
        "exists": lambda fs, p, w: fs.exists(p),
        "isdir": lambda fs, p, w: fs.isdir(p),
        "islink": lambda fs, p, w: fs.islink(p),
        "size": lambda fs, p, w: fs.size(p),
        "checksum": lambda fs, p, w: fs.checksum(p),
        "get": _get,
    },
    "writes": {
        "pipe_file": lambda fs, p, w: fs.pipe_file(p, DATA),
        "write_text": lambda fs, p, w: fs.write_text(p, DATA.decode()),
        "open-wb": _write_open,
        "open-ab": lambda fs, p, w: fs.open(p, "ab").close(),
        "touch": lambda fs, p, w: fs.touch(p),
        "mkdir": lambda fs, p, w: fs.mkdir(p),
        "makedirs": lambda fs, p, w: fs.makedirs(p, exist_ok=True),
        "chmod": lambda fs, p, w: fs.chmod(p, 0o700),
        "put": lambda fs, p, w: fs.put(str(w.local / "src.bin"), p),
    },
    "deletes": {
        "rm_file": lambda fs, p, w: fs.rm_file(p),
        "rm": lambda fs, p, w: fs.rm(p),
        "rm-recursive": lambda fs, p, w: fs.rm(p, recursive=True),
        "rmdir": lambda fs, p, w: fs.rmdir(p),
    },
    "moves": {
        "mv-src": lambda fs, p, w: fs.mv(p, "moved"),
        "mv-dst": lambda fs, p, w: fs.mv("file.txt", p),
        "cp_file-src": lambda fs, p, w: fs.cp_file(p, "copied"),
        "cp_file-dst": lambda fs, p, w: fs.cp_file("file.txt", p),
        "copy-dir": lambda fs, p, w: fs.copy("a", p, recursive=True),
    },
    "listings": {
        "ls": lambda fs, p, w: fs.ls(p),
        "find": lambda fs, p, w: fs.find(p, withdirs=True, detail=True),
        "walk": lambda fs, p, w: list(fs.walk(p, detail=True)),
        "glob": lambda fs, p, w: fs.glob(p),
        "glob-children": lambda fs, p, w: fs.glob(p.rstrip("/") + "/*"),
        "du": lambda fs, p, w: fs.du(p, total=False),
        "expand_path": lambda fs, p, w: fs.expand_path(p, recursive=True),
        "tree": lambda fs, p, w: fs.tree(p),
    },
}


def _leaks(value: Any, inos: frozenset[int]) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "ino" and item in inos:
                yield f"outside inode {item}"
            if key == "size" and item == OUTSIDE_SIZE:
                yield "outside size"
            yield from _leaks(item, inos)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaks(item, inos)
    elif isinstance(value, int) and not isinstance(value, bool) and value == OUTSIDE_SIZE:
        yield "outside size"


def check(w: World, kind: str, label: str, fn: Fn, path: str) -> None:
    fs = w.jails[kind]
    (w.local / "src.bin").write_bytes(DATA)
    try:
        result = fn(fs, path, w)
    except (JailError, OSError) as exc:
        assert MARK.decode() not in f"{exc} {exc!r}", f"{label}: outside content in the error"
    else:
        text = repr(result)
        assert MARK.decode() not in text, f"{label}({path!r}) returned outside content"
        leaks = list(_leaks(result, w.inos))
        assert not leaks, f"{label}({path!r}) returned outside stat data: {leaks}"
    after = outside_state(w)
    assert after == w.pristine_outside, f"{label}({path!r}) changed the outside"
    if root_state(w) != w.pristine_root:
        build_root(w)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("kind", RESOLVERS)
def test_arbitrary_paths(world: World, kind: str, group: str) -> None:
    ops = GROUPS[group]

    @SETTINGS
    @given(path=path_strings(), label=st.sampled_from(sorted(ops)))
    def run(path: str, label: str) -> None:
        check(world, kind, label, ops[label], path)

    run()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", RESOLVERS)
def test_arbitrary_rename_pairs(world: World, kind: str) -> None:
    """Both sides of mv / cp_file chosen by the adversary."""

    @SETTINGS
    @given(src=path_strings(), dst=path_strings(), op=st.sampled_from(["mv", "cp_file", "copy"]))
    def run(src: str, dst: str, op: str) -> None:
        def fn(fs: JailFileSystem, p: str, w: World) -> Any:
            return getattr(fs, op)(src, dst)

        check(world, kind, op, fn, src)

    run()
