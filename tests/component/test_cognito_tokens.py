"""The AWS path for people: a Cognito user pool's ID token, verified by the same verifier through the pool's
OIDC discovery and JWKS, as moto serves them (in-process: its HTTP mock answers the pool's
https://cognito-idp.<region>.amazonaws.com/<pool id>/.well-known/... addresses; nothing leaves the process).

What moto 5.2.5 gives: the pool's discovery document (issuer, jwks_uri) and JWKS, ID tokens signed RS256
with `kid`, `iss`, `aud` (the app client), `sub`, `iat`, `exp`, `jti`, `cognito:username`, `cognito:groups`.
What it does not: every pool signs with the same key (kid "dummy", from moto's own files), the standard
`email` and `email_verified` claims appear only when the pool's username is the email, and access tokens
carry `client_id` instead of `aud` (as on AWS): the verifier accepts Cognito's ID tokens; an access token
needs a `client_id` rule the wiring has not chosen yet, and is refused here, by the audience check."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier, trusted_token
from archie_keys.aws.oidc_discovery import OidcDiscovery
from archie_keys.domain import oidc_errors
from archie_keys.domain.oidc_actor import person_actor
from archie_keys.domain.trust import parse_trust_policy
from tests.fakes.oidc import moto_getter, people_pool

REGION = "eu-west-1"


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        people = people_pool(REGION, {"ada@acme.example": ["platform-admins"], "grace@acme.example": []})
        yield {"issuer": people.issuer, "client_id": people.client_id, "sign_in": people.sign_in}


@pytest.fixture
def verifier() -> OidcVerifier:
    return OidcVerifier(IssuerKeys(OidcDiscovery(moto_getter)))


def test_a_cognito_id_token_is_verified_through_the_pools_discovery(pool, verifier) -> None:
    tokens = pool["sign_in"]("ada@acme.example")

    verified = verifier.verify(tokens["IdToken"], pool["issuer"], {pool["client_id"]})

    assert verified.claims["cognito:groups"] == ["platform-admins"]
    assert verified.claims["email"] == "ada@acme.example"
    assert verified.claims["token_use"] == "id"


def test_a_platform_admin_signing_in_through_cognito_gets_the_admins_policy(pool, verifier) -> None:
    admins = parse_trust_policy(
        "admins",
        {
            "issuer": pool["issuer"],
            "audience": pool["client_id"],
            "claims": {"cognito:groups": "platform-admins"},
            "roles": ["admin"],
        },
    )

    trusted = trusted_token(verifier, [admins], pool["sign_in"]("ada@acme.example")["IdToken"])

    assert trusted.policy.roles == ("admin",)
    # moto's ID token has no email_verified: the audit names the person by their subject, not an email
    assert person_actor(trusted.token.claims).name == f"user:{trusted.token.subject}"
    with pytest.raises(oidc_errors.UntrustedTokenError):
        trusted_token(verifier, [admins], pool["sign_in"]("grace@acme.example")["IdToken"])


def test_a_cognito_token_for_another_app_client_is_refused(pool, verifier) -> None:
    tokens = pool["sign_in"]("ada@acme.example")

    with pytest.raises(oidc_errors.WrongAudienceError):
        verifier.verify(tokens["IdToken"], pool["issuer"], {"another-client"})


def test_a_cognito_access_token_has_no_aud_and_is_refused_for_now(pool, verifier) -> None:
    tokens = pool["sign_in"]("ada@acme.example")

    with pytest.raises(oidc_errors.InvalidClaimsError):
        verifier.verify(tokens["AccessToken"], pool["issuer"], {pool["client_id"]})
