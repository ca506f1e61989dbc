"""A revoked key is refused by an authorizer that never saw it valid: a Lambda instance started after the
revocation (empty in-function caches) reads the record cold and must refuse it there, not only on a refresh
of a decision it had cached. Every other revocation test warms the cache first."""

from __future__ import annotations

import pytest

from archie_keys.edge import composition
from tests.component.decision_stack import Environment

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
