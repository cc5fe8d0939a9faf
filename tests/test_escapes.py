"""The escape table: every case below is run against EVERY public operation, with both resolvers.

Layout (one per module, under a temp dir ``base``)::

    base/outside/       files holding MARK (a unique byte string), a subdir, a FIFO, a link, and
                        ``hostlinked``, hard-linked into the root (its own marker: the design says
                        reads through host-made hard links are not refused; writes are)
    base/root-evil/     the sibling-prefix dir (``root`` + ``-evil``), also holding MARK
    base/root/          the jail root: normal content plus planted attack entries

The root is repaired (each changed top-level entry rebuilt) whenever a call changed it, so every
call starts from the same tree. Each (resolver, operation, case) asserts, for every method of
the operation's group (an operation groups a method with its aliases and variants):

(a) the call acted inside the root, or raised a JailError / OSError;
(b) no outside content (MARK), no outside size, mtime or inode number appears in the returned
    value, the error, or anything ``get`` wrote locally; no host path appears unless the case
    itself named one;
(c) the outside tree, the sibling-prefix dir and the base dir are byte-, mtime- and mode-identical
    (a fast check per call; :func:`conftest.snapshot` at the start and end of the module), and no
    symlink the call created inside the root points outside (read from the link's real directory);
(d) nothing hangs (FIFOs inside and outside): a per-test timeout.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import socket
import stat
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import RESOLVERS, snapshot
from jailfs import JailError, JailFileSystem

MARK = f"OUTSIDE-SECRET-{uuid.uuid4().hex}".encode()
MARK_S = MARK.decode()
HL_MARK = f"HOST-HARDLINKED-{uuid.uuid4().hex}".encode()
#: every outside regular file is this long and has this mtime: a leaked stat shows as these
OUTSIDE_SIZE = 7777
OUTSIDE_MTIME_NS = 1_000_000_007_123_456_789
OUTSIDE_MTIME = OUTSIDE_MTIME_NS / 1e9
SECRET = MARK + b"x" * (OUTSIDE_SIZE - len(MARK))
DATA = b"jail-data\n"

# ---------------------------------------------------------------------------------------------
# the tree

#: link name -> target; "{outside}" etc. are replaced by host paths
LINKS: dict[str, str] = {
    "l_abs_file": "{outside}/secret",
    "l_abs_dir": "{outside}/dir",
    "l_rel_file": "../outside/secret",
    "l_rel_dir": "../outside/dir",
    "a/l_climb": "../../outside/secret",
    "l_long_climb": "a/b/../../../outside/secret",
    "chain1": "chain2",
    "chain2": "a/chain3",
    "a/chain3": "../../outside/secret",
    "loop_a": "loop_b",
    "loop_b": "loop_a",
    "self_loop": "self_loop",
    "dangle_out": "../outside/newfile",
    "dangle_out_dir": "../outside/newdir",
    "dangle_abs": "{outside}/newfile_abs",
    "d": "../outside",
    "parent_link": "..",
    "dot_link": ".",
    "a/up": "..",
    "sub/l_to_d": "../d",
    "l_evil": "../root-evil",
    "l_evil_abs": "{evil}/x",
    "l_fifo_out": "../outside/fifo_out",
    "l_out_link": "../outside/l_out",
    "l_proc": "/proc/self/root",
    "l_inside": "file.txt",
    "l_inside_dir": "a/b",
    "l_dangle_in": "new_inside",
}

HOST_KEYS = ("{outside}", "{root}", "{evil}", "{base}")

#: the two names of the one inode shared by the root and the outside
HARD_LINKED = ("hostlinked", "hardlink")

State = tuple[tuple[str, int, int, int, int, str], ...]


@dataclass
class World:
    base: Path
    outside: Path
    evil: Path
    root: Path
    local: Path  # the trusted local side of get/put: outside base, so outside the root
    outside_inos: frozenset[int] = frozenset()
    pristine_outside: Any = None
    pristine_top: dict[str, State] = field(default_factory=dict)
    pristine_quick: Any = None
    first_snapshots: Any = None
    planted_texts: frozenset[str] = frozenset()
    jails: dict[tuple[str, bool], JailFileSystem] = field(default_factory=dict)
    ctx: Ctx | None = None

    def expand(self, text: str) -> str:
        return (
            text.replace("{outside}", str(self.outside))
            .replace("{evil}", str(self.evil))
            .replace("{root}", str(self.root))
            .replace("{base}", str(self.base))
        )


def entry_state(path: str, rel: str = "", *, read: bool = True) -> State:
    """A fingerprint of one entry and everything below it (links not followed): type and mode,
    inode, size, mtime, ctime (any change to an inode moves it: it is fine-grained once it has
    been read, and cannot be set back), and with ``read`` a hash of each regular file's bytes.
    The hard-linked file is always read, as its ctime moves with links made elsewhere."""
    out: list[tuple[str, int, int, int, int, str]] = []
    stack = [(path, rel)]
    while stack:
        full, name = stack.pop()
        st = os.lstat(full)
        extra = str(st.st_ctime_ns)
        if stat.S_ISREG(st.st_mode) and (read or name.endswith(HARD_LINKED)):
            with open(full, "rb") as f:
                extra = hashlib.sha256(f.read()).hexdigest()
            if not name.endswith(HARD_LINKED):
                extra += f" {st.st_ctime_ns}"
        elif stat.S_ISDIR(st.st_mode):
            stack.extend((os.path.join(full, n), f"{name}/{n}") for n in sorted(os.listdir(full)))
        out.append((name, st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, extra))
    return tuple(out)


def outside_state(w: World) -> Any:
    """Everything beside the root that the jail must never change."""
    return (
        entry_state(str(w.outside), read=False),
        entry_state(str(w.evil), read=False),
        sorted(os.listdir(w.base)),
        os.lstat(w.base).st_mtime_ns,
    )


def _write_outside(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(OUTSIDE_MTIME_NS, OUTSIDE_MTIME_NS), follow_symlinks=False)


def build_outside(w: World) -> None:
    for top in (w.outside, w.evil):
        if top.exists():
            shutil.rmtree(top)
    (w.outside / "dir" / "sub").mkdir(parents=True)
    _write_outside(w.outside / "secret", SECRET)
    _write_outside(w.outside / "dir" / "secret2", SECRET)
    _write_outside(w.outside / "dir" / "sub" / "deep", SECRET)
    (w.outside / "hostlinked").write_bytes(HL_MARK)
    os.mkfifo(w.outside / "fifo_out")
    os.symlink("secret", w.outside / "l_out")
    w.evil.mkdir()
    _write_outside(w.evil / "x", SECRET)
    for d in (w.outside / "dir" / "sub", w.outside / "dir", w.evil, w.outside):
        os.utime(d, ns=(OUTSIDE_MTIME_NS, OUTSIDE_MTIME_NS))
    w.outside_inos = frozenset(
        os.lstat(os.path.join(dp, n)).st_ino
        for top in (w.outside, w.evil)
        for dp, ds, fs in os.walk(top)
        for n in ds + fs
        if n != "hostlinked"
    ) | {os.lstat(w.outside).st_ino, os.lstat(w.evil).st_ino, os.lstat(w.base).st_ino}
    w.pristine_outside = outside_state(w)


def rebuild_outside(w: World) -> None:
    """After a failure changed the outside: build it again, relink the root's hard link."""
    build_outside(w)
    os.unlink(w.root / "hardlink")
    make_top(w, "hardlink")
    w.pristine_quick = quick_state(w)
    w.first_snapshots = (snapshot(w.outside), snapshot(w.evil))


