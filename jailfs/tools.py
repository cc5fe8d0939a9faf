"""File tools for an LLM agent, over a :class:`~jailfs.JailFileSystem`.

:class:`JailTools` offers the tools a coding agent expects (read with line numbers, write, exact
string edits, list, glob, grep, delete, move, mkdir, info) as plain methods that return text for a
model, with JSON schemas in the common function-calling format (:meth:`JailTools.specs`) and a
dispatcher (:meth:`JailTools.call`) that never raises for a tool-level error: it returns a short
"Error: ..." text the model can act on, while the full detail goes to the jail's audit log. Every
call runs inside ``fs.tool_scope(<tool name>)``, so the audit records carry the tool's name.

Everything goes through the jail's public API (so through its resolver, rules and audit log); this
module never touches the disk itself. Patterns the agent supplies (regular expressions, globs) are
compiled with RE2, whose matching time is linear in the input: no pattern can hang the process.

Paths are the jail's virtual paths: ``/`` is the jail's root, ``/a/b`` and ``a/b`` are the same
file, and results name paths relative to the root (``a/b``).
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import errno
import importlib
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from jailfs import paths
from jailfs.errors import AccessDenied, JailError
from jailfs.filesystem import JailFileSystem

# google-re2 ships no type information: keep it behind an Any-typed module object.
_re2: Any = importlib.import_module("re2")

#: lines read_file returns by default
DEFAULT_READ_LIMIT: Final = 2000
#: characters of one line shown before it is cut (read_file and grep output)
MAX_LINE_CHARS: Final = 2000
#: leading bytes checked for a NUL byte to call a file binary
BINARY_SNIFF_BYTES: Final = 8192
#: largest file read_file returns as base64
MAX_BASE64_BYTES: Final = 10 * 1024 * 1024
#: files larger than this are skipped by grep (and counted in its note)
GREP_MAX_FILE_SIZE: Final = 10 * 1024 * 1024
#: paths glob returns at most (newest first)
GLOB_LIMIT: Final = 100
#: the most results grep may be asked for, and the most context lines
MAX_GREP_RESULTS: Final = 2000
MAX_GREP_CONTEXT: Final = 50
#: longest regex or glob pattern accepted, in characters
MAX_PATTERN_CHARS: Final = 4096
#: most patterns one glob may expand to through {a,b} braces
MAX_BRACE_EXPANSIONS: Final = 256
#: lines of context around an edit in edit_file's confirmation
SNIPPET_CONTEXT: Final = 3

#: the tools that change the tree (offered only when the jail's write list is not empty)
WRITE_TOOLS: Final = frozenset({"write_file", "edit_file", "multi_edit", "delete", "move", "mkdir"})


class ToolError(Exception):
    """A refusal by the tool layer itself (bad argument, ambiguous edit ...): its text is shown
    to the model after "Error: "."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The text of one tool call for the model, and whether the call failed."""

    text: str
    is_error: bool = False


# -- small helpers shared with the integrations ---------------------------------------------------


def show(path: Any) -> str:
    """A path as the model sees it in messages: normalized, the root as ``/``."""
    try:
        vpath = paths.normalize(path)
    except (JailError, TypeError, ValueError):
        return str(path)
    return vpath or "/"


def describe_error(exc: BaseException) -> str:
    """A short "Error: ..." text for ``exc`` that tells a model what went wrong, never a host
    path (the jail's errors name virtual paths only)."""
    if isinstance(exc, ToolError):
        return f"Error: {exc}"
    if isinstance(exc, AccessDenied):
        text = str(exc)
        if exc.rule == "root":
            return "Error: the jail's root directory itself cannot be changed"
        if text.startswith(f"{exc.op} '"):  # "cat_file '.env' is denied ..." -> "'.env' is ..."
            text = text[len(exc.op) + 1 :]
        return f"Error: {text}"
    if isinstance(exc, JailError):
        return f"Error: {exc}"
    if isinstance(exc, OSError):
        name = exc.filename
        where = f"'{show(name)}'" if name is not None else "the path"
        code = exc.errno
        if code == errno.ENOENT:
            return f"Error: no such file or directory: {where}"
        if code == errno.EISDIR:
            return f"Error: {where} is a directory"
        if code == errno.ENOTDIR:
            return f"Error: {where} is not a directory (or a parent of it is a file)"
        if code == errno.EEXIST:
            return f"Error: {where} already exists"
        if code == errno.ENOTEMPTY:
            return f"Error: directory {where} is not empty"
        if code == errno.ELOOP:
            return f"Error: too many levels of symbolic links at {where}"
        reason = exc.strerror or str(exc)
        return f"Error: {reason}: {where}" if name is not None else f"Error: {reason}"
    if isinstance(exc, ValueError | TypeError):
        return f"Error: {exc}"
    return f"Error: {type(exc).__name__}: {exc}"


def decode_text(data: bytes) -> str | None:
    """``data`` as text, or None when it is binary (a NUL byte early on, or not UTF-8)."""
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split on ``\\n`` only (a final newline ends the last line)."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def cut_line(line: str) -> str:
    """A line for display: a trailing ``\\r`` dropped, cut at MAX_LINE_CHARS with a marker."""
    if line.endswith("\r"):
        line = line[:-1]
    if len(line) > MAX_LINE_CHARS:
        return f"{line[:MAX_LINE_CHARS]}... [line cut: {len(line)} characters in all]"
    return line


