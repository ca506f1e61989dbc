"""Mass revocation on the fakes: the rule refuses every key it covers from its commit, before any key is
marked; its worker marks them, uncounts their roles and ends it; keys outside its match, or made after it,
are untouched; the environment holds a bounded number at once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from archie_keys.app.commands import RevokeKeys
from archie_keys.app.mass_revocation import revocation_status, revoke_keys
from archie_keys.app.revocation_worker import RevocationJob, run_revocation
from archie_keys.app.services import AppConfig
from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain import limits
from archie_keys.domain.errors import ConflictError, KeyRefusedError
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, caller, new_key, role


@pytest.fixture
def services() -> FakeServices:
    return FakeServices(replace(AppConfig(), revocation_worker_function="revocation-worker"))


def tenant_keys(services: FakeServices, admin) -> dict[str, str]:
    role(services, admin, "reader", READER)
    return {
        name: new_key(services, admin, name, ["reader"], context={"tenant": tenant}).value
        for name, tenant in (("a1", "acme"), ("a2", "acme"), ("b1", "bolt"))
    }


def revoke_tenant(services: FakeServices, admin, tenant: str) -> dict:
    return revoke_keys(services, admin, RevokeKeys(PLACE, {"tenant": tenant}, "leaked"), None)  # type: ignore[arg-type]


def run_worker(services: FakeServices) -> dict:
    function, event = services.invoker.invocations[-1]
    assert function == "revocation-worker"
    return run_revocation(services, RevocationJob.parse(event), lambda: 900.0, lambda _: None, lambda _: None)  # type: ignore[arg-type]


def test_the_rule_refuses_its_keys_at_once_and_the_worker_marks_them(services: FakeServices, admin) -> None:
    values = tenant_keys(services, admin)
    services.clock.advance(1)
    answer = revoke_tenant(services, admin, "acme")
    assert answer["matched"] == 2 and services.flusher.flushes  # counted, and every cache flushed
    for name in ("a1", "a2"):  # refused before the worker has marked anything
        with pytest.raises(KeyRefusedError):
            caller(services, values[name])
    assert caller(services, values["b1"]).key_id  # another tenant's key still works
    services.clock.advance(services.config.revocation_settle_seconds)
    assert run_worker(services) == {"status": "done", "marked": 2}
    status = revocation_status(services, admin, PLACE, answer["revocation_id"])  # type: ignore[arg-type]
    assert (status["status"], status["revoked"]) == ("done", 2)
    assert services.store.get_role("shop", "prod", "reader").key_count == 1  # b1 alone holds it now
    assert {"revocation.started", "revocation.finished"} <= set(services.audit.names())
    assert services.revocations.registry.registered() == []


def test_a_warm_authorizer_refuses_a_covered_key_as_revoked_within_one_cache_ttl(
    services: FakeServices, admin, monkeypatch
) -> None:
    """An instance that accepted the key (and cached the environment's state) before the rule: it re-reads the
    state once a cache TTL old and refuses the key `revoked` from then on, remembering the refusal for the
    negative cache's TTL; another tenant's key, cached alongside, stays accepted."""
    values = tenant_keys(services, admin)
    warm = KeyVerifier(
        services.store, services, VerifierConfig(1.0, 5.0, 300.0), services.clock, tag_keys=services.key_tags
    )
    assert warm.verify(values["a1"]).identity.context == {"tenant": "acme"}
    assert warm.verify(values["b1"]).identity.context == {"tenant": "bolt"}
    services.clock.advance(1)  # the rule covers keys made before it; the cached state is a cache TTL old
    revoke_tenant(services, admin, "acme")
    reads: list[str] = []
    get_key = services.store.get_key
    monkeypatch.setattr(services.store, "get_key", lambda *a, **k: reads.append(a[2]) or get_key(*a, **k))
    for _ in range(2):  # refused after one re-read of the key, then from the negative cache with no read at all
        with pytest.raises(KeyRefusedError) as refused:
            warm.verify(values["a1"])
        assert refused.value.reason == "revoked" and len(reads) == 1
    assert warm.verify(values["b1"]).identity.context == {"tenant": "bolt"}


def test_a_key_made_after_the_rule_is_not_covered(services: FakeServices, admin) -> None:
    tenant_keys(services, admin)
    services.clock.advance(1)
    revoke_tenant(services, admin, "acme")
    services.clock.advance(1)
    later = new_key(services, admin, "a3", ["reader"], context={"tenant": "acme"}).value
    services.clock.advance(services.config.revocation_settle_seconds)
    run_worker(services)
    assert caller(services, later).key_id


def test_an_environment_holds_a_bounded_number_of_revocations_under_way(services: FakeServices, admin) -> None:
    tenant_keys(services, admin)
    for n in range(limits.REVOCATIONS_RUNNING_MAX):
        services.clock.advance(1)
        revoke_tenant(services, admin, f"t{n}")
    services.clock.advance(1)
    with pytest.raises(ConflictError) as refused:
        revoke_tenant(services, admin, "acme")
    assert refused.value.code == "too_many_revocations"


def test_a_retry_with_the_same_idempotency_key_answers_the_same_revocation(services: FakeServices, admin) -> None:
    """As the POST handler runs it: the first request's answer is stored with its commit, so a retry (the
    first answer lost on the way) names the same revocation and starts no second one."""
    from archie_keys.app import idempotent
    from archie_keys.app.mass_revocation import replay

    tenant_keys(services, admin)
    services.clock.advance(1)
    command = RevokeKeys(PLACE, {"tenant": "acme"}, "leaked")
    request = idempotent.request_for(PLACE, admin, "revoke_keys", "revoke-acme", {"context": {"tenant": "acme"}})

    def post() -> dict:
        return idempotent.once(services, request, lambda ticket: revoke_keys(services, admin, command, ticket), replay)  # type: ignore[arg-type]

    first = post()
    services.clock.advance(1)
    again = post()

    assert again == first == {"revocation_id": first["revocation_id"], "matched": 2}
    assert services.audit.names().count("revocation.started") == 1
    assert len(services.invoker.invocations) == 1
