"""Every public call leaves exactly one audit record: allowed, denied and failing variants.

The calls are the choke-point table (tests/test_choke_point.py CALLS), so a new public method
must get sample arguments there and is then covered here too. A file object adds its own
``close`` record (with the bytes it moved) when it is closed outside any other call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jailfs import AccessDenied, JailError, JailFileSystem
from test_choke_point import CALLS, CHECKED, make_tree

VARIANTS = ["allow", "deny", "fail"]


def _jail(tmp_path: Path, jail_factory: Any, variant: str) -> JailFileSystem:
    root = tmp_path / "root"
    make_tree(root)
    (tmp_path / "local").mkdir()
    kwargs: dict[str, Any] = {"write": ["**"], "presets": (), "allow_symlink_creation": True}
    if variant == "deny":
        kwargs["deny"] = ["file.txt"]
    if variant == "fail":
        (root / "file.txt").unlink()
    fs: JailFileSystem = jail_factory(root, **kwargs)
    return fs


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", CHECKED)
def test_one_record_per_public_call(
    tmp_path: Path, jail_factory: Any, name: str, variant: str
) -> None:
    fs = _jail(tmp_path, jail_factory, variant)
    before = len(fs.audit.records())
    error: Exception | None = None
    try:
        CALLS[name](fs, tmp_path / "local")
    except Exception as exc:
        error = exc
    new = fs.audit.records()[before:]
    ops = [r["op"] for r in new]
    if name == "open" and error is None:
        assert ops == ["open", "close"], ops
        assert new[1]["bytes"] == len(b"hello jail\n")
    else:
        assert len(new) == 1, ops
    record = new[0]
    assert record["actor"] == "agent" and record["session"] == fs.audit.session
    if error is None:
        # a boolean probe (exists, isfile, ...) answers False for a denied name, audited as deny
        assert record["decision"] in ("allow", "deny"), record
        if record["decision"] == "deny":
            assert variant == "deny" and record["reason"] == "denied", record
        else:
            assert record["error"] is None and record["reason"] is None, record
    elif isinstance(error, AccessDenied):
        assert record["decision"] == "deny", record
        assert record["reason"] == "denied", record
        assert record["rule"] == error.rule, record
        if variant == "deny":
            assert record["rule"] == "deny[0] 'file.txt'", record
    elif isinstance(error, JailError):
        assert record["decision"] == "deny" and record["reason"] == error.reason, record
    else:
        assert record["decision"] == "error", record
        assert record["error"].startswith(type(error).__name__), record
    if variant == "allow":
        assert error is None, f"{name} failed on the allowed tree: {error!r}"


def test_denied_and_failing_variants_are_exercised(tmp_path: Path, jail_factory: Any) -> None:
    """The table really reaches the denied and the missing file (else the variants prove
    nothing): cat_file raises AccessDenied and FileNotFoundError with the right records."""
    denied = _jail(tmp_path / "d", jail_factory, "deny")
    with pytest.raises(AccessDenied):
        CALLS["cat_file"](denied, tmp_path / "d" / "local")
    assert denied.audit.records()[-1]["decision"] == "deny"
    missing = _jail(tmp_path / "m", jail_factory, "fail")
    with pytest.raises(FileNotFoundError):
        CALLS["cat_file"](missing, tmp_path / "m" / "local")
    last = missing.audit.records()[-1]
    assert last["decision"] == "error" and last["path"] == "file.txt"
    assert last["error"].startswith("FileNotFoundError")


def test_paths_passed_by_keyword_are_recorded(tmp_path: Path, jail_factory: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / ".env").write_text("SECRET=1\n")
    (root / "a.txt").write_text("a")
    fs = jail_factory(root, write=["**"])
    with pytest.raises(AccessDenied):
        fs.cat_file(path=".env")
    fs.info(path="a.txt")
    fs.mv(path1="a.txt", path2="b.txt")
    fs.pipe_file(path="c.txt", value=b"c")
    fs.rm(path="c.txt")
    fs.read_text(path="b.txt")  # an inherited method
    records = [(r["op"], r["path"], r["dest"], r["decision"]) for r in fs.audit.records()[1:]]
    assert records == [
        ("cat_file", ".env", None, "deny"),
        ("info", "a.txt", None, "allow"),
        ("mv", "a.txt", "b.txt", "allow"),
        ("pipe_file", "c.txt", None, "allow"),
        ("rm", "c.txt", None, "allow"),
        ("read_text", "b.txt", None, "allow"),
    ]


def test_a_transaction_records_its_commit_or_discard(
    tmp_path: Path, jail_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    fs = jail_factory(root, write=["**"])
    with fs.transaction, fs.open("a.txt", "wb") as f:
        f.write(b"hello")
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open("b.txt", "wb") as f:
            f.write(b"bye")
        raise RuntimeError("abandon")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(116, "changed while being written", "c.txt")

    monkeypatch.setattr(fs, "_commit", refuse)
    with pytest.raises(OSError), fs.transaction, fs.open("c.txt", "wb") as f:
        f.write(b"lost")
    assert sorted(p.name for p in root.iterdir()) == ["a.txt"]  # no b.txt, no c.txt, no temp
    records = [(r["op"], r["path"], r["decision"], r["bytes"]) for r in fs.audit.records()[1:]]
    assert records == [
        ("open", "a.txt", "allow", None),
        ("close", "a.txt", "allow", 5),
        ("commit", "a.txt", "allow", 5),
        ("open", "b.txt", "allow", None),
        ("close", "b.txt", "allow", 3),
        ("discard", "b.txt", "allow", 3),
        ("open", "c.txt", "allow", None),
        ("close", "c.txt", "allow", 4),
        ("commit", "c.txt", "error", 4),  # the close said allow; this says it was not written
    ]


def test_closing_a_jail_discards_an_unfinished_transaction(
    tmp_path: Path, jail_factory: Any
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    fs = jail_factory(root, write=["**"])
    fs.start_transaction()
    with fs.open("a.txt", "wb") as f:
        f.write(b"never ended")
    assert len(list(root.iterdir())) == 1  # the hidden temp file, waiting
    records = fs.audit.records
    fs.close()
    assert list(root.iterdir()) == []
    assert [(r["op"], r["path"]) for r in records()[-1:]] == [("discard", "a.txt")]


def test_pipe_of_a_mapping_records_paths_not_contents(tmp_path: Path, jail_factory: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    fs = jail_factory(root, write=["**"])
    fs.pipe({"a.txt": b"SECRET-CONTENT", "b.txt": b"x"})
    (record,) = [r for r in fs.audit.records() if r["op"] == "pipe"]
    assert record["path"] == "a.txt, b.txt"
    assert "SECRET-CONTENT" not in str(fs.audit.records())


def test_internal_paths_spelled_in_another_case(tmp_path: Path, jail_factory: Any) -> None:
    root = tmp_path / "root"
    root.mkdir()
    other_case = tmp_path / "ROOT" / ".Jailfs-Audit"  # the same place on a folding filesystem
    fs = jail_factory(root, audit=str(other_case), case_insensitive=True)
    assert fs.policy.check("read", ".jailfs-audit/x").rule.list == "internal"
    # where case matters, ROOT is another directory, and nothing of it is the jail's own here
    sensitive = jail_factory(root, audit=str(other_case), case_insensitive=False)
    assert sensitive.policy.check("read", ".jailfs-audit/x").rule.list == "read"


def test_get_and_put_record_the_local_side_as_a_host_path(
    tmp_path: Path, jail_factory: Any
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("a")
    fs = jail_factory(root, write=["**"])
    local = tmp_path / "local.txt"
    fs.get("a.txt", str(local))
    fs.put(str(local), "b.txt")
    records = [(r["op"], r["path"], r["dest"]) for r in fs.audit.records()[1:]]
    assert records == [("get", "a.txt", str(local)), ("put", "b.txt", str(local))]