def _mk_a(w: World, p: Path) -> None:
    (p / "b").mkdir(parents=True)
    (p / "b" / "c.txt").write_bytes(b"inside c\n")
    os.mkfifo(p / "fifo2")


def _mk_sub(w: World, p: Path) -> None:
    p.mkdir()
    (p / "inner.txt").write_bytes(b"inner\n")


def _mk_sock(w: World, p: Path) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(p))
    finally:
        sock.close()


#: top-level entry of the root -> how to make it (links below a top-level dir are added after)
TOP: dict[str, Callable[[World, Path], None]] = {
    "a": _mk_a,
    "sub": _mk_sub,
    "empty": lambda w, p: p.mkdir(),
    "file.txt": lambda w, p: p.write_bytes(b"inside file\n"),
    "fifo": lambda w, p: os.mkfifo(p),
    "sock": _mk_sock,
    "hardlink": lambda w, p: os.link(w.outside / "hostlinked", p),
}
for _link in LINKS:
    TOP.setdefault(_link.split("/")[0], lambda w, p: None)


def make_top(w: World, name: str) -> None:
    TOP[name](w, w.root / name)
    for link, target in LINKS.items():
        if link == name or link.startswith(name + "/"):
            os.symlink(w.expand(target), w.root / link)
    w.pristine_top[name] = entry_state(str(w.root / name), name)


def _remove(full: str) -> None:
    if os.path.isdir(full) and not os.path.islink(full):
        shutil.rmtree(full)
    else:
        os.unlink(full)


def repair_root(w: World) -> list[str]:
    """Put the root back as built, rebuilding only what changed; return the new escaping links
    found on the way (symlinks whose text the tree did not plant and that point outside)."""
    bad: list[str] = []
    root = str(w.root)
    present = set(os.listdir(root))
    for name in sorted(present):
        full = os.path.join(root, name)
        if name in w.pristine_top and entry_state(full, name) == w.pristine_top[name]:
            continue
        bad.extend(_escaping_links(w, full))
        _remove(full)
    for name in TOP:
        if not os.path.lexists(os.path.join(root, name)):
            make_top(w, name)
    os.chmod(root, 0o755)
    w.pristine_quick = quick_state(w)
    return bad


def quick_state(w: World) -> Any:
    """A cheap fingerprint of the root: each directory's names and stamps, each regular file's
    bytes, each special file's stamps (links cannot change in place: they are replaced, which
    changes their directory). Timestamps are fine-grained once read (multigrain ctime)."""
    out: list[Any] = []
    for rel in QUICK_DIRS:
        full = os.path.join(w.root, rel)
        try:
            st = os.lstat(full)
            names = sorted(os.listdir(full)) if stat.S_ISDIR(st.st_mode) else None
        except OSError:
            return None
        out.append((rel, st.st_ino, st.st_mode, st.st_mtime_ns, st.st_ctime_ns, names))
    for rel in QUICK_OTHERS:
        full = os.path.join(w.root, rel)
        try:
            st = os.lstat(full)
        except OSError:
            return None
        data = b""
        if stat.S_ISREG(st.st_mode):
            with open(full, "rb") as f:
                data = f.read()
        out.append((rel, st.st_ino, st.st_mode, st.st_mtime_ns, st.st_ctime_ns, data))
    return out


