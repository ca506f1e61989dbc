"""The code examples of the README and docs/*.md, as fenced blocks (docs/testing.md, "Examples that run"):

* ```sh: a shell example that runs as written, in order, after the `export API=... SAMPLE=... KEY=...` lines
  that `make run` prints (tests/integration/test_readme_examples.py runs the README's and the typed client's);
* ```shell: a command shown, not run by the tests (it needs AWS or CI, or it is `make run` itself);
* ```python: a Python example (the typed client's runs after the shell block before it, in its folder).

Either shell kind uses `API`, `SAMPLE` and `KEY` for the local stack, never its default ports, and defines
every other variable it reads in an earlier line of the same page (tests/logic/test_doc_examples.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A fence at any indentation (examples inside a numbered list are indented), closed at the same one.
_FENCE = re.compile(r"^(?P<indent> *)```(?P<language>[a-z]+)\n(?P<code>.*?)^(?P=indent)```\n", re.M | re.S)
SHELL_LANGUAGES = ("sh", "shell")
# What `make run`'s export lines set, and what any shell has.
GIVEN_VARIABLES = frozenset({"API", "SAMPLE", "KEY", "PWD", "OLDPWD", "HOME", "PATH"})
# The local stack's default ports, as an example would hard-code them.
LOCAL_PORTS = re.compile(r"(?:127\.0\.0\.1|localhost):300[01]\b")

_USED = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNED = re.compile(r"(?:^|[\s;(&|])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_LOOPED = re.compile(r"\b(?:for|read)\s+([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Example:
    path: Path
    line: int  # of the opening fence
    language: str
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} ({self.language})"


def examples(path: Path, languages: tuple[str, ...] = ("sh", "shell", "python")) -> list[Example]:
    text = path.read_text()
    found = []
    for match in _FENCE.finditer(text):
        if match["language"] in languages:
            line = text.count("\n", 0, match.start()) + 1
            indent = len(match["indent"])
            code = "".join(row[indent:] if row[:indent].isspace() else row for row in match["code"].splitlines(True))
            found.append(Example(path, line, match["language"], code))
    return found


def in_section(path: Path, heading: str, languages: tuple[str, ...] = ("sh", "shell", "python")) -> list[Example]:
    """The examples under one `## heading` of a page, up to the next heading of that level."""
    lines = path.read_text().splitlines()
    start = lines.index(f"## {heading}") + 1
    end = next((n for n in range(start, len(lines)) if lines[n].startswith("## ")), len(lines))
    return [example for example in examples(path, languages) if start < example.line <= end]


def without_comments(code: str) -> str:
    return re.sub(r"(^|\s)#.*$", r"\1", code, flags=re.M)


def without_quotes_and_comments(code: str) -> str:
    """The shell code with single-quoted strings (never expanded) and comments taken out."""
    return without_comments(re.sub(r"'[^']*'", "''", code))


def undefined_variables(page: list[Example]) -> list[str]:
    """Each variable a page's shell examples read before any earlier line of the page sets it."""
    defined = set(GIVEN_VARIABLES)
    problems = []
    for example in page:
        for number, statement in enumerate(without_quotes_and_comments(example.code).splitlines()):
            for name in _USED.findall(statement):
                if name not in defined and not re.search(rf"(?:^|[\s;(]){name}=", statement):
                    problems.append(f"{example}, line {number + 1}: ${name} is never set before")
            defined |= set(_ASSIGNED.findall(statement)) | set(_LOOPED.findall(statement))
    return problems


def hard_coded_ports(page: list[Example]) -> list[str]:
    return [
        f"{example}: {port} (use $API or $SAMPLE)"
        for example in page
        for port in LOCAL_PORTS.findall(without_comments(example.code))
    ]
