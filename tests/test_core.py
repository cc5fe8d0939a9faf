"""Core filesystem behaviour: modes, atomic writes, special files, links, root, listings."""

from __future__ import annotations

import os
import stat
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import snapshot
from jailfs import (
    AccessDenied,
    HardlinkRefused,
    InvalidPathError,
    JailError,
    JailFileSystem,
    PathEscapeError,
    UnsupportedFileType,
)
from jailfs.filesystem import TEMP_PREFIX

Make = Callable[..., JailFileSystem]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "a" / "b").mkdir(parents=True)
    (r / "a" / "b" / "f.txt").write_bytes(b"line1\nline2\n")
    (r / "top.txt").write_text("top")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"OUTSIDE")
    return r


@pytest.fixture
def fs(jail_factory: Make, root: Path, resolver: str) -> JailFileSystem:
    return jail_factory(root, resolver=resolver, write=["**"], presets=())


def temps(root: Path) -> list[str]:
    return [str(p) for p in root.rglob(TEMP_PREFIX + "*")]


def test_resolver_kinds(jail_factory: Make, root: Path) -> None:
    assert jail_factory(root, resolver="walk").resolver_kind == "walk"
    assert jail_factory(root, resolver="openat2").resolver_kind == "openat2"
    with pytest.raises(ValueError):
        jail_factory(root, resolver="bogus")


def test_paths_are_virtual(fs: JailFileSystem) -> None:
    assert fs.ls("/", detail=False) == sorted(fs.ls("", detail=False)) or True
    assert sorted(fs.ls("/", detail=False)) == ["a", "top.txt"]
    assert fs.ls("jail://a", detail=False) == ["a/b"]
    assert fs.info("./a//b/")["name"] == "a/b"
    assert fs.find("/a") == ["a/b/f.txt"]
    for spelling in (
        "a/b/f.txt",
        "/a/b/f.txt",
        "jail://a/b/f.txt",
        "./a/./b//f.txt",
        "a/x/../b/f.txt",
    ):
        assert fs.cat_file(spelling) == b"line1\nline2\n"
    with pytest.raises(PathEscapeError):
        fs.ls("..")
    for bad in ("a\x00b", "x" * 256, "a/" * 2100, "\udcff"):
        with pytest.raises(InvalidPathError):
            fs.info(bad)


def test_literal_characters_are_not_expanded(fs: JailFileSystem, root: Path) -> None:
    for name in ("~", "$HOME", "%2e%2e", "a\\..\\..\\b"):
        fs.pipe_file(name, b"lit")
        assert (root / name).read_bytes() == b"lit"


def test_info_shape(fs: JailFileSystem) -> None:
    info = fs.info("a/b/f.txt")
    assert {
        "name",
        "size",
        "type",
        "created",
        "islink",
        "mode",
        "uid",
        "gid",
        "mtime",
        "ino",
        "nlink",
    } <= set(info)
    assert info["name"] == "a/b/f.txt" and info["size"] == 12 and info["type"] == "file"
    assert fs.info("a")["type"] == "directory"
    assert fs.isdir("a") and not fs.isfile("a") and fs.isfile("a/b/f.txt")
    assert fs.modified("top.txt").tzinfo is not None and fs.created("top.txt").year >= 2000


def test_cat_ranges(fs: JailFileSystem) -> None:
    assert fs.cat_file("a/b/f.txt", start=1, end=4) == b"ine"
    assert fs.cat_file("a/b/f.txt", start=-6) == b"line2\n"
    assert fs.cat_file("a/b/f.txt", start=100) == b""
    assert fs.head("a/b/f.txt", 5) == b"line1"
    assert fs.tail("a/b/f.txt", 6) == b"line2\n"


@pytest.mark.parametrize("mode", ["rb", "r"])
def test_open_read(fs: JailFileSystem, mode: str) -> None:
    with fs.open("a/b/f.txt", mode) as f:
        data = f.read()
    assert data == (b"line1\nline2\n" if "b" in mode else "line1\nline2\n")
    with fs.open("a/b/f.txt", mode) as f:
        assert len(list(f)) == 2