QUICK_DIRS = ("", "a", "a/b", "sub", "empty")
QUICK_OTHERS = (
    "file.txt", "a/b/c.txt", "sub/inner.txt", "hardlink", "fifo", "a/fifo2", "sock",
)  # fmt: skip


def root_dirty(w: World) -> bool:
    return quick_state(w) != w.pristine_quick


def _escaping_links(w: World, top: str) -> Iterator[str]:
    root = os.path.realpath(w.root)
    entries = [top] if not os.path.isdir(top) or os.path.islink(top) else []
    if not entries:
        entries = [top] + [os.path.join(dp, n) for dp, ds, fs in os.walk(top) for n in ds + fs]
    for full in entries:
        if not os.path.islink(full):
            continue
        text = os.readlink(full)
        if text in w.planted_texts:
            continue
        where = os.path.normpath(os.path.join(os.path.realpath(os.path.dirname(full)), text))
        if os.path.isabs(text) or not (where == root or where.startswith(root + os.sep)):
            yield f"{os.path.relpath(full, w.root)} -> {text!r}"


@pytest.fixture(autouse=True)
def _isolated_state(module_xdg_state: None) -> None:
    """Overrides conftest's per-test fixture: once per module here (see module_xdg_state)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("esc")
    w = World(
        base=base,
        outside=base / "outside",
        evil=base / "root-evil",
        root=base / "root",
        local=tmp_path_factory.mktemp("esc-local"),
    )
    w.root.mkdir()
    build_outside(w)
    for name in TOP:
        make_top(w, name)
    w.pristine_quick = quick_state(w)
    w.planted_texts = frozenset(w.expand(t) for t in LINKS.values())
    w.first_snapshots = (snapshot(w.outside), snapshot(w.evil))
    w.ctx = Ctx(w.local)
    for kind in RESOLVERS:
        for symlinks in (False, True):
            w.jails[kind, symlinks] = JailFileSystem(
                w.root,
                resolver=kind,  # type: ignore[arg-type]
                write=["**"],
                presets=(),
                audit=":memory:",
                allow_symlink_creation=symlinks,
            )
    yield w
    for fs in w.jails.values():
        fs.close()
    # the fast per-call check compared everything; the shared helper agrees at the end
    assert (snapshot(w.outside), snapshot(w.evil)) == w.first_snapshots


# ---------------------------------------------------------------------------------------------
# the cases: (id, path text); "{outside}", "{root}", "{evil}", "{base}" become host paths

CASES: list[tuple[str, str]] = [
    # lexical climbing
    ("dotdot", ".."),
    ("dotdot-x", "../x"),
    ("dotdot-secret", "../outside/secret"),
    ("a-up2", "a/../../x"),
    ("ab-up3", "a/b/../../../x"),
    ("ab-up4-secret", "a/b/../../../../outside/secret"),
    ("slash-dotdot", "/.."),
    ("slash-dotdot-secret", "/../outside/secret"),
    ("dot-dotdot", "./../x"),
    ("jail-dotdot", "jail://../outside/secret"),
    ("jailcolon-dotdot", "jail::../outside/secret"),
    ("dotdot-trailing", "../"),
    ("file-up2", "file.txt/../../x"),
    ("back-in", "../root/file.txt"),
    ("sibling-prefix", "../root-evil/x"),
    # absolute host paths (lexically, paths inside the jail)
    ("abs-secret", "{outside}/secret"),
    ("abs-dir", "{outside}/dir"),
    ("abs-root-up", "{root}/../outside/secret"),
    ("abs-evil", "{evil}/x"),
    ("jail-abs", "jail://{outside}/secret"),
    # symlinks at every position
    ("l-abs-file", "l_abs_file"),
    ("l-abs-dir-child", "l_abs_dir/secret2"),
    ("l-rel-file", "l_rel_file"),
    ("l-rel-dir", "l_rel_dir"),
    ("l-rel-dir-child", "l_rel_dir/secret2"),
    ("l-rel-dir-deep", "l_rel_dir/sub/deep"),
    ("l-rel-dir-new", "l_rel_dir/newchild"),
    ("l-climb", "a/l_climb"),
    ("l-long-climb", "l_long_climb"),
    ("chain", "chain1"),
    ("loop", "loop_a"),
    ("loop-child", "loop_a/x"),
    ("self-loop", "self_loop"),
    ("dangle-out", "dangle_out"),
    ("dangle-out-dir-child", "dangle_out_dir/newchild"),
    ("dangle-abs", "dangle_abs"),
    ("mid-link", "d/secret"),
    ("mid-link-deep", "d/dir/sub/deep"),
    ("mid-link-new", "d/newfile2"),
    ("mid-link-itself", "d"),
    ("parent-link", "parent_link"),
    ("parent-link-secret", "parent_link/outside/secret"),
    ("up-then-out", "a/up/l_rel_file"),
    ("dot-link-then-out", "dot_link/l_rel_dir/secret2"),
    ("link-to-link-dir", "sub/l_to_d/secret"),
    ("evil-link", "l_evil/x"),
    ("evil-abs-link", "l_evil_abs"),
    ("fifo-out-link", "l_fifo_out"),
    ("outside-link-link", "l_out_link"),
    ("proc-magic", "l_proc/etc/passwd"),
    ("many-hops", "dot_link/" * 45 + "file.txt"),
    # trailing slashes
    ("l-rel-dir-slash", "l_rel_dir/"),
    ("l-rel-dir-child-slash", "l_rel_dir/secret2/"),
    ("l-abs-file-slash", "l_abs_file/"),
    ("mid-link-slash", "d/"),
    # special files
    ("fifo", "fifo"),
    ("fifo-slash", "fifo/"),
    ("socket", "sock"),
    ("hardlink", "hardlink"),
    # invalid input
    ("nul", "a\x00b"),
    ("nul-in-link", "l_rel_dir\x00/secret2"),
    ("long-name", "x" * 300),
    ("long-name-nested", "a/" + "y" * 256),
    ("long-path", "d/" * 2500),
    ("surrogate", "\udcff"),
    # literal characters: no expansion, no decoding
    ("tilde", "~"),
    ("home-var", "$HOME/.ssh"),
    ("pct-dotdot", "%2e%2e%2foutside%2fsecret"),
    ("backslash-up", "..\\..\\outside\\secret"),
    # unicode lookalikes of "." and "/"
    ("fullwidth-dots", "\uff0e\uff0e/outside/secret"),
    ("two-dot-leader", "\u2025/outside/secret"),
    ("fraction-slash", "..\u2044outside\u2044secret"),
    # glob characters (expanded by rm, cat, copy, get, expand_path)
    ("glob-star", "*"),
    ("glob-links", "l_*"),
    ("glob-child", "l_*/secret*"),
    # benign: acts inside
    ("root", ""),
    ("file", "file.txt"),
    ("up-inside", "a/up/file.txt"),
    ("dangle-inside", "l_dangle_in"),
]

# ---------------------------------------------------------------------------------------------
# the operations: name -> the methods it calls, each fn(fs, path, ctx); "symlink" runs on a
# jail with symlink creation on


class Ctx:
    """The trusted local side of get/put (outside ``base``): sources made once, and a
    destination that each call starts without and that is read and removed after it."""

    def __init__(self, local: Path) -> None:
        self.src_file = str(local / "src.bin")
        self.src_dir = str(local / "srcdir")
        self.dest = str(local / "dest")
        if not os.path.exists(self.src_file):
            (local / "src.bin").write_bytes(DATA)
            (local / "srcdir" / "inner").mkdir(parents=True)
            (local / "srcdir" / "inner" / "f.bin").write_bytes(DATA)


def _read(fs: JailFileSystem, p: str, mode: str) -> Any:
    with fs.open(p, mode) as f:
        return f.read()


def _write_file(fs: JailFileSystem, p: str, mode: str) -> None:
    with fs.open(p, mode) as f:
        f.write(DATA)


def _rw(fs: JailFileSystem, p: str) -> bytes:
    with fs.open(p, "r+b") as f:
        data = f.read()
        f.seek(0)
        f.write(DATA)
        return bytes(data)


Fn = Callable[[JailFileSystem, str, Ctx], Any]

OPS: dict[str, dict[str, Fn]] = {
    "ls": {
        "ls": lambda fs, p, c: fs.ls(p),
        "ls-names": lambda fs, p, c: fs.ls(p, detail=False),
        "listdir": lambda fs, p, c: fs.listdir(p),
    },
    "info": {"info": lambda fs, p, c: fs.info(p), "stat": lambda fs, p, c: fs.stat(p)},
    "exists": {"exists": lambda fs, p, c: fs.exists(p)},
    "lexists": {"lexists": lambda fs, p, c: fs.lexists(p)},
    "isdir": {"isdir": lambda fs, p, c: fs.isdir(p)},
    "isfile": {"isfile": lambda fs, p, c: fs.isfile(p)},
    "islink": {"islink": lambda fs, p, c: fs.islink(p)},
    "cat_file": {
        "cat_file": lambda fs, p, c: fs.cat_file(p),
        "cat_file-range": lambda fs, p, c: fs.cat_file(p, start=1, end=-1),
    },
    "cat": {
        "cat": lambda fs, p, c: fs.cat(p),
        "cat-recursive": lambda fs, p, c: fs.cat(p, recursive=True, on_error="omit"),
    },
    "cat_ranges": {"cat_ranges": lambda fs, p, c: fs.cat_ranges([p], [0], [40])},
    "head": {"head": lambda fs, p, c: fs.head(p, 40)},
    "tail": {"tail": lambda fs, p, c: fs.tail(p, 40)},
    "read_text": {"read_text": lambda fs, p, c: fs.read_text(p)},
    "read_bytes": {"read_bytes": lambda fs, p, c: fs.read_bytes(p)},
    "read_block": {"read_block": lambda fs, p, c: fs.read_block(p, 0, 40)},
    "open-rb": {"open-rb": lambda fs, p, c: _read(fs, p, "rb")},
    "open-r": {"open-r": lambda fs, p, c: _read(fs, p, "r")},
    "open-wb": {"open-wb": lambda fs, p, c: _write_file(fs, p, "wb")},
    "open-ab": {"open-ab": lambda fs, p, c: _write_file(fs, p, "ab")},
    "open-xb": {"open-xb": lambda fs, p, c: _write_file(fs, p, "xb")},
    "open-r+b": {"open-r+b": lambda fs, p, c: _rw(fs, p)},
    "pipe_file": {"pipe_file": lambda fs, p, c: fs.pipe_file(p, DATA)},
    "pipe": {"pipe": lambda fs, p, c: fs.pipe(p, DATA)},
    "write_text": {"write_text": lambda fs, p, c: fs.write_text(p, DATA.decode())},
    "write_bytes": {"write_bytes": lambda fs, p, c: fs.write_bytes(p, DATA)},
    "touch": {
        "touch": lambda fs, p, c: fs.touch(p),
        "touch-keep": lambda fs, p, c: fs.touch(p, truncate=False),
    },
    "mkdir": {
        "mkdir": lambda fs, p, c: fs.mkdir(p),
        "mkdir-noparents": lambda fs, p, c: fs.mkdir(p, create_parents=False),
        "makedir": lambda fs, p, c: fs.makedir(p),
    },
    "makedirs": {
        "makedirs": lambda fs, p, c: fs.makedirs(p, exist_ok=True),
        "mkdirs": lambda fs, p, c: fs.mkdirs(p, exist_ok=True),
    },
    "rmdir": {"rmdir": lambda fs, p, c: fs.rmdir(p)},
    "rm_file": {"rm_file": lambda fs, p, c: fs.rm_file(p)},
    "rm": {
        "rm": lambda fs, p, c: fs.rm(p),
        "rm-recursive": lambda fs, p, c: fs.rm(p, recursive=True),
        "delete": lambda fs, p, c: fs.delete(p, recursive=True),
    },
    "cp_file-src": {"cp_file-src": lambda fs, p, c: fs.cp_file(p, "copied")},
    "cp_file-dst": {"cp_file-dst": lambda fs, p, c: fs.cp_file("file.txt", p)},
    "copy-src": {
        "copy-src": lambda fs, p, c: fs.copy(p, "copied", recursive=True),
        "cp-src": lambda fs, p, c: fs.cp(p, "copied"),
    },
    "copy-dst": {
        "copy-dst": lambda fs, p, c: fs.copy("file.txt", p),
        "copy-dir-dst": lambda fs, p, c: fs.copy("a", p, recursive=True),
        "cp-dst": lambda fs, p, c: fs.cp("sub/inner.txt", p),
    },
    "mv-src": {
        "mv-src": lambda fs, p, c: fs.mv(p, "moved"),
        "move-src": lambda fs, p, c: fs.move(p, "moved"),
    },
    "mv-dst": {
        "mv-dst": lambda fs, p, c: fs.mv("file.txt", p),
        "mv-dir-dst": lambda fs, p, c: fs.mv("sub", p, recursive=True),
        "rename-dst": lambda fs, p, c: fs.rename("file.txt", p),
    },
    "find": {
        "find": lambda fs, p, c: fs.find(p),
        "find-detail": lambda fs, p, c: fs.find(p, withdirs=True, detail=True),
    },
    "walk": {
        "walk": lambda fs, p, c: list(fs.walk(p)),
        "walk-detail": lambda fs, p, c: list(fs.walk(p, detail=True)),
    },
    "glob": {
        "glob-children": lambda fs, p, c: fs.glob(p.rstrip("/") + "/*"),
        "glob-prefix": lambda fs, p, c: fs.glob(p + "*"),
        "glob-recursive": lambda fs, p, c: fs.glob(p.rstrip("/") + "/**", detail=True),
    },
    "du": {
        "du": lambda fs, p, c: fs.du(p, total=False, withdirs=True),
        "disk_usage": lambda fs, p, c: fs.disk_usage(p),
    },
    "size": {"size": lambda fs, p, c: fs.size(p), "sizes": lambda fs, p, c: fs.sizes([p])},
    "checksum": {"checksum": lambda fs, p, c: fs.checksum(p)},
    "ukey": {"ukey": lambda fs, p, c: fs.ukey(p)},
    "created": {"created": lambda fs, p, c: fs.created(p)},
    "modified": {"modified": lambda fs, p, c: fs.modified(p)},
    "expand_path": {
        "expand_path": lambda fs, p, c: fs.expand_path(p),
        "expand_path-recursive": lambda fs, p, c: fs.expand_path(p, recursive=True),
    },
    "tree": {"tree": lambda fs, p, c: fs.tree(p, display_size=True)},
    "get": {
        "get": lambda fs, p, c: fs.get(p, c.dest, recursive=True),
        "get_file": lambda fs, p, c: fs.get_file(p, c.dest),
        "download": lambda fs, p, c: fs.download(p, c.dest),
    },
    "put": {
        "put": lambda fs, p, c: fs.put(c.src_file, p),
        "put-recursive": lambda fs, p, c: fs.put(c.src_dir, p, recursive=True),
        "put_file": lambda fs, p, c: fs.put_file(c.src_file, p),
        "upload": lambda fs, p, c: fs.upload(c.src_file, p),
    },
    "chmod": {"chmod": lambda fs, p, c: fs.chmod(p, 0o700)},
    "explain": {"explain": lambda fs, p, c: fs.explain("read", p)},
    "symlink": {
        "symlink-at": lambda fs, p, c: fs.symlink("file.txt", p),
        "symlink-to": lambda fs, p, c: fs.symlink(p, "newlink"),
        # the link is made through a/up -> "..": in the root itself, not in a/
        "symlink-to-via-up": lambda fs, p, c: fs.symlink(p, "a/up/newlink"),
    },
}

#: public methods of JailFileSystem the operations above call
COVERED = frozenset(
    {
        "ls", "listdir", "info", "stat", "exists", "lexists", "isdir", "isfile", "islink",
        "cat_file", "cat", "cat_ranges", "head", "tail", "read_text", "read_bytes",
        "read_block", "open", "pipe_file", "pipe", "write_text", "write_bytes", "touch",
        "mkdir", "makedirs", "makedir", "mkdirs", "rmdir", "rm_file", "rm", "delete",
        "cp_file", "copy", "cp", "mv", "move", "rename", "find", "walk", "glob", "du",
        "disk_usage", "size", "sizes", "checksum", "ukey", "created", "modified",
        "expand_path", "tree", "get", "get_file", "download", "put", "put_file", "upload",
        "chmod", "explain", "symlink",
    }
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# the checks


def _leaks(value: Any, inos: frozenset[int], seen: set[int] | None = None) -> Iterator[str]:
    """Outside stat data found in a returned structure (sizes, mtimes, inode numbers)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "ino" and item in inos:
                yield f"an outside inode number ({key!r}: {item})"
            yield from _leaks(item, inos, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _leaks(item, inos, seen)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int | float):
        if value == OUTSIDE_SIZE:
            yield f"an outside file size ({value})"
        if abs(value - OUTSIDE_MTIME) < 1:
            yield f"an outside mtime ({value})"
    elif isinstance(value, dt.datetime) and abs(value.timestamp() - OUTSIDE_MTIME) < 1:
        yield f"an outside mtime ({value})"


