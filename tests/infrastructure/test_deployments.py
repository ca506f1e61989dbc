"""Each shape of stack (tests/infrastructure/deployments.py: one region, the primary of two, the second of two)
names only what it creates: a Ref, GetAtt, Sub variable or DependsOn left pointing at a resource its conditions
leave out fails that shape's deploy (the second region creates no keys table and no secrets of its own)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.infrastructure.deployments import DEPLOYMENTS, deployed, with_parameters


def references(value: Any) -> Iterator[str]:
    """The logical names a template value refers to (Ref, Fn::GetAtt, the ${...} of Fn::Sub that its own
    variables do not define; ${!literal} is text)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            yield str(value["Ref"])
        elif set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            yield str(target[0] if isinstance(target, list) else target.split(".")[0])
        elif set(value) == {"Fn::Sub"}:
            text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
            for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                if name not in variables:
                    yield name.split(".")[0] if not name.startswith("AWS::") else name
            yield from references(variables)
        else:
            for item in value.values():
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def test_every_reference_in_each_shape_names_a_resource_it_creates_or_a_parameter(deployment) -> None:
    known = set(deployment["Resources"]) | set(deployment.get("Parameters", {}))
    dangling = set()
    for section in ("Resources", "Outputs"):
        for name, spec in deployment.get(section, {}).items():
            depends = spec.get("DependsOn", [])
            named = {*references(spec), *([depends] if isinstance(depends, str) else depends)}
            dangling |= {(name, ref) for ref in named if not ref.startswith("AWS::") and ref not in known}
    assert dangling == set()


def test_the_check_finds_a_reference_to_what_a_shape_leaves_out(cloudformation) -> None:
    second = deployed(cloudformation, "second of two")
    assert "PepperSecret" not in second["Resources"] and "KeysTable" not in second["Resources"]
    assert set(references({"Fn::Sub": ["${PepperSecret}/${Name}", {"Name": {"Ref": "KeysTable"}}]})) == {
        "PepperSecret",
        "KeysTable",
    }
    assert set(references({"Fn::Sub": "${!Literal}-${AWS::Region}-${Queue.Arn}"})) == {"AWS::Region", "Queue"}


def test_one_keys_table_in_each_shape_and_every_function_names_it_alike(shape, deployment) -> None:
    resources = deployment["Resources"]
    created = {name for name in ("KeysTable", "KeysGlobalTable") if name in resources}
    # The second region's replica is created by the primary's global table, not by its own stack.
    assert (
        created == {"one region": {"KeysTable"}, "primary of two": {"KeysGlobalTable"}, "second of two": set()}[shape]
    )
    tables = {
        str(spec["Properties"]["Environment"]["Variables"].get("KEYS_TABLE"))
        for spec in resources.values()
        if spec["Type"] == "AWS::Lambda::Function" and "Environment" in spec.get("Properties", {})
    }
    assert len(tables) == 1


def test_every_function_of_a_stack_of_several_regions_names_every_region(shape, deployment, cloudformation) -> None:
    """`GET /audit`, a key's usage and a guarded delete read every region's audit (aws.regional_audit) only when
    ARCHIE_REGIONS names them: a stack of several regions gives each function the whole list, this region in it;
    a stack of one region sets nothing, and stays as it was."""
    regions = [name for name in DEPLOYMENTS[shape].get("Regions", "").split(",") if name]
    functions = {
        name: spec["Properties"].get("Environment", {}).get("Variables", {})
        for name, spec in deployment["Resources"].items()
        if spec["Type"] == "AWS::Lambda::Function"
    }
    assert functions
    named = {
        name: with_parameters(cloudformation, shape, variables["ARCHIE_REGIONS"]).split(",")
        for name, variables in functions.items()
        if "ARCHIE_REGIONS" in variables
    }
    if not regions:
        assert named == {}
    else:
        assert named == dict.fromkeys(functions, regions)
