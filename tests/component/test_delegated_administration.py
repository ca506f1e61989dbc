"""Row-level filters hold on the key service's own rows: a tenant administrator (every action on `*`, filtered to
its own tenant) manages its tenant's keys and reads their audit, and nothing else: other tenants' keys and
the bootstrap admin answer 404, roles and environments are read-only or closed, and it cannot create a key
for another tenant."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import ALL_ACTIONS, env_path

KEYS = env_path("demo", "dev", "/keys")
AUDIT = env_path("demo", "dev", "/audit")
TENANT_ADMIN = {
    "description": "manages the keys of its own tenant",
    "permissions": [
        {"resource": "*", "actions": ALL_ACTIONS, "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "roles", "actions": ["read"]},
    ],
}
# Orders rows carry the same `tenant` column the tenant admin's filter names, so the admin may grant it.
READER = {
    "permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}}]
}


def key_id_of(value: str) -> str:
    return value.split("_")[-1][:12]


@pytest.fixture
def tenants(api: Any, admin_key: str) -> dict[str, Any]:
    """The bootstrap admin, a tenant admin of t1, and keys of t1 and t2, created by the admin."""
    for name, role in (("tenant-admin", TENANT_ADMIN), ("reader", READER)):
        assert api("PUT", env_path("demo", "dev", f"/roles/{name}"), admin_key, role).status == 201

    def create(name: str, tenant: str, roles: list[str]) -> dict[str, Any]:
        reply = api("POST", KEYS, admin_key, {"name": name, "roles": roles, "context": {"tenant": tenant}})
        assert reply.status == 201, reply.body
        return reply.body

    return {
        "admin": admin_key,
        "t1_admin": create("t1 admin", "t1", ["tenant-admin"])["key"],
        "t1_keys": [create(f"t1 key {i}", "t1", ["reader"]) for i in range(2)],
        "t2_keys": [create(f"t2 key {i}", "t2", ["reader"]) for i in range(3)],
    }


def test_a_tenant_admin_lists_only_its_tenants_keys(api, tenants) -> None:
    listed = api("GET", KEYS, tenants["t1_admin"])
    assert listed.status == 200
    contexts = {k["context"]["tenant"] for k in listed.body["keys"]}
    assert contexts == {"t1"}
    assert {k["key_id"] for k in tenants["t1_keys"]} <= {k["key_id"] for k in listed.body["keys"]}
    assert key_id_of(tenants["admin"]) not in {k["key_id"] for k in listed.body["keys"]}


def test_pages_are_never_empty_while_covered_keys_remain(api, tenants, admin_key) -> None:
    # Many of the other tenant's keys between the covered ones: every page still has a covered key.
    for i in range(6):
        api("POST", KEYS, admin_key, {"name": f"noise {i}", "roles": ["reader"], "context": {"tenant": "t2"}})
    seen, token, pages = [], None, 0
    while True:
        reply = api("GET", KEYS + "?limit=1" + (f"&next_token={token}" if token else ""), tenants["t1_admin"])
        pages += 1
        assert reply.status == 200 and len(reply.body["keys"]) == 1, reply.body
        seen += [k["key_id"] for k in reply.body["keys"]]
        token = reply.body["next_token"]
        if token is None:
            break
    assert pages == len(seen) == 3  # the tenant admin itself and the two t1 keys


def test_a_listing_that_stops_reading_early_says_where_to_go_on(api, tenants, admin_key, monkeypatch) -> None:
    """Past its read budget (MAX_QUERY_ROUND_TRIPS reads) over a partition of other tenants' keys, a page may
    come back short or empty, but always with a next_token while covered keys remain: never a dead end."""
    from archie_keys.aws import key_store

    for i in range(6):
        api("POST", KEYS, admin_key, {"name": f"noise {i}", "roles": ["reader"], "context": {"tenant": "t2"}})
    monkeypatch.setattr(key_store, "MAX_QUERY_ROUND_TRIPS", 1)
    monkeypatch.setattr(key_store, "FILTERED_READ_BATCH", 2)
    seen, token = [], None
    for _ in range(50):  # bounded: 13 keys, at least one read each
        reply = api("GET", KEYS + "?limit=2" + (f"&next_token={token}" if token else ""), tenants["t1_admin"])
        assert reply.status == 200, reply.body
        seen += [k["key_id"] for k in reply.body["keys"]]
        token = reply.body["next_token"]
        if token is None:
            break
    expected = {key_id_of(tenants["t1_admin"])} | {k["key_id"] for k in tenants["t1_keys"]}
    assert sorted(seen) == sorted(expected)


@pytest.mark.parametrize("target", ["t2", "admin"])
def test_keys_outside_the_tenant_answer_404_as_if_they_did_not_exist(api, tenants, target) -> None:
    key_id = tenants["t2_keys"][0]["key_id"] if target == "t2" else key_id_of(tenants["admin"])
    t1_admin = tenants["t1_admin"]
    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/usage", None),
        ("POST", "/roll", {"grace_seconds": 0}),
        ("DELETE", "", None),
    ):
        reply = api(method, f"{KEYS}/{key_id}{suffix}", t1_admin, body)
        assert reply.status == 404 and reply.body["code"] == "not_found", (method, suffix, reply.body)
    # Nothing happened to it: the admin still sees it live and unrolled.
    after = api("GET", f"{KEYS}/{key_id}", tenants["admin"]).body
    assert after["status"] == "active" and after["rolled_to"] is None


def test_a_tenant_admin_manages_its_own_tenants_keys(api, tenants) -> None:
    t1_admin, own = tenants["t1_admin"], tenants["t1_keys"][0]["key_id"]
    assert api("GET", f"{KEYS}/{own}", t1_admin).status == 200
    rolled = api("POST", f"{KEYS}/{own}/roll", t1_admin, {"grace_seconds": 60})
    assert rolled.status == 201 and rolled.body["record"]["context"] == {"tenant": "t1"}
    assert api("DELETE", f"{KEYS}/{rolled.body['key_id']}", t1_admin).status == 204


def test_creating_a_key_outside_its_own_rows_is_escalation(api, tenants, table_items) -> None:
    def keys() -> int:  # the keys only: the authorizer also records when it let a key through (SEEN#)
        return sum(1 for item in table_items("KEYS_TABLE") if item["sk"]["S"].startswith("KEY#"))

    before = keys()
    for context in ({"tenant": "t2"}, {}, {"tenant": "t1 "}, {"tenant": "t1", "x": "y"}):
        reply = api("POST", KEYS, tenants["t1_admin"], {"name": "x", "roles": ["reader"], "context": context})
        if len(context) == 2:
            assert reply.status == 201  # more context is narrower, and still its tenant
            continue
        assert reply.status == 403 and reply.body["code"] == "privilege_escalation", (context, reply.body)
        assert reply.body["field"] == "context"
    assert keys() == before + 1
    created = api("POST", KEYS, tenants["t1_admin"], {"name": "ok", "roles": ["reader"], "context": {"tenant": "t1"}})
    assert created.status == 201


def test_a_tenant_admin_cannot_take_over_another_tenants_delivered_secret(api, tenants) -> None:
    """Both tenants live in demo/dev, so the secret's name is inside the prefix for either; what decides is
    whose key the secret was made for."""
    import boto3

    secret = "archie/keys/demo/dev/t2-billing"
    t2 = api(
        "POST",
        KEYS,
        tenants["admin"],
        {"name": "t2 billing", "roles": ["reader"], "context": {"tenant": "t2"}, "secret_name": secret},
    )
    assert t2.status == 201
    secrets = boto3.client("secretsmanager")
    t1_body = {"name": "mine now", "roles": ["reader"], "context": {"tenant": "t1"}, "secret_name": secret}
    taken = api("POST", KEYS, tenants["t1_admin"], t1_body)
    assert taken.status == 403 and taken.body["code"] == "secret_not_owned" and taken.body["field"] == "secret_name"
    t1_key = tenants["t1_keys"][0]["key_id"]
    rolled = api("POST", f"{KEYS}/{t1_key}/roll", tenants["t1_admin"], {"grace_seconds": 60, "secret_name": secret})
    assert rolled.status == 403 and rolled.body["code"] == "secret_not_owned"
    assert (
        secrets.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"] == t2.body["key"]
    )  # t2's consumers unmoved
    assert api("GET", f"{KEYS}/{t1_key}", tenants["t1_admin"]).body.get("rolled_to") is None  # nothing half done

    # Its own tenant's secret stays its to rotate.
    own = api("POST", KEYS, tenants["t1_admin"], {**t1_body, "secret_name": "archie/keys/demo/dev/t1-billing"})
    assert own.status == 201
    again = api(
        "POST",
        f"{KEYS}/{own.body['key_id']}/roll",
        tenants["t1_admin"],
        {"grace_seconds": 60, "secret_name": "archie/keys/demo/dev/t1-billing"},
    )
    assert again.status == 201
    assert (
        secrets.get_secret_value(SecretId="archie/keys/demo/dev/t1-billing", VersionStage="AWSCURRENT")["SecretString"]
        == again.body["key"]
    )


def test_filtered_grants_grant_nothing_on_roles_environments_and_verify(api, tenants) -> None:
    t1_admin = tenants["t1_admin"]
    rewrite = {"permissions": [{"resource": "*", "actions": ["read"]}]}
    assert api("PUT", env_path("demo", "dev", "/roles/admin"), t1_admin, rewrite).status == 403
    assert api("DELETE", env_path("demo", "dev", "/roles/reader"), t1_admin).status == 403
    assert api("PUT", env_path("demo", "dev"), t1_admin).status == 403
    assert api("GET", env_path("demo", "dev"), t1_admin).status == 403
    assert api("POST", env_path("demo", "dev", "/verify"), t1_admin, {"key": tenants["admin"]}).status == 403
    # Its unfiltered roles read holds: it can see what roles exist, to create keys with them.
    assert api("GET", env_path("demo", "dev", "/roles"), t1_admin).status == 200
    admin_role = api("GET", env_path("demo", "dev", "/roles/admin"), tenants["admin"]).body
    assert admin_role["permissions"] == [{"resource": "*", "actions": ALL_ACTIONS, "filters": {}}]


def test_the_audit_shows_a_tenant_admin_only_its_tenants_records(api, tenants) -> None:
    t1_admin = tenants["t1_admin"]
    own, other = tenants["t1_keys"][0]["key_id"], tenants["t2_keys"][0]["key_id"]
    assert api("DELETE", f"{KEYS}/{own}", t1_admin).status == 204  # an event by a covered actor about a covered key
    trail = api("GET", AUDIT + "?limit=100", t1_admin)
    assert trail.status == 200
    records = trail.body["records"]
    assert [r["event"] for r in records if r.get("key_id") == own][:1] == ["key.deleted"]
    # The admin created every key: its events (actor not covered) are not shown, nor anything about t2.
    assert all(r.get("actor_key_id") == key_id_of(t1_admin) for r in records if r["kind"] == "event")
    assert all(r.get("key_id") != other for r in records)
    assert api("GET", AUDIT + f"?key_id={other}", t1_admin).status == 404
    assert api("GET", AUDIT + f"?actor_key_id={key_id_of(tenants['admin'])}", t1_admin).status == 404
    # The bootstrap admin still sees everything.
    everything = api("GET", AUDIT + "?limit=100", tenants["admin"]).body["records"]
    assert any(r.get("key_id") == other for r in everything)


ROLES = env_path("demo", "dev", "/roles")


def test_a_tenant_admin_sees_the_roles_but_not_how_many_keys_of_every_tenant_hold_them(api, tenants) -> None:
    # Given `reader`, held by two keys of t1 and three of t2: its count would tell t1 about t2's keys
    t1_admin = tenants["t1_admin"]
    listed = api("GET", ROLES, t1_admin)
    assert listed.status == 200
    # Then a caller whose keys read is filtered gets every role with a null count
    assert {r["name"]: r["key_count"] for r in listed.body["roles"]} == {
        "admin": None,
        "reader": None,
        "tenant-admin": None,
    }
    one = api("GET", f"{ROLES}/reader", t1_admin)
    assert one.status == 200 and one.body["key_count"] is None
    # While a caller that may read every key sees the counts
    assert api("GET", f"{ROLES}/reader", tenants["admin"]).body["key_count"] == 5
    assert {r["name"]: r["key_count"] for r in api("GET", ROLES, tenants["admin"]).body["roles"]}["reader"] == 5


def test_a_role_keeper_with_a_filtered_keys_read_learns_no_count_from_editing_or_deleting(api, tenants) -> None:
    # Given a key that may edit and delete roles, but reads only its own tenant's keys
    admin = tenants["admin"]
    keeper_role = {
        "permissions": [
            {"resource": "roles", "actions": ["read", "write", "delete"]},
            {"resource": "keys", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}},
        ]
    }
    # A role it may define (its own grant covers it), held by three keys of t2
    viewer_role = {"permissions": [{"resource": "keys", "actions": ["read"], "filters": {"tenant": "t1"}}]}
    assert api("PUT", f"{ROLES}/role-keeper", admin, keeper_role).status == 201
    assert api("PUT", f"{ROLES}/tenant-viewer", admin, viewer_role).status == 201
    keeper = api("POST", KEYS, admin, {"name": "keeper", "roles": ["role-keeper"], "context": {"tenant": "t1"}})
    for _ in range(3):
        created = api("POST", KEYS, admin, {"name": "v", "roles": ["tenant-viewer"], "context": {"tenant": "t2"}})
        assert created.status == 201
    # When it replaces a role held by other tenants' keys, and tries to delete it
    replaced = api("PUT", f"{ROLES}/tenant-viewer", keeper.body["key"], {**viewer_role, "description": "edited"})
    refused = api("DELETE", f"{ROLES}/tenant-viewer", keeper.body["key"])
    # Then neither answer says how many keys hold it
    assert replaced.status == 200 and replaced.body["key_count"] is None
    assert refused.status == 409 and refused.body["code"] == "role_in_use"
    assert not re.search(r"\d", refused.body["message"]), refused.body["message"]
    # While the admin's refusal says how many
    assert "3 key(s)" in api("DELETE", f"{ROLES}/tenant-viewer", admin).body["message"]
