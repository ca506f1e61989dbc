"""Verification, cold and warm: every fact of a key's record decides, on an instance that never saw the key
and on one that has it cached, and the caches never answer for longer, or for more keys, than they should;
a revoked key is refused by an authorizer that never saw it valid (a Lambda instance started after the
revocation reads the record cold and must refuse it there, not only on a refresh of a decision it had
cached). Time is a clock the test moves; reads are counted at the DynamoDB client. Every test shares one stack
per module (tests/component/decision_stack.py), which is what mutation testing reruns for every mutant."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from archie_keys.app import verification
from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.hashing import KeyHasher
from archie_keys.domain.keyformat import checksum, generate_key
from archie_keys.edge import composition
from archie_keys.edge.composition import get_services
from tests.component.decision_stack import Environment
from tests.support import with_tagged_secret

TTL, NEGATIVE_TTL, PROOF_TTL = 1.0, 5.0, 300.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock) -> KeyVerifier:
    """A verifier like the authorizer's, with the documented cache lifetimes and a clock the test moves."""
    services = get_services()
    return KeyVerifier(
        services.store, services.hasher, VerifierConfig(TTL, NEGATIVE_TTL, PROOF_TTL), clock, tag_keys=services.key_tags
    )


@contextmanager
def counted_reads() -> Iterator[list[str]]:
    client = get_services().store.client
    reads: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        for operation in ("get_item", "batch_get_item", "query"):
            original = getattr(client, operation)
            patch.setattr(
                client,
                operation,
                lambda *a, _op=operation, _orig=original, **k: reads.append(_named(_op, k)) or _orig(*a, **k),
            )
        yield reads


def _named(operation: str, request: dict[str, Any]) -> str:
    """A read by what it reads: `key` for the one Query of a key's items (aws.key_items), else the operation."""
    prefix = request.get("ExpressionAttributeValues", {}).get(":prefix", {}).get("S", "")
    return "key" if operation == "query" and prefix.startswith("KEY#") else operation


def reason(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(KeyRefusedError) as refused:
        check(*args, **kwargs)
    return refused.value.reason


def with_secret(key: str, secret: str) -> str:
    body = key[:-28] + secret
    return body + checksum(body)


def key_id_of(key: str) -> str:
    return key.split("_")[-1][:12]


# --- Cold: an instance that never saw the key -----------------------------------------------------------------


def test_each_refusal_on_a_cold_instance_has_its_reason(env: Environment) -> None:
    clock = Clock()
    admin = env.admin
    body = admin[:-6]
    reprefixed = "evil_" + body[len("archie_") :]
    unknown = admin[:-40] + "0" * 12 + admin[-28:-6]
    cases = {
        "garbage": "malformed",
        admin[:-1] + ("a" if admin[-1] != "a" else "b"): "malformed",
        with_secret(admin, "Q" * 22): "not_found",
        reprefixed + checksum(reprefixed): "not_found",
        unknown + checksum(unknown): "not_found",
    }
    for presented, expected in cases.items():
        assert reason(verifier(clock).verify, presented) == expected, presented
    assert reason(verifier(clock).verify, admin, project="other") == "wrong_environment"
    assert reason(verifier(clock).verify, admin, environment="other") == "wrong_environment"
    assert verifier(clock).verify(admin, project=env.project, environment=env.environment).identity.key_id


def test_a_cold_instance_describes_a_valid_key_from_its_record_and_roles(env: Environment) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"], "filters": {"tenant": {"from_context": "t"}}})
    env.role("auditor", {"resource": "audit", "actions": ["read"]})
    created = env.key("reader", "auditor", context={"t": "t7"}, name="billing ci")
    verified = verifier(Clock()).verify(created["key"])
    assert verified.identity.describe() == {
        "key_id": created["key_id"],
        "name": "billing ci",
        "project": env.project,
        "environment": env.environment,
        "roles": ["reader", "auditor"],
        "permissions": [
            {"role": "reader", "resource": "orders", "actions": ["read"], "filters": {"tenant": "t7"}},
            {"role": "auditor", "resource": "audit", "actions": ["read"], "filters": {}},
        ],
        "filters": {"orders": [{"tenant": "t7"}], "audit": [{}]},
        "context": {"t": "t7"},
    }
    assert verified.expires_epoch is None


def test_a_keys_allow_list_comes_from_its_record_cold_and_on_every_reread(env: Environment) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    created = env.key("reader", allowed_cidrs=["10.0.0.0/8"])
    clock = Clock()
    warm = verifier(clock)
    for _ in range(2):  # cold, then refreshed from the record a TTL later
        allow_list = warm.verify(created["key"]).allow_list
        assert allow_list.allows("10.1.2.3") and not allow_list.allows("127.0.0.1")
        clock.now += TTL
    assert verifier(clock).verify(env.admin).allow_list.allows("127.0.0.1")  # no list: from anywhere


@pytest.mark.parametrize("field", ["revoked_at", "expires_epoch"])
def test_a_revoked_or_expired_record_is_refused_on_a_cold_instance_and_the_refusal_remembered(env, field) -> None:
    clock = Clock()
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    created = env.key("reader")
    env.set_in_record(created["key_id"], **{field: "2026-01-01T00:00:00Z" if field == "revoked_at" else clock.now})
    expected = "revoked" if field == "revoked_at" else "expired"
    cold = verifier(clock)
    assert reason(cold.verify, created["key"]) == expected
    with counted_reads() as reads:
        assert reason(cold.verify, created["key"]) == expected
        clock.now += NEGATIVE_TTL - 0.01
        assert reason(cold.verify, created["key"]) == expected
    assert reads == []  # a flood of it costs no reads...
    clock.now += 0.01
    with counted_reads() as reads:
        assert reason(cold.verify, created["key"]) == expected
    assert reads  # ...until the refusal is as old as its TTL


def test_a_key_is_accepted_until_the_instant_it_expires_cold_or_warm(env: Environment) -> None:
    clock = Clock()
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    created = env.key("reader", expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 120)))
    expires = float(env.record(created["key_id"]).expires_epoch)
    clock.now = expires - 0.5
    warm = verifier(clock)
    assert warm.verify(created["key"]).expires_epoch == expires
    clock.now = expires
    assert reason(warm.verify, created["key"]) == "expired"
    assert reason(verifier(clock).verify, created["key"]) == "expired"


