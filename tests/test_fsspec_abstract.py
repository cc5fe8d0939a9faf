"""fsspec's own abstract test suite, run against JailFileSystem (nothing skipped by us)."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path

import fsspec.tests.abstract as abstract
import pytest

from jailfs import JailFileSystem


class JailFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture(params=["openat2", "walk"])
    def fs(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JailFileSystem]:
        root = tmp_path / "jail-root"
        fs = JailFileSystem(
            root, create_root=True, resolver=request.param, write=["**"], audit=":memory:"
        )
        yield fs
        fs.close()

    @pytest.fixture
    def fs_join(self) -> object:
        return posixpath.join

    @pytest.fixture
    def fs_path(self) -> str:
        return "base"


class TestJailCopy(abstract.AbstractCopyTests, JailFixtures):  # type: ignore[misc]
    pass


class TestJailGet(abstract.AbstractGetTests, JailFixtures):  # type: ignore[misc]
    pass


class TestJailPut(abstract.AbstractPutTests, JailFixtures):  # type: ignore[misc]
    pass


class TestJailPipe(abstract.AbstractPipeTests, JailFixtures):  # type: ignore[misc]
    pass


class TestJailOpen(abstract.AbstractOpenTests, JailFixtures):  # type: ignore[misc]
    pass
