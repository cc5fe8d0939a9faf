"""An MCP server serving one jail over stdio: ``python -m jailfs.integrations.mcp jailfs.toml``.

The tools have the names, arguments and output formats of the MCP reference filesystem server
(``@modelcontextprotocol/server-filesystem``): read_text_file, read_media_file,
read_multiple_files, write_file, edit_file, create_directory, list_directory,
list_directory_with_sizes, directory_tree, move_file, search_files, get_file_info and
list_allowed_directories, so clients and prompts written for it work unchanged. What differs is
underneath: every path goes through the jail (resolved beneath its root on directory file
descriptors, checked against its read/write/deny rules, written to its audit log with the tool's
name), and the agent sees the jail's root as ``/`` (``list_allowed_directories`` answers ``/``).

The write tools (write_file, edit_file, create_directory, move_file) are not offered at all when
the jail's write list is empty, and every tool carries ``readOnlyHint`` / ``destructiveHint`` /
``idempotentHint`` annotations. A refused or failed call is a tool error result (``isError``) with
a short message; it never ends the server.

Built on the MCP Python SDK 2.x low-level ``Server``: :func:`build_server` returns it,
:func:`run_stdio` serves it on stdin/stdout, :func:`main` is the command line.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import difflib
import json
import math
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio
import anyio.to_thread
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from jailfs import __version__, paths
from jailfs.config import find_config
from jailfs.errors import JailError
from jailfs.filesystem import JailFileSystem
from jailfs.tools import (
    ToolError,
    check_arguments,
    compile_glob,
    decode_text,
    describe_error,
    relative_to,
)

SERVER_NAME: Final = "jailfs"

#: MIME types of read_media_file, as in the reference server
MEDIA_TYPES: Final = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".svg": "image/svg+xml",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
}

_ONLY = "Only works within the jail: its root is '/'."


@dataclass(frozen=True, slots=True)
class ToolDef:
    """One MCP tool: its listing and the function that answers it."""

    name: str
    title: str
    description: str
    schema: dict[str, Any]
    annotations: types.ToolAnnotations
    handler: Callable[[JailFileSystem, dict[str, Any]], list[types.ContentBlock] | str]
    writes: bool = False

    def tool(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.schema,
            annotations=self.annotations,
        )


def _read_only(title: str) -> types.ToolAnnotations:
    return types.ToolAnnotations(title=title, read_only_hint=True, open_world_hint=False)


def _writing(title: str, *, idempotent: bool, destructive: bool) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        title=title,
        read_only_hint=False,
        idempotent_hint=idempotent,
        destructive_hint=destructive,
        open_world_hint=False,
    )


def _schema(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_STR: Final = {"type": "string"}
_PATHS: Final = {"type": "array", "items": {"type": "string"}, "default": []}


# -- helpers --------------------------------------------------------------------------------------


def _full(vpath: str) -> str:
    """A jail path as this server shows it: absolute, the root being ``/``."""
    return "/" + vpath


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolError(f"'{name}' must be a list of strings")
    return list(value)


def _lines(value: Any, name: str) -> int:
    number = float(value)
    if number < 0 or not number.is_integer():
        raise ToolError(f"'{name}' must be a whole number of lines, at least 0")
    return int(number)


def format_size(n: int) -> str:
    """Sizes as the reference server prints them: ``1536`` -> ``"1.50 KB"``."""
    units = ("B", "KB", "MB", "GB", "TB")
    if n <= 0:
        return "0 B"
    i = math.floor(math.log(n) / math.log(1024))
    if i <= 0:
        return f"{n} B"
    i = min(i, len(units) - 1)
    return f"{n / 1024**i:.2f} {units[i]}"


def unified_diff(original: str, modified: str, name: str) -> str:
    """A git-style unified diff of two texts (the reference server's ``createTwoFilesPatch``
    layout: an ``=`` rule, ``--- name\\toriginal`` / ``+++ name\\tmodified``, hunks)."""
    a = original.splitlines(keepends=True)
    b = modified.splitlines(keepends=True)
    out = ["=" * 67 + "\n"]
    for line in difflib.unified_diff(
        a, b, fromfile=name, tofile=name, fromfiledate="original", tofiledate="modified", n=4
    ):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    if len(out) == 1:  # no change: headers only, like createTwoFilesPatch
        out += [f"--- {name}\toriginal\n", f"+++ {name}\tmodified\n"]
    return "".join(out)


def apply_edits(text: str, edits: list[tuple[str, str]]) -> str:
    """The reference server's edit_file semantics: each ``oldText`` replaces its first exact
    occurrence; failing that, the first run of lines equal to it up to leading/trailing whitespace
    is replaced, re-indented like the matched lines. Raises :class:`ToolError` if one does not
    match (and then nothing is written)."""
    content = text
    for old_raw, new_raw in edits:
        old = old_raw.replace("\r\n", "\n")
        new = new_raw.replace("\r\n", "\n")
        if old == "":
            raise ToolError("oldText must not be empty")
        if old in content:
            content = content.replace(old, new, 1)
            continue
        old_lines = old.split("\n")
        lines = content.split("\n")
        for i in range(len(lines) - len(old_lines) + 1):
            window = lines[i : i + len(old_lines)]
            if all(o.strip() == w.strip() for o, w in zip(old_lines, window, strict=True)):
                lines[i : i + len(old_lines)] = _reindent(new.split("\n"), old_lines, window)
                content = "\n".join(lines)
                break
        else:
            raise ToolError(f"Could not find exact match for edit:\n{old_raw}")
    return content


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(new_lines: list[str], old_lines: list[str], matched: list[str]) -> list[str]:
    """``new_lines`` indented like the file: each line keeps its indentation relative to the
    ``old_lines`` it replaces, applied to the indentation of the ``matched`` file lines."""
    out = []
    for j, line in enumerate(new_lines):
        k = min(j, len(old_lines) - 1)
        have = _indent(matched[k])
        if j == 0 or not line.strip():
            out.append(have + line.lstrip() if line.strip() else line)
            continue
        delta = len(_indent(line)) - len(_indent(old_lines[k]))
        indent = have + " " * delta if delta >= 0 else have[: max(0, len(have) + delta)]
        out.append(indent + line.lstrip())
    return out


def _fenced(diff: str) -> str:
    ticks = 3
    while "`" * ticks in diff:
        ticks += 1
    fence = "`" * ticks
    return f"{fence}diff\n{diff}{fence}\n\n"


def _excluded(rel: str, patterns: list[Callable[[str], bool]]) -> bool:
    """Whether ``rel`` or one of its parent directories matches an exclude pattern."""
    parts = rel.split("/")
    return any(match("/".join(parts[:i])) for i in range(1, len(parts) + 1) for match in patterns)


def _exclude_matchers(patterns: list[str]) -> list[Callable[[str], bool]]:
    """The reference server's exclude patterns: with a ``*``, a glob on the relative path;
    without, the name anywhere (``x``, ``**/x``, ``**/x/**``)."""
    out: list[Callable[[str], bool]] = []
    for pattern in patterns:
        if "*" in pattern:
            out.append(compile_glob(pattern))
        else:
            out.append(compile_glob("{" + f"{pattern},**/{pattern}" + "}"))
    return out


