"""What the numbers were measured on."""

from __future__ import annotations

import os
import platform
from typing import Any


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work on the machine skews the numbers)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe(resolver_kind: str | None) -> dict[str, Any]:
    import fsspec

    try:
        import pathspec

        pathspec_version: str | None = getattr(pathspec, "__version__", None)
    except ImportError:
        pathspec_version = None
    try:
        import jailfs

        jailfs_version: str | None = jailfs.__version__
    except ImportError:
        jailfs_version = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "system": platform.system(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "fsspec": fsspec.__version__,
        "pathspec": pathspec_version,
        "jailfs": jailfs_version,
        "resolver": resolver_kind,
        "load_average_at_end": load_average(),
    }
