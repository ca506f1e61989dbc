"""The management API through the template's gateway and the real handlers (moto in-process)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import ALL_ACTIONS, env_path

KEYS = env_path("demo", "dev", "/keys")
READER = {
    "description": "reads orders of its tenant",
    "permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}],
}


def make_role(
    api: Any,
    admin: str,
    name: str = "reader",
    body: dict | None = None,
    project: str = "demo",
    environment: str = "dev",
) -> None:
    reply = api("PUT", env_path(project, environment, f"/roles/{name}"), admin, body or READER)
    assert reply.status in (200, 201), reply.body


def make_key(api: Any, admin: str, **body: Any) -> dict:
    reply = api("POST", KEYS, admin, {"name": "ci", "roles": ["reader"], "context": {"tenant": "t1"}, **body})
    assert reply.status == 201, reply.body
    return reply.body


def test_a_created_key_is_shown_once_listed_read_used_and_refused_after_delete(api, apis, admin_key) -> None:
    make_role(api, admin_key, "keymaster", {"permissions": [{"resource": "keys", "actions": ["read"]}]})
    created = api("POST", KEYS, admin_key, {"name": "reporting", "roles": ["keymaster"]})
    assert created.status == 201
    value, key_id = created.body["key"], created.body["key_id"]
    assert value.startswith("archie_demo_dev_") and created.body["record"]["start"] in value
    assert created.headers["Cache-Control"] == "no-store"

    listed = api("GET", KEYS, value)
    assert listed.status == 200
    assert listed.body["keys"][0]["key_id"] == key_id  # newest first
    assert value not in json.dumps(listed.body) and "hash" not in json.dumps(listed.body)

    got = api("GET", f"{KEYS}/{key_id}", value)
    assert got.status == 200 and got.body["name"] == "reporting" and "key" not in got.body

    assert api("DELETE", f"{KEYS}/{key_id}", admin_key).status == 204
    assert api("GET", KEYS, value).status == 403
    # Still shown, as revoked (for 30 days); a second DELETE is answered as the first (idempotent).
    revoked = api("GET", f"{KEYS}/{key_id}", admin_key).body
    assert (revoked["status"], revoked["revoked_reason"]) == ("revoked", "deleted") and revoked["revoked_at"]
    assert api("DELETE", f"{KEYS}/{key_id}", admin_key).status == 204


def test_listing_is_paginated_newest_first(api, admin_key) -> None:
    make_role(api, admin_key)
    ids = [make_key(api, admin_key, name=f"k{i}")["key_id"] for i in range(5)]
    seen, token = [], None
    while True:
        reply = api("GET", f"{KEYS}?limit=2" + (f"&next_token={token}" if token else ""), admin_key)
        assert reply.status == 200 and len(reply.body["keys"]) <= 2
        seen += [k["key_id"] for k in reply.body["keys"]]
        token = reply.body["next_token"]
        if not token:
            break
    assert [i for i in seen if i in ids] == list(reversed(ids))


def test_a_forged_next_token_is_refused(api, admin_key) -> None:
    reply = api("GET", f"{KEYS}?next_token=eyJwayI6IlBST0pFQ1Qjb3RoZXIjRU5WI2RldiIsInNrIjoiS0VZIyJ9", admin_key)
    assert reply.status == 422 and reply.body["field"] == "next_token"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"roles": ["reader"], "context": {"tenant": "t"}}, 422, "name"),
        ({"name": "x", "roles": [], "context": {"tenant": "t"}}, 422, "roles"),
        ({"name": "x", "context": {"tenant": "t"}}, 422, "roles"),
        ({"name": "x", "roles": ["ghost"]}, 422, "roles"),
        ({"name": "x", "roles": ["reader"]}, 422, "context.tenant"),
        ({"name": "x", "roles": ["reader"], "context": {"tenant": "t"}, "colour": "red"}, 422, "colour"),
        ({"name": "x", "roles": ["reader"], "context": {"tenant": "t"}, "prefix": "Bad-"}, 422, "prefix"),
        ({"name": "x" * 129, "roles": ["reader"], "context": {"tenant": "t"}}, 422, "name"),
        ({"name": "x", "roles": ["reader"] * 11, "context": {"tenant": "t"}}, 422, "roles"),
        ({"name": "x", "roles": ["reader"], "context": {f"c{i}": "v" for i in range(17)}}, 422, "context"),
        ({"name": "x", "roles": ["reader"], "context": {"tenant": "v" * 257}}, 422, "context.tenant"),
        (
            {"name": "x", "roles": ["reader"], "context": {"tenant": "t"}, "expires_at": "2001-01-01T00:00:00Z"},
            422,
            "expires_at",
        ),
        ({"name": "x", "roles": ["reader"], "context": {"tenant": "t"}, "expires_at": "tomorrow"}, 422, "expires_at"),
        ({"name": "x", "roles": ["reader"], "context": {"tenant": 5}}, 422, "context.tenant"),
    ],
)
def test_bad_create_input_gets_a_named_4xx_and_writes_nothing(api, admin_key, table_items, body, status, field) -> None:
    make_role(api, admin_key)
    before = table_items("KEYS_TABLE")
    reply = api("POST", KEYS, admin_key, body)
    assert reply.status == status, reply.body
    assert reply.body["field"] == field and reply.body["code"] and reply.body["message"]
    assert table_items("KEYS_TABLE") == before


def test_a_body_over_the_bound_or_not_json_is_refused(api, admin_key) -> None:
    big = api("POST", KEYS, admin_key, raw_body=b'{"name": "' + b"x" * 70000 + b'"}')
    assert big.status == 413 and big.body["code"] == "payload_too_large"
    broken = api("POST", KEYS, admin_key, raw_body=b"{not json")
    assert broken.status == 422 and broken.body["field"] == "body"


def test_keys_and_roles_exist_only_in_declared_environments(api, admin_key) -> None:
    # The admin key of demo/dev may not even reach another environment's routes.
    assert api("GET", env_path("demo", "prod", "/keys"), admin_key).status == 403
    assert api("PUT", env_path("demo", "prod"), admin_key).status == 403


def test_declaring_an_environment_is_idempotent(api, admin_key) -> None:
    first = api("PUT", env_path("demo", "dev"), admin_key)
    assert first.status == 200 and first.body["created_by"] == "bootstrap"
    assert api("GET", env_path("demo", "dev"), admin_key).body == first.body


def test_a_role_still_used_by_a_key_cannot_be_deleted(api, admin_key) -> None:
    make_role(api, admin_key)
    created = make_key(api, admin_key)
    assert api("DELETE", env_path("demo", "dev", "/roles/reader"), admin_key).status == 409
    assert api("DELETE", f"{KEYS}/{created['key_id']}", admin_key).status == 204
    assert api("DELETE", env_path("demo", "dev", "/roles/reader"), admin_key).status == 204
    assert api("GET", env_path("demo", "dev", "/roles/reader"), admin_key).status == 404
    assert api("DELETE", env_path("demo", "dev", "/roles/reader"), admin_key).status == 404


def test_roles_are_listed_and_validated(api, admin_key) -> None:
    make_role(api, admin_key)
    names = [r["name"] for r in api("GET", env_path("demo", "dev", "/roles"), admin_key).body["roles"]]
    assert names == ["admin", "reader"]
    bad = api(
        "PUT",
        env_path("demo", "dev", "/roles/r"),
        admin_key,
        {"permissions": [{"resource": "orders", "actions": ["fly"]}]},
    )
    assert bad.status == 422 and bad.body["field"].startswith("permissions.0.actions")
    assert api("PUT", env_path("demo", "dev", "/roles/Bad Name"), admin_key, READER).status == 422


def test_management_is_permission_checked_per_action(api, admin_key) -> None:
    make_role(api, admin_key, "viewer", {"permissions": [{"resource": "keys", "actions": ["read"]}]})
    viewer = api("POST", KEYS, admin_key, {"name": "viewer", "roles": ["viewer"]}).body["key"]
    assert api("GET", KEYS, viewer).status == 200
    assert api("POST", KEYS, viewer, {"name": "x", "roles": ["viewer"]}).status == 403
    assert api("GET", env_path("demo", "dev", "/roles"), viewer).status == 403


def test_a_caller_cannot_create_a_key_with_more_than_it_has(api, admin_key) -> None:
    make_role(api, admin_key, "minter", {"permissions": [{"resource": "keys", "actions": ["read", "write"]}]})
    make_role(api, admin_key)
    minter = api("POST", KEYS, admin_key, {"name": "minter", "roles": ["minter"]}).body["key"]
    reply = api("POST", KEYS, minter, {"name": "x", "roles": ["reader"], "context": {"tenant": "t"}})
    assert reply.status == 403 and reply.body["code"] == "privilege_escalation"
    assert "read on orders" in reply.body["message"]
    assert api("POST", KEYS, minter, {"name": "same", "roles": ["minter"]}).status == 201


def test_admin_role_holds_every_permission(api, admin_key) -> None:
    role = api("GET", env_path("demo", "dev", "/roles/admin"), admin_key).body
    assert role["permissions"] == [{"resource": "*", "actions": ALL_ACTIONS, "filters": {}}]


def test_unknown_routes_and_missing_keys_answer_like_api_gateway(api, admin_key) -> None:
    assert api("GET", KEYS).status == 401
    assert api("GET", KEYS, "not-a-key").status == 401
    assert api("GET", "/nowhere", admin_key).status == 403


def test_a_json_body_is_read_as_json_whatever_the_content_type_says(api, admin_key) -> None:
    # curl -d sends application/x-www-form-urlencoded; the API only speaks JSON.
    reply = api(
        "PUT",
        env_path("demo", "dev", "/roles/viewer"),
        admin_key,
        raw_body=b'{"permissions": [{"resource": "keys", "actions": ["read"]}]}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 201, reply.body
