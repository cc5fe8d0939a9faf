"""What every command shares: finding the config, opening the jail, output, and errors.

Library errors become one line on stderr (``jailfs: error: ...``) and an exit code at the edge,
in :class:`JailfsGroup`: 0 ok, 1 error, 2 usage, 3 denied (AccessDenied, PathEscapeError).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from jailfs import AccessDenied, JailError, JailFileSystem, PathEscapeError
from jailfs.audit import MEMORY, default_audit_dir
from jailfs.config import CONFIG_NAME, find_config, load_config
from jailfs.errors import ConfigError

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_DENIED: Final = 3

#: the actor named in the audit records of calls the CLI makes through a jail
CLI_ACTOR: Final = "cli"
#: the width of rich output that does not go to a terminal
PIPE_WIDTH: Final = 120
#: set to show a traceback for unexpected errors instead of one line
DEBUG_ENV: Final = "JAILFS_DEBUG"


class CliError(Exception):
    """An error the CLI reports as one line, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    raise CliError(message, code)


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for an exception raised by a command."""
    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, AccessDenied | PathEscapeError):
        return str(exc), EXIT_DENIED
    if isinstance(exc, JailError):
        return str(exc), EXIT_ERROR
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        if exc.filename is not None:
            text = f"'{os.fsdecode(exc.filename)}': {text}"
        return text, EXIT_ERROR
    return f"internal error: {type(exc).__name__}: {exc}", EXIT_ERROR


class JailfsGroup(TyperGroup):
    """The command group: every error becomes one line on stderr and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Like click's main, but usage errors are one line too (exit code 2)."""
        call = functools.partial(super().main, args, prog_name, complete_var, False, **extra)
        if not standalone_mode:
            return call()
        try:
            code = call()
        except Exception as exc:
            if not _is_click_exception(exc):
                raise
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                show = getattr(exc, "show", None)
                if show is not None:
                    show()
                else:
                    typer.echo("Aborted.", err=True)
                sys.exit(getattr(exc, "exit_code", EXIT_ERROR))
            message = exc.format_message()
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                message += f" (see '{ctx.command_path} --help')"
            typer.echo(f"jailfs: error: {message}", err=True)
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            _quiet_stdout()  # the reader went away (| head): no message, no flush error
            raise typer.Exit(EXIT_ERROR) from None
        except Exception as exc:
            if _is_click_exception(exc) or os.environ.get(DEBUG_ENV):
                raise
            message, code = error_line(exc)
            typer.echo(f"jailfs: error: {message}", err=True)
            raise typer.Exit(code) from None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test runner's buffer)


def _is_click_exception(exc: BaseException) -> bool:
    """Usage errors and the like: click prints them itself (exit 2)."""
    return any(
        cls.__name__ in ("ClickException", "Exit", "Abort")
        and cls.__module__.split(".")[-1] == "exceptions"
        for cls in type(exc).__mro__
    )


# -- options shared by the commands ------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="JAILFS_CONFIG",
        help=f"The jail's config file (default: {CONFIG_NAME} here or in a parent directory).",
        dir_okay=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Output JSON.")]


def config_path(config: Path | None) -> Path:
    """The config file to use: ``--config``, else the nearest jailfs.toml, else an error."""
    if config is not None:
        if not config.is_file():
            fail(f"no config file at '{config}'")
        return config
    found = find_config()
    if found is None:
        fail(
            f"no {CONFIG_NAME} in this directory or any parent; run 'jailfs init' or pass --config"
        )
    return found


def open_jail(config: Path | None, *, actor: str = CLI_ACTOR) -> JailFileSystem:
    """The jail described by the config, its calls audited with ``actor``."""
    return JailFileSystem.from_config(config_path(config), actor=actor)


def audit_target(config: Path | None, audit_dir: Path | None) -> Path:
    """The audit directory (or segment file) of the jail: ``--audit-dir``, else from the config.

    A ``--audit-dir`` that does not exist is an error (a typo must not read as "no calls"); the
    config's may not exist yet (no jail of it has run)."""
    if audit_dir is not None:
        if not audit_dir.exists():
            fail(f"no audit log at '{audit_dir}'")
        return audit_dir
    kwargs = load_config(config_path(config))
    target = kwargs.get("audit")
    if target is None:
        return default_audit_dir(os.path.realpath(kwargs["root"]))
    if str(target) == MEMORY:
        raise ConfigError("this jail keeps its audit log in memory (audit.dir = ':memory:')")
    return Path(target)


# -- output ------------------------------------------------------------------------------------


def console(*, stderr: bool = False) -> Console:
    """A rich console (made per command, so that it sees the current streams).

    Output that is not a terminal (a pipe, a file, a test) is laid out for 120 columns unless
    COLUMNS says otherwise, so tables keep their columns.
    """
    out = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out.width = PIPE_WIDTH
    return out


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
