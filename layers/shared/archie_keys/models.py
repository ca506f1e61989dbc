"""Request models of the HTTP API. Unknown fields are refused, every bound comes from limits.

Stored items have their own shape (archie_keys.store) and the authorizer works on plain dicts, so this
module (and pydantic) stays off the authorizer's cold start.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

from archie_keys import limits

Action = Literal["read", "write", "update", "delete"]
Slug = Annotated[str, StringConstraints(pattern=limits.SLUG_PATTERN)]
RoleName = Annotated[str, StringConstraints(pattern=limits.ROLE_NAME_PATTERN)]
ResourceName = Annotated[str, StringConstraints(pattern=limits.RESOURCE_PATTERN)]
FilterField = Annotated[str, StringConstraints(pattern=limits.FILTER_FIELD_PATTERN)]
ContextName = Annotated[str, StringConstraints(pattern=limits.CONTEXT_NAME_PATTERN)]
ContextValue = Annotated[str, StringConstraints(max_length=limits.CONTEXT_VALUE_MAX_LENGTH)]
FilterLiteral = Annotated[str, StringConstraints(max_length=limits.FILTER_LITERAL_MAX_LENGTH, strict=True)]
KeyName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=limits.KEY_NAME_MAX_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$", strip_whitespace=True
    ),
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FromContext(StrictModel):
    """A filter value taken from the key's context at authorization time."""

    from_context: ContextName


FilterValue = StrictBool | StrictInt | FilterLiteral | FromContext


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


class RoleBody(StrictModel):
    description: str = Field(default="", max_length=limits.ROLE_DESCRIPTION_MAX_LENGTH)
    permissions: list[PermissionModel] = Field(min_length=1, max_length=limits.PERMISSIONS_PER_ROLE_MAX)


class CreateKeyBody(StrictModel):
    name: KeyName
    prefix: Annotated[str, StringConstraints(pattern=limits.PREFIX_PATTERN)] = limits.DEFAULT_PREFIX
    roles: list[RoleName] = Field(min_length=1, max_length=limits.ROLES_PER_KEY_MAX)
    context: dict[ContextName, ContextValue] = Field(default_factory=dict, max_length=limits.CONTEXT_MAX_PAIRS)
    expires_at: AwareDatetime | None = None
    secret_name: str | None = Field(default=None, min_length=1, max_length=512)

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[str]) -> list[str]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles


class RollKeyBody(StrictModel):
    grace_seconds: int = Field(ge=0, le=604800)
    secret_name: str | None = Field(default=None, min_length=1, max_length=512)


class VerifyBody(StrictModel):
    key: str = Field(max_length=256)
    resource: ResourceName | None = None
    action: Action | None = None
