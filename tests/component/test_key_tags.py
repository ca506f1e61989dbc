"""Forged keys cost nothing: every key this service issues carries a tag only it can compute, so a look-alike
(a checksum anyone can compute) is refused with one keyed hash; keys issued before tags keep working where their
environment still accepts them; tag keys rotate and retire apart from the pepper; and a mass revocation under
way refuses the keys it covers from the environment's state, before they are marked."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.aws.dynamo import to_item
from archie_keys.aws.key_store import REVOCATION_SK_PREFIX, partition
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.keyformat import SECRET_LENGTH, checksum, key_id_millis, new_key_id
from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from tests.component.decision_stack import Environment
from tests.support import write_legacy_key

TTL = 1.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock) -> KeyVerifier:
    services = get_services()
    return KeyVerifier(
        services.verifier.store, services.hasher, VerifierConfig(TTL, 5.0, 300.0), clock, tag_keys=services.key_tags
    )


def reason(verify: Any, key: str) -> str:
    with pytest.raises(KeyRefusedError) as refused:
        verify(key)
    return refused.value.reason


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every AWS call this process makes, by operation name."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    yield calls


def forged(env: Environment, key_id: str | None = None) -> str:
    """A checksum-valid key of the environment that this service never issued."""
    body = f"archie_{env.project}_{env.environment}_{key_id or new_key_id()}" + "F" * SECRET_LENGTH
    return body + checksum(body)


def test_a_forged_key_is_refused_with_no_aws_call_once_the_environment_is_known(env, aws_calls) -> None:
    clock = Clock()
    warm = verifier(clock)
    warm.verify(env.admin)  # a warm instance: pepper, tag keys and the environment's state are known
    aws_calls.clear()
    known_id = env.admin.split("_")[-1][:12]
    for candidate in (forged(env), forged(env, known_id)):  # an unknown id, and a known id with a wrong secret
        for _ in range(50):
            assert reason(warm.verify, candidate) == "not_found"
        clock.now += 10  # past every negative cache: the refusal never needed one
    assert aws_calls == []


def legacy_key(env: Environment) -> str:
    return write_legacy_key(env.project, env.environment)


def set_declaration(env: Environment, **values: Any) -> None:
    boto3.client("dynamodb").update_item(
        TableName=get_services().settings.keys_table,
        Key=to_item({"pk": partition(env.project, env.environment), "sk": "ENV"}),
        UpdateExpression="REMOVE legacy_keys" if not values else "SET legacy_keys = :v",
        **({"ExpressionAttributeValues": to_item({":v": values["legacy_keys"]})} if values else {}),
    )


def test_keys_issued_before_tags_work_where_their_environment_accepts_them_and_nowhere_else(env) -> None:
    # Given an environment declared before tags (no legacy_keys setting) holding a key of the first format
    key = legacy_key(env)
    set_declaration(env)
    assert env.call("GET", "").body["legacy_keys"] == "accept"
    # Then that key works, and is listed as format 1
    assert env.call("GET", "/whoami", key).status == 200
    listed = {k["key_id"]: k["key_format"] for k in env.call("GET", "/keys").body["keys"]}
    assert listed[key.split("_")[-1][:12]] == 1 and listed[env.admin.split("_")[-1][:12]] == 2
    # And the environment cannot be told to refuse such keys while one is active
    refused = env.call("PUT", "", body={"legacy_keys": "refuse"})
    assert refused.status == 409 and refused.body["code"] == "legacy_keys_active", refused.body
    assert env.call("GET", "").body["legacy_keys"] == "accept"
    # Once it is revoked, it can: and from then on an untagged key costs nothing there
    assert env.call("DELETE", f"/keys/{key.split('_')[-1][:12]}").status in (202, 204)
    changed = env.call("PUT", "", body={"legacy_keys": "refuse"})
    assert changed.status == 200 and changed.body["legacy_keys"] == "refuse"
    events = env.call("GET", "/audit?kind=event").body["records"]
    assert any(e["event"] == "environment.updated" and e["details"] == {"legacy_keys": "refuse"} for e in events)


def test_a_key_of_the_first_format_is_refused_where_its_environment_refuses_them(env) -> None:
    key = legacy_key(env)  # an environment declared since tags refuses them from the start
    assert env.call("GET", "").body["legacy_keys"] == "refuse"
    composition.reset()
    assert env.call("GET", "/whoami", key).status == 403
    assert reason(get_services().verifier.verify, key) == "not_found"


def test_tag_keys_rotate_and_retire_apart_from_the_pepper(env) -> None:
    secrets = boto3.client("secretsmanager")
    secret_id = get_services().settings.key_tag_secret_id
    original = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    env.role("reader", {"resource": "keys", "actions": ["read"]})
    before = env.key("reader")["key"]
    try:
        # A new tag key is made current: keys issued before still work, new ones carry the new tag
        rotated = {**original, "t2": "n" * 64, "current": "t2"}
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(rotated))
        composition.reset()
        after = env.key("reader")["key"]
        assert env.call("GET", "/whoami", before).status == 200
        assert env.call("GET", "/whoami", after).status == 200
        # The old one retired (its keys rolled first, in real life): its keys are refused, for free
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({"current": "t2", "t2": "n" * 64}))
        composition.reset()
        assert reason(get_services().verifier.verify, before) == "not_found"
        assert env.call("GET", "/whoami", after).status == 200
    finally:
        secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(original))
        composition.reset()


def put_rule(env: Environment, match: dict[str, str], before_ms: int, status: str = "running") -> None:
    """A mass revocation under way, as app.mass_revocation records it."""
    item = {
        "pk": partition(env.project, env.environment),
        "sk": f"{REVOCATION_SK_PREFIX}rv-test",
        "kind": "revocation",
        "revocation_id": "rv-test",
        "match": match,
        "before_ms": before_ms,
        "status": status,
    }
    boto3.client("dynamodb").put_item(TableName=get_services().settings.keys_table, Item=to_item(item))


def test_a_mass_revocation_under_way_refuses_the_keys_it_covers_within_one_cache_ttl(env) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    t1 = env.key("reader", context={"tenant": "t1"})
    t2 = env.key("reader", context={"tenant": "t2"})
    clock = Clock()
    warm = verifier(clock)
    for created in (t1, t2):
        warm.verify(created["key"])
    # When a revocation of tenant t1's keys is recorded (before any key is marked revoked)
    put_rule(env, {"tenant": "t1"}, int(time.time() * 1000) + 1)
    later = env.key("reader", context={"tenant": "t1"})  # created after it: not covered
    # Then within one cache TTL the warm instance refuses t1's older key, and only it
    clock.now += TTL
    assert reason(warm.verify, t1["key"]) == "revoked"
    assert warm.verify(t2["key"]).identity.key_id == t2["key_id"]
    assert key_id_millis(later["key_id"]) >= key_id_millis(t1["key_id"])
    assert warm.verify(later["key"]).identity.key_id == later["key_id"]
    # And a cold instance too; a rule marked done no longer refuses anything by itself
    assert reason(verifier(Clock()).verify, t1["key"]) == "revoked"
    put_rule(env, {"tenant": "t1"}, int(time.time() * 1000), status="done")
    assert verifier(Clock()).verify(t1["key"]).identity.key_id == t1["key_id"]
