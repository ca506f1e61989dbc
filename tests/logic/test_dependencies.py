"""The layer installs the full resolved dependency set, pinned: layers/shared/requirements.txt names every
package the layer's code needs at run time, transitively, each at the version constraints.txt (and so CI)
has - so `sam build` resolves nothing by itself and a fresh clone deploys what was tested."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement

from archie_local.template import REPO_ROOT

# The Lambda runtime the layer is built for (template.yaml: python3.13 on arm64).
LAMBDA = {
    **default_environment(),
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "extra": "",
}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(path: str) -> dict[str, str]:
    found = {}
    for line in (REPO_ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, version = re.split(r"\[[^]]*\]?==|==", line)
            found[normal(name)] = version.strip()
    return found


def test_every_layer_dependency_is_pinned_to_the_version_ci_tests() -> None:
    layer, constraints = pinned("layers/shared/requirements.txt"), pinned("constraints.txt")
    assert {name: constraints.get(name) for name in layer} == layer


def test_the_layer_requirements_are_closed_under_their_runtime_dependencies() -> None:
    layer = pinned("layers/shared/requirements.txt")
    missing = set()
    for name in layer:
        for requirement in metadata.requires(name) or []:
            parsed = Requirement(requirement)
            needed = parsed.marker is None or parsed.marker.evaluate(LAMBDA)
            if needed and normal(parsed.name) not in layer:
                missing.add(f"{parsed.name} (needed by {name})")
    assert missing == set()


def test_the_installed_versions_are_the_pinned_ones() -> None:
    layer = pinned("layers/shared/requirements.txt")
    assert {name: metadata.version(name) for name in layer} == layer


def test_every_package_the_layer_code_imports_is_in_the_layer() -> None:
    """Imports anywhere in the package, those inside functions too (the Lambda runtime has only the standard
    library and boto3 besides the layer): a lazy import of a package the layer lacks fails only on AWS."""
    import ast
    import sys

    distributions = metadata.packages_distributions()
    layer = pinned("layers/shared/requirements.txt")
    missing = set()
    for path in (REPO_ROOT / "layers/shared/archie_keys").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "archie_keys":
                    continue
                if not any(normal(d) in layer for d in distributions.get(top, [top])):
                    missing.add(f"{top} ({path.name})")
    assert missing == set()