# -- the tools ------------------------------------------------------------------------------------


def _read_text_file(fs: JailFileSystem, args: dict[str, Any]) -> str:
    head, tail = args.get("head"), args.get("tail")
    if head is not None and tail is not None:
        raise ToolError("Cannot specify both head and tail parameters simultaneously")
    text = fs.cat_file(args["path"]).decode("utf-8", "replace")
    if head is not None:
        return "\n".join(text.split("\n")[: _lines(head, "head")])
    if tail is not None:
        count = _lines(tail, "tail")
        lines = text.removesuffix("\n").split("\n")
        return "\n".join(lines[-count:]) if count else ""
    return text


def _read_media_file(fs: JailFileSystem, args: dict[str, Any]) -> list[types.ContentBlock]:
    path = args["path"]
    data = fs.cat_file(path)
    vpath = paths.normalize(path)
    suffix = "." + vpath.rsplit(".", 1)[-1].lower() if "." in paths.basename(vpath) else ""
    mime = MEDIA_TYPES.get(suffix, "application/octet-stream")
    encoded = base64.b64encode(data).decode("ascii")
    if mime.startswith("image/"):
        return [types.ImageContent(data=encoded, mime_type=mime)]
    if mime.startswith("audio/"):
        return [types.AudioContent(data=encoded, mime_type=mime)]
    blob = types.BlobResourceContents(uri=f"jail:///{vpath}", mime_type=mime, blob=encoded)
    return [types.EmbeddedResource(resource=blob)]


