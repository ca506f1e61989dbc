"""Fetching an issuer's keys over real HTTP (servers on 127.0.0.1 only): discovery then jwks_uri, bounded in
size, never following a redirect; and which entries of a JWKS can ever verify a token."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.app.oidc_verifier import OidcVerifier, VerifierConfig
from archie_keys.aws.oidc_discovery import FetchError, OidcDiscovery, urllib_getter
from archie_keys.domain import oidc_errors
from archie_keys.domain.limits import JWKS_MAX_KEYS
from archie_keys.domain.oidc_keys import signing_keys
from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from archie_local.oidc_issuer import LocalOidcIssuer


@pytest.fixture
def served_issuer() -> Iterator[LocalOidcIssuer]:
    with LocalOidcIssuer().serve() as issuer:
        yield issuer


@pytest.fixture
def odd_server() -> Iterator[HttpService]:
    """Answers /redirect with a 302 to the issuer-like /target, /large with more than 64 KiB, /missing 404."""

    def dispatch(request: HttpRequest) -> HttpResponse:
        if request.path == "/redirect":
            return HttpResponse(302, {"Location": "/target"}, b"")
        if request.path == "/target":
            return HttpResponse(200, {"Content-Type": "application/json"}, b'{"keys": []}')
        if request.path == "/large":
            return HttpResponse(200, {"Content-Type": "application/json"}, b" " * (64 * 1024 + 1))
        return HttpResponse(404, {}, b"")

    service = HttpService(dispatch, 0).start()
    yield service
    service.stop()


def test_the_local_issuer_is_verified_over_http_through_discovery(served_issuer) -> None:
    keys = IssuerKeys(OidcDiscovery(urllib_getter, allow_loopback_http=True))
    verifier = OidcVerifier(keys, config=VerifierConfig(allow_loopback_http=True))

    verified = verifier.verify(
        served_issuer.mint("demo-ada", "archie-dashboard"), served_issuer.url, {"archie-dashboard"}
    )

    assert verified.subject == "demo-ada"


def test_on_aws_the_same_http_issuer_is_never_fetched(served_issuer) -> None:
    with pytest.raises(oidc_errors.IssuerUnavailableError):
        OidcDiscovery(urllib_getter).fetch_jwks(served_issuer.url)


def test_a_redirect_is_not_followed(odd_server) -> None:
    with pytest.raises(FetchError, match="302"):
        urllib_getter(f"{odd_server.url}/redirect", max_bytes=1024, timeout=3)
    assert urllib_getter(f"{odd_server.url}/target", max_bytes=1024, timeout=3) == b'{"keys": []}'


def test_a_document_larger_than_the_bound_is_not_read(odd_server) -> None:
    with pytest.raises(FetchError, match="bytes"):
        urllib_getter(f"{odd_server.url}/large", max_bytes=64 * 1024, timeout=3)


def test_an_error_status_or_a_closed_port_is_a_fetch_error(odd_server) -> None:
    with pytest.raises(FetchError, match="404"):
        urllib_getter(f"{odd_server.url}/missing", max_bytes=1024, timeout=3)
    url = odd_server.url
    odd_server.stop()
    with pytest.raises(FetchError):
        urllib_getter(f"{url}/target", max_bytes=1024, timeout=3)


def rsa_jwk(bits: int = 2048, **members: object) -> dict[str, object]:
    from joserfc.jwk import RSAKey

    return {**RSAKey.generate_key(bits).as_dict(private=False), **members}


@pytest.mark.filterwarnings("ignore:Key size should be")  # joserfc's, on making the 1024-bit key below
def test_only_asymmetric_signing_keys_of_sound_size_are_ever_used() -> None:
    from joserfc.jwk import ECKey, OctKey, OKPKey

    jwks = {
        "keys": [
            rsa_jwk(kid="good-rsa", alg="RS256"),
            {**ECKey.generate_key("P-256").as_dict(private=False), "kid": "good-ec"},
            {**OctKey.generate_key(256).as_dict(), "kid": "hmac-secret"},
            {**OKPKey.generate_key("Ed25519").as_dict(private=False), "kid": "ed25519"},
            {**ECKey.generate_key("secp256k1").as_dict(private=False), "kid": "unknown-curve"},
            rsa_jwk(1024, kid="too-small"),
            rsa_jwk(kid="encryption", use="enc"),
            rsa_jwk(kid="wrap-only", key_ops=["wrapKey"]),
            rsa_jwk(kid="hmac-alg", alg="HS256"),
            rsa_jwk(),  # no kid
            {"kty": "RSA", "kid": "garbage", "n": "!!", "e": "AQAB"},
            "not an object",
        ]
    }

    usable = {key.kid: sorted(key.algorithms) for key in signing_keys(jwks)}

    assert usable == {"good-rsa": ["RS256"], "good-ec": ["ES256"]}


def test_private_members_of_a_leaky_jwks_are_ignored() -> None:
    from joserfc.jwk import RSAKey

    leaked = {**RSAKey.generate_key(2048).as_dict(private=True), "kid": "k"}

    (key,) = signing_keys({"keys": [leaked]})

    assert not key.key.is_private


@pytest.mark.parametrize("document", [None, [], {"keys": "all"}, {"nokeys": []}])
def test_a_jwks_that_is_not_a_keys_list_gives_no_keys(document) -> None:
    assert signing_keys(document) == ()


def test_no_more_than_the_bound_of_entries_is_read() -> None:
    one = rsa_jwk(kid="k")
    assert len(signing_keys({"keys": [one] * (JWKS_MAX_KEYS + 5)})) == JWKS_MAX_KEYS


def test_the_discovery_path_follows_the_issuer_without_its_trailing_slash() -> None:
    fetched: list[str] = []

    def getter(url: str, *, max_bytes: int, timeout: float) -> bytes:
        fetched.append(url)
        if url.endswith("openid-configuration"):
            return json.dumps(
                {"issuer": "https://idp.example/tenant/", "jwks_uri": "https://idp.example/k?p=b2c_1"}
            ).encode()
        return b'{"keys": []}'

    assert OidcDiscovery(getter).fetch_jwks("https://idp.example/tenant/") == {"keys": []}
    assert fetched == ["https://idp.example/tenant/.well-known/openid-configuration", "https://idp.example/k?p=b2c_1"]
