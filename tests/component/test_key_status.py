"""Every state of a key is visible: one `status` on every key answer, revoked keys found again (with when, by
whom and why) while they are retained, listings filtered by status, and a second DELETE that changes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest

from tests.support import ALL_ACTIONS, env_path, in_process_functions

KEYS = env_path("demo", "dev", "/keys")
ROLES = env_path("demo", "dev", "/roles")
READER = {"permissions": [{"resource": "orders", "actions": ["read"]}]}
TENANT_ADMIN = {
    "permissions": [
        {"resource": "*", "actions": ALL_ACTIONS, "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "roles", "actions": ["read"]},
    ]
}


@pytest.fixture
def roles(api: Any, admin_key: str) -> None:
    for name, body in (("reader", READER), ("tenant-admin", TENANT_ADMIN)):
        assert api("PUT", f"{ROLES}/{name}", admin_key, body).status == 201


def make_key(api: Any, admin: str, name: str, **body: Any) -> dict[str, Any]:
    reply = api("POST", KEYS, admin, {"name": name, "roles": ["reader"], **body})
    assert reply.status == 201, reply.body
    return dict(reply.body)


def set_stored(aws: Any, key_id: str, **numbers: float) -> None:
    """A key's stored record as time would leave it (an expiry or a purge time passed), without waiting."""
    names = {f"#n{i}": name for i, name in enumerate(numbers)}
    boto3.client("dynamodb").update_item(
        TableName=aws.environment["KEYS_TABLE"],
        Key={"pk": {"S": "PROJECT#demo#ENV#dev"}, "sk": {"S": f"KEY#{key_id}"}},
        UpdateExpression="SET " + ", ".join(f"#n{i} = :v{i}" for i in range(len(numbers))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":v{i}": {"N": str(int(v))} for i, v in enumerate(numbers.values())},
    )


def listed(api: Any, key: str, query: str = "") -> list[str]:
    """Every key id of a listing, through all its pages (two keys a page, so paging is part of it)."""
    ids, token = [], None
    while True:
        reply = api("GET", f"{KEYS}?limit=2{query}" + (f"&next_token={token}" if token else ""), key)
        assert reply.status == 200, reply.body
        ids += [k["key_id"] for k in reply.body["keys"]]
        token = reply.body["next_token"]
        if token is None:
            return ids


@pytest.fixture
def every_state(aws: Any, api: Any, admin_key: str, roles: None) -> dict[str, dict[str, Any]]:
    """One key in each state, and the reason each revoked one was revoked."""
    keys = {name: make_key(api, admin_key, name) for name in ("active", "disabled", "rolled", "expired", "deleted")}
    keys["rolled away"] = make_key(api, admin_key, "rolled away")
    keys["mass"] = make_key(api, admin_key, "mass", context={"tenant": "t-17"})
    assert api("PATCH", f"{KEYS}/{keys['disabled']['key_id']}", admin_key, {"enabled": False}).status == 200
    assert api("POST", f"{KEYS}/{keys['rolled']['key_id']}/roll", admin_key, {"grace_seconds": 600}).status == 201
    rolled_away = api("POST", f"{KEYS}/{keys['rolled away']['key_id']}/roll", admin_key, {"grace_seconds": 0})
    assert rolled_away.status == 201
    keys["successors"] = [rolled_away.body]
    set_stored(aws, keys["expired"]["key_id"], expires_epoch=time.time() - 1)
    assert api("DELETE", f"{KEYS}/{keys['deleted']['key_id']}", admin_key).status == 204
    started = api("POST", f"{KEYS}/revocations", admin_key, {"context": {"tenant": "t-17"}, "reason": "contract"})
    assert started.status == 202, started.body
    assert in_process_functions().wait_idle(60)
    return keys


def test_every_key_answer_says_its_status_and_a_revoked_key_says_when_by_whom_and_why(
    api, admin_key, every_state
) -> None:
    admin_id = admin_key.split("_")[-1][:12]
    shown = {
        name: api("GET", f"{KEYS}/{every_state[name]['key_id']}", admin_key).body
        for name in every_state
        if name != "successors"
    }
    assert {name: key["status"] for name, key in shown.items()} == {
        "active": "active",
        "disabled": "disabled",
        "rolled": "rolled",
        "expired": "expired",
        "deleted": "revoked",
        "rolled away": "revoked",
        "mass": "revoked",
    }
    revoked = {name: (k["revoked_reason"], k["revoked_by"]) for name, k in shown.items() if k["status"] == "revoked"}
    assert revoked == {
        "deleted": ("deleted", admin_id),
        "rolled away": ("rolled_away", admin_id),
        "mass": ("mass_revocation", admin_id),
    }
    assert all(shown[name]["revoked_at"] for name in revoked)
    assert shown["rolled away"]["revoked_at"] == shown["rolled away"]["expires_at"]  # when its grace ended
    assert all(k["revoked_at"] is None and k["revoked_reason"] is None for n, k in shown.items() if n not in revoked)
    assert (shown["disabled"]["enabled"], shown["active"]["enabled"]) == (False, True)


