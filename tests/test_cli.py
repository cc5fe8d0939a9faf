"""The ``jailfs`` command, layer by layer: each command's output, ``--json`` shapes, exit codes.

Commands run in-process through typer's CliRunner (the app object of ``jailfs_cli.app``), and as a
subprocess where a signal or a second process matters. Every test builds its own tree under
``tmp_path``: ``base/outside/secret.txt`` (outside the root) and ``base/proj`` (the root, with its
``jailfs.toml``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from jailfs import JailFileSystem
from jailfs.config import load_config
from jailfs_cli.app import app

SECRET = "OUTSIDE-SECRET-7f3a"
CONFIG = """\
root = "."
[rules]
write = ["src/**"]
[audit]
dir = ".jailfs-audit"
actor = "agent"
"""
CLI = [sys.executable, "-c", "from jailfs_cli.app import main; main()"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A jail root with a config, secrets and links; the current directory is the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / ".ssh").mkdir()
    (root / "src" / "a.py").write_text("print('a')\n")
    (root / "src" / "b.py").write_text("print('b')\n")
    (root / "README.md").write_text("# readme\n")
    (root / ".env").write_text("KEY=sk-123\n")
    (root / ".ssh" / "id_rsa").write_text("key\n")
    (root / "docs" / "link").symlink_to(Path("..", "..", "outside", "secret.txt"))
    (root / "docs" / "alias").symlink_to(Path("..", "src", "a.py"))
    (root / "jailfs.toml").write_text(CONFIG)
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("JAILFS_CONFIG", raising=False)
    return root


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def run_json(*args: str, code: int = 0) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def one_error_line(result: Result) -> str:
    """The error output: exactly one line, starting with "jailfs: error: ", no traceback."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jailfs: error: ")
    assert "Traceback" not in result.output
    return lines[0]


def agent_session(root: Path) -> list[dict[str, Any]]:
    """Calls of a known shape, made by an agent through a jail from the config."""
    fs = JailFileSystem.from_config(root / "jailfs.toml")
    try:
        fs.cat_file("src/a.py")  # 11 bytes
        fs.cat_file("README.md")  # 9 bytes
        fs.pipe_file("src/c.py", b"12345")  # 5 bytes written
        for path in (".env", ".env", "../outside/secret.txt"):
            with pytest.raises(PermissionError):
                fs.cat_file(path)
        with pytest.raises(FileNotFoundError):
            fs.cat_file("missing.txt")
        fs.ls("src")
        return fs.audit.records()
    finally:
        fs.close()


# -- the app as a whole ------------------------------------------------------------------------


def test_every_command_has_help() -> None:
    group = typer.main.get_command(app)
    commands = group.commands  # type: ignore[attr-defined]
    expected = {"init", "check", "ls", "tree", "cat", "log", "verify", "stats", "watch", "mcp"}
    assert expected | {"demo"} <= set(commands)
    for name, command in commands.items():
        assert command.help and command.help.strip(), f"{name} has no help"
        result = run(name, "--help")
        assert result.exit_code == 0, (name, result.output)
        first = command.help.strip().splitlines()[0]
        assert first.split()[0] in result.stdout, (name, result.stdout)


def test_version_and_top_help() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("jailfs ")
    result = run("--help")
    assert result.exit_code == 0
    assert "--install-completion" in result.stdout
    for name in ("check", "demo", "verify"):
        assert name in result.stdout


def test_shell_completion(project: Path) -> None:
    env = {**os.environ, "_JAILFS_COMPLETE": "complete_bash", "COMP_WORDS": "jailfs ch"}
    env["COMP_CWORD"] = "1"
    script = "import sys; sys.argv[0] = 'jailfs'; from jailfs_cli.app import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.split() == ["check"], proc.stderr
    env["COMP_WORDS"], env["COMP_CWORD"] = "jailfs check --o", "2"
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert "--op" in proc.stdout.split()


