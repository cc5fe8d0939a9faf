"""``jailfs.toml``: a jail's root, rules, limits and audit settings in one file.

Relative paths (``root``, ``audit.dir``) are relative to the file. Loading returns the plain
keyword arguments of :class:`jailfs.JailFileSystem`, so a jail built from a config and one built
in Python are the same thing (and both survive ``to_json`` and pickling).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from jailfs.errors import ConfigError
from jailfs.policy import parse_size

CONFIG_NAME = "jailfs.toml"

_SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "": {"root": str, "rules": dict, "limits": dict, "audit": dict, "jail": dict},
    "rules": {"presets": list, "read": list, "write": list, "deny": list, "protect": list},
    "limits": {"max_file_size": (str, int), "write_quota": (str, int)},
    "audit": {"dir": str, "actor": str, "fsync": bool},
    "jail": {
        "resolver": str,
        "allow_symlink_creation": bool,
        "create_root": bool,
        "case_insensitive": bool,
    },
}


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``jailfs.toml`` in ``start`` (default: the current directory) or above."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _check_table(where: str, table: dict[str, Any], file: Path) -> None:
    allowed = _SECTIONS[where]
    for key, value in table.items():
        name = f"{where}.{key}" if where else key
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"{file}: unknown key '{name}' (known here: {known})")
        if not isinstance(value, allowed[key]):
            raise ConfigError(f"{file}: '{name}' has the wrong type ({type(value).__name__})")
        if isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise ConfigError(f"{file}: {name}[{i}] must be a string, not {item!r}")


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and validate ``path``; return the JailFileSystem keyword arguments."""
    file = Path(path).resolve()
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    _check_table("", data, file)
    for section in ("rules", "limits", "audit", "jail"):
        _check_table(section, data.get(section, {}), file)
    if "root" not in data:
        raise ConfigError(f"{file}: 'root' is required (the directory the agent may use)")
    base = file.parent
    rules = data.get("rules", {})
    limits = data.get("limits", {})
    audit = data.get("audit", {})
    jail = data.get("jail", {})
    kwargs: dict[str, Any] = {
        "root": str(base / data["root"]),
        "config_file": str(file),
        "presets": list(rules.get("presets", ["secrets"])),
        "read": list(rules.get("read", ["**"])),
        "write": list(rules.get("write", [])),
        "deny": list(rules.get("deny", [])),
        "protect": list(rules.get("protect", [])),
    }
    for key in ("max_file_size", "write_quota"):
        if key in limits:
            try:
                kwargs[key] = parse_size(limits[key])
            except ConfigError as exc:
                raise ConfigError(f"{file}: limits.{key}: {exc}") from None
    if "dir" in audit:
        kwargs["audit"] = audit["dir"] if audit["dir"] == ":memory:" else str(base / audit["dir"])
        if audit["dir"] != ":memory:":  # stays the jail's own even if `audit` is overridden
            kwargs["internal"] = [kwargs["audit"]]
    if "actor" in audit:
        kwargs["actor"] = audit["actor"]
    if "fsync" in audit:
        kwargs["audit_fsync"] = audit["fsync"]
    kwargs.update(jail)
    # Compile the rules now so a bad pattern is reported with this file's name.
    from jailfs.policy import Policy

    try:
        Policy(
            read=kwargs["read"],
            write=kwargs["write"],
            deny=kwargs["deny"],
            protect=kwargs["protect"],
            presets=kwargs["presets"],
        )
    except ConfigError as exc:
        raise ConfigError(f"{file}: rules.{exc}") from None
    return kwargs


DEFAULT_CONFIG = """\
# jailfs.toml: what an agent may do in one directory. Paths are relative to this file.
root = "{root}"

[rules]
# gitignore syntax: last match wins, "!" negates, "dir/" is a directory and all below it.
presets = ["secrets"]   # secrets are denied and hidden; add "protect" to guard .git/hooks etc.
read = ["**"]           # what the agent may read and list
write = []              # what it may create, change, move or delete: empty = read-only
deny = []               # denied for everything, hidden from listings (added to the presets)

[limits]
# max_file_size = "10 MiB"
# write_quota = "200 MiB"

[audit]
dir = ".jailfs-audit"   # one JSON-lines segment per jail session; the agent can never see it
actor = "agent"
"""
