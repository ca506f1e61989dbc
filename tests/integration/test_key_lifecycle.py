"""Over HTTP against the local stack: what a CI pipeline and API Gateway see, caches included."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime

from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")


def test_a_pipeline_creates_a_key_uses_it_lists_it_and_it_is_refused_right_after_delete(stack, admin) -> None:
    base, sample = stack.url(), stack.url("SampleApi")
    put_orders_reader(base, admin)
    created = http(
        base, "POST", KEYS, admin, {"name": "ci", "roles": ["orders-reader"]}, headers={"Idempotency-Key": "run-1"}
    )
    assert created.status == 201
    key, key_id = created.body["key"], created.body["key_id"]

    # Accepted on the next request, on both APIs; these answers are now in API Gateway's result cache.
    assert http(sample, "GET", "/orders/7", key).status == 200
    assert http(base, "GET", KEYS, key).status == 200
    assert http(base, "GET", f"{KEYS}/{key_id}", key).body["key_id"] == key_id
    assert key_id in [k["key_id"] for k in http(base, "GET", KEYS, admin).body["keys"]]

    assert http(base, "DELETE", f"{KEYS}/{key_id}", admin).status == 204
    # The very next request is refused at every layer (403: the authorizer's Deny, naming the key for the
    # audit), although the gateway cached an Allow for 300 s.
    assert http(sample, "GET", "/orders/7", key).status == 403
    assert http(base, "GET", KEYS, key).status == 403


def test_concurrent_retries_of_one_create_make_exactly_one_key_and_no_5xx(stack, admin) -> None:
    base = stack.url()
    put_orders_reader(base, admin)
    before = {k["key_id"] for k in http(base, "GET", f"{KEYS}?limit=100", admin).body["keys"]}
    replies = []

    def create() -> None:
        replies.append(
            http(
                base,
                "POST",
                KEYS,
                admin,
                {"name": "retry", "roles": ["orders-reader"]},
                headers={"Idempotency-Key": "deploy-77"},
            )
        )

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(r.status in (201, 409) for r in replies), [r.status for r in replies]
    values = {r.body["key"] for r in replies if r.status == 201}
    assert len(values) == 1
    after = {k["key_id"] for k in http(base, "GET", f"{KEYS}?limit=100", admin).body["keys"]}
    assert len(after - before) == 1


def test_an_expired_key_is_refused_on_the_next_request_although_the_gateway_cached_it(stack, admin) -> None:
    base, sample = stack.url(), stack.url("SampleApi")
    put_orders_reader(base, admin)
    expires = math.floor(time.time()) + 3  # keys expire on whole seconds
    created = http(
        base,
        "POST",
        KEYS,
        admin,
        {
            "name": "short-lived",
            "roles": ["orders-reader"],
            "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
        },
    )
    assert created.status == 201, created.body
    key, key_id = created.body["key"], created.body["key_id"]
    assert http(sample, "GET", "/orders", key).status == 200  # the gateway caches this Allow (300 s)
    assert http(base, "GET", KEYS, key).status == 200
    assert http(base, "GET", f"{KEYS}/{key_id}", admin).body["status"] == "active"

    # Called again and again (bounded): the expiry flush, invoked when the key was made, waits for its second,
    # so the gateway's cached Allow stops being served then, never before.
    deadline = time.monotonic() + 15
    while True:
        sent = time.time()
        status = http(sample, "GET", "/orders", key).status
        if status != 200:
            break
        assert time.monotonic() < deadline, "the gateway kept serving the expired key"
        time.sleep(0.02)
    assert status == 403 and sent >= expires
    assert http(base, "GET", KEYS, key).status == 403
    assert http(base, "GET", f"{KEYS}/{key_id}", admin).body["status"] == "expired"


def test_make_run_style_errors_are_json_with_a_code(stack, admin) -> None:
    reply = http(stack.url(), "POST", KEYS, admin, {"name": "x", "roles": ["nope"]})
    assert reply.status == 422 and reply.body == {
        "code": "unknown_role",
        "message": "unknown role: nope",
        "field": "roles",
    }
    assert http(stack.url(), "GET", KEYS).body["code"] == "unauthorized"


def test_a_disabled_key_is_refused_at_once_with_reason_disabled_although_the_gateway_cached_it(stack, admin) -> None:
    base, sample = stack.url(), stack.url("SampleApi")
    put_orders_reader(base, admin)
    created = http(base, "POST", KEYS, admin, {"name": "paused", "roles": ["orders-reader"]})
    key, key_id = created.body["key"], created.body["key_id"]
    assert http(sample, "GET", "/orders/3", key).status == 200  # the gateway caches this Allow (300 s)

    disabled = http(base, "PATCH", f"{KEYS}/{key_id}", admin, {"enabled": False})
    assert disabled.status == 200 and disabled.body["status"] == "disabled", disabled.body
    # The very next request is refused, by the authorizer's Deny naming the key and why.
    assert http(sample, "GET", "/orders/3", key).status == 403
    assert http(base, "POST", env_path("demo", "dev", "/verify"), admin, {"key": key}).body == {
        "valid": False,
        "code": "disabled",
    }
    # The refusal reaches the key's audit with its reason (the access log is ingested within seconds).
    deadline = time.monotonic() + 15
    while True:
        records = http(base, "GET", env_path("demo", "dev", f"/audit?kind=request&key_id={key_id}"), admin).body
        reasons = [r.get("reason") for r in records["records"]]
        if "disabled" in reasons:
            break
        assert time.monotonic() < deadline, reasons
        time.sleep(0.2)

    # Enabled again: the same value is accepted at once (the cached Deny was flushed too).
    assert http(base, "PATCH", f"{KEYS}/{key_id}", admin, {"enabled": True}).body["status"] == "active"
    assert http(sample, "GET", "/orders/3", key).status == 200
