"""The README's examples work as a reader runs them: `make run` started fresh (on free ports), its export lines
pasted into a shell, then every ```sh block of the README and the typed client of the API guide, in order, in
that one shell. An HTTP error fails the example that made it (curl runs with --fail-with-body), as does any
failing command (set -euo pipefail)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.doc_examples import ROOT, Example, examples, in_section
from tests.integration.local_run import LocalRun, local_run

MARK = ">>> example "
# An HTTP error fails the example (an example's own -f already does: curl refuses both); every request is
# bounded, and so is the whole run (the typed client's generation takes most of it).
PREAMBLE = """set -euo pipefail
curl() {
  local argument
  for argument in "$@"; do
    case "$argument" in --fail | -[A-Za-z]*f*) command curl --max-time 30 "$@"; return; esac
  done
  command curl --fail-with-body --max-time 30 "$@"
}
"""
RUN_SECONDS = 300


def script(run: LocalRun, steps: list[Example]) -> str:
    """One shell script: the pasted export lines, then each example behind a marker naming it."""
    parts = [PREAMBLE, *run.export_lines()]
    for step in steps:
        parts.append(f"echo '{MARK}{step}' >&2")
        if step.language == "python":
            # The shell block before it left the shell in the folder the example runs in.
            parts.append(f"\"$EXAMPLE_PYTHON\" - <<'END_OF_EXAMPLE'\n{step.code}END_OF_EXAMPLE")
        else:
            parts.append(step.code)
    return "\n".join(parts) + "\n"


def run_in_one_shell(run: LocalRun, steps: list[Example], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "examples.sh"
    path.write_text(script(run, steps))
    # Nothing of this process's own settings leaks in: what the examples use comes from the pasted lines.
    environment = {k: v for k, v in os.environ.items() if k not in ("API", "SAMPLE", "KEY", "AUTH", "VIRTUAL_ENV")}
    environment.update({"TMPDIR": str(tmp_path), "EXAMPLE_PYTHON": sys.executable})
    return subprocess.run(
        ["bash", str(path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,  # the typed client's `python` prompt reads nothing and returns
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        env=environment,
        check=False,
    )


def failed_example(done: subprocess.CompletedProcess[str]) -> str:
    started = re.findall(rf"^{MARK}(.+)$", done.stderr, re.M)
    return started[-1] if started else "before the first example"


def test_the_readmes_examples_and_its_typed_client_run_in_order_against_a_fresh_make_run(tmp_path) -> None:
    steps = [*examples(ROOT / "README.md", ("sh",)), *in_section(ROOT / "docs" / "api.md", "A typed client")]
    assert [step.language for step in steps[-2:]] == ["sh", "python"]  # the typed client: generate, then use it
    with local_run(tmp_path) as run:
        key = run.admin_key()
        done = run_in_one_shell(run, steps, tmp_path)
        assert done.returncode == 0, (
            f"{failed_example(done)} failed ({done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}"
        )
        assert done.stderr.count(MARK) == len(steps)
        whoami, _ = json.JSONDecoder().raw_decode(done.stdout)  # the first example's answer
        assert whoami["roles"] == ["admin"]
        assert re.fullmatch(r"[0-9A-Za-z]{12}", done.stdout.splitlines()[-1])  # the typed client's new key_id
        assert key not in done.stdout  # no example echoes the admin key

        # The runner fails on a failing example, and says which: a route that does not exist is an HTTP error.
        broken = Example(ROOT / "README.md", 0, "sh", 'curl -s "$API/no-such-route" -H "Authorization: Bearer $KEY"\n')
        refused = run_in_one_shell(run, [steps[0], broken], tmp_path)
        assert refused.returncode != 0 and failed_example(refused) == str(broken)
