"""A delivered secret belongs to one key at a time: its `archie-keys:key-id` tag names the key whose value is
its AWSCURRENT, only a caller covering that key may write into it, and another live key's secret is taken
only with `"replace_secret": true` (else 409 secret_in_use), recorded as an event about the key displaced."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

from tests.support import ALL_ACTIONS, env_path

KEYS = env_path("demo", "dev", "/keys")
AUDIT = env_path("demo", "dev", "/audit")
SECRET = "archie/keys/demo/dev/payments"  # a name anyone can guess
TENANT_ADMIN = {
    "permissions": [
        {"resource": "*", "actions": ALL_ACTIONS, "filters": {"tenant": {"from_context": "tenant"}}},
        {"resource": "roles", "actions": ["read"]},
    ]
}
READER = {
    "permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}}]
}
SERVICE = {"permissions": [{"resource": "orders", "actions": ["read", "write"]}]}


@pytest.fixture
def roles(api: Any, admin_key: str) -> None:
    for name, role in (("tenant-admin", TENANT_ADMIN), ("reader", READER), ("service", SERVICE)):
        assert api("PUT", env_path("demo", "dev", f"/roles/{name}"), admin_key, role).status == 201


@pytest.fixture
def tenant_admin(api: Any, admin_key: str, roles: None) -> str:
    body = {"name": "t1 admin", "roles": ["tenant-admin"], "context": {"tenant": "t1"}}
    return str(api("POST", KEYS, admin_key, body).body["key"])


def secret_now(name: str = SECRET) -> tuple[str, str]:
    """(AWSCURRENT value, the key id its tag names)."""
    client = boto3.client("secretsmanager")
    # VersionStage explicitly: moto's default read does not follow a moved AWSCURRENT label.
    value = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
    tags = {t["Key"]: t["Value"] for t in client.describe_secret(SecretId=name)["Tags"]}
    return value, tags["archie-keys:key-id"]


def everything(table_items: Any) -> Any:
    """What a refused request must leave as it was: every item of the three tables, the secret, its versions."""
    client = boto3.client("secretsmanager")
    versions = sorted(v["VersionId"] for v in client.list_secret_version_ids(SecretId=SECRET)["Versions"])
    stages = client.describe_secret(SecretId=SECRET).get("VersionIdsToStages")
    tables = [sorted(map(str, table_items(t))) for t in ("KEYS_TABLE", "AUDIT_TABLE", "IDEMPOTENCY_TABLE")]
    return tables, secret_now(), versions, stages


def events_about(api: Any, key: str, key_id: str) -> list[dict[str, Any]]:
    reply = api("GET", f"{AUDIT}?key_id={key_id}&kind=event", key)
    assert reply.status == 200, reply.body
    return list(reply.body["records"])


def test_an_admin_never_silently_overwrites_a_secret_a_tenant_admin_squatted_and_takes_it_whole_when_asked(
    api, admin_key, tenant_admin, table_items
) -> None:
    # The tenant admin gets there first, with a key of its own tenant, idempotently.
    squat_body = {"name": "payments", "roles": ["reader"], "context": {"tenant": "t1"}, "secret_name": SECRET}
    squat = api("POST", KEYS, tenant_admin, squat_body, headers={"Idempotency-Key": "squat-1"})
    assert squat.status == 201, squat.body
    assert secret_now() == (squat.body["key"], squat.body["key_id"])

    # The unfiltered admin delivers the payments service's key to the same name: told, and nothing written.
    service_body = {"name": "payments service", "roles": ["service"], "secret_name": SECRET}
    before = everything(table_items)
    refused = api("POST", KEYS, admin_key, service_body, headers={"Idempotency-Key": "deliver-1"})
    assert refused.status == 409, refused.body
    assert (refused.body["code"], refused.body["field"], refused.body["key_id"]) == (
        "secret_in_use",
        "secret_name",
        squat.body["key_id"],
    )
    assert everything(table_items) == before

    # With replace_secret the admin's key lands, and the tag names it.
    taken = api("POST", KEYS, admin_key, {**service_body, "replace_secret": True}, headers={"Idempotency-Key": "d-2"})
    assert taken.status == 201 and taken.body["secret_stage"] == "AWSCURRENT", taken.body
    assert secret_now() == (taken.body["key"], taken.body["key_id"])
    displaced = events_about(api, admin_key, squat.body["key_id"])[0]
    assert (displaced["event"], displaced["actor_key_id"], displaced["details"]) == (
        "key.updated",
        admin_key.split("_")[-1][:12],
        {"fields": ["secret_name"], "secret_name": SECRET, "replaced_by": taken.body["key_id"]},
    )

    # The tenant cannot write into it again, by create or by roll, even asking to replace...
    for method, path, body in (
        ("POST", KEYS, {**squat_body, "name": "again"}),
        ("POST", KEYS, {**squat_body, "name": "again", "replace_secret": True}),
        ("POST", f"{KEYS}/{squat.body['key_id']}/roll", {"grace_seconds": 60, "secret_name": SECRET}),
        (
            "POST",
            f"{KEYS}/{squat.body['key_id']}/roll",
            {"grace_seconds": 60, "secret_name": SECRET, "replace_secret": True},
        ),
    ):
        reply = api(method, path, tenant_admin, body)
        assert (reply.status, reply.body["code"]) == (403, "secret_not_owned"), (body, reply.body)
        assert "key_id" not in reply.body  # the key it would displace is not one the tenant may know of
    # ...nor take it back by replaying its own first request: it gets its own key back, never the secret.
    replayed = api("POST", KEYS, tenant_admin, squat_body, headers={"Idempotency-Key": "squat-1"})
    assert replayed.status == 201 and replayed.body["key"] == squat.body["key"]
    assert replayed.body["secret_stage"] == "REPLACED"
    assert secret_now() == (taken.body["key"], taken.body["key_id"])
    # ...nor read it by any route: the admin's key and its trail are not the tenant's to see.
    assert api("GET", f"{KEYS}/{taken.body['key_id']}", tenant_admin).status == 404
    assert api("GET", f"{AUDIT}?key_id={taken.body['key_id']}", tenant_admin).status == 404
    listed = api("GET", KEYS, tenant_admin).body["keys"]
    assert taken.body["key_id"] not in {k["key_id"] for k in listed}
    trail = api("GET", f"{AUDIT}?kind=event", tenant_admin).body["records"]
    assert all(taken.body["key"] not in str(record) for record in trail)

    # The admin's own retries still behave: the same body replays, another body (replace_secret is part of
    # it) is refused.
    again = api("POST", KEYS, admin_key, {**service_body, "replace_secret": True}, headers={"Idempotency-Key": "d-2"})
    assert again.status == 201 and again.body["key"] == taken.body["key"] and again.body["secret_stage"] == "AWSCURRENT"
    other = api("POST", KEYS, admin_key, service_body, headers={"Idempotency-Key": "d-2"})
    assert (other.status, other.body["code"]) == (422, "idempotency_key_reused")


def test_replace_secret_false_is_the_same_request_as_none_and_true_is_another(api, admin_key, roles) -> None:
    body = {"name": "ci", "roles": ["service"], "secret_name": SECRET}
    first = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "ci-1"})
    same = api("POST", KEYS, admin_key, {**body, "replace_secret": False}, headers={"Idempotency-Key": "ci-1"})
    assert first.status == same.status == 201 and same.body["key"] == first.body["key"]
    other = api("POST", KEYS, admin_key, {**body, "replace_secret": True}, headers={"Idempotency-Key": "ci-1"})
    assert (other.status, other.body["code"]) == (422, "idempotency_key_reused")
    wrong_type = api("POST", KEYS, admin_key, {**body, "replace_secret": "yes"})
    assert (wrong_type.status, wrong_type.body["field"]) == (422, "replace_secret"), wrong_type.body


def test_rolling_a_key_into_its_own_secret_needs_no_flag_and_the_tag_follows_the_value(api, admin_key, roles) -> None:
    old = api("POST", KEYS, admin_key, {"name": "ci", "roles": ["service"], "secret_name": SECRET}).body
    rolled = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 3600, "secret_name": SECRET})
    assert rolled.status == 201 and rolled.body["secret_stage"] == "AWSCURRENT", rolled.body
    assert secret_now() == (rolled.body["key"], rolled.body["key_id"])
    assert [e["event"] for e in events_about(api, admin_key, old["key_id"])] == ["key.rolled", "key.created"]
    # The old key is in its grace period but no longer in the secret: another key's create may not displace
    # the successor without asking, and the successor rolls on into it.
    other = api("POST", KEYS, admin_key, {"name": "other", "roles": ["service"], "secret_name": SECRET})
    assert (other.status, other.body["code"], other.body["key_id"]) == (409, "secret_in_use", rolled.body["key_id"])
    again = api("POST", f"{KEYS}/{rolled.body['key_id']}/roll", admin_key, {"grace_seconds": 0, "secret_name": SECRET})
    assert again.status == 201 and secret_now() == (again.body["key"], again.body["key_id"])


@pytest.mark.parametrize(
    "holder_state, needs_flag",
    [
        ("active", True),
        ("rolled, in its grace", True),  # its consumers may still read the secret
        ("rolled, grace over", False),
        ("revoked", False),
    ],
)
def test_only_a_live_holder_needs_replace_secret(api, admin_key, roles, holder_state, needs_flag) -> None:
    holder = api("POST", KEYS, admin_key, {"name": "old", "roles": ["service"], "secret_name": SECRET}).body
    if holder_state.startswith("rolled"):
        grace = 3600 if holder_state.endswith("grace") else 0
        assert api("POST", f"{KEYS}/{holder['key_id']}/roll", admin_key, {"grace_seconds": grace}).status == 201
    if holder_state == "revoked":
        assert api("DELETE", f"{KEYS}/{holder['key_id']}", admin_key).status == 204
    body = {"name": "new", "roles": ["service"], "secret_name": SECRET}
    reply = api("POST", KEYS, admin_key, body)
    if needs_flag:
        assert (reply.status, reply.body["code"], reply.body["key_id"]) == (409, "secret_in_use", holder["key_id"])
        reply = api("POST", KEYS, admin_key, {**body, "replace_secret": True})
    assert reply.status == 201, reply.body
    assert secret_now() == (reply.body["key"], reply.body["key_id"])
    displaced = events_about(api, admin_key, holder["key_id"])[0]
    assert displaced["event"] == "key.updated" and displaced["details"]["replaced_by"] == reply.body["key_id"]


def test_a_secret_whose_key_is_gone_is_writable_only_by_an_unfiltered_caller(api, admin_key, tenant_admin) -> None:
    """Revoked keys are purged after 30 days: a secret left holding one has no known owner."""
    from archie_keys.aws.dynamo import to_item

    body = {"name": "t1 job", "roles": ["reader"], "context": {"tenant": "t1"}, "secret_name": SECRET}
    gone = api("POST", KEYS, tenant_admin, body).body
    assert api("DELETE", f"{KEYS}/{gone['key_id']}", tenant_admin).status == 204
    boto3.client("dynamodb").delete_item(
        TableName=os.environ["KEYS_TABLE"],
        Key=to_item({"pk": "PROJECT#demo#ENV#dev", "sk": f"KEY#{gone['key_id']}"}),
    )
    refused = api("POST", KEYS, tenant_admin, {**body, "name": "t1 job 2"})
    assert (refused.status, refused.body["code"]) == (403, "secret_not_owned")
    taken = api("POST", KEYS, admin_key, {**body, "name": "t1 job 3"})
    assert taken.status == 201 and secret_now() == (taken.body["key"], taken.body["key_id"])
    # Now it holds a t1 key again, so it is the tenant's to roll.
    rolled = api(
        "POST", f"{KEYS}/{taken.body['key_id']}/roll", tenant_admin, {"grace_seconds": 0, "secret_name": SECRET}
    )
    assert rolled.status == 201 and secret_now()[1] == rolled.body["key_id"]


def test_of_two_deliveries_that_read_the_same_holder_only_one_takes_the_secret(
    api, admin_key, roles, table_items, monkeypatch
) -> None:
    """A delivery that commits between another's check and its commit wins; the other is refused whole."""
    from archie_keys.app import delivery, key_creation
    from archie_keys.edge.composition import get_services

    first = api("POST", KEYS, admin_key, {"name": "first", "roles": ["service"], "secret_name": SECRET}).body
    planned = delivery.plan_delivery

    def another_delivery_commits_meanwhile(*args: Any, **kwargs: Any) -> Any:
        plan = planned(*args, **kwargs)
        services = get_services()
        holder = {"key_id": "AAAAAAAAAAAA", "version_id": "v", "updated_at": "2026-01-01T00:00:00Z"}
        services.transactions.commit([services.store.secret_holder_write("demo", "dev", SECRET, holder, plan.previous)])
        return plan

    monkeypatch.setattr(key_creation, "plan_delivery", another_delivery_commits_meanwhile)
    before_keys = len(table_items("KEYS_TABLE"))
    reply = api(
        "POST", KEYS, admin_key, {"name": "second", "roles": ["service"], "secret_name": SECRET, "replace_secret": True}
    )
    assert (reply.status, reply.body["code"], reply.body["field"]) == (409, "conflict", "secret_name"), reply.body
    assert len(table_items("KEYS_TABLE")) == before_keys  # no key; the holder record is the other delivery's
    client = boto3.client("secretsmanager")
    assert client.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"] == first["key"]
    stages = client.describe_secret(SecretId=SECRET)["VersionIdsToStages"]
    assert not any("ARCHIE_PENDING" in labels for labels in stages.values())  # its pending value taken back