def numbered(number: int, line: str) -> str:
    """``cat -n`` style: the line number right-aligned in 6 columns, a tab, the line."""
    return f"{number:>6}\t{cut_line(line)}"


def human_size(n: int) -> str:
    """``1234`` -> ``"1.2 KiB"``."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    return f"{n} B"  # pragma: no cover - unreachable


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.UTC).isoformat(timespec="seconds")


def _error_message(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def compile_regex(pattern: str, *, ignore_case: bool = False) -> Any:
    """An RE2 regex (linear-time matching) for an agent's pattern, or :class:`ToolError`."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ToolError(f"the pattern is longer than {MAX_PATTERN_CHARS} characters")
    options = _re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return _re2.compile(pattern, options)
    except _re2.error as exc:
        raise ToolError(
            f"the regex {pattern!r} is not supported ({_error_message(exc)}). Patterns use RE2 "
            "syntax, which always runs in linear time: no backreferences (\\1) and no lookaround "
            "((?=...), (?!...), (?<=...), (?<!...)); rewrite the pattern without them"
        ) from None


# -- globs, translated to RE2 -----------------------------------------------------------------


def _expand_braces(pattern: str) -> list[str]:
    """``a{b,c}d`` -> ``[abd, acd]`` (nested braces too), at most MAX_BRACE_EXPANSIONS."""
    depth = 0
    start = -1
    for i, ch in enumerate(pattern):
        if ch == "\\":
            continue
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                body = pattern[start + 1 : i]
                alternatives = _split_top_commas(body)
                if len(alternatives) < 2:
                    continue  # "{x}" is literal, as in a shell
                head, tail = pattern[:start], pattern[i + 1 :]
                out: list[str] = []
                for alt in alternatives:
                    for expanded in _expand_braces(head + alt + tail):
                        out.append(expanded)
                        if len(out) > MAX_BRACE_EXPANSIONS:
                            raise ToolError(
                                f"the glob expands to more than {MAX_BRACE_EXPANSIONS} patterns"
                            )
                return out
    return [pattern]


