"""Recursive changes through aliases, races between check and change, files kept open, limits.

Each case comes from a review of the core: the call must be refused (or stop) with nothing
outside its checked set changed, compared byte for byte and by mtime.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import snapshot
from jailfs import AccessDenied, JailError, JailFileSystem, PathEscapeError, QuotaExceeded

Make = Callable[..., JailFileSystem]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "work" / "keys").mkdir(parents=True)
    (r / "work" / "keys" / "prod.txt").write_bytes(b"SECRET")
    (r / "work" / "code.py").write_text("x = 1\n")
    (r / "private").mkdir()
    (r / "private" / "payroll.csv").write_text("alice,1\n")
    (r / "d" / "sub").mkdir(parents=True)
    (r / "d" / "sub" / "f").write_text("ok")
    os.symlink(".", r / "al")  # an alias of the root, planted by the host or a shell
    os.symlink("private", r / "p")
    return r


def jail(make: Make, root: Path, resolver: str, **kw: Any) -> JailFileSystem:
    kw.setdefault("write", ["**"])
    kw.setdefault("deny", ["work/keys/", "private/"])
    return make(root, resolver=resolver, **kw)


def test_rm_and_mv_through_an_alias_check_real_names(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    fs = jail(jail_factory, root, resolver)
    before = snapshot(root)
    for call in (
        lambda: fs.rm("work", recursive=True),
        lambda: fs.rm("al/work", recursive=True),
        lambda: fs.mv("al/work", "moved"),
        lambda: fs.mv("work", "al/moved"),
    ):
        with pytest.raises(AccessDenied) as exc:
            call()
        assert "keys" not in str(exc.value)  # a hidden member is not named
    assert snapshot(root) == before


def test_rm_stops_when_a_checked_member_is_swapped(
    jail_factory: Make, root: Path, resolver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = jail(jail_factory, root, resolver)
    private_before = snapshot(root / "private")
    checked = JailFileSystem._check_members
    swapped: list[bool] = []

    def check_then_swap(self: JailFileSystem, op: str, members: list[tuple[str, bool]]) -> None:
        checked(self, op, members)
        if not swapped:  # another process replaces a checked directory by a link
            swapped.append(True)
            shutil.rmtree(root / "d" / "sub")
            os.symlink("../private", root / "d" / "sub")

    monkeypatch.setattr(JailFileSystem, "_check_members", check_then_swap)
    with pytest.raises(OSError) as exc:
        fs.rm("d", recursive=True)
    assert exc.value.errno == 116
    assert snapshot(root / "private") == private_before


def test_refused_writes_create_no_directories(
    jail_factory: Make, root: Path, tmp_path: Path, resolver: str
) -> None:
    read_only = jail_factory(root, resolver=resolver)
    before = snapshot(root)
    for call in (
        lambda: read_only.pipe_file("a/b/c/f.txt", b"x"),
        lambda: read_only.open("d/e/f.txt", "wb"),
        lambda: read_only.touch("g/h/i"),
        lambda: read_only.makedirs("m/n/o"),
    ):
        with pytest.raises(AccessDenied):
            call()
    fs = jail(jail_factory, root, resolver)
    for call in (
        lambda: fs.pipe_file("p/new/x.txt", b"x"),
        lambda: fs.makedirs("p/k/deeper"),
        lambda: fs.pipe_file("al/work/keys/new/x", b"x"),
    ):
        with pytest.raises(AccessDenied):
            call()
    assert snapshot(root) == before


def test_denied_alias_answers_the_same_whether_or_not_it_exists(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    fs = jail(jail_factory, root, resolver)
    answers = []
    for name in ("p/payroll.csv", "p/nothing.csv"):
        with pytest.raises(AccessDenied) as exc:
            fs.cat_file(name)
        answers.append(str(exc.value).replace(name, "<name>"))
        assert "private" not in str(exc.value)
    assert answers[0] == answers[1]


def test_open_file_is_not_committed_after_its_directory_moves(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    fs = jail(jail_factory, root, resolver, deny=["deploy/settings.yaml"])
    (root / "staging").mkdir()
    f = fs.open("staging/settings.yaml", "wb")
    fs.mv("staging", "deploy")
    f.write(b"attacker: true\n")
    with pytest.raises(OSError):
        f.close()
    assert not (root / "deploy" / "settings.yaml").exists()
    assert not [n for n in os.listdir(root / "deploy") if n.startswith(".jailfs-tmp")]


def test_file_is_not_committed_after_the_jail_closes(tmp_path: Path, resolver: str) -> None:
    root = tmp_path / "r"
    root.mkdir()
    fs = JailFileSystem(root, resolver=resolver, write=["**"], audit=":memory:")
    f = fs.open("late.txt", "wb")
    f.write(b"late")
    fs.close()
    with pytest.raises(JailError):
        f.close()
    assert os.listdir(root) == []


def test_created_links_cannot_climb_physically(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    fs = jail(jail_factory, root, resolver, allow_symlink_creation=True)
    (root / "deep" / "er").mkdir(parents=True)
    fs.symlink("../..", "deep/er/up")  # leading "..": the kernel and the jail agree
    for target in ("deep/er/up/..", "x/../..", "work/../../.."):
        with pytest.raises(PathEscapeError):
            fs.symlink(target, "esc")
    assert not os.path.lexists(root / "esc")


def test_limits_hold_for_truncate_and_append(jail_factory: Make, root: Path, resolver: str) -> None:
    fs = jail(jail_factory, root, resolver, max_file_size=1000, write_quota=2000)
    fs.pipe_file("a.txt", b"a" * 100)
    with fs.open("a.txt", "r+b") as f, pytest.raises(QuotaExceeded):
        f.truncate(10**9)
    with pytest.raises(QuotaExceeded), fs.open("b.txt", "a+b") as f:
        for _ in range(50):
            f.seek(0)
            f.write(b"x" * 100)
            f.flush()
    assert (root / "a.txt").stat().st_size == 100
    assert (root / "b.txt").stat().st_size <= 1000


def test_failed_text_open_keeps_the_old_content(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    fs = jail(jail_factory, root, resolver)
    fs.pipe_file("important.txt", b"precious\n")
    for kwargs in ({"encoding": "no-such-codec"}, {"newline": "bogus"}, {"compression": "nope"}):
        with pytest.raises((LookupError, ValueError)):
            fs.open("important.txt", "w", **kwargs)
        assert (root / "important.txt").read_bytes() == b"precious\n"
    ops = [r["op"] for r in fs.audit.records()]
    assert "close" not in ops


def test_recursive_copy_is_checked_in_full_first(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    (root / "s").mkdir()
    (root / "s" / "a").write_bytes(b"a" * 600)
    (root / "s" / "b").write_bytes(b"b" * 600)
    (root / "out").mkdir()
    os.symlink("../private/b", root / "out" / "b")  # the second file would land in private/
    fs = jail(jail_factory, root, resolver)
    before = snapshot(root)
    with pytest.raises(AccessDenied):
        fs.copy("s/", "out/", recursive=True)
    small = jail(jail_factory, root, resolver, write_quota=1000)
    with pytest.raises(QuotaExceeded):
        small.copy("s/", "out2/", recursive=True)
    assert snapshot(root) == before


def test_rm_with_maxdepth_changes_nothing_when_it_cannot_finish(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    fs = jail(jail_factory, root, resolver)
    before = snapshot(root)
    with pytest.raises(OSError) as exc:
        fs.rm("d", recursive=True, maxdepth=1)
    assert exc.value.errno == 39
    assert snapshot(root) == before
