"""The jail's rules: which paths the agent may read, write, or never touch.

Four gitignore-style lists decide every call: ``read`` (default ``["**"]``), ``write`` (default
``[]``: read-only), ``deny`` (the ``secrets`` preset plus your own patterns; wins over everything,
and denied names are hidden) and ``protect`` (names that may be read but never written). On top of
them, ``internal`` paths (the jail's own config file and audit directory) are always off limits.

Each pattern matches exactly as Git's does (``git check-ignore`` is the test oracle): gitignore
syntax, ``*``, ``?``, ``[...]`` (with ``[:class:]``) and ``**``; a pattern without a slash matches
a name at any depth, one with a slash (not at the end) is anchored at the root, a trailing slash
matches directories only, and a pattern that matches a directory covers everything below it.

A list decides by its LAST pattern that matches the path or one of the directories above it: the
path is in the list unless that pattern is a ``!`` negation. This is where the lists deliberately
part from ``.gitignore``: Git never looks inside an ignored directory, so there a ``!`` cannot take
back anything below a matched directory, and ``write = ["src/**", "!**/*.lock"]`` would leave
``src/sub/Cargo.lock`` writable. For access rules the later line must win, so it is refused here.

pathspec's ``GitIgnoreSpec`` was the first choice for the matching, but it answers differently from
Git for directories (it treats a directory as ``"dir/"`` and ranks "directory" matches below "file"
matches: ``a/**`` matches the directory ``a``, ``!*/`` cannot re-include a directory after ``*``,
``a/**/`` collapses to ``a/``), ``?`` counts characters where Git counts bytes, and its re2
backend rejects ``[[:digit:]]``. So this module translates each pattern
the way Git's ``dir.c`` and ``wildmatch.c`` read it (paths are matched as UTF-8 bytes, like Git),
and compiles the rules ONCE, for each kind of access together with every list that decides it
(deny, protect, then read or write): patterns of a plain shape (``name``, ``*.ext``, ``head*tail``,
``**/a/b``) become dict lookups on the last name, all the others one ``re2.Set`` that answers them
in one pass over the path, linear in its length whatever the number of rules (Python's ``re`` is
the fallback). Nothing here touches the filesystem.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from jailfs.errors import ConfigError, InvalidPathError, JailError
from jailfs.paths import normalize

Access = Literal["read", "write"]

#: decisions (and visibility answers) kept before a cache is emptied and refilled
MAX_CACHE: Final = 65536

#: patterns denied by default: files that hold credentials and private keys
SECRETS: Final[tuple[str, ...]] = (
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "*.kdbx",
    "id_rsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "id_dsa*",
    ".ssh/",
    ".aws/",
    ".azure/",
    ".gnupg/",
    "**/.config/gcloud/",
    "**/.docker/config.json",
    "**/.kube/config",
    ".dockercfg",
    ".netrc",
    "_netrc",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".pgpass",
    ".my.cnf",
    ".s3cfg",
    ".boto",
    ".vault-token",
    ".htpasswd",
    "credentials.json",
    "client_secret*.json",
)

#: patterns that may be read but never written: things that run code outside the jail
PROTECT: Final[tuple[str, ...]] = (
    "**/.git/hooks/",
    "**/.git/config",
    ".gitmodules",
    ".gitconfig",
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    ".inputrc",
    ".envrc",
    ".vscode/",
    ".idea/",
    ".claude/",
    ".cursor/",
    ".devcontainer/",
    ".husky/",
    ".mcp.json",
    ".pre-commit-config.yaml",
    ".github/workflows/",
    ".gitlab-ci.yml",
    ".circleci/",
)

#: preset name -> (the list it feeds, its patterns)
PRESETS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "secrets": ("deny", SECRETS),
    "protect": ("protect", PROTECT),
}

_ACCESS: Final = frozenset(("read", "write"))


@dataclass(frozen=True, slots=True)
class Rule:
    """The pattern that decided, and where it comes from.

    ``list`` is the list as the user sees it ("read", "write", "deny", "protect", "internal"),
    ``index`` the position in that list (in its own preset for preset patterns; -1 when no pattern
    matched), ``source`` one of "config" (a pattern of the list, or none of its patterns matched),
    "preset:<name>", "internal", "default" (the list is empty: nothing is allowed by it) or
    "root" (the jail's root itself: always listable, never written).
    """

    list: str
    index: int
    pattern: str
    source: str

    def __str__(self) -> str:
        if self.index < 0:
            return f"{self.list} (no pattern matches)"
        name = self.source[len("preset:") :] if self.source.startswith("preset:") else self.list
        return f"{name}[{self.index}] '{self.pattern}'"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may ``access`` happen on ``path``?", with the rule that decided."""

    allowed: bool
    access: Access
    path: str
    resolved: str
    rule: Rule
    hops: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """One short sentence, written to follow "'<path>' is ..."."""
        rule = self.rule
        if rule.source == "root":
            if self.allowed:
                return "allowed: the root is always listable"
            return "not writable: it is the jail's root"
        if self.allowed:
            return f"allowed by {rule}"
        if rule.list == "protect":
            return f"write-protected by rule {rule}"
        if rule.list in ("deny", "internal"):
            return f"denied by rule {rule}"
        if rule.index >= 0:
            return f"excluded from the {rule.list} list by {rule}"
        if rule.source == "default":
            empty = "the jail is read-only" if rule.list == "write" else "nothing is readable"
            return f"not in the {rule.list} list ({empty})"
        return f"not in the {rule.list} list"


_new_object: Final = object.__new__
#: Decisions of the hot path are built as instances of this plain class with the same slots,
#: filled by ordinary attribute stores, then turned into Decisions by ``__class__`` assignment
#: (which Python allows between classes of the same layout, and refuses otherwise). That costs a
#: third of ``Decision(...)``, whose frozen ``__init__`` calls ``object.__setattr__`` per field;
#: the result is the same object (fields, equality, hash, pickling, immutability).
_DecisionBuilder: Final = type("_DecisionBuilder", (), {"__slots__": Decision.__slots__})


# -- patterns: Git's wildmatch, translated to regular expressions over UTF-8 bytes -----------


class _PatternError(ValueError):
    """A pattern that cannot be compiled (the message says why)."""


_SLASH: Final = 0x2F
_STAR: Final = 0x2A
_BACKSLASH: Final = 0x5C
_PLAIN: Final = frozenset((string.ascii_letters + string.digits + "_").encode())
#: git's ctype is ASCII only (ctype.c): these are the bytes each [:class:] matches
_CLASSES: Final[dict[bytes, frozenset[int]]] = {
    b"alnum": frozenset((string.ascii_letters + string.digits).encode()),
    b"alpha": frozenset(string.ascii_letters.encode()),
    b"blank": frozenset(b" \t"),
    b"cntrl": frozenset([*range(0x20), 0x7F]),
    b"digit": frozenset(string.digits.encode()),
    b"graph": frozenset(range(0x21, 0x7F)),
    b"lower": frozenset(string.ascii_lowercase.encode()),
    b"print": frozenset(range(0x20, 0x7F)),
    b"punct": frozenset(string.punctuation.encode()),
    b"space": frozenset(b" \t\n\r"),
    b"upper": frozenset(string.ascii_uppercase.encode()),
    b"xdigit": frozenset(string.hexdigits.encode()),
}


def _lit(byte: int) -> str:
    return chr(byte) if byte in _PLAIN else f"\\x{byte:02x}"


def _literal(raw: bytes) -> str:
    return "".join(_lit(b) for b in raw)


def _byte_class(members: set[int]) -> str | None:
    """A regex class for exactly these bytes (never "/"), or None when it is empty."""
    members.discard(_SLASH)
    if not members:
        return None
    parts: list[str] = []
    ordered = sorted(members)
    start = prev = ordered[0]
    for b in [*ordered[1:], -1]:
        if b == prev + 1:
            prev = b
            continue
        parts.append(_lit(start) if start == prev else f"{_lit(start)}-{_lit(prev)}")
        start = prev = b
    return f"[{''.join(parts)}]"


def _bracket(p: bytes, i: int) -> tuple[set[int], int]:
    """Parse the bracket expression at ``p[i] == "["`` like wildmatch; -> (bytes, next index)."""
    n = len(p)
    unclosed = _PatternError("it has an unclosed '['")
    i += 1
    if i >= n:
        raise unclosed
    negated = p[i] in b"!^"
    if negated:
        i += 1
    if i >= n:
        raise unclosed
    members: set[int] = set()
    prev = 0
    ch = p[i]
    while True:
        if ch == _BACKSLASH:
            i += 1
            if i >= n:
                raise unclosed
            ch = p[i]
            members.add(ch)
        elif ch == 0x2D and prev and i + 1 < n and p[i + 1] != 0x5D:  # a range "x-y"
            i += 1
            ch = p[i]
            if ch == _BACKSLASH:
                i += 1
                if i >= n:
                    raise unclosed
                ch = p[i]
            if ch < prev:
                raise _PatternError(f"the range '{chr(prev)}-{chr(ch)}' is reversed")
            members.update(range(prev, ch + 1))
            ch = 0
        elif ch == 0x5B and i + 1 < n and p[i + 1] == 0x3A:  # "[:class:]"
            end = p.find(b"]", i + 2)
            if end < 0:
                raise unclosed
            if end - (i + 2) - 1 < 0 or p[end - 1] != 0x3A:
                members.add(ch)  # no ":]": the "[" is an ordinary member
            else:
                name = p[i + 2 : end - 1]
                if name not in _CLASSES:
                    raise _PatternError(f"unknown character class '[:{name.decode()}:]'")
                members |= _CLASSES[name]
                i = end
                ch = 0
        else:
            members.add(ch)
        prev = ch
        i += 1
        if i >= n:
            raise unclosed
        ch = p[i]
        if ch == 0x5D:
            break
    if negated:
        members = set(range(256)) - members
    return members, i + 1


def _translate(p: bytes, *, pathname: bool) -> str | None:
    """The regex for wildmatch pattern ``p`` (None: it can never match).

    With ``pathname`` (WM_PATHNAME), a ``**`` run at the start or after a "/" and followed by "/"
    or the end matches across directories; every other wildcard stops at "/".
    """
    out: list[str] = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == _BACKSLASH:
            i += 1
            if i >= n:
                raise _PatternError("it ends with a lone backslash")
            out.append(_lit(p[i]))
            i += 1
        elif c == 0x3F:  # "?"
            out.append("[^/]")
            i += 1
        elif c == _STAR:
            j = i
            while j < n and p[j] == _STAR:
                j += 1
            special = (
                pathname
                and j - i >= 2
                and (i == 0 or p[i - 1] == _SLASH)
                and (j == n or p[j] == _SLASH or p[j : j + 2] == b"\\/")
            )
            if not special:
                out.append("[^/]*")
            elif j < n and p[j] == _SLASH:
                out.append("(?:.*/)?")
                j += 1
            else:
                out.append(".*")
            i = j
        elif c == 0x5B:  # "["
            members, i = _bracket(p, i)
            cls = _byte_class(members)
            if cls is None:
                return None
            out.append(cls)
        else:
            out.append(_lit(c))
            i += 1
    return "".join(out)


def _simple_length(p: bytes) -> int:
    """The length of the literal prefix (git's ``simple_length``)."""
    for i, c in enumerate(p):
        if c in b"*?[\\":
            return i
    return len(p)


def _trim_trailing_spaces(p: bytes) -> bytes:
    """Drop trailing unescaped spaces, as git does for each .gitignore line."""
    last_space = -1
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == 0x20:
            if last_space < 0:
                last_space = i
        elif c == _BACKSLASH:
            i += 1
            if i >= n:
                return p
            last_space = -1
        else:
            last_space = -1
        i += 1
    return p if last_space < 0 else p[:last_space]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One pattern, ready to match."""

    negative: bool
    dir_only: bool
    #: regex over the last name of the path (``on_name``) or over the whole path (None: it can
    #: never match)
    regex: str | None
    #: whether the pattern (it has no slash) is matched against the last name of the path
    on_name: bool
    #: regex over the directories that may hold a match below them ("" = any, None = none)
    below: str | None
    #: regex over the directories whose entries it may match, leaving out the directories that
    #: it matches itself (their entries are decided by them) ("" = any, None = none)
    entries: str | None
    #: a name pattern of a plain shape, answered by dict lookups (the regex says the same):
    #: "name" (the name is ``key``), "suffix" (``*.ext``: the name ends with ``key``, ".ext"),
    #: "star" (``head*tail``: the name starts with ``key`` and ends with ``key2``); and a path
    #: pattern: "tail" (``**/a/b``: the path is ``key`` or ends with "/" + ``key``)
    shape: str = ""
    key: str = ""
    key2: str = ""


def _directory_regexes(body: bytes) -> tuple[str | None, str | None]:
    """Which directories may hold a path that anchored pattern ``body`` matches below them, and
    which may hold an entry that it matches, leaving out the directories it matches itself (their
    entries are decided by them). "" = any directory, None = none.

    A directory qualifies when its names match the pattern's leading segments. Without ``**``, a
    match has as many names as the pattern, so the directory of an entry matches them exactly.
    From the first segment holding ``**`` on, anything deeper qualifies; but ``X/**`` matches
    every path below ``X``, so only ``X`` itself holds entries that no matched directory decides.
    """
    segments = body.split(b"/")
    starstar = next((k for k, seg in enumerate(segments) if b"**" in seg), None)
    if starstar == 0:
        return "", ""
    leading = segments[:-1] if starstar is None else segments[:starstar]
    if not leading:
        return None, None
    parts: list[str] = []
    for seg in leading:
        try:
            part = _translate(seg, pathname=True)
        except _PatternError:  # a "/" inside brackets or escaped: give up, allow every directory
            return "", ""
        if part is None:
            return None, None
        parts.append(part)
    deeper = "" if starstar is None else "(?:/.*)?"
    below = parts[-1] + deeper
    for part in reversed(parts[:-1]):
        below = f"{part}(?:/{below})?"
    exact = starstar is None or segments[starstar:] == [b"**"]
    return below, "/".join(parts) + ("" if exact else deeper)


def _compile(pattern: str) -> _Compiled | None:
    """One gitignore line -> its compiled form (None for a blank line or a comment)."""
    if any(c in pattern for c in "\n\r\x00"):
        raise _PatternError("a pattern is one line, without NUL")
    try:
        raw = pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise _PatternError("it is not valid UTF-8") from None
    if raw.startswith(b"#"):
        return None
    body = _trim_trailing_spaces(raw)
    if not body:
        return None
    negative = body.startswith(b"!")
    if negative:
        body = body[1:]
    dir_only = body.endswith(b"/")
    if dir_only:
        body = body[:-1]
    if b"/" in body:
        anchored = body[1:] if body.startswith(b"/") else body
        if anchored.startswith(b"**/") and len(anchored) > 3 and b"/" not in anchored[3:]:
            body = anchored[3:]  # "**/name" matches exactly what "name" matches
    if b"/" not in body:  # matched against the last name of the path, at any depth
        if not body:
            raise _PatternError("it matches nothing")
        regex = _translate(body, pathname=False)
        if regex is None:
            return _Compiled(negative, dir_only, None, True, None, None)
        compiled = _Compiled(negative, dir_only, regex, True, "", "")
        if any(c in b"?[\\" for c in body):
            return compiled
        collapsed = re.sub(rb"\*+", b"*", body).decode()  # in a name, "**" is just "*"
        if "*" not in collapsed:
            return replace(compiled, shape="name", key=collapsed)
        if collapsed.count("*") > 1:
            return compiled
        head, _, tail = collapsed.partition("*")
        if head:
            return replace(compiled, shape="star", key=head, key2=tail)
        if tail.startswith("."):
            return replace(compiled, shape="suffix", key=tail)
        return compiled
    prefix = _simple_length(body)
    if body.startswith(b"/"):
        body = body[1:]
        prefix -= 1
    if not body:
        raise _PatternError("it matches nothing")
    # git compares the literal prefix first, then wildmatches the rest on its own: a "**" just
    # after the prefix counts as "at the start" even when no "/" precedes it ("a**/b").
    rest = _translate(body[prefix:], pathname=True)
    if rest is None:
        return _Compiled(negative, dir_only, None, False, None, None)
    regex = _literal(body[:prefix]) + rest
    compiled = _Compiled(negative, dir_only, regex, False, *_directory_regexes(body))
    if body.startswith(b"**/") and not any(c in b"*?[\\" for c in body[3:]):
        return replace(compiled, shape="tail", key=body[3:].decode())
    return compiled


# -- matching ----------------------------------------------------------------------------------

try:
    _re2: Any = importlib.import_module("re2")
except ImportError:  # pragma: no cover - google-re2 is a dependency; the fallback is tested
    _re2 = None

#: whether new policies use re2 (tests turn it off to check the Python fallback)
_USE_RE2 = True


#: the regex every canary set ends with: it matches anything, so a match never comes back empty
_CANARY: Final = ".*"


def _re2_set(regexes: Sequence[str], *, canary: bool = False) -> Any:
    """An ``re2.Set`` full-matching ``regexes`` over bytes (None: empty, or re2 unavailable).

    re2 answers "no match" when its automaton runs out of memory, instead of failing. With
    ``canary``, one more regex (id ``len(regexes)``) matches every input, so an empty answer
    means exactly that failure and the caller can fail closed.
    """
    if not regexes or _re2 is None:
        return None
    options = _re2.Options()
    options.encoding = _re2.Options.Encoding.LATIN1
    options.max_mem = 64 << 20
    rset = _re2.Set.FullMatchSet(options)
    try:
        for regex in regexes:
            rset.Add(f"(?s){regex}")
        if canary:
            rset.Add(f"(?s){_CANARY}")
        rset.Compile()
    except _re2.error:  # too big for re2's memory budget: Python's re takes over
        return None
    if canary and not rset.Match(b""):  # the automaton cannot even start: do without it
        return None
    return rset


def _alternation(regexes: Sequence[str]) -> re.Pattern[bytes] | None:
    """One Python regex: group k (counted from the end) is ``regexes[-k]``; the last one wins.

    The fallback when google-re2 is missing: correct, but a backtracking engine, so slower on
    large lists and not linear-time on adversarial names.
    """
    if not regexes:
        return None
    joined = "|".join(f"({regex})" for regex in reversed(regexes))
    return re.compile(f"(?s:{joined})".encode("ascii"))


class _Below:
    """Which patterns of a list (its positive ones, or its "!" ones) may match a path strictly
    below a directory."""

    __slots__ = ("_any", "_index", "_match")

    def __init__(self, entries: Sequence[tuple[int, str]], *, use_re2: bool) -> None:
        #: the last pattern that may match below any directory, or -1
        self._any = max((i for i, regex in entries if not regex), default=-1)
        specific = [(i, regex) for i, regex in entries if regex]
        #: the pattern index of each regex of ``_match``
        self._index = tuple(i for i, _ in specific)
        regexes = [regex for _, regex in specific]
        self._match = (_re2_set(regexes) if use_re2 else None) or _alternation(regexes)

    def after(self, path: str, after: int) -> bool:
        """Whether one of them after pattern ``after`` may match a path below ``path``."""
        if self._any > after:
            return True
        match = self._match
        if match is None:
            return False
        data = path.encode("utf-8", "surrogateescape")
        if isinstance(match, re.Pattern):  # the alternation matches the last regex it can
            m = match.fullmatch(data)
            return m is not None and self._index[-(m.lastindex or 1)] > after
        return any(self._index[i] > after for i in match.Match(data) or ())


class _Spec:
    """One effective list, compiled: its rules, and the patterns that can match (``compiled``).

    A pattern decides a path when it matches the path itself or a directory above it, and the
    LAST such pattern of the list wins. :class:`_Matcher` answers that for several lists at once.
    """

    __slots__ = ("_below", "_unbelow", "compiled", "empty", "negative", "rules")

    def __init__(self, rules: Sequence[tuple[Rule, _Compiled]], *, use_re2: bool) -> None:
        self.rules = tuple(rule for rule, _ in rules)
        self.negative = tuple(c.negative for _, c in rules)
        #: (pattern index, compiled) of every pattern that can match something
        self.compiled = tuple((i, c) for i, (_, c) in enumerate(rules) if c.regex is not None)
        below = [(i, c.negative, c.below) for i, (_, c) in enumerate(rules) if c.below is not None]
        self._below = _Below([(i, r) for i, neg, r in below if not neg], use_re2=use_re2)
        self._unbelow = _Below([(i, r) for i, neg, r in below if neg], use_re2=use_re2)

    def is_match(self, index: int) -> bool:
        return index >= 0 and not self.negative[index]

    def may_match_below(self, path: str, after: int = -1) -> bool:
        """Whether some positive pattern after pattern ``after`` could match a path strictly
        below directory ``path``. (Below a directory that a "!" pattern k decides, only a later
        pattern can bring anything back: pass k.)"""
        return self._below.after(path, after)

    def may_unmatch_below(self, path: str, after: int) -> bool:
        """Whether some "!" pattern after pattern ``after`` could match a path strictly below
        directory ``path`` (taking it back out of the list)."""
        return self._unbelow.after(path, after)


#: slots of :meth:`_Matcher.best` for list k: ``2 * k + _AS_DIR`` and ``2 * k + _AS_FILE``
_AS_DIR: Final = 0
_AS_FILE: Final = 1
#: the lists of a policy's matchers, in order (k above), and their slots
_DENY: Final = 0
_PROTECT: Final = 1
_DENY_DIR, _DENY_FILE, _PROTECT_DIR, _PROTECT_FILE, _ACCESS_DIR, _ACCESS_FILE = range(6)

_RE2_FAILED: Final = (
    "the policy's rules could not be matched (re2 ran out of memory): the call is refused"
)

#: up to this many "head*tail" heads, one ``startswith`` call skips names that have none
_FEW_HEADS: Final = 8

#: a pattern that matched: (slot it decides as a directory, slot as a file or -1, its index)
_Tag = tuple[int, int, int]


class _Matcher:
    """Several lists matched at once: which pattern of each decides a path.

    A path is decided by the patterns that match it and those that match a directory above it.
    The second part is the same for every entry of a directory, so it is computed once per
    directory and cached (:meth:`_above`); the first part (:meth:`_fold_own`) takes:

    * dict lookups of the last name for the patterns of a plain shape (``name``, ``*.ext``,
      ``head*tail``, ``**/a/b``), whatever their number;
    * one ``re2.Set`` over the whole path for all the other patterns of every list (name patterns
      as ``(.*/)?name``): one pass, linear in the path's length. It is skipped in a directory
      whose entries none of its patterns can match, other than through the directory itself
      (known per directory, from the patterns' leading names: see :func:`_directory_regexes`).
      Without re2, Python's ``re`` answers the same, one alternation per slot.

    Keeping plain names out of the set also keeps its automaton small: each name pattern in it is
    alive at every "/" of the path, and the states multiply with those of the path patterns.
    """

    __slots__ = (
        "_alternations",
        "_cache",
        "_dots",
        "_dotted_exts",
        "_match",
        "_names",
        "_scan_below",
        "_star_heads",
        "_star_lens",
        "_stars",
        "_tag_of",
        "_tags",
        "_tails",
        "_width",
    )

    def __init__(self, specs: Sequence[_Spec], *, use_re2: bool) -> None:
        self._width = 2 * len(specs)
        names: dict[str, list[_Tag]] = {}
        dots: dict[str, list[_Tag]] = {}
        stars: dict[str, list[tuple[str, int, _Tag]]] = {}
        tails: dict[str, list[tuple[str, str, _Tag]]] = {}
        regexes: list[str] = []
        tags: list[_Tag] = []
        below: list[str] = []
        for k, spec in enumerate(specs):
            for index, c in spec.compiled:
                tag = (2 * k + _AS_DIR, -1 if c.dir_only else 2 * k + _AS_FILE, index)
                if c.shape == "name":
                    names.setdefault(c.key, []).append(tag)
                elif c.shape == "suffix":
                    dots.setdefault(c.key, []).append(tag)
                elif c.shape == "star":
                    least = len(c.key) + len(c.key2)
                    stars.setdefault(c.key, []).append((c.key2, least, tag))
                elif c.shape == "tail":  # filed under its last name, which the path must have
                    tail = (c.key, "/" + c.key, tag)
                    tails.setdefault(c.key.rpartition("/")[2], []).append(tail)
                else:
                    assert c.regex is not None
                    regexes.append(f"(?:.*/)?{c.regex}" if c.on_name else c.regex)
                    tags.append(tag)
                    if c.entries is not None:
                        below.append(c.entries)
        self._names = {key: tuple(found) for key, found in names.items()}
        #: "*.ext" patterns by "ext": looked up after the last "." of the name, and after each
        #: "." when some "ext" holds a "." itself
        self._dots = {key[1:]: tuple(found) for key, found in dots.items()}
        self._dotted_exts = any("." in key for key in self._dots)
        #: "head*tail" patterns by head: looked up at each head length, after one ``startswith``
        #: of the heads when they are few (it is linear in them; "" lets every name through)
        self._stars = {key: tuple(found) for key, found in stars.items()}
        self._star_lens = tuple(sorted({len(key) for key in stars}))
        self._star_heads = tuple(stars) if len(stars) <= _FEW_HEADS else ("",) if stars else ()
        #: "**/a/b" patterns by their last name
        self._tails = {key: tuple(found) for key, found in tails.items()}
        rset = _re2_set(regexes, canary=True) if use_re2 else None
        #: the tag of each regex of the set, by id (the canary's last: it decides nothing)
        self._tags = (*tags, (_AS_DIR, -1, -1))
        self._tag_of = self._tags.__getitem__
        #: the raw ``re2.Set.Match`` (no wrapper): bytes -> list of matching regex ids
        self._match: Any = None if rset is None else rset._set.Match
        #: without re2: (slot, alternation of the regexes that decide it, their pattern indexes)
        self._alternations: tuple[tuple[int, re.Pattern[bytes], tuple[int, ...]], ...] = ()
        if rset is None and regexes:
            alternations = []
            for slot in range(self._width):
                chosen = [(r, t[2]) for r, t in zip(regexes, tags, strict=True) if slot in t[:2]]
                pattern = _alternation([r for r, _ in chosen])
                if pattern is not None:
                    alternations.append((slot, pattern, tuple(index for _, index in chosen)))
            self._alternations = tuple(alternations)
        #: which directories the set must scan the entries of: True (all), False (none: no set),
        #: or a matcher of the directories whose entries one of its patterns may match
        self._scan_below: Any = bool(regexes)
        if regexes and "" not in below:
            matcher = (_re2_set(below, canary=True) if use_re2 else None) or _alternation(below)
            self._scan_below = False if matcher is None else matcher  # None: no regex has one
        #: directory -> (what the patterns matching it or a directory above it decide, whether
        #: the set must scan its entries)
        self._cache: dict[str, tuple[tuple[int, ...], bool]] = {}

    def best(self, path: str) -> list[int]:
        """Per list k, the index of the pattern deciding non-empty ``path`` taken as a directory
        (slot ``2k``) and taken as a file (slot ``2k + 1``); -1 where none matches."""
        parent, _, name = path.rpartition("/")
        if parent:
            above = self._cache.get(parent) or self._above(parent)
            best = list(above[0])
            self._fold_own(best, path, name, above[1])
        else:
            best = [-1] * self._width
            self._fold_own(best, path, name, True)
        return best

    def _fold_own(self, best: list[int], path: str, name: str, scan: bool) -> None:
        """Fold the patterns that match ``path`` itself (its last name is ``name``) into
        ``best``; ``scan``: whether the regex set may match it."""
        hits: list[_Tag] = []
        found = self._names.get(name)
        if found is not None:
            hits += found
        dots = self._dots
        if dots:  # the name ends with ".ext" iff what follows some "." of it is "ext"
            _, dot, ext = name.rpartition(".")
            if dot:
                found = dots.get(ext)
                if found is not None:
                    hits += found
                if self._dotted_exts:  # an ".ext" with a "." inside: try every "." of the name
                    _, dot, ext = name.partition(".")
                    while dot and "." in ext:  # (the last one was tried above)
                        found = dots.get(ext)
                        if found is not None:
                            hits += found
                        _, dot, ext = ext.partition(".")
        if self._star_heads and name.startswith(self._star_heads):
            stars, size = self._stars, len(name)
            for k in self._star_lens:
                if k > size:
                    break
                for tail, least, tag in stars.get(name[:k], ()):
                    if size >= least and name.endswith(tail):
                        hits.append(tag)
        if self._tails:
            for whole, slashed, tag in self._tails.get(name, ()):
                if path == whole or path.endswith(slashed):
                    hits.append(tag)
        if scan and self._match is not None:
            ids = self._match(path.encode("utf-8", "surrogateescape"))
            if not ids:  # not even the canary: re2 failed, and would have missed every pattern
                raise ConfigError(_RE2_FAILED)
            hits += map(self._tag_of, ids)
        elif scan and self._alternations:
            data = path.encode("utf-8", "surrogateescape")
            for slot, pattern, indexes in self._alternations:
                m = pattern.fullmatch(data)
                if m is not None and m.lastindex is not None:
                    hits.append((slot, -1, indexes[-m.lastindex]))
        for dir_slot, file_slot, index in hits:
            if index > best[dir_slot]:
                best[dir_slot] = index
            if file_slot >= 0 and index > best[file_slot]:
                best[file_slot] = index

    def _scans(self, directory: str) -> bool:
        """Whether a pattern of the regex set may match an entry of ``directory``."""
        scan_below = self._scan_below
        if isinstance(scan_below, bool):
            return scan_below
        data = directory.encode("utf-8", "surrogateescape")
        if isinstance(scan_below, re.Pattern):
            return scan_below.fullmatch(data) is not None
        ids = scan_below.Match(data)
        if not ids:  # not even the canary: re2 failed
            raise ConfigError(_RE2_FAILED)
        return len(ids) > 1

    def _above(self, directory: str) -> tuple[tuple[int, ...], bool]:
        """What decides the entries of ``directory`` by matching it or a directory above it
        (both slots of a list hold the same index: a directory decides files and directories
        below it alike), and whether the set must scan them; cached, with every uncached
        directory on the way."""
        cache = self._cache
        chain = [directory]
        above: tuple[tuple[int, ...], bool] | None = None
        parent = directory.rpartition("/")[0]
        while parent:
            above = cache.get(parent)
            if above is not None:
                break
            chain.append(parent)
            parent = parent.rpartition("/")[0]
        if len(cache) + len(chain) > MAX_CACHE:
            cache.clear()
        values = list(above[0]) if above is not None else [-1] * self._width
        scan = True if above is None else above[1]  # the root's entries: always scanned
        for d in reversed(chain):
            self._fold_own(values, d, d.rpartition("/")[2], scan)
            values = [values[slot - slot % 2] for slot in range(self._width)]  # as a directory
            scan = self._scans(d)
            above = cache[d] = (tuple(values), scan)
        assert above is not None
        return above


def _by_name(best: list[int], k: int, negative: tuple[bool, ...]) -> int:
    """The deciding positive pattern of list ``k`` for a path taken as a file OR as a directory,
    or -1: the answer of the deny and protect lists, which never depends on the entry's type."""
    found = best[2 * k + _AS_FILE]
    if found >= 0 and not negative[found]:
        return found
    found = best[2 * k + _AS_DIR]
    if found >= 0 and not negative[found]:
        return found
    return -1


def _patterns(name: str, value: object) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ConfigError(f"{name}: expected a list of strings, not {type(value).__name__}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{name}[{i}]: a pattern must be a string, not {type(item).__name__}")
    return list(value)


def fold(text: str) -> str:
    """``text`` as a case-insensitive filesystem compares names, or folded further: canonical
    normalization and Unicode's full case folding ("ß" and "ss", U+017F and "s" are one). It folds
    at least as much as such filesystems do, so a deny rule matches every spelling of the names
    it denies (an allow rule may match a few spellings more). It never makes a "/" or a "."."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _compile_list(
    entries: Sequence[tuple[str, int, str, str]], *, use_re2: bool, casefold: bool = False
) -> _Spec:
    """(list, index, pattern, source) -> _Spec; a bad pattern is a ConfigError naming it.
    ``casefold``: patterns are compiled folded (:func:`fold`); rules keep them as written."""
    compiled: list[tuple[Rule, _Compiled]] = []
    for list_name, index, pattern, source in entries:
        try:
            c = _compile(fold(pattern) if casefold else pattern)
        except _PatternError as exc:
            shown = source[len("preset:") :] if source.startswith("preset:") else list_name
            raise ConfigError(f"{shown}[{index}]: invalid pattern '{pattern}': {exc}") from None
        if c is not None:
            compiled.append((Rule(list_name, index, pattern, source), c))
    return _Spec(compiled, use_re2=use_re2)


def _require_normal(path: str) -> None:
    """Refuse a path that is not normalized: the rules would not mean what they say for it."""
    if not isinstance(path, str):
        raise InvalidPathError(f"a policy path must be a string, not {type(path).__name__}")
    if not path or not (path[0] in "/." or path[-1] == "/" or "//" in path or "/." in path):
        return  # (the common case, decided by this one line)
    odd = path[0] == "/" or path[-1] == "/" or "//" in path
    # a "." or ".." name starts the path or follows a "/"
    if not odd:
        wrapped = f"/{path}/"
        odd = "/./" in wrapped or "/../" in wrapped
    if odd:
        raise InvalidPathError(f"the policy takes normalized root-relative paths, not '{path}'")


# -- the policy ----------------------------------------------------------------------------------


class Policy:
    """The compiled rules of one jail (pure: it never looks at the filesystem).

    A path may be read when it is not internal, not denied, and matched by ``read``; written when
    not internal, not denied, not protected, and matched by ``write``. ``deny`` and ``protect`` are
    decided by the name alone (a match as a file or as a directory counts), so the answer does not
    depend on what exists. Both the requested and the resolved path must pass.

    ``casefold``: the tree is on a case-insensitive filesystem, where ``.ENV`` names ``.env``:
    paths and patterns are matched folded (:func:`fold`), so no spelling escapes a rule.
    Decisions still carry the paths as asked.
    """

    def __init__(
        self,
        read: Sequence[str] = ("**",),
        write: Sequence[str] = (),
        deny: Sequence[str] = (),
        protect: Sequence[str] = (),
        presets: Sequence[str] = ("secrets",),
        internal: Sequence[str] = (),
        *,
        casefold: bool = False,
    ) -> None:
        self.casefold = bool(casefold)
        self._read_args = _patterns("read", read)
        self._write_args = _patterns("write", write)
        self._deny_args = _patterns("deny", deny)
        self._protect_args = _patterns("protect", protect)
        self._preset_args = _patterns("presets", presets)
        self._internal_args = _patterns("internal", internal)

        effective: dict[str, list[tuple[str, int, str, str]]] = {"deny": [], "protect": []}
        for i, name in enumerate(self._preset_args):
            if name not in PRESETS:
                known = ", ".join(PRESETS)
                raise ConfigError(f"presets[{i}]: unknown preset '{name}' (known: {known})")
            if name in self._preset_args[:i]:
                continue
            target, patterns = PRESETS[name]
            effective[target] += [(target, j, p, f"preset:{name}") for j, p in enumerate(patterns)]
        effective["deny"] += [("deny", i, p, "config") for i, p in enumerate(self._deny_args)]
        effective["protect"] += [
            ("protect", i, p, "config") for i, p in enumerate(self._protect_args)
        ]

        internal_paths: list[str] = []
        for i, item in enumerate(self._internal_args):
            try:
                path = normalize(item)
            except JailError as exc:
                raise ConfigError(f"internal[{i}]: {exc}") from None
            if not path:
                raise ConfigError(f"internal[{i}]: the jail's root cannot be internal")
            internal_paths.append(path)
        self._internal = tuple(
            (p, p + "/", i)
            for i, p in enumerate(fold(p) if casefold else p for p in internal_paths)
        )

        def config(name: str, items: list[str]) -> list[tuple[str, int, str, str]]:
            return [(name, i, p, "config") for i, p in enumerate(items)]

        use_re2 = _USE_RE2
        opts = {"use_re2": use_re2, "casefold": self.casefold}
        self._read = _compile_list(config("read", self._read_args), **opts)
        self._write = _compile_list(config("write", self._write_args), **opts)
        self._deny = _compile_list(effective["deny"], **opts)
        self._protect = _compile_list(effective["protect"], **opts)
        # one automaton per access over every list that decides it; slots of _Matcher.best():
        # deny 0-1, protect 2-3, the read or write list 4-5 (see _decide)
        no_protect = _Spec((), use_re2=use_re2)
        self._matchers = {
            "read": _Matcher((self._deny, no_protect, self._read), use_re2=use_re2),
            "write": _Matcher((self._deny, self._protect, self._write), use_re2=use_re2),
        }
        #: the rule that decides when no pattern of the read / write list matches
        self._unmatched: dict[str, Rule] = {
            access: Rule(access, -1, "", "default" if not spec.rules else "config")
            for access, spec in (("read", self._read), ("write", self._write))
        }
        lists: dict[str, object] = {
            "read": self._read_args,
            "write": self._write_args,
            "deny": [p for _, _, p, _ in effective["deny"]],
            "protect": [p for _, _, p, _ in effective["protect"]],
            "internal": internal_paths,
        }
        if self.casefold:  # (absent otherwise: the hashes of case-sensitive policies stay)
            lists["casefold"] = True
        canonical = json.dumps(lists, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self._hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        self._cache: dict[tuple[str, str, bool, str | None], Decision] = {}
        self._visible: dict[tuple[str, bool], bool] = {}
        if self.casefold:  # every decision goes through _decide: fold there (see _decide_folded)
            self._decide = self._decide_folded  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<Policy {self._hash[:12]}>"

    def __reduce__(self) -> tuple[Any, ...]:
        d = self.to_dict()
        args = (d["read"], d["write"], d["deny"], d["protect"], d["presets"], d["internal"])
        if self.casefold:
            return (functools.partial(Policy, casefold=True), args)
        return (Policy, args)

    @property
    def hash(self) -> str:
        """sha256 (hex) of the effective lists: equal policies have equal hashes everywhere."""
        return self._hash

    def to_dict(self) -> dict[str, list[str]]:
        """The constructor's arguments as plain data."""
        return {
            "read": list(self._read_args),
            "write": list(self._write_args),
            "deny": list(self._deny_args),
            "protect": list(self._protect_args),
            "presets": list(self._preset_args),
            "internal": list(self._internal_args),
        }

    def check(
        self, access: Access, path: str, *, is_dir: bool = False, resolved: str | None = None
    ) -> Decision:
        """The decision for ``access`` on normalized ``path`` (and on ``resolved``, if given)."""
        key = (access, path, is_dir, resolved)
        cache = self._cache
        decision = cache.get(key)
        if decision is None:
            decision = self._decide(access, path, is_dir, resolved, ())
            if len(cache) >= MAX_CACHE:
                cache.clear()
            cache[key] = decision
        return decision

    def explain(
        self,
        access: Access,
        path: str,
        *,
        is_dir: bool = False,
        resolved: str | None = None,
        hops: tuple[str, ...] = (),
    ) -> Decision:
        """Like :meth:`check`, uncached, carrying the symlink ``hops`` the caller followed."""
        return self._decide(access, path, is_dir, resolved, tuple(hops))

    def visible(self, path: str, *, is_dir: bool) -> bool:
        """Whether a listing shows ``path``: not internal, not denied, and readable.

        A directory counts as readable when it may hold something readable: it is matched by
        ``read`` itself, or some ``read`` pattern could match a path below it. That is
        conservative: a directory is never hidden while it holds readable files.
        """
        key = (path, is_dir)
        shown = self._visible.get(key)
        if shown is None:
            shown = self._is_visible(fold(path) if self.casefold else path, is_dir)
            if len(self._visible) >= MAX_CACHE:
                self._visible.clear()
            self._visible[key] = shown
        return shown

    # -- internals ---------------------------------------------------------------------------

    def _is_visible(self, path: str, is_dir: bool) -> bool:
        _require_normal(path)
        if not path:
            return True
        if not is_dir:
            return self._decide("read", path, False, None, ()).allowed
        if self._internal_rule(path) is not None:
            return False
        best = self._matchers["read"].best(path)
        denied = _by_name(best, _DENY, self._deny.negative)
        if denied >= 0 and not self._deny.may_unmatch_below(path, after=denied):
            return False  # (a later "!" deny line may take a path below back: then it shows)
        read = self._read
        found = best[_ACCESS_DIR]
        return read.is_match(found) or read.may_match_below(path, after=found)

    def _internal_rule(self, path: str) -> Rule | None:
        for root, below, i in self._internal:
            if path == root or path.startswith(below):
                return Rule("internal", i, root, "internal")
        return None

    def _decide(
        self,
        access: Access,
        path: str,
        is_dir: bool,
        resolved: str | None,
        hops: tuple[str, ...],
    ) -> Decision:
        if access not in _ACCESS:
            raise ConfigError(f"access must be 'read' or 'write', not {access!r}")
        if (  # _require_normal's first line, inline: most paths need nothing more
            type(path) is not str
            or not path
            or path[0] in "/."
            or path[-1] == "/"
            or "//" in path
            or "/." in path
        ):
            _require_normal(path)
        if not path or (resolved is not None and resolved != path):
            return self._decide_two(access, path, is_dir, resolved, hops)
        # One non-empty target (no ``resolved``, or the same path), the case of most checks: the
        # same checks in the same order as _decide_two, from one match against every list.
        rule = self._internal_rule(path) if self._internal else None
        allowed = False
        if rule is None:
            best = self._matchers[access].best(path)
            if best[_DENY_DIR] >= 0 or best[_DENY_FILE] >= 0:
                found = _by_name(best, _DENY, self._deny.negative)
                if found >= 0:
                    rule = self._deny.rules[found]
            if (
                rule is None
                and access == "write"
                and (best[_PROTECT_DIR] >= 0 or best[_PROTECT_FILE] >= 0)
            ):
                found = _by_name(best, _PROTECT, self._protect.negative)
                if found >= 0:
                    rule = self._protect.rules[found]
            if rule is None:
                found = best[_ACCESS_DIR if is_dir else _ACCESS_FILE]
                if found < 0:
                    rule = self._unmatched[access]
                else:
                    spec = self._write if access == "write" else self._read
                    rule = spec.rules[found]
                    allowed = not spec.negative[found]  # unless a "!" pattern decided
        # Decision(allowed, access, path, path, rule, hops), the fast way (see _DecisionBuilder)
        d: Any = _new_object(_DecisionBuilder)
        d.allowed = allowed
        d.access = access
        d.path = path
        d.resolved = path
        d.rule = rule
        d.hops = hops
        d.__class__ = Decision
        decision: Decision = d
        return decision

    def _decide_folded(
        self,
        access: Access,
        path: str,
        is_dir: bool,
        resolved: str | None,
        hops: tuple[str, ...],
    ) -> Decision:
        """:meth:`_decide` on a case-insensitive tree: matched folded, answered as asked."""
        _require_normal(path)  # (before folding: the paths must be what the caller gave)
        if resolved is not None:
            _require_normal(resolved)
        decision = Policy._decide(
            self, access, fold(path), is_dir, None if resolved is None else fold(resolved), hops
        )
        return replace(decision, path=path, resolved=path if resolved is None else resolved)

    def _decide_two(
        self,
        access: Access,
        path: str,
        is_dir: bool,
        resolved: str | None,
        hops: tuple[str, ...],
    ) -> Decision:
        """:meth:`_decide` for a requested path and a different resolved one (either may be the
        root, ""): both must pass."""
        res = path
        if resolved is not None:
            _require_normal(resolved)
            res = resolved
        targets = (path,) if res == path else (path, res)

        def deny(rule: Rule) -> Decision:
            return Decision(False, access, path, res, rule, hops)

        for target in targets:
            rule = self._internal_rule(target) if target else None
            if rule is not None:
                return deny(rule)
        matcher = self._matchers[access]
        # the root ("") is matched by no pattern: it is decided below
        bests = [matcher.best(t) if t else None for t in targets]
        for k, spec in ((_DENY, self._deny), (_PROTECT, self._protect)):
            for best in bests:
                found = -1 if best is None else _by_name(best, k, spec.negative)
                if found >= 0:
                    return deny(spec.rules[found])
        spec = self._read if access == "read" else self._write
        slot = _ACCESS_DIR if is_dir else _ACCESS_FILE
        allowed_by: list[Rule] = []
        for best in bests:
            if best is None:  # the root: always listable, never written
                rule = Rule(access, -1, "", "root")
                if access == "write":
                    return deny(rule)
            else:
                found = best[slot]
                if not spec.is_match(found):  # no pattern, or a "!" pattern, decided
                    return deny(spec.rules[found] if found >= 0 else self._unmatched[access])
                rule = spec.rules[found]
            allowed_by.append(rule)
        return Decision(True, access, path, res, allowed_by[0], hops)


# -- sizes -------------------------------------------------------------------------------------

_SIZE_RE: Final = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([A-Za-z]*)\s*")
_UNITS: Final[dict[str, int]] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(value: str | int | None) -> int | None:
    """A byte count from an int or a string such as "10 MiB", "200MB", "1.5 GiB", "100".

    ``KB``/``MB``/``GB``/``TB`` are powers of 1000, ``KiB``/``MiB``/``GiB``/``TiB`` powers of
    1024 (case is ignored); fractions of a byte are dropped. ``None`` means no limit.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"a size must be a number of bytes or a string, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"a size cannot be negative: {value}")
        return value
    m = _SIZE_RE.fullmatch(value)
    unit = _UNITS.get(m.group(2).lower()) if m else None
    if m is None or unit is None:
        raise ConfigError(
            f"invalid size '{value}': expected a number and an optional unit "
            "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
        )
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only plain decimals
        raise ConfigError(f"invalid size '{value}'") from None
    return int(number * unit)
