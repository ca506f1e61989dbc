"""The key scanner (`python -m archie_keys scan`): it finds every real key wherever it sits, never a
look-alike, prints nothing of a secret, walks a tree as git sees it, and needs nothing but the files.

The same corpus of real keys and look-alikes checks the scanner, the published regex and the gitleaks rule
of docs/key-format.md, so the three cannot drift apart."""

from __future__ import annotations

import math
import os
import re
import secrets
import shlex
import subprocess
import sys
import tomllib
import zlib
from collections import Counter
from pathlib import Path

import pytest
import yaml

from archie_keys import cli
from archie_keys.domain.keyformat import BASE62_ALPHABET, CHECKSUM_LENGTH, KEY_PATTERN, checksum, generate_key
from archie_keys.scan import MAX_FILE_BYTES, find_keys, main, scan_file
from tests.support import TAG_KEY

ROOT = Path(__file__).resolve().parents[2]

# Several prefixes (the shortest, the longest, with "_" inside), projects and environments (up to 24 chars).
REAL_KEYS = [
    generate_key(prefix, project, environment, TAG_KEY)
    for prefix, project, environment in [
        ("archie_", "demo", "dev"),
        ("_", "x1", "y2"),
        ("a_", "p", "e"),
        ("my_org_keys_", "billing", "prod"),
        ("x" * 15 + "_", "p" * 24, "e" * 24),
        ("ci_", "acme2026", "staging"),
    ]
]


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62_ALPHABET) for _ in range(length))


def _with_wrong_checksum(body: str) -> str:
    right = checksum(body)
    return body + right[:-1] + ("1" if right[-1] == "0" else "0")


KEY, _ = REAL_KEYS[0]
LOOK_ALIKES = {
    "a placeholder": "archie_YOUR_API_KEY",
    "the right shape, 40 made-up characters": _with_wrong_checksum(f"archie_demo_dev_{_random_base62(34)}"),
    "a placeholder of the right shape": "archie_demo_dev_" + "x" * 40,
    "a real key with one character changed": KEY[:30] + ("A" if KEY[30] != "A" else "B") + KEY[31:],
    "a real key missing its last character": KEY[:-1],
    "a real key missing its first character": KEY[1:],
    "a real key with its project in capitals": KEY.replace("_demo_", "_DEMO_"),
}


def _lines(captured: str) -> list[str]:
    return captured.splitlines()


# --- what it finds, and what it prints --------------------------------------------------------------------


