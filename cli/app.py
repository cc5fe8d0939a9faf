"""The ``jailfs`` command: a thin layer over the library.

Exit codes: 0 ok, 1 error, 2 usage, 3 denied. Every read command has ``--json``. Every command
finds ``jailfs.toml`` in the current directory or above, or takes ``--config``.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import os
import stat
import sys
import time
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

import jailfs
from jailfs import JailFileSystem, PathEscapeError
from jailfs.audit import read_log, segment_files, verify_log
from jailfs.config import CONFIG_NAME, DEFAULT_CONFIG, load_config
from jailfs.demo import explain_data
from jailfs.filesystem import is_temp
from jailfs.paths import normalize

from . import _render
from ._common import (
    EXIT_DENIED,
    EXIT_ERROR,
    EXIT_USAGE,
    ConfigOpt,
    JailfsGroup,
    JsonOpt,
    audit_target,
    config_path,
    console,
    fail,
    human_size,
    open_jail,
    print_json,
    print_json_line,
)
from ._records import RecordFilter, compute_stats, parse_since, select

#: logs at least this large get a progress bar in ``jailfs verify``
PROGRESS_MIN_BYTES: Final = 4 * 1024 * 1024
#: seconds between two looks at the audit segments in ``jailfs log --follow``
FOLLOW_POLL: Final = 0.2

app = typer.Typer(
    name="jailfs",
    cls=JailfsGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Op(StrEnum):
    read = "read"
    write = "write"
    delete = "delete"


class DecisionKind(StrEnum):
    allow = "allow"
    deny = "deny"
    error = "error"
    external = "external"


AuditDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--audit-dir",
        help="Read this audit directory (or segment file) instead of the config's.",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jailfs {jailfs.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """jailfs: a filesystem jail for LLM agent file tools. Inspect a jail, its rules and its
    audit log.

    Commands find jailfs.toml in the current directory or above (or take --config). Paths are
    paths inside the jail, relative to its root. Exit codes: 0 ok, 1 error, 2 usage, 3 denied.
    """


@contextlib.contextmanager
def _jail(config: Path | None, *, actor: str = "cli") -> Iterator[JailFileSystem]:
    fs = open_jail(config, actor=actor)
    try:
        yield fs
    finally:
        fs.close()


# -- init --------------------------------------------------------------------------------------


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Where to write jailfs.toml (created if missing).")
    ] = Path("."),
    root: Annotated[
        str, typer.Option("--root", help="The jail's root, relative to the config file.")
    ] = ".",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented jailfs.toml with the secure defaults: read-only, secrets denied.

    The root defaults to the config file's own directory ("."). The config file and the audit
    directory (.jailfs-audit, beside it) are always denied to the agent.
    """
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in root):  # (bytes argv could not decode)
        fail("--root must be valid UTF-8 text", EXIT_USAGE)
    text = DEFAULT_CONFIG.format(root=_toml_escape(root))
    tomllib.loads(text)  # (a root the escaping missed fails here, before anything is written)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / CONFIG_NAME
    try:
        with target.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        fail(f"'{target}' already exists; pass --force to overwrite it")
    kwargs = load_config(target)  # proves the file we wrote is valid
    out = console()
    out.print(f"wrote {escape(str(target))}")
    out.print(f"  root   {escape(kwargs['root'])}")
    if not Path(kwargs["root"]).is_dir():
        out.print(
            "  [yellow]note[/]   the root does not exist yet: create it before using the jail"
        )
    out.print("  rules  read-only; secrets (.env, keys, .ssh/, ...) denied and hidden")
    out.print("  audit  " + escape(str(kwargs.get("audit", "the user state directory"))))
    out.print("next: jailfs check PATH, jailfs tree --show-denied, jailfs log")


