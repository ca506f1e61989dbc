"""One in-process stack (moto + the template's APIs) shared by the tests of one module, each test in an
environment of its own.

The tests that share it run under mutation testing too (make mutate), where each mutant reruns the tests that
reach it: provisioning the template once per module instead of once per test keeps that affordable. Every
test gets a project and environment nobody else uses and a fresh process state (`composition.reset()`, as a
cold start has), so tests stay independent. The fixtures (`stack`, `env`) are in tests/component/conftest.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.support import env_path, provisioned_in_process

_places = itertools.count(1)


@dataclass
class Stack:
    provisioned: Any
    apis: dict[str, Any]

    @property
    def functions(self) -> Any:
        from archie_local.lambdas import FunctionRegistry

        return FunctionRegistry(self.provisioned.functions)


@dataclass
class Environment:
    """A declared project/environment with its bootstrap admin key, on the shared stack."""

    stack: Stack
    project: str
    environment: str
    admin: str

    def path(self, suffix: str = "") -> str:
        return env_path(self.project, self.environment, suffix)

    def call(self, method: str, suffix: str, key: str | None = None, body: Any = None, **kwargs: Any) -> Any:
        return self.stack.apis["ManagementApi"](method, self.path(suffix), key or self.admin, body, **kwargs)

    def role(self, name: str, *permissions: dict[str, Any]) -> None:
        reply = self.call("PUT", f"/roles/{name}", body={"permissions": list(permissions)})
        assert reply.status in (200, 201), reply.body

    def key(self, *roles: str, **fields: Any) -> dict[str, Any]:
        reply = self.call("POST", "/keys", body={"name": "consumer", "roles": list(roles), **fields})
        assert reply.status == 201, reply.body
        return reply.body

    def record(self, key_id: str) -> dict[str, Any]:
        from archie_keys.edge.composition import get_services

        return get_services().store.get_key(self.project, self.environment, key_id)

    def set_in_record(self, key_id: str, **values: Any) -> None:
        """Change a key's stored record behind every cache's back (as another instance's write would)."""
        from archie_keys.aws.dynamo import to_item
        from archie_keys.aws.key_store import partition
        from archie_keys.edge.composition import get_settings

        boto3.client("dynamodb").update_item(
            TableName=get_settings().keys_table,
            Key=to_item({"pk": partition(self.project, self.environment), "sk": f"KEY#{key_id}"}),
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in values),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={f"#{name}": name for name in values},
            ExpressionAttributeValues=to_item({f":{name}": value for name, value in values.items()}),
        )


@contextmanager
def running_stack() -> Iterator[Stack]:
    """What tests/conftest.py's `aws` and `apis` fixtures build, once."""
    from archie_local.gateway import Gateway
    from archie_local.lambdas import FunctionRegistry
    from archie_local.routing import build_apis
    from archie_local.template import load_template
    from tests.conftest import InProcessApi

    with pytest.MonkeyPatch.context() as patch, provisioned_in_process(patch) as provisioned:
        built = build_apis(load_template(), provisioned.resolver, FunctionRegistry(provisioned.functions))
        yield Stack(provisioned, {name: InProcessApi(Gateway(api)) for name, api in built.items()})


def new_environment(stack: Stack) -> Environment:
    """A fresh project/environment with its admin key, and a process that has seen nothing yet."""
    from archie_keys.app.bootstrap import bootstrap
    from archie_keys.app.commands import Place
    from archie_keys.edge import composition

    composition.reset()
    number = next(_places)
    project, environment = f"proj{number}", f"env{number}"
    admin = bootstrap(composition.get_services(), Place(project, environment)).value
    composition.reset()
    return Environment(stack, project, environment, admin)
