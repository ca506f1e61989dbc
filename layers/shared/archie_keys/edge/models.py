"""Request models of the HTTP API. Unknown fields are refused, every bound comes from limits.

Stored items have their own shape (archie_keys.store) and the authorizer works on plain dicts, so this
module (and pydantic) stays off the authorizer's cold start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

from archie_keys.app.commands import CreateKey, Place, PutRole, RevokeKeys, RollKey, UpdateKey, VerifyKey
from archie_keys.domain import limits
from archie_keys.domain.clock import parse_client_time
from archie_keys.domain.errors import ValidationFailedError

Action = Literal["read", "write", "update", "delete"]
RoleName = Annotated[str, StringConstraints(pattern=limits.ROLE_NAME_PATTERN)]
ResourceName = Annotated[str, StringConstraints(pattern=limits.RESOURCE_PATTERN)]
FilterField = Annotated[str, StringConstraints(pattern=limits.FILTER_FIELD_PATTERN)]
ContextName = Annotated[str, StringConstraints(pattern=limits.CONTEXT_NAME_PATTERN)]
ContextValue = Annotated[str, StringConstraints(max_length=limits.CONTEXT_VALUE_MAX_LENGTH)]
FilterLiteral = Annotated[str, StringConstraints(max_length=limits.FILTER_LITERAL_MAX_LENGTH, strict=True)]
KeyName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=limits.KEY_NAME_MAX_LENGTH,
        pattern=limits.KEY_NAME_PATTERN,
        strip_whitespace=True,
    ),
]


def _client_time(value: Any) -> datetime:
    """Times arrive as ISO 8601 strings with a time zone, within the years the code represents."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time with a time zone, as a string")
    return parse_client_time(value)


ClientTime = Annotated[datetime, BeforeValidator(_client_time)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FromContext(StrictModel):
    """A filter value taken from the key's context at authorization time."""

    from_context: ContextName


# Integer literals stay exact for every reader (JavaScript holds integers exactly only up to 2**53).
FilterInt = Annotated[StrictInt, Field(ge=-limits.FILTER_INT_MAX, le=limits.FILTER_INT_MAX)]
FilterValue = StrictBool | FilterInt | FilterLiteral | FromContext


class PermissionModel(StrictModel):
    resource: ResourceName
    actions: list[Action] = Field(min_length=1, max_length=4)
    filters: dict[FilterField, FilterValue] = Field(default_factory=dict, max_length=limits.FILTERS_MAX_FIELDS)

    @field_validator("actions")
    @classmethod
    def _unique_actions(cls, actions: list[str]) -> list[str]:
        if len(set(actions)) != len(actions):
            raise ValueError("actions must not repeat")
        return actions


class EnvironmentBody(StrictModel):
    """Optional when declaring an environment: its settings."""

    on_leak: Literal["revoke", "report"] | None = Field(
        default=None,
        description="a live key reported leaked by GitHub's secret scanning: revoke it (default), or report only",
    )
    legacy_keys: Literal["accept", "refuse"] | None = Field(
        default=None,
        description="whether keys of the first format (issued before key tags) are still checked: an environment "
        "declared since refuses them, so a forged key is refused without a database read; one declared before "
        "accepts them until set to refuse (409 legacy_keys_active while one is active)",
    )


class LeakedTokenModel(BaseModel):
    """One token of a GitHub secret scanning alert (GitHub may add fields: they are ignored)."""

    model_config = ConfigDict(extra="ignore")
    token: str = Field(max_length=limits.LEAK_TOKEN_MAX_LENGTH)
    type: str = Field(max_length=128)
    url: str = Field(default="", max_length=2048)
    source: str = Field(default="", max_length=128)


class RoleBody(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "description": "reads its tenant's orders",
                    "permissions": [
                        {
                            "resource": "orders",
                            "actions": ["read"],
                            "filters": {"tenant_id": {"from_context": "tenant"}},
                        }
                    ],
                }
            ]
        },
    )

    description: str = Field(default="", max_length=limits.ROLE_DESCRIPTION_MAX_LENGTH)
    permissions: list[PermissionModel] = Field(min_length=1, max_length=limits.PERMISSIONS_PER_ROLE_MAX)

    def to_command(self, place: Place, name: str) -> PutRole:
        return PutRole(place, name, self.description, [p.model_dump(mode="json") for p in self.permissions])


