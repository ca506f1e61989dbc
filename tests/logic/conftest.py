"""The logic tier: every use case on in-memory fakes (tests/fakes), no moto, no network, no sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from archie_keys.app.bootstrap import bootstrap
from archie_keys.app.commands import CreateKey, Place, PutRole
from archie_keys.app.roles import put_role
from archie_keys.domain.identity import Identity
from tests.fakes.services import FakeServices

PLACE = Place("shop", "prod")
READER = [{"resource": "keys", "actions": ["read"], "filters": {}}]
WRITER = [{"resource": "keys", "actions": ["read", "write", "update", "delete"], "filters": {}}]


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test of this tier that reaches for the network fails instead of passing slowly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the logic tier opens no sockets")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


def caller(services: FakeServices, value: str, place: Place = PLACE) -> Identity:
    """The identity a key value authenticates as: the authorizer's own decision, on the fakes."""
    return services.verifier.verify(value, project=place.project, environment=place.environment).identity


@pytest.fixture
def admin(services: FakeServices) -> Identity:
    """The environment's bootstrap admin, as a key: declared, with the admin role, every permission."""
    return caller(services, bootstrap(services, PLACE).value)  # type: ignore[arg-type]


def role(services: FakeServices, by: Identity, name: str, permissions: list[dict[str, Any]]) -> None:
    put_role(services, by, PutRole(PLACE, name, f"the {name} role", permissions))  # type: ignore[arg-type]


def new_key(services: FakeServices, by: Identity, name: str, roles: list[str], **fields: Any) -> Any:
    from archie_keys.app.keys import create_key

    return create_key(services, by, CreateKey(PLACE, name, roles, **fields))  # type: ignore[arg-type]
