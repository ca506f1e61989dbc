"""A revoked key is refused by an authorizer that never saw it valid: a Lambda instance started after the
revocation (empty in-function caches) reads the record cold and must refuse it there, not only on a refresh
of a decision it had cached. Every other revocation test warms the cache first."""

from __future__ import annotations

from typing import Any

import pytest

from archie_keys.edge import composition
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
READER = {"permissions": [{"resource": "orders", "actions": ["read"]}, {"resource": "keys", "actions": ["read"]}]}


def fresh_authorizer_instance() -> None:
    """What a cold start is: a new process, so nothing from the previous instance is remembered."""
    composition.reset()


@pytest.fixture
def reader_key(api: Any, admin_key: str) -> dict[str, Any]:
    assert api("PUT", env_path("demo", "dev", "/roles/reader"), admin_key, READER).status == 201
    created = api("POST", KEYS, admin_key, {"name": "consumer", "roles": ["reader"]})
    assert created.status == 201, created.body
    return created.body


@pytest.mark.parametrize("used_before", [False, True], ids=["never used", "used, then revoked"])
def test_a_revoked_key_presented_to_a_fresh_authorizer_is_refused(apis, api, admin_key, reader_key, used_before):
    key, sample = reader_key["key"], apis["SampleApi"]
    if used_before:
        assert sample("GET", "/orders/1", key).status == 200
    assert api("DELETE", f"{KEYS}/{reader_key['key_id']}", admin_key).status == 204

    fresh_authorizer_instance()
    assert sample("GET", "/orders/1", key).status == 401
    fresh_authorizer_instance()
    assert api("GET", KEYS, key).status == 401


def test_verify_says_revoked_for_a_revoked_key_it_never_saw(api, admin_key, reader_key) -> None:
    assert api("DELETE", f"{KEYS}/{reader_key['key_id']}", admin_key).status == 204
    fresh_authorizer_instance()
    verdict = api("POST", env_path("demo", "dev", "/verify"), admin_key, {"key": reader_key["key"]})
    assert verdict.status == 200 and verdict.body == {"valid": False, "code": "revoked"}
