"""Verifying an OIDC token (a pipeline's, or a person's) against one trusted issuer, and matching it with an
environment's trust policies.

Order, cheapest first, so what can be refused without a fetch is:
 1. the issuer we were told to trust is an acceptable URL (https; http://127.0.0.1 only locally);
 2. the token's shape, size, `alg` (never none or HMAC) and `kid` (domain.oidc_tokens.read_token);
 3. its claimed `iss` is that issuer: a token of another issuer never makes us fetch anything;
 4. the issuer's key named `kid` (cached; app.issuer_keys), and the signature under an algorithm that key
    allows (domain.oidc_keys);
 5. the claims: iss exact, aud, exp/nbf/iat with bounded skew, the longest lifetime (domain.oidc_claims).
Every refusal is a TokenRefusedError whose `reason` says which check failed; the client's answer is the same
for all. An issuer that cannot be read is IssuerUnavailableError (503).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from archie_keys.app.issuer_keys import IssuerKeys
from archie_keys.domain.clock import now_epoch
from archie_keys.domain.errors import shown
from archie_keys.domain.limits import OIDC_CLOCK_SKEW_SECONDS, OIDC_TOKEN_MAX_LIFETIME_SECONDS
from archie_keys.domain.oidc_claims import ClaimRules, check_claims, issuer_url_problem
from archie_keys.domain.oidc_errors import TokenRefusedError, UntrustedTokenError, WrongIssuerError
from archie_keys.domain.oidc_tokens import read_token, verify_signature
from archie_keys.domain.trust import TrustPolicy, matching_policies


@dataclass(frozen=True)
class VerifiedToken:
    issuer: str
    subject: str
    claims: Mapping[str, Any]  # read-only; every check of oidc_claims holds on it
    kid: str
    alg: str


@dataclass(frozen=True)
class VerifierConfig:
    skew_seconds: int = OIDC_CLOCK_SKEW_SECONDS
    max_lifetime_seconds: int = OIDC_TOKEN_MAX_LIFETIME_SECONDS
    # The local stack trusts its development issuer on http://127.0.0.1; on AWS issuers are https only.
    allow_loopback_http: bool = False


class OidcVerifier:
    def __init__(
        self, keys: IssuerKeys, clock: Callable[[], float] = now_epoch, config: VerifierConfig | None = None
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._config = config or VerifierConfig()

    def verify(self, token: object, issuer: str, audiences: Collection[str]) -> VerifiedToken:
        """`token` verified as issued by `issuer` for one of `audiences`, or the TokenRefusedError of the first
        check it fails (IssuerUnavailableError when the issuer's keys cannot be read)."""
        problem = issuer_url_problem(issuer, allow_loopback_http=self._config.allow_loopback_http)
        if problem:
            raise WrongIssuerError(f"the trusted issuer {shown(issuer[:64])} is not acceptable: {problem}")
        unverified = read_token(token)
        if unverified.claims.get("iss") != issuer:
            raise WrongIssuerError("iss is not the trusted issuer")
        refusal: TokenRefusedError | None = None
        for key in self._keys.keys_for(issuer, unverified.kid):
            try:
                verify_signature(unverified, key)
                break
            except TokenRefusedError as error:
                refusal = error
        else:
            assert refusal is not None  # keys_for never returns an empty tuple
            raise refusal
        rules = ClaimRules(
            issuer=issuer,
            audiences=frozenset(audiences),
            now=self._clock(),
            skew_seconds=self._config.skew_seconds,
            max_lifetime_seconds=self._config.max_lifetime_seconds,
        )
        check_claims(unverified.claims, rules)
        return VerifiedToken(issuer, str(unverified.claims["sub"]), unverified.claims, unverified.kid, unverified.alg)


@dataclass(frozen=True)
class TrustedToken:
    """A verified token and the policies it matches, the chosen one first."""

    token: VerifiedToken
    policies: tuple[TrustPolicy, ...]

    @property
    def policy(self) -> TrustPolicy:
        return self.policies[0]


def trusted_token(verifier: OidcVerifier, policies: Iterable[TrustPolicy], token: object) -> TrustedToken:
    """`token` verified against the issuer and audiences of the environment's `policies`, and matched with
    them. A token whose claimed issuer no policy names is refused before any fetch (UntrustedTokenError);
    one that verifies but matches no policy, too."""
    claimed = read_token(token).claims.get("iss")
    candidates = [policy for policy in policies if policy.issuer == claimed]
    if not candidates:
        raise UntrustedTokenError("no trust policy of this environment names the token's issuer")
    verified = verifier.verify(token, candidates[0].issuer, {policy.audience for policy in candidates})
    matched = matching_policies(candidates, verified.claims)
    if not matched:
        raise UntrustedTokenError(f"no trust policy matches sub {shown(verified.subject[:128])}")
    return TrustedToken(verified, tuple(matched))