def test_a_promotion_cut_between_tag_and_value_leaves_the_secret_claimed_by_its_new_key(
    api, admin_key, tenant_admin, monkeypatch
) -> None:
    """The tag moves before AWSCURRENT: a failure in between never leaves a secret that reads as the displaced
    key's to write into; the replay of the same request finishes the promotion."""
    import botocore.client

    from archie_keys.app import changes

    monkeypatch.setattr(changes, "AFTER_COMMIT_BACKOFF_SECONDS", (0, 0))
    body = {"name": "t1 job", "roles": ["reader"], "context": {"tenant": "t1"}, "secret_name": SECRET}
    squat = api("POST", KEYS, tenant_admin, body).body
    original = botocore.client.BaseClient._make_api_call

    def stage_moves_fail(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateSecretVersionStage" and params.get("VersionStage") == "AWSCURRENT":
            raise RuntimeError("Secrets Manager is down")
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", stage_moves_fail)
    service = {"name": "payments service", "roles": ["service"], "secret_name": SECRET, "replace_secret": True}
    cut = api("POST", KEYS, admin_key, service, headers={"Idempotency-Key": "svc-1"})
    assert cut.status == 201 and cut.body["secret_stage"] == "ARCHIE_PENDING", cut.body
    assert secret_now() == (squat["key"], cut.body["key_id"])  # consumers unmoved; the secret is the admin's
    refused = api("POST", f"{KEYS}/{squat['key_id']}/roll", tenant_admin, {"grace_seconds": 0, "secret_name": SECRET})
    assert (refused.status, refused.body["code"]) == (403, "secret_not_owned")
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    finished = api("POST", KEYS, admin_key, service, headers={"Idempotency-Key": "svc-1"})
    assert finished.status == 201 and finished.body["secret_stage"] == "AWSCURRENT"
    assert secret_now() == (cut.body["key"], cut.body["key_id"])


def test_a_secret_delivered_before_holder_records_is_known_by_its_tag(api, admin_key, tenant_admin) -> None:
    """Secrets delivered by an earlier version have no holder record: their tag says whose they are, the first
    delivery since records it, and a replay of their creation promotes nothing."""
    from archie_keys.aws.dynamo import to_item

    def forget_the_record() -> None:
        key = to_item({"pk": "PROJECT#demo#ENV#dev", "sk": f"SECRET#{SECRET}"})
        boto3.client("dynamodb").delete_item(TableName=os.environ["KEYS_TABLE"], Key=key)

    service = {"name": "payments service", "roles": ["service"], "secret_name": SECRET}
    old = api("POST", KEYS, admin_key, service, headers={"Idempotency-Key": "old-1"}).body
    forget_the_record()
    squat = api("POST", KEYS, tenant_admin, {**service, "roles": ["reader"], "context": {"tenant": "t1"}})
    assert (squat.status, squat.body["code"]) == (403, "secret_not_owned")
    refused = api("POST", KEYS, admin_key, {**service, "name": "new"})
    assert (refused.status, refused.body["code"], refused.body["key_id"]) == (409, "secret_in_use", old["key_id"])
    replayed = api("POST", KEYS, admin_key, service, headers={"Idempotency-Key": "old-1"})
    assert replayed.status == 201 and replayed.body["secret_stage"] == "AWSCURRENT"
    taken = api("POST", KEYS, admin_key, {**service, "name": "new", "replace_secret": True})
    assert taken.status == 201 and secret_now() == (taken.body["key"], taken.body["key_id"])