def _check_call(
    w: World, label: str, fn: Fn, fs: JailFileSystem, path: str, names_host: bool
) -> list[str]:
    problems: list[str] = []
    ctx = w.ctx
    assert ctx is not None
    host = str(w.base)
    try:
        result = fn(fs, path, ctx)
    except Exception as exc:
        if not isinstance(exc, JailError | OSError):
            problems.append(f"raised {type(exc).__name__}: {exc}")
        text = f"{exc!s} {exc!r} {getattr(exc, 'filename', '')!r}"
        if MARK_S in text:
            problems.append(f"outside content in the error ({type(exc).__name__})")
        if not names_host and host in text:
            problems.append(f"a host path in the error: {text[:300]}")
    else:
        text = repr(result)
        if MARK_S in text or (isinstance(result, bytes) and MARK in result):
            problems.append("outside content in the result")
        problems.extend(_leaks(result, w.outside_inos))
        if not names_host and host in text:
            problems.append(f"a host path in the result: {text[:300]}")
    if os.path.lexists(ctx.dest):
        written = [ctx.dest] if not os.path.isdir(ctx.dest) else []
        written += [os.path.join(dp, n) for dp, _, files in os.walk(ctx.dest) for n in files]
        for f in written:
            if MARK in Path(f).read_bytes():
                problems.append(f"outside content written locally to {f}")
        _remove(ctx.dest)
    after = outside_state(w)
    if after != w.pristine_outside:
        problems.append(f"the outside changed: {_diff(w.pristine_outside, after)}")
        rebuild_outside(w)  # so that the next tests start clean
    if root_dirty(w):
        problems.extend(f"made a symlink that points outside: {b}" for b in repair_root(w))
    return problems


