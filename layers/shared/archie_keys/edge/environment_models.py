"""Request bodies of an environment's configuration: its settings, its roles and their permissions, its
webhooks and their redrives. Unknown fields are refused, every bound comes from domain.limits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from archie_keys.app.commands import Place, PutRole, PutWebhook
from archie_keys.domain import limits as bounds
from archie_keys.domain.grants import ACTIONS, Action
from archie_keys.domain.webhooks import EVENT_TYPES
from archie_keys.edge.model_fields import FilterField, FilterValue, ResourceName, StrictModel

WebhookEventType = Literal[
    "key.created",
    "key.updated",
    "key.rolled",
    "key.revoked",
    "key.leaked",
    "key.expiring",
    "key.expired",
    "key.quota_exhausted",
]


class PermissionModel(StrictModel):
    resource: ResourceName
    actions: list[Action] = Field(min_length=1, max_length=len(ACTIONS))
    filters: dict[FilterField, FilterValue] = Field(default_factory=dict, max_length=bounds.FILTERS_MAX_FIELDS)

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

    description: str = Field(default="", max_length=bounds.ROLE_DESCRIPTION_MAX_LENGTH)
    permissions: list[PermissionModel] = Field(min_length=1, max_length=bounds.PERMISSIONS_PER_ROLE_MAX)

    def to_command(self, place: Place, name: str) -> PutRole:
        return PutRole(place, name, self.description, [p.model_dump(mode="json") for p in self.permissions])


class WebhookBody(StrictModel):
    """Where a webhook's deliveries go and which key events it takes (the URL is checked by the use case:
    https, and no address inside a private network)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://hooks.example.com/archie", "events": ["key.created", "key.revoked"]}]
        },
    )

    url: str = Field(min_length=1, max_length=bounds.WEBHOOK_URL_MAX_LENGTH)
    events: list[WebhookEventType] = Field(min_length=1, max_length=len(EVENT_TYPES))

    def to_command(self, place: Place, name: str) -> PutWebhook:
        return PutWebhook(place, name, self.url, list(self.events))


class RedriveBody(StrictModel):
    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[Annotated[str, StringConstraints(pattern=bounds.WEBHOOK_DELIVERY_ID_PATTERN)]] | None = Field(
        default=None,
        max_length=bounds.WEBHOOK_REDRIVE_MAX,
        description="the dead letters to send again (default: every one)",
    )
