"""The package's layers point one way (edge -> app -> aws -> domain), the domain does no I/O, there are no
import cycles, and no module grows past 300 lines but the few named below, each until it is split."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "shared" / "archie_keys"
OTHER_CODE = [ROOT / "local" / "archie_local", ROOT / "tools" / "archie_tools", ROOT / "functions"]
LAYERS = ["domain", "aws", "app", "edge"]  # lowest first: a module may import its own layer or lower ones
# The domain is pure: nothing that reaches the network or the clock of another machine.
DOMAIN_FORBIDDEN = ("boto3", "botocore", "aws_lambda_powertools", "urllib", "http", "socket", "archie_local")
MAX_LINES = 300


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("archie_keys", *parts)).removesuffix(".__init__")
        found[name] = path
    return found


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize("module", sorted(modules()))
def test_nothing_imports_a_higher_layer(module: str) -> None:
    own = layer_of(module)
    if own is None:
        return  # the package's entry points (cli, __main__) sit above every layer
    upward = [name for name in imports_of(modules()[module]) if (layer_of(name) or -1) > own]
    assert upward == [], f"{module} imports {upward}"


# app/ modules that still import aws/ (each a debt with its reason; the list only shrinks). Empty: the audit
# pipeline, the webhook delivery records and services.py reach aws/ through app.audit_ports,
# app.event_ports and app.trust_ports now. A module added here needs its reason beside it.
APP_STILL_ON_AWS: set[str] = set()


def test_use_cases_reach_aws_only_through_ports() -> None:
    """app/ declares what it needs (app.ports) and aws/ implements it: no app module imports aws/, so the logic
    tier runs the use cases on fakes (an import under TYPE_CHECKING counts too: a use case typed by an aws/
    class would accept nothing else)."""
    on_aws = {
        module
        for module, path in modules().items()
        if layer_of(module) == 2 and any(layer_of(name) == 1 for name in imports_of(path))
    }
    assert on_aws - APP_STILL_ON_AWS == set(), "use app.ports (or domain/) instead of aws/"
    assert APP_STILL_ON_AWS - on_aws == set(), "no longer on aws/: remove it from APP_STILL_ON_AWS"


def test_the_domain_does_no_io() -> None:
    for module, path in modules().items():
        if layer_of(module) == 0:
            bad = [name for name in imports_of(path) if name.split(".")[0] in DOMAIN_FORBIDDEN]
            assert bad == [], f"{module} imports {bad}"


def test_there_are_no_import_cycles() -> None:
    graph = {
        module: {name for name in imports_of(path) if name in modules() and name != module}
        for module, path in modules().items()
    }
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*trail, module])
        visiting.add(module)
        for imported in graph[module]:
            visit(imported, [*trail, module])
        visiting.discard(module)
        done.add(module)

    for module in graph:
        visit(module, [])


# The modules allowed over MAX_LINES, each at most its listed size; a module split below MAX_LINES must leave
# this list (so it can only shrink). Empty since issue 19's splits: every module, a new one too, is held to
# MAX_LINES. A docstring saying why a module is long used to pass this check; any module could say it, so
# nothing was held.
LONG_MODULES: dict[str, int] = {}


def code_files() -> list[Path]:
    return [*modules().values(), *(p for folder in OTHER_CODE for p in sorted(folder.rglob("*.py")))]


def test_no_module_is_longer_than_300_lines_but_the_listed_ones_which_only_shrink() -> None:
    too_long = {}
    for path in code_files():
        name = str(path.relative_to(ROOT))
        lines = len(path.read_text().splitlines())
        if lines > LONG_MODULES.get(name, MAX_LINES):
            too_long[name] = lines
    assert too_long == {}, f"longer than {MAX_LINES} lines (or than its listed size): {too_long}"


def test_every_listed_long_module_is_still_long_and_still_there() -> None:
    lengths = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in code_files()}
    stale = {name: lengths.get(name) for name in LONG_MODULES if lengths.get(name, 0) <= MAX_LINES}
    assert stale == {}, f"split or gone: take these out of LONG_MODULES: {stale}"
