"""Why an OIDC token was refused: one type per check, one answer for the client.

Each refusal is a 401 `unauthorized` with the same message whatever failed: telling a caller that its
signature was fine but its audience was not tells an attacker which part of a forgery to fix next. The
`reason` (and `detail`, for logs) say which check failed, for the audit, metrics and the operator.
"""

from __future__ import annotations

from archie_keys.domain.errors import ServiceUnavailableError, UnauthorizedError

TOKEN_REFUSED_MESSAGE = "the token was refused"


class TokenRefusedError(UnauthorizedError):
    """A presented OIDC token failed a check. `reason` names the check (never shown to the client);
    `detail` says more, for logs only (it may quote the token's own claims, never a signature)."""

    reason = "refused"

    def __init__(self, detail: str = "") -> None:
        super().__init__(TOKEN_REFUSED_MESSAGE)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class MalformedTokenError(TokenRefusedError):
    """Not a compact JWS of bounded size with JSON header and claims."""

    reason = "malformed"


class TokenAlgorithmError(TokenRefusedError):
    """`alg` is none, HMAC, unknown, or one the signing key's type (or its declared alg) does not allow."""

    reason = "algorithm"


class UnknownSigningKeyError(TokenRefusedError):
    """No key of the issuer's JWKS has the token's `kid`, even after one re-read."""

    reason = "unknown_key"


class BadSignatureError(TokenRefusedError):
    reason = "signature"


class WrongIssuerError(TokenRefusedError):
    """`iss` is not exactly the trusted issuer, or the issuer URL itself is not acceptable."""

    reason = "issuer"


class WrongAudienceError(TokenRefusedError):
    reason = "audience"


class ExpiredTokenError(TokenRefusedError):
    reason = "expired"


class TokenNotYetValidError(TokenRefusedError):
    """`nbf` or `iat` lies in the future, beyond the clock skew."""

    reason = "not_yet_valid"


class TokenLifetimeError(TokenRefusedError):
    """exp - iat exceeds the longest lifetime accepted (or exp does not follow iat)."""

    reason = "lifetime"


class InvalidClaimsError(TokenRefusedError):
    """A claim is missing or of the wrong type or size (sub, exp, iat, jti...)."""

    reason = "claims"


class UntrustedTokenError(TokenRefusedError):
    """A valid token that no trust policy of the environment matches."""

    reason = "untrusted"


class ReplayedTokenError(TokenRefusedError):
    """A token already exchanged once (its replay identity is remembered until it expires)."""

    reason = "replayed"


class IssuerUnavailableError(ServiceUnavailableError):
    """The issuer's discovery document or JWKS could not be read (or was not what OIDC says it is), and no
    keys fresh enough are cached. A 503: the caller's token may be fine; retry after `retry_after`."""

    def __init__(self, detail: str, retry_after: int = 2) -> None:
        super().__init__("the token's issuer could not be reached to check its signature; retry shortly", retry_after)
        self.detail = detail
