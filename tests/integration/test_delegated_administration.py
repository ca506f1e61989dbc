"""Over HTTP, through the local API Gateway and the real audit pipeline: a tenant administrator next to another
tenant and the bootstrap admin. What it sees, what it can change, what it cannot, in the management API and
in the audit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import ALL_ACTIONS, env_path, http

KEYS = env_path("demo", "dev", "/keys")
TENANT_ADMIN = {
    "permissions": [
        {"resource": "*", "actions": ALL_ACTIONS, "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "roles", "actions": ["read"]},
    ]
}
TENANT_READER = {
    "permissions": [
        {"resource": "orders", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "keys", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}},
    ]
}


@pytest.fixture(scope="module")
def world(stack: Any, admin: str) -> dict[str, Any]:
    base = stack.url()
    for name, role in (("tenant-admin", TENANT_ADMIN), ("tenant-reader", TENANT_READER)):
        assert http(base, "PUT", env_path("demo", "dev", f"/roles/{name}"), admin, role).status in (200, 201)

    def create(name: str, tenant: str, role: str) -> dict[str, Any]:
        reply = http(base, "POST", KEYS, admin, {"name": name, "roles": [role], "context": {"tenant": tenant}})
        assert reply.status == 201, reply.body
        return dict(reply.body)

    return {
        "t1_admin": create("t1 admin", "t1", "tenant-admin"),
        "t1_reader": create("t1 reader", "t1", "tenant-reader"),
        "t2_reader": create("t2 reader", "t2", "tenant-reader"),
    }


def test_a_tenant_admin_sees_and_changes_only_its_tenant(stack: Any, admin: str, world: dict[str, Any]) -> None:
    base, t1_admin = stack.url(), world["t1_admin"]["key"]
    listed = http(base, "GET", KEYS + "?limit=100", t1_admin).body["keys"]
    assert {k["context"]["tenant"] for k in listed} == {"t1"}
    for other in (world["t2_reader"]["key_id"], admin.split("_")[-1][:12]):
        assert http(base, "GET", f"{KEYS}/{other}", t1_admin).status == 404
        assert http(base, "DELETE", f"{KEYS}/{other}", t1_admin).status == 404
    refused = http(base, "POST", KEYS, t1_admin, {"name": "x", "roles": ["tenant-reader"], "context": {"tenant": "t2"}})
    assert refused.status == 403 and refused.body["code"] == "privilege_escalation"
    # API Gateway's policy already closes what a filtered grant cannot reach: roles writes, the environment.
    assert http(base, "PUT", env_path("demo", "dev", "/roles/admin"), t1_admin, TENANT_ADMIN).status == 403
    assert http(base, "PUT", env_path("demo", "dev"), t1_admin).status == 403
    assert http(base, "GET", env_path("demo", "dev", "/roles"), t1_admin).status == 200
    # Within its tenant it is an administrator: roll, then delete the old key.
    own = world["t1_reader"]["key_id"]
    rolled = http(base, "POST", f"{KEYS}/{own}/roll", t1_admin, {"grace_seconds": 0})
    assert rolled.status == 201, rolled.body
    world["t1_reader"] = {"key": rolled.body["key"], "key_id": rolled.body["key_id"]}


def test_the_audit_shows_a_tenant_admin_its_tenants_traffic_only(stack: Any, admin: str, world: dict[str, Any]) -> None:
    base, sample, t1_admin = stack.url(), stack.url("SampleApi"), world["t1_admin"]["key"]
    assert http(sample, "GET", "/orders/1", world["t1_reader"]["key"]).status == 200
    assert http(sample, "GET", "/orders/2", world["t2_reader"]["key"]).status == 200
    assert http(base, "GET", KEYS, admin).status == 200
    stack.settle_audit()  # every buffered access-log line ingested (as the subscription would) and compacted
    records = http(base, "GET", env_path("demo", "dev", "/audit?limit=100"), t1_admin).body["records"]
    assert any(r.get("key_id") == world["t1_reader"]["key_id"] and r.get("path") == "/orders/1" for r in records)
    assert all(r.get("key_id") != world["t2_reader"]["key_id"] for r in records)
    admin_id = admin.split("_")[-1][:12]
    assert all(r.get("key_id") != admin_id and r.get("actor_key_id") != admin_id for r in records)
    t2 = world["t2_reader"]["key_id"]
    assert http(base, "GET", env_path("demo", "dev", f"/audit?key_id={t2}"), t1_admin).status == 404
    everything = http(base, "GET", env_path("demo", "dev", "/audit?limit=100"), admin).body["records"]
    assert any(r.get("key_id") == t2 for r in everything)