def _diff(before: Any, after: Any) -> str:
    out: list[str] = []
    for b, a in zip(before, after, strict=True):
        if b == a:
            continue
        if isinstance(b, tuple) and b and isinstance(b[0], tuple):
            bd = {e[0]: e[1:] for e in b}
            ad = {e[0]: e[1:] for e in a}
            out.extend(
                f"{k}: {bd.get(k)} -> {ad.get(k)}"
                for k in sorted(set(bd) | set(ad))
                if bd.get(k) != ad.get(k)
            )
        else:
            out.append(f"{b!r} -> {a!r}")
    return "; ".join(out)[:2000]


def _params() -> Iterator[Any]:
    for op in OPS:
        for case_id, case in CASES:
            yield pytest.param(op, case, id=f"{op}-{case_id}")


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("op", "case"), list(_params()))
@pytest.mark.parametrize("kind", RESOLVERS)
def test_escape(world: World, kind: str, op: str, case: str) -> None:
    fs = world.jails[kind, op == "symlink"]
    path = world.expand(case)
    names_host = any(h in case for h in HOST_KEYS)
    problems: list[str] = []
    for label, fn in OPS[op].items():
        found = _check_call(world, label, fn, fs, path, names_host)
        problems.extend(f"{label}: {p}" for p in found)
    assert not problems, "\n".join(problems)


