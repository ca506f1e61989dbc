"""What makes an exchanged token usable once: its replay identity, and until when it must be remembered.

The identity is the token's `jti` when it has one (GitHub, GitLab and Cognito all send one), else its
issuer, `sub` and `iat` together. Either way the issuer is part of it (two issuers may reuse a jti), and it
is hashed, so what is stored has a fixed size and no claim of the caller's verbatim. Without a jti, two
tokens issued to the same subject in the same second share an identity: the second is refused as a replay
and its pipeline fetches a fresh token (a retry, not a breach).

It is remembered until the token's `exp` plus the clock skew: after that the verifier refuses the token as
expired anyway, so forgetting it then re-opens nothing. The token lifetime bound (limits.py) keeps that
memory at most a day per token.

Only the exchange consumes tokens this way: a person's bearer token is presented on every request of a
session, by design.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archie_keys.domain.limits import OIDC_CLOCK_SKEW_SECONDS
from archie_keys.domain.oidc_claims import number_claim


@dataclass(frozen=True)
class ReplayMark:
    identity: str  # "jti:<sha256 hex>" or "iat:<sha256 hex>"
    remember_until: int  # epoch seconds


def _digest(*parts: str) -> str:
    # Every part but the last is an issuer URL or a printable sub (checked), neither holding NUL: unambiguous.
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def replay_mark(claims: Mapping[str, Any], skew_seconds: int = OIDC_CLOCK_SKEW_SECONDS) -> ReplayMark:
    """The replay identity of a verified token (oidc_claims.check_claims has passed on `claims`)."""
    issuer, expires = str(claims["iss"]), number_claim(claims, "exp")
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        identity = "jti:" + _digest(issuer, jti)
    else:
        issued = number_claim(claims, "iat")
        identity = "iat:" + _digest(issuer, str(claims["sub"]), repr(issued))
    return ReplayMark(identity, math.ceil(expires) + skew_seconds)
