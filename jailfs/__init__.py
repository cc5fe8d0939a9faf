"""jailfs: a race-free filesystem jail for LLM agent file tools.

``JailFileSystem`` is an fsspec filesystem (protocol ``jail``) confined to one directory, with
gitignore-style read / write / deny rules and a hash-chained audit log of every call.
"""

from __future__ import annotations

__version__ = "0.1.0"

from jailfs.errors import (
    AccessDenied,
    ConfigError,
    HardlinkRefused,
    InvalidPathError,
    JailError,
    PathEscapeError,
    QuotaExceeded,
    UnsupportedFileType,
)
from jailfs.filesystem import JailFileSystem
from jailfs.policy import PROTECT, SECRETS, Decision, Policy, Rule

__all__ = [
    "PROTECT",
    "SECRETS",
    "AccessDenied",
    "ConfigError",
    "Decision",
    "HardlinkRefused",
    "InvalidPathError",
    "JailError",
    "JailFileSystem",
    "PathEscapeError",
    "Policy",
    "QuotaExceeded",
    "Rule",
    "UnsupportedFileType",
    "__version__",
]
