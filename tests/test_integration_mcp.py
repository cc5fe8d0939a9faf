"""The MCP server, driven by the SDK's real stdio client against `python -m
jailfs.integrations.mcp CONFIG` in a subprocess; then the audit log on disk."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import anyio
import mcp.types as types
from mcp import ClientSession, StdioServerParameters, stdio_client

import jailfs
from conftest import snapshot
from jailfs import JailFileSystem
from jailfs.audit import read_log
from jailfs.integrations.mcp import (
    TOOLS,
    apply_edits,
    build_server,
    format_size,
    main,
    offered_tools,
    unified_diff,
)
from jailfs.tools import ToolError

#: where the jailfs package the tests import lives: the server subprocess imports the same one
SOURCE = Path(jailfs.__file__).resolve().parents[1]

READ_TOOLS = {
    "read_text_file",
    "read_media_file",
    "read_multiple_files",
    "list_directory",
    "list_directory_with_sizes",
    "directory_tree",
    "search_files",
    "get_file_info",
    "list_allowed_directories",
}
WRITE_TOOLS = {"write_file", "edit_file", "create_directory", "move_file"}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def make_jail(tmp_path: Path, write: str = '["**"]') -> Path:
    work = tmp_path / "work"
    (work / "src" / "pkg").mkdir(parents=True)
    (work / "docs").mkdir()
    (work / "src" / "app.py").write_text("import os\n\ndef main():\n    return 1\n")
    (work / "src" / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (work / "README.md").write_text("# demo\n")
    (work / "logo.png").write_bytes(PNG)
    (work / ".env").write_text("API_KEY=hunter2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    os.symlink("../../outside/secret.txt", work / "docs" / "link")
    config = tmp_path / "jailfs.toml"
    config.write_text(f'root = "work"\n[rules]\nwrite = {write}\n[audit]\ndir = "audit"\n')
    return config


def run_client(config: Path, body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Start the server as a subprocess, connect the SDK's stdio client, run ``body``."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "jailfs.integrations.mcp", str(config)],
        env={"PYTHONPATH": str(SOURCE)},
        cwd=str(SOURCE),
    )
    result: dict[str, Any] = {}

    async def session() -> None:
        with anyio.fail_after(120):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                result["value"] = await body(s)

    anyio.run(session)
    return result["value"]


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


def test_real_client_reads_edits_searches_and_gets_errors(tmp_path: Path) -> None:
    config = make_jail(tmp_path)
    outside = snapshot(tmp_path / "outside")
    app = tmp_path / "work" / "src" / "app.py"

    async def body(s: ClientSession) -> dict[str, Any]:
        out: dict[str, Any] = {}
        listed = await s.list_tools()
        out["tools"] = {t.name: t for t in listed.tools}

        async def call(name: str, args: dict[str, Any]) -> types.CallToolResult:
            return await s.call_tool(name, args)

        out["read"] = await call("read_text_file", {"path": "/src/app.py"})
        out["head"] = await call("read_text_file", {"path": "/src/app.py", "head": 1})
        out["tail"] = await call("read_text_file", {"path": "src/app.py", "tail": 1})
        out["both"] = await call("read_text_file", {"path": "src/app.py", "head": 1, "tail": 1})
        out["multi"] = await call("read_multiple_files", {"paths": ["/README.md", "/.env"]})
        edit = {"path": "/src/app.py", "edits": [{"oldText": "return 1", "newText": "return 2"}]}
        out["dry"] = await call("edit_file", {**edit, "dryRun": True})
        out["after_dry"] = app.read_text()
        out["edit"] = await call("edit_file", edit)
        out["edit_missing"] = await call(
            "edit_file", {"path": "/src/app.py", "edits": [{"oldText": "nope", "newText": "x"}]}
        )
        out["search"] = await call("search_files", {"path": "/", "pattern": "**/*.py"})
        out["search_excl"] = await call(
            "search_files", {"path": "/", "pattern": "**/*.py", "excludePatterns": ["pkg"]}
        )
        out["search_env"] = await call("search_files", {"path": "/", "pattern": "**/.env"})
        out["list"] = await call("list_directory", {"path": "/"})
        out["sizes"] = await call("list_directory_with_sizes", {"path": "/", "sortBy": "size"})
        out["tree"] = await call("directory_tree", {"path": "/src"})
        out["info"] = await call("get_file_info", {"path": "/README.md"})
        out["allowed"] = await call("list_allowed_directories", {})
        out["media"] = await call("read_media_file", {"path": "/logo.png"})
        out["write"] = await call("write_file", {"path": "/notes/todo.txt", "content": "hi\n"})
        out["mkdir"] = await call("create_directory", {"path": "/a/b"})
        out["move"] = await call("move_file", {"source": "/notes", "destination": "/a/notes"})
        out["move_exists"] = await call(
            "move_file", {"source": "/README.md", "destination": "/src/app.py"}
        )
        # refusals: error results, and the server keeps serving
        out["link"] = await call("read_text_file", {"path": "/docs/link"})
        out["dotdot"] = await call("read_text_file", {"path": "../outside/secret.txt"})
        out["write_out"] = await call("write_file", {"path": "../outside/x.txt", "content": "x"})
        out["write_link"] = await call("write_file", {"path": "/docs/link", "content": "x"})
        out["env"] = await call("read_text_file", {"path": "/.env"})
        out["bad_args"] = await call("read_text_file", {"pth": "/README.md"})
        out["unknown"] = await call("delete_everything", {})
        out["still_alive"] = await call("list_allowed_directories", {})
        return out

    out = run_client(config, body)

    tools = out["tools"]
    assert set(tools) == READ_TOOLS | WRITE_TOOLS
    for name in READ_TOOLS:
        assert tools[name].annotations.read_only_hint is True
    for name in WRITE_TOOLS:
        assert tools[name].annotations.read_only_hint is False
    assert tools["write_file"].annotations.destructive_hint is True
    assert tools["write_file"].annotations.idempotent_hint is True
    assert tools["create_directory"].annotations.destructive_hint is False
    assert tools["edit_file"].annotations.idempotent_hint is False
    assert tools["edit_file"].input_schema["properties"]["edits"]["items"]["required"] == [
        "oldText",
        "newText",
    ]

    assert text_of(out["read"]) == "import os\n\ndef main():\n    return 1\n"
    assert text_of(out["head"]) == "import os"
    assert text_of(out["tail"]) == "    return 1"
    assert out["both"].is_error
    multi = text_of(out["multi"])
    assert not out["multi"].is_error
    assert (
        "/README.md:\n# demo\n" in multi and "/.env: Error - " in multi and "hunter2" not in multi
    )

    dry = text_of(out["dry"])
    assert not out["dry"].is_error
    assert dry.startswith("```diff\n")
    assert "--- /src/app.py\toriginal" in dry and "+++ /src/app.py\tmodified" in dry
    assert "-    return 1" in dry and "+    return 2" in dry
    assert out["after_dry"].endswith("return 1\n")  # dry run: unchanged
    assert "+    return 2" in text_of(out["edit"])
    assert app.read_text() == "import os\n\ndef main():\n    return 2\n"
    assert out["edit_missing"].is_error and "Could not find" in text_of(out["edit_missing"])

    assert text_of(out["search"]).splitlines() == ["/src/app.py", "/src/pkg/mod.py"]
    assert text_of(out["search_excl"]).splitlines() == ["/src/app.py"]
    assert text_of(out["search_env"]) == "No matches found"
    listing = text_of(out["list"]).splitlines()
    assert "[DIR] src" in listing and "[FILE] README.md" in listing
    assert not any(".env" in line for line in listing)
    assert "Combined size:" in text_of(out["sizes"])
    tree = json.loads(text_of(out["tree"]))
    assert tree == [
        {"name": "app.py", "type": "file"},
        {"name": "pkg", "type": "directory", "children": [{"name": "mod.py", "type": "file"}]},
    ]
    assert "size: 7" in text_of(out["info"]) and "isFile: true" in text_of(out["info"])
    assert text_of(out["allowed"]) == "Allowed directories:\n/"
    image = out["media"].content[0]
    assert isinstance(image, types.ImageContent)
    assert image.mime_type == "image/png" and base64.b64decode(image.data) == PNG
    assert not out["write"].is_error and not out["mkdir"].is_error and not out["move"].is_error
    assert (tmp_path / "work" / "a" / "notes" / "todo.txt").read_text() == "hi\n"
    assert out["move_exists"].is_error and "already exists" in text_of(out["move_exists"])

    for key in ("link", "dotdot", "write_out", "write_link", "env", "bad_args", "unknown"):
        assert out[key].is_error, key
        assert text_of(out[key]).startswith("Error:"), key
    assert "points outside the jail" in text_of(out["link"])
    assert "climbs above the jail's root" in text_of(out["dotdot"])
    assert text_of(out["env"]) == "Error: '.env' is denied by rule secrets[0] '.env'"
    assert text_of(out["still_alive"]) == "Allowed directories:\n/"
    assert snapshot(tmp_path / "outside") == outside

    # every call that reached the jail left its record, tagged with the MCP tool's name
    records = [r for r in read_log(tmp_path / "audit") if r["op"] != "session"]
    seen = {(r["tool"], r["op"], r["decision"], r["path"]) for r in records}
    assert ("read_text_file", "cat_file", "allow", "src/app.py") in seen
    assert ("edit_file", "pipe_file", "allow", "src/app.py") in seen
    assert ("search_files", "find", "allow", "") in seen
    assert ("read_media_file", "cat_file", "allow", "logo.png") in seen
    assert ("read_text_file", "cat_file", "deny", ".env") in seen
    assert ("read_multiple_files", "cat_file", "deny", ".env") in seen
    escapes = [r for r in records if r["reason"] == "escape"]
    assert {(r["tool"], r["path"]) for r in escapes} >= {
        ("read_text_file", "docs/link"),
        ("read_text_file", "../outside/secret.txt"),
        ("write_file", "../outside/x.txt"),
        ("write_file", "docs/link"),
    }
    dry_runs = [r for r in records if r["tool"] == "edit_file" and r["op"] == "pipe_file"]
    assert len(dry_runs) == 1  # the dry run wrote nothing


def test_read_only_config_offers_no_write_tools(tmp_path: Path) -> None:
    config = make_jail(tmp_path, write="[]")

    async def body(s: ClientSession) -> tuple[set[str], types.CallToolResult]:
        listed = await s.list_tools()
        refused = await s.call_tool("write_file", {"path": "/x.txt", "content": "x"})
        return {t.name for t in listed.tools}, refused

    names, refused = run_client(config, body)
    assert names == READ_TOOLS
    assert refused.is_error
    assert not (tmp_path / "work" / "x.txt").exists()


# -- in-process pieces ----------------------------------------------------------------------------


def test_offered_tools_follow_the_write_list(tmp_path: Path) -> None:
    config = make_jail(tmp_path, write='["src/**"]')
    fs = JailFileSystem.from_config(config)
    try:
        assert {t.name for t in offered_tools(fs)} == READ_TOOLS | WRITE_TOOLS
        assert type(build_server(fs)).__name__ == "Server"
    finally:
        fs.close()
    fs = JailFileSystem.from_config(config, write=[])
    try:
        assert {t.name for t in offered_tools(fs)} == READ_TOOLS
    finally:
        fs.close()
    assert {t.name for t in TOOLS} == READ_TOOLS | WRITE_TOOLS


def test_apply_edits_and_diff() -> None:
    text = "def f():\n    if x:\n        return 1\n"
    assert apply_edits(text, [("return 1", "return 2")]) == text.replace("1", "2")
    # whitespace-insensitive line match, re-indented like the file
    flexible = apply_edits(text, [("if x:\n    return 1", "if y:\n    return 3")])
    assert flexible == "def f():\n    if y:\n        return 3\n"
    with pytest.raises(ToolError):
        apply_edits(text, [("return 1", "return 2"), ("return 1", "again")])
    diff = unified_diff("a\nb\n", "a\nc", "/f.txt")
    assert diff.splitlines()[:3] == ["=" * 67, "--- /f.txt\toriginal", "+++ /f.txt\tmodified"]
    assert "-b" in diff and "+c" in diff and "\\ No newline at end of file" in diff
    assert format_size(0) == "0 B" and format_size(1023) == "1023 B"
    assert format_size(1536) == "1.50 KB"


def test_main_reports_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "jailfs.toml").write_text("root = 'nope'\nbogus = 1\n")
    assert main([str(tmp_path / "jailfs.toml")]) == 1
    assert "bogus" in capsys.readouterr().err
