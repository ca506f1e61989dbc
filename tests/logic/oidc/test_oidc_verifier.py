"""A pipeline's or a person's OIDC token is believed only when its issuer's published key signed it, for our
audience, within its lifetime: every other token is refused with one answer for all, and the reason kept
for the operator. The issuer runs in-process (tests/fakes/oidc.py): no sockets, a settable clock."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier, VerifierConfig, trusted_token
from archie_keys.aws.oidc_discovery import OidcDiscovery
from archie_keys.domain import oidc_errors
from archie_keys.domain.limits import OIDC_TOKEN_MAX_LENGTH
from archie_keys.domain.trust import TrustPolicy, parse_trust_policy
from archie_local.oidc_issuer import LocalOidcIssuer
from tests.fakes.oidc import AUDIENCE, GITHUB_SUB, TEST_ISSUER, b64url, compact


def refusal(verifier: OidcVerifier, token: object, audiences: set[str] | None = None) -> oidc_errors.TokenRefusedError:
    with pytest.raises(oidc_errors.TokenRefusedError) as caught:
        verifier.verify(token, TEST_ISSUER, audiences or {AUDIENCE})
    return caught.value


def signed_by_issuer(issuer: LocalOidcIssuer, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A token with any header and claims, properly signed by the issuer's current key (a header member
    given as None is left out)."""
    protected = {name: value for name, value in {"kid": issuer.kid, **header}.items() if value is not None}
    return issuer.sign(protected, json.dumps(claims).encode())


def claims(issuer: LocalOidcIssuer, **overrides: Any) -> dict[str, Any]:
    now = int(issuer.clock())
    return {"iss": TEST_ISSUER, "sub": GITHUB_SUB, "aud": AUDIENCE, "iat": now, "exp": now + 300, **overrides}


def test_a_token_signed_by_the_trusted_issuer_for_our_audience_is_verified(issuer, verifier) -> None:
    token = issuer.mint(GITHUB_SUB, AUDIENCE, {"repository": "acme/billing", "run_id": "7"})

    verified = verifier.verify(token, TEST_ISSUER, {AUDIENCE})

    assert (verified.issuer, verified.subject, verified.alg) == (TEST_ISSUER, GITHUB_SUB, "RS256")
    assert verified.claims["repository"] == "acme/billing"


def test_an_ec_issuer_is_verified_with_es256(internet, clock, verifier) -> None:
    ec = internet.serve(LocalOidcIssuer("https://gitlab.example", algorithm="ES256", clock=clock))

    verified = verifier.verify(
        ec.mint("project_path:acme/billing:ref_type:branch:ref:main", AUDIENCE), ec.url, {AUDIENCE}
    )

    assert verified.alg == "ES256"


def test_a_token_whose_aud_lists_our_audience_among_others_is_verified(issuer, verifier) -> None:
    assert verifier.verify(issuer.mint(GITHUB_SUB, ["sts.amazonaws.com", AUDIENCE]), TEST_ISSUER, {AUDIENCE})


def test_every_refusal_gives_the_client_the_same_answer_and_the_operator_the_reason(issuer, verifier, clock) -> None:
    wrong_audience = refusal(verifier, issuer.mint(GITHUB_SUB, "sts.amazonaws.com"))
    expired = issuer.mint(GITHUB_SUB, AUDIENCE, ttl_seconds=60)
    clock.advance(3600)
    expired_refusal = refusal(verifier, expired)

    assert (wrong_audience.reason, expired_refusal.reason) == ("audience", "expired")
    assert (
        wrong_audience.to_body()
        == expired_refusal.to_body()
        == {"code": "unauthorized", "message": "the token was refused"}
    )
    assert wrong_audience.status == 401


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "another-service"}, "audience"),
        ({"aud": []}, "claims"),
        ({"sub": ""}, "claims"),
        ({"sub": "repo:acme/billing\nforged audit line"}, "claims"),
        ({"exp": "tomorrow"}, "claims"),
        ({"exp": True}, "claims"),
        ({"iat": None}, "claims"),
        ({"jti": 42}, "claims"),
    ],
)
def test_claims_of_the_wrong_type_or_value_are_refused(issuer, verifier, overrides, reason) -> None:
    assert refusal(verifier, signed_by_issuer(issuer, {"alg": "RS256"}, claims(issuer, **overrides))).reason == reason


def test_a_token_of_another_issuer_is_refused_without_fetching_anything(issuer, verifier, internet, clock) -> None:
    other = internet.serve(LocalOidcIssuer("https://evil.example", clock=clock))

    assert refusal(verifier, other.mint(GITHUB_SUB, AUDIENCE)).reason == "issuer"
    assert internet.fetched == []