def test_table_covers_every_public_path_method() -> None:
    """At least 60 cases; every public method that takes a path has an operation."""
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES), "duplicate case ids"
    public = {
        n
        for n in dir(JailFileSystem)
        if not n.startswith("_")
        and callable(getattr(JailFileSystem, n))
        and not isinstance(getattr(JailFileSystem, n), type)
    }
    # tool_scope and from_config take no path of the tree (see test_choke_point)
    not_paths = set(JailFileSystem.NON_PATH_METHODS) | {"tool_scope", "from_config"}
    missing = public - not_paths - COVERED
    assert not missing, f"public methods without an escape operation (add them to OPS): {missing}"


def test_world_is_what_it_claims(world: World) -> None:
    """The planted tree is really there (a typo in LINKS would make cases vacuous)."""
    r = world.root
    assert os.readlink(r / "d") == "../outside"
    assert (r / "l_rel_dir" / "secret2").read_bytes().startswith(MARK)
    assert (r / "a" / "l_climb").read_bytes().startswith(MARK)
    assert (r / "chain1").read_bytes().startswith(MARK)
    assert (r / "l_evil" / "x").read_bytes().startswith(MARK)
    assert (r / "sub" / "l_to_d" / "secret").read_bytes().startswith(MARK)
    assert (r / "a" / "up" / "l_rel_file").read_bytes().startswith(MARK)
    assert stat.S_ISFIFO(os.lstat(r / "fifo").st_mode)
    assert stat.S_ISSOCK(os.lstat(r / "sock").st_mode)
    assert os.lstat(r / "hardlink").st_ino == os.lstat(world.outside / "hostlinked").st_ino
    assert not (world.outside / "newfile").exists()
    assert not root_dirty(world)


