"""Rotating the pepper with live keys loses none: keys hashed with the old version keep working and move to the
new one on their next use, new keys use the new one, idempotent replays from before still answer, and the old
version is retired only once no key needs it."""

from __future__ import annotations

from typing import Any

import boto3

from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from archie_tools.pepper import KEEP_PREFIX, UNRECORDED, PepperAdmin
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}


def admin_tool(aws: Any) -> PepperAdmin:
    return PepperAdmin(
        boto3.client("secretsmanager"),
        boto3.client("dynamodb"),
        aws.environment["PEPPER_SECRET_ID"],
        aws.environment["KEYS_TABLE"],
    )


def stored(key: str) -> dict[str, Any]:
    key_id = key.split("_")[-1][:12]
    record = get_services().store.get_key("demo", "dev", key_id)
    assert record is not None
    return record


def new_process() -> None:
    """What a Lambda function does at its next cold start (and, within PEPPER_MAX_AGE_SECONDS, warm too)."""
    composition.reset()


def test_rotating_the_pepper_loses_no_key(aws, api, admin_key) -> None:
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    keys = [api("POST", KEYS, admin_key, {"name": f"k{i}", "roles": ["viewer"]}).body["key"] for i in range(3)]
    replayable = api("POST", KEYS, admin_key, {"name": "ci", "roles": ["viewer"]}, headers={"Idempotency-Key": "ci-1"})
    tool = admin_tool(aws)
    first = tool.current()
    assert all(stored(key)["pepper_version"] == first for key in keys)

    second = tool.rotate()
    new_process()
    assert second != first and tool.versions()[first] == ["AWSPREVIOUS", KEEP_PREFIX + first]

    # An old key still works, and its hash moves to the new version on that use.
    assert api("GET", env_path("demo", "dev", "/whoami"), keys[0]).status == 200
    assert stored(keys[0])["pepper_version"] == second
    # New keys use the new version; a replay sealed under the old one still answers.
    fresh = api("POST", KEYS, admin_key, {"name": "new", "roles": ["viewer"]}).body["key"]
    assert stored(fresh)["pepper_version"] == second
    replay = api("POST", KEYS, admin_key, {"name": "ci", "roles": ["viewer"]}, headers={"Idempotency-Key": "ci-1"})
    assert replay.status == 201 and replay.body["key"] == replayable.body["key"]

    # Keys not used since still need the old version: it is not retired while they exist...
    retired, kept = tool.retire()
    assert retired == [] and kept == [first]
    for key in [*keys[1:], replayable.body["key"], admin_key]:
        assert api("GET", env_path("demo", "dev", "/whoami"), key).status == 200
    # ...and once every key has moved, it is.
    assert tool.usage().get(first, 0) == 0
    retired, kept = tool.retire()
    assert retired == [first] and kept == []
    assert not any(label.startswith(KEEP_PREFIX) for label in tool.versions()[first])


def test_keys_from_before_versions_were_recorded_are_marked_before_the_first_rotation(aws, api, admin_key) -> None:
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    key = api("POST", KEYS, admin_key, {"name": "legacy", "roles": ["viewer"]}).body["key"]
    table, record = aws.environment["KEYS_TABLE"], stored(key)
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": "PROJECT#demo#ENV#dev"}, "sk": {"S": f"KEY#{record['key_id']}#HASH"}},
        UpdateExpression="REMOVE pepper_version",
    )
    tool = admin_tool(aws)
    assert tool.usage()[UNRECORDED] == 1
    original = tool.current()
    tool.rotate()
    new_process()
    assert stored(key)["pepper_version"] == original  # marked with the version it was hashed with
    assert api("GET", env_path("demo", "dev", "/whoami"), key).status == 200
