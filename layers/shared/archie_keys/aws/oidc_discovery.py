"""An issuer's JWKS through OIDC discovery: `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`
(app.issuer_keys.JwksSource over HTTP).

The discovery document must name the issuer exactly (OpenID Connect Discovery 1.0, section 4.3: otherwise a
document served at one address could speak for another issuer), and its `jwks_uri` must itself be https
(http://127.0.0.1 only for the local stack). Every fetch is bounded in time and size and never follows a
redirect: a redirect could lead the function to plain http, or to an address inside the network.

The HTTP client is injected (`HttpGetter`): `urllib_getter` on AWS and locally, an in-process issuer in tests.
Whatever fails, the caller gets one IssuerUnavailableError (a 503), never the issuer's own words.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from archie_keys.domain.errors import shown
from archie_keys.domain.limits import OIDC_DOCUMENT_MAX_BYTES, OIDC_FETCH_TIMEOUT_SECONDS
from archie_keys.domain.oidc_claims import issuer_url_problem
from archie_keys.domain.oidc_errors import IssuerUnavailableError

DISCOVERY_PATH = "/.well-known/openid-configuration"
_QUERY = re.compile(r"[A-Za-z0-9._~%&=-]{0,256}\Z")


class FetchError(Exception):
    """A GET that did not answer 200 with at most `max_bytes` within the timeout."""


class HttpGetter(Protocol):
    def __call__(self, url: str, *, max_bytes: int, timeout: float) -> bytes: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx itself


_OPENER = urllib.request.build_opener(_NoRedirects)


def urllib_getter(url: str, *, max_bytes: int, timeout: float) -> bytes:
    """GET `url` (https, or http to 127.0.0.1 when the caller allowed it): the body of a 200 of at most
    `max_bytes`, else FetchError. No redirects, no cookies, no proxies beyond the environment's."""
    headers = {"Accept": "application/json", "User-Agent": "archie-keys"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - callers allow only https (and loopback http)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            if response.status != 200:
                raise FetchError(f"HTTP {response.status}")
            body: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FetchError(type(error).__name__) from None
    if len(body) > max_bytes:
        raise FetchError(f"more than {max_bytes} bytes")
    return body


class OidcDiscovery:
    def __init__(
        self,
        get: HttpGetter = urllib_getter,
        *,
        allow_loopback_http: bool = False,
        timeout: float = OIDC_FETCH_TIMEOUT_SECONDS,
    ) -> None:
        self._get = get
        self._allow_loopback_http = allow_loopback_http
        self._timeout = timeout

    def _document(self, url: str, what: str) -> dict[str, Any]:
        try:
            value = json.loads(self._get(url, max_bytes=OIDC_DOCUMENT_MAX_BYTES, timeout=self._timeout))
        except FetchError as error:
            raise IssuerUnavailableError(f"{what} at {url}: {error}") from None
        except (ValueError, RecursionError):
            raise IssuerUnavailableError(f"{what} at {url} is not JSON") from None
        if not isinstance(value, dict):
            raise IssuerUnavailableError(f"{what} at {url} is not a JSON object")
        return value

    def _jwks_uri_problem(self, url: str) -> str | None:
        # As an issuer URL, but a query is allowed (Azure AD B2C names its policy in one: ?p=b2c_1_signin).
        address, _, query = url.partition("?")
        if not _QUERY.match(query):
            return "a query of unexpected characters"
        return issuer_url_problem(address, allow_loopback_http=self._allow_loopback_http)

    def fetch_jwks(self, issuer: str) -> Mapping[str, Any]:
        if issuer_url_problem(issuer, allow_loopback_http=self._allow_loopback_http):
            raise IssuerUnavailableError(f"{shown(issuer[:64])} is not an issuer we fetch from")
        configuration = self._document(issuer.rstrip("/") + DISCOVERY_PATH, "discovery document")
        if configuration.get("issuer") != issuer:
            raise IssuerUnavailableError(f"the discovery document of {issuer} names another issuer")
        jwks_uri = configuration.get("jwks_uri")
        if not isinstance(jwks_uri, str) or self._jwks_uri_problem(jwks_uri):
            raise IssuerUnavailableError(f"the jwks_uri of {issuer} is not an https URL")
        jwks = self._document(jwks_uri, "JWKS")
        if not isinstance(jwks.get("keys"), list):
            raise IssuerUnavailableError(f"the JWKS of {issuer} has no keys list")
        return jwks
