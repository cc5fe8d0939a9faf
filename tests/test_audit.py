"""The audit layer: record layout, hash chain, segments, concurrency, kills and tampering."""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jailfs
from jailfs import audit
from jailfs.audit import (
    FIELDS,
    GENESIS,
    AuditFormatError,
    AuditLog,
    VerifyResult,
    canonical_json,
    default_audit_dir,
    read_log,
    record_hash,
    verify_log,
)
from jailfs.errors import ConfigError, JailError

REPO = Path(__file__).resolve().parents[1]
SEGMENT_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{16}\.jsonl$")
META_KEYS = {"format", "root", "policy", "pid", "user", "version", "started"}


def open_log(target: str | Path, **kwargs: object) -> AuditLog:
    return AuditLog(target, root="/srv/workspace", policy_hash="p" * 64, **kwargs)  # type: ignore[arg-type]


def fill(log: AuditLog, n: int) -> list[dict[str, object]]:
    return [
        log.record("cat_file", f"src/f{i}.py", decision="allow", nbytes=i, us=i, rule="read[0]")
        for i in range(n)
    ]


def segment_lines(log: AuditLog) -> list[bytes]:
    assert log.segment is not None
    return log.segment.read_bytes().splitlines(keepends=True)


# -- layout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dir", "memory"])
def test_session_record_comes_first(tmp_path: Path, mode: str) -> None:
    with open_log(tmp_path / "audit" if mode == "dir" else ":memory:", actor="bot") as log:
        first = log.records()[0]
    assert list(first) == sorted([*FIELDS, "meta"])  # canonical JSON sorts the keys
    assert first["op"] == "session"
    assert first["seq"] == 0
    assert first["prev"] == GENESIS
    assert first["session"] == log.session
    assert first["actor"] == "bot"
    assert first["decision"] == "allow"
    assert first["hash"] == record_hash(first)
    meta = first["meta"]
    assert isinstance(meta, dict)
    assert set(meta) == META_KEYS
    assert meta["root"] == "/srv/workspace"
    assert meta["policy"] == "p" * 64
    assert meta["pid"] == os.getpid()
    assert meta["started"] == first["ts"]
    assert meta["version"] == jailfs.__version__


