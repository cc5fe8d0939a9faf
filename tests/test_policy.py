"""Policy layer: rule lists, presets, decisions and their wording, visibility, sizes."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
from dataclasses import replace

import pytest

import jailfs.policy as policy_module
from jailfs.errors import ConfigError, InvalidPathError
from jailfs.policy import PRESETS, PROTECT, SECRETS, Decision, Policy, Rule, parse_size

# -- defaults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "is_dir"),
    [
        (".env", False),
        ("a/b/.env", False),
        (".env.local", False),
        (".env.production", False),
        ("id_rsa", False),
        ("id_rsa.pub", False),
        ("home/id_ed25519", False),
        (".ssh", True),
        (".ssh", False),  # the name alone decides, not the type
        (".ssh/config", False),
        ("deep/down/.ssh/authorized_keys", False),
        (".aws/credentials", False),
        ("certs/server.pem", False),
        ("tls.key", False),
        (".netrc", False),
        (".pypirc", False),
        (".npmrc", False),
        (".git-credentials", False),
        (".docker/config.json", False),
        ("home/.kube/config", False),
        (".config/gcloud/credentials.db", False),
        ("credentials.json", False),
        ("client_secret_123.apps.googleusercontent.com.json", False),
    ],
)
def test_default_policy_denies_secrets(path: str, is_dir: bool) -> None:
    policy = Policy()
    for access in ("read", "write"):
        decision = policy.check(access, path, is_dir=is_dir)
        assert not decision.allowed
        assert decision.rule.list == "deny"
        assert decision.rule.source == "preset:secrets"
    assert not policy.visible(path, is_dir=is_dir)


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        "src/.env.example",
        ".env.sample",
        "src/env.py",
        "src/environment.ts",
        ".envrc",
        "src/keys.py",
        "src/monkey.key.py",
        "docs/ssh.md",
        "README.md",
        "package.json",
        "tsconfig.json",
        "src/credentials.py",
        "config.json",
        "Makefile",
        ".gitignore",
        ".github/workflows/ci.yml",
        "src/id.py",
        "ids_rsa.txt",
    ],
)
def test_default_policy_reads_ordinary_files(path: str) -> None:
    policy = Policy()
    decision = policy.check("read", path)
    assert decision.allowed, decision.reason
    assert decision.rule == Rule("read", 0, "**", "config")
    assert policy.visible(path, is_dir=False)


def test_default_policy_is_read_only() -> None:
    decision = Policy().check("write", "src/main.py")
    assert not decision.allowed
    assert decision.rule == Rule("write", -1, "", "default")
    assert decision.reason == "not in the write list (the jail is read-only)"


def test_presets_can_be_dropped() -> None:
    policy = Policy(presets=())
    assert policy.check("read", ".env").allowed
    assert policy.check("read", ".ssh/id_rsa").allowed


def test_preset_table() -> None:
    assert PRESETS["secrets"] == ("deny", SECRETS)
    assert PRESETS["protect"] == ("protect", PROTECT)
    for pattern in (".env", ".env.*", "!.env.example", "*.pem", "*.key", "*.p12", "*.pfx"):
        assert pattern in SECRETS
    for pattern in ("id_rsa*", "id_ecdsa*", "id_ed25519*", "id_dsa*", ".ssh/", ".aws/"):
        assert pattern in SECRETS
    for pattern in (".gnupg/", ".netrc", ".pypirc", ".npmrc", ".git-credentials"):
        assert pattern in SECRETS
    for pattern in (".gitmodules", ".bashrc", ".zshrc", ".envrc", ".vscode/", ".claude/"):
        assert pattern in PROTECT
    Policy(presets=list(PRESETS))  # every preset compiles


# -- deny, negation, internal, protect ------------------------------------------------------


def test_deny_wins_over_write_and_read() -> None:
    policy = Policy(write=["**"], deny=["secret/"], presets=())
    for access in ("read", "write"):
        decision = policy.check(access, "secret/plan.txt")
        assert not decision.allowed
        assert decision.rule == Rule("deny", 0, "secret/", "config")
    assert policy.check("write", "public/plan.txt").allowed


def test_deny_is_decided_by_the_name_alone() -> None:
    policy = Policy(deny=["cache/"], presets=())
    # "cache/" matches directories only in Git, but a deny must not depend on what exists
    assert not policy.check("read", "cache", is_dir=False).allowed
    assert not policy.check("read", "cache", is_dir=True).allowed
    assert not policy.check("read", "a/cache/x", is_dir=False).allowed
    assert policy.check("read", "cached", is_dir=False).allowed


def test_user_negation_lifts_a_preset_entry() -> None:
    policy = Policy(deny=["!.env.local"])
    assert policy.check("read", ".env.local").allowed
    assert not policy.check("read", ".env").allowed
    assert not policy.check("read", ".env.production").allowed
    # and the user can deny what the preset lifts
    assert not Policy(deny=[".env.example"]).check("read", ".env.example").allowed


def test_negation_reaches_below_a_matched_directory() -> None:
    # Unlike .gitignore (where Git never looks inside an ignored directory), the last line that
    # matches the path or a directory above it decides: a "!" can carve an exception.
    policy = Policy(deny=["!.ssh/known_hosts"])
    lifted = policy.check("read", ".ssh/known_hosts")
    assert lifted.allowed
    assert not policy.check("read", ".ssh/id_ed25519").allowed
    assert policy.check("read", ".ssh/config").rule == Rule(
        "deny", SECRETS.index(".ssh/"), ".ssh/", "preset:secrets"
    )
    writable = Policy(write=["build/", "!build/keep.txt"], presets=())
    assert writable.check("write", "build/out.o").allowed
    assert not writable.check("write", "build/keep.txt").allowed
    # and a later positive line puts a directory's content back
    again = Policy(write=["**", "!docs/", "docs/api/"], presets=())
    assert not again.check("write", "docs/x.md").allowed
    assert again.check("write", "docs/api/x.md").allowed


def test_negation_excludes_from_a_list() -> None:
    policy = Policy(write=["src/**", "!**/*.lock"], presets=())
    assert policy.check("write", "src/main.rs").allowed
    decision = policy.check("write", "src/Cargo.lock")
    assert not decision.allowed
    assert decision.rule == Rule("write", 1, "!**/*.lock", "config")
    assert decision.reason == "excluded from the write list by write[1] '!**/*.lock'"
    # the design's example means what it says at any depth (Git would keep this one ignored)
    nested = policy.check("write", "src/sub/Cargo.lock")
    assert not nested.allowed
    assert nested.rule == Rule("write", 1, "!**/*.lock", "config")
    # a directory-only negation takes the directory and everything below it out
    tree = Policy(write=["docs/**", "!docs/copy/pkg/"], presets=())
    assert not tree.check("write", "docs/copy/pkg", is_dir=True).allowed
    assert not tree.check("write", "docs/copy/pkg/mod.py").allowed
    assert tree.check("write", "docs/copy/other.py").allowed


def test_internal_paths_are_denied_with_everything_below() -> None:
    policy = Policy(write=["**"], internal=[".jailfs-audit", "conf/jailfs.toml"], presets=())
    for access in ("read", "write"):
        for path in (".jailfs-audit", ".jailfs-audit/2024-01-01.jsonl", "conf/jailfs.toml"):
            decision = policy.check(access, path)
            assert not decision.allowed
            assert decision.rule.list == "internal"
            assert decision.rule.source == "internal"
        assert policy.check(access, ".jailfs-audit-notes").allowed
        assert policy.check(access, "conf/other.toml").allowed
    decision = policy.check("read", "conf/jailfs.toml")
    assert decision.rule == Rule("internal", 1, "conf/jailfs.toml", "internal")
    assert decision.reason == "denied by rule internal[1] 'conf/jailfs.toml'"
    assert not policy.visible(".jailfs-audit", is_dir=True)
    assert policy.visible("conf", is_dir=True)
    # through an alias, too
    assert not policy.check("read", "link", resolved=".jailfs-audit/x.jsonl").allowed


def test_internal_paths_are_normalized_and_checked() -> None:
    policy = Policy(internal=["/audit/", "./jailfs.toml"], presets=())
    assert not policy.check("read", "audit/x").allowed
    assert not policy.check("read", "jailfs.toml").allowed
    for bad in ("", "/", "../outside"):
        with pytest.raises(ConfigError, match=r"internal\[0\]"):
            Policy(internal=[bad])


def test_protect_preset_blocks_writes_not_reads() -> None:
    policy = Policy(write=["**"], presets=["secrets", "protect"])
    for path in (".git/hooks/pre-commit", "vendor/lib/.git/hooks/post-checkout", ".git/config"):
        assert policy.check("read", path).allowed
        decision = policy.check("write", path)
        assert not decision.allowed
        assert decision.rule.list == "protect"
        assert decision.rule.source == "preset:protect"
    decision = policy.check("write", ".git/hooks/pre-commit")
    assert str(decision.rule) == "protect[0] '**/.git/hooks/'"
    assert decision.reason == "write-protected by rule protect[0] '**/.git/hooks/'"
    for path in (".bashrc", ".envrc", ".vscode/settings.json", ".github/workflows/ci.yml"):
        assert not policy.check("write", path).allowed
    # by name: creating a FILE named like a protected directory is refused too
    assert not policy.check("write", ".vscode", is_dir=False).allowed
    assert policy.check("write", "src/main.py").allowed
    assert policy.check("write", ".git/objects/ab/cdef").allowed
    assert policy.check("write", "docs/github/workflows.md").allowed


def test_user_protect_list() -> None:
    policy = Policy(write=["**"], protect=["Makefile", "!docs/Makefile"], presets=())
    decision = policy.check("write", "Makefile")
    assert not decision.allowed
    assert decision.rule == Rule("protect", 0, "Makefile", "config")
    assert policy.check("write", "docs/Makefile").allowed
    assert policy.check("read", "Makefile").allowed


def test_read_and_write_are_independent() -> None:
    policy = Policy(read=["docs/**"], write=["src/**"], presets=())
    assert policy.check("write", "src/a.py").allowed
    assert not policy.check("read", "src/a.py").allowed
    assert policy.check("read", "docs/x.md").allowed
    assert not policy.check("write", "docs/x.md").allowed
    assert policy.check("read", "docs/x.md").rule == Rule("read", 0, "docs/**", "config")
    assert policy.check("read", "src/a.py").reason == "not in the read list"


def test_lists_use_the_type_for_directory_patterns() -> None:
    policy = Policy(read=["build/"], presets=())
    assert policy.check("read", "build", is_dir=True).allowed
    assert not policy.check("read", "build", is_dir=False).allowed
    assert policy.check("read", "build/x.o").allowed
    assert policy.check("read", "a/build/x.o").allowed


def test_resolved_path_must_pass_too() -> None:
    policy = Policy(write=["src/**"])
    decision = policy.check("read", "innocent", resolved=".env")
    assert not decision.allowed
    assert (decision.path, decision.resolved) == ("innocent", ".env")
    assert decision.rule.list == "deny"
    decision = policy.check("write", "src/link", resolved="docs/x.md")
    assert not decision.allowed
    assert decision.rule == Rule("write", -1, "", "config")
    decision = policy.check("write", "src/link", resolved="src/real.py")
    assert decision.allowed
    assert decision.rule == Rule("write", 0, "src/**", "config")
    assert policy.check("read", "a.txt").resolved == "a.txt"


def test_the_root_is_listable_never_writable() -> None:
    policy = Policy(read=[], presets=())
    decision = policy.check("read", "", is_dir=True)
    assert decision.allowed
    assert decision.reason == "allowed: the root is always listable"
    decision = Policy(write=["**"]).check("write", "", is_dir=True)
    assert not decision.allowed
    assert decision.reason == "not writable: it is the jail's root"
    assert policy.visible("", is_dir=True)
    assert not policy.check("write", "link", resolved="").allowed


@pytest.mark.parametrize(
    ("patterns", "path", "is_dir", "matched"),
    [
        # corner cases where Git and pathspec's GitIgnoreSpec disagree; the policy follows Git
        (["a/**"], "a", True, False),
        (["a/**"], "a/b", True, True),
        (["*", "!*/"], "a", True, False),
        # the two below differ from Git on purpose: the later "!" line wins over the directory
        (["*", "!*/"], "a/f", False, False),
        (["a/", "!a/x"], "a/x", False, False),
        (["a/**/"], "a", True, False),
        (["a/**/"], "a/x", False, False),
        (["a/**/"], "a/b", True, True),
        (["/?"], "é", False, False),  # "?" is one byte, "é" two
        (["/??"], "é", False, True),
        (["[[:digit:]]*"], "1.txt", False, True),
        (["a**/b"], "a/x/y/b", False, True),  # the "**" after git's literal prefix
        (["**/a/b"], "x/a/b", False, True),
        (["a\\*"], "a*", False, True),
        (["a\\ "], "a ", False, True),
        (["a  "], "a", False, True),
        (["#a", "\\#a"], "#a", False, True),
    ],
)
def test_git_corner_cases(
    patterns: list[str], path: str, is_dir: bool, matched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for use_re2 in (True, False):
        monkeypatch.setattr(policy_module, "_USE_RE2", use_re2)
        policy = Policy(read=patterns, presets=())
        assert policy.check("read", path, is_dir=is_dir).allowed is matched


# -- visible ----------------------------------------------------------------------------------


def test_visible_dirs_for_an_anchored_tree() -> None:
    policy = Policy(read=["src/**"], presets=())
    assert policy.visible("src", is_dir=True)
    assert policy.visible("src/pkg", is_dir=True)
    assert policy.visible("src/a.py", is_dir=False)
    assert not policy.visible("docs", is_dir=True)
    assert not policy.visible("README.md", is_dir=False)
    assert not policy.visible("srcx", is_dir=True)


def test_visible_dirs_for_a_name_pattern() -> None:
    policy = Policy(read=["*.md"], presets=())
    for d in ("src", "a/b/c", "docs"):
        assert policy.visible(d, is_dir=True)
    assert policy.visible("a/b/c/notes.md", is_dir=False)
    assert not policy.visible("a/b/c/notes.txt", is_dir=False)


def test_visible_dirs_for_a_deep_pattern() -> None:
    policy = Policy(read=["docs/api/*.md"], presets=())
    assert policy.visible("docs", is_dir=True)
    assert policy.visible("docs/api", is_dir=True)
    assert not policy.visible("src", is_dir=True)
    assert not policy.visible("docs/other", is_dir=True)
    assert not policy.visible("docs/api/sub", is_dir=True)
    assert policy.visible("docs/api/index.md", is_dir=False)


def test_visible_hides_denied_dirs_and_shows_negated_parents() -> None:
    policy = Policy(read=["**", "!build/", "build/keep/**"])
    assert not policy.visible(".ssh", is_dir=True)
    assert not policy.visible(".ssh/config", is_dir=False)
    assert not policy.check("read", "build", is_dir=True).allowed
    assert policy.visible("build", is_dir=True)  # it holds build/keep/...
    assert policy.check("read", "build/keep/x").allowed


@pytest.mark.parametrize("use_re2", [True, False], ids=["re2", "python-re"])
def test_visible_hides_what_a_negation_excludes_entirely(
    use_re2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy_module, "_USE_RE2", use_re2)
    policy = Policy(read=["**", "!private/"], presets=())
    for d in ("private", "private/sub", "private/sub/deeper"):
        assert not policy.visible(d, is_dir=True), d  # nothing below can be read
    assert policy.visible("public", is_dir=True)
    again = Policy(read=["**", "!private/", "private/keep/**", "!private/keep/old/"], presets=())
    assert again.visible("private", is_dir=True)  # a later line brings private/keep back
    assert again.visible("private/keep", is_dir=True)
    assert again.visible("private/keep/new", is_dir=True)
    assert not again.visible("private/other", is_dir=True)
    assert not again.visible("private/keep/old", is_dir=True)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("[abc", "unclosed"),
        ("a\\", "backslash"),
        ("[z-a]", "reversed"),
        ("[[:nope:]]", "character class"),
        ("!", "matches nothing"),
        ("/", "matches nothing"),
        ("a\nb", "one line"),
    ],
)
def test_bad_patterns_name_list_and_index(pattern: str, why: str) -> None:
    with pytest.raises(ConfigError, match=r"write\[2\]: invalid pattern") as info:
        Policy(write=["src/**", "docs/", pattern])
    assert why in str(info.value)
    assert str(info.value).startswith(f"write[2]: invalid pattern '{pattern}': ")


def test_bad_lists_and_presets() -> None:
    with pytest.raises(ConfigError, match=r"^deny\[1\]: a pattern must be a string, not int"):
        Policy(deny=["a", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"^read: expected a list of strings, not str"):
        Policy(read="**")
    with pytest.raises(ConfigError, match=r"^presets\[1\]: unknown preset 'nope'"):
        Policy(presets=["secrets", "nope"])
    with pytest.raises(ConfigError, match="access must be"):
        Policy().check("delete", "a")  # type: ignore[arg-type]


def test_comments_and_blank_lines_keep_their_index() -> None:
    policy = Policy(read=["# docs only", "", "docs/**"], presets=())
    assert policy.check("read", "docs/a.md").rule == Rule("read", 2, "docs/**", "config")
    assert not policy.check("read", "# docs only").allowed


@pytest.mark.parametrize("path", ["/a", "a/", "a//b", "a/../b", "./a", "..", "a/."])
def test_unnormalized_paths_are_refused(path: str) -> None:
    policy = Policy()
    with pytest.raises(InvalidPathError):
        policy.check("read", path)
    with pytest.raises(InvalidPathError):
        policy.check("read", "a", resolved=path)
    with pytest.raises(InvalidPathError):
        policy.visible(path, is_dir=True)


# -- wording ----------------------------------------------------------------------------------


def test_rule_str() -> None:
    assert str(Rule("deny", 3, ".env", "config")) == "deny[3] '.env'"
    assert str(Rule("deny", 0, ".env", "preset:secrets")) == "secrets[0] '.env'"
    assert str(Rule("write", -1, "", "default")) == "write (no pattern matches)"
    assert str(Rule("internal", 0, ".jailfs-audit", "internal")) == "internal[0] '.jailfs-audit'"


def test_decision_reasons() -> None:
    policy = Policy(deny=["a", "b", "c", ".env"], presets=())
    assert policy.check("read", ".env").reason == "denied by rule deny[3] '.env'"
    assert Policy().check("read", ".env").reason == "denied by rule secrets[0] '.env'"
    writable = Policy(write=["src/**"])
    assert writable.check("write", "src/a.py").reason == "allowed by write[0] 'src/**'"
    assert writable.check("write", "docs/a.md").reason == "not in the write list"
    assert Policy().check("read", "a").reason == "allowed by read[0] '**'"
    nothing = Policy(read=[], presets=())
    assert nothing.check("read", "a").reason == "not in the read list (nothing is readable)"


def test_decision_fields_and_explain() -> None:
    policy = Policy()
    decision = policy.check("read", "src/a.py")
    assert isinstance(decision, Decision)
    assert (decision.access, decision.path, decision.resolved, decision.hops) == (
        "read",
        "src/a.py",
        "src/a.py",
        (),
    )
    assert policy.check("read", "src/a.py") is decision  # cached
    explained = policy.explain("read", "link", resolved="src/a.py", hops=("link",))
    assert explained.allowed
    assert explained.hops == ("link",)
    assert explained.resolved == "src/a.py"
    assert policy.explain("read", "link", resolved="src/a.py") is not policy.explain(
        "read", "link", resolved="src/a.py"
    )
    with pytest.raises(AttributeError):
        decision.allowed = False  # type: ignore[misc]


# -- hash, data, cache ------------------------------------------------------------------------


def test_hash_is_stable_and_tracks_the_effective_lists() -> None:
    base = Policy()
    assert base.hash == Policy().hash
    assert len(base.hash) == 64
    assert base.hash == Policy(read=["**"], presets=["secrets"]).hash
    # the effective deny list is what counts
    assert base.hash == Policy(presets=(), deny=list(SECRETS)).hash
    others = {
        Policy(write=["src/**"]).hash,
        Policy(presets=()).hash,
        Policy(deny=["x"]).hash,
        Policy(protect=["x"]).hash,
        Policy(internal=["x"]).hash,
        Policy(read=["**", "!x"]).hash,
        Policy(read=["!x", "**"]).hash,
    }
    assert base.hash not in others
    assert len(others) == 7


def test_hash_is_the_same_in_another_process() -> None:
    code = "from jailfs.policy import Policy; print(Policy(write=['src/**']).hash)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == Policy(write=["src/**"]).hash


def test_to_dict_and_pickle_round_trip() -> None:
    policy = Policy(write=["src/**"], deny=["x/"], protect=["Makefile"], internal=["audit"])
    data = policy.to_dict()
    assert data == {
        "read": ["**"],
        "write": ["src/**"],
        "deny": ["x/"],
        "protect": ["Makefile"],
        "presets": ["secrets"],
        "internal": ["audit"],
    }
    assert Policy(**data).hash == policy.hash
    clone = pickle.loads(pickle.dumps(policy))
    assert clone.hash == policy.hash
    assert not clone.check("read", "x/y").allowed


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert policy_module.MAX_CACHE == 65536
    monkeypatch.setattr(policy_module, "MAX_CACHE", 100)
    policy = Policy(write=["src/**"])
    for i in range(1000):
        assert policy.check("write", f"src/d{i}/f{i}.py").allowed
        assert policy.visible(f"docs/d{i}", is_dir=True)
    assert len(policy._cache) <= 100
    assert len(policy._visible) <= 100
    assert all(len(matcher._cache) <= 100 for matcher in policy._matchers.values())


def test_python_re_fallback_agrees_with_re2(monkeypatch: pytest.MonkeyPatch) -> None:
    patterns = ["src/**", "!**/*.lock", "*.md", "/data/[a-c]*/x?.csv", "docs/**/api/", "**/t/*"]
    paths = ["src/a.py", "src/Cargo.lock", "x/y.md", "data/b1/x1.csv", "docs/v/api", "q/t/z"]
    fast = Policy(read=patterns, deny=["z*"])
    monkeypatch.setattr(policy_module, "_USE_RE2", False)
    slow = Policy(read=patterns, deny=["z*"])
    assert fast._matchers["read"]._match is not None
    assert slow._matchers["read"]._match is None and slow._matchers["read"]._alternations
    for path in paths:
        for is_dir in (False, True):
            assert fast.check("read", path, is_dir=is_dir) == slow.check(
                "read", path, is_dir=is_dir
            )
            assert fast.visible(path, is_dir=is_dir) == slow.visible(path, is_dir=is_dir)


def _reference(patterns: list[str], path: str) -> tuple[int, int]:
    """The deciding index of one list for ``path`` as a directory and as a file, the slow way:
    each pattern's own regex, tried on the path and on every directory above it."""
    import re

    compiled = [policy_module._compile(p) for p in patterns]
    names = path.split("/")
    as_dir = as_file = -1
    for i, c in enumerate(compiled):
        if c is None or c.regex is None:
            continue
        regex = re.compile(f"(?s:{c.regex})".encode())
        for depth in range(1, len(names) + 1):
            target = "/".join(names[depth - 1 : depth] if c.on_name else names[:depth])
            if regex.fullmatch(target.encode()) is None:
                continue
            if depth < len(names) or not c.dir_only:  # a directory above, or the path itself
                as_file = i
            as_dir = i
    return as_dir, as_file


