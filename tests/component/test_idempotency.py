"""CI retries are safe: an Idempotency-Key replays only the same caller's same operation in the same
environment, only while the key it created is still active, and never a response for another body; and the
key value a replay hands back is stored only sealed, never in any item or log line in the clear.

The first tests provision a stack each; those after "Decisions on the shared stack" share one per module
(tests/component/decision_stack.py), which is what mutation testing reruns for every mutant."""

from __future__ import annotations

import json
import logging
import time

import pytest

from archie_keys.app import idempotent
from archie_keys.domain.keyformat import checksum
from archie_keys.edge.composition import get_services
from archie_keys.edge.models import CreateKeyBody
from tests.component.decision_stack import Environment, new_environment
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
VIEWER = {"permissions": [{"resource": "keys", "actions": ["read"]}]}


def test_a_retry_with_the_same_idempotency_key_returns_the_same_key_and_creates_nothing(
    api, admin_key, table_items
) -> None:
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    body = {"name": "deploy-bot", "roles": ["viewer"]}
    first = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "pipeline-42"})
    keys_after_first = len(table_items("KEYS_TABLE"))
    again = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "pipeline-42"})
    assert first.status == again.status == 201
    assert again.body["key"] == first.body["key"] and again.body["key_id"] == first.body["key_id"]
    assert len(table_items("KEYS_TABLE")) == keys_after_first
    # The same Idempotency-Key with another body is a client mistake, not a silent replay.
    other = api(
        "POST", KEYS, admin_key, {"name": "other", "roles": ["viewer"]}, headers={"Idempotency-Key": "pipeline-42"}
    )
    assert other.status == 422 and other.body["code"] == "idempotency_key_reused"
    # A different Idempotency-Key is a different key.
    fresh = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "pipeline-43"})
    assert fresh.status == 201 and fresh.body["key"] != first.body["key"]