def _split_top_commas(body: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _literal(ch: str) -> str:
    if ch.isalnum() or ord(ch) > 127:
        return ch
    if ch.isprintable():
        return "\\" + ch
    return f"\\x{{{ord(ch):x}}}"


def _segment_regex(segment: str) -> str:
    """One path component of a glob (no ``/``) as a regex."""
    out: list[str] = []
    i = 0
    n = len(segment)
    while i < n:
        ch = segment[i]
        if ch == "*":
            while i + 1 < n and segment[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = i + 1
            if end < n and segment[end] in "!^":
                end += 1
            if end < n and segment[end] == "]":
                end += 1
            while end < n and segment[end] != "]":
                end += 1
            if end >= n:  # no closing bracket: a literal "["
                out.append("\\[")
            else:
                body = segment[i + 1 : end]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                members = "".join(c if c == "-" else _literal(c) for c in body)
                out.append(f"[^/{members}]" if negate else f"[{members}]")
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(_literal(segment[i]))
        else:
            out.append(_literal(ch))
        i += 1
    return "".join(out)


def _glob_regex(pattern: str) -> str:
    parts = pattern.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append(_segment_regex(part))
        if not last:
            out.append("/")
    return "".join(out)


def compile_glob(pattern: str, *, match_basename: bool = False) -> Callable[[str], bool]:
    """A predicate over paths relative to a search root, for an agent's glob ``pattern``.

    ``*`` and ``?`` stay within one component (and match dot files), ``**`` as a whole component
    matches any number of components, ``[abc]``/``[!abc]`` are character classes and
    ``{a,b}`` alternatives. With ``match_basename`` a pattern without ``/`` is matched against
    the last component only (ripgrep's ``--glob``); a leading ``/`` anchors it to the root.
    Compiled with RE2: matching time is linear, whatever the pattern.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ToolError(f"the glob is longer than {MAX_PATTERN_CHARS} characters")
    if ".." in pattern.split("/"):
        raise ToolError("'..' is not allowed in a glob: patterns match paths inside the jail")
    anchored = pattern.startswith("/")
    pattern = pattern.lstrip("/")
    basename_only = match_basename and not anchored and "/" not in pattern
    alternatives = [_glob_regex(p) for p in _expand_braces(pattern)]
    options = _re2.Options()
    options.log_errors = False
    try:
        regex = _re2.compile("(?s:" + "|".join(f"(?:{a})" for a in alternatives) + ")", options)
    except _re2.error as exc:
        raise ToolError(f"the glob {pattern!r} is not valid ({_error_message(exc)})") from None

    def matches(rel: str) -> bool:
        target = rel.rsplit("/", 1)[-1] if basename_only else rel
        return regex.fullmatch(target) is not None

    return matches


# -- exact string edits -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replacement:
    """The result of one exact string edit: the new text, how many replacements, where."""

    text: str
    count: int
    position: int
    new_string: str


def replace_exact(
    text: str, old_string: str, new_string: str, *, replace_all: bool = False, where: str = ""
) -> Replacement:
    """Replace ``old_string`` in ``text``; it must occur exactly once unless ``replace_all``.

    Raises :class:`ToolError` saying how many matches there were. A CRLF file is matched with
    ``\\n`` in the strings read as ``\\r\\n`` when nothing matches otherwise.
    """
    name = f" in '{where}'" if where else ""
    if old_string == "":
        raise ToolError("old_string is empty; to create or overwrite a whole file use write_file")
    if old_string == new_string:
        raise ToolError("old_string and new_string are identical; there is nothing to change")
    count = text.count(old_string)
    if count == 0 and "\r\n" in text and "\n" in old_string and "\r\n" not in old_string:
        crlf_old = old_string.replace("\n", "\r\n")
        if text.count(crlf_old):
            old_string, new_string = crlf_old, new_string.replace("\n", "\r\n")
            count = text.count(old_string)
    if count == 0:
        raise ToolError(
            f"old_string was not found{name} (0 matches). It must match the file exactly, "
            "including whitespace and indentation: read the file again and copy the text"
        )
    if count > 1 and not replace_all:
        raise ToolError(
            f"old_string matches {count} times{name}; it must match exactly once. Include more "
            f"surrounding lines to make it unique, or set replace_all=true to replace all {count}"
        )
    position = text.find(old_string)
    if replace_all:
        return Replacement(text.replace(old_string, new_string), count, position, new_string)
    new_text = text[:position] + new_string + text[position + len(old_string) :]
    return Replacement(new_text, 1, position, new_string)


def edit_snippet(replacement: Replacement) -> str:
    """Numbered lines around the (first) replaced text, for a confirmation message."""
    text = replacement.text
    lines = split_lines(text)
    if not lines:
        return "(the file is now empty)"
    first = text.count("\n", 0, replacement.position) + 1
    last = first + replacement.new_string.count("\n")
    lo = max(1, first - SNIPPET_CONTEXT)
    hi = min(len(lines), last + SNIPPET_CONTEXT)
    return "\n".join(numbered(n, lines[n - 1]) for n in range(lo, hi + 1))


# -- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class TextWindow:
    """Some lines of a text file, read by :func:`read_window`."""

    lines: list[str]
    """the requested lines, without their line terminators (``\\r`` kept)"""
    start: int
    """0-based index of the first line in ``lines``"""
    total: int
    """lines in the whole file"""
    size: int
    """bytes in the whole file"""
    binary: bool = False
    """the file is not text (NUL byte early on, or not UTF-8); ``lines`` is then empty"""
    last_newline: bool = True
    """the file's last line ends with a newline"""


def read_window(fs: JailFileSystem, path: str, start: int, count: int) -> TextWindow:
    """Lines ``start`` .. ``start + count - 1`` (0-based) of a text file, streamed: only those
    lines are kept in memory, the rest are counted and checked to be UTF-8."""
    window: list[str] = []
    total = 0
    size = 0
    last_newline = True
    with fs.open(path, "rb") as f:
        head = f.read(BINARY_SNIFF_BYTES)
        if b"\x00" in head:
            return TextWindow([], start, 0, f.seek(0, 2), binary=True)
        f.seek(0)
        for raw in f:
            size += len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return TextWindow([], start, 0, f.seek(0, 2), binary=True)
            if start <= total < start + count:
                window.append(line[:-1] if line.endswith("\n") else line)
            last_newline = line.endswith("\n")
            total += 1
    return TextWindow(window, start, total, size, last_newline=last_newline)


@dataclass(slots=True)
class TextScan:
    """What :func:`iter_text_files` skipped, for a note to the model."""

    binary: int = 0
    large: int = 0
    unreadable: int = 0
    searched: int = 0
    errors: list[str] = field(default_factory=list)

    def note(self) -> str:
        parts = []
        if self.binary:
            parts.append(f"{self.binary} binary file{'s' if self.binary != 1 else ''}")
        if self.large:
            parts.append(
                f"{self.large} file{'s' if self.large != 1 else ''} over "
                f"{human_size(GREP_MAX_FILE_SIZE)}"
            )
        if self.unreadable:
            parts.append(f"{self.unreadable} unreadable file{'s' if self.unreadable != 1 else ''}")
        return f"(skipped {', '.join(parts)})" if parts else ""


def relative_to(vpath: str, base: str) -> str:
    """``vpath`` relative to the search root ``base`` (its own name if it is the root)."""
    if vpath == base:
        return paths.basename(vpath)
    return vpath[len(base) + 1 :] if base else vpath


def list_files(fs: JailFileSystem, path: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(normalized search root, {path: info}) for every visible entry under ``path`` (one
    audited ``find`` call; denied and hidden entries never appear)."""
    found = fs.find(path, withdirs=False, detail=True)
    return paths.normalize(path), found


def iter_text_files(
    fs: JailFileSystem,
    path: str,
    include: Callable[[str], bool] | None,
    scan: TextScan,
    *,
    max_size: int = GREP_MAX_FILE_SIZE,
) -> Iterator[tuple[str, str]]:
    """(virtual path, text) of each regular text file under ``path`` that passes ``include``
    (matched against the path relative to ``path``), sorted by path. Binary, oversized and
    unreadable files are skipped and counted in ``scan``; symlinks are not followed (a link inside
    the jail names a file that is searched under its own path)."""
    base, found = list_files(fs, path)
    for vpath in sorted(found):
        info = found[vpath]
        if info.get("type") != "file" or info.get("islink"):
            continue  # links are not followed (as in ripgrep): their targets are searched as such
        if include is not None and not include(relative_to(vpath, base)):
            continue
        if int(info.get("size") or 0) > max_size:
            scan.large += 1
            continue
        try:
            data = fs.cat_file(vpath)
        except (OSError, JailError) as exc:
            scan.unreadable += 1
            scan.errors.append(f"{vpath}: {describe_error(exc)}")
            continue
        text = decode_text(data)
        if text is None:
            scan.binary += 1
            continue
        scan.searched += 1
        yield vpath, text


# -- the tools ----------------------------------------------------------------------------------

_PATH_ARG = "a path inside the jail: '/' is its root; '/src/a.py' and 'src/a.py' are the same"

_SPECS: Final[tuple[dict[str, Any], ...]] = (
    {
        "name": "read_file",
        "description": (
            "Read a text file. Returns its lines numbered like `cat -n` (line number, tab, "
            "line), at most `limit` lines from line `offset` (1-based); the output says where "
            "it stopped and which offset reads on. Lines longer than 2000 characters are cut. "
            "Binary files are refused unless encoding='base64', which returns the whole file's "
            "bytes as base64 text (nothing else)."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": _PATH_ARG},
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 1,
                    "description": "first line to show (1-based)",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_READ_LIMIT,
                    "description": "most lines to show",
                },
                "encoding": {
                    "type": "string",
                    "enum": ["text", "base64"],
                    "default": "text",
                    "description": "'text' (numbered lines) or 'base64' (raw bytes)",
                },
            },
            "required": ["path"],
        },
    },
    {
        "name": "write_file",
        "description": (
            "Create a file or replace its whole content (atomically: readers see the old or the "
            "new content, never a mix). Parent directories are created. Prefer edit_file to "
            "change part of an existing file."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": _PATH_ARG},
                "content": {"type": "string", "description": "the complete new content (UTF-8)"},
            },
            "required": ["path", "content"],
        },
    },
    {
        "name": "edit_file",
        "description": (
            "Replace an exact string in a text file. old_string must match the file exactly "
            "(whitespace and indentation included; no line-number prefixes from read_file) and "
            "exactly once, unless replace_all is true; otherwise nothing changes and the error "
            "says how many matches there were. Returns a numbered snippet around the change."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": _PATH_ARG},
                "old_string": {"type": "string", "description": "the exact text to replace"},
                "new_string": {"type": "string", "description": "the text to put instead"},
                "replace_all": {
                    "type": "boolean",
                    "default": False,
                    "description": "replace every occurrence instead of exactly one",
                },
            },
            "required": ["path", "old_string", "new_string"],
        },
    },
    {
        "name": "multi_edit",
        "description": (
            "Apply several exact string edits to one file, in order, each on the result of the "
            "previous one. All or nothing: if any edit fails, the file is left unchanged. Each "
            "edit follows edit_file's rules."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": _PATH_ARG},
                "edits": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "old_string": {"type": "string"},
                            "new_string": {"type": "string"},
                            "replace_all": {"type": "boolean", "default": False},
                        },
                        "required": ["old_string", "new_string"],
                    },
                    "description": "the edits, applied in order",
                },
            },
            "required": ["path", "edits"],
        },
    },
    {
        "name": "list_dir",
        "description": (
            "List a directory: sub-directories first (with a trailing '/'), then files with "
            "their sizes; symlinks show where they point."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "default": "/", "description": _PATH_ARG},
            },
        },
    },
    {
        "name": "glob",
        "description": (
            "Find files whose path (relative to `path`) matches a glob: `*` and `?` within one "
            "name, `**` across directories, `[abc]`, `{a,b}`. Example: '**/*.py'. Returns paths, "
            f"newest first, at most {GLOB_LIMIT} (the output says how many more there are)."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "the glob, e.g. 'src/**/*.ts'"},
                "path": {
                    "type": "string",
                    "default": "/",
                    "description": "the directory to search from",
                },
            },
            "required": ["pattern"],
        },
    },
    {
        "name": "grep",
        "description": (
            "Search file contents with a regular expression (RE2 syntax: linear time, no "
            "backreferences or lookaround), line by line. output_mode 'files' lists matching "
            "files, 'content' shows matching lines as path:line:text (with `context` lines "
            "around them), 'count' gives matches per file. `glob` filters files by name "
            "('*.py') or relative path ('src/**/*.py'). Binary files and files over "
            f"{human_size(GREP_MAX_FILE_SIZE)} are skipped."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "the regular expression"},
                "path": {
                    "type": "string",
                    "default": "/",
                    "description": "a directory to search, or one file",
                },
                "glob": {"type": "string", "description": "only search files matching this"},
                "output_mode": {
                    "type": "string",
                    "enum": ["files", "content", "count"],
                    "default": "files",
                },
                "context": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_GREP_CONTEXT,
                    "default": 0,
                    "description": "lines of context around matches (output_mode 'content')",
                },
                "ignore_case": {"type": "boolean", "default": False},
                "max_results": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_GREP_RESULTS,
                    "default": 100,
                    "description": "most files ('files', 'count') or matching lines ('content')",
                },
            },
            "required": ["pattern"],
        },
    },
    {
        "name": "delete",
        "description": (
            "Delete a file, a symlink (never what it points to) or an empty directory; with "
            "recursive=true, a directory and everything in it (refused as a whole if any "
            "member may not be deleted)."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": _PATH_ARG},
                "recursive": {"type": "boolean", "default": False},
            },
            "required": ["path"],
        },
    },
    {
        "name": "move",
        "description": (
            "Move or rename a file or directory. Fails if the destination already exists. "
            "Parent directories of the destination are created."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "source": {"type": "string", "description": _PATH_ARG},
                "destination": {"type": "string", "description": "the new path"},
            },
            "required": ["source", "destination"],
        },
    },
    {
        "name": "mkdir",
        "description": "Create a directory and any missing parents (fine if it already exists).",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": _PATH_ARG}},
            "required": ["path"],
        },
    },
    {
        "name": "info",
        "description": "Type, size, modification time and permissions of a file or directory.",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": _PATH_ARG}},
            "required": ["path"],
        },
    },
)

_SPEC_BY_NAME: Final = {spec["name"]: spec for spec in _SPECS}
TOOL_NAMES: Final = tuple(spec["name"] for spec in _SPECS)

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _coerce(name: str, key: str, value: Any, schema: Mapping[str, Any]) -> Any:
    """Check (and gently coerce) one argument against its JSON schema."""
    kind = schema.get("type")
    bad = ToolError(f"{name}: argument '{key}' must be {_KIND_WORDS.get(str(kind), kind)}")
    if kind == "string":
        if not isinstance(value, str):
            raise bad
    elif kind == "integer":
        if isinstance(value, bool):
            raise bad
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if not isinstance(value, int):
            raise bad
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and value < lo:
            raise ToolError(f"{name}: argument '{key}' must be at least {lo}")
        if hi is not None and value > hi:
            raise ToolError(f"{name}: argument '{key}' must be at most {hi}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and value < lo:
            raise ToolError(f"{name}: argument '{key}' must be at least {lo}")
        if hi is not None and value > hi:
            raise ToolError(f"{name}: argument '{key}' must be at most {hi}")
    elif kind == "boolean":
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            value = value.lower() in _TRUE
        if not isinstance(value, bool):
            raise bad
    elif kind == "array":
        if not isinstance(value, list):
            raise bad
        if len(value) < int(schema.get("minItems", 0)):
            raise ToolError(f"{name}: argument '{key}' must not be empty")
    elif kind == "object" and not isinstance(value, dict):
        raise bad
    allowed = schema.get("enum")
    if allowed is not None and value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ToolError(f"{name}: argument '{key}' must be one of {choices}, not {value!r}")
    return value


_KIND_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}


def check_arguments(
    name: str, schema: Mapping[str, Any], arguments: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The keyword arguments of tool ``name`` from a model's ``arguments``, checked against the
    tool's JSON ``schema`` (top-level properties: types, enums, bounds, required, no unknown
    keys; integers and booleans written as strings are accepted). Absent and null optional
    arguments are left out, so the method's defaults apply. Raises :class:`ToolError`."""
    props: Mapping[str, Any] = schema.get("properties", {})
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ToolError(f"{name}: arguments must be an object")
    unknown = sorted(k for k in arguments if k not in props)
    if unknown:
        expected = ", ".join(props) or "none"
        raise ToolError(
            f"{name}: unknown argument(s) {', '.join(repr(k) for k in unknown)} "
            f"(expected: {expected})"
        )
    required = schema.get("required", ())
    kwargs: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is None and key not in required:
            continue
        kwargs[key] = _coerce(name, key, value, props[key])
    missing = [k for k in required if k not in kwargs]
    if missing:
        raise ToolError(f"{name}: missing required argument(s) {', '.join(missing)}")
    return kwargs


class JailTools:
    """The agent-facing file tools of one jail.

    Each tool is a method returning text for the model; :meth:`call` dispatches by name with a
    dict of arguments (as a model emits them) and never raises for a tool-level error: failures
    come back as "Error: ..." text. :meth:`run` returns a :class:`ToolResult` that also says
    whether the call failed. Every call runs inside ``fs.tool_scope(name)``.
    """

    def __init__(self, fs: JailFileSystem) -> None:
        self.fs = fs

    # -- metadata ---------------------------------------------------------------------------

    @classmethod
    def specs(cls, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The tools in the common function-calling format: ``[{"name", "description",
        "parameters": <JSON schema>}]``; all of them, or those in ``names``."""
        wanted = TOOL_NAMES if names is None else tuple(names)
        unknown = [n for n in wanted if n not in _SPEC_BY_NAME]
        if unknown:
            raise ValueError(f"unknown tool(s): {', '.join(unknown)}")
        return [copy.deepcopy(_SPEC_BY_NAME[n]) for n in wanted]

    @property
    def writable(self) -> bool:
        """Whether the jail's write list has any pattern (else it is read-only)."""
        return bool(self.fs.policy.to_dict()["write"])

    def tool_names(self) -> list[str]:
        """The tools worth offering for this jail: without the write tools when it is
        read-only."""
        return [n for n in TOOL_NAMES if self.writable or n not in WRITE_TOOLS]

    # -- dispatch ---------------------------------------------------------------------------

    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> str:
        """Run tool ``name`` with ``arguments``; its text, or "Error: ..." (never raises for a
        tool-level error)."""
        return self.run(name, arguments).text

    def run(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolResult:
        """Like :meth:`call`, returning the text and whether the call failed."""
        spec = _SPEC_BY_NAME.get(name)
        if spec is None:
            known = ", ".join(TOOL_NAMES)
            return ToolResult(f"Error: unknown tool '{name}' (known tools: {known})", True)
        try:
            kwargs = check_arguments(name, spec["parameters"], arguments)
        except ToolError as exc:
            return ToolResult(describe_error(exc), True)
        method: Callable[..., str] = getattr(self, "_" + name)
        return self._invoke(name, method, **kwargs)

    def _invoke(
        self, name: str, method: Callable[..., str], *args: Any, **kwargs: Any
    ) -> ToolResult:
        with self.fs.tool_scope(name):
            try:
                return ToolResult(method(*args, **kwargs))
            except Exception as exc:  # every failure becomes text for the model
                return ToolResult(describe_error(exc), True)

    # -- the tools, as methods ------------------------------------------------------------------

    def read_file(
        self,
        path: str,
        offset: int = 1,
        limit: int = DEFAULT_READ_LIMIT,
        encoding: str = "text",
    ) -> str:
        """Numbered lines of a text file (see the tool's description)."""
        return self._invoke("read_file", self._read_file, path, offset, limit, encoding).text

    def write_file(self, path: str, content: str) -> str:
        """Create or replace a file, atomically."""
        return self._invoke("write_file", self._write_file, path, content).text

    def edit_file(
        self, path: str, old_string: str, new_string: str, replace_all: bool = False
    ) -> str:
        """Replace an exact, unique string (or every occurrence with ``replace_all``)."""
        return self._invoke(
            "edit_file", self._edit_file, path, old_string, new_string, replace_all
        ).text

    def multi_edit(self, path: str, edits: list[dict[str, Any]]) -> str:
        """Several edits to one file, all or nothing."""
        return self._invoke("multi_edit", self._multi_edit, path, edits).text

    def list_dir(self, path: str = "/") -> str:
        """The entries of a directory."""
        return self._invoke("list_dir", self._list_dir, path).text

    def glob(self, pattern: str, path: str = "/") -> str:
        """Files matching a glob, newest first."""
        return self._invoke("glob", self._glob, pattern, path).text

    def grep(
        self,
        pattern: str,
        path: str = "/",
        glob: str | None = None,
        output_mode: str = "files",
        context: int = 0,
        ignore_case: bool = False,
        max_results: int = 100,
    ) -> str:
        """Search file contents with an RE2 regular expression."""
        return self._invoke(
            "grep",
            self._grep,
            pattern,
            path,
            glob,
            output_mode,
            context,
            ignore_case,
            max_results,
        ).text

    def delete(self, path: str, recursive: bool = False) -> str:
        """Delete a file, a symlink, or a directory (``recursive`` for a non-empty one)."""
        return self._invoke("delete", self._delete, path, recursive).text

    def move(self, source: str, destination: str) -> str:
        """Move or rename; the destination must not exist."""
        return self._invoke("move", self._move, source, destination).text

    def mkdir(self, path: str) -> str:
        """Create a directory with its parents."""
        return self._invoke("mkdir", self._mkdir, path).text

    def info(self, path: str) -> str:
        """Metadata of one path."""
        return self._invoke("info", self._info, path).text

    # -- implementations (raise; _invoke turns exceptions into text) ------------------------

    def _read_file(
        self,
        path: str,
        offset: int = 1,
        limit: int = DEFAULT_READ_LIMIT,
        encoding: str = "text",
    ) -> str:
        if encoding not in ("text", "base64"):
            raise ToolError("encoding must be 'text' or 'base64'")
        if offset < 1:
            raise ToolError("offset is a line number: it starts at 1")
        if limit < 1:
            raise ToolError("limit must be at least 1")
        if encoding == "base64":
            with self.fs.open(path, "rb") as f:
                data = f.read(MAX_BASE64_BYTES + 1)
            if len(data) > MAX_BASE64_BYTES:
                raise ToolError(
                    f"'{show(path)}' is larger than {human_size(MAX_BASE64_BYTES)}, the most "
                    "read_file returns as base64"
                )
            return base64.b64encode(data).decode("ascii")
        window = read_window(self.fs, path, offset - 1, limit)
        where = show(path)
        if window.binary:
            return (
                f"'{where}' is a binary file ({window.size} bytes), not text: it has no lines to "
                "show. Call read_file with encoding='base64' to get its bytes as base64."
            )
        if window.total == 0:
            return f"'{where}' is empty (0 bytes)."
        if offset > window.total:
            raise ToolError(
                f"offset {offset} is past the end of '{where}', which has {window.total} "
                f"line{'s' if window.total != 1 else ''}"
            )
        out = [numbered(offset + i, line) for i, line in enumerate(window.lines)]
        end = offset + len(window.lines) - 1
        if end < window.total:
            out.append(
                f"\n(stopped early: showed lines {offset}-{end} of {window.total}; call "
                f"read_file with offset={end + 1} to read on)"
            )
        return "\n".join(out)

    def _write_file(self, path: str, content: str) -> str:
        data = content.encode("utf-8")
        self.fs.pipe_file(path, data)
        lines = len(split_lines(content))
        return (
            f"Wrote {len(data)} bytes ({lines} line{'s' if lines != 1 else ''}) to '{show(path)}'."
        )

    def _text_of(self, path: str) -> str:
        data = self.fs.cat_file(path)
        text = decode_text(data)
        if text is None:
            raise ToolError(f"'{show(path)}' is a binary file; only UTF-8 text files can be edited")
        return text

    def _edit_file(
        self, path: str, old_string: str, new_string: str, replace_all: bool = False
    ) -> str:
        text = self._text_of(path)
        where = show(path)
        result = replace_exact(text, old_string, new_string, replace_all=replace_all, where=where)
        self.fs.pipe_file(path, result.text.encode("utf-8"))
        times = "1 occurrence" if result.count == 1 else f"{result.count} occurrences"
        return f"Edited '{where}': replaced {times}.\n{edit_snippet(result)}"

    def _multi_edit(self, path: str, edits: list[Any]) -> str:
        if not isinstance(edits, list) or not edits:
            raise ToolError("edits must be a non-empty list of {old_string, new_string} objects")
        checked: list[tuple[str, str, bool]] = []
        for i, edit in enumerate(edits, 1):
            if not isinstance(edit, Mapping):
                raise ToolError(f"edit {i} must be an object with old_string and new_string")
            extra = sorted(set(edit) - {"old_string", "new_string", "replace_all"})
            if extra:
                raise ToolError(f"edit {i}: unknown key(s) {', '.join(extra)}")
            old, new, every = (
                edit.get("old_string"),
                edit.get("new_string"),
                edit.get("replace_all", False),
            )
            if not isinstance(old, str) or not isinstance(new, str):
                raise ToolError(f"edit {i}: old_string and new_string must be strings")
            if not isinstance(every, bool):
                raise ToolError(f"edit {i}: replace_all must be true or false")
            checked.append((old, new, every))
        text = self._text_of(path)
        where = show(path)
        total = 0
        for i, (old, new, every) in enumerate(checked, 1):
            try:
                result = replace_exact(text, old, new, replace_all=every, where=where)
            except ToolError as exc:
                raise ToolError(
                    f"edit {i} of {len(checked)} failed: {exc}. No edit was applied; the file "
                    "is unchanged"
                ) from None
            text = result.text
            total += result.count
        self.fs.pipe_file(path, text.encode("utf-8"))
        return (
            f"Applied {len(checked)} edit{'s' if len(checked) != 1 else ''} to '{where}' "
            f"({total} replacement{'s' if total != 1 else ''} in all)."
        )

    def _list_dir(self, path: str = "/") -> str:
        entries = self.fs.ls(path, detail=True)
        where = show(path)
        vpath = paths.normalize(path)
        if len(entries) == 1 and entries[0]["name"] == vpath and entries[0]["type"] != "directory":
            return f"'{where}' is a file ({human_size(int(entries[0]['size']))}), not a directory."
        if not entries:
            return f"'{where}' is empty."
        dirs: list[str] = []
        files: list[str] = []
        for info in sorted(entries, key=lambda e: str(e["name"])):
            name = paths.basename(str(info["name"]))
            is_dir = info.get("type") == "directory"
            if info.get("islink"):
                dest = info.get("destination")
                target = f" -> {dest}" if dest else " -> (a target outside the jail or hidden)"
                line = f"{name}{'/' if is_dir else ''}{target}"
                if dest and not is_dir:
                    line += f"  ({human_size(int(info.get('size') or 0))})"
            elif is_dir:
                line = f"{name}/"
            elif info.get("type") == "file":
                line = f"{name}  ({human_size(int(info.get('size') or 0))})"
            else:
                line = f"{name}  (special file)"
            (dirs if is_dir else files).append(line)
        return "\n".join(dirs + files)

    def _glob(self, pattern: str, path: str = "/") -> str:
        if pattern.startswith("/"):
            path = "/"
        match = compile_glob(pattern.lstrip("/") or "**")
        base, found = list_files(self.fs, path)
        hits = [
            (vpath, info)
            for vpath, info in found.items()
            if info.get("type") == "file" and match(relative_to(vpath, base))
        ]
        where = show(path)
        if not hits:
            if not found and base and not self.fs.exists(path):
                raise ToolError(f"no such directory: '{where}'")
            return f"No files match '{pattern}' under '{where}'."
        hits.sort(key=lambda item: (-float(item[1].get("mtime") or 0), item[0]))
        lines = [vpath for vpath, _ in hits[:GLOB_LIMIT]]
        if len(hits) > GLOB_LIMIT:
            more = len(hits) - GLOB_LIMIT
            lines.append(
                f"\n(showing the {GLOB_LIMIT} newest of {len(hits)} matches; {more} more not "
                "shown: narrow the pattern or the path)"
            )
        return "\n".join(lines)

    def _grep(
        self,
        pattern: str,
        path: str = "/",
        glob: str | None = None,
        output_mode: str = "files",
        context: int = 0,
        ignore_case: bool = False,
        max_results: int = 100,
    ) -> str:
        if output_mode not in ("files", "content", "count"):
            raise ToolError("output_mode must be 'files', 'content' or 'count'")
        if not 0 <= context <= MAX_GREP_CONTEXT:
            raise ToolError(f"context must be between 0 and {MAX_GREP_CONTEXT}")
        if not 1 <= max_results <= MAX_GREP_RESULTS:
            raise ToolError(f"max_results must be between 1 and {MAX_GREP_RESULTS}")
        regex = compile_regex(pattern, ignore_case=ignore_case)
        include = compile_glob(glob, match_basename=True) if glob else None
        scan = TextScan()
        out: list[str] = []
        results = 0
        stopped = False
        for vpath, text in iter_text_files(self.fs, path, include, scan):
            lines = split_lines(text)
            hits = [i for i, line in enumerate(lines) if regex.search(line) is not None]
            if not hits:
                continue
            if output_mode == "files":
                out.append(vpath)
                results += 1
            elif output_mode == "count":
                out.append(f"{vpath}:{len(hits)}")
                results += 1
            else:
                room = max_results - results
                shown = hits[:room]
                stopped = len(hits) > room
                out.extend(_content_lines(vpath, lines, shown, set(hits), context))
                results += len(shown)
            if results >= max_results:
                stopped = True
                break
        notes = []
        if stopped:
            notes.append(
                f"(stopped after {max_results} results: narrow the pattern, path or glob, or "
                "raise max_results)"
            )
        skipped = scan.note()
        if skipped:
            notes.append(skipped)
        if not out:
            where = show(path)
            return "\n".join([f"No matches for {pattern!r} in '{where}'.", *notes])
        return "\n".join(out + (["", *notes] if notes else []))

    def _delete(self, path: str, recursive: bool = False) -> str:
        where = show(path)
        try:
            self.fs.rm_file(path)
            return f"Deleted '{where}'."
        except IsADirectoryError:
            pass
        if not recursive:
            try:
                self.fs.rmdir(path)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    raise ToolError(
                        f"'{where}' is a directory and not empty; call delete with "
                        "recursive=true to delete it and everything in it"
                    ) from None
                raise
            return f"Deleted the empty directory '{where}'."
        if any(c in path for c in "*?["):
            raise ToolError("delete takes one path, not a pattern (the name has * ? or [)")
        self.fs.rm(path, recursive=True)
        return f"Deleted the directory '{where}' and everything in it."

    def _move(self, source: str, destination: str) -> str:
        if self.fs.lexists(destination):
            raise ToolError(
                f"'{show(destination)}' already exists; delete it first or choose another name"
            )
        self.fs.mv(source, destination)
        return f"Moved '{show(source)}' to '{show(destination)}'."

    def _mkdir(self, path: str) -> str:
        where = show(path)
        try:
            self.fs.mkdir(path, create_parents=True)
        except FileExistsError:
            if self.fs.isdir(path):
                return f"The directory '{where}' already exists."
            raise ToolError(f"'{where}' already exists and is not a directory") from None
        return f"Created the directory '{where}'."

    def _info(self, path: str) -> str:
        info = self.fs.info(path)
        mode = int(info.get("mode") or 0)
        lines = [
            f"path: {show(path)}",
            f"type: {info.get('type')}",
            f"size: {info.get('size')} bytes",
            f"modified: {_iso(float(info.get('mtime') or 0))}",
            f"permissions: {stat.S_IMODE(mode):04o}",
        ]
        if info.get("islink"):
            lines.append(f"symlink to: {info.get('destination')}")
        return "\n".join(lines)


def _content_lines(
    vpath: str, lines: list[str], hits: list[int], hit_set: set[int], context: int
) -> list[str]:
    """grep -n -C style lines for the ``hits`` (0-based indexes) of one file; lines in
    ``hit_set`` (every matching line) are marked with ``:``, context lines with ``-``."""
    out: list[str] = []
    shown_until = -1
    for i in hits:
        lo = max(0, i - context, shown_until + 1)
        if out and context and lo > shown_until + 1:
            out.append("--")
        for j in range(lo, min(len(lines), i + context + 1)):
            if j <= shown_until:
                continue
            sep = ":" if j in hit_set else "-"
            out.append(f"{vpath}{sep}{j + 1}{sep}{cut_line(lines[j])}")
            shown_until = j
    return out


__all__ = [
    "DEFAULT_READ_LIMIT",
    "GLOB_LIMIT",
    "GREP_MAX_FILE_SIZE",
    "MAX_LINE_CHARS",
    "TOOL_NAMES",
    "WRITE_TOOLS",
    "JailTools",
    "Replacement",
    "TextScan",
    "TextWindow",
    "ToolError",
    "ToolResult",
    "check_arguments",
    "compile_glob",
    "compile_regex",
    "cut_line",
    "decode_text",
    "describe_error",
    "edit_snippet",
    "human_size",
    "iter_text_files",
    "list_files",
    "numbered",
    "read_window",
    "relative_to",
    "replace_exact",
    "show",
    "split_lines",
]
