"""Rotating the pepper with live keys loses none: keys hashed with the old version keep working and move to the
new one on their next use (after which the old version is never needed for them again), new keys use the new
one, idempotent replays from before still answer and hand back the key they created, and the old version is
retired only once no key needs it.

The first tests walk the operator's runbook (rotate, retire) through the API on a stack each; those after
"Decisions on the shared stack" are the verifier's and the replay's decisions themselves, on the stack
mutation testing reruns (tests/component/decision_stack.py)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from archie_keys.app.verification import HasherSource, KeyVerifier, VerifierConfig
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.hashing import KeyHasher
from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from archie_tools.pepper import KEEP_PREFIX, UNRECORDED, PepperAdmin
from tests.component.decision_stack import Environment
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
        Key={"pk": {"S": "PROJECT#demo#ENV#dev"}, "sk": {"S": f"KEY#{record['key_id']}"}},
        UpdateExpression="REMOVE pepper_version",
    )
    tool = admin_tool(aws)
    assert tool.usage()[UNRECORDED] == 1
    original = tool.current()
    tool.rotate()
    new_process()
    assert stored(key)["pepper_version"] == original  # marked with the version it was hashed with
    assert api("GET", env_path("demo", "dev", "/whoami"), key).status == 200


# --- Decisions on the shared stack ------------------------------------------------------------------------------------


READER = {"resource": "orders", "actions": ["read"]}


@pytest.fixture
def env(env: Environment) -> Environment:
    env.role("reader", READER)
    return env


def rotate() -> str:
    """Rotate the pepper as `make pepper-rotate` does; the process restarts (as every function's next cold start)."""
    settings = get_services().settings
    tool = PepperAdmin(
        boto3.client("secretsmanager"), boto3.client("dynamodb"), settings.pepper_secret_id, settings.keys_table
    )
    version = tool.rotate()
    composition.reset()
    return version


class CurrentPepperOnly:
    """A hasher source that cannot produce the previous pepper (as once that version is retired)."""

    def __call__(self) -> KeyHasher:
        return get_services().hasher()

    def for_version(self, version: str | None) -> KeyHasher:
        current = self()
        if version not in (None, current.version):
            raise KeyRefusedError("not_found")
        return current


def a_fresh_verifier(hashers: HasherSource | None = None) -> KeyVerifier:
    services = get_services()
    source = hashers if hashers is not None else services.hasher_provider
    return KeyVerifier(services.store, source, VerifierConfig(1.0, 5.0, 300.0), time.time, tag_keys=services.key_tags)


def secret_of(key: str) -> str:
    return key[-28:-6]


def test_a_key_from_before_a_rotation_verifies_and_moves_to_the_current_pepper_on_that_use(env: Environment) -> None:
    created = env.key("reader")
    before = env.record(created["key_id"])
    current = rotate()
    assert before["pepper_version"] != current
    # Until it is used, only the previous pepper can check it.
    with pytest.raises(KeyRefusedError):
        a_fresh_verifier(CurrentPepperOnly()).verify(created["key"])

    assert a_fresh_verifier().verify(created["key"]).identity.key_id == created["key_id"]

    after = env.record(created["key_id"])
    hasher = get_services().hasher()
    assert after["pepper_version"] == current and after["hash"] != before["hash"]
    assert hasher.verify_mac(after["hash"], hasher.mac(secret_of(created["key"])))
    assert after["hash_params"] == hasher.parameters.as_record()
    # From now on the previous pepper is never needed for this key, on any instance.
    assert a_fresh_verifier(CurrentPepperOnly()).verify(created["key"]).identity.key_id == created["key_id"]


def test_after_the_rehash_a_warm_instance_refreshes_without_another_argon2_run(env: Environment, monkeypatch) -> None:
    """After a rotation every key's first use is cold and rehashes it; the instance remembers the new hash, so
    its next refresh is a read, not another argon2 verify (which would double the cost of every key's first
    minutes after a rotation)."""
    created = env.key("reader")
    rotate()
    now = [time.time()]
    services = get_services()
    warm = KeyVerifier(
        services.store,
        services.hasher_provider,
        VerifierConfig(1.0, 5.0, 300.0),
        lambda: now[0],
        tag_keys=services.key_tags,
    )
    warm.verify(created["key"])  # cold: verifies under the previous pepper and rehashes
    runs: list[str] = []
    verify_mac = KeyHasher.verify_mac
    monkeypatch.setattr(KeyHasher, "verify_mac", lambda self, *a: runs.append("argon2") or verify_mac(self, *a))
    now[0] += 1.0  # past the decision's TTL: the record is read again
    assert warm.verify(created["key"]).identity.key_id == created["key_id"]
    assert runs == []


def test_a_create_replayed_after_a_rotation_hands_back_the_key_it_created(env: Environment) -> None:
    body = {"name": "deploy-bot", "roles": ["reader"]}
    first = env.call("POST", "/keys", body=body, headers={"Idempotency-Key": "before-rotation"})
    assert first.status == 201
    rotate()
    replay = env.call("POST", "/keys", body=body, headers={"Idempotency-Key": "before-rotation"})
    assert replay.status == 201 and replay.body == first.body