def _read_multiple_files(fs: JailFileSystem, args: dict[str, Any]) -> str:
    results = []
    for path in _strings("paths", args["paths"]):
        try:
            content = fs.cat_file(path).decode("utf-8", "replace")
            results.append(f"{path}:\n{content}\n")
        except Exception as exc:
            results.append(f"{path}: Error - {describe_error(exc).removeprefix('Error: ')}")
    return "\n---\n".join(results)


def _write_file(fs: JailFileSystem, args: dict[str, Any]) -> str:
    fs.pipe_file(args["path"], args["content"].encode("utf-8"))
    return f"Successfully wrote to {args['path']}"


def _edit_file(fs: JailFileSystem, args: dict[str, Any]) -> str:
    raw_edits = args["edits"]
    if not isinstance(raw_edits, list):
        raise ToolError("'edits' must be a list of {oldText, newText} objects")
    edits: list[tuple[str, str]] = []
    for i, edit in enumerate(raw_edits, 1):
        if not isinstance(edit, dict) or set(edit) - {"oldText", "newText"}:
            raise ToolError(f"edit {i} must be an object with oldText and newText only")
        old, new = edit.get("oldText"), edit.get("newText")
        if not isinstance(old, str) or not isinstance(new, str):
            raise ToolError(f"edit {i}: oldText and newText must be strings")
        edits.append((old, new))
    path = args["path"]
    original = decode_text(fs.cat_file(path))
    if original is None:
        raise ToolError(f"'{path}' is a binary file; edit_file only edits UTF-8 text")
    crlf = "\r\n" in original
    content = original.replace("\r\n", "\n")
    modified = apply_edits(content, edits)
    result = _fenced(unified_diff(content, modified, path))
    if not args.get("dryRun", False) and modified != content:
        out = modified.replace("\n", "\r\n") if crlf else modified
        fs.pipe_file(path, out.encode("utf-8"))
    return result


def _create_directory(fs: JailFileSystem, args: dict[str, Any]) -> str:
    fs.makedirs(args["path"], exist_ok=True)
    return f"Successfully created directory {args['path']}"


def _entries(fs: JailFileSystem, path: str) -> list[dict[str, Any]]:
    entries = fs.ls(path, detail=True)
    vpath = paths.normalize(path)
    if len(entries) == 1 and entries[0]["name"] == vpath and entries[0]["type"] != "directory":
        raise ToolError(f"'{path}' is not a directory")
    return sorted(entries, key=lambda e: str(e["name"]))


def _list_directory(fs: JailFileSystem, args: dict[str, Any]) -> str:
    lines = [
        f"{'[DIR]' if e['type'] == 'directory' else '[FILE]'} {paths.basename(e['name'])}"
        for e in _entries(fs, args["path"])
    ]
    return "\n".join(lines)


def _list_directory_with_sizes(fs: JailFileSystem, args: dict[str, Any]) -> str:
    entries = _entries(fs, args["path"])
    if args.get("sortBy", "name") == "size":
        entries.sort(key=lambda e: -int(e.get("size") or 0))
    lines = []
    files = dirs = total = 0
    for e in entries:
        is_dir = e["type"] == "directory"
        size = 0 if is_dir else int(e.get("size") or 0)
        name = paths.basename(e["name"]).ljust(30)
        shown = "" if is_dir else format_size(size).rjust(10)
        lines.append(f"{'[DIR]' if is_dir else '[FILE]'} {name} {shown}")
        dirs += is_dir
        files += not is_dir
        total += size
    lines += [
        "",
        f"Total: {files} files, {dirs} directories",
        f"Combined size: {format_size(total)}",
    ]
    return "\n".join(lines)


