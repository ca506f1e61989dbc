"""A pipeline exchanges its OIDC token for a short-lived key: a token for a trusted repository and ref gets a
key that works through the gateway and expires on time; every other token (wrong audience, issuer, subject,
signature, alg, expired, unknown kid, replayed) is refused with one clear answer and no key is made.

The development issuer (archie_local.oidc_issuer) serves discovery and keys on 127.0.0.1 (a free port,
stopped by the fixture); the exchange fetches them over HTTP as it does on AWS. The routes run through the
template's local gateway, the real handlers behind it."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from archie_keys.app.verification import KeyVerifier, VerifierConfig
from archie_keys.domain.errors import KeyRefusedError
from archie_keys.domain.keyformat import parse_key
from archie_keys.edge.composition import get_services, get_settings
from archie_local.oidc_issuer import LocalOidcIssuer
from tests.fakes.oidc import b64url, compact
from tests.support import env_path

SUBJECT = "repo:acme/billing:ref:refs/heads/main"
AUDIENCE = "archie-keys"
RUN = {"repository": "acme/billing", "workflow": "deploy", "ref": "refs/heads/main", "run_id": "9876543210"}
EXCHANGE = env_path("demo", "dev", "/keys/exchange")
KEYS = env_path("demo", "dev", "/keys")
DEPLOYER = {
    "permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]
}


@pytest.fixture
def issuer() -> Iterator[LocalOidcIssuer]:
    with LocalOidcIssuer().serve() as running:
        yield running


def policy(issuer: LocalOidcIssuer, **overrides: Any) -> dict[str, Any]:
    return {
        "issuer": issuer.url,
        "audience": AUDIENCE,
        "subject": SUBJECT,
        "claims": {"workflow": "deploy"},
        "roles": ["deployer"],
        "context": {"tenant": "t-17"},
        **overrides,
    }


@pytest.fixture
def trusted(api: Any, admin_key: str, issuer: LocalOidcIssuer) -> dict[str, Any]:
    """demo/dev trusts acme/billing's main branch, deploy workflow, with the deployer role for tenant t-17."""
    assert api("PUT", env_path("demo", "dev", "/roles/deployer"), admin_key, DEPLOYER).status == 201
    put = api("PUT", env_path("demo", "dev", "/trust/billing-deploy"), admin_key, policy(issuer))
    assert put.status == 201, put.body
    return put.body


def key_count(api: Any, admin_key: str) -> int:
    return len(api("GET", f"{KEYS}?limit=100", admin_key).body["keys"])


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_for_a_trusted_repository_and_ref_gets_a_key_that_works_and_expires_on_time(
    api, apis, admin_key, issuer, trusted
) -> None:
    token = issuer.mint(SUBJECT, AUDIENCE, RUN)
    asked = time.time()

    made = api("POST", EXCHANGE, None, {"token": token, "ttl_seconds": 120})

    assert made.status == 201, made.body
    assert made.headers.get("Cache-Control") == "no-store"
    record = made.body["record"]
    assert (record["roles"], record["context"], record["status"]) == (["deployer"], {"tenant": "t-17"}, "active")
    assert record["created_by"] == f"oidc:{issuer.url}#{SUBJECT}"
    assert record["name"] == "exchanged under billing-deploy, run 9876543210"
    # It works through the gateway, with the policy's roles and context ...
    orders = apis["SampleApi"]("GET", "/orders/42", made.body["key"])
    assert orders.status == 200, orders.body
    # ... and expires on the second asked for (rounded down, never later), refused from that second on.
    expires = get_services().store.get_key("demo", "dev", made.body["key_id"])["expires_epoch"]
    assert math.floor(asked + 120) <= expires <= math.floor(time.time() + 120)
    settings = get_settings()
    config = VerifierConfig(settings.authorizer_cache_ttl_seconds, settings.authorizer_negative_cache_ttl_seconds)
    clock = Clock(float(expires) - 1)
    services = get_services()
    verifier = KeyVerifier(services.store, services.hasher_provider, config, clock, tag_keys=services.key_tags)
    assert verifier.verify(made.body["key"]).identity.key_id == made.body["key_id"]
    clock.now = float(expires)
    with pytest.raises(KeyRefusedError) as refused:
        verifier.verify(made.body["key"])
    assert refused.value.reason == "expired"


def test_the_key_lives_the_policys_max_ttl_by_default_and_never_longer(api, admin_key, issuer, trusted) -> None:
    asked = time.time()
    made = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN)})
    assert made.status == 201, made.body
    expires = get_services().store.get_key("demo", "dev", made.body["key_id"])["expires_epoch"]
    assert math.floor(asked) + 900 <= expires <= time.time() + 900  # the default max_ttl_seconds: 15 minutes

    longer = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN), "ttl_seconds": 901})
    assert longer.status == 422 and longer.body["field"] == "ttl_seconds", longer.body


