"""Response models of the federation routes (docs/federation.md): a trust policy as the API shows it, and the
environment's list of them. Held to the real answers by tests/component/test_openapi.py, as edge.schemas is."""

from __future__ import annotations

from pydantic import Field

from archie_keys.edge.schemas import Answer, Time


class TrustPolicy(Answer):
    """A trust policy: which OIDC tokens become which keys in this environment (docs/federation.md)."""

    name: str
    issuer: str
    audience: str
    subject: str | None
    claims: dict[str, str]
    roles: list[str]
    context: dict[str, str]
    max_ttl_seconds: int
    created_at: Time
    created_by: str = Field(description="the key id that created it")
    updated_at: Time
    updated_by: str = Field(description="the key id that last changed it")


class TrustPolicyList(Answer):
    trust_policies: list[TrustPolicy] = Field(description="every policy of the environment, by name (at most 50)")
