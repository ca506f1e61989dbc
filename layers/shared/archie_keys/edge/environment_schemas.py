"""Answers about an environment's configuration: its settings, its roles and their permissions, its webhooks
and their deliveries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from archie_keys.domain.grants import Action
from archie_keys.edge.schemas import Answer, Time


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