def test_real_keys_are_reported_by_file_and_line_with_their_public_start_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given keys of every prefix in two files, in the places keys end up
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ci.env").write_text(
        "# CI\n" + "".join(f"ARCHIE_KEY_{n}={value}\n" for n, (value, _) in enumerate(REAL_KEYS))
    )
    (value_a, parts_a), (value_b, parts_b) = REAL_KEYS[0], REAL_KEYS[3]
    (tmp_path / "client.py").write_text(
        f'import os\n\nHEADERS = {{"Authorization": "Bearer {value_a}"}}\n  # {value_b}\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # not inside anyone's repository

    # When the tree is scanned
    status = main(["."])

    # Then each key is one line, sorted by path then line, and nothing of any secret is printed
    out, err = capsys.readouterr()
    assert status == 1
    assert _lines(out) == [
        f"client.py:3: {parts_a.start}",
        f"client.py:4: {parts_b.start}",
        *(f"config/ci.env:{n + 2}: {parts.start}" for n, (_, parts) in enumerate(REAL_KEYS)),
    ]
    for value, parts in REAL_KEYS:
        assert parts.secret not in out + err and value not in out + err
        assert value.startswith(parts.start) and len(value) - len(parts.start) == 22 + CHECKSUM_LENGTH
    assert "8 Archie key(s) found" in err


def test_paths_are_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    (tmp_path / "deploy" / "prod").mkdir(parents=True)
    (tmp_path / "deploy" / "prod" / "values.yaml").write_text(f"key: {KEY}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))

    start = REAL_KEYS[0][1].start
    assert main(["deploy"]) == 1
    assert _lines(capsys.readouterr().out) == [f"deploy/prod/values.yaml:1: {start}"]
    assert main(["./deploy/prod/../prod/values.yaml"]) == 1
    assert _lines(capsys.readouterr().out) == [f"deploy/prod/values.yaml:1: {start}"]
    assert main([str(tmp_path / "deploy")]) == 1
    assert _lines(capsys.readouterr().out) == [f"{tmp_path}/deploy/prod/values.yaml:1: {start}"]


@pytest.mark.parametrize(("value", "parts"), REAL_KEYS, ids=[parts.prefix for _, parts in REAL_KEYS])
def test_a_key_glued_to_the_text_before_it_is_found_at_its_own_first_character(value, parts) -> None:
    # A prefix may contain "_", so `x_archie_demo_...` also has the shape from `x_` and `_`: the checksum,
    # which covers the prefix, says where the key starts.
    for before in ["", "x_", "X", "token=", "some_long_snake_case_identifier_", "abc", "_", "9"]:
        assert list(find_keys(f"{before}{value}")) == [(1, len(before) + 1, parts.start)], before


@pytest.mark.parametrize("after", ["X", "0", "z", "_old", "_archie_demo_dev", "Zq9" * 20, " trailing text"])
def test_a_key_with_characters_glued_after_it_is_still_reported(after: str) -> None:
    # Not a key as presented (parse_key refuses it), but the text holds a working one: its first 40 base62
    # characters after the environment carry a valid checksum, and anyone can cut the key out with it.
    value, parts = REAL_KEYS[0]
    assert list(find_keys(f"KEY={value}{after}")) == [(1, 5, parts.start)]


def test_keys_back_to_back_are_each_found() -> None:
    line = "".join(value for value, _ in REAL_KEYS)
    columns = [1]
    for value, _ in REAL_KEYS[:-1]:
        columns.append(columns[-1] + len(value))
    assert list(find_keys(line)) == [
        (1, column, parts.start) for column, (_, parts) in zip(columns, REAL_KEYS, strict=True)
    ]


# --- what it never reports --------------------------------------------------------------------------------


@pytest.mark.parametrize("look_alike", LOOK_ALIKES.values(), ids=LOOK_ALIKES.keys())
def test_a_look_alike_is_never_reported(
    look_alike: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (tmp_path / "README.md").write_text(f"Set `ARCHIE_KEY={look_alike}`\n{look_alike}\n")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_every_single_character_change_is_not_reported() -> None:
    value, _ = REAL_KEYS[3]  # a prefix with "_" inside: changes there shift the shape too
    for position, character in enumerate(value):
        for replacement in {"a", "Z", "0", "_", "-"} - {character}:
            changed = value[:position] + replacement + value[position + 1 :]
            assert list(find_keys(f"key = {changed}\n")) == [], (position, replacement)


def test_keys_in_binary_files_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # git's rule: a NUL byte in the first 8 KiB makes a file binary; one later on does not.
    (tmp_path / "app.bin").write_bytes(b"\x7fELF\x00\x01" + KEY.encode() + b"\n")
    (tmp_path / "late-nul.txt").write_bytes(KEY.encode() + b"\n" + b"x" * 9000 + b"\x00")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["."]) == 1
    out, err = capsys.readouterr()
    assert _lines(out) == [f"late-nul.txt:1: {REAL_KEYS[0][1].start}"]
    assert "app.bin" not in err  # binaries are skipped silently


def test_a_file_over_the_size_limit_is_skipped_and_named(tmp_path: Path, capsys) -> None:
    big = tmp_path / "dump.sql"
    big.write_text(f"{KEY}\n" + "x" * MAX_FILE_BYTES)
    assert main([str(big)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"{big}: skipped, larger than 4 MiB" in err


def test_text_that_is_not_utf8_is_still_scanned(tmp_path: Path, capsys) -> None:
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n\xff\xfe" + KEY.encode() + b"\n")
    assert main([str(tmp_path / "latin1.txt")]) == 1
    assert _lines(capsys.readouterr().out) == [f"{tmp_path}/latin1.txt:2: {REAL_KEYS[0][1].start}"]


# --- which files it reads ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_in_a_git_repository_gitignored_files_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # Given a repository with a key in a committed file, an untracked file, an ignored file and directory
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.name", "Scanner Test")
    _git(repo, "config", "user.email", "scanner@example.com")
    (repo / ".gitignore").write_text(".env\nbuild/\n")
    (repo / "settings.py").write_text(f"KEY = '{KEY}'\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "settings")
    (repo / "notes.txt").write_text(f"\n{KEY}\n")
    (repo / ".env").write_text(f"ARCHIE_KEY={KEY}\n")
    (repo / "build").mkdir()
    (repo / "build" / "settings.py").write_text(f"KEY = '{KEY}'\n")
    (tmp_path / "home.env").write_text(f"ARCHIE_KEY={KEY}\n")
    (repo / "home.env").symlink_to(tmp_path / "home.env")  # untracked, and outside the tree: never followed
    monkeypatch.chdir(tmp_path)

    # When the repository is scanned, then the ignored ones are not read
    start = REAL_KEYS[0][1].start
    assert main(["repo"]) == 1
    assert _lines(capsys.readouterr().out) == [f"repo/notes.txt:2: {start}", f"repo/settings.py:1: {start}"]
    # and a file named on the command line is read even when ignored: it was asked for
    assert main(["repo/.env"]) == 1
    assert _lines(capsys.readouterr().out) == [f"repo/.env:1: {start}"]


def test_outside_a_repository_every_file_is_read_but_git_internals_and_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    tree, elsewhere = tmp_path / "tree", tmp_path / "elsewhere"
    (tree / "nested").mkdir(parents=True)
    elsewhere.mkdir()
    (tree / ".gitignore").write_text("*.env\n")  # not a repository: nothing to respect
    (tree / "nested" / "local.env").write_text(f"{KEY}\n")
    (tree / ".git").mkdir()
    (tree / ".git" / "ORIG_HEAD").write_text(f"{KEY}\n")
    (elsewhere / "secret.txt").write_text(f"{KEY}\n")
    (tree / "link.txt").symlink_to(elsewhere / "secret.txt")
    (tree / "linked-dir").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))

    assert main(["tree"]) == 1
    assert _lines(capsys.readouterr().out) == [f"tree/nested/local.env:1: {REAL_KEYS[0][1].start}"]


# --- exit status and dependencies -------------------------------------------------------------------------


def test_exit_status_is_1_for_keys_0_for_none_2_for_a_usage_error(tmp_path: Path, capsys) -> None:
    clean, leaky = tmp_path / "clean.txt", tmp_path / "leaky.txt"
    clean.write_text("nothing here\n")
    leaky.write_text(f"{KEY}\n")
    assert cli.main(["scan", str(clean)]) == 0
    assert cli.main(["scan", str(clean), str(leaky)]) == 1
    assert cli.main(["scan", str(clean), str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt: no such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["scan"])
    assert exit_.value.code == 2


def test_the_scanner_needs_no_aws_and_imports_nothing_of_the_service(tmp_path: Path) -> None:
    (tmp_path / "leaky.txt").write_text(f"{KEY}\n")
    blocked = ["boto3", "botocore", "pydantic", "aws_lambda_powertools", "argon2", "moto"]
    script = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # importing any of them now raises ImportError\n"
        "from archie_keys.cli import main\n"
        "sys.exit(main(['scan', sys.argv[1]]))\n"
    )
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "leaky.txt")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == f"{tmp_path}/leaky.txt:1: {REAL_KEYS[0][1].start}\n"


def test_no_file_this_repository_commits_holds_a_key() -> None:
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    findings = []
    for name in listed.stdout.decode().split("\0"):
        path = ROOT / name
        if name and path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            findings.extend(scan_file(str(path)))
    assert [str(finding) for finding in findings] == []


# --- the pre-commit hook ----------------------------------------------------------------------------------

# pre-commit's manifest schema (pre_commit.clientlib, 4.x): the keys a hook must and may have.
HOOK_REQUIRED = {"id", "name", "entry", "language"}
HOOK_OPTIONAL = {
    "alias", "files", "exclude", "types", "types_or", "exclude_types", "additional_dependencies", "args",
    "always_run", "fail_fast", "pass_filenames", "description", "language_version", "log_file",
    "minimum_pre_commit_version", "require_serial", "stages", "verbose",
}  # fmt: skip


def _hooks() -> list[dict]:
    return yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())


def test_the_pre_commit_hook_is_declared_as_pre_commit_expects() -> None:
    hooks = _hooks()
    assert isinstance(hooks, list) and [hook["id"] for hook in hooks] == ["archie-keys-scan"]
    (hook,) = hooks
    assert HOOK_REQUIRED <= set(hook) <= HOOK_REQUIRED | HOOK_OPTIONAL
    assert all(isinstance(hook[key], str) and hook[key] for key in HOOK_REQUIRED)
    assert hook["language"] == "python" and hook["entry"] == "python -m archie_keys scan"
    assert hook["pass_filenames"] is True and hook["types"] == ["text"]


def test_the_pre_commit_hook_entry_scans_the_files_it_is_given(tmp_path: Path) -> None:
    # pre-commit runs the entry in its virtualenv with the staged files appended; ours has the package too.
    (hook,) = _hooks()
    command = shlex.split(hook["entry"])
    assert command[0] == "python"
    clean, leaky = tmp_path / "clean.md", tmp_path / "leaky.env"
    clean.write_text("Set ARCHIE_KEY=archie_YOUR_API_KEY\n")
    leaky.write_text(f"\n\nARCHIE_KEY={KEY}\n")

    def run(*files: Path) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, *command[1:], *hook.get("args", []), *map(str, files)]
        return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=60)

    refused = run(clean, leaky)
    assert refused.returncode == 1
    assert refused.stdout == f"{leaky}:3: {REAL_KEYS[0][1].start}\n"
    assert run(clean).returncode == 0


