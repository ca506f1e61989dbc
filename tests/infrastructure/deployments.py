"""The template as CloudFormation deploys it in each shape it has: one region (Regions empty, the default), the
primary region of several (it creates the global table and the secrets) and any other region (it reads their
replicas there). A deployment is the translated template with its Conditions evaluated for that shape: every
Fn::If decided, AWS::NoValue left out, and the resources and outputs whose Condition is false removed. The
infrastructure checks read a deployment instead of guessing at the conditional shapes, so each check holds
in every shape, not only in the one a test happened to be written for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archie_local.template import Resolver, evaluate_conditions, parameter_defaults

REGION = "eu-west-1"  # as tests/infrastructure/conftest.py translates the template
ACCOUNT = "123456789012"
OTHER = "us-east-1"
# What each shape's stack is given (docs/regions.md, Deploying two regions).
DEPLOYMENTS: dict[str, dict[str, str]] = {
    "one region": {},
    "primary of two": {"Regions": f"{REGION},{OTHER}"},
    "second of two": {
        "Regions": f"{OTHER},{REGION}",
        "PrimaryPepperSecretArn": f"arn:aws:secretsmanager:{OTHER}:{ACCOUNT}:secret:archie-keys-pepper-AbCdEf",
        "PrimaryKeyTagSecretArn": f"arn:aws:secretsmanager:{OTHER}:{ACCOUNT}:secret:archie-keys-tags-AbCdEf",
        "KeysTableStreamArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/archie-keys-keys/stream/2027-01-01T00:00:00.000",
    },
}
_NO_VALUE = {"Ref": "AWS::NoValue"}


@dataclass
class _RegionResolver(Resolver):
    """Conditions evaluated in REGION (the local stack's Resolver answers its own region)."""

    def pseudo(self, name: str) -> str:
        return REGION if name == "AWS::Region" else super().pseudo(name)


def conditions(template: dict[str, Any], shape: str) -> dict[str, bool]:
    resolver = _RegionResolver(parameter_defaults(template, DEPLOYMENTS[shape]))
    return dict(evaluate_conditions(template, resolver))


def with_parameters(template: dict[str, Any], shape: str, value: Any) -> Any:
    """`value` (decided: no Fn::If left) resolved against that shape's parameters, as CloudFormation would."""
    return _RegionResolver(parameter_defaults(template, DEPLOYMENTS[shape])).resolve(value)


def decided(value: Any, holds: dict[str, bool]) -> Any:
    """`value` with every Fn::If replaced by the branch its condition picks and AWS::NoValue left out (a
    property or list item that is AWS::NoValue comes back as _NO_VALUE, which the caller drops)."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            condition, when_true, when_false = value["Fn::If"]
            return decided(when_true if holds[condition] else when_false, holds)
        if value == _NO_VALUE:
            return _NO_VALUE
        pairs = ((k, decided(v, holds)) for k, v in value.items())
        return {k: v for k, v in pairs if v != _NO_VALUE}
    if isinstance(value, list):
        return [item for item in (decided(v, holds) for v in value) if item != _NO_VALUE]
    return value


def deployed(template: dict[str, Any], shape: str) -> dict[str, Any]:
    """The template as a stack of this shape creates it."""
    holds = conditions(template, shape)
    kept = {
        section: {
            name: spec
            for name, spec in template.get(section, {}).items()
            if "Condition" not in spec or holds[spec["Condition"]]
        }
        for section in ("Resources", "Outputs")
    }
    return decided({**template, **kept}, holds)
