"""Pepper rotation as the verifier and the idempotent replay see it: a key hashed under the previous pepper is
checked with that version, moves to the current one on that use (after which the old version is never needed
for it again), and a create replayed after the rotation still hands back the key it created.

tests/component/test_pepper_rotation.py walks the operator's whole runbook (rotate, retire) through the API; these
are the decisions themselves, on the shared stack mutation testing reruns (tests/component/decision_stack.py)."""

from __future__ import annotations

import time

import boto3
import pytest

from archie_keys.app.verification import HasherSource, KeyVerifier, VerifierConfig
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.hashing import KeyHasher
from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from archie_tools.pepper import PepperAdmin
from tests.component.decision_stack import Environment

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
