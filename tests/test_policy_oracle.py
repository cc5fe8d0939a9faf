"""The policy's matching, checked against ``git check-ignore`` as the oracle.

Random gitignore pattern sets (negations, ``dir/``, ``**``, anchored ``/a`` and ``a/b``, character
classes, escapes, a few quirks of Git's own) are matched against random trees in temporary
repositories (directories are checked as directories, since Git looks at the disk).

Each PATTERN is checked against Git exactly: alone in a ``.gitignore`` (its ``!`` taken off), Git
says which paths it matches, itself or through a directory above them. A LIST then decides by its
last such pattern (see :mod:`jailfs.policy`), and that is what ``Policy.check`` must return,
verdict and deciding index, for every case. The same cases are also run through Git with the whole
list: the answers must agree everywhere except where a pattern matches a directory above the path
(Git lets such a directory decide only when it ignores it, and never looks inside; the policy lets
the later line win), the one place the policy deliberately differs.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

import jailfs.policy as policy_module
from jailfs.policy import Policy

SEED = 1234
TREES = 10
SETS_PER_TREE = 12
ENTRIES_PER_TREE = 45

#: names on disk; "é" is two UTF-8 bytes (Git matches bytes: "?" does not match it, "??" does)
NAMES = ["a", "b", "ab", "ba", "a1", "B", "x.txt", "a.txt", "y.md", ".env", "d-1", "é", "a b"]

#: building blocks for one path segment of a pattern
SEGMENTS = [
    *NAMES,
    "*",
    "?",
    "??",
    "*.txt",
    "*.md",
    "a*",
    "*b",
    "a*b",
    "*a*",
    "a***",
    "?b",
    "a?",
    "[ab]",
    "[!a]*",
    "[^b]",
    "[a-c]?",
    "[a-c]*",
    "[[:digit:]]",
    "a[[:digit:]]",
    "[[:upper:]]",
    "[[:alpha:]]*",
    "[[:punct:]]*",
    "[]a]",
    "**",
    "**",
    "a**",
    "**b",
    "\\a",
    "a\\*",
    "x.???",
    ".*",
]

#: whole patterns worth having often: Git's corner cases
SPECIALS = [
    "*",
    "**",
    "**/",
    "*/",
    "!*/",
    "a/**",
    "a/**/",
    "/a/",
    "a/",
    "!a/",
    "**/a",
    "**/a/b",
    "**/a/b/",
    "/a/b",
    "a/b/",
    "a/**/b",
    "a/b**/a",
    "ab**",
    "/*",
    "/*/",
    "*/a",
    "#a",
    "a ",
    "a\\ ",
    "",
]


def _git() -> str:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not on PATH")
    return git


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        LC_ALL="C",
    )
    return env


def _make_tree(rng: random.Random, root: Path) -> list[tuple[str, bool]]:
    """Random files and directories under ``root``: [(relative path, is_dir)]."""
    dirs = [""]
    entries: list[tuple[str, bool]] = []
    taken: set[str] = set()
    while len(entries) < ENTRIES_PER_TREE:
        parent = rng.choice(dirs)
        if parent.count("/") >= 3:
            continue
        path = f"{parent}/{rng.choice(NAMES)}" if parent else rng.choice(NAMES)
        if path in taken:
            continue
        taken.add(path)
        is_dir = rng.random() < 0.45
        if is_dir:
            (root / path).mkdir()
            dirs.append(path)
        else:
            (root / path).write_bytes(b"")
        entries.append((path, is_dir))
    return entries


def _pattern(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(SPECIALS)
    segments = [rng.choice(SEGMENTS) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
    text = "/".join(segments)
    if rng.random() < 0.2:
        text = "/" + text
    if rng.random() < 0.3:
        text += "/"
    if rng.random() < 0.3:
        text = "!" + text
    return text


def _git_verdicts(
    git: str, repo: Path, env: dict[str, str], paths: list[str]
) -> dict[str, tuple[bool, int]]:
    """path -> (ignored, deciding 0-based line or -1), from one check-ignore process."""
    command = ["check-ignore", "--no-index", "--verbose", "--non-matching", "-z", "--stdin"]
    proc = subprocess.run(
        [git, "-c", "core.ignorecase=false", *command],
        cwd=repo,
        env=env,
        input=b"".join(p.encode() + b"\0" for p in paths),
        capture_output=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr.decode()
    fields = proc.stdout.split(b"\0")[:-1]
    assert len(fields) == 4 * len(paths)
    verdicts: dict[str, tuple[bool, int]] = {}
    for k in range(0, len(fields), 4):
        source, line, pattern, path = fields[k : k + 4]
        if source:
            assert source == b".gitignore", source  # no global or info/exclude rules leak in
        ignored = bool(pattern) and not pattern.startswith(b"!")
        verdicts[path.decode()] = (ignored, int(line) - 1 if line else -1)
    return verdicts


#: (patterns, tree entries, per-pattern matches, Git's verdicts for the whole list)
Case = tuple[list[str], list[tuple[str, bool]], list[set[str]], dict[str, tuple[bool, int]]]


def _single(pattern: str) -> str:
    """The pattern as a positive line of its own (its "!" taken off)."""
    return pattern[1:] if pattern.startswith("!") else pattern


@pytest.fixture(scope="module")
def git_cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    """(patterns, entries, matches of each pattern alone, Git's list verdicts) per pattern set."""
    git = _git()
    rng = random.Random(SEED)
    top = tmp_path_factory.mktemp("oracle")
    env = _env(top)
    cases: list[Case] = []
    for t in range(TREES):
        repo = top / f"repo{t}"
        repo.mkdir()
        subprocess.run([git, "init", "-q", str(repo)], env=env, check=True)
        entries = _make_tree(rng, repo)
        paths = [p for p, _ in entries]
        for _ in range(SETS_PER_TREE):
            patterns = [_pattern(rng) for _ in range(rng.randint(1, 6))]
            gitignore = repo / ".gitignore"
            matches: list[set[str]] = []
            for pattern in patterns:
                gitignore.write_bytes((_single(pattern) + "\n").encode())
                alone = _git_verdicts(git, repo, env, paths)
                matches.append({p for p, (ignored, _) in alone.items() if ignored})
            gitignore.write_bytes("".join(p + "\n" for p in patterns).encode())
            cases.append((patterns, entries, matches, _git_verdicts(git, repo, env, paths)))
    return cases


def _expected(patterns: list[str], matches: list[set[str]], path: str) -> tuple[bool, int]:
    """The list's verdict from Git's per-pattern answers: its last matching pattern decides."""
    for index in range(len(patterns) - 1, -1, -1):
        if path in matches[index]:
            return not patterns[index].startswith("!"), index
    return False, -1


@pytest.mark.parametrize("use_re2", [True, False], ids=["re2", "python-re"])
def test_policy_agrees_with_git_check_ignore(
    git_cases: list[Case], use_re2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy_module, "_USE_RE2", use_re2)
    compared = 0
    for patterns, entries, matches, _ in git_cases:
        policy = Policy(read=patterns, presets=())
        for path, is_dir in entries:
            decision = policy.check("read", path, is_dir=is_dir)
            got = (decision.allowed, decision.rule.index)
            assert got == _expected(patterns, matches, path), (patterns, path, is_dir)
            compared += 1
        # a directory that holds a readable path is never hidden from listings
        for d, is_dir in entries:
            readable_below = any(
                _expected(patterns, matches, p)[0] for p, _ in entries if p.startswith(d + "/")
            )
            if is_dir and readable_below:
                assert policy.visible(d, is_dir=True), (patterns, d)
    assert compared >= 5000, compared


def test_differs_from_gitignore_only_through_parent_directories(git_cases: list[Case]) -> None:
    same = differ = 0
    for patterns, entries, matches, verdicts in git_cases:
        for path, _ in entries:
            # (the deciding index may differ: Git names only lines that match the path itself)
            if _expected(patterns, matches, path)[0] == verdicts[path][0]:
                same += 1
                continue
            # Git lets a matching directory above the path decide only when it ignores it (and
            # then never reads inside); the policy lets the later line win. So the answers can
            # only part where some pattern matches a directory above the path.
            parents = [path[:i] for i in range(len(path)) if path[i] == "/"]
            assert any(p in m for p in parents for m in matches), (patterns, path)
            differ += 1
    assert same > 10 * differ > 0, (same, differ)