def test_record_fields_are_exact_and_chained(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    session = log.records()[0]
    got = log.record(
        "mv",
        "a.txt",
        decision="deny",
        dest="b.txt",
        resolved="a.txt",
        reason="denied",
        rule="write[-] (none)",
        error="mv 'a.txt' is denied",
        nbytes=None,
        count=2,
        us=15,
        actor="agent-2",
        tool="move_file",
    )
    assert tuple(got) == FIELDS
    assert got["seq"] == 1
    assert got["prev"] == session["hash"]
    assert got["hash"] == record_hash(got)
    assert got["bytes"] is None
    assert got["count"] == 2
    assert got["actor"] == "agent-2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(got["ts"]))
    later = log.record("ls", "", decision="allow")
    assert later["prev"] == got["hash"]
    assert later["actor"] == "agent"
    assert str(later["ts"]) >= str(got["ts"])
    log.close()
    # the line on disk is the canonical JSON of the returned record
    assert segment_lines(log)[1] == (canonical_json(got) + "\n").encode()


def test_records_round_trip(tmp_path: Path) -> None:
    with open_log(tmp_path) as log:
        written = fill(log, 50)
        assert log.records()[1:] == written
    assert log.records()[1:] == written  # still readable after close
    assert [r["seq"] for r in log.records()] == list(range(51))
    assert verify_log(tmp_path) == VerifyResult(True, 51, 1)


def test_memory_mode_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    log = open_log(":memory:")
    written = fill(log, 20)
    assert log.segment is None
    assert log.records()[1:] == written
    assert list(tmp_path.iterdir()) == []
    log.close()
    with pytest.raises(JailError, match="audit log is closed"):
        log.record("ls", "", decision="allow")
    assert len(log.records()) == 21


def test_close_is_idempotent(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.record("ls", "", decision="allow")
    log.close()
    log.close()
    assert log.closed
    with pytest.raises(JailError, match=r"^audit log is closed$"):
        log.record("ls", "", decision="allow")
    with open_log(tmp_path) as other:
        pass
    assert other.closed
    assert verify_log(tmp_path).records == 3


def test_modes_of_directory_and_segment(tmp_path: Path) -> None:
    target = tmp_path / "state" / "jailfs" / "audit"
    with open_log(target) as log:
        assert log.segment is not None
        assert log.segment.parent == target
        assert SEGMENT_NAME.match(log.segment.name)
        assert log.segment.name.endswith(f"-{log.session}.jsonl")
        assert stat.S_IMODE(log.segment.stat().st_mode) == 0o600
    for directory in (target, target.parent, target.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_audit_target_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError):
        open_log(tmp_path / "f")


def test_two_logs_in_one_directory_merge_by_time(tmp_path: Path) -> None:
    one = open_log(tmp_path)
    two = open_log(tmp_path)
    assert one.session != two.session
    assert one.segment != two.segment
    for i in range(30):
        (one if i % 3 else two).record("info", f"x{i}", decision="allow")
        time.sleep(0.0005)
    one.close()
    two.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [one.segment.name, two.segment.name]  # type: ignore[union-attr]
    )
    merged = list(read_log(tmp_path))
    assert len(merged) == 32
    keys = [(r["ts"], r["session"], r["seq"]) for r in merged]
    assert keys == sorted(keys)
    assert [r["path"] for r in merged if r["op"] != "session"] == [f"x{i}" for i in range(30)]
    for log in (one, two):
        mine = [r for r in merged if r["session"] == log.session]
        assert [r["seq"] for r in mine] == list(range(len(mine)))
    assert verify_log(tmp_path) == VerifyResult(True, 32, 2)


def test_bad_decision_and_reserved_op(tmp_path: Path) -> None:
    with open_log(":memory:") as log:
        with pytest.raises(ValueError, match="decision"):
            log.record("ls", "", decision="maybe")
        with pytest.raises(ValueError, match="reserved"):
            log.record("session", "", decision="allow")
        assert log.record("watch", "a", decision="external")["seq"] == 1


def test_odd_values_are_stored_not_lost(tmp_path: Path) -> None:
    with open_log(tmp_path) as log:
        surrogate = log.record("ls", "bad\udcffname", decision="error", error="x\ud800y")
        as_bytes = log.record("ls", b"raw", decision="error")  # type: ignore[arg-type]
        flag = log.record("write", "a", decision="allow", nbytes=True, count=False)
        with pytest.raises(TypeError):
            log.record("write", "a", decision="allow", nbytes="12")  # type: ignore[arg-type]
    assert surrogate["path"] == "bad\\udcffname"
    assert surrogate["error"] == "x\\ud800y"
    assert as_bytes["path"] == "b'raw'"
    assert flag["bytes"] == 1
    assert flag["count"] == 0
    assert log.records()[1:] == [surrogate, as_bytes, flag]
    assert verify_log(tmp_path).ok
    with open_log(tmp_path, actor="bot\udcff") as odd:
        assert odd.record("ls", "", decision="allow")["actor"] == "bot\\udcff"
    assert verify_log(tmp_path) == VerifyResult(True, 6, 2)


_text = st.one_of(st.none(), st.text(max_size=40))
_ints = st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70))


def test_fast_path_is_canonical_json(tmp_path: Path) -> None:
    """The hand-built line equals json.dumps(sort_keys, compact, ensure_ascii=False) exactly."""
    log = open_log(tmp_path, actor='"quoted"\n actor')
    written: list[dict[str, object]] = []

    @settings(max_examples=300, deadline=None, database=None)
    @given(
        op=st.text(max_size=20),
        path=_text,
        dest=_text,
        resolved=_text,
        reason=_text,
        rule=_text,
        error=_text,
        tool=_text,
        actor=_text,
        nbytes=_ints,
        count=_ints,
        us=st.integers(min_value=0, max_value=2**40),
        decision=st.sampled_from(sorted(audit.DECISIONS)),
    )
    def check(**kw: object) -> None:
        if kw["op"] == "session":
            return
        nbytes = kw.pop("nbytes")
        written.append(log.record(nbytes=nbytes, **kw))  # type: ignore[arg-type]

    check()
    log.close()
    lines = segment_lines(log)
    assert len(lines) == len(written) + 1
    for line, record in zip(lines[1:], written, strict=True):
        assert line == (canonical_json(record) + "\n").encode("utf-8")
        assert record["hash"] == record_hash(record)
    assert verify_log(tmp_path).ok


def test_fsync_option(tmp_path: Path) -> None:
    with open_log(tmp_path, fsync=True) as log:
        written = fill(log, 10)
    assert log.records()[1:] == written
    assert verify_log(tmp_path) == VerifyResult(True, 11, 1)


