"""Trust policies through the management API: a policy can grant only what its author could grant itself (roles
and rows), it must name whom it trusts, its issuer is https on AWS, and every change is audited."""

from __future__ import annotations

from typing import Any

import pytest

from archie_keys.edge import composition
from tests.support import env_path

TRUST = env_path("demo", "dev", "/trust")
GITHUB = "https://token.actions.githubusercontent.com"
SUBJECT = "repo:acme/billing:ref:refs/heads/main"


def role(api: Any, admin_key: str, name: str, *permissions: dict[str, Any]) -> None:
    assert (
        api("PUT", env_path("demo", "dev", f"/roles/{name}"), admin_key, {"permissions": list(permissions)}).status
        == 201
    )


def key_with(api: Any, admin_key: str, roles: list[str], context: dict[str, str] | None = None) -> str:
    made = api(
        "POST", env_path("demo", "dev", "/keys"), admin_key, {"name": "k", "roles": roles, "context": context or {}}
    )
    assert made.status == 201, made.body
    return str(made.body["key"])


def policy(**overrides: Any) -> dict[str, Any]:
    return {"issuer": GITHUB, "audience": "archie-keys", "subject": SUBJECT, "roles": ["reader"], **overrides}


def events(api: Any, admin_key: str) -> list[dict[str, Any]]:
    records = api("GET", env_path("demo", "dev", "/audit?kind=event&limit=100"), admin_key).body["records"]
    return [r for r in records if r["event"].startswith("trust.")]


@pytest.fixture
def delegate(api: Any, admin_key: str) -> str:
    """A key that administers trust, may create keys, and itself only reads orders."""
    role(api, admin_key, "reader", {"resource": "orders", "actions": ["read"]})
    role(api, admin_key, "writer", {"resource": "orders", "actions": ["read", "write"]})
    role(
        api,
        admin_key,
        "trust-admin",
        {"resource": "trust", "actions": ["read", "write", "delete"]},
        {"resource": "keys", "actions": ["read", "write"]},
        {"resource": "orders", "actions": ["read"]},
    )
    return key_with(api, admin_key, ["trust-admin"])


def test_a_policy_cannot_grant_more_than_its_author_holds(api, admin_key, delegate) -> None:
    wider = api("PUT", f"{TRUST}/deploy", delegate, policy(roles=["writer"]))

    assert wider.status == 403 and wider.body["code"] == "privilege_escalation", wider.body
    assert "write on orders" in wider.body["message"]
    assert api("GET", f"{TRUST}/deploy", admin_key).status == 404 and events(api, admin_key) == []
    assert api("PUT", f"{TRUST}/deploy", delegate, policy(roles=["reader"])).status == 201


