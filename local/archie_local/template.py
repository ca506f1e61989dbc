"""Read template.yaml: the one definition of tables, secrets, functions, APIs and routes.

The local stack and the tests never describe a resource themselves; they ask this module, which parses the
SAM template (CloudFormation short-form tags included) and resolves the intrinsic functions it uses against
local physical names.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

# The region this process emulates. One local stack is one region; `make run REGIONS=a,b` runs one process
# per region (archie_local.regions), each told its region here before anything imports this module's names.
REGION = os.environ.get("ARCHIE_LOCAL_REGION") or "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "archie-local"

# Parameters the local stack (make run, every test tier) sets against the template's defaults, said here once:
# it serves the sample protected API (off by default on AWS: production needs no demo API), and it does not
# run the synthetic canary (the local scheduler runs every recurring schedule every 0.25 s, and the canary
# probes a deployed API Gateway). Resources whose Condition is then false are not provisioned or served.
# The local stack runs one authorizer version, the current one: it has recorded every authorization (the
# witness of a guarded delete) since the stack started.
LOCAL_PARAMETERS = {"DeploySampleApi": "true", "DeployCanary": "false", "AuthorizerWitnessSince": "0"}


# libyaml's parser where PyYAML was built with it (the wheels are): the pure-Python one took about 0.6 s per
# parse of this template, and every test that provisions the stack parses it.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]  # PyYAML ships no annotations
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The parsed template, a copy the caller may change. Parsed once per version of the file (its path, size
    and modification time), so an edit is seen by the next call."""
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    with path.open() as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return template


class _NoValue:
    """AWS::NoValue: the property it stands for is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


def _as_list(value: Any) -> list[Any]:
    """A list a function takes: a CommaDelimitedList parameter is kept here as its text, which a Ref to it in
    CloudFormation gives as the list of its items."""
    return value.split(",") if isinstance(value, str) else list(value)


@dataclass
class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub / Fn::If (and the conditions it names) / Fn::Join / Fn::Split
    against local names. `refs` and `attributes` are filled in as resources are provisioned (a table's Ref is
    its local name, a secret's Ref its ARN, ...); `conditions` are the template's, evaluated against the
    parameters (`evaluate_conditions`)."""

    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def pseudo(self, name: str) -> str:
        return {
            "AWS::StackName": STACK_NAME,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"template refers to {name}, which the local stack has not provisioned")

    def get_att(self, name: str, attribute: str) -> str:
        if (name, attribute) in self.attributes:
            return self.attributes[(name, attribute)]
        raise KeyError(f"template asks for {name}.{attribute}, unknown locally")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"}:
                return self.ref(value["Ref"])
            if set(value) == {"Fn::GetAtt"}:
                name, attribute = value["Fn::GetAtt"]
                return self.get_att(name, attribute)
            if set(value) == {"Fn::Sub"}:
                return self.sub(value["Fn::Sub"])
            if set(value) == {"Fn::If"}:
                condition, when_true, when_false = value["Fn::If"]
                return self.resolve(when_true if self.condition(condition) else when_false)
            if set(value) == {"Fn::Join"}:
                separator, items = value["Fn::Join"]
                return str(separator).join(str(item) for item in _as_list(self.resolve(items)))
            if set(value) == {"Fn::Select"}:
                index, items = value["Fn::Select"]
                return _as_list(self.resolve(items))[int(self.resolve(index))]
            if set(value) == {"Fn::Split"}:
                separator, text = value["Fn::Split"]
                return str(self.resolve(text)).split(str(separator))
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if isinstance(value, (int, float, bool)):
            return str(value).lower() if isinstance(value, bool) else str(value)
        return value

    def chosen(self, value: Any) -> Any:
        """`value` with a top-level Fn::If decided and nothing else resolved (AWS::NoValue: None)."""
        while isinstance(value, dict) and set(value) == {"Fn::If"}:
            condition, when_true, when_false = value["Fn::If"]
            value = when_true if self.condition(condition) else when_false
        return None if value == {"Ref": "AWS::NoValue"} else value

    def active(self, spec: dict[str, Any]) -> bool:
        """Whether CloudFormation creates this resource: it has no Condition, or its Condition holds."""
        return "Condition" not in spec or self.condition(str(spec["Condition"]))

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise KeyError(f"template names condition {name}, which it does not define")
        return self.conditions[name]

    def evaluate(self, expression: Any) -> bool:
        """A condition's value: Fn::Equals, Fn::Not, Fn::And, Fn::Or and named conditions."""
        if isinstance(expression, dict) and len(expression) == 1:
            (function, arguments), *_ = expression.items()
            if function == "Fn::Equals":
                left, right = (self.resolve(a) for a in arguments)
                return bool(str(left) == str(right))
            if function == "Fn::Not":
                return not self.evaluate(arguments[0])
            if function == "Fn::And":
                return all(self.evaluate(a) for a in arguments)
            if function == "Fn::Or":
                return any(self.evaluate(a) for a in arguments)
            if function == "Condition":
                return self.condition(arguments)
        raise ValueError(f"condition not evaluated locally: {expression}")

    def sub(self, argument: str | list[Any]) -> str:
        """Fn::Sub, in both its forms: a string, or [string, {name: value}] (the names resolved first)."""
        variables: dict[str, str] = {}
        text = argument
        if isinstance(argument, list):
            text, given = argument
            variables = {name: str(self.resolve(value)) for name, value in given.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, str(text))


def evaluate_conditions(template: dict[str, Any], resolver: Resolver) -> dict[str, bool]:
    """The template's Conditions against the resolver's parameters (in order: a condition may name an earlier
    one)."""
    for name, expression in template.get("Conditions", {}).items():
        resolver.conditions[name] = resolver.evaluate(expression)
    return resolver.conditions


def parameter_defaults(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    values.update(overrides or {})
    return values


def resources_of_type(
    template: dict[str, Any], resource_type: str, resolver: Resolver | None = None
) -> dict[str, dict[str, Any]]:
    """The template's resources of one type; with a resolver, only those its conditions create."""
    return {
        name: spec
        for name, spec in template["Resources"].items()
        if spec["Type"] == resource_type and (resolver is None or resolver.active(spec))
    }


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any]
    events: dict[str, Any]
    memory_mb: int
    timeout_s: int
    # EventInvokeConfig.DestinationConfig.OnFailure.Destination, unresolved: where an asynchronous invocation
    # that failed every attempt goes (see archie_local.lambdas).
    on_failure: Any = None


def functions(template: dict[str, Any], resolver: Resolver | None = None) -> dict[str, FunctionSpec]:
    """Every function of the template; with a resolver, only those its conditions create."""
    globals_fn = template.get("Globals", {}).get("Function", {})
    global_env = globals_fn.get("Environment", {}).get("Variables", {})
    specs = {}
    for name, spec in resources_of_type(template, "AWS::Serverless::Function", resolver).items():
        props = spec["Properties"]
        specs[name] = FunctionSpec(
            logical_id=name,
            code_uri=REPO_ROOT / props["CodeUri"],
            handler=props["Handler"],
            environment={**global_env, **props.get("Environment", {}).get("Variables", {})},
            events=props.get("Events", {}),
            memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            timeout_s=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            on_failure=(props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})).get(
                "Destination"
            ),
        )
    return specs