def _toml_escape(text: str) -> str:
    """``text`` as the inside of a TOML basic string (quotes, backslashes and controls escaped)."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


# -- check -------------------------------------------------------------------------------------


@app.command()
def check(
    path: Annotated[str, typer.Argument(metavar="PATH", help="A path inside the jail.")],
    op: Annotated[Op, typer.Option("--op", help="The operation to ask about.")] = Op.read,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Say whether OP on PATH is allowed or denied, and by which rule.

    Shows the deciding list, pattern and index, the path it resolves to and the symlinks
    followed. Exit code 0 when allowed, 3 when denied.
    """
    with _jail(config) as fs:
        result = explain_data(fs, op.value, path)
    if json_out:
        print_json(result)
    else:
        out = console()
        word = Text("ALLOWED", "bold green") if result["allowed"] else Text("DENIED", "bold red")
        out.print(Text.assemble(word, f"  {op.value} '{result['path']}'"))
        rows = [
            ("rule", result["rule"]),
            ("list", _list_label(result)),
            ("reason", result["reason"]),
            ("resolved", result["resolved"] if result["resolved"] is not None else "-"),
            ("hops", " -> ".join(result["hops"]) if result["hops"] else "none"),
        ]
        for key, value in rows:
            out.print(f"  {key:<9}{escape(str(value))}")
    if not result["allowed"]:
        raise typer.Exit(EXIT_DENIED)


def _list_label(result: dict[str, Any]) -> str:
    if result["list"] == "escape":
        return "escape (outside the root)"
    if result["index"] is None or result["index"] < 0:
        return f"{result['list']} (no pattern matched)"
    src = result["source"]
    where = f", preset {src[len('preset:') :]}" if src.startswith("preset:") else ""
    return f"{result['list']}{where}, index {result['index']}, pattern '{result['pattern']}'"


# -- ls and tree -------------------------------------------------------------------------------


def _entry(info: dict[str, Any]) -> dict[str, Any]:
    out = {
        "name": info["name"],
        "type": info["type"],
        "size": info.get("size"),
        "mtime": info.get("mtime"),
        "islink": bool(info.get("islink")),
    }
    if info.get("islink"):
        out["destination"] = info.get("destination")
    return out


def _hidden_reason(fs: JailFileSystem, names: tuple[str, ...], is_dir: bool) -> tuple[str, str]:
    """(rule, reason) of an entry the jail hides from listings.

    ``names``: the entry's virtual path as listed and, when the listed directory was reached
    through a symlink, its real path; the jail hides it when either is refused.
    """
    if is_temp(names[0]):
        return "temp", "a temporary file of an atomic write in progress"
    for name in names:
        try:
            decision = fs.policy.explain("read", name, is_dir=is_dir)
        except jailfs.JailError as exc:
            return "invalid", str(exc)
        if not decision.allowed:
            return str(decision.rule), decision.reason
    return "hidden", "hidden (it holds nothing readable)"


def _link_refusal(fs: JailFileSystem, vpath: str) -> str | None:
    """Why reading through a visible symlink is refused, or None if it is not."""
    try:
        decision = fs.explain("read", vpath)
    except PathEscapeError as exc:
        return str(exc)
    except OSError:
        return "dangling link"
    if decision.allowed:
        return None
    return f"its target '{decision.resolved}' is {decision.reason}"


def _host_dir(fs: JailFileSystem, config: Path | None, vpath: str) -> tuple[Path, str] | None:
    """The real directory the virtual directory ``vpath`` resolves to (host side), and its
    resolved virtual path."""
    try:
        decision = fs.explain("read", vpath)
    except (OSError, jailfs.JailError):
        return None
    root = Path(os.path.realpath(load_config(config_path(config))["root"]))
    host = root / decision.resolved if decision.resolved else root
    if not host.is_dir() or host.is_symlink():
        return None
    return host, decision.resolved


