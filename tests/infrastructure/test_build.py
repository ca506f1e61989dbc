"""`make build` builds as AWS builds: the shared layer holds exactly the pinned dependencies, compiled for the
functions' architecture (arm64) and runtime (python3.13). The Makefile runs `sam build` before this tier when
the machine has a python3.13 and says where (ARCHIE_BUILD_DIR). Without one, these tests fail in CI (CI=true:
a build that was never checked is not a pass) and are skipped elsewhere, saying why."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from archie_local.template import REPO_ROOT, load_template

BUILD_DIR = os.environ.get("ARCHIE_BUILD_DIR", "")
NO_BUILD = "no python3.13 on this machine: sam build cannot target the python3.13 runtime without Docker"

ELF_MACHINE_AARCH64 = 0xB7


def layer_root() -> Path:
    """The built layer; without a build, a failure in CI and a skip elsewhere."""
    if not BUILD_DIR:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must check the built layer, and {NO_BUILD}")
        pytest.skip(NO_BUILD)
    return REPO_ROOT / BUILD_DIR / "SharedLayer" / "python"


def pins() -> dict[str, str]:
    found = {}
    for line in (REPO_ROOT / "layers/shared/requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return found


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_the_template_builds_its_layer_for_arm64() -> None:
    layer = load_template()["Resources"]["SharedLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_every_binary_in_the_built_layer_is_aarch64_and_for_python_3_13() -> None:
    binaries = sorted(layer_root().rglob("*.so"))
    names = {path.name for path in binaries}
    assert any(name.startswith("_ffi") for name in names), names  # argon2's bindings
    assert any("pydantic_core" in name for name in names), names
    for path in binaries:
        assert elf_machine(path) == ELF_MACHINE_AARCH64, path
        version = re.search(r"cpython-(\d+)", path.name)
        assert version is None or version.group(1) == "313", path


def test_the_built_layer_holds_exactly_the_pinned_versions_and_the_package() -> None:
    installed = {}
    for info in layer_root().glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        installed[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert installed == pins()
    assert (layer_root() / "archie_keys" / "edge" / "authorizer.py").is_file()