def test_a_token_claiming_our_issuer_but_signed_by_another_key_is_refused(issuer, verifier, clock) -> None:
    impostor = LocalOidcIssuer(TEST_ISSUER, clock=clock)  # same iss, its own key, and it copies the real kid
    forged = impostor.mint(GITHUB_SUB, AUDIENCE, header={"kid": issuer.kid})

    assert refusal(verifier, forged).reason == "signature"


def test_a_token_whose_claims_were_changed_after_signing_is_refused(issuer, verifier) -> None:
    header, _, signature = issuer.mint("repo:acme/docs:ref:refs/heads/main", AUDIENCE).split(".")
    tampered = f"{header}.{b64url(json.dumps(claims(issuer)).encode())}.{signature}"

    assert refusal(verifier, tampered).reason == "signature"


def test_alg_none_is_refused(issuer, verifier) -> None:
    token = compact({"alg": "none", "kid": issuer.kid}, claims(issuer))

    assert refusal(verifier, token).reason == "algorithm"


def test_hmac_signed_with_the_issuers_public_key_is_refused(issuer, verifier) -> None:
    """The classic confusion: a verifier that lets the token pick HS256 checks an HMAC keyed with the RSA
    public key, which everyone can download."""
    public = json.dumps(issuer.jwks()["keys"][0]).encode()
    header, payload = {"alg": "HS256", "kid": issuer.kid}, claims(issuer)
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    token = f"{signing_input}.{b64url(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())}"

    assert refusal(verifier, token).reason == "algorithm"


def test_an_alg_the_key_does_not_declare_is_refused_though_its_type_could_verify_it(issuer, verifier) -> None:
    # The issuer's JWK says alg RS256; a token (really signed by that key) says RS512.
    token = issuer.sign({"alg": "RS512", "kid": issuer.kid}, json.dumps(claims(issuer)).encode())

    assert refusal(verifier, token).reason == "algorithm"


def test_an_rsa_alg_against_an_ec_key_is_refused(internet, clock, verifier) -> None:
    ec = internet.serve(LocalOidcIssuer(TEST_ISSUER, algorithm="ES256", clock=clock))
    token = compact({"alg": "RS256", "kid": ec.kid}, claims(ec), b"\x00" * 256)

    assert refusal(verifier, token).reason == "algorithm"


def test_a_token_signed_by_a_kid_the_issuer_never_published_is_refused(issuer, verifier) -> None:
    assert (
        refusal(verifier, issuer.mint(GITHUB_SUB, AUDIENCE, header={"kid": "not-a-published-kid"})).reason
        == "unknown_key"
    )


def test_a_token_that_names_no_kid_is_refused(issuer, verifier) -> None:
    token = signed_by_issuer(issuer, {"alg": "RS256", "kid": None}, claims(issuer))

    assert refusal(verifier, token).reason == "malformed"


def test_a_token_with_a_critical_extension_is_refused(issuer, verifier) -> None:
    token = compact({"alg": "RS256", "kid": issuer.kid, "crit": ["exp"], "exp": 1}, claims(issuer), b"x")

    assert refusal(verifier, token).reason == "malformed"


def test_a_claim_given_twice_is_refused_not_resolved(issuer, verifier) -> None:
    """Two parsers may keep different copies of a duplicated member; the one checked must be the one used."""
    text = json.dumps(claims(issuer))[:-1] + ', "sub": "repo:acme/prod-infra:ref:refs/heads/main"}'
    token = issuer.sign({"alg": "RS256", "kid": issuer.kid}, text.encode())

    assert refusal(verifier, token).reason == "malformed"


@pytest.mark.parametrize("constant", ["NaN", "Infinity"])
def test_an_exp_of_nan_or_infinity_is_refused(issuer, verifier, constant) -> None:
    """NaN compares false with everything: an `exp` of NaN would never be in the past."""
    without_exp = {name: value for name, value in claims(issuer).items() if name != "exp"}
    text = json.dumps(without_exp)[:-1] + f', "exp": {constant}}}'
    token = issuer.sign({"alg": "RS256", "kid": issuer.kid}, text.encode())

    assert refusal(verifier, token).reason in ("malformed", "claims")  # not JSON; and never a finite time


@pytest.mark.parametrize(
    "token",
    [None, 17, "", "abc", "a.b", "a.b.c.d.e", "ey.ey.sig", "x" * (OIDC_TOKEN_MAX_LENGTH + 1), "eyJ9.eyJ9.c2ln"],
)
def test_anything_that_is_not_a_bounded_compact_jws_is_refused_unread(verifier, internet, token) -> None:
    assert refusal(verifier, token).reason == "malformed"
    assert internet.fetched == []