ReplaceSecret = Annotated[
    StrictBool,
    Field(
        description="with `secret_name`: deliver even when that secret holds another live key's value (else 409 "
        "`secret_in_use`); that key stays valid but leaves the secret"
    ),
]


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
        json_schema_extra={"examples": [{"name": "billing ci", "roles": ["reader"], "context": {"tenant": "t-17"}}]},
    )

    name: KeyName
    prefix: Annotated[str, StringConstraints(pattern=limits.PREFIX_PATTERN)] = limits.DEFAULT_PREFIX
    roles: list[RoleName] = Field(min_length=1, max_length=limits.ROLES_PER_KEY_MAX)
    context: dict[ContextName, ContextValue] = Field(default_factory=dict, max_length=limits.CONTEXT_MAX_PAIRS)
    expires_at: ClientTime | None = None
    secret_name: str | None = Field(default=None, min_length=1, max_length=limits.SECRET_NAME_MAX_LENGTH)
    replace_secret: ReplaceSecret = False

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
        )


class RollKeyBody(IdempotentBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"grace_seconds": 3600}]})

    grace_seconds: StrictInt = Field(ge=0, le=limits.GRACE_SECONDS_MAX)
    secret_name: str | None = Field(default=None, min_length=1, max_length=limits.SECRET_NAME_MAX_LENGTH)
    # The successor's expiry; by default it keeps the old key's lifetime (expires_at - created_at) from now.
    expires_at: ClientTime | None = None
    replace_secret: ReplaceSecret = False

    def to_command(self, place: Place, key_id: str) -> RollKey:
        return RollKey(
            place=place,
            key_id=key_id,
            grace_seconds=self.grace_seconds,
            secret_name=self.secret_name,
            expires_at=self.expires_at,
            replace_secret=self.replace_secret,
        )


# The fields of a PATCH that may not be null (only expires_at may: "never expires").
_NOT_NULLABLE = ("name", "roles", "context", "enabled")


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
    roles: Annotated[list[RoleName], Field(min_length=1, max_length=limits.ROLES_PER_KEY_MAX)] | None = None
    context: Annotated[dict[ContextName, ContextValue], Field(max_length=limits.CONTEXT_MAX_PAIRS)] | None = None
    expires_at: ClientTime | None = Field(default=None, description="null: the key never expires")
    enabled: StrictBool | None = Field(
        default=None, description="false: refused everywhere (reason `disabled`) until set true again"
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
        return UpdateKey(place, key_id, {name: getattr(self, name) for name in named})


class VerifyBody(StrictModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"key": "archie_demo_dev_...", "resource": "orders", "action": "read"}]},
    )

    key: str = Field(max_length=limits.VERIFY_KEY_MAX_LENGTH)
    resource: ResourceName | None = None
    action: Action | None = None

    def to_command(self, place: Place) -> VerifyKey:
        return VerifyKey(place=place, key=self.key, resource=self.resource, action=self.action)


Reason = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=limits.REVOCATION_REASON_MAX_LENGTH,
        pattern=limits.KEY_NAME_PATTERN,
        strip_whitespace=True,
    ),
]


class RevokeKeysBody(IdempotentBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"context": {"tenant": "t-17"}, "reason": "contract ended, ticket OPS-1234"}]},
    )

    context: dict[ContextName, ContextValue] = Field(
        max_length=limits.CONTEXT_MAX_PAIRS,
        description="the context values a key must hold (all of them) to be revoked; {} revokes every active key "
        "of the environment (an unfiltered grant only)",
    )
    reason: Reason = Field(description="why: kept with the revocation and in every key's `key.deleted` event")

    def to_command(self, place: Place) -> RevokeKeys:
        return RevokeKeys(place=place, match=dict(self.context), reason=self.reason)
