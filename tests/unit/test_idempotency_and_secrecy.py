"""CI retries are safe, and a key value is never stored or logged anywhere."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from archie_keys.domain.errors import ConflictError
from archie_keys.domain.keyformat import checksum
from archie_keys.domain.sealing import seal, unseal
from archie_keys.edge.composition import get_services
from archie_local.lambdas import LocalContext
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


def lambda_context() -> LocalContext:
    return LocalContext("CreateKeyFunction", 1024, 10, "arn:aws:lambda:us-east-1:123456789012:function:x", "r")


def test_a_concurrent_duplicate_still_in_flight_gets_409_never_5xx(aws) -> None:
    hasher = get_services().hasher()
    run_once = get_services().idempotency.run_once
    scope = {"project": "demo", "environment": "dev", "caller": "k"}
    inside, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def slow_create() -> dict[str, Any]:
        inside.set()
        release.wait(10)
        return {"key": "archie_demo_dev_value", "key_id": "x"}

    def first() -> None:
        results["first"] = run_once(hasher, scope, "ci-7", {"b": 1}, slow_create, lambda_context())

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    with pytest.raises(ConflictError) as conflict:
        run_once(hasher, scope, "ci-7", {"b": 1}, slow_create, lambda_context())
    assert conflict.value.status == 409 and conflict.value.code == "idempotency_in_progress"
    release.set()
    thread.join(10)
    assert results["first"]["key"] == "archie_demo_dev_value"
    assert run_once(hasher, scope, "ci-7", {"b": 1}, slow_create, lambda_context()) == results["first"]


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
    api("GET", KEYS, wrong + checksum(wrong))  # a refused key (right id, wrong secret) is logged too
    stored = json.dumps([table_items(t) for t in ("KEYS_TABLE", "IDEMPOTENCY_TABLE", "AUDIT_TABLE")])
    assert secret not in stored and admin_key[-28:-6] not in stored
    key_item = next(i for i in table_items("KEYS_TABLE") if i["sk"]["S"] == f"KEY#{created.body['key_id']}")
    assert key_item["hash"]["S"].startswith("$argon2id$")
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "key refused" in caplog.text or "key refused" in logs
    assert secret not in logs and admin_key[-28:-6] not in logs