# --- the published regex and the gitleaks rule -------------------------------------------------------------

KEY_FORMAT_PAGE = (ROOT / "docs" / "key-format.md").read_text()


def _section(heading: str) -> list[str]:
    """The key format page's lines under heading, up to the next heading of its level or above (a `#` line inside a
    fenced block is code, not a heading)."""
    level = heading.index(" ")
    lines: list[str] = []
    inside = fenced = False
    for line in KEY_FORMAT_PAGE.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#+ ", line):
            if inside and line.index(" ") <= level:
                break
            if line == heading:
                inside = True
                continue
        if inside:
            lines.append(line)
    assert inside, f"docs/key-format.md has no {heading!r}"
    return lines


def _fenced(lines: list[str], language: str) -> list[str]:
    """The fenced blocks of one language ("" for none) among lines, each as text."""
    blocks: list[str] = []
    body: list[str] | None = None
    opened = ""
    for line in lines:
        if body is None and line.startswith("```"):
            body, opened = [], line[3:]
        elif body is not None and line == "```":
            if opened == language:
                blocks.append("".join(f"{kept}\n" for kept in body))
            body = None
        elif body is not None:
            body.append(line)
    return blocks


def _gitleaks_rule() -> dict:
    (toml,) = _fenced(_section("### A gitleaks rule"), "toml")
    (rule,) = tomllib.loads(toml)["rules"]
    return rule


