"""Shared fixtures: every test builds its own temporary tree and touches nothing else."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jailfs import JailFileSystem

RESOLVERS = ["openat2", "walk"]


@pytest.fixture(autouse=True)
def _isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default audit directories (the user's state dir) go to a temp dir, never to $HOME."""
    state = tmp_path_factory.mktemp("xdg-state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))


@pytest.fixture(scope="module")
def module_xdg_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``_isolated_state`` once per module, for modules with thousands of tests (where a temp
    dir per test costs more than the test) or Hypothesis tests (which refuse function-scoped
    fixtures). Such a module overrides ``_isolated_state`` to depend on this instead."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield


@pytest.fixture(params=RESOLVERS)
def resolver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def snapshot(top: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Every entry under ``top`` (links not followed): kind, bytes or link text, mtime_ns."""
    out: dict[str, tuple[str, bytes | str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st = full.lstat()
            rel = str(full.relative_to(top))
            if full.is_symlink():
                out[rel] = ("link", os.readlink(full), st.st_mtime_ns)
            elif full.is_dir():
                out[rel] = ("dir", b"", st.st_mtime_ns)
            elif full.is_file():
                out[rel] = ("file", hashlib.sha256(full.read_bytes()).hexdigest(), st.st_mtime_ns)
            else:
                out[rel] = ("other", b"", st.st_mtime_ns)
    out["."] = ("dir", b"", top.lstat().st_mtime_ns)
    return out


@pytest.fixture
def jail_factory(tmp_path: Path) -> Iterator[object]:
    made: list[JailFileSystem] = []

    def make(root: Path, **kwargs: object) -> JailFileSystem:
        kwargs.setdefault("audit", ":memory:")
        fs = JailFileSystem(root, **kwargs)  # type: ignore[arg-type]
        made.append(fs)
        return fs

    yield make
    for fs in made:
        fs.close()