@pytest.mark.parametrize("negative_ttl", [NEGATIVE_TTL, 0.5], ids=["default", "sub-second"])
def test_a_flood_of_an_unknown_key_costs_one_read_per_negative_ttl(env: Environment, negative_ttl: float) -> None:
    services, clock = get_services(), Clock()
    # Tagged (made with the stack's tag key) but never issued: the one look-alike that costs a read.
    unknown = generate_key("archie_", env.project, env.environment, services.key_tags().current)[0]
    instance = KeyVerifier(
        services.store, services.hasher, VerifierConfig(TTL, negative_ttl, PROOF_TTL), clock, tag_keys=services.key_tags
    )
    with counted_reads() as reads:
        assert reason(instance.verify, unknown) == "not_found"
    assert reads == ["key"]
    with counted_reads() as reads:
        for _ in range(3):
            assert reason(instance.verify, unknown) == "not_found"
        clock.now += negative_ttl - 0.01
        assert reason(instance.verify, unknown) == "not_found"
    assert reads == []
    clock.now += 0.01
    with counted_reads() as reads:
        assert reason(instance.verify, unknown) == "not_found"
    assert reads == ["key"]


def test_a_cold_decision_reads_the_key_once_and_its_roles_once(env: Environment) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    env.role("auditor", {"resource": "audit", "actions": ["read"]})
    created = env.key("reader", "auditor")
    with counted_reads() as reads:
        verified = verifier(Clock()).verify(created["key"])
    # the key, its roles, and its environment's state (the mass revocations under way)
    assert sorted(reads) == ["batch_get_item", "key", "query"]
    assert verified.identity.grants.allows("orders", "read") and verified.identity.grants.allows("audit", "read")


def test_a_role_edited_to_need_context_the_key_lacks_drops_that_permission_only(env: Environment) -> None:
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    env.role("auditor", {"resource": "audit", "actions": ["read"]})
    created = env.key("reader", "auditor")
    env.role("reader", {"resource": "orders", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}})
    identity = verifier(Clock()).verify(created["key"]).identity
    assert not identity.grants.allows("orders", "read")
    assert identity.grants.allows("audit", "read")


def test_a_cold_verify_with_current_parameters_leaves_the_stored_hash_alone(env: Environment) -> None:
    before = env.record(key_id_of(env.admin)).hash
    verifier(Clock()).verify(env.admin)
    assert env.record(key_id_of(env.admin)).hash == before


# --- Warm: an instance that has the key cached -------------------------------------------------------------------


