"""PATCH /keys/{key_id}: a key's owner renames it, changes its roles, context and expiry, or disables it, as
the management API (the template's routes, the real authorizer and handlers, moto in-process) answers."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from tests.support import ALL_ACTIONS, env_path

KEYS = env_path("demo", "dev", "/keys")
ROLES = env_path("demo", "dev", "/roles")
VERIFY = env_path("demo", "dev", "/verify")
READER = {
    "permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]
}
WRITER = {"permissions": [{"resource": "orders", "actions": ["read", "write"]}]}
TENANT_ADMIN = {
    "permissions": [
        {"resource": "*", "actions": ALL_ACTIONS, "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "roles", "actions": ["read"]},
    ]
}


def at(seconds_from_now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


@pytest.fixture
def roles(api: Any, admin_key: str) -> None:
    for name, body in (("reader", READER), ("writer", WRITER), ("tenant-admin", TENANT_ADMIN)):
        assert api("PUT", f"{ROLES}/{name}", admin_key, body).status == 201


def make_key(api: Any, admin: str, **body: Any) -> dict[str, Any]:
    reply = api("POST", KEYS, admin, {"name": "billing ci", "roles": ["reader"], "context": {"tenant": "t1"}, **body})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def key_count(api: Any, admin: str, role: str) -> int:
    return int(api("GET", f"{ROLES}/{role}", admin).body["key_count"])


def events_of(api: Any, admin: str, key_id: str) -> list[dict[str, Any]]:
    records = api("GET", env_path("demo", "dev", f"/audit?key_id={key_id}&kind=event"), admin).body["records"]
    return [r for r in records if r["event"] == "key.updated"]


def test_an_owner_renames_a_key_and_changes_its_roles_context_and_expiry_in_one_audited_change(
    api, admin_key, roles
) -> None:
    key = make_key(api, admin_key)
    expires = at(7200)
    reply = api(
        "PATCH",
        f"{KEYS}/{key['key_id']}",
        admin_key,
        {"name": "billing ci (old)", "roles": ["writer"], "context": {"tenant": "t2"}, "expires_at": expires},
    )
    assert reply.status == 200, reply.body
    shown = api("GET", f"{KEYS}/{key['key_id']}", admin_key).body
    for answer in (reply.body, shown):
        assert (answer["name"], answer["roles"], answer["context"]) == (
            "billing ci (old)",
            ["writer"],
            {"tenant": "t2"},
        )
        assert answer["expires_at"].startswith(expires[:19]) and answer["updated_at"] and answer["status"] == "active"
    # The key's value is unchanged: it now does what its new role allows.
    assert api("POST", VERIFY, admin_key, {"key": key["key"], "resource": "orders", "action": "write"}).body["valid"]
    # Its roles' counts moved with it, and one event names what changed: old and new, the context by name only.
    assert (key_count(api, admin_key, "reader"), key_count(api, admin_key, "writer")) == (0, 1)
    (event,) = events_of(api, admin_key, key["key_id"])
    details = event["details"]
    assert details["fields"] == ["context", "expires_at", "name", "roles"]
    assert details["name"] == {"old": "billing ci", "new": "billing ci (old)"}
    assert details["roles"] == {"old": ["reader"], "new": ["writer"]}
    assert details["expires_at"]["old"] is None and details["expires_at"]["new"].startswith(expires[:19])
    assert details["context"] == {"changed": ["tenant"]} and "t2" not in str(details)
    assert key["key"] not in str(event)


def test_expires_at_null_makes_a_key_last_and_a_new_expiry_gets_its_flush_scheduled(aws, api, admin_key, roles) -> None:
    key = make_key(api, admin_key, expires_at=at(3600))
    later = at(7200)
    assert api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"expires_at": later}).status == 200
    from archie_keys.aws.schedules import schedule_name
    from archie_keys.domain.clock import from_iso

    second = int(from_iso(api("GET", f"{KEYS}/{key['key_id']}", admin_key).body["expires_at"]))
    group = aws.environment["EXPIRY_SCHEDULE_GROUP"]
    names = {s["Name"] for s in boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]}
    assert schedule_name("demo", "dev", second) in names
    cleared = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"expires_at": None})
    assert cleared.status == 200 and cleared.body["expires_at"] is None


def test_a_disabled_key_is_refused_everywhere_with_reason_disabled_until_enabled(api, apis, admin_key, roles) -> None:
    key = make_key(api, admin_key)
    sample = apis["SampleApi"]
    assert sample("GET", "/orders/1", key["key"]).status == 200  # the gateway caches this Allow

    disabled = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"enabled": False})
    assert disabled.status == 200 and (disabled.body["status"], disabled.body["enabled"]) == ("disabled", False)
    assert sample("GET", "/orders/1", key["key"]).status == 403  # at once, although an Allow was cached
    assert api("POST", VERIFY, admin_key, {"key": key["key"]}).body == {"valid": False, "code": "disabled"}
    listed = api("GET", f"{KEYS}?status=disabled", admin_key).body["keys"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]

    enabled = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"enabled": True})
    assert enabled.status == 200 and enabled.body["status"] == "active"
    assert sample("GET", "/orders/1", key["key"]).status == 200  # the same value works again, at once
    changes = [e["details"].get("enabled") for e in events_of(api, admin_key, key["key_id"])]
    assert changes == [{"old": False, "new": True}, {"old": True, "new": False}]  # newest first


def test_a_change_that_would_grant_more_than_the_caller_has_is_refused_and_changes_nothing(
    api, admin_key, roles
) -> None:
    assert (
        api(
            "PUT",
            f"{ROLES}/key-editor",
            admin_key,
            {
                "permissions": [
                    {"resource": "keys", "actions": ALL_ACTIONS},
                    {"resource": "orders", "actions": ["read"]},
                ]
            },
        ).status
        == 201
    )
    editor = make_key(api, admin_key, name="editor", roles=["key-editor"], context={})["key"]
    key = make_key(api, editor, context={"tenant": "t1"})
    path = f"{KEYS}/{key['key_id']}"

    escalated = api("PATCH", path, editor, {"roles": ["writer"]})
    assert (escalated.status, escalated.body["code"]) == (403, "privilege_escalation")
    missing = api("PATCH", path, editor, {"context": {}})
    assert (missing.status, missing.body["code"], missing.body["field"]) == (422, "missing_context", "context.tenant")
    unknown = api("PATCH", path, editor, {"roles": ["nope"]})
    assert (unknown.status, unknown.body["code"]) == (422, "unknown_role")
    assert api("GET", path, admin_key).body["roles"] == ["reader"] and events_of(api, admin_key, key["key_id"]) == []
    # Taking away, or renaming, needs no more than the caller has.
    assert api("PATCH", path, editor, {"name": "renamed", "enabled": False}).status == 200


def test_a_tenant_admin_changes_only_its_tenants_keys_and_cannot_move_one_out_of_its_rows(
    api, admin_key, roles
) -> None:
    t1_admin = make_key(api, admin_key, name="t1 admin", roles=["tenant-admin"], context={"tenant": "t1"})["key"]
    own = make_key(api, admin_key, context={"tenant": "t1"})
    other = make_key(api, admin_key, context={"tenant": "t2"})

    assert api("PATCH", f"{KEYS}/{own['key_id']}", t1_admin, {"name": "t1 reader"}).status == 200
    hidden = api("PATCH", f"{KEYS}/{other['key_id']}", t1_admin, {"name": "mine now"})
    assert (hidden.status, hidden.body["code"]) == (404, "not_found")  # as if it did not exist
    moved = api("PATCH", f"{KEYS}/{own['key_id']}", t1_admin, {"context": {"tenant": "t2"}})
    assert (moved.status, moved.body["code"]) == (403, "privilege_escalation")
    assert api("GET", f"{KEYS}/{own['key_id']}", admin_key).body["context"] == {"tenant": "t1"}
    assert api("PATCH", f"{KEYS}/AAAAAAAAAAAA", admin_key, {"name": "x"}).status == 404


def expire_now(aws: Any, key_id: str) -> None:
    """Stored as a key whose expiry second has passed (no waiting for the clock)."""
    boto3.client("dynamodb").update_item(
        TableName=aws.environment["KEYS_TABLE"],
        Key={"pk": {"S": "PROJECT#demo#ENV#dev"}, "sk": {"S": f"KEY#{key_id}"}},
        UpdateExpression="SET expires_epoch = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )


def test_a_revoked_rolled_or_expired_key_cannot_be_changed(aws, api, admin_key, roles) -> None:
    revoked = make_key(api, admin_key)
    assert api("DELETE", f"{KEYS}/{revoked['key_id']}", admin_key).status == 204
    rolled = make_key(api, admin_key)
    assert api("POST", f"{KEYS}/{rolled['key_id']}/roll", admin_key, {"grace_seconds": 600}).status == 201
    expiring = make_key(api, admin_key, expires_at=at(3600))
    expire_now(aws, expiring["key_id"])
    for key in (revoked, rolled, expiring):
        reply = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"enabled": False})
        assert (reply.status, reply.body["code"], reply.body["field"]) == (409, "key_not_active", "key_id"), reply.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"name": None}, "name"),
        ({"enabled": None}, "enabled"),
        ({"roles": []}, "roles"),
        ({"enabled": "false"}, "enabled"),
        ({"key": "archie_demo_dev_x"}, "key"),
        ({"expires_at": "tomorrow"}, "expires_at"),
    ],
)
def test_a_patch_that_names_nothing_or_something_invalid_is_refused_with_its_field(
    api, admin_key, roles, body, field
) -> None:
    key = make_key(api, admin_key)
    reply = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, body)
    assert (reply.status, reply.body["field"]) == (422, field), reply.body


def test_an_expiry_too_soon_is_refused_as_on_create(api, admin_key, roles) -> None:
    key = make_key(api, admin_key)
    reply = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"expires_at": at(-60)})
    assert (reply.status, reply.body["field"]) == (422, "expires_at")


def test_a_patch_that_changes_nothing_records_nothing(api, admin_key, roles) -> None:
    key = make_key(api, admin_key)
    reply = api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"name": "billing ci", "enabled": True})
    assert reply.status == 200 and reply.body["updated_at"] is None
    assert events_of(api, admin_key, key["key_id"]) == []


def test_a_roll_after_a_change_copies_the_key_as_changed(api, admin_key, roles) -> None:
    key = make_key(api, admin_key)
    assert api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"roles": ["writer"], "name": "moved"}).status == 200
    rolled = api("POST", f"{KEYS}/{key['key_id']}/roll", admin_key, {"grace_seconds": 60})
    assert rolled.status == 201, rolled.body
    assert (rolled.body["record"]["roles"], rolled.body["record"]["name"]) == (["writer"], "moved")


def test_a_roll_read_before_a_change_and_committed_after_it_is_refused(api, admin_key, roles) -> None:
    """Else the successor would copy the roles and context the change replaced."""
    from archie_keys.aws.dynamo import TransactionRefused
    from archie_keys.edge.composition import get_services

    services = get_services()
    key = make_key(api, admin_key)
    read_before = services.store.get_key("demo", "dev", key["key_id"])
    assert api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"roles": ["writer"]}).status == 200
    for stale in (read_before, services.store.get_key("demo", "dev", key["key_id"])):
        assert api("PATCH", f"{KEYS}/{key['key_id']}", admin_key, {"name": f"again {id(stale)}"}).status == 200
        with pytest.raises(TransactionRefused) as refused:
            services.transactions.commit([services.store.key_roll_write(stale, {"rolled_to": "A" * 12})])
        assert refused.value.labels == ["rolled_key"]


def test_an_owner_narrows_and_widens_a_keys_allow_list_and_verify_follows(api, admin_key, roles) -> None:
    key = make_key(api, admin_key)
    url = f"{KEYS}/{key['key_id']}"

    def code(address: str) -> str:
        return str(api("POST", VERIFY, admin_key, {"key": key["key"], "source_ip": address}).body.get("code"))

    assert code("192.0.2.1") == "valid"
    narrowed = api("PATCH", url, admin_key, {"allowed_cidrs": ["10.0.0.0/8"]})
    assert narrowed.status == 200 and narrowed.body["allowed_cidrs"] == ["10.0.0.0/8"], narrowed.body
    assert (code("10.1.2.3"), code("192.0.2.1")) == ("valid", "source_ip_not_allowed")

    widened = api("PATCH", url, admin_key, {"allowed_cidrs": []})
    assert widened.status == 200 and widened.body["allowed_cidrs"] == []
    assert code("192.0.2.1") == "valid"
    changes = [e["details"].get("allowed_cidrs") for e in events_of(api, admin_key, key["key_id"])]
    assert changes == [{"old": ["10.0.0.0/8"], "new": []}, {"old": [], "new": ["10.0.0.0/8"]}]  # newest first

    for bad in (["10.0.0.0/33"], None, [f"10.0.{i}.0/24" for i in range(17)]):
        refused = api("PATCH", url, admin_key, {"allowed_cidrs": bad})
        assert refused.status == 422 and str(refused.body["field"]).startswith("allowed_cidrs"), refused.body
    assert api("GET", url, admin_key).body["allowed_cidrs"] == []