def test_the_checks_catch_a_leaky_filesystem(world: World) -> None:
    """The harness is not vacuous: fsspec's DirFileSystem (a prefix, no jail) fails each check."""
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    leaky: Any = DirFileSystem(path=str(world.root), fs=LocalFileSystem())
    plant: Fn = lambda fs, p, c: os.symlink(p, world.root / "newlink")  # noqa: E731
    probes: list[tuple[str, Fn, str, str]] = [
        ("cat_file", OPS["cat_file"]["cat_file"], "l_rel_file", "outside content in the result"),
        ("info", OPS["info"]["info"], "d/secret", "an outside file size"),
        ("ls", OPS["ls"]["ls"], "l_rel_dir", "an outside inode number"),
        ("get_file", OPS["get"]["get_file"], "l_abs_file", "outside content written locally"),
        ("pipe_file", OPS["pipe_file"]["pipe_file"], "d/newfile2", "the outside changed"),
        ("plant", plant, "../x", "made a symlink that points outside"),
    ]
    for label, fn, case, expected in probes:
        found = _check_call(world, label, fn, leaky, world.expand(case), False)
        assert any(expected in p for p in found), (label, found)
    assert not root_dirty(world)
    assert outside_state(world) == world.pristine_outside


# ---------------------------------------------------------------------------------------------
# aliases of denied and internal files (DESIGN §7: "aliases of denied files" belong to the table)
#
# A second, smaller table: a jail with deny rules ("hush/", "*.key"), its audit directory and
# config file under the root, and links to all of them. No call may read a byte of them, list
# their names, or change them (the audit log only grows, by the jail's own hand).

PRIV = f"DENIED-SECRET-{uuid.uuid4().hex}".encode()
#: names hidden from the agent: never in a result unless the agent's own path named them
HIDDEN = ("hush", "k.key", ".audit", "jailfs.toml")

DENIED_LINKS = {
    "lnk_a": "hush",
    "lnk_f": "hush/x",
    "lnk_c": "lnk_f",
    "lnk_k": "k.key",
    "lnk_audit": ".audit",
    "lnk_cfg": "jailfs.toml",
    "dot_link": ".",
    "sub/up": "..",
}

ALIAS_CASES: list[tuple[str, str]] = [
    ("direct-file", "hush/x"),
    ("direct-dir", "hush"),
    ("dir-slash", "hush/"),
    ("dot-segments", "./hush/./x"),
    ("double-slash", "hush//x"),
    ("up-down", "sub/../hush/x"),
    ("jail-prefix", "jail://hush/x"),
    ("absolute", "/hush/x"),
    ("link-dir", "lnk_a/x"),
    ("link-dir-itself", "lnk_a"),
    ("link-file", "lnk_f"),
    ("link-chain", "lnk_c"),
    ("dot-link", "dot_link/hush/x"),
    ("up-link", "sub/up/hush/x"),
    ("key", "k.key"),
    ("key-nested", "sub/k.key"),
    ("key-link", "lnk_k"),
    ("audit", ".audit"),
    ("audit-glob", ".audit/*"),
    ("audit-link", "lnk_audit"),
    ("config", "jailfs.toml"),
    ("config-link", "lnk_cfg"),
    ("glob-all", "*"),
    ("glob-hush", "h?sh/*"),
    ("root", ""),
]

#: the operations of the main table used here (one or two of each kind)
ALIAS_OPS: dict[str, dict[str, Fn]] = {
    "ls": {"ls": OPS["ls"]["ls"]},
    "info": OPS["info"],
    "exists": OPS["exists"],
    "cat_file": {"cat_file": OPS["cat_file"]["cat_file"]},
    "cat": OPS["cat"],
    "open-rb": OPS["open-rb"],
    "pipe_file": OPS["pipe_file"],
    "open-ab": OPS["open-ab"],
    "touch": OPS["touch"],
    "mkdir": {"mkdir": OPS["mkdir"]["mkdir"]},
    "rm": OPS["rm"],
    "copy-src": OPS["copy-src"],
    "mv-src": OPS["mv-src"],
    "mv-dst": {"mv-dst": OPS["mv-dst"]["mv-dst"]},
    "find": OPS["find"],
    "walk": {"walk-detail": OPS["walk"]["walk-detail"]},
    "glob": OPS["glob"],
    "du": {"du": OPS["du"]["du"]},
    "get": {"get": OPS["get"]["get"]},
    "chmod": OPS["chmod"],
    "symlink": {"symlink-to": OPS["symlink"]["symlink-to"]},
}


@dataclass
class DeniedWorld:
    root: Path
    local: Path
    fs: dict[str, JailFileSystem] = field(default_factory=dict)
    protected: Any = None
    audit: dict[str, bytes] = field(default_factory=dict)
    others: Any = None
    ctx: Ctx | None = None


def _protected_state(w: DeniedWorld) -> Any:
    r = str(w.root)
    return tuple(
        entry_state(os.path.join(r, rel), rel) for rel in ("hush", "k.key", "sub", "jailfs.toml")
    )


def _other_state(w: DeniedWorld) -> Any:
    return {
        n: entry_state(os.path.join(w.root, n), n)
        for n in os.listdir(w.root)
        if n not in (".audit", "sub", "hush", "k.key", "jailfs.toml")
    }


