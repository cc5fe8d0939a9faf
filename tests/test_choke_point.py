"""Every public method passes through the resolver (DESIGN §2: one choke point).

All public callables of JailFileSystem, minus ``JailFileSystem.NON_PATH_METHODS``, properties and
class attributes that are types, must appear in :data:`CALLS` with sample arguments. Each is
called on a fresh small tree and must make ``fs._resolver.calls`` grow; with
``Resolver.resolve`` replaced by one that raises a sentinel, each must fail with the sentinel
(nothing acts without resolving). A new public method missing from the table fails the test
with a message saying to add it, so a method that skips the resolver cannot slip in; a name in
NON_PATH_METHODS that reads or changes a path of the tree fails too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jailfs.resolver
from conftest import RESOLVERS
from jailfs import JailFileSystem

Call = Callable[[JailFileSystem, Path], Any]


def _open_read(fs: JailFileSystem, local: Path) -> bytes:
    with fs.open("file.txt", "rb") as f:
        return bytes(f.read())


def _walk(fs: JailFileSystem, local: Path) -> list[Any]:
    return list(fs.walk("d"))


def _local_file(local: Path) -> str:
    f = local / "up.bin"
    f.write_bytes(b"from the host\n")
    return str(f)


#: every public path method -> a call with sample arguments that succeeds on the tree of
#: :func:`make_tree` (``local`` is a host temp dir for get/put)
CALLS: dict[str, Call] = {
    "cat": lambda fs, local: fs.cat("file.txt"),
    "cat_file": lambda fs, local: fs.cat_file("file.txt"),
    # (on_error="raise": by default fsspec returns the exceptions in the result list)
    "cat_ranges": lambda fs, local: fs.cat_ranges(["file.txt"], [0], [4], on_error="raise"),
    "checksum": lambda fs, local: fs.checksum("file.txt"),
    "chmod": lambda fs, local: fs.chmod("file.txt", 0o640),
    "copy": lambda fs, local: fs.copy("file.txt", "copy.txt"),
    "cp": lambda fs, local: fs.cp("file.txt", "cp.txt"),
    "cp_file": lambda fs, local: fs.cp_file("file.txt", "cp_file.txt"),
    "created": lambda fs, local: fs.created("file.txt"),
    "delete": lambda fs, local: fs.delete("d/f.txt"),
    "disk_usage": lambda fs, local: fs.disk_usage("d"),
    "download": lambda fs, local: fs.download("file.txt", str(local / "down.txt")),
    "du": lambda fs, local: fs.du("d"),
    "exists": lambda fs, local: fs.exists("file.txt"),
    "expand_path": lambda fs, local: fs.expand_path("d", recursive=True),
    "explain": lambda fs, local: fs.explain("read", "link"),
    "find": lambda fs, local: fs.find("d"),
    "get": lambda fs, local: fs.get("d", str(local / "got"), recursive=True),
    "get_file": lambda fs, local: fs.get_file("file.txt", str(local / "got.txt")),
    "glob": lambda fs, local: fs.glob("d/*"),
    "head": lambda fs, local: fs.head("file.txt", 4),
    "info": lambda fs, local: fs.info("file.txt"),
    "isdir": lambda fs, local: fs.isdir("d"),
    "isfile": lambda fs, local: fs.isfile("file.txt"),
    "islink": lambda fs, local: fs.islink("link"),
    "lexists": lambda fs, local: fs.lexists("link"),
    "listdir": lambda fs, local: fs.listdir("d"),
    "ls": lambda fs, local: fs.ls("d"),
    "makedir": lambda fs, local: fs.makedir("new_dir"),
    "makedirs": lambda fs, local: fs.makedirs("new/dirs"),
    "mkdir": lambda fs, local: fs.mkdir("new_dir"),
    "mkdirs": lambda fs, local: fs.mkdirs("new/dirs"),
    "modified": lambda fs, local: fs.modified("file.txt"),
    "move": lambda fs, local: fs.move("file.txt", "moved.txt"),
    "mv": lambda fs, local: fs.mv("file.txt", "moved.txt"),
    "open": _open_read,
    "pipe": lambda fs, local: fs.pipe("piped.txt", b"data"),
    "pipe_file": lambda fs, local: fs.pipe_file("piped.txt", b"data"),
    "put": lambda fs, local: fs.put(_local_file(local), "put.txt"),
    "put_file": lambda fs, local: fs.put_file(_local_file(local), "put.txt"),
    "read_block": lambda fs, local: fs.read_block("file.txt", 0, 4),
    "read_bytes": lambda fs, local: fs.read_bytes("file.txt"),
    "read_text": lambda fs, local: fs.read_text("file.txt"),
    "rename": lambda fs, local: fs.rename("file.txt", "renamed.txt"),
    "rm": lambda fs, local: fs.rm("d", recursive=True),
    "rm_file": lambda fs, local: fs.rm_file("d/f.txt"),
    "rmdir": lambda fs, local: fs.rmdir("empty"),
    "size": lambda fs, local: fs.size("file.txt"),
    "sizes": lambda fs, local: fs.sizes(["file.txt", "d/f.txt"]),
    "stat": lambda fs, local: fs.stat("file.txt"),
    "symlink": lambda fs, local: fs.symlink("file.txt", "new_link"),
    "tail": lambda fs, local: fs.tail("file.txt", 4),
    "touch": lambda fs, local: fs.touch("touched.txt"),
    "tree": lambda fs, local: fs.tree("d"),
    "ukey": lambda fs, local: fs.ukey("file.txt"),
    "upload": lambda fs, local: fs.upload(_local_file(local), "up.txt"),
    "walk": _walk,
    "write_bytes": lambda fs, local: fs.write_bytes("wb.txt", b"data"),
    "write_text": lambda fs, local: fs.write_text("wt.txt", "data"),
}


def _is_method(name: str) -> bool:
    static = next(
        (vars(k)[name] for k in JailFileSystem.__mro__ if name in vars(k)), None
    )  # the attribute as defined, before descriptors run
    if isinstance(static, property) or isinstance(getattr(JailFileSystem, name), type):
        return False  # properties, and class attributes that are types (transaction_type)
    return callable(getattr(JailFileSystem, name))


def public_methods() -> list[str]:
    return sorted(n for n in dir(JailFileSystem) if not n.startswith("_") and _is_method(n))


def checked_names() -> list[str]:
    """What the choke-point tests call: every public method but NON_PATH_METHODS, plus every
    method of the table (so a path method wrongly listed in NON_PATH_METHODS is still called)."""
    return sorted(set(public_methods()) - set(JailFileSystem.NON_PATH_METHODS) | set(CALLS))


PUBLIC = public_methods()
CHECKED = checked_names()


def make_tree(root: Path) -> None:
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_bytes(b"in d\n")
    (root / "empty").mkdir()
    (root / "file.txt").write_bytes(b"hello jail\n")
    os.symlink("file.txt", root / "link")


@pytest.fixture(params=RESOLVERS)
def jail(request: pytest.FixtureRequest, tmp_path: Path, jail_factory: Any) -> JailFileSystem:
    root = tmp_path / "root"
    make_tree(root)
    (tmp_path / "local").mkdir()
    fs: JailFileSystem = jail_factory(
        root,
        resolver=request.param,
        write=["**"],
        presets=(),
        allow_symlink_creation=True,
    )
    return fs


def _call(name: str) -> Call:
    if name not in CALLS:
        pytest.fail(
            f"JailFileSystem.{name} is public but has no entry in tests/test_choke_point.py CALLS:"
            " add sample arguments to the table (or, if it takes no path and touches nothing,"
            " add it to JailFileSystem.NON_PATH_METHODS)"
        )
    return CALLS[name]


@pytest.mark.parametrize("name", CHECKED)
def test_every_public_method_resolves(jail: JailFileSystem, tmp_path: Path, name: str) -> None:
    call = _call(name)
    before = jail._resolver.calls
    call(jail, tmp_path / "local")
    assert jail._resolver.calls > before, f"{name} did not pass through the resolver"


def _tree_state(root: Path) -> list[tuple[Path, int, int, int]]:
    return sorted(
        (p.relative_to(root), st.st_mode, st.st_mtime_ns, st.st_ino)
        for p in root.rglob("*")
        for st in [p.lstat()]
    )


class Sentinel(Exception):
    """Raised by the sabotaged resolver: a call that ends without it acted without resolving."""


@pytest.mark.parametrize("name", CHECKED)
def test_nothing_acts_without_resolving(
    jail: JailFileSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    call = _call(name)
    root = Path(jail._host_root)
    before = _tree_state(root)

    def refuse(self: jailfs.resolver.Resolver, path: str, **kwargs: Any) -> Any:
        raise Sentinel(path)

    monkeypatch.setattr(jailfs.resolver.Resolver, "resolve", refuse)
    with pytest.raises(Sentinel):
        call(jail, tmp_path / "local")
    monkeypatch.undo()
    assert _tree_state(root) == before, f"{name} changed the tree without resolving"
    assert not list((tmp_path / "local").glob("got*")), f"{name} copied out without resolving"


@pytest.mark.parametrize("name", sorted(JailFileSystem.NON_PATH_METHODS))
def test_non_path_methods_take_no_path(name: str) -> None:
    """NON_PATH_METHODS is an exemption from the tests above: no path method may hide there."""
    assert hasattr(JailFileSystem, name), f"NON_PATH_METHODS names a missing method: {name}"
    assert name not in CALLS, (
        f"JailFileSystem.{name} reads or changes a path of the tree, so it must not be listed"
        " in NON_PATH_METHODS (which exempts it from the choke-point tests)"
    )


def test_table_has_no_stale_entries() -> None:
    """Every name of the table is still a public method (renames do not leave dead rows)."""
    assert set(CALLS) <= set(PUBLIC), set(CALLS) - set(PUBLIC)


def test_a_new_public_method_must_be_added_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The enumeration is live: a method added to the class is checked, and fails until listed."""

    def brand_new_method(self: JailFileSystem, path: str) -> None:
        """A path method that forgot the resolver."""

    monkeypatch.setattr(JailFileSystem, "brand_new_method", brand_new_method, raising=False)
    assert "brand_new_method" in checked_names()
    with pytest.raises(pytest.fail.Exception, match="add sample arguments to the table"):
        _call("brand_new_method")