def test_open_write_is_atomic(fs: JailFileSystem, root: Path) -> None:
    f = fs.open("top.txt", "wb")
    f.write(b"new content")
    f.flush()
    assert (root / "top.txt").read_text() == "top"  # not visible until closed
    assert TEMP_PREFIX not in " ".join(fs.ls("", detail=False))
    f.close()
    assert (root / "top.txt").read_text() == "new content"
    assert temps(root) == []


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_exception_in_with_block_discards(fs: JailFileSystem, root: Path, mode: str) -> None:
    with pytest.raises(RuntimeError), fs.open("top.txt", mode) as f:
        f.write(b"half" if "b" in mode else "half")
        raise RuntimeError("boom")
    assert (root / "top.txt").read_text() == "top"
    assert temps(root) == []


def test_modes(fs: JailFileSystem, root: Path) -> None:
    with fs.open("new/dir/x.txt", "w") as f:  # parents are created
        f.write("héllo")
    assert (root / "new" / "dir" / "x.txt").read_text(encoding="utf-8") == "héllo"
    with fs.open("new/dir/x.txt", "a") as f:
        f.write("!")
    assert fs.read_text("new/dir/x.txt") == "héllo!"
    with fs.open("new/dir/x.txt", "r+b") as f:
        f.seek(0)
        f.write(b"H")
    assert fs.cat_file("new/dir/x.txt") == "Héllo!".encode()
    with pytest.raises(FileExistsError):
        fs.open("new/dir/x.txt", "xb")
    with fs.open("new/dir/y.txt", "xb") as f:
        f.write(b"y")
    assert fs.cat_file("new/dir/y.txt") == b"y"
    with fs.open("new/dir/z.txt", "w+b") as f:
        f.write(b"zz")
        f.seek(0)
        assert f.read() == b"zz"
    with pytest.raises(FileNotFoundError):
        fs.open("missing.txt", "rb")
    with pytest.raises(FileNotFoundError):
        fs.open("missing.txt", "r+b")
    with pytest.raises(IsADirectoryError):
        fs.open("a", "rb")
    with pytest.raises(ValueError):
        fs.open("a/q", "qb")
    assert temps(root) == []


@pytest.mark.parametrize("mode", ["r+b", "a+b", "r+", "a+"])
def test_reading_modes_need_read_access(
    jail_factory: Make, root: Path, resolver: str, mode: str
) -> None:
    # write-only: the inbox may be written, not read
    (root / "inbox").mkdir()
    report = root / "inbox" / "report.txt"
    report.write_bytes(b"CONFIDENTIAL\n")
    before = (report.read_bytes(), report.stat().st_mtime_ns)
    fs = jail_factory(root, resolver=resolver, read=["a/**"], write=["inbox/**"], presets=())
    with pytest.raises(AccessDenied):
        fs.cat_file("inbox/report.txt")
    with pytest.raises(AccessDenied) as refused:
        fs.open("inbox/report.txt", mode)
    assert refused.value.op == "open"
    assert (report.read_bytes(), report.stat().st_mtime_ns) == before
    with fs.open("inbox/new.txt", "ab") as f:  # appending without reading stays allowed
        f.write(b"note")
    assert (root / "inbox" / "new.txt").read_bytes() == b"note"
    assert temps(root) == []


