"""A LangChain agent loop (langchain.agents.create_agent) with a scripted chat model, working in a
jail through JailToolkit: the edit lands, escapes come back as error tool messages, the outside
is untouched."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain")

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool

from conftest import snapshot
from jailfs import JailFileSystem
from jailfs.integrations.langchain import JailToolkit
from jailfs.tools import TOOL_NAMES, WRITE_TOOLS


class ScriptedChatModel(GenericFakeChatModel):
    """GenericFakeChatModel replays its messages; agents also need ``bind_tools``."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        return self


def script(*calls: tuple[str, dict[str, Any]]) -> ScriptedChatModel:
    """One tool call per model turn, then a final answer."""
    turns: list[AIMessage | str] = [
        AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{i}"}])
        for i, (name, args) in enumerate(calls)
    ]
    turns.append("done")
    return ScriptedChatModel(messages=iter(turns))


def make_jail(tmp_path: Path, write: str = '["src/**"]') -> Path:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "docs").mkdir()
    (work / "src" / "app.py").write_text("def main():\n    return 1\n")
    (work / "README.md").write_text("# demo\n")
    (work / ".env").write_text("API_KEY=hunter2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("top secret\n")
    os.utime(outside / "secret", (1_500_000_000, 1_500_000_000))
    os.symlink("../../outside/secret", work / "docs" / "link")
    config = tmp_path / "jailfs.toml"
    config.write_text(f'root = "work"\n[rules]\nwrite = {write}\n[audit]\ndir = "audit"\n')
    return config


def tool_messages(result: dict[str, Any]) -> dict[str, ToolMessage]:
    return {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}


def test_agent_loop_in_a_jail(tmp_path: Path) -> None:
    # docs/ is writable, so the write through docs/link is refused as an escape, not by rule
    config = make_jail(tmp_path, write='["src/**", "docs/**"]')
    outside = tmp_path / "outside"
    before = snapshot(outside)
    secret = outside / "secret"
    secret_bytes, secret_mtime = secret.read_bytes(), secret.stat().st_mtime_ns
    fs = JailFileSystem.from_config(config)
    try:
        tools = JailToolkit(fs).get_tools()
        model = script(
            ("read_file", {"path": "/src/app.py"}),
            (
                "edit_file",
                {"path": "/src/app.py", "old_string": "return 1", "new_string": "return 2"},
            ),
            ("grep", {"pattern": "return \\d", "output_mode": "content"}),
            ("read_file", {"path": "../outside/secret"}),
            ("read_file", {"path": "/docs/link"}),
            ("write_file", {"path": "/docs/link", "content": "pwned"}),
            ("read_file", {"path": "/.env"}),
            ("list_dir", {"path": "/"}),
        )
        agent = create_agent(model, tools=tools)
        result = agent.invoke({"messages": [HumanMessage("Change main() to return 2.")]})
        records = fs.audit.records()
    finally:
        fs.close()

    msgs = tool_messages(result)
    assert len(msgs) == 8
    assert msgs["call_0"].status == "success" and "     2\t    return 1" in msgs["call_0"].content
    assert msgs["call_1"].status == "success" and "Edited 'src/app.py'" in msgs["call_1"].content
    assert msgs["call_2"].content == "src/app.py:2:    return 2"
    for call_id, needle in [
        ("call_3", "climbs above the jail's root"),
        ("call_4", "'docs/link' is a symlink that points outside the jail"),
        ("call_5", "points outside the jail"),
        ("call_6", "denied by rule secrets[0] '.env'"),
    ]:
        message = msgs[call_id]
        assert message.status == "error", call_id
        assert str(message.content).startswith("Error:") and needle in message.content, call_id
    assert ".env" not in msgs["call_7"].content and "src/" in msgs["call_7"].content
    assert result["messages"][-1].content == "done"

    assert (tmp_path / "work" / "src" / "app.py").read_text() == "def main():\n    return 2\n"
    assert secret.read_bytes() == secret_bytes
    assert secret.stat().st_mtime_ns == secret_mtime
    assert snapshot(outside) == before

    tagged = {(r["tool"], r["op"], r["decision"]) for r in records if r["op"] != "session"}
    assert ("edit_file", "pipe_file", "allow") in tagged
    assert ("read_file", "open", "deny") in tagged
    assert ("write_file", "pipe_file", "deny") in tagged


def test_toolkit_offers_tools_by_policy(tmp_path: Path) -> None:
    config = make_jail(tmp_path, write="[]")
    fs = JailFileSystem.from_config(config)
    try:
        read_only: list[BaseTool] = JailToolkit(fs).get_tools()
        assert {t.name for t in read_only} == set(TOOL_NAMES) - WRITE_TOOLS
        everything = JailToolkit(fs, include_write=True).get_tools()
        assert [t.name for t in everything] == list(TOOL_NAMES)
        picked = JailToolkit(fs, tools=["grep", "read_file"]).get_tools()
        assert [t.name for t in picked] == ["grep", "read_file"]
        with pytest.raises(ValueError, match="unknown"):
            JailToolkit(fs, tools=["rm_rf"])
        grep = next(t for t in read_only if t.name == "grep")
        assert isinstance(grep, StructuredTool)
        assert grep.tool_call_schema["properties"]["pattern"]["type"] == "string"  # type: ignore[index]
        assert grep.invoke({"pattern": "demo"}) == "README.md"
        refused: Callable[..., Any] = next(t for t in everything if t.name == "write_file").invoke
        message = refused(
            {
                "name": "write_file",
                "args": {"path": "x", "content": "y"},
                "id": "1",
                "type": "tool_call",
            }
        )
        assert isinstance(message, ToolMessage) and message.status == "error"
        assert "read-only" in str(message.content)
    finally:
        fs.close()
