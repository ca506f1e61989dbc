"""Request bodies of a key's life: create, roll, change (PATCH), verify, and revoke by context. Unknown fields are
refused, every bound comes from domain.limits; a key's allow-list and limits are checked by the domain's rules
(domain.network, domain.rate_limits), which name the field at fault.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StrictBool, StrictInt, StringConstraints, field_validator

from archie_keys.app.commands import CreateKey, Place, RevokeKeys, RollKey, UpdateKey, VerifyKey
from archie_keys.domain import limits as bounds  # not `limits`: a field of the key bodies
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.grants import Action
from archie_keys.domain.network import parse_allowed_cidrs
from archie_keys.domain.rate_limits import Limits, parse_limits
from archie_keys.edge.model_fields import (
    ClientTime,
    ContextName,
    ContextValue,
    KeyName,
    Reason,
    ResourceName,
    RoleName,
    StrictModel,
)

ReplaceSecret = Annotated[
    StrictBool,
    Field(
        description="with `secret_name`: deliver even when that secret holds another live key's value (else 409 "
        "`secret_in_use`); that key stays valid but leaves the secret"
    ),
]


Cidr = Annotated[str, StringConstraints(max_length=bounds.CIDR_MAX_LENGTH, strict=True)]
AllowedCidrs = Annotated[
    list[Cidr],
    Field(
        max_length=bounds.ALLOWED_CIDRS_MAX,
        description=f"IPv4 and IPv6 ranges (at most {bounds.ALLOWED_CIDRS_MAX}) the key may be used from, such as "
        "203.0.113.0/24 or 2001:db8::/32; a bare address is one host; [] for anywhere (docs/limits.md)",
    ),
]
LimitCount = Annotated[StrictInt, Field(ge=1)]


class QuotaModel(StrictModel):
    limit: Annotated[StrictInt, Field(ge=1, le=bounds.QUOTA_LIMIT_MAX)]
    period: bounds.QuotaPeriod


class LimitsModel(StrictModel):
    """A key's rate limit and quota: API Gateway answers 429 with Retry-After past them (docs/limits.md)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"rate_per_second": 2, "burst": 4, "quota": {"limit": 10000, "period": "month"}}]
        },
    )

    rate_per_second: Annotated[LimitCount, Field(le=bounds.RATE_PER_SECOND_MAX)] | None = None
    burst: Annotated[LimitCount, Field(le=bounds.BURST_MAX)] | None = Field(
        default=None, description="needs rate_per_second; defaults to it"
    )
    quota: QuotaModel | None = None


def checked_allowed_cidrs(values: list[str]) -> tuple[str, ...]:
    """The canonical list, or 422 naming the entry at fault (domain.network's rules)."""
    return parse_allowed_cidrs(values)


def checked_limits(model: LimitsModel | None) -> Limits | None:
    """The limits, or 422 naming the field at fault (domain.rate_limits' rules: a burst needs a rate, ...)."""
    return None if model is None else parse_limits(model.model_dump(exclude_unset=True, exclude_none=True))


class IdempotentBody(StrictModel):
    def fingerprinted(self) -> dict[str, Any]:
        """The body an Idempotency-Key is bound to. `replace_secret: false` is the same request as no
        `replace_secret` at all (and a request stored before the field existed still replays)."""
        body = self.model_dump(mode="json")
        if not body.get("replace_secret"):
            body.pop("replace_secret", None)
        return body


class CreateKeyBody(IdempotentBody):
    model_config = ConfigDict(
        extra="forbid",
        # Swagger UI's "Try it out" body: `admin` is the one role every environment has from its bootstrap.
        json_schema_extra={"examples": [{"name": "billing ci", "roles": ["admin"]}]},
    )

    name: KeyName
    prefix: Annotated[str, StringConstraints(pattern=bounds.PREFIX_PATTERN)] = bounds.DEFAULT_PREFIX
    roles: list[RoleName] = Field(min_length=1, max_length=bounds.ROLES_PER_KEY_MAX)
    context: dict[ContextName, ContextValue] = Field(default_factory=dict, max_length=bounds.CONTEXT_MAX_PAIRS)
    expires_at: ClientTime | None = None
    secret_name: str | None = Field(default=None, min_length=1, max_length=bounds.SECRET_NAME_MAX_LENGTH)
    replace_secret: ReplaceSecret = False
    allowed_cidrs: AllowedCidrs = Field(default_factory=list)
    limits: LimitsModel | None = None

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles

    def to_command(self, place: Place) -> CreateKey:
        return CreateKey(
            place=place,
            name=self.name,
            roles=list(self.roles),
            prefix=self.prefix,
            context=dict(self.context),
            expires_at=self.expires_at,
            secret_name=self.secret_name,
            replace_secret=self.replace_secret,
            allowed_cidrs=checked_allowed_cidrs(self.allowed_cidrs),
            limits=checked_limits(self.limits),
        )

    def fingerprinted(self) -> dict[str, Any]:
        """Bodies without the new fields fingerprint as before (a stored request still replays)."""
        body = super().fingerprinted()
        if not body.get("allowed_cidrs"):
            body.pop("allowed_cidrs", None)
        if body.get("limits") is None:
            body.pop("limits", None)
        return body


