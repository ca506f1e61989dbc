"""Rotation: a successor shown once, the old key idle after its grace period, and secret delivery."""

from __future__ import annotations

import calendar
import json
import time

import boto3

from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")


def setup_key(api, admin: str, **extra) -> dict:
    api(
        "PUT",
        env_path("demo", "dev", "/roles/reader"),
        admin,
        {
            "permissions": [
                {"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}},
                {"resource": "keys", "actions": ["read"]},
            ]
        },
    )
    reply = api(
        "POST",
        KEYS,
        admin,
        {"name": "billing", "prefix": "bill_", "roles": ["reader"], "context": {"tenant": "t1"}, **extra},
    )
    assert reply.status == 201, reply.body
    return reply.body


def test_roll_creates_a_linked_successor_and_expires_the_old_key_after_the_grace(api, admin_key) -> None:
    old = setup_key(api, admin_key)
    rolled = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 3600})
    assert rolled.status == 201, rolled.body
    new = rolled.body
    assert new["key"].startswith("bill_demo_dev_") and new["key"] != old["key"]
    for field in ("name", "prefix", "roles", "context"):
        assert new["record"][field] == old["record"][field]
    # One field per meaning: `rolled_from` is always the old key's id, `old_key` the old key itself.
    assert new["record"]["rolled_from"] == old["key_id"] and "rolled_from" not in new
    assert new["old_key"]["key_id"] == old["key_id"] and new["old_key"]["rolled_to"] == new["key_id"]
    old_view = api("GET", f"{KEYS}/{old['key_id']}", admin_key).body
    assert (
        old_view["rolled_to"] == new["key_id"] and old_view["status"] == "rolled"
    )  # still accepted until its grace ends
    expires = time.mktime(time.strptime(old_view["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(expires - (time.time() + 3600)) < 60
    # Both work during the grace period.
    assert api("GET", KEYS, old["key"]).status == 200 and api("GET", KEYS, new["key"]).status == 200
    # Rolling the same key twice is refused: the first successor is the one consumers are moving to.
    assert api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 0}).status == 409
    created = api("GET", env_path("demo", "dev", f"/audit?key_id={new['key_id']}"), admin_key).body["records"]
    assert created[0]["event"] == "key.created" and created[0]["details"]["rolled_from"] == old["key_id"]
    rolled = api("GET", env_path("demo", "dev", f"/audit?key_id={old['key_id']}"), admin_key).body["records"]
    assert rolled[0]["event"] == "key.rolled" and rolled[0]["details"]["rolled_to"] == new["key_id"]


def test_a_roll_without_grace_refuses_the_old_key_at_once(api, admin_key) -> None:
    old = setup_key(api, admin_key)
    new = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 0}).body
    assert api("GET", KEYS, old["key"]).status == 403
    assert api("GET", KEYS, new["key"]).status == 200


def test_roll_input_is_validated(api, admin_key) -> None:
    old = setup_key(api, admin_key)
    for body, field in (
        ({}, "grace_seconds"),
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"grace_seconds": 604801}, "grace_seconds"),
        ({"grace_seconds": 1, "x": 1}, "x"),
    ):
        reply = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, body)
        assert reply.status == 422 and reply.body["field"] == field
    assert api("POST", f"{KEYS}/AAAAAAAAAAAA/roll", admin_key, {"grace_seconds": 1}).status == 404


def test_the_key_is_delivered_to_secrets_manager_and_the_previous_version_kept(api, admin_key) -> None:
    old = setup_key(api, admin_key, secret_name="archie/keys/demo/dev/billing")
    secrets = boto3.client("secretsmanager")
    current = secrets.get_secret_value(SecretId="archie/keys/demo/dev/billing", VersionStage="AWSCURRENT")
    assert current["SecretString"] == old["key"]
    new = api(
        "POST",
        f"{KEYS}/{old['key_id']}/roll",
        admin_key,
        {"grace_seconds": 60, "secret_name": "archie/keys/demo/dev/billing"},
    ).body
    assert new["secret_name"] == "archie/keys/demo/dev/billing" and new["secret_version_id"]
    assert (
        secrets.get_secret_value(SecretId="archie/keys/demo/dev/billing", VersionStage="AWSCURRENT")["SecretString"]
        == new["key"]
    )
    assert (
        secrets.get_secret_value(SecretId="archie/keys/demo/dev/billing", VersionStage="AWSPREVIOUS")["SecretString"]
        == old["key"]
    )