def _shannon_entropy(text: str) -> float:
    # gitleaks' own measure: bits per character over the characters' frequencies.
    return -sum(count / len(text) * math.log2(count / len(text)) for count in Counter(text).values())


def _gitleaks_secrets(rule: dict, text: str) -> list[str]:
    """What gitleaks reports for text: leftmost non-overlapping matches (RE2 and Python agree on these),
    the secret group, dropped unless its entropy exceeds the rule's."""
    found = [match.group(rule.get("secretGroup", 0)) for match in re.finditer(rule["regex"], text)]
    return [secret for secret in found if _shannon_entropy(secret) > rule.get("entropy", 0)]


def test_the_key_format_page_publishes_the_scanners_regex() -> None:
    assert KEY_PATTERN == "[a-z0-9_]{0,15}_[a-z0-9]{1,24}_[a-z0-9]{1,24}_[0-9A-Za-z]{40}"
    assert _fenced(_section("### The regex for Archie keys"), "") == [f"{KEY_PATTERN}\n"]
    for value, _ in REAL_KEYS:
        assert re.fullmatch(KEY_PATTERN, value)


def test_the_key_format_page_describes_the_checksum_parse_key_computes() -> None:
    # What another implementation (GitHub's, a partner's) would write from the page's words alone.
    def base62(number: int) -> str:
        digits = ""
        while number:
            number, digit = divmod(number, 62)
            digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[digit] + digits
        return digits.rjust(6, "0")

    assert "CRC32 (zlib's) of the ASCII" in " ".join(_section("### The regex for Archie keys"))
    for value, _ in REAL_KEYS:
        assert base62(zlib.crc32(value[:-6].encode("ascii"))) == value[-6:]


