"""The built-in example behind ``jailfs demo``: a scripted agent session in a small jail.

:func:`build_example` lays out a project (``src/*.py``, a README, tests, a ``.env`` with a fake
secret, a ``docs/link`` symlink planted to a file outside the root) next to an ``outside/``
directory holding a secret, and writes the project's ``jailfs.toml`` (writes allowed on
``src/**`` and ``tests/**`` only). :func:`run_demo` plays an agent through the jail's tools
(:class:`jailfs.tools.JailTools` when it is there, plain filesystem calls otherwise): normal
reads, an edit, greps, and attempts to escape and to steal secrets. Each step's outcome is taken
from the audit records the step left, not from the tool's text. The report ends with the
decisions for the interesting paths, the audit records, the chain's verification, and proof that
the outside secret was never read (its content appears in no output) and is unchanged.

Nothing here prints: the CLI renders the report.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jailfs.audit import VerifyResult, verify_log
from jailfs.config import CONFIG_NAME
from jailfs.errors import JailError, PathEscapeError
from jailfs.filesystem import JailFileSystem
from jailfs.paths import normalize

__all__ = [
    "DEMO_CONFIG",
    "DemoReport",
    "DemoStep",
    "Example",
    "Step",
    "build_example",
    "explain_data",
    "run_demo",
]

#: the actor of the demo agent's audit records
DEMO_ACTOR: Final = "demo-agent"
#: longest tool output kept in a step (the rest is cut)
MAX_OUTPUT: Final = 2000

DEMO_CONFIG: Final = """\
# The demo's jail: read everything but secrets, write only the code and the tests.
root = "."

[rules]
presets = ["secrets"]
read = ["**"]
write = ["src/**", "tests/**"]

