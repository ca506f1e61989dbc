"""The OIDC tests' one set-up: a settable clock, an in-process internet (tests/fakes/oidc.py: no sockets), the
development issuer served on it, and a verifier that reaches the issuer's keys only through that internet."""

from __future__ import annotations

import pytest

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier
from archie_keys.aws.oidc_discovery import OidcDiscovery
from archie_local.oidc_issuer import LocalOidcIssuer
from tests.fakes.oidc import TEST_ISSUER, FakeClock, InProcessInternet


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def internet() -> InProcessInternet:
    return InProcessInternet()


@pytest.fixture
def issuer(internet: InProcessInternet, clock: FakeClock) -> LocalOidcIssuer:
    return internet.serve(LocalOidcIssuer(TEST_ISSUER, clock=clock))


@pytest.fixture
def verifier(internet: InProcessInternet, clock: FakeClock) -> OidcVerifier:
    return OidcVerifier(IssuerKeys(OidcDiscovery(internet), clock), clock)
