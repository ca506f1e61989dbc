"""The local issuer's sign-in: the authorization code flow with PKCE (RFC 7636, S256 only) for the dashboard's
"Sign in with SSO", with a page listing a few demo users instead of a password.

  GET /authorize?response_type=code&client_id=..&redirect_uri=..&state=..&code_challenge=..
                 &code_challenge_method=S256[&nonce=..][&scope=openid ..]
      -> the sign-in page (nothing is redirected until the parameters hold: a bad redirect_uri is a 400 page,
         never a redirect to it)
  POST /authorize (the page's form: the same parameters and `user`)
      -> 303 to redirect_uri?code=..&state=..
  POST /token grant_type=authorization_code&code=..&redirect_uri=..&client_id=..&code_verifier=..
      -> {"id_token", "access_token", "token_type": "Bearer", "expires_in"}

Redirect URIs are http://127.0.0.1[:port]/... only: this issuer hands tokens to nothing but this machine. A
code is good once, for CODE_TTL_SECONDS, for the client, redirect URI and PKCE challenge it was issued to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from archie_local.http_server import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from archie_local.oidc_issuer import LocalOidcIssuer

CODE_TTL_SECONDS = 60
CODES_MAX = 1000
SESSION_TOKEN_TTL_SECONDS = 3600
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
# RFC 7636: a challenge is BASE64URL(SHA256(verifier)), 43 characters; a verifier is 43-128 unreserved ones.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}\Z")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}\Z")
_LOOPBACK_ORIGIN = re.compile(r"http://127\.0\.0\.1(:[0-9]{1,5})?\Z")
# The page's form posts to this issuer, which redirects to the dashboard on another 127.0.0.1 port: browsers
# hold form-action to redirects too.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:*; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    sub: str
    email: str
    name: str
    groups: tuple[str, ...]


DEMO_USERS = (
    DemoUser("alice", "demo-alice", "alice@example.com", "Alice Example", ("platform-admins",)),
    DemoUser("bob", "demo-bob", "bob@example.com", "Bob Example", ("auditors",)),
    DemoUser("carol", "demo-carol", "carol@example.com", "Carol Example", ("developers",)),
)


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: DemoUser
    expires: float


def cors_headers(request: HttpRequest) -> dict[str, str]:
    """CORS for the dashboard served by the local stack on another 127.0.0.1 port; nothing for others."""
    origin = request.header("Origin") or ""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if _LOOPBACK_ORIGIN.match(origin) else {}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    plain = {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})}
    return HttpResponse(status, plain, json.dumps(body).encode())


def loopback_redirect(uri: object) -> bool:
    if not isinstance(uri, str) or len(uri) > 512:
        return False
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "http"
        and parts.hostname == "127.0.0.1"
        and parts.netloc == ("127.0.0.1" if port is None else f"127.0.0.1:{port}")
        and not parts.fragment
    )


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _page(status: int, body: str) -> HttpResponse:
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": _PAGE_POLICY}
    return HttpResponse(status, {**headers, "Cache-Control": "no-store"}, body.encode())


class SignIn:
    def __init__(self, issuer: LocalOidcIssuer) -> None:
        self._issuer = issuer
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()

    def authorize(self, request: HttpRequest) -> HttpResponse:
        fields = request.query if request.method == "GET" else parse_qs(request.body.decode("utf-8", "replace"))
        params = {name: values[0] for name, values in fields.items() if len(values) == 1}
        problem = self._authorization_problem(params)
        if problem:
            return _page(400, f"<!doctype html><title>Sign-in refused</title><p>{html.escape(problem)}</p>")
        if request.method == "GET":
            return _page(200, self._sign_in_page(params))
        user = next((u for u in DEMO_USERS if u.username == params.get("user")), None)
        if user is None:
            return _page(400, "<!doctype html><title>Sign-in refused</title><p>unknown user</p>")
        code = secrets.token_urlsafe(32)
        grant = _Grant(
            params["client_id"],
            params["redirect_uri"],
            params["code_challenge"],
            params.get("nonce"),
            user,
            self._issuer.clock() + CODE_TTL_SECONDS,
        )
        with self._lock:
            self._grants[code] = grant
            while len(self._grants) > CODES_MAX:
                del self._grants[next(iter(self._grants))]
        joiner = "&" if urlsplit(params["redirect_uri"]).query else "?"
        answer = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        return HttpResponse(303, {"Location": params["redirect_uri"] + joiner + urlencode(answer)}, b"")

    @staticmethod
    def _authorization_problem(params: dict[str, str]) -> str | None:
        if not loopback_redirect(params.get("redirect_uri")):
            return "redirect_uri must be an http://127.0.0.1 address"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if not _CLIENT_ID.match(params.get("client_id", "")):
            return "client_id is 1-64 letters, digits, '_', '.' or '-'"
        if params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(params.get("code_challenge", "")):
            return "PKCE is required: code_challenge (43 characters) with code_challenge_method=S256"
        if len(params.get("state", "")) > 512 or len(params.get("nonce", "")) > 512:
            return "state and nonce have at most 512 characters"
        return None

    def _sign_in_page(self, params: dict[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in sorted(params.items())
            if name != "user"
        )
        buttons = "".join(
            f'<li><button name="user" value="{html.escape(u.username)}">{html.escape(u.name)}</button> '
            f"{html.escape(u.email)} <small>({html.escape(', '.join(u.groups))})</small></li>"
            for u in DEMO_USERS
        )
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Sign in: local OIDC issuer</title>"
            "<body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
            f"<h1>Sign in</h1><p>Local development issuer {html.escape(self._issuer.url)}: pick a demo user.</p>"
            f'<form method="post" action="/authorize">{hidden}<ul>{buttons}</ul></form></body></html>'
        )

    def token(self, request: HttpRequest, cors: dict[str, str]) -> HttpResponse:
        form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "authorization_code":
            return json_response(400, {"error": "unsupported_grant_type"}, cors)
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # good once, whatever follows
        verifier = form.get("code_verifier", "")
        if (
            grant is None
            or self._issuer.clock() > grant.expires
            or form.get("client_id") != grant.client_id
            or form.get("redirect_uri") != grant.redirect_uri
            or not _VERIFIER.match(verifier)
            or not hmac.compare_digest(s256(verifier), grant.challenge)
        ):
            return json_response(400, {"error": "invalid_grant"}, cors)
        return json_response(200, self._tokens(grant), cors)

    def _tokens(self, grant: _Grant) -> dict[str, Any]:
        user, now = grant.user, self._issuer.clock()
        person = {"email": user.email, "email_verified": True, "name": user.name, "groups": list(user.groups)}
        session = {"auth_time": int(now), **({"nonce": grant.nonce} if grant.nonce else {})}
        id_token = self._issuer.mint(
            user.sub, grant.client_id, {**person, **session, "token_use": "id"}, ttl_seconds=SESSION_TOKEN_TTL_SECONDS
        )
        access_token = self._issuer.mint(
            user.sub,
            grant.client_id,
            {**person, "token_use": "access", "client_id": grant.client_id, "scope": "openid email profile"},
            ttl_seconds=SESSION_TOKEN_TTL_SECONDS,
        )
        return {
            "id_token": id_token,
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": SESSION_TOKEN_TTL_SECONDS,
        }
