"""`python -m archie_keys scan PATH...`: find Archie keys in your own files before they leave the machine.

A candidate is any text of a key's shape (`keyformat.KEY_PATTERN`), from every position it may start; it is
reported only when `parse_key` accepts it, checksum included (`keyformat.keys_in`, the rule GitHub's secret
scanning alerts are matched by too), so a look-alike (`archie_YOUR_API_KEY`, a placeholder, a key with a typo, a
key cut short) is never reported, and a random string of the right shape passes 1 time in 2**32. Each key
prints one line, `path:line: <start>`, where start (prefix, project, environment, key_id) is the public part
of the key: no character of its secret or checksum is ever printed. Exit status: 1 when a key was found, 0
when none was, 2 for a usage error. It reads files and nothing else: no AWS, no network, stdlib only.

Directories are walked as git sees them when they are in a work tree (`git ls-files`: tracked and untracked
files, `.gitignore` respected), otherwise on disk without `.git/`. Symbolic links met while walking are not
followed: a link's target inside the tree is scanned under its own name, and one outside is not ours to read.
Binary files (a NUL byte in the first 8 KiB, git's own test) are skipped, and so are files over
`MAX_FILE_BYTES`, each named on stderr.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from archie_keys.domain.keyformat import keys_in

# Keys live in sources and configuration. A file above this (a bundle, a dump, a vendored lock file) is
# skipped and named on stderr, so a hook never spends seconds on it unseen.
MAX_FILE_BYTES = 4 * 1024 * 1024
# git's test for a binary file: a NUL byte near the start.
BINARY_SNIFF_BYTES = 8 * 1024


@dataclass(frozen=True, order=True)
class Finding:
    """One key found: where it is and its public start. It holds nothing of the secret, so nothing that
    prints or logs a Finding can leak one."""

    path: str
    line: int
    column: int
    start: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.start}"


def find_keys(text: str) -> Iterator[tuple[int, int, str]]:
    """(line, column, start) of every key in text, both 1-based, in order: `keyformat.keys_in` on each line
    (a key holds no newline), the rule GitHub's secret scanning alerts are matched by too."""
    for number, line in enumerate(text.split("\n"), start=1):
        for offset, _, parsed in keys_in(line):
            yield number, offset + 1, parsed.start


def _git_listing(directory: str) -> list[str] | None:
    """What git would commit from directory: tracked and untracked files, ignored ones left out, relative to
    directory. None when directory is not in a git work tree (or git is not installed)."""
    git = shutil.which("git")
    if git is None:
        return None
    listed = subprocess.run(  # noqa: S603 - git itself, with fixed arguments and the user's own directory
        [git, "-C", directory, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        return None
    # dict.fromkeys: an unmerged path is listed once per stage.
    return list(dict.fromkeys(os.fsdecode(name) for name in listed.stdout.split(b"\0") if name))


def _files_in(directory: str, visited: set[str]) -> Iterator[str]:
    real = os.path.realpath(directory)
    if real in visited:
        return
    visited.add(real)
    listing = _git_listing(directory)
    if listing is None:
        yield from _files_on_disk(directory, visited)
        return
    for name in listing:
        path = os.path.join(directory, name.rstrip("/"))
        if os.path.islink(path):
            continue
        if os.path.isdir(path):  # a submodule or a nested repository: git lists it whole; it has its own rules
            yield from _files_in(path, visited)
        elif os.path.exists(path):  # a tracked file deleted from the work tree is not there to read
            yield path


def _files_on_disk(directory: str, visited: set[str]) -> Iterator[str]:
    for parent, subdirectories, names in os.walk(directory):  # never enters a linked directory
        entered = []
        for name in sorted(subdirectories):
            path = os.path.join(parent, name)
            if name == ".git" or os.path.islink(path):
                continue
            if os.path.exists(os.path.join(path, ".git")):
                yield from _files_in(path, visited)  # a repository inside a plain directory: as git sees it
            else:
                entered.append(name)
        subdirectories[:] = entered
        for name in sorted(names):
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                yield path


def files_to_scan(paths: list[str]) -> list[str]:
    """Every file under paths, each once, named as given relative to the working directory."""
    files: dict[str, None] = {}
    visited: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            files.update(dict.fromkeys(os.path.normpath(found) for found in _files_in(path, visited)))
        else:
            files[os.path.normpath(path)] = None
    return list(files)


def scan_file(path: str) -> list[Finding]:
    """The keys in one file; none for a binary file. Raises OSError when it cannot be read, ValueError when it
    is not a regular file or is larger than MAX_FILE_BYTES."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError("not a regular file")  # a FIFO would block the scan forever
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return []
    text = data.decode("utf-8", errors="ignore")
    return [Finding(path, line, column, start) for line, column, start in find_keys(text)]


def main(paths: list[str]) -> int:
    missing = [path for path in paths if not os.path.lexists(path)]
    if not paths or missing:
        for path in missing:
            print(f"archie-keys scan: {path}: no such file or directory", file=sys.stderr)
        if not paths:
            print("archie-keys scan: give at least one PATH", file=sys.stderr)
        return 2
    findings: list[Finding] = []
    for path in files_to_scan(paths):
        try:
            findings.extend(scan_file(path))
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            print(f"archie-keys scan: {path}: skipped, {reason}", file=sys.stderr)
    for finding in sorted(findings):
        print(finding)
    if not findings:
        return 0
    print(
        f"archie-keys scan: {len(findings)} Archie key(s) found (shown by their public start, key_id last). "
        "Take them out of these files; revoke (DELETE .../keys/<key_id>) or roll any that was committed or shared.",
        file=sys.stderr,
    )
    return 1