def test_the_audit_names_the_workload_and_its_run(api, admin_key, issuer, trusted) -> None:
    made = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN), "name": "deploy 1"})
    assert made.status == 201, made.body

    events = api("GET", env_path("demo", "dev", f"/audit?kind=event&key_id={made.body['key_id']}"), admin_key)

    (created,) = [r for r in events.body["records"] if r["event"] == "key.created"]
    assert created["actor_key_id"] == f"oidc:{issuer.url}#{SUBJECT}"
    assert created["details"]["trust_policy"] == "billing-deploy"
    assert created["details"]["workload"] == RUN
    assert made.body["record"]["name"] == "deploy 1"


def refused_tokens(issuer: LocalOidcIssuer, stranger: LocalOidcIssuer) -> dict[str, str]:
    """One token per way a token can be wrong; each would be accepted but for that one thing."""
    now = int(time.time())
    claims = {"iss": issuer.url, "sub": SUBJECT, "aud": AUDIENCE, "iat": now, "exp": now + 300, "jti": "j1", **RUN}
    header = {"alg": "RS256", "kid": issuer.kid, "typ": "JWT"}
    good = issuer.mint(SUBJECT, AUDIENCE, RUN)
    head, _, signature = good.split(".")
    forged_body = b64url(json.dumps({**claims, "sub": "repo:acme/billing:ref:refs/heads/evil"}).encode())
    return {
        "audience": issuer.mint(SUBJECT, "someone-else", RUN),
        "issuer": stranger.mint(SUBJECT, AUDIENCE, RUN),  # an issuer no policy names
        "issuer_claimed": stranger.mint(SUBJECT, AUDIENCE, {**RUN, "iss": issuer.url}),  # says it is ours
        "subject": issuer.mint("repo:acme/billing:ref:refs/heads/feature", AUDIENCE, RUN),
        "claims": issuer.mint(SUBJECT, AUDIENCE, {**RUN, "workflow": "lint"}),
        "signature": f"{head}.{forged_body}.{signature}",
        "alg_none": compact({**header, "alg": "none"}, claims),
        "alg_hmac": compact({**header, "alg": "HS256"}, claims, b"x" * 32),
        "alg_not_the_keys": issuer.sign({**header, "alg": "RS512"}, json.dumps(claims).encode()),
        "expired": issuer.mint(SUBJECT, AUDIENCE, RUN, issued_at=now - 1000, ttl_seconds=300),
        "unknown_kid": issuer.sign({**header, "kid": "not-published"}, json.dumps(claims).encode()),
        "not_a_jwt": "not.a.jwt",
    }


# What the operator's log says failed, for each wrong token.
REASONS = {
    "audience": "audience",
    "issuer": "untrusted",
    "issuer_claimed": "unknown_key",
    "subject": "untrusted",
    "claims": "untrusted",
    "signature": "signature",
    "alg_none": "algorithm",
    "alg_hmac": "algorithm",
    "alg_not_the_keys": "algorithm",
    "expired": "expired",
    "unknown_kid": "unknown_key",
    "not_a_jwt": "malformed",
}


@pytest.mark.parametrize("wrong", sorted(REASONS))
def test_a_wrong_token_is_refused_with_one_clear_answer_and_no_key_is_made(
    api, admin_key, issuer, trusted, wrong, caplog
) -> None:
    with LocalOidcIssuer().serve() as stranger:
        token = refused_tokens(issuer, stranger)[wrong]
        before = key_count(api, admin_key)

        refused = api("POST", EXCHANGE, None, {"token": token})

    assert refused.status == 401, refused.body
    assert refused.body == {"code": "unauthorized", "message": "the token was refused"}
    assert key_count(api, admin_key) == before
    # The operator's log says which check failed; the token itself is never logged.
    (logged,) = [record for record in caplog.records if record.getMessage() == "oidc token refused"]
    assert logged.reason == REASONS[wrong]  # type: ignore[attr-defined]
    assert token not in caplog.text


def test_a_replayed_token_is_refused_and_makes_no_second_key(api, admin_key, issuer, trusted) -> None:
    token = issuer.mint(SUBJECT, AUDIENCE, RUN)
    assert api("POST", EXCHANGE, None, {"token": token}).status == 201
    before = key_count(api, admin_key)

    again = api("POST", EXCHANGE, None, {"token": token, "name": "a second try"})

    assert again.status == 401 and again.body["message"] == "the token was refused"
    assert key_count(api, admin_key) == before


def test_a_token_is_used_once_even_in_another_environment_that_trusts_it(
    api, admin_key, bootstrap, issuer, trusted
) -> None:
    other = bootstrap("demo", "qa")
    assert api("PUT", env_path("demo", "qa", "/roles/deployer"), other, DEPLOYER).status == 201
    assert api("PUT", env_path("demo", "qa", "/trust/billing-deploy"), other, policy(issuer)).status == 201
    token = issuer.mint(SUBJECT, AUDIENCE, RUN)
    assert api("POST", EXCHANGE, None, {"token": token}).status == 201

    assert api("POST", env_path("demo", "qa", "/keys/exchange"), None, {"token": token}).status == 401