# -- concurrency, kills, failures -----------------------------------------------------------------


def test_threads_never_interleave_or_break_the_chain(tmp_path: Path) -> None:
    threads, per_thread = 8, 5_000
    log = open_log(tmp_path)
    seqs: list[list[int]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def work(k: int) -> None:
        start.wait()
        out = seqs[k]
        for i in range(per_thread):
            seq = log.record("read", f"t{k}/{i}", decision="allow", nbytes=i)["seq"]
            assert isinstance(seq, int)
            out.append(seq)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    log.close()
    everything = sorted(s for out in seqs for s in out)
    assert everything == list(range(1, threads * per_thread + 1))
    for out in seqs:
        assert out == sorted(out)  # each thread sees its own records in order
    records = log.records()
    assert [r["seq"] for r in records] == list(range(threads * per_thread + 1))
    for k in range(threads):  # each thread's records are in the file in its own order
        mine = [r["path"] for r in records if str(r["path"]).startswith(f"t{k}/")]
        assert mine == [f"t{k}/{i}" for i in range(per_thread)]
    calls: list[tuple[int, int]] = []
    result = verify_log(tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert result == VerifyResult(True, threads * per_thread + 1, 1)
    size = log.segment.stat().st_size  # type: ignore[union-attr]
    assert calls[-1] == (size, size)
    assert len(calls) >= size // (1024 * 1024)  # periodic, about once a MiB
    assert all(a <= b for (a, _), (b, _) in itertools.pairwise(calls))


CHILD = """
import sys
from jailfs.audit import AuditLog
log = AuditLog(sys.argv[1], root="/srv/ws", policy_hash="p")
print(log.segment, flush=True)
i = 0
while True:
    r = log.record("write_file", f"dir/file-{i}.txt", decision="allow", nbytes=i, us=3)
    sys.stdout.write(f"{r['seq']}\\n")
    sys.stdout.flush()
    i += 1
"""


def test_sigkill_mid_run_loses_no_acknowledged_record(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "audit")],
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    segment = Path(child.stdout.readline().strip())
    printed: list[int] = []
    for line in child.stdout:
        printed.append(int(line))
        if len(printed) == 3_000:
            break
    child.send_signal(signal.SIGKILL)
    printed += [int(line) for line in child.stdout if line.endswith("\n")]
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert printed == list(range(1, len(printed) + 1))
    records = list(read_log(segment))  # parses up to the last complete line
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(len(seqs)))
    assert set(printed) <= set(seqs)  # every acknowledged record is there
    result = verify_log(segment)
    assert result.ok, result
    assert result.records == len(records)
    assert result.torn in (0, 1)


