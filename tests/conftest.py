"""Fixtures for every tier. Unit tests run against moto's in-process mock (no network): `aws` provisions
the template's resources into it; `gateway` serves the template's APIs in-process (the real authorizer and
handlers, no HTTP)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import Reply, decode, encode_body, provisioned_in_process, request_headers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that provision a stack of their own (the `aws` fixture, a few seconds each): `make mutate`
    leaves them out (`-m "not own_stack"`), since it reruns its tests for every mutant that survives."""
    for item in items:
        if "aws" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.own_stack)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with provisioned_in_process(monkeypatch) as provisioned:
        yield provisioned


class InProcessApi:
    """Calls one of the template's APIs through the local gateway logic, without sockets."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def __call__(
        self,
        method: str,
        path: str,
        key: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Reply:
        from urllib.parse import parse_qs

        from archie_local.http_server import HttpRequest

        all_headers = request_headers(key, headers)
        path_only, _, query = path.partition("?")
        data = encode_body(body, raw_body) or b""
        response = self.gateway.handle(
            HttpRequest(
                method, path_only, parse_qs(query, keep_blank_values=True), list(all_headers.items()), data, "127.0.0.1"
            )
        )
        return Reply(response.status, decode(response.body), response.headers)


@pytest.fixture
def apis(aws: Any) -> dict[str, InProcessApi]:
    from archie_local.gateway import Gateway
    from archie_local.lambdas import FunctionRegistry
    from archie_local.routing import build_apis
    from archie_local.template import load_template

    registry = FunctionRegistry(aws.functions)
    built = build_apis(load_template(), aws.resolver, registry)
    return {name: InProcessApi(Gateway(api)) for name, api in built.items()}


@pytest.fixture
def api(apis: dict[str, InProcessApi]) -> InProcessApi:
    return apis["ManagementApi"]


@pytest.fixture
def log_delivery(aws: Any) -> Iterator[Any]:
    """The local stack's log deliverer, every 50 ms, to the template's subscriptions (the audit ingest): its
    attested deliveries, idle ones included, move the ingest watermark a guarded delete waits for."""
    from archie_local.logs import LogsEmulator
    from archie_local.template import load_template
    from tests.support import in_process_functions

    emulator = LogsEmulator(load_template(), aws.resolver, in_process_functions(), interval=0.05).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def bootstrap(aws: Any) -> Callable[..., str]:
    from archie_keys.app.bootstrap import bootstrap as run_bootstrap
    from archie_keys.app.commands import Place
    from archie_keys.edge.composition import get_services

    def make(project: str = "demo", environment: str = "dev") -> str:
        return run_bootstrap(get_services(), Place(project, environment)).value

    return make


@pytest.fixture
def admin_key(bootstrap: Callable[..., str]) -> str:
    return bootstrap()


def all_items(table: str) -> list[dict[str, Any]]:
    """Every item of a table (tests only: a Scan is fine here, never on a request path)."""
    import boto3

    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def table_items() -> Callable[[str], list[dict[str, Any]]]:
    return lambda env_name: all_items(os.environ[env_name])
