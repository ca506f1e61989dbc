"""Answers of a key's life: the key as the API shows it, a new or rolled key (the one answer carrying its
value), pages of keys, a revocation (one key, or many by context), usage, and what /verify and /whoami say of
a presented key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from archie_keys.domain.grants import Action
from archie_keys.domain.limits import QuotaPeriod
from archie_keys.edge.schemas import Answer, KeyId, Time


class QuotaLimit(Answer):
    limit: int
    period: QuotaPeriod


class KeyLimits(Answer):
    rate_per_second: int | None = None
    burst: int | None = None
    quota: QuotaLimit | None = None


class Key(Answer):
    key_id: KeyId
    name: str
    prefix: str
    start: str = Field(description="the key's public beginning: prefix, project, environment, key id")
    project: str
    environment: str
    roles: list[str]
    context: dict[str, str]
    created_at: Time
    created_by: str = Field(
        description="the key id that created it, `bootstrap`, or for a key exchanged for an OIDC token the "
        "workload: `oidc:<issuer>#<sub>`"
    )
    expires_at: Time | None
    last_used_at: Time | None
    rolled_from: KeyId | None
    rolled_to: KeyId | None
    leaked_at: Time | None = Field(description="when GitHub's secret scanning reported it leaked, if it did")
    allowed_cidrs: list[str] = Field(
        description="the address ranges it may be used from, canonical (docs/limits.md); [] for anywhere"
    )
    limits: KeyLimits | None = Field(description="its rate limit and quota (docs/limits.md); null for none")
    key_format: Literal[1, 2] = Field(
        description="2: tagged, so a forged look-alike is refused for free; 1: issued before key tags (an "
        "environment refusing `legacy_keys` no longer accepts it: roll it)"
    )
    updated_at: Time | None = Field(description="when PATCH last changed it (null: never)")
    enabled: bool = Field(description="false: refused everywhere (reason `disabled`) until enabled again")
    status: Literal["active", "disabled", "rolled", "expired", "revoked"] = Field(
        description="`disabled`: refused until enabled (it keeps its value); `rolled`: a successor exists, and it "
        "is accepted until `expires_at` (the grace period); `expired`: past its own `expires_at`; `revoked`: "
        "refused for good (see `revoked_reason`), shown for 30 days"
    )
    revoked_at: Time | None = Field(description="with `revoked`: when (a rolled-away key: when its grace ended)")
    revoked_by: str | None = Field(
        description="with `revoked`: the key id that revoked (or rolled) it, `github-secret-scanning` for a leak; "
        "null for a key rolled before this was recorded"
    )
    revoked_reason: Literal["deleted", "leaked", "mass_revocation", "rolled_away"] | None = Field(
        description="with `revoked`: `deleted` (DELETE), `leaked` (GitHub's secret scanning), `mass_revocation`, "
        "`rolled_away` (rolled, and its grace ended)"
    )


class UpdatedKey(Key):
    """A key as PATCH left it."""

    unflushed_stages: list[str] | None = Field(
        default=None,
        description="stages whose authorizer cache could not be flushed: they may answer the key as it was until "
        "their cached answer expires",
    )


SecretStage = Literal["AWSCURRENT", "ARCHIE_PENDING", "REPLACED"]
SECRET_STAGE = (
    "`AWSCURRENT`: consumers read this value; `ARCHIE_PENDING`: in the secret, not yet current (a replay with "
    "the same Idempotency-Key finishes it); `REPLACED`: the secret was given to another key since"
)


class Delivery(Answer):
    secret_name: str
    secret_version_id: str
    secret_stage: SecretStage = Field(description=SECRET_STAGE)


class NewKey(Answer):
    """The one answer that carries a key's value: store it now, it is never shown again."""

    key: str = Field(description="the key's value, shown this once")
    key_id: KeyId
    record: Key
    secret_name: str | None = None
    secret_version_id: str | None = None
    secret_stage: SecretStage | None = Field(default=None, description=SECRET_STAGE)


class RolledKey(NewKey):
    """The successor (its `record.rolled_from` is the old key's id) and the old key itself."""

    old_key: Key = Field(description="the old key, expiring after the grace period (`rolled_to` names the successor)")
    unflushed_stages: list[str] | None = Field(
        default=None, description="with grace 0: stages whose authorizer cache could not be flushed"
    )


class KeyPage(Answer):
    keys: list[Key]
    next_token: str | None


class Revoked(Answer):
    """202: the key is revoked, but some stages' caches could not be flushed (they may accept it until their
    cached answer expires)."""

    key_id: KeyId
    revoked_at: Time
    unflushed_stages: list[str]
    message: str


class RevocationStarted(Answer):
    """202: from this answer on, every key the revocation covers is refused on every protected API; the keys
    themselves are marked revoked in the background."""

    revocation_id: KeyId
    matched: int = Field(description="the active keys it covers (those being created as it began may add to it)")
    unflushed_stages: list[str] | None = Field(
        default=None, description="stages whose authorizer cache could not be flushed: they may accept those keys late"
    )


class Revocation(Answer):
    """A mass revocation's progress."""

    revocation_id: KeyId
    status: Literal["running", "done"] = Field(
        description="`running`: its rule refuses every key it covers while they are marked; `done`: every one is"
    )
    matched: int = Field(description="the active keys it covers")
    revoked: int = Field(
        description="the keys it marked revoked so far; when done, `matched` unless some were revoked "
        "otherwise meanwhile"
    )
    context: dict[str, str] = Field(description="the context values it matches ({}: every key)")
    reason: str
    created_at: Time
    created_by: str = Field(description="the key id that made it")
    finished_at: Time | None


class UsageHour(Answer):
    hour: str = Field(description="2026-11-26T09:00Z")
    allowed: int
    refused: int
    requests: int


class QuotaUsage(Answer):
    limit: int
    period: QuotaPeriod
    used: int = Field(description="requests counted this period (may pass `limit`: quotas are best effort)")
    left: int = Field(description="never negative")
    resets_at: Time


class Usage(Answer):
    key_id: KeyId
    last_used_at: Time | None
    hours: list[UsageHour]
    quota: QuotaUsage | None = Field(default=None, description="for a key with a quota: this period's use")
    unavailable_regions: list[str] | None = Field(
        default=None,
        description="in a stack of several regions, the regions whose usage did not answer in time: `hours` add "
        "up the others (absent when every region answered)",
    )


class ResolvedPermission(Answer):
    role: str
    resource: str
    actions: list[Action]
    filters: dict[str, Any]


class Identity(Answer):
    key_id: str
    name: str
    project: str
    environment: str
    roles: list[str]
    permissions: list[ResolvedPermission]
    filters: dict[str, list[dict[str, Any]]]
    context: dict[str, str]


class Verdict(Answer):
    """Whether a presented key is valid here: a refused key gets only `valid` and `code`."""

    valid: bool
    code: Literal[
        "valid",
        "malformed",
        "not_found",
        "expired",
        "revoked",
        "disabled",
        "wrong_environment",
        "forbidden",
        "source_ip_not_allowed",
    ]
    key_id: str | None = None
    name: str | None = None
    project: str | None = None
    environment: str | None = None
    roles: list[str] | None = None
    permissions: list[ResolvedPermission] | None = None
    filters: dict[str, list[dict[str, Any]]] | None = None
    context: dict[str, str] | None = None
    allowed_filters: list[dict[str, Any]] | None = None
