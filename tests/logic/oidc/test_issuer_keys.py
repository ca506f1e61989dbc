"""An issuer's keys are fetched rarely and on purpose: cached for a TTL, re-read once when the issuer rotates
to a kid we have not seen, never in a loop however many invented kids arrive, and kept through a short
outage of the issuer (then 503 with Retry-After, never a 401 for a token that may be fine)."""

from __future__ import annotations

import pytest

from archie_keys.app.issuer_keys import CachePolicy, IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier
from archie_keys.aws.oidc_discovery import OidcDiscovery
from archie_keys.domain import oidc_errors
from archie_keys.domain.limits import (
    JWKS_CACHE_TTL_SECONDS,
    JWKS_FAILURE_BACKOFF_SECONDS,
    JWKS_REFETCH_MIN_INTERVAL_SECONDS,
    JWKS_STALE_MAX_SECONDS,
)
from archie_local.oidc_issuer import LocalOidcIssuer
from tests.fakes.oidc import AUDIENCE, GITHUB_SUB, TEST_ISSUER


def verify(verifier: OidcVerifier, token: str) -> object:
    return verifier.verify(token, TEST_ISSUER, {AUDIENCE})


def test_the_keys_are_fetched_once_and_reused_until_their_ttl(issuer, verifier, internet, clock) -> None:
    for _ in range(5):
        verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    assert internet.jwks_fetches() == 1

    clock.advance(JWKS_CACHE_TTL_SECONDS)
    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    assert internet.jwks_fetches() == 2


def test_after_the_issuer_rotates_a_token_with_the_new_kid_is_verified_after_one_fetch(
    issuer, verifier, internet, clock
) -> None:
    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    clock.advance(JWKS_REFETCH_MIN_INTERVAL_SECONDS)
    issuer.rotate()

    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))

    assert internet.jwks_fetches() == 2


def test_a_flood_of_tokens_with_invented_kids_costs_one_fetch_per_interval(issuer, verifier, internet, clock) -> None:
    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    clock.advance(JWKS_REFETCH_MIN_INTERVAL_SECONDS)

    for n in range(200):
        with pytest.raises(oidc_errors.UnknownSigningKeyError):
            verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE, header={"kid": f"invented-{n}"}))
        clock.advance(0.1)

    # 200 tokens over 20 s: one re-read at the first, none for the rest of the interval.
    assert internet.jwks_fetches() == 2


def test_a_kid_rotated_in_just_after_a_fetch_is_refused_until_the_interval_then_accepted(
    issuer, verifier, clock
) -> None:
    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    issuer.rotate()
    fresh = issuer.mint(GITHUB_SUB, AUDIENCE)
    with pytest.raises(oidc_errors.UnknownSigningKeyError):
        verify(verifier, fresh)

    clock.advance(JWKS_REFETCH_MIN_INTERVAL_SECONDS)
    assert verify(verifier, fresh)


def test_a_key_the_issuer_withdraws_is_refused_once_the_cache_is_re_read(issuer, verifier, clock) -> None:
    old = issuer.mint(GITHUB_SUB, AUDIENCE, ttl_seconds=3600)
    verify(verifier, old)
    issuer.rotate(keep_previous=False)

    clock.advance(JWKS_CACHE_TTL_SECONDS)

    with pytest.raises(oidc_errors.UnknownSigningKeyError):
        verify(verifier, old)


def test_an_unreachable_issuer_is_a_503_with_retry_after_and_is_not_hammered(issuer, verifier, internet, clock) -> None:
    internet.down = True

    with pytest.raises(oidc_errors.IssuerUnavailableError) as first:
        verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    for _ in range(50):
        with pytest.raises(oidc_errors.IssuerUnavailableError) as later:
            verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))

    assert (first.value.status, first.value.code) == (503, "service_unavailable")
    assert first.value.retry_after == JWKS_FAILURE_BACKOFF_SECONDS
    assert 0 < later.value.retry_after <= JWKS_FAILURE_BACKOFF_SECONDS
    assert len(internet.fetched) == 1

    internet.down = False
    clock.advance(JWKS_FAILURE_BACKOFF_SECONDS)
    assert verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))


def test_keys_already_held_keep_serving_through_an_outage_for_at_most_an_hour(
    issuer, verifier, internet, clock
) -> None:
    verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))
    internet.down = True

    clock.advance(JWKS_CACHE_TTL_SECONDS)
    assert verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))

    clock.advance(JWKS_STALE_MAX_SECONDS - JWKS_CACHE_TTL_SECONDS)
    with pytest.raises(oidc_errors.IssuerUnavailableError):
        verify(verifier, issuer.mint(GITHUB_SUB, AUDIENCE))


def test_a_discovery_document_speaking_for_another_issuer_is_not_believed(internet, clock) -> None:
    class Impostor(LocalOidcIssuer):
        def discovery(self) -> dict[str, object]:
            return {**super().discovery(), "issuer": TEST_ISSUER}

    impostor = internet.serve(Impostor("https://evil.example", clock=clock))
    verifier = OidcVerifier(IssuerKeys(OidcDiscovery(internet), clock), clock)

    with pytest.raises(oidc_errors.IssuerUnavailableError):
        verifier.verify(impostor.mint(GITHUB_SUB, AUDIENCE), impostor.url, {AUDIENCE})


@pytest.mark.parametrize("jwks_uri", ["http://keys.example/jwks", "https://169.254.169.254/keys", "file:///etc/passwd"])
def test_a_jwks_uri_that_is_not_https_with_a_host_name_is_not_fetched(internet, clock, jwks_uri) -> None:
    class Pointing(LocalOidcIssuer):
        def discovery(self) -> dict[str, object]:
            return {**super().discovery(), "jwks_uri": jwks_uri}

    pointing = internet.serve(Pointing(TEST_ISSUER, clock=clock))
    verifier = OidcVerifier(IssuerKeys(OidcDiscovery(internet), clock), clock)

    with pytest.raises(oidc_errors.IssuerUnavailableError):
        verifier.verify(pointing.mint(GITHUB_SUB, AUDIENCE), TEST_ISSUER, {AUDIENCE})
    assert internet.fetched == [f"{TEST_ISSUER}/.well-known/openid-configuration"]


def test_only_a_bounded_number_of_issuers_is_remembered(internet, clock) -> None:
    issuers = [internet.serve(LocalOidcIssuer(f"https://issuer{n}.example", clock=clock)) for n in range(3)]
    keys = IssuerKeys(OidcDiscovery(internet), clock, CachePolicy(max_issuers=2))
    for issuer in issuers:
        keys.keys_for(issuer.url, issuer.kid)

    keys.keys_for(issuers[2].url, issuers[2].kid)
    keys.keys_for(issuers[0].url, issuers[0].kid)

    assert internet.jwks_fetches() == 4  # the first was forgotten and fetched again; the last was not