def test_an_environment_that_trusts_no_one_or_does_not_exist_refuses_alike(api, admin_key, issuer) -> None:
    token = issuer.mint(SUBJECT, AUDIENCE, RUN)
    for project, environment in (("demo", "dev"), ("nosuch", "env")):
        refused = api("POST", env_path(project, environment, "/keys/exchange"), None, {"token": token})
        assert (refused.status, refused.body["message"]) == (401, "the token was refused")


def test_a_deleted_policy_trusts_no_more_tokens(api, admin_key, issuer, trusted) -> None:
    assert api("DELETE", env_path("demo", "dev", "/trust/billing-deploy"), admin_key).status == 204
    refused = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN)})
    assert refused.status == 401


def test_an_issuer_that_cannot_be_read_answers_503_and_leaves_the_token_usable(api, admin_key, issuer, trusted) -> None:
    from archie_keys.edge import composition

    token = issuer.mint(SUBJECT, AUDIENCE, RUN)
    url = issuer.url
    issuer.stop()  # its keys were never fetched by this process: nothing cached to serve
    composition.reset()
    before = key_count(api, admin_key)

    down = api("POST", EXCHANGE, None, {"token": token})

    assert down.status == 503 and down.body["code"] == "service_unavailable", down.body
    assert int(down.headers["Retry-After"]) > 0
    assert key_count(api, admin_key) == before
    # Back up on the same address, the same token is exchanged: the failure consumed nothing.
    port = int(url.rsplit(":", 1)[1])
    issuer.serve(port)
    composition.reset()
    assert api("POST", EXCHANGE, None, {"token": token}).status == 201


def test_the_key_made_is_a_key_like_any_other_parsed_as_such(api, issuer, trusted) -> None:
    made = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN)})
    parsed = parse_key(made.body["key"])
    assert (parsed.project, parsed.environment, parsed.key_id) == ("demo", "dev", made.body["key_id"])


def test_exchanges_are_limited_per_environment_and_a_refused_one_makes_no_key(
    api, admin_key, bootstrap, issuer, trusted, monkeypatch
) -> None:
    from archie_keys.domain import limits

    monkeypatch.setattr(limits, "EXCHANGES_PER_ENVIRONMENT_PER_MINUTE", 2)  # 60 in life
    # One window for the whole test (the next boundary is in 2033), so it never straddles two.
    monkeypatch.setattr(limits, "ENVIRONMENT_RATE_WINDOW_SECONDS", 10**9)
    for _ in range(2):
        assert api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN)}).status == 201
    before = key_count(api, admin_key)
    # Bogus tokens do not count: they cannot use up the environment's budget (the stage throttle bounds them).
    assert api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, "someone-else", RUN)}).status == 401

    limited = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN)})

    assert (limited.status, limited.body["code"]) == (429, "rate_limited"), limited.body
    assert int(limited.headers["Retry-After"]) >= 1
    assert key_count(api, admin_key) == before
    # Another environment has its own budget.
    other = bootstrap("demo", "qa")
    assert api("PUT", env_path("demo", "qa", "/roles/deployer"), other, DEPLOYER).status == 201
    assert api("PUT", env_path("demo", "qa", "/trust/billing-deploy"), other, policy(issuer)).status == 201
    token = issuer.mint(SUBJECT, AUDIENCE, RUN)
    assert api("POST", env_path("demo", "qa", "/keys/exchange"), None, {"token": token}).status == 201


def test_a_tenant_administrator_sees_the_exchanges_of_its_tenants_keys_in_the_audit(
    api, admin_key, issuer, trusted
) -> None:
    auditor = {"permissions": [{"resource": "audit", "actions": ["read"], "filters": {"tenant": "t-17"}}]}
    other = {"permissions": [{"resource": "audit", "actions": ["read"], "filters": {"tenant": "t-18"}}]}
    assert api("PUT", env_path("demo", "dev", "/roles/t17-auditor"), admin_key, auditor).status == 201
    assert api("PUT", env_path("demo", "dev", "/roles/t18-auditor"), admin_key, other).status == 201
    t17 = api("POST", KEYS, admin_key, {"name": "a", "roles": ["t17-auditor"], "context": {"tenant": "t-17"}})
    t18 = api("POST", KEYS, admin_key, {"name": "b", "roles": ["t18-auditor"], "context": {"tenant": "t-18"}})
    made = api("POST", EXCHANGE, None, {"token": issuer.mint(SUBJECT, AUDIENCE, RUN)})
    assert made.status == 201, made.body

    def exchanges_seen(key: str) -> list[str]:
        records = api("GET", env_path("demo", "dev", "/audit?kind=event"), key).body["records"]
        return [r["key_id"] for r in records if r["actor_key_id"].startswith("oidc:")]

    # The workload is no tenant's key: its event is as visible as the key it made (tenant t-17's).
    assert exchanges_seen(t17.body["key"]) == [made.body["key_id"]]
    assert exchanges_seen(t18.body["key"]) == []