def _host_kind(entry: os.DirEntry[str]) -> tuple[str, bool]:
    st = entry.stat(follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        return "directory", True
    if stat.S_ISLNK(st.st_mode):
        return "link", False
    return ("file" if stat.S_ISREG(st.st_mode) else "other"), False


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def _hidden_entries(
    fs: JailFileSystem, host: Path, vpath: str, real: str, shown: set[str]
) -> list[dict[str, Any]]:
    """Entries of host directory ``host`` (virtual ``vpath``, resolved to ``real``) that the
    jail does not list."""
    out: list[dict[str, Any]] = []
    with os.scandir(host) as it:
        for entry in sorted(it, key=lambda e: e.name):
            child = _join(vpath, entry.name)
            if child in shown:
                continue
            kind, is_dir = _host_kind(entry)
            names = (child,) if real == vpath else (child, _join(real, entry.name))
            rule, reason = _hidden_reason(fs, names, is_dir)
            out.append(
                {"name": child, "type": kind, "hidden": True, "rule": rule, "reason": reason}
            )
    return out


@app.command()
def ls(
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="A directory (or file) inside the jail.")
    ] = "",
    show_denied: Annotated[
        bool, typer.Option("--show-denied", help="Also show what the jail hides, and why.")
    ] = False,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List a directory as the agent sees it.

    With --show-denied, the real directory is compared with the jail's view: hidden entries are
    marked with the rule that hides them, and visible symlinks the jail will not follow are
    marked too.
    """
    with _jail(config) as fs:
        vpath = normalize(path)
        entries = [_entry(info) for info in fs.ls(vpath, detail=True)]
        entries.sort(key=lambda e: e["name"])
        if show_denied:
            for e in entries:
                e["hidden"] = False
                if e["islink"]:
                    e["refused"] = _link_refusal(fs, e["name"])
            is_file = len(entries) == 1 and entries[0]["name"] == vpath and vpath != ""
            located = None if is_file else _host_dir(fs, config, vpath)
            if located is not None:
                host, real = located
                entries += _hidden_entries(fs, host, vpath, real, {e["name"] for e in entries})
                entries.sort(key=lambda e: e["name"])
    if json_out:
        print_json(entries)
        return
    _print_listing(entries, vpath)


def _print_listing(entries: list[dict[str, Any]], vpath: str) -> None:
    from rich.table import Table

    out = console()
    if not entries:
        out.print(f"(empty: /{escape(vpath)})")
        return
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("name", overflow="fold")
    table.add_column("type", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("modified", no_wrap=True)
    table.add_column("note", overflow="fold")
    for e in entries:
        name = e["name"].rpartition("/")[2] if vpath else e["name"]
        if e.get("hidden"):
            table.add_row(
                Text(name, "red strike"),
                e["type"],
                "",
                "",
                Text(f"hidden: {e['rule']}", "red"),
            )
            continue
        label = Text(name + ("/" if e["type"] == "directory" else ""))
        if e["type"] == "directory":
            label.stylize("bold blue")
        note = ""
        if e["islink"]:
            label.append(f" -> {e.get('destination') or '?'}", "cyan")
        if e.get("refused"):
            note = f"refused: {e['refused']}"
        table.add_row(
            label,
            "link" if e["islink"] and e["type"] == "other" else e["type"],
            "" if e["type"] == "directory" else human_size(e["size"]),
            _mtime(e["mtime"]),
            Text(note, "yellow"),
        )
    out.print(table)


def _mtime(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))


@app.command()
def tree(
    path: Annotated[str, typer.Argument(metavar="PATH", help="A directory inside the jail.")] = "",
    depth: Annotated[
        int | None, typer.Option("--depth", "-L", min=1, help="Descend at most this deep.")
    ] = None,
    show_denied: Annotated[
        bool, typer.Option("--show-denied", help="Also show what the jail hides, and why.")
    ] = False,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the tree as the agent sees it.

    With --show-denied, the real tree is compared with the jail's view and every hidden entry is
    shown (not descended) with the rule that hides it. --json gives a flat list sorted by path.
    """
    with _jail(config) as fs:
        vpath = normalize(path)
        if vpath and fs.info(vpath)["type"] != "directory":  # (missing: FileNotFoundError)
            fail(f"'{vpath}' is not a directory")
        found: dict[str, dict[str, Any]] = fs.find(
            vpath, maxdepth=depth, withdirs=True, detail=True
        )
        entries = {p: _entry(info) for p, info in found.items() if p != vpath}
        if show_denied:
            for e in entries.values():
                e["hidden"] = False
                if e["islink"]:
                    e["refused"] = _link_refusal(fs, e["name"])
            located = _host_dir(fs, config, vpath)
            if located is not None:
                host, real = located
                for hidden in _hidden_walk(fs, host, real, vpath, set(entries), depth):
                    entries[hidden["name"]] = hidden
    ordered = [entries[p] for p in sorted(entries)]
    if json_out:
        print_json([{"path": e.pop("name"), **e} for e in ordered])
        return
    _print_tree(ordered, vpath)