def _directory_tree(fs: JailFileSystem, args: dict[str, Any]) -> str:
    path = args["path"]
    excludes = _exclude_matchers(_strings("excludePatterns", args.get("excludePatterns", [])))
    found: dict[str, dict[str, Any]] = fs.find(path, withdirs=True, detail=True)
    base = paths.normalize(path)
    top = found.get(base) if base else {"type": "directory", "islink": False}
    if top is None:
        raise ToolError(f"no such directory: {path}")
    if top.get("type") != "directory" or top.get("islink"):
        raise ToolError(f"'{path}' is not a directory")
    root: list[dict[str, Any]] = []
    nodes: dict[str, list[dict[str, Any]]] = {base: root}
    for vpath in sorted(found):
        if vpath == base:
            continue
        rel = relative_to(vpath, base)
        if _excluded(rel, excludes):
            continue
        parent = nodes.get(paths.parent_of(vpath))
        if parent is None:  # below a symlink or an excluded directory
            continue
        info = found[vpath]
        entry: dict[str, Any] = {"name": paths.basename(vpath)}
        if info.get("type") == "directory" and not info.get("islink"):
            entry["type"] = "directory"
            entry["children"] = nodes[vpath] = []
        else:
            entry["type"] = "file"
        parent.append(entry)
    return json.dumps(root, indent=2)


def _move_file(fs: JailFileSystem, args: dict[str, Any]) -> str:
    source, destination = args["source"], args["destination"]
    if fs.lexists(destination):
        raise ToolError(f"Destination already exists: {destination}")
    fs.mv(source, destination)
    return f"Successfully moved {source} to {destination}"


def _search_files(fs: JailFileSystem, args: dict[str, Any]) -> str:
    path = args["path"]
    match = compile_glob(args["pattern"])
    excludes = _exclude_matchers(_strings("excludePatterns", args.get("excludePatterns", [])))
    found: list[str] = fs.find(path, withdirs=True)
    base = paths.normalize(path)
    hits = []
    for vpath in found:
        if vpath == base:
            continue
        rel = relative_to(vpath, base)
        if excludes and _excluded(rel, excludes):
            continue
        if match(rel):
            hits.append(_full(vpath))
    return "\n".join(hits) if hits else "No matches found"


def _get_file_info(fs: JailFileSystem, args: dict[str, Any]) -> str:
    info = fs.info(args["path"])
    mode = int(info.get("mode") or 0)

    def when(ts: Any) -> str:
        return _dt.datetime.fromtimestamp(float(ts or 0), tz=_dt.UTC).isoformat()

    fields = {
        "size": info.get("size"),
        "created": when(info.get("created")),
        "modified": when(info.get("mtime")),
        "isDirectory": str(info.get("type") == "directory").lower(),
        "isFile": str(info.get("type") == "file").lower(),
        "permissions": f"{stat.S_IMODE(mode):o}"[-3:],
    }
    if info.get("islink"):
        fields["symlinkTarget"] = _full(str(info.get("destination") or ""))
    return "\n".join(f"{key}: {value}" for key, value in fields.items())


def _list_allowed_directories(fs: JailFileSystem, args: dict[str, Any]) -> str:
    return "Allowed directories:\n/"


