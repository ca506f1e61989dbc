"""`make mutate`: mutmut over the modules that decide who gets in, and a kill rate per module.

mutmut 3 puts only `mutants/`, `mutants/src` and `mutants/source` on sys.path and names modules after their
path, so it cannot mutate `layers/shared/archie_keys` in place. This builds a staging folder from scratch
(build/mutate, git-ignored) with the package copied to `src/archie_keys`, the tests and events/ linked, and a
pyproject.toml holding the mutmut settings below and a copy of the repository's pytest settings; runs
`mutmut run` there; then reads mutmut's results and prints killed/total per module and overall. mutmut's
progress goes to stderr; stdout carries the report, and its last line is one JSON object.

The copied package shadows the editable install of archie_keys: a sys.path entry wins over the editable
finder, which sits at the end of sys.meta_path. mutmut proves it on every run: its forced-fail step makes
every mutated function raise and stops when the selected tests still pass (they would if they imported the
original code). The rest of the stack (archie_local, the functions/ handlers, template.yaml) is read from the
repository, unmutated, exactly as the unit tests read it.

Mutants listed as equivalent in docs/mutation.md (a name in backticks) are left out of the denominator of
the second figure; a listed mutant that is no longer a survivor, or a survivor not listed, is reported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "mutate"
PACKAGE = ROOT / "layers" / "shared" / "archie_keys"
EQUIVALENTS_DOC = ROOT / "docs" / "mutation.md"

# The modules that decide: what a key looks like, how its secret is checked, what it may do and grant, the
# policy API Gateway enforces, and what an Idempotency-Key may replay.
DECIDING_MODULES = (
    "domain/keyformat.py",
    "domain/hashing.py",
    "app/verification.py",
    "app/verified_key.py",
    "domain/grants.py",
    "domain/escalation.py",
    "domain/identity.py",
    "domain/policy.py",
    "edge/authorizer.py",
    "app/idempotent.py",
)

# Tests that exercise those modules (each mutant runs only the ones that reach the mutated function, fastest
# first, stopping at the first failure). They are ordinary tests of the logic and component tiers and run in
# `make test` too. Only pure tests and tests sharing one stack per module (tests/component/decision_stack.py):
# a test that provisions its own stack (marked own_stack by tests/conftest.py) costs seconds per mutant that
# survives the tests before it, so `-m "not own_stack"` leaves those of these files out.
TESTS = (
    "tests/logic/test_keyformat.py",
    "tests/logic/test_permissions.py",
    "tests/logic/test_hashing.py",
    # The use cases on in-memory fakes: create, roll, revoke, idempotent replay, delegated administration (the
    # idempotency scopes and the escalation checks reach the deciding modules here, in milliseconds).
    "tests/logic/test_keys.py",
    "tests/logic/test_changes.py",
    "tests/logic/test_delegated_administration.py",
    "tests/logic/test_records.py",
    # The authorizer's decisions on fakes: a key's (Deny contexts, headers, usage plans) and a person's token
    # (the sign-in use case, the issuer in-process).
    "tests/logic/test_authorizer.py",
    "tests/logic/test_person_signin.py",
    # Mass revocation on the fakes: the rule a warm verifier re-reads and refuses by (app.verification._in_force),
    # and a revocation retried with its Idempotency-Key (the completion that stores an answer holding no key).
    "tests/logic/test_mass_revocation.py",
    # Per-key limits on the fakes: the chain a verified key is metered on (app.verification._build).
    "tests/logic/test_key_limits.py",
    "tests/component/test_verifier.py",
    "tests/component/test_authorizer.py",
    "tests/component/test_idempotency.py",
    "tests/component/test_environment_isolation.py",
    "tests/component/test_pepper_rotation.py",
    # Keys of the first format (untagged), accepted only where their environment still accepts them.
    "tests/component/test_key_tags.py",
)
SELECTION = ("-m", "not own_stack")


def chosen_modules(requested: str) -> tuple[str, ...]:
    """`make mutate MODULES=edge/authorizer.py,domain/keyformat.py`: a few of the deciding modules, to work on
    their survivors in minutes; empty means all of them. A name that is not a deciding module is refused (a typo
    would otherwise mutate nothing and report 100%)."""
    names = tuple(name.strip() for name in requested.split(",") if name.strip())
    unknown = [name for name in names if name not in DECIDING_MODULES]
    if unknown:
        known = ", ".join(DECIDING_MODULES)
        raise SystemExit(f"MODULES: not a deciding module: {', '.join(unknown)} (one of: {known})")
    return names or DECIDING_MODULES


MODULES = chosen_modules(os.environ.get("MUTATE_MODULES", ""))

MUTMUT_SETTINGS: dict[str, Any] = {
    "source_paths": ["src/archie_keys"],
    "only_mutate": [f"src/archie_keys/{module}" for module in MODULES],
    "pytest_add_cli_args": ["-p", "no:cacheprovider"],
    "pytest_add_cli_args_test_selection": [*SELECTION, *TESTS],
    # Read by tests relative to their own file (the sample events); mutmut copies tests/ itself.
    "also_copy": ["events"],
    # The staging folder is rebuilt for every run: nothing to compare with an earlier one.
    "use_git_change_detection": False,
}

DETECTED = {"killed", "timeout"}  # a mutant that hangs fails the suite too (pytest-timeout)
MUTANT_NAME = re.compile(r"`(archie_keys\.[\w.]+__mutmut_\d+)`")


def toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and lists of them are valid TOML values.
    return json.dumps(value)


def stage() -> None:
    """A fresh staging folder: the package copied, the tests linked, mutmut's and pytest's settings."""
    shutil.rmtree(STAGE, ignore_errors=True)
    (STAGE / "src").mkdir(parents=True)
    shutil.copytree(PACKAGE, STAGE / "src" / "archie_keys", ignore=shutil.ignore_patterns("__pycache__"))
    for linked in ("tests", *MUTMUT_SETTINGS["also_copy"]):
        (STAGE / linked).symlink_to(ROOT / linked, target_is_directory=True)
    pytest_settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    lines = ["# Written by tools/archie_tools/mutate.py for one `make mutate` run.", "[tool.mutmut]"]
    lines += [f"{name} = {toml_value(value)}" for name, value in MUTMUT_SETTINGS.items()]
    lines += ["", "[tool.pytest.ini_options]"]
    lines += [f"{name} = {toml_value(value)}" for name, value in pytest_settings.items()]
    (STAGE / "pyproject.toml").write_text("\n".join(lines) + "\n")


def run_mutmut() -> None:
    completed = subprocess.run([sys.executable, "-m", "mutmut", "run"], cwd=STAGE, stdout=sys.stderr, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"mutmut run failed with exit code {completed.returncode}")


def results() -> dict[str, dict[str, str]]:
    """Mutant name -> status, per module, from mutmut's own result files."""
    from mutmut.stats import status_by_exit_code

    by_module: dict[str, dict[str, str]] = {}
    for module in MODULES:
        meta = STAGE / "mutants" / "src" / "archie_keys" / (module + ".meta")
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        by_module[module] = {name: status_by_exit_code[code] for name, code in sorted(exit_codes.items())}
    return by_module