def test_a_warm_decision_is_trusted_for_less_than_its_ttl_without_reads(env: Environment) -> None:
    clock = Clock()
    warm = verifier(clock)
    first = warm.verify(env.admin)
    with counted_reads() as reads:
        clock.now += TTL - 0.01
        assert warm.verify(env.admin) is first
    assert reads == []
    clock.now += 0.01
    with counted_reads() as reads:
        assert warm.verify(env.admin).identity == first.identity
    assert "key" in reads


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"revoked_at": "2026-01-01T00:00:00Z"}, "revoked"),
        ({"expires_epoch": 0}, "expired"),  # rolled with no grace, or expired by an operator
        (
            {"hash": "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
            "not_found",
        ),
    ],
    ids=["revoked", "expired", "hash replaced"],
)
def test_a_warm_instance_refuses_once_the_record_it_rereads_says_so(env: Environment, change, expected) -> None:
    clock = Clock()
    warm = verifier(clock)
    warm.verify(env.admin)
    env.set_in_record(key_id_of(env.admin), **change)
    clock.now += TTL
    assert reason(warm.verify, env.admin) == expected
    with counted_reads() as reads:
        assert reason(warm.verify, env.admin) == expected  # remembered: no read for the next request
    assert reads == []


def test_a_deleted_record_is_refused_by_a_warm_instance(env: Environment) -> None:
    clock = Clock()
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    created = env.key("reader")
    warm = verifier(clock)
    warm.verify(created["key"])
    from archie_keys.aws.dynamo import to_item
    from archie_keys.aws.key_store import partition

    get_services().store.client.delete_item(
        TableName=get_services().settings.keys_table,
        Key=to_item({"pk": partition(env.project, env.environment), "sk": f"KEY#{created['key_id']}"}),
    )
    clock.now += TTL
    assert reason(warm.verify, created["key"]) == "revoked"


def test_a_role_edited_after_the_key_was_made_takes_effect_on_the_next_reread(env: Environment) -> None:
    clock = Clock()
    env.role("reader", {"resource": "orders", "actions": ["read", "write"]})
    created = env.key("reader")
    warm = verifier(clock)
    assert warm.verify(created["key"]).identity.grants.allows("orders", "write")
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    clock.now += TTL
    again = warm.verify(created["key"]).identity
    assert again.grants.allows("orders", "read") and not again.grants.allows("orders", "write")
    clock.now += PROOF_TTL  # past the proof's own lifetime the secret is checked again, and still holds
    assert warm.verify(created["key"]).identity.describe() == again.describe()


def test_refreshes_skip_argon2_until_the_proof_is_exactly_its_ttl_old(env: Environment, monkeypatch) -> None:
    """argon2 is what a key's use costs: a warm instance re-reads the record every TTL but proves the secret
    again only once the proof is PROOF_TTL old (from the instant it turns that old, not a moment later)."""
    clock = Clock()
    warm = verifier(clock)
    proven_at = clock.now
    warm.verify(env.admin)  # cold: the one argon2 run of this proof
    runs: list[str] = []
    verify_mac = KeyHasher.verify_mac
    monkeypatch.setattr(KeyHasher, "verify_mac", lambda self, *a: runs.append("argon2") or verify_mac(self, *a))
    for _ in range(2):  # each refresh remembers the proven hash for the next one
        clock.now += TTL
        assert warm.verify(env.admin).identity.key_id == key_id_of(env.admin)
    assert runs == []
    clock.now = proven_at + PROOF_TTL
    assert warm.verify(env.admin).identity.key_id == key_id_of(env.admin)
    assert runs == ["argon2"]


def test_a_wrong_secret_never_locks_the_right_one_out(env: Environment) -> None:
    clock = Clock()
    warm = verifier(clock)
    assert reason(warm.verify, with_secret(env.admin, "W" * 22)) == "not_found"
    assert warm.verify(env.admin).identity.key_id == key_id_of(env.admin)
    assert reason(warm.verify, with_secret(env.admin, "W" * 22)) == "not_found"  # and the right one unlocks none


def test_the_caches_hold_at_most_their_bound_and_forget_the_oldest(env: Environment, monkeypatch) -> None:
    monkeypatch.setattr(verification, "POSITIVE_CACHE_MAX", 2)
    monkeypatch.setattr(verification, "NEGATIVE_CACHE_MAX", 2)
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    keys = [env.key("reader")["key"] for _ in range(3)]
    wrong = [with_tagged_secret(env.admin, secret * 16) for secret in "ABC"]
    clock = Clock()
    warm = verifier(clock)
    for key in keys:
        warm.verify(key)
    for key in wrong:
        assert reason(warm.verify, key) == "not_found"
    with counted_reads() as reads:
        for key in keys[1:]:
            warm.verify(key)
        for key in wrong[1:]:
            assert reason(warm.verify, key) == "not_found"
    assert reads == []  # the newest two of each are remembered...
    with counted_reads() as reads:
        warm.verify(keys[0])
    assert "key" in reads  # ...and the oldest is not
    with counted_reads() as reads:
        assert reason(warm.verify, wrong[0]) == "not_found"
    assert "key" in reads


