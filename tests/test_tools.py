"""The agent tools (jailfs.tools): output formats, edits, grep/glob, refusals and their audit."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import snapshot
from jailfs import JailFileSystem
from jailfs.audit import read_log
from jailfs.tools import (
    GLOB_LIMIT,
    MAX_LINE_CHARS,
    TOOL_NAMES,
    WRITE_TOOLS,
    JailTools,
    ToolError,
    compile_glob,
    compile_regex,
)

CONFIG = """\
root = "work"
[rules]
write = {write}
[audit]
dir = "audit"
"""


def make_tree(tmp_path: Path, write: str = '["**"]') -> Path:
    """tmp_path/{jailfs.toml, audit/, work/ (the jail), outside/ (must never change)}."""
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "docs").mkdir()
    (work / "src" / "app.py").write_text("import os\n\ndef main():\n    return 1\n")
    (work / "src" / "util.py").write_text("def helper():\n    return 'Hello'\n")
    (work / "README.md").write_text("# demo\nhello world\n")
    (work / ".env").write_text("API_KEY=hunter2\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    os.symlink("../../outside/secret.txt", work / "docs" / "link")
    os.symlink("../src/app.py", work / "docs" / "app_link.py")
    config = tmp_path / "jailfs.toml"
    config.write_text(CONFIG.format(write=write))
    return config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


@pytest.fixture
def fs(config: Path) -> Iterator[JailFileSystem]:
    jail = JailFileSystem.from_config(config)
    yield jail
    jail.close()


@pytest.fixture
def tools(fs: JailFileSystem) -> JailTools:
    return JailTools(fs)


@pytest.fixture
def root(config: Path) -> Path:
    """The jail's root directory on the host."""
    return config.parent / "work"


# -- read_file -----------------------------------------------------------------------------------


def test_read_file_numbers_lines_like_cat_n(tools: JailTools) -> None:
    out = tools.read_file("src/app.py")
    assert out.splitlines() == [
        "     1\timport os",
        "     2\t",
        "     3\tdef main():",
        "     4\t    return 1",
    ]
    assert "stopped" not in out