def test_the_key_value_is_in_no_dynamodb_item_and_no_log_line(api, admin_key, table_items, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    created = api(
        "POST", KEYS, admin_key, {"name": "secretive", "roles": ["viewer"]}, headers={"Idempotency-Key": "s-1"}
    )
    value = created.body["key"]
    secret = value[-28:-6]
    api("GET", KEYS, value)
    wrong = value[:-28] + "Z" * 22
    assert api("GET", KEYS, wrong + checksum(wrong)).status == 403  # a refused key (right id, wrong secret)
    stored = json.dumps([table_items(t) for t in ("KEYS_TABLE", "IDEMPOTENCY_TABLE", "AUDIT_TABLE")])
    assert secret not in stored and admin_key[-28:-6] not in stored
    key_item = next(i for i in table_items("KEYS_TABLE") if i["sk"]["S"] == f"KEY#{created.body['key_id']}")
    assert key_item["hash"]["S"].startswith("$argon2id$")
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert secret not in logs and admin_key[-28:-6] not in logs


# --- Decisions on the shared stack ------------------------------------------------------------------------------------


READER = {"resource": "orders", "actions": ["read"]}
BODY = {"name": "deploy-bot", "roles": ["reader"]}


@pytest.fixture
def env(env: Environment) -> Environment:
    env.role("reader", READER)
    return env


def create(env: Environment, header: str, body: dict | None = None, key: str | None = None):
    return env.call("POST", "/keys", key, body or BODY, headers={"Idempotency-Key": header})


def test_a_replay_is_the_same_response_for_the_same_caller_operation_and_environment_only(env, stack) -> None:
    first = create(env, "ci-1")
    assert first.status == 201
    assert create(env, "ci-1", {"roles": ["reader"], "name": "deploy-bot"}).body == first.body  # same body, any order

    env.role("admin2", {"resource": "*", "actions": ["read", "write", "update", "delete"]})
    other_caller = env.key("admin2")["key"]
    by_other = create(env, "ci-1", key=other_caller)
    assert by_other.status == 201 and by_other.body["key_id"] != first.body["key_id"]

    elsewhere = new_environment(stack)
    elsewhere.role("reader", READER)
    in_other_env = create(elsewhere, "ci-1")
    assert in_other_env.status == 201 and in_other_env.body["key_id"] != first.body["key_id"]

    rolled = env.call(
        "POST", f"/keys/{first.body['key_id']}/roll", body={"grace_seconds": 60}, headers={"Idempotency-Key": "ci-1"}
    )
    assert rolled.status == 201 and rolled.body["key_id"] != first.body["key_id"]


@pytest.mark.parametrize("change", ["revoked", "rolled", "expired", "purged"])
def test_a_replay_never_hands_back_a_key_that_is_no_longer_active(env: Environment, change: str) -> None:
    first = create(env, "ci-2")
    key_id = first.body["key_id"]
    if change == "purged":
        from archie_keys.aws.dynamo import to_item
        from archie_keys.aws.key_store import partition

        get_services().store.client.delete_item(
            TableName=get_services().settings.keys_table,
            Key=to_item({"pk": partition(env.project, env.environment), "sk": f"KEY#{key_id}"}),
        )
    else:
        values = {"revoked": {"revoked_at": "2026-01-01T00:00:00Z"}, "rolled": {"rolled_to": "Vc37AAAAAAAA"}}
        env.set_in_record(key_id, **values.get(change, {"expires_epoch": time.time() - 1}))
    for _ in range(2):
        replay = create(env, "ci-2")
        assert replay.status == 409 and replay.body == {
            "code": "key_not_active",
            "message": "the key this Idempotency-Key created is no longer active (revoked, rolled or expired); "
            "use a new Idempotency-Key to create another",
            "field": "Idempotency-Key",
        }
    items = get_services().idempotency.client.scan(TableName=get_services().settings.idempotency_table)["Items"]
    assert [item for item in items if item.get("key_id", {}).get("S") == key_id and "response" in item] == []


def test_a_replay_of_a_key_that_expires_later_is_the_same_key(env: Environment) -> None:
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    first = create(env, "ci-3", {**BODY, "expires_at": later})
    assert first.status == 201
    assert create(env, "ci-3", {**BODY, "expires_at": later}).body == first.body


def test_misusing_an_idempotency_key_is_answered_with_what_to_do(env: Environment) -> None:
    invalid = create(env, "two words")
    assert invalid.status == 422 and {k: invalid.body[k] for k in ("code", "message", "field")} == {
        "code": "validation_error",
        "message": "Idempotency-Key must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
        "field": "Idempotency-Key",
    }
    assert create(env, "ci-4").status == 201
    reused = create(env, "ci-4", {**BODY, "name": "another"})
    assert reused.status == 422 and reused.body == {
        "code": "idempotency_key_reused",
        "message": "this Idempotency-Key was used with a different body",
        "field": "Idempotency-Key",
    }
    admin_id = env.admin.split("_")[-1][:12]
    scope = {"project": env.project, "environment": env.environment, "caller": admin_id, "operation": "create"}
    as_the_handler_binds_it = CreateKeyBody(**BODY).fingerprinted()
    held = idempotent.begin(get_services(), idempotent.IdempotentRequest(scope, "ci-5", as_the_handler_binds_it))
    assert isinstance(held, idempotent.Ticket)
    in_progress = create(env, "ci-5")
    assert in_progress.status == 409 and in_progress.body == {
        "code": "idempotency_in_progress",
        "message": "a request with this Idempotency-Key is still in progress; retry shortly",
        "field": "Idempotency-Key",
    }


@pytest.mark.parametrize("header", ["", "two words", "x" * 129, "ci/1", "clé"])
def test_the_use_case_refuses_a_malformed_idempotency_key_whichever_edge_calls_it(header: str) -> None:
    """The API's header model refuses these first (the test above); the use case holds the same rule itself,
    so an edge that forgets it (a CLI, another handler) cannot store or replay under such a key."""
    from archie_keys.domain.errors import ValidationFailedError

    with pytest.raises(ValidationFailedError) as refused:
        idempotent.IdempotentRequest({"operation": "create"}, header, BODY)
    assert (refused.value.code, refused.value.field) == ("validation_error", "Idempotency-Key")
    assert refused.value.message == "Idempotency-Key must be 1-128 characters of letters, digits, '_', '.', ':' or '-'"


def test_a_replay_at_the_instant_its_key_expires_is_refused_as_the_authorizer_refuses_the_key(
    env: Environment, monkeypatch
) -> None:
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    first = create(env, "ci-6", {**BODY, "expires_at": later})
    expires = float(env.record(first.body["key_id"])["expires_epoch"])
    from archie_keys.edge.composition import AwsServices

    monkeypatch.setattr(AwsServices, "clock", property(lambda self: lambda: expires))
    assert create(env, "ci-6", {**BODY, "expires_at": later}).body["code"] == "key_not_active"


def test_two_sealed_responses_in_the_table_reveal_nothing_about_their_keys_together(env: Environment) -> None:
    import base64

    # Someone who can read the idempotency table but has no pepper: if two records shared a keystream, XOR of
    # the two sealed values would be XOR of the two key values.
    created = [create(env, f"seal-{n}").body for n in range(2)]
    items = get_services().idempotency.client.scan(TableName=get_services().settings.idempotency_table)["Items"]
    sealed = {
        item["key_id"]["S"]: base64.b64decode(item["response"]["M"]["key"]["S"])
        for item in items
        if item.get("key_id", {}).get("S") in {c["key_id"] for c in created}
    }
    first, second = (sealed[c["key_id"]] for c in created)
    keys = [c["key"].encode() for c in created]
    assert created[0]["key"] not in str(items) and created[1]["key"] not in str(items)
    length = len(keys[0])  # each sealed value is the key's length, then a tag
    assert len(keys[1]) == length
    assert bytes(a ^ b for a, b in zip(first[:length], second[:length], strict=True)) != bytes(
        a ^ b for a, b in zip(keys[0], keys[1], strict=True)
    )


def test_a_request_that_gave_up_its_claim_lets_the_retry_create_the_key(env: Environment) -> None:
    admin_id = env.admin.split("_")[-1][:12]
    scope = {"project": env.project, "environment": env.environment, "caller": admin_id, "operation": "create"}
    body = CreateKeyBody(**BODY).fingerprinted()
    held = idempotent.begin(get_services(), idempotent.IdempotentRequest(scope, "ci-7", body))
    assert isinstance(held, idempotent.Ticket)
    idempotent.release(get_services(), held)
    idempotent.release(get_services(), None)  # nothing claimed, nothing to give up
    assert create(env, "ci-7").status == 201


def test_a_change_that_failed_gives_up_its_claim_so_the_retry_runs_it(env: Environment, monkeypatch) -> None:
    from archie_keys.domain.errors import ServiceUnavailableError

    transactions = get_services().transactions
    commit = transactions.commit

    def unavailable_once(writes: list) -> None:
        monkeypatch.setattr(transactions, "commit", commit)
        raise ServiceUnavailableError()

    monkeypatch.setattr(transactions, "commit", unavailable_once)
    failed = create(env, "ci-8")
    assert failed.status == 503
    retried = create(env, "ci-8")  # not 409 idempotency_in_progress: the failed request let go of its claim
    assert retried.status == 201 and create(env, "ci-8").body == retried.body


def test_a_replay_says_where_the_value_really_is_and_finishes_a_failed_promotion(env: Environment, monkeypatch) -> None:
    """The stored answer is written before the secret's promotion; if that promotion failed, the first answer
    said ARCHIE_PENDING, and a replay must not claim AWSCURRENT unless it is so."""
    import boto3

    from archie_keys.app import changes
    from archie_keys.aws.secrets import SecretDelivery

    name = f"archie/keys/{env.project}/{env.environment}/replayed"
    body = {**BODY, "secret_name": name}
    monkeypatch.setattr(changes, "AFTER_COMMIT_BACKOFF_SECONDS", (0, 0))
    promote = SecretDelivery.promote

    def unavailable(self: SecretDelivery, *args: object) -> None:
        raise RuntimeError("Secrets Manager is down")

    monkeypatch.setattr(SecretDelivery, "promote", unavailable)
    first = create(env, "ci-9", body)
    assert first.status == 201 and first.body["secret_stage"] == "ARCHIE_PENDING"
    assert create(env, "ci-9", body).body["secret_stage"] == "ARCHIE_PENDING"
    monkeypatch.setattr(SecretDelivery, "promote", promote)
    replay = create(env, "ci-9", body)
    assert replay.status == 201 and replay.body["secret_stage"] == "AWSCURRENT"
    assert (replay.body["secret_name"], replay.body["secret_version_id"]) == (name, first.body["secret_version_id"])
    current = boto3.client("secretsmanager").get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert replay.body["key"] == first.body["key"] == current["SecretString"]


def test_a_replay_never_takes_a_secret_back_from_the_key_that_replaced_it(env: Environment) -> None:
    import boto3

    name = f"archie/keys/{env.project}/{env.environment}/taken-over"
    body = {**BODY, "secret_name": name}
    first = create(env, "ci-10", body)
    assert first.status == 201 and first.body["secret_stage"] == "AWSCURRENT"
    replacing = env.call("POST", "/keys", body={**body, "name": "successor-bot", "replace_secret": True})
    assert replacing.status == 201, replacing.body
    replay = create(env, "ci-10", body)
    assert replay.status == 201 and replay.body["key"] == first.body["key"]
    assert replay.body["secret_stage"] == "REPLACED"
    current = boto3.client("secretsmanager").get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert current["SecretString"] == replacing.body["key"]