def test_usage_errors_exit_2(project: Path) -> None:
    assert run("ls", "--no-such-option").exit_code == 2
    assert run("nosuchcommand").exit_code == 2
    assert run("check", "x", "--op", "fly").exit_code == 2
    result = run("log", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "'--since'" in one_error_line(result)


def test_no_config_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("ls")
    assert result.exit_code == 1
    assert "no jailfs.toml" in one_error_line(result)
    result = run("ls", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1
    one_error_line(result)


def test_bad_config_is_one_error_line(project: Path) -> None:
    (project / "jailfs.toml").write_text('root = "."\n[rules]\nwrite = ["[z-a]"]\n')
    result = run("ls")
    assert result.exit_code == 1
    assert "write[0]" in one_error_line(result)


def test_config_found_from_a_subdirectory_and_by_option(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project / "src")
    assert run("check", "src/a.py").exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert run("check", "src/a.py", "--config", str(project / "jailfs.toml")).exit_code == 0
    monkeypatch.setenv("JAILFS_CONFIG", str(project / "jailfs.toml"))
    assert run("check", ".env").exit_code == 3


def test_unexpected_errors_are_one_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(JailFileSystem, "from_config", boom)
    result = run("ls")
    assert result.exit_code == 1
    assert one_error_line(result) == "jailfs: error: internal error: RuntimeError: boom"


# -- init ----------------------------------------------------------------------------------------


def test_init_writes_secure_defaults_and_refuses_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "new"
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    config = target / "jailfs.toml"
    text = config.read_text()
    assert 'root = "."' in text
    assert "write = []" in text
    assert "#" in text  # commented
    kwargs = load_config(config)
    assert kwargs["write"] == []
    assert kwargs["presets"] == ["secrets"]
    assert Path(kwargs["root"]).resolve() == target.resolve()

    config.write_text(text + "# mine\n")
    result = run("init", str(target))
    assert result.exit_code == 1
    assert "--force" in one_error_line(result)
    assert config.read_text().endswith("# mine\n")  # untouched
    assert run("init", str(target), "--force").exit_code == 0
    assert config.read_text() == text

    # the defaults at work: read-only, secrets and the jail's own files denied
    (target / ".env").write_text("X=1\n")
    monkeypatch.chdir(target)
    assert run("check", "anything.txt").exit_code == 0
    assert run("check", "anything.txt", "--op", "write").exit_code == 3
    assert run("check", ".env").exit_code == 3
    assert run_json("check", "jailfs.toml", code=3)["list"] == "internal"
    assert run_json("check", ".jailfs-audit/x.jsonl", code=3)["list"] == "internal"


def test_init_root_option(tmp_path: Path) -> None:
    result = run("init", str(tmp_path), "--root", "work space")
    assert result.exit_code == 0
    assert load_config(tmp_path / "jailfs.toml")["root"] == str(tmp_path / "work space")
    assert "the root does not exist yet" in result.stdout


@pytest.mark.parametrize("root", ['a"b', "a\\b", "a\x7fb", "tab\there", "naïve/ü"])
def test_init_writes_any_root_as_valid_toml(tmp_path: Path, root: str) -> None:
    (tmp_path / root).mkdir(parents=True)
    result = run("init", str(tmp_path), "--root", root)
    assert result.exit_code == 0, result.output
    assert load_config(tmp_path / "jailfs.toml")["root"] == str(tmp_path / root)
    assert "does not exist" not in result.stdout


# -- check ---------------------------------------------------------------------------------------


def test_check_allowed(project: Path) -> None:
    result = run("check", "src/a.py")
    assert result.exit_code == 0
    assert "ALLOWED" in result.stdout
    assert "read[0] '**'" in result.stdout
    data = run_json("check", "/src//a.py", "--op", "write")
    assert data == {
        "op": "write",
        "path": "src/a.py",
        "allowed": True,
        "list": "write",
        "index": 0,
        "pattern": "src/**",
        "source": "config",
        "rule": "write[0] 'src/**'",
        "reason": "allowed by write[0] 'src/**'",
        "resolved": "src/a.py",
        "hops": [],
    }


def test_check_denied(project: Path) -> None:
    result = run("check", ".env")
    assert result.exit_code == 3
    assert "DENIED" in result.stdout
    assert "secrets[0] '.env'" in result.stdout
    data = run_json("check", ".env", code=3)
    assert (data["allowed"], data["list"], data["index"], data["pattern"]) == (
        False,
        "deny",
        0,
        ".env",
    )
    assert data["source"] == "preset:secrets"
    data = run_json("check", "README.md", "--op", "delete", code=3)
    assert (data["op"], data["list"], data["index"]) == ("delete", "write", -1)
    data = run_json("check", ".ssh/id_rsa", code=3)
    assert data["pattern"] == ".ssh/"


def test_check_symlinks_and_escapes(project: Path) -> None:
    data = run_json("check", "docs/alias")
    assert (data["resolved"], data["hops"]) == ("src/a.py", ["docs/alias"])
    result = run("check", "docs/alias")
    assert "docs/alias" in result.stdout and "src/a.py" in result.stdout
    for path in ("docs/link", "../outside/secret.txt", "src/../../outside/secret.txt"):
        data = run_json("check", path, code=3)
        assert data["allowed"] is False
        assert data["list"] == "escape"
        assert SECRET not in json.dumps(data)
    assert run("check", "docs/alias", "--op", "write").exit_code == 3  # src/a.py is writable,
    # but docs/alias is not in the write list: both names must pass


# -- ls and tree ---------------------------------------------------------------------------------


def test_ls_hides_denied(project: Path) -> None:
    names = [e["name"] for e in run_json("ls")]
    assert names == ["README.md", "docs", "src"]
    result = run("ls")
    assert result.exit_code == 0
    assert ".env" not in result.stdout and "jailfs.toml" not in result.stdout
    entries = run_json("ls", "docs")
    assert {e["name"]: e["islink"] for e in entries} == {"docs/alias": True, "docs/link": True}
    alias = next(e for e in entries if e["name"] == "docs/alias")
    assert (alias["type"], alias["destination"]) == ("file", "src/a.py")
    assert set(alias) == {"name", "type", "size", "mtime", "islink", "destination"}
    assert [e["name"] for e in run_json("ls", "src/a.py")] == ["src/a.py"]


def test_ls_show_denied(project: Path) -> None:
    entries = {e["name"]: e for e in run_json("ls", "--show-denied")}
    assert entries[".env"]["hidden"] is True
    assert entries[".env"]["rule"] == "secrets[0] '.env'"
    assert entries[".ssh"]["rule"] == "secrets[17] '.ssh/'"
    assert entries["jailfs.toml"]["rule"].startswith("internal[")
    assert entries["src"]["hidden"] is False
    result = run("ls", "--show-denied")
    assert result.exit_code == 0
    assert ".env" in result.stdout and "secrets[0] '.env'" in result.stdout
    docs = {e["name"]: e for e in run_json("ls", "docs", "--show-denied")}
    assert "outside the jail" in docs["docs/link"]["refused"]
    assert docs["docs/alias"]["refused"] is None


def test_ls_empty_and_missing(project: Path) -> None:
    (project / "empty").mkdir()
    assert run_json("ls", "empty") == []
    assert run_json("ls", "empty", "--show-denied") == []
    result = run("ls", "nope")
    assert result.exit_code == 1
    one_error_line(result)
    result = run("ls", ".ssh")
    assert result.exit_code == 3
    one_error_line(result)


def test_tree(project: Path) -> None:
    paths = [e["path"] for e in run_json("tree")]
    assert paths == ["README.md", "docs", "docs/alias", "docs/link", "src", "src/a.py", "src/b.py"]
    result = run("tree")
    assert result.exit_code == 0
    assert "a.py" in result.stdout and ".env" not in result.stdout
    hidden = {e["path"]: e["rule"] for e in run_json("tree", "--show-denied") if e["hidden"]}
    assert hidden[".env"] == "secrets[0] '.env'"
    assert ".ssh" in hidden and ".ssh/id_rsa" not in hidden  # hidden dirs are not descended
    assert any(p.startswith(".jailfs-audit") for p in hidden)
    result = run("tree", "--show-denied")
    assert "secrets[0] '.env'" in result.stdout
    assert [e["path"] for e in run_json("tree", "src", "-L", "1")] == ["src/a.py", "src/b.py"]
    (project / "empty").mkdir()
    assert run_json("tree", "empty") == []
    missing = run("tree", "nope")
    assert missing.exit_code == 1
    assert "'nope': No such file or directory" in one_error_line(missing)
    a_file = run("tree", "src/a.py", "--json")
    assert a_file.exit_code == 1
    assert "'src/a.py' is not a directory" in one_error_line(a_file)
    assert run("tree", ".env").exit_code == 3  # denied, not "missing"


def test_tree_show_denied_below(project: Path) -> None:
    (project / "src" / ".env.local").write_text("X=1\n")
    hidden = {e["path"] for e in run_json("tree", "--show-denied") if e["hidden"]}
    assert "src/.env.local" in hidden


def test_show_denied_through_a_directory_link(project: Path) -> None:
    """Listed through a link, a hidden entry is named as listed, with the rule on its real path."""
    config = project / "jailfs.toml"
    config.write_text(config.read_text().replace("[audit]", 'deny = ["src/private/"]\n[audit]'))
    (project / "src" / "private").mkdir()
    (project / "docs" / "code").symlink_to(Path("..", "src"))
    names = [e["name"] for e in run_json("ls", "docs/code")]
    assert names == ["docs/code/a.py", "docs/code/b.py"]
    hidden = {
        e["name"]: e["rule"] for e in run_json("ls", "docs/code", "--show-denied") if e["hidden"]
    }
    assert hidden == {"docs/code/private": "deny[0] 'src/private/'"}
    hidden = {e["path"]: e["rule"] for e in run_json("tree", "--show-denied") if e["hidden"]}
    assert hidden["src/private"] == "deny[0] 'src/private/'"


# -- cat -----------------------------------------------------------------------------------------


def test_cat_reads_through_the_jail_as_cli(project: Path) -> None:
    result = run("cat", "src/a.py")
    assert result.exit_code == 0
    assert result.stdout == "print('a')\n"
    assert run_json("cat", "src/a.py") == {"path": "src/a.py", "bytes": 11, "text": "print('a')\n"}
    records = run_json("log", "--actor", "cli", "--op", "cat_file")
    assert [(r["path"], r["decision"], r["bytes"]) for r in records] == [
        ("src/a.py", "allow", 11),
        ("src/a.py", "allow", 11),
    ]


def test_cat_refusals(project: Path) -> None:
    for path, code in ((".env", 3), ("docs/link", 3), ("../outside/secret.txt", 3), ("nope", 1)):
        result = run("cat", path)
        assert result.exit_code == code, (path, result.output)
        one_error_line(result)
        assert SECRET not in result.output
        assert "sk-123" not in result.output
    denied = run_json("log", "--decision", "deny", "--actor", "cli")
    assert [r["path"] for r in denied] == [".env", "docs/link", "../outside/secret.txt"]


def test_cat_binary_json(project: Path) -> None:
    (project / "src" / "bin").write_bytes(b"\xff\x00\x01")
    assert run_json("cat", "src/bin") == {"path": "src/bin", "bytes": 3, "base64": "/wAB"}


# -- log -----------------------------------------------------------------------------------------


def test_log_filters(project: Path) -> None:
    agent_session(project)
    records = run_json("log")
    ops = [r["op"] for r in records]
    assert ops.count("cat_file") == 6 and "pipe_file" in ops and "ls" in ops
    assert "session" not in ops
    assert all(r["actor"] == "agent" for r in records)

    assert [r["path"] for r in run_json("log", "--decision", "deny")] == [
        ".env",
        ".env",
        "../outside/secret.txt",
    ]
    assert [r["path"] for r in run_json("log", "--decision", "error")] == ["missing.txt"]
    both = run_json("log", "--decision", "error", "--decision", "deny")
    assert len(both) == 4
    assert {r["path"] for r in run_json("log", "--path", "src/*")} == {"src/a.py", "src/c.py"}
    assert [r["op"] for r in run_json("log", "--op", "pipe_file")] == ["pipe_file"]
    sessions = run_json("log", "--op", "session")
    assert len(sessions) == 1 and sessions[0]["meta"]["root"] == str(project.resolve())
    assert run_json("log", "--actor", "cli") == []
    assert len(run_json("log", "--since", "1h")) == len(records)
    assert run_json("log", "--since", "2999-01-01T00:00:00Z") == []
    assert len(run_json("log", "--since", "2000-01-01")) == len(records)
    assert run_json("log", "--limit", "2") == records[-2:]
    assert run_json("log", "--limit", "0") == []
    session = records[0]["session"]
    assert len(run_json("log", "--session", session[:6])) == len(records)

    result = run("log", "--nl")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == records
    result = run("log")
    assert result.exit_code == 0
    assert "../outside/secret.txt" in result.stdout and "deny" in result.stdout


def test_log_empty(project: Path, tmp_path: Path) -> None:
    assert run_json("log") == []
    assert run("log", "--nl").stdout == ""
    assert "no matching records" in run("log").stdout
    assert not (project / ".jailfs-audit").exists()  # (a new project: no jail has run yet)


@pytest.mark.parametrize(
    "args", [["log"], ["log", "--follow", "--timeout", "5"], ["stats"], ["verify"]]
)
def test_a_missing_audit_dir_given_is_an_error(
    project: Path, tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "none"
    result = run(*args, "--audit-dir", str(missing))
    assert result.exit_code == 1
    assert f"no audit log at '{missing}'" in one_error_line(result)


def test_log_follow_streams_new_records(project: Path) -> None:
    agent_session(project)
    backlog = len(run_json("log"))

    def later() -> None:
        time.sleep(0.5)
        fs = JailFileSystem.from_config(project / "jailfs.toml", actor="late")
        fs.cat_file("src/b.py")
        fs.close()

    writer = threading.Thread(target=later)
    writer.start()
    result = run("log", "--follow", "--nl", "--max-records", str(backlog + 1), "--timeout", "20")
    writer.join()
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == backlog + 1
    assert (records[-1]["actor"], records[-1]["path"]) == ("late", "src/b.py")


def test_log_follow_timeout_and_filters(project: Path) -> None:
    agent_session(project)
    result = run("log", "-f", "--decision", "deny", "--timeout", "0.5")
    assert result.exit_code == 0
    assert result.stdout.count("deny") == 3
    assert "src/a.py" not in result.stdout


def test_log_follow_stops_cleanly_on_ctrl_c(project: Path) -> None:
    agent_session(project)
    proc = subprocess.Popen(
        [*CLI, "log", "--follow", "--nl"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""  # the backlog is being printed
        assert json.loads(first)["actor"] == "agent"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err


# -- verify --------------------------------------------------------------------------------------


def test_verify_ok(project: Path) -> None:
    agent_session(project)
    run("cat", "src/a.py")
    result = run("verify")
    assert result.exit_code == 0
    assert "chain verified" in result.stdout
    data = run_json("verify")
    assert data["ok"] is True
    assert data["files"] == 2
    assert data["records"] == len(run_json("log", "--op", "session")) + len(run_json("log"))
    assert (data["file"], data["line"], data["reason"]) == (None, None, None)
    for segment in data["segments"]:  # each segment's last hash, to keep elsewhere
        last = json.loads(Path(segment["file"]).read_text().splitlines()[-1])
        assert segment["last_hash"] == last["hash"]
        assert segment["records"] == last["seq"] + 1
    assert len(data["segments"]) == 2
    assert run("verify", "--progress").exit_code == 0


def test_verify_of_an_empty_audit_dir_fails(project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("verify", "--audit-dir", str(empty))
    assert result.exit_code == 1
    assert f"nothing to verify: no audit segments in '{empty}'" in one_error_line(result)
    data = run_json("verify", "--audit-dir", str(empty), code=1)
    assert (data["ok"], data["records"], data["reason"], data["segments"]) == (
        False,
        0,
        "no audit segments",
        [],
    )


def test_verify_broken_names_file_and_line(project: Path) -> None:
    agent_session(project)
    (segment,) = (project / ".jailfs-audit").glob("*.jsonl")
    lines = segment.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace('"decision":"deny"', '"decision":"allow"')
    assert '"decision":"allow"' in lines[4]
    segment.write_text("".join(lines))
    result = run("verify")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"{segment}:5" in line and "hash mismatch" in line
    data = run_json("verify", code=1)
    assert (data["ok"], data["file"], data["line"]) == (False, str(segment), 5)


def test_verify_without_a_log(project: Path) -> None:
    result = run("verify")
    assert result.exit_code == 1
    assert "no audit log" in one_error_line(result)


# -- stats ---------------------------------------------------------------------------------------


def test_stats_numbers(project: Path) -> None:
    records = agent_session(project)
    session = records[0]["session"]
    data = run_json("stats")
    assert data["calls"] == 8
    assert data["decisions"] == {"allow": 4, "deny": 3, "error": 1, "external": 0}
    assert data["bytes_read"] == 11 + 9
    assert data["bytes_written"] == 5
    by_op = {row["op"]: row for row in data["ops"]}
    assert by_op["cat_file"] == {
        "op": "cat_file",
        "calls": 6,
        "allow": 2,
        "deny": 3,
        "error": 1,
        "external": 0,
    }
    assert by_op["pipe_file"]["allow"] == 1 and by_op["ls"]["calls"] == 1
    assert data["top_denied"] == [
        {"path": ".env", "count": 2},
        {"path": "../outside/secret.txt", "count": 1},
    ]
    (sess,) = data["sessions"]
    assert (sess["session"], sess["actor"], sess["calls"], sess["deny"]) == (session, "agent", 8, 3)
    assert (sess["bytes_read"], sess["bytes_written"]) == (20, 5)
    assert sess["root"] == str(project.resolve())

    JailFileSystem.from_config(project / "jailfs.toml").close()  # a session without calls
    run("check", "README.md")  # audited: one explain record
    run("cat", "src/b.py")
    data = run_json("stats")
    assert len(data["sessions"]) == 3 and data["empty_sessions"] == 1
    assert run_json("stats", "--actor", "cli")["calls"] == 2
    result = run("stats")
    assert result.exit_code == 0
    for text in ("cat_file", ".env", "Top denied paths", "Sessions", session[:8]):
        assert text in result.stdout


def test_stats_empty(project: Path) -> None:
    data = run_json("stats")
    assert data["calls"] == 0 and data["ops"] == [] and data["sessions"] == []
    assert "no calls recorded" in run("stats").stdout


# -- mcp -----------------------------------------------------------------------------------------


def test_mcp(project: Path) -> None:
    if importlib.util.find_spec("jailfs.integrations.mcp") is None:
        result = run("mcp")
        assert result.exit_code == 1
        assert "MCP" in one_error_line(result)
        return
    proc = subprocess.Popen(
        [*CLI, "mcp"],
        cwd=project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    try:
        assert proc.stdin and proc.stdout
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        answer = _readline(proc.stdout, 30)
        assert json.loads(answer)["id"] == 1
        assert "result" in json.loads(answer)
    finally:
        proc.kill()
        proc.communicate(timeout=20)


def _readline(stream: Any, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines.get(timeout=timeout)


# -- demo ----------------------------------------------------------------------------------------


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield temp


def test_demo_runs_and_leaves_nothing(own_tempdir: Path) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "../outside/secret.txt",
        "climbs above the jail's root",
        "/etc/passwd",
        "docs/link",
        "points outside the jail",
        ".env",
        "secrets[0] '.env'",
        "README.md",
        "not in the write list",
        "chain verified",
        "outside secret never read",
        "outside secret unchanged",
    ):
        assert text in out, text
    assert out.count("DENIED") >= 6
    assert "TOP-SECRET-" not in out  # the outside secret's content
    assert not re.search(r"sk-demo-[0-9a-f]", out)  # the .env key
    assert list(own_tempdir.iterdir()) == []


def test_demo_keep(own_tempdir: Path) -> None:
    result = run("demo", "--keep")
    assert result.exit_code == 0, result.output
    (kept,) = own_tempdir.iterdir()
    assert (kept / "project" / "jailfs.toml").is_file()
    assert str(kept) in result.stdout.replace("\n", "")


def test_demo_keeps_dir(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = run("demo", "--dir", str(target))
    assert result.exit_code == 0, result.output
    secret = (target / "outside" / "secret.txt").read_text()
    assert secret.startswith("TOP-SECRET-")
    assert "hello" in (target / "project" / "src" / "app.py").read_text()  # the edit happened
    assert (target / "project" / "README.md").read_text().startswith("# greeter")
    result = run("verify", "--config", str(target / "project" / "jailfs.toml"))
    assert result.exit_code == 0
    # the report's questions are logged apart from the agent's calls
    config = str(target / "project" / "jailfs.toml")
    asked = run_json("log", "--actor", "demo-report", "--config", config)
    assert asked and {r["op"] for r in asked} == {"explain"}
    assert "explain" not in {
        r["op"] for r in run_json("log", "--actor", "demo-agent", "--config", config)
    }
    result = run("demo", "--dir", str(target))
    assert result.exit_code == 1
    assert "not empty" in one_error_line(result)


def test_make_demo_entry_point(tmp_path: Path) -> None:
    """``make demo`` runs the console script: the same, as a subprocess."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run([*CLI, "demo"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "chain verified" in proc.stdout and "DENIED" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_since_without_a_zone_is_utc_as_the_log_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from jailfs_cli._records import parse_since

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        utc = dt.UTC
        assert parse_since("2026-11-27T08:29:54") == dt.datetime(
            2026, 11, 27, 8, 29, 54, tzinfo=utc
        )
        assert parse_since("2026-11-27T08:29:54Z") == parse_since("2026-11-27T08:29:54")
        assert parse_since("2026-11-27T17:29:54+09:00") == parse_since("2026-11-27T08:29:54")
    finally:
        monkeypatch.undo()
        time.tzset()