def test_update_mode_creates_no_parents(fs: JailFileSystem, root: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fs.open("n2/b/x.txt", "r+b")
    assert not (root / "n2").exists()


def test_a_bad_text_option_creates_nothing(fs: JailFileSystem, root: Path) -> None:
    with pytest.raises(LookupError):
        fs.open("n3/x.txt", "w", encoding="no-such-codec")
    with pytest.raises(ValueError, match="newline"):
        fs.open("n3/x.txt", "w", newline="x")
    assert not (root / "n3").exists()


def test_pipe_file_preserves_mode_and_is_atomic(fs: JailFileSystem, root: Path) -> None:
    os.chmod(root / "top.txt", 0o640)
    fs.pipe_file("top.txt", b"v2")
    assert stat.S_IMODE((root / "top.txt").stat().st_mode) == 0o640
    with pytest.raises(FileExistsError):
        fs.pipe_file("top.txt", b"v3", mode="create")
    assert (root / "top.txt").read_bytes() == b"v2"
    assert temps(root) == []


def test_no_setuid_setgid_or_sticky_bit(fs: JailFileSystem, root: Path) -> None:
    target = root / "top.txt"
    os.chmod(target, 0o644)
    for mode in (0o4755, 0o2755, 0o1777, 0o6777, 0o10644):
        with pytest.raises(AccessDenied):
            fs.chmod("top.txt", mode)
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
    fs.chmod("top.txt", 0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # a setuid file the host placed: rewritten, it keeps its permissions but not the bit
    os.chmod(target, 0o4755)
    fs.pipe_file("top.txt", b"agent's content")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    # ... and written in place, as well (root keeps the bits where the kernel would not)
    for mode, bits in (("ab", 0o4755), ("r+b", 0o6755)):
        os.chmod(target, bits)
        with fs.open("top.txt", mode) as f:
            f.write(b"!")
        assert stat.S_IMODE(target.stat().st_mode) == 0o755, mode
    os.chmod(target, 0o4755)
    fs.touch("top.txt", truncate=False)  # no content written: the host's mode stays
    assert stat.S_IMODE(target.stat().st_mode) == 0o4755


def test_temp_names_are_reserved(fs: JailFileSystem, root: Path) -> None:
    with pytest.raises(InvalidPathError):
        fs.pipe_file(TEMP_PREFIX + "x", b"x")
    (root / (TEMP_PREFIX + "left")).write_bytes(b"stale")
    assert TEMP_PREFIX + "left" not in fs.ls("", detail=False)
    assert not any(TEMP_PREFIX in p for p in fs.find(""))


def test_special_files_never_opened(fs: JailFileSystem, root: Path) -> None:
    os.mkfifo(root / "fifo")
    for call in (
        lambda: fs.cat_file("fifo"),
        lambda: fs.open("fifo", "rb"),
        lambda: fs.pipe_file("fifo", b"x"),
        lambda: fs.open("fifo", "ab"),
        lambda: fs.cp_file("fifo", "copy"),
    ):
        with pytest.raises(UnsupportedFileType) as exc:
            call()
        assert "FIFO" in str(exc.value)
    assert stat.S_ISFIFO((root / "fifo").lstat().st_mode)


def test_hardlinked_files_are_not_written(fs: JailFileSystem, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "secret.txt"
    os.link(outside, root / "alias.txt")
    before = outside.stat().st_mtime_ns
    for call in (
        lambda: fs.pipe_file("alias.txt", b"x"),
        lambda: fs.open("alias.txt", "ab"),
        lambda: fs.open("alias.txt", "r+b"),
        lambda: fs.open("alias.txt", "wb"),
        lambda: fs.touch("alias.txt"),
    ):
        with pytest.raises(HardlinkRefused):
            call()
    assert outside.read_bytes() == b"OUTSIDE" and outside.stat().st_mtime_ns == before


def test_root_cannot_be_removed_or_moved(fs: JailFileSystem, root: Path) -> None:
    before = snapshot(root)
    for call in (
        lambda: fs.rm("", recursive=True),
        lambda: fs.rm("/", recursive=True),
        lambda: fs.rmdir("/"),
        lambda: fs.mv("/", "a/inside"),
        lambda: fs.mv("a", "/"),
    ):
        with pytest.raises(AccessDenied):
            call()
    assert snapshot(root) == before


def test_rm_link_removes_link_only(fs: JailFileSystem, root: Path, tmp_path: Path) -> None:
    os.symlink("../outside", root / "out")
    os.symlink("a", root / "in")
    outside_before = snapshot(tmp_path / "outside")
    fs.rm("out", recursive=True)
    fs.rm("in", recursive=True)
    assert not os.path.lexists(root / "out") and not os.path.lexists(root / "in")
    assert (root / "a" / "b" / "f.txt").exists()
    assert snapshot(tmp_path / "outside") == outside_before


def test_recursive_rm_does_not_descend_links(
    fs: JailFileSystem, root: Path, tmp_path: Path
) -> None:
    os.symlink("../../outside", root / "a" / "out")
    outside_before = snapshot(tmp_path / "outside")
    fs.rm("a", recursive=True)
    assert not (root / "a").exists()
    assert snapshot(tmp_path / "outside") == outside_before
    with pytest.raises(IsADirectoryError):
        fs.pipe_file("d/x", b"x") or fs.rm("d")


def test_mv_semantics(fs: JailFileSystem, root: Path) -> None:
    fs.mv("top.txt", "moved.txt")
    assert (root / "moved.txt").read_text() == "top" and not (root / "top.txt").exists()
    fs.mv("moved.txt", "a")  # into an existing directory
    assert (root / "a" / "moved.txt").exists()
    fs.mv("a", "z/tree")  # a tree, parents created
    assert (root / "z" / "tree" / "b" / "f.txt").exists()
    with pytest.raises(OSError):
        fs.mv("z", "z/tree/inner")


def test_symlink_creation(jail_factory: Make, root: Path, resolver: str) -> None:
    off = jail_factory(root, resolver=resolver, write=["**"], presets=())
    with pytest.raises(AccessDenied):
        off.symlink("top.txt", "link")
    on = jail_factory(
        root, resolver=resolver, write=["**"], presets=(), allow_symlink_creation=True
    )
    on.symlink("../top.txt", "a/link")
    assert os.readlink(root / "a" / "link") == "../top.txt"
    assert on.cat_file("a/link") == b"top" and on.islink("a/link")
    for target in ("/etc/passwd", "../../x", "../../../outside/secret.txt"):
        with pytest.raises(PathEscapeError):
            on.symlink(target, "a/bad")
    assert not os.path.lexists(root / "a" / "bad")


def test_mv_never_leaves_a_symlink_pointing_outside(
    jail_factory: Make, root: Path, tmp_path: Path, resolver: str
) -> None:
    outside = tmp_path / "deploy-keys"
    outside.mkdir()
    (outside / "id").write_bytes(b"PRIVATE KEY")
    (root / "node_modules" / ".bin").mkdir(parents=True)
    # placed by the host: inside the root from where it is (root/deploy-keys)
    os.symlink("../deploy-keys", root / "node_modules" / ".bin" / "keys")
    (root / "d" / "e").mkdir(parents=True)
    fs = jail_factory(
        root, resolver=resolver, write=["**"], presets=(), allow_symlink_creation=True
    )
    fs.symlink("../../top.txt", "d/e/link")  # allowed: root/top.txt
    refused_moves = [
        ("node_modules/.bin/keys", "keys"),  # the link itself, one level up: outside
        ("d/e/link", "link"),  # a link the agent made, moved up
        ("d/e", "e"),  # a directory holding one
    ]
    before = {p: os.readlink(p) for p in (root / "node_modules/.bin/keys", root / "d/e/link")}
    for src, dst in refused_moves:
        with pytest.raises(PathEscapeError) as refused:
            fs.mv(src, dst)
        assert "would point outside the jail" in str(refused.value)
        assert not os.path.lexists(root / dst)
    assert {p: os.readlink(p) for p in before} == before  # nothing moved
    fs.mv("d", "x")  # the same depth: x/e/link -> ../../top.txt is still root/top.txt
    assert fs.cat_file("x/e/link") == b"top"
    fs.mv("node_modules/.bin/keys", "node_modules/.bin/keys2")  # same directory: same meaning
    assert os.readlink(root / "node_modules" / ".bin" / "keys2") == "../deploy-keys"
    assert (outside / "id").read_bytes() == b"PRIVATE KEY"
    assert sorted(os.listdir(outside)) == ["id"]


def test_walk_find_glob_du(fs: JailFileSystem, root: Path, tmp_path: Path) -> None:
    (root / "a" / "c.py").write_text("x")
    os.symlink("../../../outside", root / "a" / "b" / "out")
    assert fs.find("") == ["a/b/f.txt", "a/b/out", "a/c.py", "top.txt"]
    assert fs.find("", withdirs=True, maxdepth=1) == ["a", "top.txt"]
    assert fs.glob("**/*.py") == ["a/c.py"]
    assert fs.glob("a/*") == ["a/b", "a/c.py"]
    walked = list(fs.walk(""))
    assert walked[0] == ("", ["a"], ["top.txt"])
    assert ("a/b", [], ["f.txt", "out"]) in [(t, sorted(d), sorted(f)) for t, d, f in walked]
    detail = fs.find("", detail=True)
    assert detail["a/b/out"]["islink"] and detail["a/b/out"]["type"] == "other"
    assert fs.du("a") == 12 + 1
    with pytest.raises(PathEscapeError):
        fs.ls("a/b/out")


def test_audit_one_record_per_call(jail_factory: Make, root: Path) -> None:
    fs = jail_factory(root, write=["**"], presets=())
    fs.glob("**/*.txt")
    fs.read_text("top.txt")
    with fs.open("top.txt", "rb") as f:
        f.read()
    with pytest.raises(PathEscapeError):
        fs.cat_file("../outside/secret.txt")
    recs = [r for r in fs.audit.records() if r["op"] != "session"]
    assert [(r["op"], r["decision"]) for r in recs] == [
        ("glob", "allow"),
        ("read_text", "allow"),
        ("open", "allow"),
        ("close", "allow"),
        ("cat_file", "deny"),
    ]
    assert recs[0]["count"] == 2
    assert recs[1]["bytes"] == 3 and recs[3]["bytes"] == 3
    assert recs[4]["reason"] == "escape" and "OUTSIDE" not in str(recs[4])


def test_concurrent_writers_do_not_collide(fs: JailFileSystem, root: Path) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(50):
                fs.pipe_file(f"c/{i}/{j}.txt", str(j).encode())
                assert fs.cat_file(f"c/{i}/{j}.txt") == str(j).encode()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(fs.find("c")) == 200
    assert temps(root) == []


def test_case_sensitivity_is_read_off_the_root(
    jail_factory: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sensitive = tmp_path / "sensitive"
    sensitive.mkdir()
    (sensitive / "Notes.txt").write_text("n")
    assert not jail_factory(sensitive).case_insensitive
    # A case-insensitive filesystem, as a lookup sees it: "NOTES.TXT" is the same entry
    # (made here with a hard link; this machine's filesystem keeps case).
    folding = tmp_path / "folding"
    folding.mkdir()
    (folding / "Notes.txt").write_text("n")
    os.link(folding / "Notes.txt", folding / "nOTES.TXT")
    assert jail_factory(folding).case_insensitive
    for i in range(3000):  # names without a letter, as an agent could add: they hide nothing
        (folding / str(i)).write_bytes(b"")
    assert jail_factory(folding).case_insensitive
    # nothing in the root tells (no name with a letter), so its own name is asked ...
    bare = tmp_path / "empty"
    bare.mkdir()
    assert not jail_factory(bare).case_insensitive
    # ... and where nothing tells at all, the platform's default
    digits = tmp_path / "123"
    digits.mkdir()
    (digits / "42").write_text("")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert jail_factory(digits).case_insensitive
    monkeypatch.setattr(sys, "platform", "linux")
    assert not jail_factory(digits).case_insensitive
    # an ext4/f2fs directory with the casefold flag says so itself, whatever its names
    import jailfs._unchecked as raw

    flags = (0x40000000 | 0x80000).to_bytes(4, sys.byteorder) + bytes(4)
    monkeypatch.setattr(raw.fcntl, "ioctl", lambda fd, request, arg: flags)
    assert jail_factory(sensitive).case_insensitive


def test_a_case_insensitive_root_refuses_every_spelling(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    # the lookups of a case-insensitive filesystem, made with hard links
    (root / ".env").write_bytes(b"SECRET=1\n")
    os.link(root / ".env", root / ".ENV")
    config = root / "jailfs.toml"
    config.write_text("[jail]\n")
    os.link(config, root / "JAILFS.TOML")
    fs = jail_factory(
        root,
        resolver=resolver,
        write=["a/**"],
        case_insensitive=True,
        config_file=str(config),
    )
    assert fs.policy.casefold
    for name in (".ENV", ".Env", "JAILFS.TOML", "Jailfs.Toml"):
        with pytest.raises(AccessDenied):
            fs.cat_file(name)
        assert name not in fs.ls("", detail=False)
    for temp in ("A/.JAILFS-TMP-x", "A/.jailf\u017f-tmp-x"):  # (U+017F: a long s)
        with pytest.raises(InvalidPathError):
            fs.pipe_file(temp, b"x")
    fs.pipe_file("A/new.txt", b"ok")  # "A" is "a" there: writable
    assert (root / "A" / "new.txt").read_bytes() == b"ok"


def test_mv_refuses_to_make_an_unreadable_file_readable(
    jail_factory: Make, root: Path, resolver: str
) -> None:
    (root / "inbox").mkdir()
    (root / "inbox" / "report.txt").write_bytes(b"CONFIDENTIAL")
    (root / "x.log").write_bytes(b"LOG-SECRET")
    fs = jail_factory(
        root, resolver=resolver, read=["**", "!inbox/", "!*.log"], write=["**"], presets=()
    )
    for src, dst in (("inbox", "outbox"), ("inbox/report.txt", "report.txt"), ("x.log", "x.txt")):
        with pytest.raises(AccessDenied) as refused:
            fs.mv(src, dst)
        assert "would be readable at its new place" in str(refused.value)
        assert not (root / dst).exists()
    assert (root / "inbox" / "report.txt").read_bytes() == b"CONFIDENTIAL"
    assert (root / "x.log").read_bytes() == b"LOG-SECRET"
    fs.mv("x.log", "y.log")  # unreadable before and after: a write-only file may move
    fs.mv("inbox/report.txt", "inbox/final.txt")
    assert (root / "inbox" / "final.txt").read_bytes() == b"CONFIDENTIAL"


@pytest.mark.parametrize("racer", ["symlink", "mv"])
def test_no_link_slips_into_a_tree_while_mv_checks_it(
    jail_factory: Make, root: Path, tmp_path: Path, racer: str
) -> None:
    (root / "a" / "d").mkdir(parents=True)
    (root / "p" / "q").mkdir(parents=True)
    os.symlink("../../top.txt", root / "p" / "q" / "l")  # root/top.txt from p/q: inside
    fs = jail_factory(root, write=["**"], presets=(), allow_symlink_creation=True)
    listing, go = threading.Event(), threading.Event()
    listed = JailFileSystem._tree

    def slow_tree(self: JailFileSystem, *args: Any, **kwargs: Any) -> Any:
        found = listed(self, *args, **kwargs)
        listing.set()
        go.wait(10)  # the racer runs now, between the listing and the rename
        return found

    fs._tree = types.MethodType(slow_tree, fs)  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def race() -> None:
        try:
            if racer == "symlink":
                fs.symlink("../../top.txt", "a/d/l")  # inside from a/d; outside from d/
            else:
                fs.mv("p/q/l", "a/d/l")
        except (OSError, JailError) as exc:
            errors.append(exc)

    mover = threading.Thread(target=fs.mv, args=("a/d", "d"))
    mover.start()
    assert listing.wait(10)
    racing = threading.Thread(target=race)
    racing.start()
    racing.join(0.5)
    go.set()
    mover.join(10)
    racing.join(10)
    assert not mover.is_alive() and not racing.is_alive()
    assert not os.path.lexists(root / "d" / "l")  # it came after the move, or not at all
    for link in root.rglob("l"):
        assert (root / "top.txt").samefile(link)  # every link still leads inside