def test_the_gitleaks_rule_is_the_scanners_regex_in_re2_syntax() -> None:
    rule = _gitleaks_rule()
    assert {"id", "description", "regex"} <= set(rule) and rule["secretGroup"] == 1
    # The same regex with the tail (key_id, secret, checksum) captured: exactly the scanner's classes.
    assert rule["regex"].replace("(", "").replace(")", "") == KEY_PATTERN
    # Go's RE2 refuses lookaround and backreferences; Python would accept them silently.
    for construct in ("(?=", "(?!", "(?<", "\\1", "\\b"):
        assert construct not in rule["regex"]


def test_the_gitleaks_rule_finds_every_real_key_and_drops_placeholders() -> None:
    rule = _gitleaks_rule()
    for value, parts in REAL_KEYS:
        for line in (value, f'"Bearer {value}"', f"KEY={value}\n", f"{value}X"):
            assert _gitleaks_secrets(rule, line) == [value[-40:]], line
        assert value[-40:].startswith(parts.key_id)
    # Random tails clear the entropy floor with a wide margin (the lowest of 100,000 was above 4.1).
    assert min(_shannon_entropy(generate_key("archie_", "demo", "dev", TAG_KEY)[0][-40:]) for _ in range(2000)) > 3.9
    assert _gitleaks_secrets(rule, LOOK_ALIKES["a placeholder"]) == []
    assert _gitleaks_secrets(rule, LOOK_ALIKES["a placeholder of the right shape"]) == []
    assert _gitleaks_secrets(rule, LOOK_ALIKES["a real key missing its last character"]) == []
    # What only the scanner can tell: gitleaks has no checksum, so a made-up tail of the right shape passes it.
    assert len(_gitleaks_secrets(rule, LOOK_ALIKES["the right shape, 40 made-up characters"])) == 1


def test_the_key_format_page_pre_commit_example_uses_the_declared_hook() -> None:
    (config,) = _fenced(_section("### As a pre-commit hook"), "yaml")
    (repo,) = yaml.safe_load(config)["repos"]
    assert {hook["id"] for hook in repo["hooks"]} <= {hook["id"] for hook in _hooks()}
