"""Pure, lexical path handling: what the agent names -> a normalized path relative to the root.

The agent sees a POSIX tree whose root is ``/``. ``jail://a/b``, ``/a/b``, ``a/b`` and ``./a//b/``
all name ``a/b``; the root itself is ``""``. ``..`` is resolved lexically and may never climb above
the root (that is a :class:`PathEscapeError`, never a silent clamp). Nothing here touches the disk.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from jailfs.errors import InvalidPathError, PathEscapeError

#: longest path accepted, in UTF-8 bytes (Linux PATH_MAX)
MAX_PATH_BYTES = 4096
#: longest single component accepted, in UTF-8 bytes (NAME_MAX)
MAX_NAME_BYTES = 255

PROTOCOL = "jail"
_PREFIXES = (f"{PROTOCOL}://", f"{PROTOCOL}::")


def to_str(path: Any) -> str:
    """The text of ``path`` (str, bytes or os.PathLike), or :class:`InvalidPathError`."""
    if isinstance(path, str):
        return path
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
        if isinstance(path, str):
            return path
    if isinstance(path, bytes):
        try:
            return path.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidPathError(f"path is not valid UTF-8: {path!r}") from exc
    raise InvalidPathError(f"a path must be a string, not {type(path).__name__}")


def normalize(path: Any) -> str:
    """Normalize ``path`` lexically to a root-relative POSIX path (``""`` is the root).

    Raises :class:`InvalidPathError` for NUL, surrogates/non-UTF-8, overlong names or paths, and
    :class:`PathEscapeError` for ``..`` that would climb above the root.
    """
    text = path if type(path) is str else to_str(path)  # a str, nearly always: no call
    if text.startswith(_PREFIXES):
        for prefix in _PREFIXES:
            if text.startswith(prefix):
                text = text[len(prefix) :]
                break
    return _normalize_text(text)


@functools.lru_cache(maxsize=4096)
def _normalize_text(text: str) -> str:
    if "\x00" in text:
        raise InvalidPathError("path contains a NUL byte")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidPathError("path is not valid UTF-8 (it contains a lone surrogate)") from exc
    if size > MAX_PATH_BYTES:
        raise InvalidPathError(f"path is {size} bytes long; the limit is {MAX_PATH_BYTES}")
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathEscapeError(f"'{text}' climbs above the jail's root", text)
            parts.pop()
            continue
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise InvalidPathError(
                f"a path component is longer than {MAX_NAME_BYTES} bytes: '{part[:40]}...'"
            )
        parts.append(part)
    return "/".join(parts)


def join(parent: str, name: str) -> str:
    """Join a normalized parent and a single name."""
    return f"{parent}/{name}" if parent else name


def parent_of(path: str) -> str:
    """The normalized parent of a normalized path (the root is its own parent)."""
    return path.rpartition("/")[0]


def basename(path: str) -> str:
    """The last component of a normalized path (``""`` for the root)."""
    return path.rpartition("/")[2]


def is_within(path: str, ancestor: str) -> bool:
    """Whether normalized ``path`` is ``ancestor`` or below it."""
    return not ancestor or path == ancestor or path.startswith(ancestor + "/")


def symlink_target(link: str, target: str) -> str:
    """The normalized path a relative symlink at ``link`` with text ``target`` points to.

    Absolute targets and targets that climb above the root raise :class:`PathEscapeError`
    naming the link (never the target, which may be a host path).
    """
    if target.startswith("/") or "\x00" in target:
        raise PathEscapeError(f"'{link}' is a symlink that points outside the jail", link)
    try:
        return _normalize_text(join(parent_of(link), target))
    except PathEscapeError:
        raise PathEscapeError(f"'{link}' is a symlink that points outside the jail", link) from None
    except InvalidPathError:
        raise PathEscapeError(f"'{link}' is a symlink whose target is not usable", link) from None
