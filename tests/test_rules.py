"""The policy as the filesystem enforces it: aliases, hiding, all-or-nothing, limits."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import pytest

from conftest import snapshot
from jailfs import AccessDenied, JailFileSystem, PathEscapeError, QuotaExceeded

SECRET = b"API_KEY=hunter2-do-not-leak"

Make = Callable[..., JailFileSystem]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "data" / "private").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('app')\n")
    (root / "src" / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "README.md").write_text("# readme\n")
    (root / ".env").write_bytes(SECRET)
    (root / ".env.example").write_text("API_KEY=\n")
    (root / "data" / "private" / "ids.csv").write_text("1,2\n")
    (root / "data" / "public.csv").write_text("a,b\n")
    # aliases of denied / read-only things, planted by the host or a previous agent step
    os.symlink(".env", root / "env-link")
    os.symlink("../.env", root / "docs" / "env-rel")
    os.symlink("env-link", root / "chain")  # chain -> env-link -> .env
    os.symlink("data/private", root / "priv-dir")
    os.symlink("../README.md", root / "src" / "readme-alias")  # src/** writable, README is not
    return root


def files_only(snap: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snap.items() if v[0] != "dir"} | {
        k: v[:2] for k, v in snap.items() if v[0] == "dir"
    }


def jail(make: Make, root: Path, resolver: str, **kw: Any) -> JailFileSystem:
    kw.setdefault("write", ["src/**", "docs/**", "data/**"])
    kw.setdefault("deny", ["data/private/"])
    return make(root, resolver=resolver, **kw)


DENIED_SPELLINGS = [
    ".env",
    "./.env",
    "a//../.env",
    "/.env",
    "x/../.env",
    "jail://.env",
    "src/../.env",
]


@pytest.mark.parametrize("spelling", DENIED_SPELLINGS)
def test_denied_spellings(jail_factory: Make, tree: Path, resolver: str, spelling: str) -> None:
    fs = jail(jail_factory, tree, resolver)
    before = snapshot(tree)
    with pytest.raises(AccessDenied) as exc:
        fs.cat_file(spelling)
    assert exc.value.op == "cat_file"
    assert ".env" in exc.value.rule
    with pytest.raises(AccessDenied):
        fs.pipe_file(spelling, b"overwritten")
    with pytest.raises(AccessDenied):
        fs.info(spelling)
    assert fs.exists(spelling) is False
    assert snapshot(tree) == before


def test_denied_whether_or_not_it_exists(jail_factory: Make, tree: Path, resolver: str) -> None:
    fs = jail(jail_factory, tree, resolver)
    with pytest.raises(AccessDenied) as there:
        fs.info(".env")
    with pytest.raises(AccessDenied) as absent:
        fs.info("src/.env")
    assert type(there.value) is type(absent.value)
    assert there.value.rule == absent.value.rule


@pytest.mark.parametrize("alias", ["env-link", "docs/env-rel", "chain", "priv-dir/ids.csv"])
def test_symlink_alias_cannot_read_denied(
    jail_factory: Make, tree: Path, resolver: str, alias: str
) -> None:
    fs = jail(jail_factory, tree, resolver)
    before = snapshot(tree)
    for call in (
        lambda: fs.cat_file(alias),
        lambda: fs.open(alias, "rb").read(),
        lambda: fs.head(alias),
        lambda: fs.info(alias),
    ):
        with pytest.raises(AccessDenied) as exc:
            call()
        assert SECRET not in str(exc.value).encode()
    with pytest.raises(AccessDenied):
        fs.pipe_file(alias, b"x")
    assert snapshot(tree) == before


def test_symlink_alias_cannot_write_read_only(
    jail_factory: Make, tree: Path, resolver: str
) -> None:
    fs = jail(jail_factory, tree, resolver)
    before = snapshot(tree)
    with pytest.raises(AccessDenied) as exc:
        fs.pipe_file("src/readme-alias", b"changed")
    assert "README.md" in str(exc.value)
    with pytest.raises(AccessDenied), fs.open("src/readme-alias", "ab") as f:
        f.write(b"x")
    assert fs.cat_file("src/readme-alias") == b"# readme\n"  # reading it is fine
    assert snapshot(tree) == before


def test_listings_never_reveal_denied(jail_factory: Make, tree: Path, resolver: str) -> None:
    fs = jail(jail_factory, tree, resolver)
    everything: list[str] = []
    everything += fs.ls("", detail=False)
    everything += [d["name"] for d in fs.ls("", detail=True)]
    everything += fs.find("", withdirs=True)
    everything += list(fs.find("", detail=True))
    everything += fs.glob("**")
    everything += fs.glob("**/.env*")
    everything += fs.glob("data/**")
    for top, dirs, files in fs.walk(""):
        everything += [top, *dirs, *files]
    assert ".env" not in everything
    assert not [p for p in everything if "private" in p and not p.startswith("priv-dir")]
    assert ".env.example" in everything
    sizes = fs.du("", total=False)
    assert ".env" not in sizes
    assert not any("private/" in p for p in sizes)
    assert fs.du("", total=True) == sum(sizes.values())
    # the link entries themselves are listed, but describe nothing of the denied target
    info = {d["name"]: d for d in fs.ls("", detail=True)}
    assert info["env-link"]["size"] == 0
    assert info["env-link"]["type"] == "other"
    assert "destination" not in info["env-link"]


def test_rm_recursive_all_or_nothing(jail_factory: Make, tree: Path, resolver: str) -> None:
    (tree / "src" / "pkg" / ".env").write_bytes(SECRET)  # a denied member inside a writable tree
    fs = jail(jail_factory, tree, resolver)
    before = snapshot(tree)
    with pytest.raises(AccessDenied) as exc:
        fs.rm("src", recursive=True)
    assert ".env" not in str(exc.value)  # a hidden member is not named
    assert snapshot(tree) == before


def test_mv_tree_all_or_nothing(jail_factory: Make, tree: Path, resolver: str) -> None:
    fs = jail(jail_factory, tree, resolver, write=["src/**", "docs/**", "!src/pkg/mod.py"])
    before = snapshot(tree)
    with pytest.raises(AccessDenied):
        fs.mv("src", "docs/moved", recursive=True)
    assert snapshot(tree) == before
    # and a move whose destination names a denied path
    with pytest.raises(AccessDenied):
        fs.mv("src/app.py", ".env")
    assert snapshot(tree) == before


@pytest.mark.parametrize("refused", ["!docs/copy/pkg/", "!docs/copy/pkg/mod.py"])
def test_cp_tree_all_or_nothing(
    jail_factory: Make, tree: Path, resolver: str, refused: str
) -> None:
    fs = jail(jail_factory, tree, resolver, write=["docs/**", refused])
    before = snapshot(tree)
    with pytest.raises(AccessDenied):
        fs.copy("src", "docs/copy", recursive=True)
    assert snapshot(tree) == before


def test_put_tree_all_or_nothing(
    jail_factory: Make, tree: Path, tmp_path: Path, resolver: str
) -> None:
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("a")
    (local / "sub" / "id_rsa").write_text("key")  # lands on a secrets-preset name
    fs = jail(jail_factory, tree, resolver, write=["docs/**"])
    before = snapshot(tree)
    with pytest.raises(AccessDenied):
        fs.put(str(local) + "/", "docs/up", recursive=True)
    assert snapshot(tree) == before


def test_read_only_by_default(jail_factory: Make, tree: Path, resolver: str) -> None:
    fs = jail_factory(tree, resolver=resolver)
    before = snapshot(tree)
    assert fs.cat_file("README.md") == b"# readme\n"
    for call in (
        lambda: fs.pipe_file("new.txt", b"x"),
        lambda: fs.touch("README.md"),
        lambda: fs.rm("README.md"),
        lambda: fs.mkdir("newdir"),
        lambda: fs.mv("README.md", "R.md"),
        lambda: fs.chmod("README.md", 0o600),
    ):
        with pytest.raises(AccessDenied) as exc:
            call()
        assert "write" in str(exc.value)
    assert snapshot(tree) == before


def test_max_file_size(jail_factory: Make, tree: Path, resolver: str) -> None:
    (tree / "src" / "big.bin").write_bytes(b"b" * 2000)
    fs = jail(jail_factory, tree, resolver, max_file_size="1 KiB")
    before = snapshot(tree)
    with pytest.raises(QuotaExceeded) as exc:
        fs.cat_file("src/big.bin")
    assert exc.value.limit == "max_file_size" and exc.value.excess == 2000 - 1024
    assert "976" in str(exc.value)
    with pytest.raises(QuotaExceeded):
        fs.open("src/big.bin", "rb")
    with pytest.raises(QuotaExceeded) as exc:
        fs.pipe_file("src/app.py", b"x" * 1025)
    assert exc.value.excess == 1
    with pytest.raises(QuotaExceeded):  # refused before its parents are made
        fs.pipe_file("src/new/deep/x.bin", b"x" * 1025)
    assert not (tree / "src" / "new").exists()
    with pytest.raises(QuotaExceeded), fs.open("src/stream.bin", "wb") as f:
        for _ in range(3):
            f.write(b"y" * 500)
            f.flush()
    # nothing partial: no stream.bin, app.py unchanged (the streamed write's temp file came and
    # went, so only the mtime of its directory moved)
    assert files_only(snapshot(tree)) == files_only(before)
    assert not [n for n in os.listdir(tree / "src") if n.startswith(".jailfs-tmp")]


def test_write_quota(jail_factory: Make, tree: Path, resolver: str) -> None:
    fs = jail(jail_factory, tree, resolver, write_quota=100)
    fs.pipe_file("src/a.txt", b"a" * 60)
    before = snapshot(tree)
    with pytest.raises(QuotaExceeded) as exc:
        fs.pipe_file("src/app.py", b"b" * 50)
    assert exc.value.limit == "write_quota" and exc.value.excess == 10
    assert "60 used" in str(exc.value)
    assert snapshot(tree) == before  # the old content is still there
    fs.pipe_file("src/b.txt", b"c" * 40)  # exactly at the quota
    with pytest.raises(QuotaExceeded):
        fs.pipe_file("src/c.txt", b"!")
    with pytest.raises(QuotaExceeded):  # refused before its parents are made
        fs.cp_file("src/a.txt", "src/new/deep/a.txt")
    assert not (tree / "src" / "new").exists()


def test_a_copy_takes_the_size_it_checked(
    jail_factory: Make, tree: Path, resolver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tree / "src" / "log.txt").write_bytes(b"a" * 100)
    fs = jail(jail_factory, tree, resolver, write_quota=150)
    opened = JailFileSystem._open_regular

    def grows_once_open(self: JailFileSystem, *args: Any, **kwargs: Any) -> Any:
        found = opened(self, *args, **kwargs)
        with open(tree / "src" / "log.txt", "ab") as f:  # another process appends meanwhile
            f.write(b"b" * 100)
        return found

    monkeypatch.setattr(JailFileSystem, "_open_regular", grows_once_open)
    fs.cp_file("src/log.txt", "src/copy.txt")
    assert (tree / "src" / "copy.txt").read_bytes() == b"a" * 100  # not 200: the quota held


def test_round_trips_give_same_decisions(jail_factory: Make, tree: Path, tmp_path: Path) -> None:
    fs = JailFileSystem(
        tree, write=["src/**"], deny=["data/private/"], max_file_size="1 MiB", audit=":memory:"
    )
    probes = ["src/app.py", ".env", "data/private/ids.csv", "README.md", "docs/x"]

    def decisions(f: JailFileSystem) -> list[tuple[bool, str]]:
        out = []
        for p in probes:
            for access in ("read", "write"):
                d = f.policy.check(access, p)  # type: ignore[arg-type]
                out.append((d.allowed, str(d.rule)))
        return out

    expected = decisions(fs)
    for clone in (
        JailFileSystem.from_json(fs.to_json()),
        pickle.loads(pickle.dumps(fs)),
        fsspec.filesystem(
            "jail", root=str(tree), write=["src/**"], deny=["data/private/"], audit=":memory:"
        ),
    ):
        assert isinstance(clone, JailFileSystem)
        assert decisions(clone) == expected
        assert (
            clone.max_file_size == fs.max_file_size
            or clone.storage_options.get("max_file_size") is None
        )
        assert clone.policy.hash == fs.policy.hash
        clone.close()
    fs.close()


def test_fsspec_entry_points(tree: Path) -> None:
    fs = fsspec.filesystem("jail", root=str(tree), audit=":memory:")
    assert isinstance(fs, JailFileSystem)
    with fsspec.open("jail://src/app.py", "rb", root=str(tree), audit=":memory:") as f:
        assert f.read() == b"print('app')\n"
    fs2, path = fsspec.core.url_to_fs("jail://src/pkg", root=str(tree), audit=":memory:")
    assert isinstance(fs2, JailFileSystem) and path == "src/pkg"
    assert fs2.ls(path, detail=False) == ["src/pkg/mod.py"]
    with pytest.raises(PathEscapeError):
        fs2.cat_file("jail://../x")


def test_internal_paths_are_denied(tmp_path: Path, resolver: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "code.py").write_text("x")
    cfg = root / "jailfs.toml"
    cfg.write_text('root = "."\n[rules]\nwrite = ["**"]\n[audit]\ndir = ".audit"\n')
    fs = JailFileSystem.from_config(cfg, resolver=resolver)
    fs.cat_file("code.py")
    before = snapshot(root)
    for call in (
        lambda: fs.cat_file("jailfs.toml"),
        lambda: fs.pipe_file("jailfs.toml", b'root = "/"'),
        lambda: fs.ls(".audit"),
        lambda: fs.rm(".audit", recursive=True),
        lambda: fs.pipe_file(".audit/x.jsonl", b"{}"),
    ):
        with pytest.raises(AccessDenied):
            call()
    assert "jailfs.toml" not in fs.ls("", detail=False)
    assert ".audit" not in fs.ls("", detail=False)
    after = snapshot(root)
    # the audit segment grew (the jail recorded the refusals); nothing else changed
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed <= {k for k in after if k.startswith(".audit")} | {"."}
    fs.close()


def test_explain_never_names_a_hidden_place_on_the_way(
    jail_factory: Make, tree: Path, resolver: str
) -> None:
    (tree / "public").mkdir()
    (tree / "public" / "page.md").write_text("hi")
    (tree / ".ssh").mkdir(exist_ok=True)
    os.symlink("../public/page.md", tree / ".ssh" / "hop")  # a link inside a hidden directory
    os.symlink(".ssh/hop", tree / "entry")
    fs = jail(jail_factory, tree, resolver)
    decision = fs.explain("read", "entry")
    assert decision.resolved == "public/page.md"  # the target itself is visible
    assert decision.hops == ("entry", "(hidden)")
    assert ".ssh" not in repr(decision)