def _build_denied_others(w: DeniedWorld) -> None:
    """(Re)make everything but the protected entries and the audit dir."""
    for n in os.listdir(w.root):
        if n not in (".audit", "sub", "hush", "k.key", "jailfs.toml"):
            _remove(os.path.join(w.root, n))
    (w.root / "file.txt").write_bytes(b"plain\n")
    for name, target in DENIED_LINKS.items():
        if "/" not in name:
            os.symlink(target, w.root / name)
    w.others = _other_state(w)


@pytest.fixture(scope="module")
def denied_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeniedWorld]:
    base = tmp_path_factory.mktemp("denied")
    w = DeniedWorld(root=base / "root", local=tmp_path_factory.mktemp("denied-local"))
    (w.root / "hush").mkdir(parents=True)
    (w.root / "hush" / "x").write_bytes(PRIV)
    (w.root / "k.key").write_bytes(PRIV)
    (w.root / "sub").mkdir()
    (w.root / "sub" / "k.key").write_bytes(PRIV)
    os.symlink("..", w.root / "sub" / "up")
    (w.root / "jailfs.toml").write_bytes(b"# " + PRIV + b"\n")
    _build_denied_others(w)
    w.ctx = Ctx(w.local)
    for kind in RESOLVERS:
        w.fs[kind] = JailFileSystem(
            w.root,
            resolver=kind,  # type: ignore[arg-type]
            write=["**"],
            deny=["hush/", "*.key"],
            presets=(),
            audit=w.root / ".audit",
            config_file=w.root / "jailfs.toml",
            allow_symlink_creation=True,
        )
    w.protected = _protected_state(w)
    w.audit = {p.name: p.read_bytes() for p in (w.root / ".audit").iterdir()}
    yield w
    for fs in w.fs.values():
        fs.close()


def _check_alias_call(w: DeniedWorld, label: str, fn: Fn, kind: str, case: str) -> list[str]:
    problems: list[str] = []
    ctx = w.ctx
    assert ctx is not None
    named = [h for h in HIDDEN if h in case]
    try:
        result = fn(w.fs[kind], case, ctx)
    except Exception as exc:
        if not isinstance(exc, JailError | OSError):
            problems.append(f"raised {type(exc).__name__}: {exc}")
        if PRIV.decode() in f"{exc!s} {exc!r}":
            problems.append("denied content in the error")
        # (hidden names in error messages: see test_refusal_through_an_alias_names_no_hidden_path)
    else:
        text = repr(result)
        if PRIV.decode() in text:
            problems.append("denied content in the result")
        shown = [h for h in HIDDEN if h in text and h not in named]
        if shown:
            problems.append(f"hidden names in the result: {shown}: {text[:300]}")
    if os.path.lexists(ctx.dest):
        written = [ctx.dest] if not os.path.isdir(ctx.dest) else []
        written += [os.path.join(dp, n) for dp, _, files in os.walk(ctx.dest) for n in files]
        if any(PRIV in Path(f).read_bytes() for f in written):
            problems.append("denied content written locally")
        _remove(ctx.dest)
    if _protected_state(w) != w.protected:
        problems.append("a denied or internal file changed")
        pytest.fail("; ".join(problems))  # the world is spoiled for the next tests: stop here
    audit = {p.name: p.read_bytes() for p in (w.root / ".audit").iterdir()}
    if set(audit) != set(w.audit) or any(
        not audit[n].startswith(old) for n, old in w.audit.items()
    ):
        problems.append("the audit directory changed other than by appending")
    w.audit = audit
    if _other_state(w) != w.others:
        _build_denied_others(w)
    return problems


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("op", "case"),
    [pytest.param(op, case, id=f"{op}-{cid}") for op in ALIAS_OPS for cid, case in ALIAS_CASES],
)
@pytest.mark.parametrize("kind", RESOLVERS)
def test_denied_alias(denied_world: DeniedWorld, kind: str, op: str, case: str) -> None:
    problems: list[str] = []
    for label, fn in ALIAS_OPS[op].items():
        found = _check_alias_call(denied_world, label, fn, kind, case)
        problems.extend(f"{label}: {p}" for p in found)
    assert not problems, "\n".join(problems)


def test_denied_world_is_what_it_claims(denied_world: DeniedWorld) -> None:
    r = denied_world.root
    assert (r / "lnk_c").read_bytes() == PRIV
    assert (r / "dot_link" / "hush" / "x").read_bytes() == PRIV
    assert (r / "sub" / "up" / "k.key").read_bytes() == PRIV
    assert list((r / ".audit").iterdir()), "the jails write their audit segments under the root"


@pytest.mark.parametrize("kind", RESOLVERS)
def test_refusal_through_an_alias_names_no_hidden_path(
    denied_world: DeniedWorld, kind: str
) -> None:
    """Denied paths are hidden (DESIGN §4): info() of a link to one omits its destination, so
    the refusal of a call through that link must not name it either (nor quote the rule's
    pattern, which spells it)."""
    fs = denied_world.fs[kind]
    messages = []
    for alias in ("lnk_a", "lnk_f", "lnk_c", "lnk_k", "lnk_cfg", "lnk_audit"):
        with pytest.raises(JailError) as info:
            fs.cat_file(alias)
        messages.append(str(info.value))
    leaked = [m for m in messages if any(h in m for h in HIDDEN)]
    assert not leaked, leaked
