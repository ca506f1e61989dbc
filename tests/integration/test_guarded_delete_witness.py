"""Over HTTP against a local stack modelling AWS: no log delivery attests the audit (the ingest trusts no
deliverer, as deployed), so only the authorizer's witness can prove a guarded delete.

A request answered 0, 10 or 50 ms before `DELETE ...?if_unused_for=600` was authorized moments ago: the witness
proves nothing, the audit cannot be proven whole, so the delete answers 503 (409 had the audit seen it), never
204. A key no authorizer has let through is proven idle by the witness alone, and revoked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import INTEGRATION_ENVIRONMENT
from tests.integration.test_guarded_delete_race import KEYS, assert_refused_and_intact, new_key
from tests.support import http

# As deployed: the ingest honours no deliverer's attestation, so the ingest watermark never moves.
AS_ON_AWS = {**INTEGRATION_ENVIRONMENT, "AUDIT_TRUSTED_DELIVERER": ""}


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from archie_local.stack import LocalStack

    with LocalStack(port=0, sample_port=0, environment_overrides=AS_ON_AWS) as running:
        yield running


@pytest.mark.parametrize("gap_ms", [0, 10, 50])
def test_a_request_just_before_a_guarded_delete_stops_it_with_nothing_attesting_the_audit(stack, admin, gap_ms) -> None:
    # Given a key that has just answered a request on the protected API
    key, key_id = new_key(stack, admin, f"aws race {gap_ms} ms")
    assert http(stack.url("SampleApi"), "GET", "/orders/7", key).status == 200
    # When, `gap_ms` after that answer, the key is deleted unless unused for ten minutes
    time.sleep(gap_ms / 1000)  # the race's own parameter: how soon after the answer the DELETE is sent
    reply = http(stack.url(), "DELETE", f"{KEYS}/{key_id}?if_unused_for=600", admin)
    # Then the delete refuses (503: the witness saw the key, and nothing proves the audit whole), key intact
    assert_refused_and_intact(reply, stack, key)
    assert reply.status == 503


def test_a_key_no_authorizer_let_through_is_revoked_with_nothing_attesting_the_audit(stack, admin) -> None:
    # Given another key's traffic (the audit's sources exist, and attest nothing) and a key never used
    other, _ = new_key(stack, admin, "aws busy elsewhere")
    assert http(stack.url("SampleApi"), "GET", "/orders/7", other).status == 200
    key, key_id = new_key(stack, admin, "aws idle")
    # When it is deleted unless unused for ten minutes, then the witness alone proves it idle: revoked
    assert http(stack.url(), "DELETE", f"{KEYS}/{key_id}?if_unused_for=600", admin).status == 204
    assert http(stack.url("SampleApi"), "GET", "/orders/7", key).status == 403
