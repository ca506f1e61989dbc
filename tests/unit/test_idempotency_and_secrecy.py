"""CI retries are safe, and a key value is never stored or logged anywhere."""

from __future__ import annotations

import json
import logging

import pytest

from archie_keys.domain.keyformat import checksum
from archie_keys.domain.sealing import seal, unseal
from archie_keys.edge.composition import get_services
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


def test_an_invalid_idempotency_key_is_refused(api, admin_key) -> None:
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    reply = api("POST", KEYS, admin_key, {"name": "x", "roles": ["viewer"]}, headers={"Idempotency-Key": "has spaces"})
    assert reply.status == 422 and reply.body["field"] == "Idempotency-Key"


def test_a_duplicate_while_the_first_is_still_in_flight_gets_409_then_the_same_key(api, admin_key) -> None:
    from archie_keys.app import idempotent
    from archie_keys.edge.models import CreateKeyBody

    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, VIEWER)
    body = {"name": "deploy-bot", "roles": ["viewer"]}
    admin_id = admin_key.split("_")[-1][:12]
    # The first request has claimed the Idempotency-Key and is still creating the key...
    scope = {"project": "demo", "environment": "dev", "caller": admin_id, "operation": "create"}
    request = idempotent.IdempotentRequest(scope, "ci-7", CreateKeyBody(**body).fingerprinted())
    first = idempotent.begin(get_services(), request)
    assert isinstance(first, idempotent.Ticket)
    # ...so a retry arriving meanwhile is told to come back, and creates nothing.
    duplicate = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "ci-7"})
    assert duplicate.status == 409 and duplicate.body["code"] == "idempotency_in_progress"
    # The first fails and gives its claim up: the next retry does the work, and a replay returns the same key.
    idempotent.release(get_services(), first)
    created = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "ci-7"})
    replayed = api("POST", KEYS, admin_key, body, headers={"Idempotency-Key": "ci-7"})
    assert created.status == replayed.status == 201 and replayed.body == created.body


def test_the_idempotency_record_holds_the_key_only_sealed() -> None:
    sealed = seal(b"k" * 32, "archie_demo_dev_secret")
    assert "secret" not in sealed and unseal(b"k" * 32, sealed) == "archie_demo_dev_secret"
    with pytest.raises(ValueError):
        unseal(b"x" * 32, sealed)


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
    # The key's hash lives on its hash item (aws.key_items).
    key_item = next(i for i in table_items("KEYS_TABLE") if i["sk"]["S"] == f"KEY#{created.body['key_id']}#HASH")
    assert key_item["hash"]["S"].startswith("$argon2id$")
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert secret not in logs and admin_key[-28:-6] not in logs
