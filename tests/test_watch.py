"""``jailfs.watch`` and ``jailfs watch``: changes made outside the jail become ``external`` records.

Changes are made by another process (a small Python child), as an agent's shell would. Waits poll
up to a deadline; no fixed sleep decides an assertion.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jailfs import JailFileSystem
from jailfs.watch import LogTail, Watcher, WatchEvent
from jailfs_cli.app import app

CONFIG = """\
root = "."
[rules]
write = ["src/**"]
[audit]
dir = ".jailfs-audit"
"""
CLI = [sys.executable, "-c", "from jailfs_cli.app import main; main()"]
#: how long an external change may take to show up as a record
WITHIN = 1.0


@pytest.fixture
def root(tmp_path: Path) -> Path:
    top = tmp_path / "proj"
    (top / "src").mkdir(parents=True)
    (top / "src" / "a.py").write_text("a\n")
    (top / "README.md").write_text("# readme\n")
    (top / ".env").write_text("KEY=1\n")
    (top / "jailfs.toml").write_text(CONFIG)
    return top


def shell(code: str, *args: Path | str) -> None:
    """Run ``code`` in another process (the agent's shell, changing the tree directly)."""
    subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True, timeout=60)


def write(path: Path, text: str = "x\n") -> None:
    shell("import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, text)


def wait_for(predicate: Callable[[], bool], timeout: float) -> float:
    """Poll ``predicate`` until it holds; return the seconds it took (fail at the deadline)."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.02)


@contextmanager
def watching(root: Path) -> Iterator[tuple[JailFileSystem, list[WatchEvent]]]:
    """A recording Watcher on ``root``, run in a thread; yields its jail and the events seen."""
    fs = JailFileSystem.from_config(root / "jailfs.toml", actor="watch")
    events: list[WatchEvent] = []
    stop = threading.Event()
    watcher = Watcher(fs, record=True)
    watcher.start()
    thread = threading.Thread(target=watcher.run, args=(events.append,), kwargs={"stop": stop})
    thread.start()
    try:
        yield fs, events
    finally:
        stop.set()
        thread.join(timeout=10)
        watcher.stop()
        fs.close()


def external(fs: JailFileSystem) -> list[dict[str, Any]]:
    return [r for r in fs.audit.records() if r["decision"] == "external"]


def find(fs: JailFileSystem, op: str, path: str) -> dict[str, Any] | None:
    return next((r for r in external(fs) if (r["op"], r["path"]) == (op, path)), None)


def test_external_write_is_recorded_within_a_second(root: Path) -> None:
    with watching(root) as (fs, events):
        write(root / "src" / "new.py")
        took = wait_for(lambda: find(fs, "created", "src/new.py") is not None, timeout=5)
        assert took < WITHIN
        record = find(fs, "created", "src/new.py")
        assert record is not None
        assert (record["actor"], record["reason"], record["rule"]) == ("watch", None, None)
        assert [(e.op, e.path, e.flagged) for e in events] == [("created", "src/new.py", False)]


def test_denied_path_is_flagged(root: Path) -> None:
    with watching(root) as (fs, events):
        write(root / ".env", "KEY=stolen\n")
        took = wait_for(lambda: find(fs, "modified", ".env") is not None, timeout=5)
        assert took < WITHIN
        record = find(fs, "modified", ".env")
        assert record is not None
        assert (record["reason"], record["rule"]) == ("denied path", "secrets[0] '.env'")
        assert events[0].flagged and events[0].reason == "denied path"


def test_read_only_path_is_flagged(root: Path) -> None:
    with watching(root) as (fs, _):
        write(root / "README.md", "changed\n")
        wait_for(lambda: find(fs, "modified", "README.md") is not None, timeout=5)
        record = find(fs, "modified", "README.md")
        assert record is not None and record["reason"] == "read-only path"
        assert record["rule"] == "write (no pattern matches)"


def test_moves_and_deletes(root: Path) -> None:
    with watching(root) as (fs, _):
        shell("import os, sys; os.rename(sys.argv[1], sys.argv[2])", root / "src/a.py", root / "b")
        wait_for(lambda: any(r["op"] == "moved" for r in external(fs)), timeout=5)
        moved = next(r for r in external(fs) if r["op"] == "moved")
        assert (moved["path"], moved["dest"], moved["reason"]) == (
            "src/a.py",
            "b",
            "read-only path",
        )
        shell("import os, sys; os.unlink(sys.argv[1])", root / "b")
        wait_for(lambda: find(fs, "deleted", "b") is not None, timeout=5)


def test_jail_changes_audit_dir_and_temp_files_are_not_reported(root: Path) -> None:
    with watching(root) as (fs, events):
        agent = JailFileSystem.from_config(root / "jailfs.toml")  # writes to the same audit dir
        agent.pipe_file("src/by_jail.py", b"print()\n")
        agent.mkdir("src/jail_dir")
        agent.rm_file("src/a.py")
        agent.close()
        write(root / "src" / ".jailfs-tmp-0123456789abcdef")
        write(root / "src" / "sentinel.py")  # reported: everything before it has been seen
        wait_for(lambda: find(fs, "created", "src/sentinel.py") is not None, timeout=5)
        paths = [e.path for e in events]
        assert paths == ["src/sentinel.py"], paths
        assert not any(r["path"].startswith(".jailfs-audit") for r in external(fs))


def test_watcher_without_record_writes_nothing(root: Path) -> None:
    fs = JailFileSystem.from_config(root / "jailfs.toml")
    try:
        with Watcher(fs) as watcher:
            write(root / "src" / "quiet.py")
            seen: list[WatchEvent] = []

            def some() -> bool:
                seen.extend(watcher.poll(0.1))
                return bool(seen)

            wait_for(some, timeout=5)
        assert [(e.op, e.path) for e in seen] == [("created", "src/quiet.py")]
        assert seen[0].to_dict()["flagged"] is False
        assert external(fs) == []
    finally:
        fs.close()


def test_log_tail(tmp_path: Path) -> None:
    segment = tmp_path / "a.jsonl"
    segment.write_text('{"ts":"1","session":"s","seq":0}\n')
    assert [r["seq"] for r in LogTail(tmp_path).poll()] == [0]
    tail = LogTail(tmp_path, from_start=False)
    assert tail.poll() == []
    with segment.open("a") as fh:
        fh.write('{"ts":"2","session":"s","seq":1}\n{"ts":"3","ses')
    assert [r["seq"] for r in tail.poll()] == [1]  # the torn line waits for its end
    with segment.open("a") as fh:
        fh.write('sion":"s","seq":2}\n')
    (tmp_path / "b.jsonl").write_text('{"ts":"0","session":"t","seq":0}\n')
    assert [(r["session"], r["seq"]) for r in tail.poll()] == [("t", 0), ("s", 2)]
    assert tail.poll() == []
    assert tail.problems == []


def test_log_tail_names_the_lines_it_skips(tmp_path: Path) -> None:
    segment = tmp_path / "a.jsonl"
    segment.write_text('{"ts":"1","session":"s","seq":0}\ngarbage\n["a", "list"]\n')
    tail = LogTail(tmp_path)
    assert [r["seq"] for r in tail.poll()] == [0]
    assert tail.problems == [
        f"{segment}:2: not an audit record, skipped",
        f"{segment}:3: not an audit record, skipped",
    ]
    result = CliRunner().invoke(
        app, ["log", "--follow", "--timeout", "1", "--nl", "--audit-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [0]
    assert f"jailfs: warning: {segment}:2: not an audit record, skipped" in result.stderr


# -- the command -------------------------------------------------------------------------------


def test_watch_command_duration(root: Path) -> None:
    result = CliRunner().invoke(
        app, ["watch", "--duration", "0.3", "--config", str(root / "jailfs.toml")]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "watching" in result.stderr


def _lines(stream: Any) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_watch_command_records_and_stops_on_ctrl_c(root: Path) -> None:
    proc = subprocess.Popen(
        [*CLI, "watch", "--record", "--json"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout and proc.stderr
        err = _lines(proc.stderr)
        out = _lines(proc.stdout)
        assert "watching" in err.get(timeout=30)
        write(root / "src" / "cli.py")
        write(root / ".env", "KEY=2\n")
        events: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 10
        while len(events) < 2 and time.monotonic() < deadline:
            try:
                event = json.loads(out.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
            events[event["path"]] = event
        assert set(events) == {"src/cli.py", ".env"}
        assert events["src/cli.py"]["flagged"] is False
        assert (events[".env"]["flagged"], events[".env"]["reason"]) == (True, "denied path")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    rest = "".join(iter(lambda: _get(err), ""))
    assert "Traceback" not in rest
    result = CliRunner().invoke(
        app,
        ["log", "--decision", "external", "--json", "--config", str(root / "jailfs.toml")],
    )
    records = {r["path"]: r for r in json.loads(result.stdout)}
    assert records[".env"]["reason"] == "denied path"
    assert records["src/cli.py"]["op"] == "created"
    assert records["src/cli.py"]["actor"] == "watch"


def _get(lines: queue.Queue[str]) -> str:
    try:
        return lines.get(timeout=1)
    except queue.Empty:
        return ""