def test_without_a_cache_ttl_every_request_reads_the_record(env: Environment) -> None:
    services, clock = get_services(), Clock()
    uncached = KeyVerifier(
        services.store, services.hasher, VerifierConfig(0, 0, PROOF_TTL), clock, tag_keys=services.key_tags
    )
    uncached.verify(env.admin)
    with counted_reads() as reads:
        uncached.verify(env.admin)
    assert "key" in reads
    assert reason(uncached.verify, with_tagged_secret(env.admin, "Z" * 16)) == "not_found"
    with counted_reads() as reads:
        assert reason(uncached.verify, with_tagged_secret(env.admin, "Z" * 16)) == "not_found"
    assert "key" in reads


def test_a_rotated_pepper_is_picked_up_without_a_restart(env: Environment, monkeypatch) -> None:
    import boto3

    from archie_keys.app.bootstrap import bootstrap
    from archie_keys.app.commands import Place
    from archie_keys.edge import composition

    monkeypatch.setenv("PEPPER_MAX_AGE_SECONDS", "0")  # re-read the secret on every use
    composition.reset()
    api = env.stack.apis["ManagementApi"]
    for _ in range(2):  # the second request re-reads the same pepper and keeps its hasher
        assert api("GET", env.path("/whoami"), env.admin).status == 200
    secrets = boto3.client("secretsmanager")
    secret_id = get_services().settings.pepper_secret_id
    original = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        secrets.put_secret_value(SecretId=secret_id, SecretString="rotated-" + "p" * 40)
        # The same warm process creates a key under the new pepper, which a process started now accepts.
        created = bootstrap(get_services(), Place(env.project + "r", env.environment)).value
        composition.reset()
        assert api("GET", f"/projects/{env.project}r/environments/{env.environment}/whoami", created).status == 200
    finally:
        secrets.put_secret_value(SecretId=secret_id, SecretString=original)
        composition.reset()


def test_a_disabled_key_is_refused_after_its_secret_is_proven_and_enabling_it_is_seen_within_one_ttl(env) -> None:
    clock = Clock()
    env.role("reader", {"resource": "orders", "actions": ["read"]})
    created = env.key("reader")
    warm = verifier(clock)
    warm.verify(created["key"])  # cached as accepted
    assert env.call("PATCH", f"/keys/{created['key_id']}", body={"enabled": False}).status == 200
    clock.now += TTL  # the warm instance re-reads the record once its decision is a TTL old
    assert reason(warm.verify, created["key"]) == "disabled"
    assert reason(verifier(clock).verify, created["key"]) == "disabled"  # and a cold one after argon2
    # Only the key's holder learns it is disabled: a wrong secret for its id is not_found, as ever.
    assert reason(warm.verify, with_secret(created["key"], "A" * 22)) == "not_found"

    assert env.call("PATCH", f"/keys/{created['key_id']}", body={"enabled": True}).status == 200
    clock.now += TTL  # not the negative cache's 5 s: the refusal was never remembered as one
    assert warm.verify(created["key"]).identity.key_id == created["key_id"]


# --- Revoked, then presented to an instance that never saw the key ----------------------------------------------------


READER = ({"resource": "orders", "actions": ["read"]}, {"resource": "keys", "actions": ["read"]})


def fresh_authorizer_instance() -> None:
    """What a cold start is: a new process, so nothing from the previous instance is remembered."""
    composition.reset()


@pytest.mark.parametrize("used_before", [False, True], ids=["never used", "used, then revoked"])
def test_a_revoked_key_presented_to_a_fresh_authorizer_is_refused(env: Environment, used_before: bool) -> None:
    # The sample API's stage serves demo/dev: point a stage of it at this test's environment.
    sample = env.stack.apis["SampleApi"]
    sample.gateway.api.variables.update(project=env.project, environment=env.environment)
    env.role("reader", *READER)
    created = env.key("reader")
    key = created["key"]
    if used_before:
        assert sample("GET", "/orders/1", key).status == 200
    assert env.call("DELETE", f"/keys/{created['key_id']}").status == 204

    fresh_authorizer_instance()
    assert sample("GET", "/orders/1", key).status == 403
    fresh_authorizer_instance()
    assert env.call("GET", "/keys", key).status == 403


def test_verify_says_revoked_for_a_revoked_key_it_never_saw(env: Environment) -> None:
    env.role("reader", *READER)
    created = env.key("reader")
    assert env.call("DELETE", f"/keys/{created['key_id']}").status == 204
    fresh_authorizer_instance()
    verdict = env.call("POST", "/verify", body={"key": created["key"]})
    assert verdict.status == 200 and verdict.body == {"valid": False, "code": "revoked"}
