"""The audit log under real jail traffic: concurrent calls, and a writer killed mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from jailfs import JailFileSystem
from jailfs.audit import read_log, verify_log

THREADS = 8
CALLS_PER_THREAD = 5_000


def test_concurrent_calls_keep_one_ordered_chain(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_bytes(b"data")
    audit = tmp_path / "audit"
    fs = JailFileSystem(root, write=["**"], audit=audit)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(CALLS_PER_THREAD):
                match i % 5:
                    case 0:
                        fs.info("d/f.txt")
                    case 1:
                        fs.cat_file("d/f.txt")
                    case 2:
                        fs.exists(f"d/missing-{t}")
                    case 3:
                        fs.ls("d", detail=False)
                    case _:
                        fs.pipe_file(f"d/t{t}.txt", b"x")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fs.close()
    assert errors == []
    records = list(read_log(audit))
    calls = [r for r in records if r["op"] != "session"]
    assert len(calls) == THREADS * CALLS_PER_THREAD
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(len(records)))  # unique and in order, the session record first
    result = verify_log(audit)
    assert result.ok and result.records == len(records), result


CHILD = textwrap.dedent(
    """
    import sys
    from jailfs import JailFileSystem
    fs = JailFileSystem(sys.argv[1], write=["**"], audit=sys.argv[2])
    i = 0
    while True:
        fs.pipe_file(f"out/f{i}.txt", b"payload %d" % i)
        print(i, flush=True)  # the call has returned: its record must be on disk
        i += 1
    """
)


def test_killed_writer_loses_no_returned_call(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    audit = tmp_path / "audit"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(audit)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    returned: list[int] = []
    for line in child.stdout:
        returned.append(int(line))
        if len(returned) >= 300:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    returned += [int(x) for x in child.stdout.read().split()]
    records = [r for r in read_log(audit) if r["op"] == "pipe_file"]
    recorded = {r["path"] for r in records}
    assert all(f"out/f{i}.txt" in recorded for i in returned), "a returned call has no record"
    assert all(r["decision"] == "allow" and r["bytes"] for r in records)
    result = verify_log(audit)
    assert result.ok, result
    assert result.records >= len(returned) + 1
