"""Request models of the federation routes (docs/federation.md): a trust policy's body and the token exchange's.
Unknown fields are refused, every bound comes from limits; what a policy means is checked by domain.trust."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, StrictInt

from archie_keys.domain import limits
from archie_keys.edge.model_fields import ContextName, ContextValue, KeyName, RoleName, StrictModel


class TrustPolicyBody(StrictModel):
    """A trust policy's body. Its shape is checked here; what it means (an https issuer, a subject that pins a
    repository or a user, claim patterns) by domain.trust.parse_trust_policy, which names the field at fault."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "issuer": "https://token.actions.githubusercontent.com",
                    "audience": "archie-keys",
                    "subject": "repo:acme/billing:ref:refs/heads/main",
                    "claims": {"workflow": "deploy"},
                    "roles": ["admin"],
                    "context": {"tenant": "t-17"},
                    "max_ttl_seconds": 900,
                }
            ]
        },
    )

    issuer: str = Field(
        max_length=limits.OIDC_ISSUER_MAX_LENGTH,
        description="the tokens' `iss`, exactly: https with a DNS host name (http://127.0.0.1:<port> only locally)",
    )
    audience: str = Field(max_length=limits.TRUST_AUDIENCE_MAX_LENGTH, description="must be one of the token's `aud`")
    subject: str | None = Field(
        default=None,
        max_length=limits.TRUST_PATTERN_MAX_LENGTH,
        description="a pattern the token's `sub` must match (`*` within a segment, `**` across); with wildcards "
        "it must name a whole repository (`repo:<owner>/<repository>:...`) or project (`project_path:...`)",
    )
    claims: dict[str, str] = Field(
        default_factory=dict,
        max_length=limits.TRUST_CLAIM_CONDITIONS_MAX,
        description="claim name -> pattern, every one must hold (a list claim holds when one member matches)",
    )
    roles: list[RoleName] = Field(min_length=1, max_length=limits.ROLES_PER_KEY_MAX)
    context: dict[ContextName, ContextValue] = Field(default_factory=dict, max_length=limits.CONTEXT_MAX_PAIRS)
    max_ttl_seconds: StrictInt = Field(
        default=limits.TRUST_TTL_DEFAULT_SECONDS,
        ge=limits.TRUST_TTL_MIN_SECONDS,
        le=limits.TRUST_TTL_MAX_SECONDS,
        description="the longest life of a key made under this policy",
    )

    def as_body(self) -> dict[str, Any]:
        """The body as domain.trust reads it (a subject left out stays out)."""
        return self.model_dump(mode="json", exclude_none=True)


class ExchangeBody(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": "eyJhbGciOiJSUzI1NiIs...", "name": "deploy 9876543210"}]},
    )

    token: str = Field(
        description=f"the pipeline's OIDC token (a compact JWS of at most {limits.OIDC_TOKEN_MAX_LENGTH} characters)"
    )
    name: KeyName | None = Field(default=None, description="the key's name (default: the policy's and the run id)")
    ttl_seconds: StrictInt | None = Field(
        default=None,
        ge=limits.TRUST_TTL_MIN_SECONDS,
        le=limits.TRUST_TTL_MAX_SECONDS,
        description="the key's life, at most the policy's `max_ttl_seconds` (its default)",
    )