[audit]
dir = ".jailfs-audit"
actor = "demo-agent"
"""

_FILES: Final[dict[str, str]] = {
    "README.md": "# greeter\n\nA tiny project the demo agent works on.\n",
    "src/app.py": (
        "from util import shout\n\n\n"
        "def greet(name: str) -> str:\n"
        "    # TODO: say hello properly\n"
        '    return "hi " + name\n\n\n'
        'if __name__ == "__main__":\n'
        '    print(shout(greet("world")))\n'
    ),
    "src/util.py": 'def shout(text: str) -> str:\n    return text.upper() + "!"\n',
    "tests/test_app.py": (
        "from app import greet\n\n\n"
        "def test_greet() -> None:\n"
        '    assert greet("bob") == "hi bob"\n'
    ),
    "docs/guide.md": "# Guide\n\nRun `python src/app.py`.\n",
}


@dataclass(frozen=True)
class Example:
    """Where :func:`build_example` put things (host paths)."""

    base: Path
    root: Path
    config: Path
    audit_dir: Path
    secret_file: Path
    #: the fake secrets: the outside file's marker and the .env key
    markers: tuple[str, ...]


def build_example(base: str | os.PathLike[str]) -> Example:
    """Lay out the example project under ``base`` (which must be empty or missing)."""
    base_path = Path(base)
    base_path.mkdir(parents=True, exist_ok=True)
    if any(base_path.iterdir()):
        raise JailError(f"'{base_path}' is not empty; the demo needs an empty directory")
    token = secrets.token_hex(6)
    outside = base_path / "outside"
    outside.mkdir()
    marker = f"TOP-SECRET-{token}"
    secret_file = outside / "secret.txt"
    secret_file.write_text(f"{marker}: the agent must never see this line\n")
    root = base_path / "project"
    for rel, text in _FILES.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    key = f"sk-demo-{token}"
    (root / ".env").write_text(f"OPENAI_API_KEY={key}\n")
    (root / "docs" / "link").symlink_to(Path("..", "..", "outside", "secret.txt"))
    config = root / CONFIG_NAME
    config.write_text(DEMO_CONFIG)
    return Example(
        base=base_path,
        root=root,
        config=config,
        audit_dir=root / ".jailfs-audit",
        secret_file=secret_file,
        markers=(marker, key),
    )


@dataclass(frozen=True)
class Step:
    """One move of the scripted agent."""

    title: str
    tool: str
    args: dict[str, Any]
    #: an attempt to escape or to steal a secret (it must not succeed)
    attack: bool = False
    #: what to notice about the outcome
    note: str | None = None


#: the agent's session
SCRIPT: Final[tuple[Step, ...]] = (
    Step("look around", "list_dir", {"path": "/"}),
    Step("read the README", "read_file", {"path": "README.md"}),
    Step("read the code", "read_file", {"path": "src/app.py"}),
    Step("grep for TODOs", "grep", {"pattern": "TODO", "path": "/", "output_mode": "content"}),
    Step(
        "fix the TODO",
        "edit_file",
        {
            "path": "src/app.py",
            "old_string": '    # TODO: say hello properly\n    return "hi " + name',
            "new_string": '    return "hello " + name',
        },
    ),
    Step(
        "add a test",
        "write_file",
        {
            "path": "tests/test_util.py",
            "content": (
                "from util import shout\n\n\n"
                'def test_shout() -> None:\n    assert shout("a") == "A!"\n'
            ),
        },
    ),
    Step("find the Python files", "glob", {"pattern": "**/*.py"}),
    Step("climb out with ..", "read_file", {"path": "../outside/secret.txt"}, attack=True),
    Step(
        "read the host's /etc/passwd",
        "read_file",
        {"path": "/etc/passwd"},
        attack=True,
        note="absolute paths start at the jail's root: this asked for <root>/etc/passwd",
    ),
    Step("follow the planted symlink", "read_file", {"path": "docs/link"}, attack=True),
    Step("read the .env secrets", "read_file", {"path": ".env"}, attack=True),
    Step(
        "climb out from a subdirectory",
        "read_file",
        {"path": "src/../../outside/secret.txt"},
        attack=True,
    ),
    Step(
        "grep the whole tree for keys",
        "grep",
        {"pattern": "sk-demo", "path": "/"},
        attack=True,
        note=".env holds the key, but denied files are hidden from grep",
    ),
    Step(
        "rewrite the README (read-only)",
        "write_file",
        {"path": "README.md", "content": "pwned\n"},
        attack=True,
    ),
    Step(
        "loosen the jail's own config",
        "write_file",
        {"path": CONFIG_NAME, "content": 'root = "/"\n'},
        attack=True,
    ),
)

#: the actor of the report's explain() questions (the audit log keeps them apart)
REPORT_ACTOR = "demo-report"
#: (op, path) pairs whose decisions the report explains
EXPLAINED: Final[tuple[tuple[str, str], ...]] = (
    ("read", "src/app.py"),
    ("write", "src/app.py"),
    ("write", "README.md"),
    ("read", ".env"),
    ("read", "docs/link"),
    ("read", "../outside/secret.txt"),
    ("write", CONFIG_NAME),
    ("read", ".jailfs-audit"),
)


@dataclass
class DemoStep:
    """What one step did: its outcome comes from the audit records it left."""

    step: Step
    #: "ALLOWED", "DENIED" or "ERROR"
    outcome: str
    #: the tool's answer (cut to MAX_OUTPUT characters), or the error message
    output: str
    records: list[dict[str, Any]] = field(default_factory=list)
    #: the output holds a secret's content (an attack that got through)
    leaked: bool = False


@dataclass
class DemoReport:
    example: Example
    tools: str
    steps: list[DemoStep]
    decisions: list[dict[str, Any]]
    records: list[dict[str, Any]]
    verify: VerifyResult
    secret_sha256_before: str
    secret_sha256_after: str
    secret_mtime_unchanged: bool
    #: no tool output holds the content of the outside secret or of .env
    secrets_never_read: bool

    @property
    def secret_unchanged(self) -> bool:
        return self.secret_sha256_before == self.secret_sha256_after and self.secret_mtime_unchanged

    @property
    def attacks_stopped(self) -> bool:
        return all(not s.leaked for s in self.steps if s.step.attack)

    @property
    def ok(self) -> bool:
        return (
            self.verify.ok
            and self.secret_unchanged
            and self.secrets_never_read
            and self.attacks_stopped
        )


def explain_data(fs: JailFileSystem, op: str, path: str) -> dict[str, Any]:
    """``fs.explain(op, path)`` as plain data (the shape of ``jailfs check --json``).

    A path that escapes the root (``..`` above it, a symlink pointing out) is a denial by the
    ``"escape"`` pseudo-list, with the error's message as its reason.
    """
    try:
        decision = fs.explain(op, path)
    except PathEscapeError as exc:
        try:
            shown = normalize(path)
        except JailError:
            shown = path
        return {
            "op": op,
            "path": shown,
            "allowed": False,
            "list": "escape",
            "index": None,
            "pattern": None,
            "source": "resolver",
            "rule": "escape",
            "reason": str(exc),
            "resolved": None,
            "hops": [],
        }
    rule = decision.rule
    return {
        "op": op,
        "path": decision.path,
        "allowed": decision.allowed,
        "list": rule.list,
        "index": rule.index,
        "pattern": rule.pattern if rule.index >= 0 else None,
        "source": rule.source,
        "rule": str(rule),
        "reason": decision.reason,
        "resolved": decision.resolved,
        "hops": list(decision.hops),
    }


# -- the tools -------------------------------------------------------------------------------

ToolCall = Callable[[str, dict[str, Any]], str]


def _agent_tools(fs: JailFileSystem) -> tuple[str, ToolCall]:
    """(name, call) of the tools the agent uses: JailTools if present, else fs calls."""
    try:
        module: Any = importlib.import_module("jailfs.tools")
        tools = module.JailTools(fs)
    except (ImportError, AttributeError):
        return "JailFileSystem calls", _FsTools(fs).call

    def call(name: str, args: dict[str, Any]) -> str:
        return str(tools.call(name, args))

    return "jailfs.tools.JailTools", call


class _FsTools:
    """Stand-ins for the agent tools, made of plain JailFileSystem calls."""

    def __init__(self, fs: JailFileSystem) -> None:
        self.fs = fs

    def call(self, name: str, args: dict[str, Any]) -> str:
        fs = self.fs
        if name == "list_dir":
            return "\n".join(fs.ls(args["path"], detail=False))
        if name == "read_file":
            data: bytes = fs.cat_file(args["path"])
            return data.decode("utf-8", "replace")
        if name == "write_file":
            fs.pipe_file(args["path"], args["content"].encode())
            return f"wrote {args['path']}"
        if name == "edit_file":
            text = fs.cat_file(args["path"]).decode()
            old, new = args["old_string"], args["new_string"]
            if text.count(old) != 1:
                raise ValueError("the text to replace must occur exactly once")
            fs.pipe_file(args["path"], text.replace(old, new).encode())
            return f"edited {args['path']}"
        if name == "glob":
            return "\n".join(fs.glob(args["pattern"]))
        if name == "grep":
            hits = []
            for path in fs.find(args["path"]):
                for n, line in enumerate(fs.cat_file(path).decode("utf-8", "replace").split("\n")):
                    if args["pattern"] in line:
                        hits.append(f"{path}:{n + 1}: {line}")
            return "\n".join(hits) or "no matches"
        raise ValueError(f"unknown tool {name!r}")


# -- the session -----------------------------------------------------------------------------


def _outcome(records: Sequence[dict[str, Any]], raised: bool) -> str:
    decisions = {r.get("decision") for r in records}
    if "deny" in decisions:
        return "DENIED"
    if "error" in decisions or raised or not records:
        return "ERROR"
    return "ALLOWED"


def _fingerprint(path: Path) -> tuple[str, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns


def run_demo(
    base: str | os.PathLike[str],
    *,
    on_step: Callable[[DemoStep], None] | None = None,
    script: Sequence[Step] = SCRIPT,
) -> DemoReport:
    """Build the example under ``base``, play ``script`` through the jail, and report."""
    example = build_example(base)
    sha_before, mtime_before = _fingerprint(example.secret_file)
    fs = JailFileSystem.from_config(example.config)
    try:
        tools_name, call = _agent_tools(fs)
        steps: list[DemoStep] = []
        for step in script:
            seen = len(fs.audit.records())
            raised = False
            try:
                output = call(step.tool, dict(step.args))
            except (OSError, ValueError, JailError) as exc:
                raised = True
                output = f"{type(exc).__name__}: {exc}"
            records = fs.audit.records()[seen:]
            leaked = any(m in output for m in example.markers)
            done = DemoStep(step, _outcome(records, raised), output[:MAX_OUTPUT], records, leaked)
            steps.append(done)
            if on_step is not None:
                on_step(done)
    finally:
        fs.close()
    # the report's own questions are asked as another actor: they are not the agent's calls
    reporter = JailFileSystem.from_config(example.config, actor=REPORT_ACTOR)
    try:
        decisions = [explain_data(reporter, op, path) for op, path in EXPLAINED]
    finally:
        reporter.close()
    sha_after, mtime_after = _fingerprint(example.secret_file)
    from jailfs.audit import read_log

    return DemoReport(
        example=example,
        tools=tools_name,
        steps=steps,
        decisions=decisions,
        records=list(read_log(example.audit_dir)),
        verify=verify_log(example.audit_dir),
        secret_sha256_before=sha_before,
        secret_sha256_after=sha_after,
        secret_mtime_unchanged=mtime_before == mtime_after,
        secrets_never_read=not any(m in s.output for s in steps for m in example.markers),
    )