TOOLS: Final[tuple[ToolDef, ...]] = (
    ToolDef(
        "read_text_file",
        "Read Text File",
        "Read the complete contents of a file as text (UTF-8, whatever the extension). Use "
        "'head' to read only the first N lines or 'tail' for the last N lines. " + _ONLY,
        _schema(
            {
                "path": _STR,
                "tail": {
                    "type": "number",
                    "description": "If provided, returns only the last N lines of the file",
                },
                "head": {
                    "type": "number",
                    "description": "If provided, returns only the first N lines of the file",
                },
            },
            ["path"],
        ),
        _read_only("Read Text File"),
        _read_text_file,
    ),
    ToolDef(
        "read_media_file",
        "Read Media File",
        "Read an image or audio file. Returns the base64 encoded data and MIME type. " + _ONLY,
        _schema({"path": _STR}, ["path"]),
        _read_only("Read Media File"),
        _read_media_file,
    ),
    ToolDef(
        "read_multiple_files",
        "Read Multiple Files",
        "Read the contents of several files at once. Each file's content is returned with its "
        "path; a failed read of one file does not stop the others. " + _ONLY,
        _schema(
            {
                "paths": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "description": "Array of file paths to read.",
                }
            },
            ["paths"],
        ),
        _read_only("Read Multiple Files"),
        _read_multiple_files,
    ),
    ToolDef(
        "write_file",
        "Write File",
        "Create a new file or completely overwrite an existing file with new content "
        "(atomically). Use with caution: it overwrites without warning. " + _ONLY,
        _schema({"path": _STR, "content": _STR}, ["path", "content"]),
        _writing("Write File", idempotent=True, destructive=True),
        _write_file,
        writes=True,
    ),
    ToolDef(
        "edit_file",
        "Edit File",
        "Make line-based edits to a text file. Each edit replaces exact line sequences with "
        "new content. Returns a git-style diff showing the changes made; with dryRun, only the "
        "diff (nothing is written). All edits apply or none. " + _ONLY,
        _schema(
            {
                "path": _STR,
                "edits": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "oldText": {
                                "type": "string",
                                "description": "Text to search for - must match exactly",
                            },
                            "newText": {"type": "string", "description": "Text to replace with"},
                        },
                        "required": ["oldText", "newText"],
                        "additionalProperties": False,
                    },
                },
                "dryRun": {
                    "type": "boolean",
                    "default": False,
                    "description": "Preview changes using git-style diff format",
                },
            },
            ["path", "edits"],
        ),
        _writing("Edit File", idempotent=False, destructive=True),
        _edit_file,
        writes=True,
    ),
    ToolDef(
        "create_directory",
        "Create Directory",
        "Create a new directory or make sure it exists, with any missing parents. Succeeds "
        "silently if it already exists. " + _ONLY,
        _schema({"path": _STR}, ["path"]),
        _writing("Create Directory", idempotent=True, destructive=False),
        _create_directory,
        writes=True,
    ),
    ToolDef(
        "list_directory",
        "List Directory",
        "List the files and directories in a path, marked with [FILE] and [DIR]. " + _ONLY,
        _schema({"path": _STR}, ["path"]),
        _read_only("List Directory"),
        _list_directory,
    ),
    ToolDef(
        "list_directory_with_sizes",
        "List Directory with Sizes",
        "List the files and directories in a path with [FILE] and [DIR] prefixes and file "
        "sizes, plus totals. " + _ONLY,
        _schema(
            {
                "path": _STR,
                "sortBy": {
                    "type": "string",
                    "enum": ["name", "size"],
                    "default": "name",
                    "description": "Sort entries by name or size",
                },
            },
            ["path"],
        ),
        _read_only("List Directory with Sizes"),
        _list_directory_with_sizes,
    ),
    ToolDef(
        "directory_tree",
        "Directory Tree",
        "Get a recursive tree of files and directories as JSON: each entry has 'name', 'type' "
        "('file' or 'directory') and, for directories, 'children'. Indented with 2 spaces. "
        + _ONLY,
        _schema({"path": _STR, "excludePatterns": _PATHS}, ["path"]),
        _read_only("Directory Tree"),
        _directory_tree,
    ),
    ToolDef(
        "move_file",
        "Move File",
        "Move or rename a file or directory. Fails if the destination exists. " + _ONLY,
        _schema({"source": _STR, "destination": _STR}, ["source", "destination"]),
        _writing("Move File", idempotent=False, destructive=True),
        _move_file,
        writes=True,
    ),
    ToolDef(
        "search_files",
        "Search Files",
        "Recursively search for files and directories whose path relative to 'path' matches a "
        "glob pattern: '*.ext' for the directory itself, '**/*.ext' for all subdirectories. "
        "Returns full paths. " + _ONLY,
        _schema({"path": _STR, "pattern": _STR, "excludePatterns": _PATHS}, ["path", "pattern"]),
        _read_only("Search Files"),
        _search_files,
    ),
    ToolDef(
        "get_file_info",
        "Get File Info",
        "Metadata of a file or directory: size, creation and modification time, type and "
        "permissions. " + _ONLY,
        _schema({"path": _STR}, ["path"]),
        _read_only("Get File Info"),
        _get_file_info,
    ),
    ToolDef(
        "list_allowed_directories",
        "List Allowed Directories",
        "List the directories this server may access: the jail's root, '/', and everything "
        "below it.",
        _schema({}),
        _read_only("List Allowed Directories"),
        _list_allowed_directories,
    ),
)


