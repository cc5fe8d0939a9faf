"""deepagents over a jail: create_deep_agent(model=<scripted>, backend=JailBackend(fs)) does a small
read-edit-grep task and tries to escape; plus the backend's methods and result types directly."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("deepagents")

from deepagents import create_deep_agent
from deepagents.backends.protocol import (
    BackendProtocol,
    DeleteResult,
    EditResult,
    FileDownloadResponse,
    FileUploadResponse,
    GlobResult,
    GrepResult,
    LsResult,
    ReadResult,
    WriteResult,
)
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from conftest import snapshot
from jailfs import JailFileSystem
from jailfs.integrations.deepagents import JailBackend


class ScriptedChatModel(GenericFakeChatModel):
    """GenericFakeChatModel replays its messages; agents also need ``bind_tools``."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self


def make_jail(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "src" / "pkg").mkdir(parents=True)
    (work / "docs").mkdir()
    (work / "src" / "app.py").write_text("def main():\n    return 1\n")
    (work / "src" / "pkg" / "mod.py").write_text("VALUE = 1\nNAME = 'x'\n")
    (work / "README.md").write_text("# demo\nreturn policy\n")
    (work / "notes.txt").write_text("".join(f"note {i}\n" for i in range(1, 11)))
    (work / "blank.txt").write_text("")
    (work / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (work / ".env").write_text("API_KEY=hunter2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    os.symlink("../../outside/secret.txt", work / "docs" / "link")
    config = tmp_path / "jailfs.toml"
    config.write_text('root = "work"\n[rules]\nwrite = ["**"]\n[audit]\ndir = "audit"\n')
    return config


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[JailFileSystem]:
    jail = JailFileSystem.from_config(make_jail(tmp_path))
    yield jail
    jail.close()


@pytest.fixture
def backend(fs: JailFileSystem) -> JailBackend:
    return JailBackend(fs)


def test_deep_agent_task_in_a_jail(tmp_path: Path, fs: JailFileSystem) -> None:
    before = snapshot(tmp_path / "outside")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("read_file", {"file_path": "/src/app.py"}),
        (
            "edit_file",
            {"file_path": "/src/app.py", "old_string": "return 1", "new_string": "return 2"},
        ),
        ("grep", {"pattern": "return 2", "output_mode": "content"}),
        ("read_file", {"file_path": "/docs/link"}),
        ("write_file", {"file_path": "/docs/link", "content": "pwned"}),
        ("read_file", {"file_path": "/../outside/secret.txt"}),
        ("read_file", {"file_path": "/.env"}),
        ("ls", {"path": "/"}),
    ]
    turns: list[AIMessage | str] = [
        AIMessage(content="", tool_calls=[{"name": n, "args": a, "id": f"call_{i}"}])
        for i, (n, a) in enumerate(calls)
    ]
    turns.append("done")
    agent = create_deep_agent(
        model=ScriptedChatModel(messages=iter(turns)), backend=JailBackend(fs)
    )
    result = agent.invoke({"messages": [HumanMessage("Make main() return 2.")]})
    msgs = {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}
    assert len(msgs) == len(calls)

    assert msgs["call_0"].status == "success" and "return 1" in str(msgs["call_0"].content)
    assert msgs["call_1"].status == "success"
    assert "return 2" in str(msgs["call_2"].content) and "/src/app.py" in str(
        msgs["call_2"].content
    )
    for call_id, needle in [
        ("call_3", "points outside the jail"),
        ("call_4", "points outside the jail"),
        ("call_5", ""),  # refused by deepagents' own path check before reaching the backend
        ("call_6", "denied by rule secrets[0] '.env'"),
    ]:
        message = msgs[call_id]
        assert message.status == "error", (call_id, message.content)
        assert needle in str(message.content), (call_id, message.content)
    listing = str(msgs["call_7"].content)
    assert "/src/" in listing and ".env" not in listing
    assert result["messages"][-1].content == "done"

    assert (tmp_path / "work" / "src" / "app.py").read_text() == "def main():\n    return 2\n"
    assert snapshot(tmp_path / "outside") == before
    tagged = {(r["tool"], r["op"], r["decision"]) for r in fs.audit.records()}
    assert ("edit_file", "pipe_file", "allow") in tagged
    assert ("read_file", "open", "deny") in tagged
    assert ("write_file", "pipe_file", "deny") in tagged
    assert ("grep", "find", "allow") in tagged


# -- the backend, method by method ----------------------------------------------------------------


def test_is_a_backend(backend: JailBackend) -> None:
    assert isinstance(backend, BackendProtocol)
    assert type(backend).delete is not BackendProtocol.delete  # delete is supported


def test_ls(backend: JailBackend) -> None:
    result = backend.ls("/")
    assert isinstance(result, LsResult) and result.error is None
    assert result.entries is not None
    by_path = {e["path"]: e for e in result.entries}
    assert by_path["/src/"]["is_dir"] is True
    assert by_path["/README.md"]["is_dir"] is False and by_path["/README.md"]["size"] == 21
    assert "modified_at" in by_path["/README.md"]
    assert "/.env" not in by_path and "/docs/" in by_path
    assert backend.ls("/docs").entries == []  # the link leads outside: not listed
    assert backend.ls("/nope").error == "Path '/nope': path_not_found"
    assert backend.ls("/README.md").error == "Path '/README.md': not_a_directory"
    assert "climbs above" in str(backend.ls("/../outside").error)


def test_read(backend: JailBackend) -> None:
    whole = backend.read("/notes.txt")
    assert isinstance(whole, ReadResult) and whole.error is None and whole.file_data is not None
    assert whole.file_data["encoding"] == "utf-8"
    assert whole.file_data["content"] == "".join(f"note {i}\n" for i in range(1, 11))
    assert (whole.start_line, whole.end_line, whole.total_lines, whole.next_offset) == (
        1,
        10,
        10,
        None,
    )
    page = backend.read("/notes.txt", offset=2, limit=3)
    assert page.file_data is not None and page.file_data["content"] == "note 3\nnote 4\nnote 5\n"
    assert (page.start_line, page.end_line, page.total_lines, page.next_offset) == (3, 5, 10, 5)
    assert "exceeds file length" in str(backend.read("/notes.txt", offset=10).error)
    assert backend.read("/notes.txt", limit=0).no_lines_requested
    blank = backend.read("/blank.txt")
    assert blank.error is None and blank.file_data == {"content": "", "encoding": "utf-8"}
    image = backend.read("/pic.png")
    assert image.file_data is not None and image.file_data["encoding"] == "base64"
    assert "points outside the jail" in str(backend.read("/docs/link").error)
    assert "secrets[0]" in str(backend.read("/.env").error)
    assert "no such file" in str(backend.read("/nope.txt").error)


def test_write_edit_delete(backend: JailBackend, tmp_path: Path) -> None:
    work = tmp_path / "work"
    written = backend.write("/new/f.txt", "a\nb\n")
    assert isinstance(written, WriteResult) and written.path == "/new/f.txt" and not written.error
    assert (work / "new" / "f.txt").read_text() == "a\nb\n"
    refused = backend.write("/docs/link", "x")
    assert refused.path is None and str(refused.error).startswith("Error:")

    edited = backend.edit("/src/pkg/mod.py", "VALUE = 1", "VALUE = 2")
    assert isinstance(edited, EditResult) and edited.occurrences == 1
    assert edited.path == "/src/pkg/mod.py"
    twice = backend.edit("/notes.txt", "note", "NOTE")
    assert twice.occurrences is None and "10 times" in str(twice.error)
    every = backend.edit("/notes.txt", "note", "NOTE", replace_all=True)
    assert every.occurrences == 10 and (work / "notes.txt").read_text().count("NOTE") == 10
    assert "0 matches" in str(backend.edit("/notes.txt", "absent", "x").error)

    deleted = backend.delete("/new")
    assert isinstance(deleted, DeleteResult) and deleted.path == "/new" and not deleted.error
    assert not (work / "new").exists()
    assert backend.delete("/nope").error is not None
    assert backend.delete("/").error is not None


def test_grep_and_glob(backend: JailBackend) -> None:
    found = backend.grep("return")
    assert isinstance(found, GrepResult) and found.error is None and found.matches is not None
    assert [(m["path"], m["line"], m["text"]) for m in found.matches] == [
        ("/README.md", 2, "return policy"),
        ("/src/app.py", 2, "    return 1"),
    ]
    assert backend.grep("(a+)+$").matches == []  # a literal, not a regex
    only_py = backend.grep("=", glob="*.py")
    assert only_py.matches is not None and {m["path"] for m in only_py.matches} == {
        "/src/pkg/mod.py"
    }
    capped = backend.grep("note", path="/notes.txt", max_count=3)
    assert capped.matches is not None and len(capped.matches) == 3 and capped.truncated
    exact = backend.grep("note 1\n".strip(), path="/", max_count=2)
    assert exact.matches is not None and len(exact.matches) == 2 and not exact.truncated
    assert backend.grep("API_KEY").matches == []
    assert "secrets[0]" in str(backend.grep("x", path="/.env").error)

    globbed = backend.glob("*.py")
    assert isinstance(globbed, GlobResult) and globbed.matches is not None
    assert [m["path"] for m in globbed.matches] == ["/src/app.py", "/src/pkg/mod.py"]
    assert [m["path"] for m in (backend.glob("/*.md").matches or [])] == ["/README.md"]
    assert [m["path"] for m in (backend.glob("pkg/*.py", "/src").matches or [])] == [
        "/src/pkg/mod.py"
    ]
    assert backend.glob("../*").matches is None and backend.glob("../*").error
    assert backend.glob("*", "/nope").matches == []


def test_upload_and_download(backend: JailBackend, tmp_path: Path) -> None:
    up = backend.upload_files(
        [("/up/a.bin", b"\x00\x01"), ("/docs/link", b"x"), ("/.env", b"x"), ("/src", b"x")]
    )
    assert all(isinstance(r, FileUploadResponse) for r in up)
    assert [r.error for r in up] == [None, "permission_denied", "permission_denied", "is_directory"]
    assert (tmp_path / "work" / "up" / "a.bin").read_bytes() == b"\x00\x01"
    down = backend.download_files(["/up/a.bin", "/nope", "/docs/link", "/src", "/a\x00b"])
    assert all(isinstance(r, FileDownloadResponse) for r in down)
    assert down[0].content == b"\x00\x01" and down[0].error is None
    assert [r.error for r in down[1:]] == [
        "file_not_found",
        "permission_denied",
        "is_directory",
        "invalid_path",
    ]
    assert all(r.content is None for r in down[1:])


def test_async_variants(backend: JailBackend) -> None:
    import asyncio

    async def go() -> tuple[LsResult, ReadResult, GrepResult]:
        return await asyncio.gather(
            backend.als("/"), backend.aread("/README.md"), backend.agrep("demo")
        )

    ls, read, grep = asyncio.run(go())
    assert ls.entries and read.file_data and grep.matches