def _hidden_walk(
    fs: JailFileSystem, host: Path, real: str, vpath: str, shown: set[str], depth: int | None
) -> list[dict[str, Any]]:
    """Hidden entries in the visible part of the real tree below ``host``."""
    out: list[dict[str, Any]] = []
    stack: list[tuple[Path, str, str, int]] = [(host, vpath, real, 1)]
    while stack:
        where, virtual, resolved, level = stack.pop()
        try:
            out += _hidden_entries(fs, where, virtual, resolved, shown)
        except OSError:
            continue
        if depth is not None and level >= depth:
            continue
        for child in sorted(shown):
            parent, _, base = child.rpartition("/")
            sub = where / base
            if parent == virtual and sub.is_dir() and not sub.is_symlink():
                stack.append((sub, child, _join(resolved, base), level + 1))
    return out


def _print_tree(entries: list[dict[str, Any]], vpath: str) -> None:
    top = Tree(Text("/" + vpath, "bold blue"))
    nodes: dict[str, Tree] = {vpath: top}
    for e in entries:
        name = e["name"]
        parent = name.rpartition("/")[0]
        holder = nodes.get(parent, top)
        base = name.rpartition("/")[2]
        if e.get("hidden"):
            label = Text(base, "red strike")
            label.append(f"  hidden: {e['rule']}", "red")
        else:
            label = Text(base + ("/" if e["type"] == "directory" else ""))
            if e["type"] == "directory":
                label.stylize("bold blue")
            if e["islink"]:
                label.append(f" -> {e.get('destination') or '?'}", "cyan")
            if e.get("refused"):
                label.append(f"  refused: {e['refused']}", "yellow")
        nodes[name] = holder.add(label)
    console().print(top)


# -- cat ---------------------------------------------------------------------------------------