# -- the server -----------------------------------------------------------------------------------


def offered_tools(fs: JailFileSystem) -> list[ToolDef]:
    """The tools this jail offers: the write tools only when its write list is not empty."""
    writable = bool(fs.policy.to_dict()["write"])
    return [t for t in TOOLS if writable or not t.writes]


def call_tool(
    fs: JailFileSystem, tool: ToolDef, arguments: dict[str, Any] | None
) -> types.CallToolResult:
    """Run one tool (blocking) inside ``fs.tool_scope``; any failure is an error result."""
    with fs.tool_scope(tool.name):
        try:
            args = check_arguments(tool.name, tool.schema, arguments)
            out = tool.handler(fs, args)
        except Exception as exc:
            text = types.TextContent(text=describe_error(exc))
            return types.CallToolResult(content=[text], is_error=True)
    content: list[types.ContentBlock] = (
        [types.TextContent(text=out)] if isinstance(out, str) else out
    )
    return types.CallToolResult(content=content)


def build_server(fs: JailFileSystem) -> Server[Any]:
    """A low-level MCP ``Server`` answering ``tools/list`` and ``tools/call`` for ``fs``."""
    tools = {t.name: t for t in offered_tools(fs)}
    listing = [t.tool() for t in tools.values()]
    access = (
        "read and write (as its rules allow)"
        if any(t.writes for t in tools.values())
        else ("read only")
    )

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listing)

    async def call(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            known = ", ".join(tools)
            text = types.TextContent(text=f"Error: unknown tool '{params.name}' (tools: {known})")
            return types.CallToolResult(content=[text], is_error=True)
        arguments = params.arguments
        return await anyio.to_thread.run_sync(lambda: call_tool(fs, tool, arguments))

    return Server(
        SERVER_NAME,
        version=__version__,
        title="jailfs filesystem",
        instructions=(
            "File tools confined to one directory jail. '/' is the jail's root and every path "
            f"is inside it. Access: {access}. Some files are hidden or refused by the jail's "
            "rules; a refused call returns an error explaining why."
        ),
        on_list_tools=list_tools,
        on_call_tool=call,
    )


async def serve_stdio(fs: JailFileSystem) -> None:
    """Serve ``fs`` on this process's stdin/stdout until the client disconnects."""
    server = build_server(fs)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def run_stdio(fs: JailFileSystem) -> None:
    """Blocking: serve ``fs`` over stdio (the MCP stdio transport)."""
    anyio.run(serve_stdio, fs)


def main(argv: list[str] | None = None) -> int:
    """``python -m jailfs.integrations.mcp [CONFIG]``: serve the jail of a ``jailfs.toml``."""
    parser = argparse.ArgumentParser(
        prog="python -m jailfs.integrations.mcp",
        description="Serve one jail (a jailfs.toml) as an MCP filesystem server over stdio.",
    )
    parser.add_argument(
        "config",
        nargs="?",
        help="the jail's jailfs.toml (default: the nearest one in this directory or above)",
    )
    args = parser.parse_args(argv)
    config = args.config or find_config()
    if config is None:
        parser.error("no jailfs.toml found here or above; pass its path")
    try:
        fs = JailFileSystem.from_config(config)
    except (JailError, OSError) as exc:
        print(f"jailfs mcp: {exc}", file=sys.stderr)
        return 1
    try:
        run_stdio(fs)
    except KeyboardInterrupt:
        pass
    finally:
        fs.close()
    return 0


__all__ = [
    "TOOLS",
    "ToolDef",
    "apply_edits",
    "build_server",
    "call_tool",
    "format_size",
    "main",
    "offered_tools",
    "run_stdio",
    "serve_stdio",
    "unified_diff",
]

if __name__ == "__main__":
    sys.exit(main())
