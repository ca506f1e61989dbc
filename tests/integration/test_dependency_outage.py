"""When AWS fails under the authorizer, clients are told to retry (503 with Retry-After), never that their
key is bad (401) nor a bare 500; a decision API Gateway already cached keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import INTEGRATION_ENVIRONMENT
from tests.support import env_path, http, put_orders_reader


@pytest.fixture
def doomed_stack() -> Iterator[Any]:
    """A stack of its own: this test takes its AWS endpoint (moto) away."""
    from archie_local.stack import LocalStack

    with LocalStack(port=0, sample_port=0, environment_overrides=INTEGRATION_ENVIRONMENT) as running:
        yield running


def test_with_aws_gone_an_undecided_key_gets_503_with_retry_after_and_a_cached_one_still_works(doomed_stack) -> None:
    # Given two keys of demo/dev, one already used through the sample API (API Gateway cached its Allow)
    base, sample = doomed_stack.url(), doomed_stack.url("SampleApi")
    admin = doomed_stack.bootstrap("demo", "dev")
    put_orders_reader(base, admin)
    used, fresh = (
        http(base, "POST", env_path("demo", "dev", "/keys"), admin, {"name": n, "roles": ["orders-reader"]}).body["key"]
        for n in ("used", "fresh")
    )
    assert http(sample, "GET", "/orders/1", used).status == 200
    # When the stack's AWS endpoint goes away (DynamoDB, Secrets Manager: everything the authorizer reads)
    doomed_stack.moto.stop()
    # Then a key whose decision is not cached cannot be checked: 503, retry later; and no decision was cached
    for _ in range(2):
        reply = http(sample, "GET", "/orders/1", fresh)
        assert reply.status == 503 and reply.body["code"] == "service_unavailable", reply.body
        assert int(reply.headers["Retry-After"]) > 0
    # And the cached decision keeps serving its key through the outage
    assert http(sample, "GET", "/orders/1", used).status == 200
    # And a malformed key is still refused without any AWS call: 401, as before the outage
    assert http(sample, "GET", "/orders/1", "archie_demo_dev_nonsense").status == 401