def test_a_listing_shows_every_status_but_revoked_unless_asked_and_filters_by_status_across_pages(
    api, admin_key, every_state
) -> None:
    ids = {name: key["key_id"] for name, key in every_state.items() if name != "successors"}
    default = listed(api, admin_key)
    assert {ids[n] for n in ("active", "disabled", "rolled", "expired")} <= set(default)
    assert not {ids[n] for n in ("deleted", "rolled away", "mass")} & set(default)
    assert listed(api, admin_key, "&status=revoked") == [
        ids["mass"],
        ids["rolled away"],
        ids["deleted"],
    ]  # newest first
    assert listed(api, admin_key, "&status=disabled") == [ids["disabled"]]
    assert listed(api, admin_key, "&status=expired") == [ids["expired"]]
    assert listed(api, admin_key, "&status=rolled") == [ids["rolled"]]
    both = listed(api, admin_key, "&status=disabled,revoked")
    assert both == [ids["mass"], ids["rolled away"], ids["deleted"], ids["disabled"]]
    # With a name too: a leaked or deleted key is found by its name.
    assert listed(api, admin_key, "&status=revoked&name=DELE") == [ids["deleted"]]


@pytest.mark.parametrize("status", ["gone", "", "active,", "ACTIVE"])
def test_an_unknown_status_is_refused_with_its_field(api, admin_key, status) -> None:
    reply = api("GET", f"{KEYS}?status={status}", admin_key)
    assert (reply.status, reply.body["code"], reply.body["field"]) == (422, "validation_error", "status")


def test_a_next_token_goes_on_only_with_the_status_it_was_issued_for(api, admin_key, roles) -> None:
    for i in range(3):
        make_key(api, admin_key, f"k{i}")
    token = api("GET", f"{KEYS}?limit=1", admin_key).body["next_token"]
    assert token
    reply = api("GET", f"{KEYS}?limit=1&status=revoked&next_token={token}", admin_key)
    assert (reply.status, reply.body["field"]) == (422, "next_token")


def test_a_tenant_admin_sees_only_its_own_revoked_keys(api, admin_key, roles) -> None:
    t1_admin = make_key(api, admin_key, "t1 admin", roles=["tenant-admin"], context={"tenant": "t1"})["key"]
    own = make_key(api, admin_key, "t1 key", context={"tenant": "t1"})
    other = make_key(api, admin_key, "t2 key", context={"tenant": "t2"})
    for key in (own, other):
        assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204
    assert listed(api, t1_admin, "&status=revoked") == [own["key_id"]]
    assert api("GET", f"{KEYS}/{own['key_id']}", t1_admin).body["status"] == "revoked"
    assert api("GET", f"{KEYS}/{other['key_id']}", t1_admin).status == 404  # as if it did not exist
    assert api("DELETE", f"{KEYS}/{other['key_id']}", t1_admin).status == 404


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stages each cache flush was asked for (the call passes through: it is only seen)."""
    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "FlushStageAuthorizersCache":
            seen.append(f"{params['restApiId']}/{params['stageName']}")
            return {}  # moto has no API Gateway control plane
        return original(client, operation, params)

    monkeypatch.setenv("FLUSH_TARGETS", "mgmt/v1")
    from archie_keys.edge import composition

    composition.reset()
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    yield seen


def test_a_second_delete_answers_204_changes_and_records_nothing_and_flushes_again_while_a_cache_may_hold_it(
    aws, api, admin_key, roles, flushes, table_items
) -> None:
    key = make_key(api, admin_key, "retried")
    assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204
    assert flushes  # the revocation flushed
    keys_before, flushed_before = table_items("KEYS_TABLE"), len(flushes)

    # A retry (the first answer lost, or the first DELETE dead between its commit and its flush) flushes again.
    assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204
    assert api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=60", admin_key).status == 204
    assert table_items("KEYS_TABLE") == keys_before and len(flushes) > flushed_before
    # Past API Gateway's longest cache, nothing can hold the key: a retry then flushes nothing.
    boto3.client("dynamodb").update_item(
        TableName=aws.environment["KEYS_TABLE"],
        Key={"pk": {"S": "PROJECT#demo#ENV#dev"}, "sk": {"S": f"KEY#{key['key_id']}"}},
        UpdateExpression="SET revoked_at = :long_ago",
        ExpressionAttributeValues={":long_ago": {"S": "2026-01-01T00:00:00.000Z"}},
    )
    keys_before, flushed_before = table_items("KEYS_TABLE"), len(flushes)
    assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204
    assert table_items("KEYS_TABLE") == keys_before and len(flushes) == flushed_before
    events = [i for i in table_items("AUDIT_TABLE") if i.get("event", {}).get("S") == "key.deleted"]
    assert len(events) == 1  # no second event


def test_a_revoked_key_is_gone_once_its_retention_ends(aws, api, admin_key, roles) -> None:
    key = make_key(api, admin_key, "old")
    assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204
    set_stored(aws, key["key_id"], purge_epoch=time.time() - 1)  # DynamoDB's TTL may take days to delete it
    assert api("GET", f"{KEYS}/{key['key_id']}", admin_key).status == 404
    assert key["key_id"] not in listed(api, admin_key, "&status=revoked")
