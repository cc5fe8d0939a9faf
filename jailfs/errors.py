"""The errors jailfs raises.

Every refusal is a :class:`JailError`. Each subclass also derives from the builtin exception a
caller would expect (``PermissionError``, ``ValueError``, ``OSError``), so code written for a plain
filesystem keeps working. Messages name virtual paths only, never a host path, and say what to do.
"""

from __future__ import annotations

import errno
import os


class JailError(Exception):
    """Base class of every error raised by jailfs on purpose."""

    #: the short reason written to the audit log ("escape", "denied", ...)
    reason = "error"


class PathEscapeError(JailError, PermissionError):
    """The path, or a symlink on the way, leads outside the jail's root."""

    reason = "escape"

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(errno.EACCES, message)
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


class AccessDenied(JailError, PermissionError):
    """A rule of the jail's policy refuses this operation on this path."""

    reason = "denied"

    def __init__(self, op: str, path: str, rule: str, message: str | None = None) -> None:
        self.op = op
        self.path = path
        self.rule = rule
        text = message or f"{op} '{path}' is denied by rule {rule}"
        super().__init__(errno.EACCES, text)

    def __str__(self) -> str:
        return str(self.strerror)


class InvalidPathError(JailError, ValueError):
    """The path is not acceptable (NUL byte, not UTF-8, too long, wrong type)."""

    reason = "invalid"


class QuotaExceeded(JailError, OSError):
    """A size limit of the jail (``max_file_size`` or ``write_quota``) would be passed."""

    reason = "quota"

    def __init__(self, limit: str, message: str, *, excess: int = 0) -> None:
        super().__init__(errno.EFBIG, message)
        self.limit = limit
        self.excess = excess

    def __str__(self) -> str:
        return str(self.strerror)


class UnsupportedFileType(JailError, OSError):
    """The path names a FIFO, socket or device, which the jail never opens."""

    reason = "filetype"

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(errno.EPERM, f"'{path}' is a {kind}; the jail only opens regular files")
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


class HardlinkRefused(JailError, PermissionError):
    """A write to a regular file with more than one hard link (it may alias an outside inode)."""

    reason = "hardlink"

    def __init__(self, path: str) -> None:
        super().__init__(
            errno.EPERM,
            f"'{path}' has more than one hard link; the jail does not write through hard links",
        )
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


class ConfigError(JailError, ValueError):
    """A configuration file, rule pattern or constructor argument is malformed."""

    reason = "config"


def errno_error(code: int, path: str, message: str | None = None) -> OSError:
    """The builtin OSError subclass for ``code``, naming a virtual path only."""
    return OSError(code, message or os.strerror(code), path)
