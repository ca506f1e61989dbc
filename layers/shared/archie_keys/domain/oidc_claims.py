"""The checks on an OIDC token's claims once its signature holds, and the rule for issuer URLs.

Pure: the time is given (`ClaimRules.now`), nothing is fetched. The order is fixed so the reason recorded is
stable: issuer, subject, audience, then times (exp, nbf, iat, lifetime), then jti's shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archie_keys.domain.errors import shown
from archie_keys.domain.limits import (
    OIDC_AUDIENCES_MAX,
    OIDC_CLOCK_SKEW_SECONDS,
    OIDC_ISSUER_MAX_LENGTH,
    OIDC_JTI_MAX_LENGTH,
    OIDC_SUBJECT_MAX_LENGTH,
    OIDC_TOKEN_MAX_LIFETIME_SECONDS,
)
from archie_keys.domain.oidc_errors import (
    ExpiredTokenError,
    InvalidClaimsError,
    TokenLifetimeError,
    TokenNotYetValidError,
    WrongAudienceError,
    WrongIssuerError,
)

# https with a DNS name (no IP literal, no userinfo, no query or fragment): the host is where the keys that
# make a token valid are fetched from, so an issuer naming 169.254.169.254 or an internal address is refused
# rather than fetched (a name ends in a label of letters; no IPv4 address does). Lowercase host only: `iss`
# is compared exactly, and one spelling avoids two policies for the same issuer.
_HTTPS_ISSUER = re.compile(
    r"https://[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*"
    r"\.[a-z]{2,63}(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%-]+)*/?\Z"
)
# The local issuer (`make run`, tests): plain http, on the loopback address only.
_LOOPBACK_ISSUER = re.compile(r"http://127\.0\.0\.1:[0-9]{1,5}(?:/[A-Za-z0-9._~%-]+)*/?\Z")
# What a subject may contain: printable text, no control characters or line separators (it reaches logs).
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029]+\Z")


def issuer_url_problem(url: object, *, allow_loopback_http: bool = False) -> str | None:
    """Why `url` cannot be an issuer (or a JWKS address), or None when it can. `allow_loopback_http`: also
    http://127.0.0.1:<port> (the local stack only; on AWS issuers are https)."""
    if not isinstance(url, str) or not url:
        return "an issuer is an https URL"
    if len(url) > OIDC_ISSUER_MAX_LENGTH:
        return f"an issuer URL has at most {OIDC_ISSUER_MAX_LENGTH} characters"
    if _HTTPS_ISSUER.match(url):
        return None
    if allow_loopback_http and _LOOPBACK_ISSUER.match(url):
        return None
    return "an issuer is an https URL with a DNS host name, no user, query or fragment" + (
        " (or http://127.0.0.1:<port> locally)" if allow_loopback_http else ""
    )


@dataclass(frozen=True)
class ClaimRules:
    """What a verified token's claims must satisfy. `audiences`: at least one of them must be in `aud`."""

    issuer: str
    audiences: frozenset[str]
    now: float
    skew_seconds: int = OIDC_CLOCK_SKEW_SECONDS
    max_lifetime_seconds: int = OIDC_TOKEN_MAX_LIFETIME_SECONDS


def number_claim(claims: Mapping[str, Any], name: str) -> float:
    """A NumericDate claim: a finite JSON number (not a boolean, not NaN or infinity: a NaN compares false
    with everything, so an `exp` of NaN would never be "past")."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidClaimsError(f"{name} must be a number of seconds since the epoch")
    return float(value)


def audiences_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """`aud` as a set: one string, or a non-empty list of strings (bounded)."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return frozenset([aud])
    if isinstance(aud, list) and 0 < len(aud) <= OIDC_AUDIENCES_MAX and all(isinstance(item, str) for item in aud):
        return frozenset(aud)
    raise InvalidClaimsError("aud must be a string or a list of strings")


def check_claims(claims: Mapping[str, Any], rules: ClaimRules) -> None:
    """Raise the TokenRefusedError of the first check `claims` fails under `rules`."""
    if claims.get("iss") != rules.issuer:
        raise WrongIssuerError(
            f"iss {shown(str(claims.get('iss'))[:OIDC_ISSUER_MAX_LENGTH])} is not the trusted issuer"
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or len(subject) > OIDC_SUBJECT_MAX_LENGTH or not _PRINTABLE.match(subject):
        raise InvalidClaimsError(f"sub must be 1-{OIDC_SUBJECT_MAX_LENGTH} printable characters")
    if not audiences_of(claims) & rules.audiences:
        raise WrongAudienceError("aud names none of the audiences trusted for this issuer")
    expires, issued = number_claim(claims, "exp"), number_claim(claims, "iat")
    not_before = number_claim(claims, "nbf") if "nbf" in claims else None
    if rules.now >= expires + rules.skew_seconds:
        raise ExpiredTokenError(f"expired at {expires:.0f}")
    if not_before is not None and not_before > rules.now + rules.skew_seconds:
        raise TokenNotYetValidError(f"not valid before {not_before:.0f}")
    if issued > rules.now + rules.skew_seconds:
        raise TokenNotYetValidError(f"issued in the future ({issued:.0f})")
    if not 0 < expires - issued <= rules.max_lifetime_seconds:
        raise TokenLifetimeError(f"lives {expires - issued:.0f} s; at most {rules.max_lifetime_seconds} s accepted")
    jti = claims.get("jti")
    if jti is not None and not (isinstance(jti, str) and 0 < len(jti) <= OIDC_JTI_MAX_LENGTH):
        raise InvalidClaimsError(f"jti must be 1-{OIDC_JTI_MAX_LENGTH} characters")


def check_person_claims(claims: Mapping[str, Any], client_id: str) -> None:
    """What a person's sign-in token must also be, beyond check_claims: an ID token for the dashboard's client.
    An access token (`token_use` "access", as Cognito marks them) is refused: it says what the dashboard may
    call, not who signed in. A token for several audiences is the dashboard's only when its authorized party
    (`azp`) is the dashboard's client id (OpenID Connect Core 1.0, 2: ID Token)."""
    if claims.get("token_use") == "access":
        raise InvalidClaimsError("an access token is not a sign-in (token_use access)")
    if client_id not in audiences_of(claims):
        raise WrongAudienceError("aud does not name the sign-in client")
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise WrongAudienceError("aud names several audiences and azp is not the sign-in client")


def names_audience(claims: Mapping[str, Any], audience: str) -> bool:
    """Whether the token's `aud` (a string or a list, read leniently: unverified claims) names `audience`."""
    aud = claims.get("aud")
    return aud == audience or (isinstance(aud, list) and audience in aud)