@app.command()
def cat(
    path: Annotated[str, typer.Argument(metavar="PATH", help="A file inside the jail.")],
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print a file, read through the jail (audited with actor "cli")."""
    with _jail(config) as fs:
        data: bytes = fs.cat_file(path)
    if json_out:
        out: dict[str, Any] = {"path": normalize(path), "bytes": len(data)}
        try:
            out["text"] = data.decode("utf-8")
        except UnicodeDecodeError:
            out["base64"] = base64.b64encode(data).decode("ascii")
        print_json(out)
        return
    stream = typer.get_binary_stream("stdout")
    stream.write(data)
    stream.flush()


# -- log ---------------------------------------------------------------------------------------


@app.command()
def log(
    op: Annotated[list[str] | None, typer.Option("--op", help="Only this op (repeatable).")] = None,
    decision: Annotated[
        list[DecisionKind] | None,
        typer.Option("--decision", help="Only this decision (repeatable)."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Only records whose path, dest or resolved matches a glob."),
    ] = None,
    actor: Annotated[
        list[str] | None, typer.Option("--actor", help="Only this actor (repeatable).")
    ] = None,
    session: Annotated[
        list[str] | None,
        typer.Option("--session", help="Only this session (a prefix is enough; repeatable)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only records since an ISO time (UTC unless it has a zone) or an age (10m, 2h).",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=0, help="Only the newest N records.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records (Ctrl-C stops).")
    ] = False,
    max_records: Annotated[
        int | None,
        typer.Option("--max-records", min=1, help="With --follow: stop after N records."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0, help="With --follow: stop after SECONDS."),
    ] = None,
    nl: Annotated[bool, typer.Option("--nl", help="Output JSON lines.")] = False,
    config: ConfigOpt = None,
    audit_dir: AuditDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show the audit log, filtered, as a table, JSON (--json) or JSON lines (--nl).

    Session header records are shown only with --op session. With --follow, new records are
    printed as they are written (--json then means JSON lines).
    """
    try:
        since_time = None if since is None else parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--since'") from None
    keep = RecordFilter(
        ops=op or (),
        decisions=[d.value for d in decision or ()],
        path=path,
        actors=actor or (),
        since=since_time,
        sessions=session or (),
    )
    target = audit_target(config, audit_dir)
    if follow:
        _follow(target, keep, limit, max_records, timeout, lines=nl or json_out)
        return
    records = select(read_log(target) if target.exists() else [], keep, limit)
    if json_out:
        print_json(records)
    elif nl:
        for rec in records:
            print_json_line(rec)
    elif not records:
        console().print("no matching records")
    else:
        console().print(_render.log_table(records))


def _follow(
    target: Path,
    keep: RecordFilter,
    limit: int | None,
    max_records: int | None,
    timeout: float | None,
    *,
    lines: bool,
) -> None:
    from jailfs.watch import LogTail

    tail = LogTail(target, from_start=True)
    out = console()
    end = None if timeout is None else time.monotonic() + timeout
    shown = 0
    first = True
    try:
        while True:
            batch = tail.poll()
            for problem in tail.problems:
                typer.echo(f"jailfs: warning: {problem}", err=True)
            tail.problems.clear()
            batch = select(batch, keep, limit) if first else [r for r in batch if keep(r)]
            first = False
            for rec in batch:
                if lines:
                    print_json_line(rec)
                else:
                    out.print(_render.log_line(rec))
                    sys.stdout.flush()
                shown += 1
                if max_records is not None and shown >= max_records:
                    return
            if end is not None and time.monotonic() >= end:
                return
            time.sleep(FOLLOW_POLL if end is None else min(FOLLOW_POLL, end - time.monotonic()))
    except KeyboardInterrupt:
        return


# -- verify ------------------------------------------------------------------------------------


@app.command()
def verify(
    config: ConfigOpt = None,
    audit_dir: AuditDirOpt = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show a progress bar (default: on for logs over 4 MiB).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check the hash chain of every audit segment.

    Exit code 0 when every chain holds, 1 on the first broken one, named by file and line, and
    1 when there is no segment to check. A chain shows every edited, inserted, reordered or
    deleted line except the loss of a segment's last lines or of whole segments: keep the last
    hashes elsewhere (--json lists each segment's) and compare them later.
    """
    target = audit_target(config, audit_dir)
    if not target.exists():
        fail(f"no audit log at '{target}'")
    total = sum(f.stat().st_size for f in segment_files(target))
    show = (total >= PROGRESS_MIN_BYTES) if progress is None else progress
    if show and not json_out:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("verifying"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
            transient=True,
        )
        with bar:
            task = bar.add_task("verify", total=total)
            result = verify_log(target, progress=lambda done, _: bar.update(task, completed=done))
    else:
        result = verify_log(target)
    data = {
        "ok": result.ok,
        "records": result.records,
        "files": result.files,
        "file": result.file,
        "line": result.line,
        "reason": result.reason,
        "torn": result.torn,
        "segments": [
            {"file": end.file, "records": end.records, "last_hash": end.hash} for end in result.ends
        ],
    }
    if json_out:
        print_json(data)
        if not result.ok:
            raise typer.Exit(EXIT_ERROR)
        return
    if result.files == 0:
        fail(f"nothing to verify: no audit segments in '{target}'")
    if not result.ok:
        fail(
            f"broken chain at {result.file}:{result.line}: {result.reason} "
            f"({result.records} records verified before it)"
        )
    torn = f"; {result.torn} torn last line(s) tolerated" if result.torn else ""
    console().print(
        Text.assemble(
            ("chain verified", "bold green"),
            f": {result.records} records in {result.files} segment(s){torn}",
        )
    )


# -- stats -------------------------------------------------------------------------------------


@app.command()
def stats(
    actor: Annotated[
        list[str] | None, typer.Option("--actor", help="Only this actor (repeatable).")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only records since an ISO time (UTC unless it has a zone) or an age (10m, 2h).",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many denied paths to show.")] = 10,
    config: ConfigOpt = None,
    audit_dir: AuditDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Summarize the audit log: calls by op and decision, top denied paths, bytes, sessions.

    Bytes moved through open file objects are counted apart ("file objects"): their close
    record does not say whether they were read or written.
    """
    try:
        since_time = None if since is None else parse_since(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--since'") from None
    target = audit_target(config, audit_dir)
    keep = RecordFilter(actors=actor or (), since=since_time, ops=())
    records = [
        r
        for r in (read_log(target) if target.exists() else [])
        if r.get("op") == "session" or keep(r)
    ]
    result = compute_stats(records, top=top)
    if json_out:
        print_json(result)
        return
    out = console()
    if not result["calls"]:
        out.print("no calls recorded")
        return
    for table in _render.stats_tables(result):
        out.print(table)
        out.print()


# -- watch -------------------------------------------------------------------------------------


@app.command()
def watch(
    record: Annotated[
        bool,
        typer.Option("--record", help='Append each change to the audit log ("external").'),
    ] = False,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0, help="Stop after SECONDS (default: until Ctrl-C)."),
    ] = None,
    config: ConfigOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Output JSON lines.")] = False,
) -> None:
    """Report changes under the root made outside the jail (by the agent's shell, say).

    Each change is shown with its virtual path; changes to denied or read-only paths are
    flagged. The jail's own changes, audit directory and temp files are left out.
    """
    from jailfs.watch import Watcher, WatchEvent

    out = console()
    err = console(stderr=True)

    def show(event: WatchEvent) -> None:
        if json_out:
            print_json_line(event.to_dict())
            return
        line = Text(f"{event.ts[11:23]}  {event.op:<8}  ")
        line.append(event.path + ("/" if event.is_dir else ""), "bold" if event.flagged else "")
        if event.dest is not None:
            line.append(f" -> {event.dest}")
        if event.flagged:
            rule = f" ({event.rule})" if event.rule else ""
            line.append(f"  FLAGGED: {event.reason}{rule}", "bold red")
        out.print(line)
        sys.stdout.flush()

    with _jail(config, actor="watch") as fs, Watcher(fs, record=record) as watcher:
        note = " (recording to the audit log)" if record else ""
        err.print(f"watching {escape(watcher.root)}{note}; Ctrl-C stops")
        sys.stderr.flush()
        with contextlib.suppress(KeyboardInterrupt):
            watcher.run(show, duration=duration)


# -- mcp ---------------------------------------------------------------------------------------


@app.command()
def mcp(config: ConfigOpt = None) -> None:
    """Serve the jail's file tools to an agent over MCP (stdio).

    Calls are audited with the config's actor (default "agent").
    """
    try:
        module: Any = importlib.import_module("jailfs.integrations.mcp")
    except ImportError as exc:
        fail(f"the MCP integration is not available ({exc}); install 'jailfs[mcp]'")
    fs = JailFileSystem.from_config(config_path(config))
    try:
        import asyncio
        import inspect

        with contextlib.suppress(KeyboardInterrupt):
            result = module.run_stdio(fs)
            if inspect.isawaitable(result):
                asyncio.run(_await(result))
    finally:
        fs.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable


# -- demo --------------------------------------------------------------------------------------


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Build the example here and keep it (default: a temp dir)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temp dir and print where it is.")
    ] = False,
) -> None:
    """Run a scripted agent session in a built-in example jail.

    Lays out a small project with a fake secret and a symlink planted to a file outside the
    root, then plays an agent that reads, edits and greps, and tries to escape and steal
    secrets. Shows each decision, the audit log, its statistics and its verified chain, and
    checks that the file outside the root was never read and is unchanged.
    """
    from ._demo import run

    ok = run(directory, keep=keep)
    if not ok:
        raise typer.Exit(EXIT_ERROR)


def main(argv: list[str] | None = None) -> None:
    """The console script."""
    app(args=argv, prog_name="jailfs")