def test_torn_last_line_is_tolerated(tmp_path: Path) -> None:
    with open_log(tmp_path) as log:
        fill(log, 5)
    assert log.segment is not None
    whole = log.segment.read_bytes()
    last = segment_lines(log)[-1]
    log.segment.write_bytes(whole[: -len(last) // 2])  # a writer killed mid-write
    assert [r["seq"] for r in read_log(log.segment)] == [0, 1, 2, 3, 4]
    assert verify_log(tmp_path) == VerifyResult(True, 5, 1, torn=1)


def test_segment_without_session_record(tmp_path: Path) -> None:
    empty = tmp_path / "20240101T000000.000000Z-0000000000000000.jsonl"
    empty.write_bytes(b"")
    assert verify_log(tmp_path) == VerifyResult(
        False, 0, 1, str(empty), 1, "session record missing", 0
    )
    empty.write_bytes(b'{"seq":0,"ts"')  # killed while writing the session record
    result = verify_log(empty)
    assert (result.ok, result.line, result.reason, result.torn) == (
        False,
        1,
        "session record missing",
        1,
    )
    with open_log(tmp_path) as log:
        fill(log, 2)
    lines = segment_lines(log)
    assert log.segment is not None
    log.segment.write_bytes(b"".join(lines[1:]))
    result = verify_log(log.segment)
    assert (result.ok, result.line, result.reason) == (False, 1, "session record missing")


def test_failed_write_is_cut_back_and_the_chain_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(tmp_path)
    fill(log, 3)
    real_write = os.write

    def half_then_enospc(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", half_then_enospc)
        with pytest.raises(OSError, match="No space"):
            log.record("pipe_file", "big.bin", decision="allow", nbytes=1)
    after = log.record("pipe_file", "small.bin", decision="allow", nbytes=1)
    log.close()
    assert after["seq"] == 4
    assert [r["path"] for r in log.records()][-2:] == ["src/f2.py", "small.bin"]
    assert verify_log(tmp_path) == VerifyResult(True, 5, 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_cannot_extend_the_parents_chain(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            log.record("ls", "", decision="allow")
        except JailError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log.record("ls", "", decision="allow")
    log.close()
    assert verify_log(tmp_path) == VerifyResult(True, 2, 1)


# -- tampering ------------------------------------------------------------------------------------


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, list[bytes]]:
    """A closed segment of 10 lines (session + seq 1..9) and its lines."""
    with open_log(tmp_path / "audit") as log:
        fill(log, 9)
    assert log.segment is not None
    return log.segment, segment_lines(log)


def rewrite(segment: Path, lines: list[bytes]) -> VerifyResult:
    segment.write_bytes(b"".join(lines))
    return verify_log(segment.parent)


def broken(result: VerifyResult) -> tuple[bool, int | None, str | None]:
    return result.ok, result.line, result.reason


def reseal(record: dict[str, object]) -> bytes:
    record["hash"] = record_hash(record)
    return (canonical_json(record) + "\n").encode()


def test_untouched_chain_verifies(chain: tuple[Path, list[bytes]]) -> None:
    segment, _ = chain
    assert verify_log(segment) == VerifyResult(True, 10, 1)
    assert verify_log(segment.parent) == VerifyResult(True, 10, 1)


def test_verify_catches_an_edited_field(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    record = json.loads(lines[4])
    record["path"] = "src/innocent.py"
    lines[4] = (canonical_json(record) + "\n").encode()
    result = rewrite(segment, lines)
    assert broken(result) == (False, 5, "hash mismatch")
    assert result.file == str(segment)
    assert result.records == 4


def test_verify_catches_an_edited_and_resealed_record(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    record = json.loads(lines[4])
    record["decision"] = "deny"
    lines[4] = reseal(record)  # the forger recomputes this hash: the next line gives it away
    assert broken(rewrite(segment, lines)) == (False, 6, "prev does not match line 5")


def test_verify_catches_a_deleted_line(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    del lines[4]
    assert broken(rewrite(segment, lines)) == (False, 5, "seq gap: expected 4, got 5")


def test_verify_catches_an_inserted_line(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    lines.insert(4, lines[2])
    assert broken(rewrite(segment, lines)) == (False, 5, "seq gap: expected 4, got 2")


def test_verify_catches_a_forged_inserted_line(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    forged = json.loads(lines[4])  # seq 4, prev = hash of line 4: fits where it is put
    forged["path"] = "planted.txt"
    lines.insert(4, reseal(forged))
    assert broken(rewrite(segment, lines)) == (False, 6, "seq gap: expected 5, got 4")


def test_verify_catches_swapped_lines(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    lines[4], lines[5] = lines[5], lines[4]
    assert broken(rewrite(segment, lines)) == (False, 5, "seq gap: expected 4, got 5")


def test_verify_catches_a_truncated_middle_line(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    lines[4] = lines[4][: len(lines[4]) // 2] + b"\n"
    assert broken(rewrite(segment, lines)) == (False, 5, "truncated line")
    with pytest.raises(AuditFormatError, match=rf"{re.escape(str(segment))}:5: truncated line"):
        list(read_log(segment))


def test_verify_catches_a_middle_line_cut_into_the_next(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    lines[4] = lines[4][: len(lines[4]) // 2]  # its newline gone too: merges with line 6
    assert broken(rewrite(segment, lines)) == (False, 5, "not JSON")
    with pytest.raises(AuditFormatError) as err:
        list(read_log(segment.parent))
    assert (err.value.file, err.value.line) == (str(segment), 5)


def test_verify_catches_a_tampered_session_record(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    session = json.loads(lines[0])
    session["meta"]["root"] = "/somewhere/else"
    lines[0] = (canonical_json(session) + "\n").encode()
    assert broken(rewrite(segment, lines)) == (False, 1, "hash mismatch")
    session["prev"] = "1" * 64
    lines[0] = reseal(session)
    assert broken(rewrite(segment, lines)) == (
        False,
        1,
        "prev of the session record is not the genesis hash",
    )
    session["prev"] = GENESIS
    lines[0] = reseal(session)
    assert broken(rewrite(segment, lines)) == (False, 2, "prev does not match line 1")


def test_verify_catches_a_foreign_line(chain: tuple[Path, list[bytes]]) -> None:
    segment, lines = chain
    lines[6] = b'["not", "a", "record"]\n'
    assert broken(rewrite(segment, lines)) == (False, 7, "not a JSON object")
    lines[6] = b'{"seq": 6}\n'
    assert broken(rewrite(segment, lines))[:2] == (False, 7)
    lines[6] = b"\n"
    assert broken(rewrite(segment, lines)) == (False, 7, "empty line")
    lines[6] = b"# a README, not a log\n"
    assert broken(rewrite(segment, lines)) == (False, 7, "not JSON")


def test_verify_names_the_broken_file_among_several(tmp_path: Path) -> None:
    logs = [open_log(tmp_path) for _ in range(3)]
    for log in logs:
        fill(log, 4)
        log.close()
    victim = logs[1].segment
    assert victim is not None
    lines = victim.read_bytes().splitlines(keepends=True)
    del lines[2]
    victim.write_bytes(b"".join(lines))
    result = verify_log(tmp_path)
    assert (result.ok, result.file, result.line) == (False, str(victim), 3)
    assert result.files == sorted(log.segment for log in logs).index(victim) + 1  # type: ignore[type-var]


def test_read_log_of_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(read_log(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError):
        verify_log(tmp_path / "nope")
    assert list(read_log(tmp_path)) == []
    # a directory without segments has nothing verified: that is not a verified log
    assert verify_log(tmp_path) == VerifyResult(
        False, 0, 0, str(tmp_path), None, "no audit segments"
    )


def test_an_unlistable_audit_directory_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_log(tmp_path) as log:
        fill(log, 2)

    def refuse(path: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    # (root may list any directory: the refusal is simulated, not made with mode bits)
    monkeypatch.setattr(os, "scandir", refuse)
    with pytest.raises(PermissionError):
        verify_log(tmp_path)
    with pytest.raises(PermissionError):
        list(read_log(tmp_path))


def test_verify_gives_the_last_hash_of_each_segment(tmp_path: Path) -> None:
    logs = []
    for n in (3, 5):
        with open_log(tmp_path) as log:
            fill(log, n)
        logs.append(log)
    result = verify_log(tmp_path)
    assert result.ok
    assert [(end.file, end.records) for end in result.ends] == [
        (str(log.segment), n + 1) for log, n in zip(logs, (3, 5), strict=True)
    ]
    for end, log in zip(result.ends, logs, strict=True):
        assert end.hash == log.records()[-1]["hash"]


# -- default location -----------------------------------------------------------------------------


def test_default_audit_dir_is_per_root_and_outside_it(tmp_path: Path) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])  # the conftest points it at a temp dir
    root = tmp_path / "workspace"
    root.mkdir()
    path = default_audit_dir(str(root))
    assert path.parent == state / "jailfs" / "audit"
    assert re.fullmatch(r"[0-9a-f]{16}", path.name)
    assert default_audit_dir(str(root)) == path
    assert default_audit_dir(str(tmp_path / "other")) != path
    assert not str(path).startswith(str(root) + os.sep)


@pytest.mark.parametrize("which", ["filesystem root", "state parent"])
def test_default_audit_dir_refuses_a_place_under_the_root(which: str) -> None:
    state = Path(os.environ["XDG_STATE_HOME"])
    root = "/" if which == "filesystem root" else str(state.parent)
    with pytest.raises(ConfigError, match="explicit audit directory"):
        default_audit_dir(root)


# -- helpers used by the tests above are themselves sound ------------------------------------------


def test_canonical_json_is_json_dumps() -> None:
    sample: dict[str, object] = {"b": 'é\u2028"\\', "a": [1, None, True], "c": {"z": 1, "y": 2}}
    assert canonical_json(sample) == json.dumps(
        sample, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_a_jail_whose_audit_log_cannot_start_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    real_open = os.open

    def refuse_segments(path: object, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".jsonl"):  # (root writes anywhere: the refusal is simulated)
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse_segments)
    with pytest.raises(PermissionError) as failed:
        jailfs.JailFileSystem(root, audit=str(tmp_path / "audit"))
    assert str(failed.value).endswith(
        f"cannot start the audit log in '{tmp_path / 'audit'}': Permission denied"
    )