def test_an_expired_token_is_refused_once_the_skew_has_passed(issuer, verifier, clock) -> None:
    token = issuer.mint(GITHUB_SUB, AUDIENCE, ttl_seconds=300)
    clock.advance(300 + 59)
    assert verifier.verify(token, TEST_ISSUER, {AUDIENCE})  # within 60 s of skew

    clock.advance(1)
    assert refusal(verifier, token).reason == "expired"


def test_a_token_not_yet_valid_or_issued_in_the_future_is_refused_beyond_the_skew(issuer, verifier, clock) -> None:
    now = clock()
    assert verifier.verify(issuer.mint(GITHUB_SUB, AUDIENCE, {"nbf": now + 60}), TEST_ISSUER, {AUDIENCE})

    assert refusal(verifier, issuer.mint(GITHUB_SUB, AUDIENCE, {"nbf": now + 61})).reason == "not_yet_valid"
    assert refusal(verifier, issuer.mint(GITHUB_SUB, AUDIENCE, issued_at=now + 120)).reason == "not_yet_valid"


def test_a_token_minted_to_live_longer_than_a_day_is_refused(issuer, verifier) -> None:
    assert verifier.verify(issuer.mint(GITHUB_SUB, AUDIENCE, ttl_seconds=24 * 3600), TEST_ISSUER, {AUDIENCE})

    assert refusal(verifier, issuer.mint(GITHUB_SUB, AUDIENCE, ttl_seconds=24 * 3600 + 1)).reason == "lifetime"
    assert refusal(verifier, issuer.mint(GITHUB_SUB, AUDIENCE, ttl_seconds=0)).reason == "lifetime"


@pytest.mark.parametrize(
    "configured",
    [
        "http://token.actions.githubusercontent.example",
        "http://127.0.0.1:8080",
        "https://10.0.0.7",
        "https://localhost",
    ],
)
def test_an_issuer_that_is_not_https_with_a_host_name_is_never_trusted_on_aws(verifier, internet, configured) -> None:
    with pytest.raises(oidc_errors.WrongIssuerError):
        verifier.verify("a.b.c", configured, {AUDIENCE})
    assert internet.fetched == []


def test_locally_the_development_issuer_on_127_0_0_1_is_trusted(internet, clock) -> None:
    local = internet.serve(LocalOidcIssuer("http://127.0.0.1:3002", clock=clock))
    keys = IssuerKeys(OidcDiscovery(internet, allow_loopback_http=True), clock)
    verifier = OidcVerifier(keys, clock, VerifierConfig(allow_loopback_http=True))

    assert verifier.verify(local.mint("demo-ada", "archie-dashboard"), local.url, {"archie-dashboard"})


# Matching a verified token with an environment's trust policies (app.oidc_verifier.trusted_token) ----------


def github_policy(name: str, subject: str, roles: list[str], audience: str = AUDIENCE) -> TrustPolicy:
    body = {"issuer": TEST_ISSUER, "audience": audience, "subject": subject, "roles": roles}
    return parse_trust_policy(name, body)


def test_a_trusted_token_gets_the_most_specific_matching_policy(issuer, verifier) -> None:
    policies = [
        github_policy("repo", "repo:acme/billing:**", ["reader"]),
        github_policy("main", GITHUB_SUB, ["deployer"]),
        github_policy("docs", "repo:acme/docs:**", ["writer"]),
    ]

    trusted = trusted_token(verifier, policies, issuer.mint(GITHUB_SUB, AUDIENCE))

    assert (trusted.policy.name, [p.name for p in trusted.policies]) == ("main", ["main", "repo"])
    assert trusted.token.subject == GITHUB_SUB


def test_a_token_for_another_policys_audience_is_matched_by_that_policy_only(issuer, verifier) -> None:
    policies = [github_policy("ci", GITHUB_SUB, ["deployer"]), github_policy("aws", GITHUB_SUB, ["x"], "sts")]

    trusted = trusted_token(verifier, policies, issuer.mint(GITHUB_SUB, "sts"))

    assert [p.name for p in trusted.policies] == ["aws"]


def test_a_valid_token_no_policy_matches_is_refused(issuer, verifier) -> None:
    policies = [github_policy("docs", "repo:acme/docs:**", ["writer"])]

    with pytest.raises(oidc_errors.UntrustedTokenError) as caught:
        trusted_token(verifier, policies, issuer.mint(GITHUB_SUB, AUDIENCE))
    assert caught.value.to_body()["message"] == "the token was refused"


def test_a_token_of_an_issuer_no_policy_names_is_refused_without_a_fetch(internet, clock, verifier) -> None:
    stranger = internet.serve(LocalOidcIssuer("https://stranger.example", clock=clock))

    with pytest.raises(oidc_errors.UntrustedTokenError):
        trusted_token(verifier, [github_policy("ci", GITHUB_SUB, ["deployer"])], stranger.mint(GITHUB_SUB, AUDIENCE))
    assert internet.fetched == []