def test_read_file_pages_with_offset_and_limit(
    tools: JailTools, fs: JailFileSystem, root: Path
) -> None:
    (root / "many.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = tools.read_file("/many.txt", offset=3, limit=4)
    lines = out.splitlines()
    assert lines[:4] == ["     3\tline 3", "     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert "stopped early" in out and "3-6 of 10" in out and "offset=7" in out
    rest = tools.read_file("/many.txt", offset=7)
    assert rest.splitlines()[0] == "     7\tline 7" and rest.splitlines()[-1] == "    10\tline 10"
    assert "stopped" not in rest
    assert tools.call("read_file", {"path": "many.txt", "offset": 11}).startswith("Error:")
    assert "10 lines" in tools.call("read_file", {"path": "many.txt", "offset": 11})
    assert tools.call("read_file", {"path": "many.txt", "offset": 0}).startswith("Error:")


def test_read_file_cuts_long_lines(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    (root / "long.txt").write_text("x" * 5000 + "\nshort\n")
    first, second = tools.read_file("long.txt").splitlines()
    number, text = first.split("\t", 1)
    assert number.strip() == "1"
    assert text.startswith("x" * MAX_LINE_CHARS)
    assert "x" * (MAX_LINE_CHARS + 1) not in text
    assert "line cut" in text and "5000" in text
    assert second == "     2\tshort"


def test_read_file_empty_and_missing(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    (root / "empty.txt").write_bytes(b"")
    assert "empty" in tools.read_file("empty.txt")
    missing = tools.read_file("nope.txt")
    assert missing.startswith("Error: no such file") and "'nope.txt'" in missing
    assert tools.read_file("src").startswith("Error: 'src' is a directory")


def test_read_file_binary_message_and_base64_round_trip(
    tools: JailTools, fs: JailFileSystem, root: Path
) -> None:
    blob = bytes(range(256)) * 40
    (root / "blob.bin").write_bytes(blob)
    (root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    message = tools.read_file("blob.bin")
    assert not message.startswith("Error") and "binary" in message and "base64" in message
    assert "binary" in tools.read_file("latin1.txt")  # not UTF-8: binary too
    encoded = tools.call("read_file", {"path": "blob.bin", "encoding": "base64"})
    assert base64.b64decode(encoded, validate=True) == blob


# -- edits ---------------------------------------------------------------------------------------


def test_edit_file_requires_exactly_one_match(
    tools: JailTools, fs: JailFileSystem, root: Path
) -> None:
    target = root / "src" / "dup.py"
    target.write_text("x = 1\nx = 1\ny = 2\n")
    before = target.read_bytes()

    none = tools.edit_file("src/dup.py", "z = 3", "z = 4")
    assert none.startswith("Error:") and "0 matches" in none
    two = tools.edit_file("src/dup.py", "x = 1", "x = 9")
    assert two.startswith("Error:") and "2 times" in two and "replace_all" in two
    same = tools.edit_file("src/dup.py", "y = 2", "y = 2")
    assert same.startswith("Error:") and "identical" in same
    assert target.read_bytes() == before

    ok = tools.edit_file("src/dup.py", "y = 2", "y = 3")
    assert ok.startswith("Edited 'src/dup.py'") and "     3\ty = 3" in ok
    assert target.read_text() == "x = 1\nx = 1\ny = 3\n"

    every = tools.call(
        "edit_file",
        {"path": "src/dup.py", "old_string": "x = 1", "new_string": "x = 2", "replace_all": True},
    )
    assert "2 occurrences" in every
    assert target.read_text() == "x = 2\nx = 2\ny = 3\n"


def test_multi_edit_applies_in_order(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    out = tools.multi_edit(
        "src/app.py",
        [
            {"old_string": "def main():", "new_string": "def run():"},
            {"old_string": "def run():\n    return 1", "new_string": "def run():\n    return 2"},
        ],
    )
    assert out.startswith("Applied 2 edits")
    assert (root / "src" / "app.py").read_text() == "import os\n\ndef run():\n    return 2\n"


def test_multi_edit_is_all_or_nothing(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    target = root / "src" / "app.py"
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    before = target.read_bytes()
    st = target.stat()
    out = tools.call(
        "multi_edit",
        {
            "path": "src/app.py",
            "edits": [
                {"old_string": "import os", "new_string": "import sys"},
                {"old_string": "this text is not there", "new_string": "x"},
            ],
        },
    )
    assert out.startswith("Error: edit 2 of 2 failed") and "unchanged" in out
    assert target.read_bytes() == before
    assert target.stat().st_mtime_ns == st.st_mtime_ns
    assert target.stat().st_ino == st.st_ino
    bad = tools.call("multi_edit", {"path": "src/app.py", "edits": [{"old": "x"}]})
    assert bad.startswith("Error:")
    assert target.read_bytes() == before


def test_write_file_creates_parents(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    out = tools.write_file("/new/dir/f.txt", "a\nb\n")
    assert out == "Wrote 4 bytes (2 lines) to 'new/dir/f.txt'."
    assert (root / "new" / "dir" / "f.txt").read_text() == "a\nb\n"


# -- grep ----------------------------------------------------------------------------------------


def test_grep_catastrophic_pattern_finishes(
    tools: JailTools, fs: JailFileSystem, root: Path
) -> None:
    """(a+)+$ backtracks exponentially in a backtracking engine; RE2 is linear."""
    (root / "evil.txt").write_text("a" * 50_000 + "b\n" + "a" * 40 + "\n")
    out = tools.grep("(a+)+$", output_mode="content", glob="evil.txt")
    assert out.splitlines() == ["evil.txt:2:" + "a" * 40]
    count = tools.grep("(a+)+$", output_mode="count")
    assert count.splitlines() == ["evil.txt:1"]


def test_grep_modes_context_case_and_glob(tools: JailTools) -> None:
    files = tools.grep("hello", ignore_case=True)
    assert files.splitlines() == ["README.md", "src/util.py"]
    assert tools.grep("hello").splitlines() == ["README.md"]
    count = tools.grep("return", output_mode="count")
    assert count.splitlines() == ["src/app.py:1", "src/util.py:1"]
    content = tools.grep("def main", output_mode="content", context=1)
    assert content.splitlines() == [
        "src/app.py-2-",
        "src/app.py:3:def main():",
        "src/app.py-4-    return 1",
    ]
    only_py = tools.call("grep", {"pattern": "o", "glob": "*.py"})
    assert only_py.splitlines() == ["src/app.py", "src/util.py"]
    under = tools.call("grep", {"pattern": "def", "path": "/src", "glob": "u*.py"})
    assert under.splitlines() == ["src/util.py"]
    assert tools.grep("zzz_not_there").startswith("No matches")


def test_grep_max_results_and_regex_errors(
    tools: JailTools, fs: JailFileSystem, root: Path
) -> None:
    (root / "many.txt").write_text("hit\n" * 30)
    out = tools.grep("hit", path="many.txt", output_mode="content", max_results=5)
    lines = out.splitlines()
    assert lines[:5] == [f"many.txt:{i}:hit" for i in range(1, 6)]
    assert "stopped after 5" in out
    backref = tools.grep(r"(a)\1")
    assert backref.startswith("Error:") and "RE2" in backref and "backreference" in backref
    assert tools.grep("(?=x)").startswith("Error:")
    assert tools.call("grep", {"pattern": "x", "output_mode": "lines"}).startswith("Error:")


def test_grep_skips_binary_files(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    (root / "data.bin").write_bytes(b"hello\x00world")
    out = tools.grep("hello")
    assert "data.bin" not in out.splitlines()
    assert "1 binary file" in out


# -- glob ----------------------------------------------------------------------------------------


def test_glob_newest_first_and_capped(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    many = root / "many"
    many.mkdir()
    for i in range(GLOB_LIMIT + 20):
        f = many / f"f{i:03}.txt"
        f.write_text("x")
        os.utime(f, (1_600_000_000 + i, 1_600_000_000 + i))
    out = tools.glob("many/*.txt")
    paths = [line for line in out.splitlines() if line.startswith("many/")]
    assert len(paths) == GLOB_LIMIT
    assert paths[0] == f"many/f{GLOB_LIMIT + 19:03}.txt"  # newest first
    assert paths[-1] == "many/f020.txt"
    assert "20 more" in out and f"{GLOB_LIMIT + 20} matches" in out
    assert tools.glob("**/*.py").splitlines()[0].endswith(".py")
    assert set(tools.glob("*.py", path="src").splitlines()) == {"src/app.py", "src/util.py"}
    assert tools.glob("*.nothing").startswith("No files match")
    assert tools.glob("../*").startswith("Error:")


def test_compile_glob() -> None:
    match = compile_glob("src/**/*.py")
    assert match("src/a.py") and match("src/x/y/a.py") and not match("lib/a.py")
    assert compile_glob("*.{py,md}")("a.md") and not compile_glob("*.{py,md}")("a.txt")
    assert compile_glob("[!a]*")("b.txt") and not compile_glob("[!a]*")("a.txt")
    assert not compile_glob("*.py")("src/a.py")
    assert compile_glob("*.py", match_basename=True)("src/a.py")
    assert not compile_glob("/*.py", match_basename=True)("src/a.py")
    assert compile_glob("a+b(c).txt")("a+b(c).txt")
    evil = compile_glob("*a" * 40 + "*c")
    assert not evil("a" * 250)  # linear time: no hang
    with pytest.raises(ToolError):
        compile_regex("(a)\\1")


# -- refusals ------------------------------------------------------------------------------------


def test_denied_file_is_invisible_and_named_in_errors(tools: JailTools) -> None:
    assert ".env" not in tools.list_dir("/")
    assert ".env" not in tools.glob("**")
    assert ".env" not in tools.glob(".*")
    assert "hunter2" not in tools.grep("API_KEY", output_mode="content")
    assert tools.grep("API_KEY").startswith("No matches")
    assert tools.grep("hunter2", path="/", glob=".env").startswith("No matches")
    error = tools.read_file(".env")
    assert error == "Error: '.env' is denied by rule secrets[0] '.env'"
    assert "secrets[0] '.env'" in tools.grep("x", path=".env")
    assert "denied" in tools.write_file(".env", "API_KEY=stolen")
    moved = tools.call("move", {"source": "README.md", "destination": ".env"})
    assert moved.startswith("Error:") and "'.env'" in moved


def test_symlink_escape_returns_error_text_and_outside_is_untouched(
    tools: JailTools, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    before = snapshot(outside)
    text = "points outside the jail"
    assert tools.read_file("docs/link") == f"Error: 'docs/link' is a symlink that {text}"
    assert text in tools.read_file("/docs/link", encoding="base64")
    assert text in tools.write_file("docs/link", "pwned")
    assert text in tools.edit_file("docs/link", "top", "bottom")
    assert text in tools.info("docs/link")
    assert "climbs above the jail's root" in tools.read_file("../outside/secret.txt")
    assert "climbs above" in tools.write_file("../outside/new.txt", "x")
    assert "climbs above" in tools.list_dir("../outside")
    assert tools.grep("top secret", output_mode="content").startswith("No matches")
    assert tools.grep("top", path="docs", output_mode="content").startswith("No matches")
    assert "-> (a target outside the jail" in tools.list_dir("docs")
    assert snapshot(outside) == before
    assert not (tmp_path / "outside" / "new.txt").exists()


def test_symlink_inside_the_jail_works(tools: JailTools) -> None:
    assert tools.read_file("docs/app_link.py").startswith("     1\timport os")
    assert "app_link.py -> src/app.py" in tools.list_dir("docs")


def test_read_only_jail(tmp_path: Path) -> None:
    fs = JailFileSystem.from_config(make_tree(tmp_path, write="[]"))
    try:
        tools = JailTools(fs)
        assert not tools.writable
        assert set(tools.tool_names()) == set(TOOL_NAMES) - WRITE_TOOLS
        out = tools.write_file("x.txt", "x")
        assert out.startswith("Error:") and "read-only" in out
        assert tools.edit_file("README.md", "demo", "x").startswith("Error:")
        assert (tmp_path / "work" / "README.md").read_text() == "# demo\nhello world\n"
    finally:
        fs.close()


# -- the other tools -----------------------------------------------------------------------------


def test_list_dir_info_mkdir_move_delete(tools: JailTools, fs: JailFileSystem, root: Path) -> None:
    listing = tools.list_dir()
    assert listing.splitlines()[:2] == ["docs/", "src/"]
    assert "README.md  (19 B)" in listing
    assert tools.mkdir("a/b") == "Created the directory 'a/b'."
    assert "already exists" in tools.mkdir("a/b")
    info = tools.info("src/app.py")
    assert "type: file" in info and "size: 36 bytes" in info and "permissions: 0" in info
    assert tools.move("README.md", "a/b/README.md") == "Moved 'README.md' to 'a/b/README.md'."
    assert "already exists" in tools.move("src/app.py", "src/util.py")
    assert (root / "src" / "util.py").read_text().startswith("def helper")
    assert "not empty" in tools.delete("a")
    assert tools.delete("a", recursive=True).startswith("Deleted the directory 'a'")
    assert not (root / "a").exists()
    assert tools.delete("docs/link") == "Deleted 'docs/link'."  # the link, not its target
    assert (root.parent / "outside" / "secret.txt").exists()
    assert tools.delete("/").startswith("Error:")


# -- the dispatcher and the audit ----------------------------------------------------------------


def test_specs_are_function_calling_schemas() -> None:
    specs = JailTools.specs()
    assert [s["name"] for s in specs] == list(TOOL_NAMES)
    for spec in specs:
        assert set(spec) == {"name", "description", "parameters"}
        assert spec["parameters"]["type"] == "object"
        for required in spec["parameters"].get("required", []):
            assert required in spec["parameters"]["properties"]
    assert [s["name"] for s in JailTools.specs(["grep"])] == ["grep"]


def test_call_never_raises(tools: JailTools) -> None:
    weird: list[tuple[str, object]] = [
        ("nope", {}),
        ("read_file", {}),
        ("read_file", {"path": 3}),
        ("read_file", {"path": "a\x00b"}),
        ("read_file", {"path": "x" * 5000}),
        ("read_file", {"path": "README.md", "limit": "lots"}),
        ("read_file", {"path": "README.md", "bogus": 1}),
        ("read_file", ["README.md"]),
        ("multi_edit", {"path": "README.md", "edits": "nope"}),
        ("grep", {"pattern": "(" * 5000}),
        ("glob", {"pattern": "{a,b}" * 10}),
    ]
    for name, args in weird:
        out = tools.call(name, args)  # type: ignore[arg-type]
        assert out.startswith("Error:"), (name, args, out)
    assert tools.call("read_file", {"path": "README.md", "limit": "1"}).startswith("     1\t#")
    assert tools.run("read_file", {"path": "nope"}).is_error
    assert not tools.run("read_file", {"path": "README.md"}).is_error


def test_audit_records_carry_the_tool_name(tools: JailTools, fs: JailFileSystem) -> None:
    tools.read_file("README.md")
    tools.read_file(".env")
    tools.edit_file("src/app.py", "return 1", "return 2")
    tools.grep("hello")
    tools.read_file("../outside/secret.txt")
    records = fs.audit.records()
    by_tool: dict[str, list[dict[str, object]]] = {}
    for record in records:
        by_tool.setdefault(str(record.get("tool")), []).append(record)
    assert {"read_file", "edit_file", "grep"} <= set(by_tool)
    reads = by_tool["read_file"]
    assert any(r["path"] == ".env" and r["decision"] == "deny" for r in reads)
    assert any(r["reason"] == "escape" for r in reads)
    assert {r["op"] for r in by_tool["edit_file"]} == {"cat_file", "pipe_file"}
    assert any(r["op"] == "find" for r in by_tool["grep"])
    on_disk = [r for r in read_log(Path(fs.audit.segment).parent) if r.get("tool") == "edit_file"]  # type: ignore[arg-type]
    assert len(on_disk) == 2
