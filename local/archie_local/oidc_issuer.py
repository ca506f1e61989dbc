"""An OIDC issuer for development: what GitHub Actions, GitLab or a company's identity provider is on AWS.

It serves, on 127.0.0.1 only:
  GET  /.well-known/openid-configuration   discovery (issuer, jwks_uri, the endpoints below)
  GET  /jwks                                its public keys
  POST /mint                                {"sub", "aud", "claims"?, "ttl_seconds"?} -> {"token"}: a workload's
                                            token (what `make oidc-token` prints); never a person's: no
                                            `groups`, `email` or `email_verified`, nor the dashboard's
                                            audience (people sign in through the sign-in page)
  GET  /authorize, POST /authorize          a sign-in page listing the demo users (oidc_signin.py)
  POST /token                               the authorization code exchange, PKCE S256 checked

Its key (RSA 2048, or EC P-256 with algorithm="ES256") is generated at start and kept in memory; `rotate()`
adds a new one (tests use it to show an unknown kid is fetched once). Nothing is persisted: a restart
forgets every key and code. Any process on this machine can mint a pipeline's tokens from it, which is the
point: only the local stack trusts it, and only where a trust policy names it. Its server answers only
requests addressed to 127.0.0.1:<port> or localhost:<port> (the Host header), so a web page that rebinds its
own name to 127.0.0.1 reaches nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from archie_local.demo_trust import DASHBOARD_CLIENT_ID
from archie_local.http_server import HttpRequest, HttpResponse, HttpService
from archie_local.oidc_signin import DEMO_USERS, SignIn, cors_headers, json_response

MINT_TTL_DEFAULT_SECONDS = 300
MINT_TTL_MAX_SECONDS = 3600
# Claims /mint sets itself: a caller names the subject and audience through their own fields.
MINTED_CLAIMS = ("iss", "sub", "aud", "iat", "exp")
# Claims that make a person (a demo person's groups, a verified email): the sign-in page gives them, /mint never.
PERSON_CLAIMS = ("groups", "email", "email_verified")


class LocalOidcIssuer:
    """`serve()` on 127.0.0.1 (a free port by default) and `stop()`, or a context manager; in-process, give
    `url` and call `dispatch` directly (tests route an HTTP getter to it)."""

    def __init__(
        self,
        url: str | None = None,
        algorithm: str = "RS256",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in ("RS256", "ES256"):
            raise ValueError("the local issuer signs with RS256 or ES256")
        self._url = url
        self.algorithm = algorithm
        self.clock = clock
        self._keys: list[Any] = []
        self._service: HttpService | None = None
        self.rotate()
        self.signin = SignIn(self)

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the issuer has no address until serve() binds one")
        return self._url

    def serve(self, port: int = 0) -> LocalOidcIssuer:
        self._service = HttpService(self._addressed_here, port).start()
        self._url = self._service.url
        return self

    def _addressed_here(self, request: HttpRequest) -> HttpResponse:
        """`dispatch`, for a request addressed to this server by its loopback name only: a page whose own name
        resolves to 127.0.0.1 (DNS rebinding) sends its own name as Host, and is refused."""
        port = urlsplit(self.url).port
        if request.header_values("Host") not in ([f"127.0.0.1:{port}"], [f"localhost:{port}"]):
            return json_response(421, {"error": "this issuer answers requests to 127.0.0.1 or localhost only"})
        return self.dispatch(request)

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()
            self._service = None

    def __enter__(self) -> LocalOidcIssuer:
        return self if self._service else self.serve()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Keys -------------------------------------------------------------------------------------------------
    def rotate(self, keep_previous: bool = True) -> str:
        """Sign with a new key from now on; the old ones stay published unless `keep_previous` is False.
        Returns the new key's kid."""
        from joserfc.jwk import ECKey, RSAKey

        key = RSAKey.generate_key(2048) if self.algorithm == "RS256" else ECKey.generate_key("P-256")
        key.ensure_kid()
        self._keys = [*self._keys, key] if keep_previous else [key]
        return str(key.kid)

    @property
    def kid(self) -> str:
        return str(self._keys[-1].kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**key.as_dict(private=False), "use": "sig", "alg": self.algorithm} for key in self._keys]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": ["sub", "email", "email_verified", "name", "groups"],
        }

    # Tokens -----------------------------------------------------------------------------------------------
    def mint(
        self,
        subject: str,
        audience: str | list[str],
        claims: dict[str, Any] | None = None,
        *,
        ttl_seconds: float = MINT_TTL_DEFAULT_SECONDS,
        issued_at: float | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        """A token signed by the current key. `claims` are added last (a test may override any claim, iss
        included); `header` likewise for the protected header."""
        now = int(self.clock() if issued_at is None else issued_at)
        payload = {"iss": self.url, "sub": subject, "aud": audience, "iat": now, "exp": int(now + ttl_seconds)}
        payload["jti"] = str(uuid.uuid4())
        payload.update(claims or {})
        protected = {"alg": self.algorithm, "kid": self.kid, "typ": "JWT", **(header or {})}
        return self.sign(protected, json.dumps(payload, separators=(",", ":")).encode())

    def sign(self, protected: dict[str, Any], payload: bytes) -> str:
        """Any header and payload signed by the current key: tests craft tokens no honest issuer mints (a
        duplicated claim, an alg the key does not declare) to show they are refused."""
        from joserfc import jws

        return jws.serialize_compact(protected, payload, self._keys[-1], algorithms=[protected["alg"]])

    # HTTP -------------------------------------------------------------------------------------------------
    def dispatch(self, request: HttpRequest) -> HttpResponse:
        cors = cors_headers(request)
        if request.method == "OPTIONS":
            methods = {"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type"}
            return HttpResponse(204, {**cors, **methods} if cors else {}, b"")
        route = (request.method, request.path)
        if route == ("GET", "/.well-known/openid-configuration"):
            return json_response(200, self.discovery(), cors)
        if route == ("GET", "/jwks"):
            return json_response(200, self.jwks(), cors)
        if route == ("POST", "/mint"):
            return self._mint(request)
        if request.path == "/authorize" and request.method in ("GET", "POST"):
            return self.signin.authorize(request)
        if route == ("POST", "/token"):
            return self.signin.token(request, cors)
        return json_response(404, {"error": "not_found"}, cors)

    def _mint(self, request: HttpRequest) -> HttpResponse:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return json_response(400, {"error": "the body is a JSON object"})
        subject, audience = body.get("sub"), body.get("aud")
        claims, ttl = body.get("claims") or {}, body.get("ttl_seconds", MINT_TTL_DEFAULT_SECONDS)
        if not isinstance(subject, str) or not subject or not isinstance(audience, str) or not audience:
            return json_response(400, {"error": "sub and aud are non-empty strings"})
        if not isinstance(claims, dict) or set(claims) & {*MINTED_CLAIMS, *PERSON_CLAIMS}:
            reserved = ", ".join((*MINTED_CLAIMS, *PERSON_CLAIMS))
            return json_response(400, {"error": f"claims is a JSON object that sets none of {reserved}"})
        if audience == DASHBOARD_CLIENT_ID:
            return json_response(400, {"error": "people sign in through the sign-in page (/authorize), not /mint"})
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MINT_TTL_MAX_SECONDS:
            return json_response(400, {"error": f"ttl_seconds is 1-{MINT_TTL_MAX_SECONDS}"})
        return json_response(200, {"token": self.mint(subject, audience, claims, ttl_seconds=ttl)})


__all__ = ["DEMO_USERS", "LocalOidcIssuer"]
