"""Response models of the management API: what each answer carries, declared once for the OpenAPI document
(each route names its answers with these in its resolver) and held by the fuzzer's schema checks.

The views in app.views build the same shapes as plain dicts; tests/unit/test_openapi.py holds them to these.
It is longer than 300 lines because every answer of the API is here: one place to read what a client gets.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["read", "write", "update", "delete"]
KeyId = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{12}$", description="12 letters and digits; public")]
Time = Annotated[str, Field(description="ISO 8601, UTC, milliseconds: 2026-11-26T09:00:00.000Z")]


class Answer(BaseModel):
    """Every answer refuses fields it does not document: a response carries only its documented fields."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    field: str
    message: str


class Error(Answer):
    """Every error: a machine `code`, a human `message`, and the `field` to blame when there is one."""

    code: str = Field(description="see the error table of the API guide (docs/api.md)")
    message: str
    field: str | None = None
    errors: list[ErrorDetail] | None = Field(default=None, description="every problem, with validation_error")
    last_used_at: str | None = Field(default=None, description="with key_in_use: the key's last accepted request")
    recent_requests: int | None = Field(
        default=None, description="with key_in_use: accepted requests counted in the hours of the window"
    )
    key_id: str | None = Field(default=None, description="with secret_in_use: the key whose value the secret holds")


class QuotaLimit(Answer):
    limit: int
    period: Literal["day", "week", "month"]


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


class Permission(Answer):
    resource: str
    actions: list[Action]
    filters: dict[str, Any]


class Role(Answer):
    name: str
    description: str
    permissions: list[Permission]
    created_at: Time
    updated_at: Time
    key_count: int | None = Field(
        description="how many keys hold the role, in every tenant; null unless the caller's `keys` read grant "
        "is unfiltered (a count of every tenant's keys would tell a tenant administrator about the others)"
    )
    unflushed_stages: list[str] | None = None


class RolePage(Answer):
    roles: list[Role]
    next_token: str | None


class Webhook(Answer):
    name: str
    url: str
    events: list[str]
    created_at: Time
    created_by: str
    updated_at: Time
    updated_by: str
    disabled_at: Time | None = Field(
        default=None, description="when its receiver answered 410 Gone: nothing is sent until it is put again"
    )
    secret: str | None = Field(
        default=None,
        description="the signing secret (`whsec_...`), in the answer that created the webhook and never again",
    )


class WebhookList(Answer):
    webhooks: list[Webhook]


class WebhookDelivery(Answer):
    delivery_id: str
    message_id: str = Field(description="the `webhook-id` header: the same on every attempt and redrive")
    attempt: int | None = None
    at: Time | None = None
    result: str | None = Field(
        default=None, description="delivered, retrying, dead, gone (410: webhook disabled), dropped or redriven"
    )
    status: int | None = None
    error: str | None = None
    response: str | None = Field(default=None, description="the start of the receiver's answer")
    next_attempt_at: Time | None
    dead_letter: bool


class WebhookDeliveries(Answer):
    deliveries: list[WebhookDelivery]


class WebhookTestSent(Answer):
    delivery_id: str
    message_id: str


class WebhookRedriven(Answer):
    redriven: int


class Environment(Answer):
    project: str
    environment: str
    created_at: Time
    created_by: str
    on_leak: Literal["revoke", "report"] = Field(
        description="what a leak reported by GitHub's secret scanning does to a live key of this environment"
    )
    legacy_keys: Literal["accept", "refuse"] = Field(
        description="whether keys of the first format (issued before key tags) are still checked here"
    )


class RequestRecord(Answer):
    id: str = Field(description="API Gateway's extended request id")
    kind: Literal["request"]
    time: Time
    project: str
    environment: str
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    resource: str | None = None
    status: int | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    key_id: KeyId | None = Field(
        default=None,
        description="the key the request was made with, when the authorizer proved its secret and the key belongs "
        "to this environment: the request is in that key's audit and usage",
    )
    claimed_key_id: KeyId | None = Field(
        default=None,
        description="a key id the presented token named without proving it (an unknown key or wrong secret, or a "
        "key of another environment): recorded here, counted for no key",
    )
    reason: str | None = Field(
        default=None,
        description="why the authorizer refused the key: not_found, revoked, expired, disabled, wrong_environment, "
        "source_ip_not_allowed, source_ip_not_cache_keyed",
    )
    error: str | None = None
    api: str | None = None


class EventRecord(Answer):
    id: str
    kind: Literal["event"]
    time: Time
    project: str
    environment: str
    event: str
    actor_key_id: str
    key_id: KeyId | None = None
    details: dict[str, Any]


class AuditPage(Answer):
    records: list[Annotated[RequestRecord | EventRecord, Field(discriminator="kind")]]
    next_token: str | None


class LeakLabel(Answer):
    token_hash: str = Field(description="sha256 of the reported token, hex")
    token_type: str
    label: Literal["true_positive", "false_positive"]


class UsageHour(Answer):
    hour: str = Field(description="2026-11-26T09:00Z")
    allowed: int
    refused: int
    requests: int


class QuotaUsage(Answer):
    limit: int
    period: Literal["day", "week", "month"]
    used: int = Field(description="requests counted this period (may pass `limit`: quotas are best effort)")
    left: int = Field(description="never negative")
    resets_at: Time


class Usage(Answer):
    key_id: KeyId
    last_used_at: Time | None
    hours: list[UsageHour]
    quota: QuotaUsage | None = Field(default=None, description="for a key with a quota: this period's use")


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
