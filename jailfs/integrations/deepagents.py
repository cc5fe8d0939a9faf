"""A deepagents backend over a jail: ``create_deep_agent(..., backend=JailBackend(fs))``.

:class:`JailBackend` implements deepagents' ``BackendProtocol`` (ls, read, write, edit, delete,
grep, glob, upload_files, download_files; the async ``a*`` variants are inherited and run these
in a worker thread). Paths are the jail's virtual paths written the deepagents way: absolute, with
``/`` as the jail's root. Results use the protocol's own types (``LsResult``, ``ReadResult``,
``WriteResult``, ``EditResult``, ``DeleteResult``, ``GrepResult``, ``GlobResult``,
``FileUploadResponse``, ``FileDownloadResponse``) and error conventions: nothing raises for a
refused path; the message (or, for uploads and downloads, a ``FileOperationError`` code) says why.

Every call runs inside ``fs.tool_scope(<deepagents tool name>)`` so the jail's audit records say
which tool asked. Unlike deepagents' ``FilesystemBackend``, the jail resolves every path beneath
its root on directory file descriptors and applies its read/write/deny rules and limits.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, TypeVar

from deepagents.backends.protocol import (
    FILE_NOT_FOUND,
    INVALID_PATH,
    IS_DIRECTORY,
    PERMISSION_DENIED,
    BackendProtocol,
    DeleteResult,
    EditResult,
    FileData,
    FileDownloadResponse,
    FileInfo,
    FileOperationError,
    FileUploadResponse,
    GlobResult,
    GrepMatch,
    GrepResult,
    LsResult,
    ReadResult,
    WriteResult,
)

from jailfs import paths
from jailfs.errors import InvalidPathError, JailError
from jailfs.filesystem import JailFileSystem
from jailfs.tools import (
    JailTools,
    TextScan,
    ToolError,
    compile_glob,
    decode_text,
    describe_error,
    iter_text_files,
    list_files,
    read_window,
    relative_to,
    replace_exact,
    split_lines,
)

T = TypeVar("T")

#: extensions deepagents reads as binary (its multimodal types): returned as base64
BINARY_EXTENSIONS = frozenset(
    {
        ".png", ".jpeg", ".jpg", ".webp", ".gif", ".heic", ".heif",
        ".mp4", ".mpeg", ".mov", ".avi", ".flv", ".mpg", ".webm", ".wmv", ".3gpp", ".mkv",
        ".wav", ".mp3", ".aiff", ".aac", ".ogg", ".flac",
        ".pdf", ".ppt", ".pptx",
    }
)  # fmt: skip


def _abs(vpath: str) -> str:
    """A jail path the deepagents way: absolute, ``/`` for the root."""
    return "/" + vpath


def _iso(ts: Any) -> str:
    return _dt.datetime.fromtimestamp(float(ts or 0), tz=_dt.UTC).isoformat()


def _message(exc: BaseException) -> str:
    """The error text without the leading "Error: " (the middleware adds its own)."""
    return describe_error(exc).removeprefix("Error: ")


def error_code(exc: BaseException) -> FileOperationError | str:
    """The deepagents ``FileOperationError`` code for ``exc`` (a message if none fits)."""
    if isinstance(exc, FileNotFoundError):
        return FILE_NOT_FOUND
    if isinstance(exc, IsADirectoryError):
        return IS_DIRECTORY
    if isinstance(exc, PermissionError):  # AccessDenied, PathEscapeError, HardlinkRefused
        return PERMISSION_DENIED
    if isinstance(exc, InvalidPathError | NotADirectoryError | FileExistsError):
        return INVALID_PATH
    return describe_error(exc)


class JailBackend(BackendProtocol):
    """deepagents' file backend protocol, served by a :class:`~jailfs.JailFileSystem`."""

    def __init__(self, fs: JailFileSystem) -> None:
        self.fs = fs
        self.tools = JailTools(fs)

    def _scoped(self, tool: str, fn: Callable[[], T]) -> T:
        with self.fs.tool_scope(tool):
            return fn()

    # -- listing ------------------------------------------------------------------------------

    def ls(self, path: str) -> LsResult:
        """Entries directly in ``path``; directories end with ``/`` and have ``is_dir=True``."""
        return self._scoped("ls", lambda: self._ls(path))

    def _ls(self, path: str) -> LsResult:
        try:
            entries = self.fs.ls(path, detail=True)
            vpath = paths.normalize(path)
        except FileNotFoundError:
            return LsResult(error=f"Path '{path}': path_not_found")
        except NotADirectoryError:
            return LsResult(error=f"Path '{path}': not_a_directory")
        except Exception as exc:
            return LsResult(error=_message(exc))
        single = len(entries) == 1 and entries[0]["name"] == vpath and vpath
        if single and entries[0].get("type") != "directory":
            return LsResult(error=f"Path '{path}': not_a_directory")
        out: list[FileInfo] = []
        for info in entries:
            kind = info.get("type")
            if kind == "directory":
                out.append(
                    FileInfo(
                        path=_abs(str(info["name"])) + "/",
                        is_dir=True,
                        size=0,
                        modified_at=_iso(info.get("mtime")),
                    )
                )
            elif kind == "file":
                out.append(
                    FileInfo(
                        path=_abs(str(info["name"])),
                        is_dir=False,
                        size=int(info.get("size") or 0),
                        modified_at=_iso(info.get("mtime")),
                    )
                )
            # anything else (a link that leads outside or to a hidden file, a FIFO ...) is
            # neither readable nor listable: left out, as deepagents' FilesystemBackend does
        out.sort(key=lambda e: e["path"])
        return LsResult(entries=out)

    # -- reading ------------------------------------------------------------------------------

    def read(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        """Raw lines ``offset`` (0-based) .. ``offset + limit - 1``; binary files as base64."""
        return self._scoped("read_file", lambda: self._read(file_path, offset, limit))

    def _read(self, file_path: str, offset: int, limit: int) -> ReadResult:
        offset, limit = max(int(offset), 0), max(int(limit), 0)
        try:
            if PurePosixPath(file_path).suffix.lower() in BINARY_EXTENSIONS:
                return self._read_base64(file_path)
            if limit == 0:
                return ReadResult(
                    file_data=FileData(content="", encoding="utf-8"), no_lines_requested=True
                )
            window = read_window(self.fs, file_path, offset, limit)
            if window.binary:
                return self._read_base64(file_path)
        except Exception as exc:
            return ReadResult(error=_message(exc))
        lines = [line.removesuffix("\r") for line in window.lines]
        if window.total == 0 or (
            offset == 0 and len(lines) == window.total and all(not s.strip() for s in lines)
        ):
            # empty or blank: the whole (blank) content, no window; the middleware shows its
            # empty-file reminder
            return ReadResult(file_data=FileData(content="\n".join(lines), encoding="utf-8"))
        if offset >= window.total:
            return ReadResult(
                error=f"Line offset {offset} exceeds file length ({window.total} lines)"
            )
        end = offset + len(lines)
        content = "".join(line + "\n" for line in lines)
        if end == window.total and not window.last_newline:
            content = content[:-1]
        return ReadResult(
            file_data=FileData(content=content, encoding="utf-8"),
            total_lines=window.total,
            start_line=offset + 1,
            end_line=end,
            next_offset=end if end < window.total else None,
        )

    def _read_base64(self, file_path: str) -> ReadResult:
        data = self.fs.cat_file(file_path)
        encoded = base64.standard_b64encode(data).decode("ascii")
        return ReadResult(file_data=FileData(content=encoded, encoding="base64"))

    # -- writing ------------------------------------------------------------------------------

    def write(self, file_path: str, content: str) -> WriteResult:
        """Create or overwrite a file (atomically; parent directories are created)."""
        return self._scoped("write_file", lambda: self._write(file_path, content))

    def _write(self, file_path: str, content: str) -> WriteResult:
        try:
            self.fs.pipe_file(file_path, content.encode("utf-8"))
            return WriteResult(path=_abs(paths.normalize(file_path)))
        except Exception as exc:
            return WriteResult(error=describe_error(exc))

    def edit(
        self,
        file_path: str,
        old_string: str,
        new_string: str,
        replace_all: bool = False,
    ) -> EditResult:
        """Replace ``old_string`` (exactly once, or every time with ``replace_all``)."""
        return self._scoped(
            "edit_file", lambda: self._edit(file_path, old_string, new_string, replace_all)
        )

    def _edit(self, file_path: str, old: str, new: str, replace_all: bool) -> EditResult:
        try:
            text = decode_text(self.fs.cat_file(file_path))
            where = paths.normalize(file_path)
            if text is None:
                raise ToolError(f"'{where}' is a binary file; only UTF-8 text can be edited")
            result = replace_exact(text, old, new, replace_all=replace_all, where=_abs(where))
            self.fs.pipe_file(file_path, result.text.encode("utf-8"))
        except Exception as exc:
            return EditResult(error=describe_error(exc))
        return EditResult(path=_abs(where), occurrences=result.count)

    def delete(self, file_path: str) -> DeleteResult:
        """Delete a file, a symlink, or a directory with everything in it (all or nothing)."""
        return self._scoped("delete", lambda: self._delete(file_path))

    def _delete(self, file_path: str) -> DeleteResult:
        result = self.tools.run("delete", {"path": file_path, "recursive": True})
        if result.is_error:
            return DeleteResult(error=result.text)
        return DeleteResult(path=_abs(paths.normalize(file_path)))

    # -- searching ----------------------------------------------------------------------------

    def grep(
        self,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        *,
        max_count: int | None = None,
    ) -> GrepResult:
        """Lines containing the literal ``pattern`` (not a regex) in text files under ``path``
        (default: the whole jail), optionally only files matching ``glob``."""
        return self._scoped("grep", lambda: self._grep(pattern, path, glob, max_count))

    def _grep(
        self, pattern: str, path: str | None, glob: str | None, max_count: int | None
    ) -> GrepResult:
        try:
            include = compile_glob(glob, match_basename=True) if glob else None
        except ToolError as exc:
            return GrepResult(error=str(exc), matches=[])
        matches: list[GrepMatch] = []
        truncated = False
        try:
            for vpath, text in iter_text_files(self.fs, path or "/", include, TextScan()):
                for number, line in enumerate(split_lines(text), 1):
                    if pattern not in line:
                        continue
                    if max_count is not None and len(matches) >= max_count:
                        truncated = True
                        break
                    matches.append(
                        GrepMatch(path=_abs(vpath), line=number, text=line.removesuffix("\r"))
                    )
                if truncated:
                    break
        except FileNotFoundError:
            return GrepResult(matches=[])
        except Exception as exc:
            return GrepResult(error=_message(exc), matches=None)
        return GrepResult(matches=matches, truncated=truncated)

    def glob(self, pattern: str, path: str | None = None) -> GlobResult:
        """Regular files under ``path`` matching ``pattern`` (deepagents' contract: a pattern
        without ``/`` matches the file name at any depth; ``**`` spans directories; a leading
        ``/`` anchors it to ``path``). Matching uses RE2, in linear time."""
        return self._scoped("glob", lambda: self._glob(pattern, path))

    def _glob(self, pattern: str, path: str | None) -> GlobResult:
        try:
            match = compile_glob(pattern, match_basename=True)
        except ToolError as exc:
            return GlobResult(error=str(exc), matches=None)
        try:
            base, found = list_files(self.fs, path or "/")
        except Exception as exc:
            return GlobResult(error=_message(exc), matches=[])
        out: list[FileInfo] = [
            FileInfo(
                path=_abs(vpath),
                is_dir=False,
                size=int(info.get("size") or 0),
                modified_at=_iso(info.get("mtime")),
            )
            for vpath, info in sorted(found.items())
            if info.get("type") == "file" and match(relative_to(vpath, base))
        ]
        return GlobResult(matches=out)

    # -- bulk transfer ------------------------------------------------------------------------

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        """Write each ``(path, bytes)``; one response per file, in order."""
        return self._scoped("upload_files", lambda: [self._upload(p, c) for p, c in files])

    def _upload(self, path: str, content: bytes) -> FileUploadResponse:
        try:
            self.fs.pipe_file(path, bytes(content))
        except (OSError, JailError, ValueError, TypeError) as exc:
            return FileUploadResponse(path=path, error=error_code(exc))
        return FileUploadResponse(path=path, error=None)

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        """Read each path's bytes; one response per path, in order."""
        return self._scoped("download_files", lambda: [self._download(p) for p in paths])

    def _download(self, path: str) -> FileDownloadResponse:
        try:
            data = self.fs.cat_file(path)
        except (OSError, JailError, ValueError, TypeError) as exc:
            return FileDownloadResponse(path=path, content=None, error=error_code(exc))
        return FileDownloadResponse(path=path, content=data, error=None)


__all__ = ["BINARY_EXTENSIONS", "JailBackend", "error_code"]