@pytest.mark.parametrize("use_re2", [True, False], ids=["re2", "python-re"])
def test_matcher_agrees_with_each_pattern_tried_alone(
    use_re2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Name lookups ("name", "*.ext", "head*tail"), the regex set, the per-directory cache and
    the directories the set skips must all answer like every pattern tried on its own."""
    monkeypatch.setattr(policy_module, "_USE_RE2", use_re2)
    rng = random.Random(7)
    parts = ["a", "b", "src", "sub", "x.tar.gz", "y.gz", ".gz", "z.", "tar.gz", "é", "a b", "c~"]
    parts += ["k3", "k11", "q.e3", "q.e11", "qt7", "t11", "id_rsa", "id_rsa.pub", ".env.x"]
    parts += ["h3", "h11x", "x5.gz", "x11a.tar.gz"]
    pool = ["*.gz", "*.tar.gz", "*.", "*~", "*gz", "*z", ".gz", "*.é", "a/**", "a/b/**", "src/**"]
    pool += ["!a/b/**", "a/**/", "!src/sub/**", "src/sub/**/", "a/b/c/**", "é/**", "a b/**"]
    pool += ["src/*/x.tar.gz", "a/[bc]/*", "/b/**/y.gz", "a/b/*.gz", "!src/*/*.gz", "é/a*"]
    pool += ["**/*.gz", "a b/c~", "?/b", "*/sub/**", "src/sub/y.gz", "b/**/", "!b/a/**", "/a"]
    pool += ["id_rsa*", "!id_rsa.pub", ".env.*", "q*3", "sub/", "!sub/", "a", "/src/sub"]
    pool += [f"h{i}*" for i in range(12)] + [f"x{i}*.gz" for i in range(12)]
    pool += ["**/a/b", "**/sub/x.tar.gz", "!**/a/b/", "**/src/sub/"]
    pool += [f"*.e{i}" for i in range(12)] + [f"k{i}/**" for i in range(12)]
    pool += [f"*t{i}" for i in range(12)] + [f"src/k{i}/**/*.gz" for i in range(12)]
    for _ in range(120):
        lists = [rng.sample(pool, rng.randint(0, 25)) for _ in range(3)]
        specs = []
        for patterns in lists:
            compiled = [
                (Rule("read", i, p, "config"), policy_module._compile(p))
                for i, p in enumerate(patterns)
            ]
            specs.append(policy_module._Spec(compiled, use_re2=use_re2))  # type: ignore[arg-type]
        matcher = policy_module._Matcher(specs, use_re2=use_re2)
        for _ in range(40):
            path = "/".join(rng.choice(parts) for _ in range(rng.randint(1, 5)))
            expected = [slot for patterns in lists for slot in _reference(patterns, path)]
            assert matcher.best(path) == expected, (lists, path)


def test_the_regex_set_is_skipped_where_none_of_its_patterns_can_match() -> None:
    policy = Policy(read=["**"], write=["src/*/gen_*.py", "*.md"], deny=["data/*/x?.csv"])
    matcher = policy._matchers["write"]
    assert policy.check("write", "docs/a/b/readme.md").allowed  # "*.md" is a name lookup
    assert matcher._cache["docs/a/b"][1] is False  # so nothing in docs/ needs the set
    assert policy.check("write", "src/pkg/gen_x.py").allowed
    assert matcher._cache["src/pkg"][1] is True
    assert not policy.check("write", "src/pkg/x.py").allowed
    assert policy.check("read", "data/d1/x1.csv").rule.list == "deny"
    assert policy._matchers["read"]._cache["data/d1"][1] is True
    # "data/*/x?.csv" matches only entries of "data/<name>": not those of "data" itself
    assert policy.check("write", "data/d2/x1.csv").rule.list == "deny"
    assert matcher._cache["data"][1] is False and matcher._cache["data/d2"][1] is True
    # "X/**" matches every directory below X: their entries are decided by the directory itself
    deep = Policy(read=["**"], write=["src/**", "!src/*/gen/"], presets=())
    assert deep.check("write", "src/a/b/c/x.py").allowed
    assert not deep.check("write", "src/a/gen/x.py").allowed
    scans = {d: v[1] for d, v in deep._matchers["write"]._cache.items()}
    assert scans == {"src": True, "src/a": True, "src/a/b": False, "src/a/b/c": False,
                     "src/a/gen": False}  # fmt: skip
    # a name pattern that needs the set (not a plain shape) makes every directory scanned
    loose = Policy(read=["**"], write=["f?o.txt"])
    assert loose.check("write", "a/b/c/fxo.txt").allowed
    assert loose._matchers["write"]._cache["a/b/c"][1] is True


def test_a_failing_re2_automaton_refuses_instead_of_matching_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """re2 answers "no match" when its automaton runs out of memory; the canary pattern turns
    that into an error, so a deny pattern is never silently skipped."""
    policy = Policy(read=["src/**", "data/**"], deny=["data/*/secret?.txt"], presets=())
    assert policy.check("read", "data/x/secret1.txt").rule.list == "deny"
    matcher = policy._matchers["read"]
    canary = len(matcher._tags) - 1
    assert 0 in matcher._match(b"data/y/secret1.txt")  # the deny pattern
    assert canary in matcher._match(b"data/y/plain.txt")
    assert matcher._match(b"elsewhere/plain.txt") == [canary]  # no pattern matched
    scan_below = matcher._scan_below
    assert len(scan_below.Match(b"data")) > 1 and len(scan_below.Match(b"elsewhere")) == 1
    monkeypatch.setattr(matcher, "_match", lambda data: [])  # what a failed automaton returns
    with pytest.raises(ConfigError, match="re2 ran out of memory"):
        policy.check("read", "data/z/secret2.txt")
    monkeypatch.setattr(matcher, "_scan_below", type("Failed", (), {"Match": lambda s, d: []})())
    with pytest.raises(ConfigError, match="re2 ran out of memory"):
        policy.check("read", "data/new/secret3.txt")


def test_decisions_are_ordinary_frozen_dataclasses() -> None:
    policy = Policy(read=["src/**"], write=["src/**"], deny=["*.key"])
    for access, path, resolved in [
        ("read", "src/a.py", None),
        ("write", "src/a.py", "src/a.py"),
        ("write", "docs/a.md", None),
        ("read", "src/k.key", None),
        ("read", "src/a.py", "src/b.py"),
    ]:
        got = policy.explain(access, path, resolved=resolved, hops=("x",))  # type: ignore[arg-type]
        built = Decision(got.allowed, got.access, got.path, got.resolved, got.rule, got.hops)
        assert type(got) is Decision and type(policy.check(access, path)) is Decision  # type: ignore[arg-type]
        assert got == built and hash(got) == hash(built) and repr(got) == repr(built)
        assert got.reason == built.reason and got.hops == ("x",)
        assert pickle.loads(pickle.dumps(got)) == got
        assert replace(got, path="other").path == "other"
        with pytest.raises(AttributeError):
            got.allowed = not got.allowed  # type: ignore[misc]
        assert policy.check(access, path, resolved=resolved) == replace(got, hops=())  # type: ignore[arg-type]


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, 0),
        (123, 123),
        ("100", 100),
        ("1 KB", 1000),
        ("1kb", 1000),
        ("512 KiB", 512 * 1024),
        ("10 MiB", 10 * 1024**2),
        ("200MB", 200 * 1000**2),
        ("1.5 GiB", 3 * 1024**3 // 2),
        ("2 TB", 2 * 1000**4),
        (" 7 B ", 7),
        (".5 KiB", 512),
        ("0.1 KiB", 102),
    ],
)
def test_parse_size(value: str | int | None, expected: int | None) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize(
    "value",
    ["", "-1", "1.5.2 MB", "10 MiBs", "ten", "inf", "nan", "1e6", "1 PB", "1,000", -5, 1.5, True],
)
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ConfigError):
        parse_size(value)  # type: ignore[arg-type]


# -- case-insensitive trees ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".ENV",
        ".Env",
        "k.PEM",
        "ID_RSA",
        ".SSH/config",
        "deploy/.AWS/credentials",
        "id_r\u017fa",  # a long s: "s" under full case folding
        ".\u017f\u017fh/config",
        "CLIENT_SECRET_1.JSON",
        "Cafe\u0301/.env",  # (a decomposed accent on the way changes nothing)
    ],
)
def test_casefold_denies_every_spelling_of_a_secret(path: str) -> None:
    folded = Policy(casefold=True)
    decision = folded.check("read", path)
    assert not decision.allowed
    assert decision.rule.list == "deny"
    assert (decision.path, decision.resolved) == (path, path)  # answered as asked
    assert not folded.visible(path, is_dir=False)


def test_casefold_matches_allow_and_internal_rules_folded() -> None:
    exact = Policy(read=["src/**"], write=["src/**"], internal=["jailfs.toml"])
    folded = Policy(read=["src/**"], write=["src/**"], internal=["jailfs.toml"], casefold=True)
    assert not exact.check("read", "SRC/a.py").allowed  # another directory here
    assert folded.check("write", "SRC/a.py").allowed  # the same directory there
    assert folded.check("read", "JAILFS.TOML").rule.list == "internal"
    assert exact.check("read", "JAILFS.TOML").rule.list == "read"
    # the resolved path is folded too, and kept as given
    decision = folded.check("read", "docs/link", resolved=".SSH/id")
    assert (decision.allowed, decision.rule.list, decision.resolved) == (False, "deny", ".SSH/id")
    assert folded.explain("read", ".ENV").rule.pattern == ".env"


def test_casefold_is_part_of_the_hash_and_survives_pickling() -> None:
    folded = Policy(deny=["Private/"], casefold=True)
    assert folded.hash != Policy(deny=["Private/"]).hash
    assert Policy().hash == Policy(casefold=False).hash
    again = pickle.loads(pickle.dumps(folded))
    assert again.casefold and again.hash == folded.hash
    assert not again.check("read", "PRIVATE/x").allowed
    with pytest.raises(InvalidPathError):
        folded.check("read", "../ESCAPE")


def test_fold_never_changes_the_shape_of_a_path() -> None:
    assert policy_module.fold("\uff21/\uff0e\uff0e") == "\uff41/\uff0e\uff0e"  # fullwidth stays
    assert policy_module.fold("Stra\u00dfe/X") == "strasse/x"
    assert policy_module.fold("Cafe\u0301") == "caf\u00e9"  # one spelling of one name
    with pytest.raises(InvalidPathError):
        Policy(casefold=True).check("read", "a/../b")


@pytest.mark.parametrize("use_re2", [True, False], ids=["re2", "python-re"])
def test_a_denied_directory_shows_when_a_later_line_takes_a_path_below_back(
    use_re2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy_module, "_USE_RE2", use_re2)
    policy = Policy(deny=["secret/", "!secret/ok.txt"])
    assert policy.check("read", "secret/ok.txt").allowed
    assert policy.visible("secret", is_dir=True)  # it holds a readable file
    assert not policy.visible("secret/other", is_dir=True)
    assert not policy.visible("secret/other.txt", is_dir=False)
    # the presets' own "!" lines come before .ssh/: they take nothing below it back
    assert not policy.visible(".ssh", is_dir=True)
    assert not Policy(deny=["!secret/ok.txt", "secret/"]).visible("secret", is_dir=True)