class RollKeyBody(IdempotentBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"grace_seconds": 3600}]})

    grace_seconds: StrictInt = Field(ge=0, le=bounds.GRACE_SECONDS_MAX)
    secret_name: str | None = Field(default=None, min_length=1, max_length=bounds.SECRET_NAME_MAX_LENGTH)
    # The successor's expiry; by default it keeps the old key's lifetime (expires_at - created_at) from now.
    expires_at: ClientTime | None = None
    replace_secret: ReplaceSecret = False
    allowed_cidrs: AllowedCidrs | None = Field(default=None, description="by default the successor keeps the list")
    limits: LimitsModel | None = Field(
        default=None, description="by default the successor keeps the limits; null removes them"
    )

    def to_command(self, place: Place, key_id: str) -> RollKey:
        return RollKey(
            place=place,
            key_id=key_id,
            grace_seconds=self.grace_seconds,
            secret_name=self.secret_name,
            expires_at=self.expires_at,
            replace_secret=self.replace_secret,
            allowed_cidrs=None if self.allowed_cidrs is None else checked_allowed_cidrs(self.allowed_cidrs),
            limits_given="limits" in self.model_fields_set,
            limits=checked_limits(self.limits),
        )

    def fingerprinted(self) -> dict[str, Any]:
        """Bodies without the new fields fingerprint as before (a stored request still replays)."""
        body = super().fingerprinted()
        if body.get("allowed_cidrs") is None:
            body.pop("allowed_cidrs", None)
        if "limits" not in self.model_fields_set:
            body.pop("limits", None)
        return body


# The fields of a PATCH that may not be null (only expires_at may: "never expires").
_NOT_NULLABLE = ("name", "roles", "context", "enabled", "allowed_cidrs")


def _patch_schema(schema: dict[str, Any]) -> None:
    """The document offers no null where null is refused, and says a body names at least one field."""
    for name in _NOT_NULLABLE:
        field_schema = schema["properties"][name]
        branches = [branch for branch in field_schema.pop("anyOf", []) if branch.get("type") != "null"]
        if branches:
            field_schema.update(branches[0])
    schema["minProperties"] = 1
    schema["examples"] = [{"name": "billing ci (old runner)", "enabled": False}]


class UpdateKeyBody(StrictModel):
    """Any of a key's changeable fields, at least one; a field left out stays as it is."""

    # Every field here is one entry of app.key_updates.UPDATABLE (how it is stored, checked and audited).
    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)

    # None stands for "left out": a null sent for these is refused (_not_null).
    name: KeyName | None = None
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=bounds.ROLES_PER_KEY_MAX)] | None = None
    context: Annotated[dict[ContextName, ContextValue], Field(max_length=bounds.CONTEXT_MAX_PAIRS)] | None = None
    expires_at: ClientTime | None = Field(default=None, description="null: the key never expires")
    enabled: StrictBool | None = Field(
        default=None, description="false: refused everywhere (reason `disabled`) until set true again"
    )
    allowed_cidrs: AllowedCidrs | None = Field(default=None, description="the new allow-list; [] for anywhere")
    limits: LimitsModel | None = Field(
        default=None,
        description="the new limits, replacing the key's whole (as on create); null removes them. The key's "
        "rotation chain moves to the usage plan of the new limits, whose quota count starts afresh",
    )

    @field_validator(*_NOT_NULLABLE, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Only expires_at may be cleared; null for another field is a mistake, not "leave it".
        if value is None:
            raise ValueError("may not be null (leave the field out to keep it)")
        return value

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str] | None) -> list[str] | None:
        if roles is not None and len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles

    def to_command(self, place: Place, key_id: str) -> UpdateKey:
        named = self.model_fields_set
        if not named:
            raise ValidationFailedError(
                f"name at least one field to change: {', '.join(type(self).model_fields)}", field="body"
            )
        changes = {name: getattr(self, name) for name in named}
        if "allowed_cidrs" in changes:
            changes["allowed_cidrs"] = list(checked_allowed_cidrs(changes["allowed_cidrs"]))
        if "limits" in changes:
            limits = checked_limits(changes["limits"])
            changes["limits"] = None if limits is None else limits.to_dict()
        return UpdateKey(place, key_id, changes)


class VerifyBody(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"key": "archie_demo_dev_...", "resource": "orders", "action": "read"}]},
    )

    key: str = Field(max_length=bounds.VERIFY_KEY_MAX_LENGTH)
    resource: ResourceName | None = None
    action: Action | None = None
    source_ip: Annotated[str, StringConstraints(max_length=bounds.SOURCE_IP_MAX_LENGTH, strict=True)] | None = Field(
        default=None,
        description="the address the key was presented from: a key with `allowed_cidrs` is refused "
        "(`source_ip_not_allowed`) from outside them, and without one",
    )

    def to_command(self, place: Place) -> VerifyKey:
        return VerifyKey(
            place=place, key=self.key, resource=self.resource, action=self.action, source_ip=self.source_ip
        )


class RevokeKeysBody(IdempotentBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"context": {"tenant": "t-17"}, "reason": "contract ended, ticket OPS-1234"}]},
    )

    context: dict[ContextName, ContextValue] = Field(
        max_length=bounds.CONTEXT_MAX_PAIRS,
        description="the context values a key must hold (all of them) to be revoked; {} revokes every active key "
        "of the environment (an unfiltered grant only)",
    )
    reason: Reason = Field(description="why: kept with the revocation and in every key's `key.deleted` event")

    def to_command(self, place: Place) -> RevokeKeys:
        return RevokeKeys(place=place, match=dict(self.context), reason=self.reason)