def listed_equivalents() -> set[str]:
    return set(MUTANT_NAME.findall(EQUIVALENTS_DOC.read_text())) if EQUIVALENTS_DOC.exists() else set()


def rate(detected: int, total: int) -> float:
    return round(100.0 * detected / total, 1) if total else 100.0


def figures(killed: int, total: int, equivalent: int, not_checked: int) -> dict[str, Any]:
    return {
        "killed": killed,
        "total": total,
        "equivalent": equivalent,
        "not_checked": not_checked,  # an interrupted run: counted as not killed
        "rate": rate(killed, total),
        "rate_without_equivalent": rate(killed, total - equivalent),
    }


def report(by_module: dict[str, dict[str, str]], seconds: float) -> dict[str, Any]:
    equivalents = listed_equivalents()
    modules: dict[str, dict[str, Any]] = {}
    survivors: list[str] = []
    for module, statuses in by_module.items():
        undetected = [name for name, status in statuses.items() if status not in DETECTED]
        survivors += [
            f"{name}: {statuses[name]}"
            for name in undetected
            if name not in equivalents and statuses[name] != "not checked"
        ]
        modules[module] = figures(
            len(statuses) - len(undetected),
            len(statuses),
            sum(name in equivalents and statuses[name] != "not checked" for name in undetected),
            sum(status == "not checked" for status in statuses.values()),
        )
    overall = figures(*(sum(m[k] for m in modules.values()) for k in ("killed", "total", "equivalent", "not_checked")))
    print(f"{'module':<24} {'killed':>7} {'total':>6} {'rate':>7} {'equiv.':>7} {'rate w/o equiv.':>16} {'unrun':>6}")
    for name, row in [*modules.items(), ("overall", overall)]:
        print(
            f"{name:<24} {row['killed']:>7} {row['total']:>6} {row['rate']:>6}% {row['equivalent']:>7} "
            f"{row['rate_without_equivalent']:>15}% {row['not_checked']:>6}"
        )
    all_statuses = {name: status for statuses in by_module.values() for name, status in statuses.items()}
    mutated = tuple("archie_keys." + module.removesuffix(".py").replace("/", ".") + "." for module in by_module)
    stale = sorted(
        name
        for name in equivalents
        if name.startswith(mutated) and (all_statuses.get(name) in DETECTED or name not in all_statuses)
    )
    if survivors:
        print(f"\nnot killed and not listed as equivalent in docs/mutation.md ({len(survivors)}):")
        print("\n".join(f"  {line}" for line in survivors))
    if stale:
        print(f"\nlisted as equivalent in docs/mutation.md but killed or gone in this run ({len(stale)}):")
        print("\n".join(f"  {name}" for name in stale))
    print(f"\n{seconds / 60:.1f} min; see one mutant with: cd build/mutate && ../../.venv/bin/mutmut show <name>")
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "seconds": round(seconds),
        "modules": modules,
        "overall": overall,
        "unexplained_survivors": len(survivors),
        "stale_equivalents": len(stale),
    }


def main() -> None:
    started = time.monotonic()
    if "--report-only" not in sys.argv:
        stage()
        run_mutmut()
    summary = report(results(), time.monotonic() - started)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