def test_a_tenant_administrator_trusts_pipelines_only_for_its_own_tenant(api, admin_key) -> None:
    tenant = {"tenant_id": {"from_context": "tenant"}}
    role(api, admin_key, "tenant-reader", {"resource": "orders", "actions": ["read"], "filters": tenant})
    role(
        api,
        admin_key,
        "tenant-trust",
        {"resource": "trust", "actions": ["write"]},
        {"resource": "keys", "actions": ["write"], "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "orders", "actions": ["read"], "filters": tenant},
    )
    t17 = key_with(api, admin_key, ["tenant-trust"], {"tenant": "t-17"})

    other = api("PUT", f"{TRUST}/deploy", t17, policy(roles=["tenant-reader"], context={"tenant": "t-18"}))
    own = api("PUT", f"{TRUST}/deploy", t17, policy(roles=["tenant-reader"], context={"tenant": "t-17"}))

    assert (other.status, other.body["code"], other.body["field"]) == (403, "privilege_escalation", "context")
    # Its own filters are named as JSON, as every other privilege_escalation names them (never a Python repr).
    assert '[{"tenant": "t-17"}]' in other.body["message"], other.body["message"]
    assert own.status == 201, own.body


def test_a_key_without_the_trust_permission_cannot_define_or_read_policies(api, admin_key) -> None:
    role(api, admin_key, "reader", {"resource": "orders", "actions": ["read"]})
    role(api, admin_key, "key-admin", {"resource": "keys", "actions": ["read", "write"]})
    keys_only = key_with(api, admin_key, ["key-admin"])

    assert api("PUT", f"{TRUST}/deploy", keys_only, policy()).status == 403
    assert api("GET", TRUST, keys_only).status == 403


@pytest.mark.parametrize(
    ("subject", "claims"),
    [("*", {}), ("**", {}), ("repo:acme/*", {}), ("repo:*/billing:**", {}), (None, {"email": "ci@acme.example"})],
)
def test_a_policy_must_pin_a_repository_or_a_user(api, admin_key, subject, claims) -> None:
    role(api, admin_key, "reader", {"resource": "orders", "actions": ["read"]})
    body = {key: value for key, value in policy(subject=subject, claims=claims).items() if value is not None}

    refused = api("PUT", f"{TRUST}/everyone", admin_key, body)

    assert (refused.status, refused.body["field"]) == (422, "subject"), refused.body
    assert api("GET", TRUST, admin_key).body == {"trust_policies": []}


def test_on_aws_the_issuer_must_be_https(api, admin_key, monkeypatch) -> None:
    monkeypatch.setenv("OIDC_ALLOW_LOOPBACK_HTTP", "0")  # as deployed: the template never sets it
    composition.reset()
    role(api, admin_key, "reader", {"resource": "orders", "actions": ["read"]})

    for issuer in ("http://127.0.0.1:3002", "http://token.actions.githubusercontent.com", "https://10.0.0.1"):
        refused = api("PUT", f"{TRUST}/deploy", admin_key, policy(issuer=issuer))
        assert (refused.status, refused.body["field"]) == (422, "issuer"), (issuer, refused.body)
    assert api("PUT", f"{TRUST}/deploy", admin_key, policy()).status == 201


def test_a_policy_naming_a_role_that_does_not_exist_or_an_unknown_field_is_refused(api, admin_key) -> None:
    unknown_role = api("PUT", f"{TRUST}/deploy", admin_key, policy(roles=["nosuch"]))
    unknown_field = api("PUT", f"{TRUST}/deploy", admin_key, {**policy(), "admin": True})

    assert (unknown_role.status, unknown_role.body["code"]) == (422, "unknown_role")
    assert (unknown_field.status, unknown_field.body["field"]) == (422, "admin")


def test_every_change_is_audited_and_read_back_as_written(api, admin_key) -> None:
    role(api, admin_key, "reader", {"resource": "orders", "actions": ["read"]})
    actor = admin_key.split("_")[-1][:12]

    created = api("PUT", f"{TRUST}/deploy", admin_key, policy(claims={"workflow": "deploy"}))
    replaced = api("PUT", f"{TRUST}/deploy", admin_key, policy(max_ttl_seconds=600))
    listed = api("GET", TRUST, admin_key)
    deleted = api("DELETE", f"{TRUST}/deploy", admin_key)

    assert (created.status, replaced.status, deleted.status) == (201, 200, 204)
    assert created.body["claims"] == {"workflow": "deploy"} and created.body["max_ttl_seconds"] == 900
    assert replaced.body["max_ttl_seconds"] == 600 and replaced.body["created_at"] == created.body["created_at"]
    assert [p["name"] for p in listed.body["trust_policies"]] == ["deploy"]
    assert api("GET", f"{TRUST}/deploy", admin_key).status == 404
    audited = sorted((e["event"], e["actor_key_id"], e["details"]["trust_policy"]) for e in events(api, admin_key))
    assert audited == [
        ("trust.created", actor, "deploy"),
        ("trust.deleted", actor, "deploy"),
        ("trust.updated", actor, "deploy"),
    ]


def test_a_role_a_policy_names_cannot_be_deleted_from_under_it(api, admin_key) -> None:
    role(api, admin_key, "reader", {"resource": "orders", "actions": ["read"]})
    assert api("PUT", f"{TRUST}/deploy", admin_key, policy()).status == 201

    refused = api("DELETE", env_path("demo", "dev", "/roles/reader"), admin_key)

    assert (refused.status, refused.body["code"]) == (409, "role_in_use") and "deploy" in refused.body["message"]
    assert api("DELETE", f"{TRUST}/deploy", admin_key).status == 204
    assert api("DELETE", env_path("demo", "dev", "/roles/reader"), admin_key).status == 204