def test_secret_delivery_outside_the_configured_prefix_is_refused_and_creates_nothing(
    api, admin_key, table_items
) -> None:
    setup_key(api, admin_key)
    before = table_items("KEYS_TABLE")
    for name in ("prod/database-password", "archie/keys/", "archie/keys/../other", "archie/other/x"):
        reply = api(
            "POST", KEYS, admin_key, {"name": "x", "roles": ["reader"], "context": {"tenant": "t"}, "secret_name": name}
        )
        assert reply.status == 422 and reply.body["field"] == "secret_name", (name, reply.body)
    assert table_items("KEYS_TABLE") == before
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert all(not n.startswith(("prod/", "archie/other")) for n in names)


def test_the_old_keys_expiry_after_the_grace_is_scheduled_to_flush_the_gateway_caches(aws, api, admin_key) -> None:
    from archie_keys.aws.schedules import SCHEDULER_PRECISION_SECONDS, schedule_name
    from archie_keys.domain.clock import from_iso

    old = setup_key(api, admin_key)
    rolled = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 600})
    second = int(from_iso(rolled.body["old_key"]["expires_at"]))
    scheduler = boto3.client("scheduler")
    group = aws.environment["EXPIRY_SCHEDULE_GROUP"]
    # One schedule for the environment's second of expiry, firing early enough that Scheduler's minute of
    # precision still ends before it: the flush function then waits for the very second.
    schedule = scheduler.get_schedule(Name=schedule_name("demo", "dev", second), GroupName=group)
    assert schedule["Target"]["Arn"] == aws.environment["EXPIRY_FLUSH_FUNCTION_ARN"]
    assert json.loads(schedule["Target"]["Input"]) == {"project": "demo", "environment": "dev", "expires_epoch": second}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    fires = calendar.timegm(time.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)"))
    assert fires % 60 == 0 and fires + SCHEDULER_PRECISION_SECONDS < second


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_the_successor_of_an_expiring_key_gets_the_same_lifetime_from_now(api, admin_key) -> None:
    """A key made an hour ago to live three hours has two left; its successor gets three, not two (nor none),
    unless the roll says otherwise."""
    from archie_keys.aws.dynamo import to_item
    from archie_keys.domain.clock import from_iso
    from archie_keys.edge.composition import get_services

    now = time.time()
    old = setup_key(api, admin_key, expires_at=iso(now + 2 * 3600))
    boto3.client("dynamodb").update_item(
        TableName=get_services().settings.keys_table,
        Key=to_item({"pk": "PROJECT#demo#ENV#dev", "sk": f"KEY#{old['key_id']}"}),
        UpdateExpression="SET created_at = :made",
        ExpressionAttributeValues=to_item({":made": iso(now - 3600)}),
    )
    rolled = api("POST", f"{KEYS}/{old['key_id']}/roll", admin_key, {"grace_seconds": 60})
    assert rolled.status == 201, rolled.body
    assert abs(from_iso(rolled.body["record"]["expires_at"]) - (now + 3 * 3600)) < 120

    chosen = iso(now + 86400)
    again = api("POST", f"{KEYS}/{rolled.body['key_id']}/roll", admin_key, {"grace_seconds": 60, "expires_at": chosen})
    assert again.status == 201 and from_iso(again.body["record"]["expires_at"]) == from_iso(chosen)


def test_a_roll_replayed_from_an_answer_stored_before_old_key_had_its_name_answers_with_old_key(api, admin_key) -> None:
    from archie_keys.edge.composition import get_services

    old = setup_key(api, admin_key)
    roll = f"{KEYS}/{old['key_id']}/roll"
    first = api("POST", roll, admin_key, {"grace_seconds": 600}, headers={"Idempotency-Key": "rotate-1"}).body
    # The stored answer as the version before this one wrote it: the old key under `rolled_from`.
    table = boto3.resource("dynamodb").Table(get_services().idempotency.table)
    (stored,) = [item for item in table.scan()["Items"] if item.get("key_id") == first["key_id"]]
    stored["response"]["rolled_from"] = stored["response"].pop("old_key")
    table.put_item(Item=stored)
    again = api("POST", roll, admin_key, {"grace_seconds": 600}, headers={"Idempotency-Key": "rotate-1"})
    assert again.status == 201 and again.body["key"] == first["key"]
    assert "rolled_from" not in again.body and again.body["old_key"]["key_id"] == old["key_id"]
