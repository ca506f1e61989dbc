"""Over HTTP against the local stack: a guarded delete sees every request answered before it arrived.

The audit sees a request once its access line is delivered (every 0.3 s locally, seconds on AWS) and ingested;
a request answered a few milliseconds before `DELETE ...?if_unused_for=` is not there yet. The delete waits for
the ingest watermark to pass its own arrival, so it answers 409 key_in_use (or 503 when that cannot be proven
in time), and never 204 for a key that has just answered.

Here the audit alone decides: the authorizer is no witness (as before the witness is in force), so the
watermark's proof is what these tests show. With the witness and nothing attesting the audit, as on AWS:
test_guarded_delete_witness.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import INTEGRATION_ENVIRONMENT
from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from archie_local.stack import LocalStack

    audit_alone = {**INTEGRATION_ENVIRONMENT, "AUTHORIZER_WITNESS_SINCE": "-1"}
    with LocalStack(port=0, sample_port=0, environment_overrides=audit_alone) as running:
        yield running


def new_key(stack: Any, admin: str, name: str) -> tuple[str, str]:
    put_orders_reader(stack.url(), admin)
    created = http(stack.url(), "POST", KEYS, admin, {"name": name, "roles": ["orders-reader"]})
    assert created.status == 201, created.body
    return created.body["key"], created.body["key_id"]


def assert_refused_and_intact(reply: Any, stack: Any, key: str) -> None:
    assert reply.status != 204, "a key that had just answered a request was revoked"
    assert reply.status in (409, 503), reply.body
    if reply.status == 409:
        assert reply.body["code"] == "key_in_use" and reply.body["last_used_at"], reply.body
    else:
        assert int(reply.headers["Retry-After"]) > 0
    assert http(stack.url("SampleApi"), "GET", "/orders/7", key).status == 200  # nothing was revoked


@pytest.mark.parametrize("gap_ms", [0, 10, 50])
def test_a_request_answered_just_before_a_guarded_delete_stops_it(stack, admin, gap_ms) -> None:
    # Given a key that has just answered a request on the protected API
    key, key_id = new_key(stack, admin, f"race {gap_ms} ms")
    assert http(stack.url("SampleApi"), "GET", "/orders/7", key).status == 200
    # When, `gap_ms` after that answer, the key is deleted unless unused for ten minutes
    time.sleep(gap_ms / 1000)  # the race's own parameter: how soon after the answer the DELETE is sent
    reply = http(stack.url(), "DELETE", f"{KEYS}/{key_id}?if_unused_for=600", admin)
    # Then the delete refuses, and the key goes on working
    assert_refused_and_intact(reply, stack, key)


def test_a_request_on_the_management_api_just_before_stops_it_too(stack, admin) -> None:
    key, key_id = new_key(stack, admin, "race on the management api")
    assert http(stack.url(), "GET", env_path("demo", "dev", "/whoami"), key).status == 200
    reply = http(stack.url(), "DELETE", f"{KEYS}/{key_id}?if_unused_for=600", admin)
    assert_refused_and_intact(reply, stack, key)


def test_an_idle_key_is_revoked_although_the_protected_api_logs_nothing_more(stack, admin) -> None:
    # Given another key's request on the protected API (its log group now has a watermark of its own), then
    # nothing more there: only the deliverer's attestations of that idle group move its watermark past the
    # DELETE's arrival.
    other, _ = new_key(stack, admin, "busy elsewhere")
    assert http(stack.url("SampleApi"), "GET", "/orders/7", other).status == 200
    stack.logs.flush()  # that line is delivered now: no later delivery of the group holds a line
    key, key_id = new_key(stack, admin, "idle")
    # When the idle key is deleted unless unused for ten minutes, then it is revoked
    assert http(stack.url(), "DELETE", f"{KEYS}/{key_id}?if_unused_for=600", admin).status == 204
    assert http(stack.url("SampleApi"), "GET", "/orders/7", key).status == 403
