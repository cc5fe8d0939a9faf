"""Races: an attacker thread swaps a directory of the root for a symlink to an outside directory
(and a file for a symlink to an outside file) and back, as fast as it can, while the jail works.

The swaps are atomic exchanges (``renameat2(RENAME_EXCHANGE)``, the way an agent's shell could
do it with ``mv --exchange``): ``root/work`` is always present, a real directory one moment and
``-> ../outside/dir`` the next; ``root/ff`` is a regular file or ``-> ../outside/secret``.
Where the kernel has no RENAME_EXCHANGE the swap falls back to three plain renames.

For both resolvers the jail reads, writes, lists, stats, removes, creates and removes directories
under ``work`` while at least 10,000 directory swaps happen. Required: no outside byte, name or
size in any result; the outside tree identical at the end (nothing new, nothing changed); every
error a JailError or OSError.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RESOLVERS, snapshot
from jailfs import JailError, JailFileSystem

MARK = f"OUTSIDE-RACE-{uuid.uuid4().hex}".encode()
OUTSIDE_SIZE = 7777
SECRET = MARK + b"s" * (OUTSIDE_SIZE - len(MARK))
INSIDE = b"inside work file\n"
#: names that exist only in the outside directory: seeing one in a listing is a leak
OUTSIDE_NAMES = ("outside_only", "outside_sub")
MIN_SWAPS = 10_000
#: rounds of all the steps to run at least (while time allows), and at the very least
MIN_ROUNDS = 600
FLOOR_ROUNDS = 50
#: give up (and fail) if the attacker cannot reach MIN_SWAPS in this many seconds
MAX_SECONDS = 25.0

AT_FDCWD = -100
RENAME_EXCHANGE = 2

_libc = ctypes.CDLL(None, use_errno=True)
_renameat2: Any = getattr(_libc, "renameat2", None)


def _exchange(a: bytes, b: bytes) -> None:
    """Swap the names ``a`` and ``b`` atomically (or with three renames where impossible)."""
    if _renameat2 is not None:
        if _renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: fall back
            raise OSError(code, os.strerror(code), a)
    parked = a + b".parked"
    os.rename(a, parked)
    os.rename(b, a)
    os.rename(parked, b)


class Attacker(threading.Thread):
    """Swaps each pair of names in turn, counting the swaps of each, until stopped."""

    def __init__(self, pairs: list[tuple[Path, Path]]) -> None:
        super().__init__(daemon=True)
        self.pairs = [(bytes(a), bytes(b)) for a, b in pairs]
        self.counts = [0] * len(pairs)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    @property
    def swaps(self) -> int:
        return self.counts[0]

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                for i, (a, b) in enumerate(self.pairs):
                    _exchange(a, b)
                    self.counts[i] += 1
        except BaseException as exc:  # reported by the test
            self.error = exc


def build(tmp: Path) -> tuple[Path, Path]:
    outside = tmp / "outside"
    (outside / "dir" / "outside_sub").mkdir(parents=True)
    (outside / "dir" / "f").write_bytes(SECRET)
    (outside / "dir" / "outside_only").write_bytes(SECRET)
    (outside / "secret").write_bytes(SECRET)
    root = tmp / "root"
    (root / "work").mkdir(parents=True)
    (root / "work" / "f").write_bytes(INSIDE)
    (root / "work" / "sub").mkdir()
    (root / "work" / "sub" / "g").write_bytes(INSIDE)
    os.symlink("../outside/dir", root / "work_alt")
    (root / "ff").write_bytes(INSIDE)
    os.symlink("../outside/secret", root / "ff_alt")
    return root, outside


def _bytes_ok(data: Any) -> None:
    assert MARK not in bytes(data), "read outside content"


def _names_ok(names: Any) -> None:
    text = repr(names)
    assert MARK.decode() not in text
    for bad in OUTSIDE_NAMES:
        assert bad not in text, f"listed an outside name: {bad} in {text[:300]}"


def _info_ok(info: dict[str, Any]) -> None:
    assert info["size"] != OUTSIDE_SIZE, f"stat of an outside file: {info}"


def _read_open(fs: JailFileSystem) -> bytes:
    with fs.open("work/f", "rb") as f:
        return bytes(f.read())


def _write_open(fs: JailFileSystem) -> None:
    with fs.open("work/o", "wb") as f:
        f.write(INSIDE)


def _mkdir_rmdir(fs: JailFileSystem) -> None:
    fs.mkdir("work/dd", create_parents=False)
    fs.rmdir("work/dd")


#: name -> (call, check of its result)
STEPS: dict[str, tuple[Callable[[JailFileSystem], Any], Callable[[Any], None]]] = {
    "cat_file": (lambda fs: fs.cat_file("work/f"), _bytes_ok),
    "cat_file-deep": (lambda fs: fs.cat_file("work/sub/g"), _bytes_ok),
    "cat_file-ff": (lambda fs: fs.cat_file("ff"), _bytes_ok),
    "open-read": (_read_open, _bytes_ok),
    "pipe_file": (lambda fs: fs.pipe_file("work/new", INSIDE), lambda r: None),
    "ls": (lambda fs: fs.ls("work"), _names_ok),
    "ls-names": (lambda fs: fs.ls("work", detail=False), _names_ok),
    "find": (lambda fs: fs.find("work", withdirs=True), _names_ok),
    "walk": (lambda fs: list(fs.walk("work")), _names_ok),
    "info": (lambda fs: fs.info("work/f"), _info_ok),
    "info-ff": (lambda fs: fs.info("ff"), _info_ok),
    "exists": (lambda fs: fs.exists("work/outside_only"), lambda r: None),
    "open-write": (_write_open, lambda r: None),
    "cp_file": (lambda fs: fs.cp_file("work/f", "work/copy"), lambda r: None),
    "mv": (lambda fs: fs.mv("work/copy", "work/moved"), lambda r: None),
    "rm_file": (lambda fs: fs.rm_file("work/new"), lambda r: None),
    "touch": (lambda fs: fs.touch("work/t"), lambda r: None),
    "mkdir-rmdir": (_mkdir_rmdir, lambda r: None),
    "makedirs": (lambda fs: fs.makedirs("work/m/n", exist_ok=True), lambda r: None),
    "rm-recursive": (lambda fs: fs.rm("work/m", recursive=True), lambda r: None),
}


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Hand the GIL over often, so the attacker's swaps land inside the jail's calls."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(old)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", RESOLVERS)
def test_swapping_directories_and_files_never_leaks(
    tmp_path: Path, kind: str, fast_switching: None
) -> None:
    root, outside = build(tmp_path)
    before = snapshot(outside)
    fs = JailFileSystem(root, resolver=kind, write=["**"], presets=(), audit=":memory:")  # type: ignore[arg-type]
    ok: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    attacker = Attacker([(root / "work", root / "work_alt"), (root / "ff", root / "ff_alt")])
    attacker.start()
    deadline = time.monotonic() + MAX_SECONDS
    rounds = 0
    try:
        while (attacker.swaps < MIN_SWAPS or rounds < MIN_ROUNDS) and time.monotonic() < deadline:
            if attacker.error is not None:
                break
            rounds += 1
            for name, (call, check) in STEPS.items():
                try:
                    result = call(fs)
                except (JailError, OSError):
                    refused[name] += 1
                    continue
                check(result)
                ok[name] += 1
    finally:
        swaps = attacker.swaps
        attacker.stop.set()
        attacker.join(10)
        fs.close()
    assert attacker.error is None, f"the attacker failed: {attacker.error!r}"
    assert swaps >= MIN_SWAPS, f"only {swaps} swaps in {MAX_SECONDS}s ({rounds} rounds)"
    assert rounds >= FLOOR_ROUNDS, f"only {rounds} rounds of jail calls in {MAX_SECONDS}s"
    assert snapshot(outside) == before, "the outside tree changed"
    # the race was real: the same call both worked and was refused while the tree moved
    assert ok["cat_file"] and refused["cat_file"], (ok, refused)
    assert ok["pipe_file"] and refused["pipe_file"], (ok, refused)
    print(
        f"{kind}: {swaps} directory swaps, {attacker.counts[1]} file swaps, {rounds} rounds,"
        f" ok={sum(ok.values())} refused={sum(refused.values())}"
    )


# ---------------------------------------------------------------------------------------------
# A host-made hard link to an outside file, swapped with a file of the root while the jail
# writes to it in place (append, r+, touch; not whole-file writes: their rename would replace the
# link and end the attack). Writes to files with more than one link are
# refused (DESIGN §1); the refusal must hold for the file actually opened, not only for the one
# that was looked at.

HL_SECONDS = 4.0
HL_MIN_SWAPS = 2_000


def _append(fs: JailFileSystem) -> None:
    with fs.open("t", "ab") as f:
        f.write(b"A")


def _update(fs: JailFileSystem) -> None:
    with fs.open("t", "r+b") as f:
        f.write(b"U")


HL_STEPS: dict[str, Callable[[JailFileSystem], Any]] = {
    "open-ab": _append,
    "open-r+b": _update,
    "touch-keep": lambda fs: fs.touch("t", truncate=False),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", RESOLVERS)
def test_swapping_in_a_host_hard_link_never_writes_outside(
    tmp_path: Path, kind: str, fast_switching: None
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    host = outside / "host_file"
    host.write_bytes(b"HOST CONTENT\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "t").write_bytes(INSIDE)
    os.link(host, root / "t_alt")  # the host's hard link, inside the root
    before = snapshot(outside)
    fs = JailFileSystem(root, resolver=kind, write=["**"], presets=(), audit=":memory:")  # type: ignore[arg-type]
    attacker = Attacker([(root / "t", root / "t_alt")])
    attacker.start()
    deadline = time.monotonic() + HL_SECONDS
    try:
        while time.monotonic() < deadline and attacker.error is None:
            for call in HL_STEPS.values():
                with contextlib.suppress(JailError, OSError):
                    call(fs)
            if snapshot(outside) != before:
                break
    finally:
        attacker.stop.set()
        attacker.join(10)
        fs.close()
    assert attacker.error is None, f"the attacker failed: {attacker.error!r}"
    assert host.read_bytes() == b"HOST CONTENT\n", "wrote through a hard link to an outside file"
    assert snapshot(outside) == before, "the outside tree changed"
    assert attacker.swaps >= HL_MIN_SWAPS, f"only {attacker.swaps} swaps"
