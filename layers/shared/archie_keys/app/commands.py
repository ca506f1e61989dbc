"""Typed commands: what a caller asks a use case to do, already checked for shape at the edge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archie_keys.domain.rate_limits import Limits


@dataclass(frozen=True)
class Place:
    """A project and one of its environments: where every command applies."""

    project: str
    environment: str


@dataclass(frozen=True)
class CreateKey:
    place: Place
    name: str
    roles: Sequence[str]
    prefix: str = "archie_"
    context: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None
    secret_name: str | None = None
    # Deliver even when secret_name holds another live key's value (that key stays valid, outside the secret).
    replace_secret: bool = False
    # Canonical CIDRs (domain.network.parse_allowed_cidrs); () for anywhere.
    allowed_cidrs: tuple[str, ...] = ()
    limits: Limits | None = None


@dataclass(frozen=True)
class RollKey:
    place: Place
    key_id: str
    grace_seconds: int
    secret_name: str | None = None
    expires_at: datetime | None = None
    replace_secret: bool = False
    # None: the successor keeps the old key's list.
    allowed_cidrs: tuple[str, ...] | None = None
    # Whether the roll's body named `limits` (then `limits` replaces the old key's, None removing them).
    limits_given: bool = False
    limits: Limits | None = None


@dataclass(frozen=True)
class UpdateKey:
    """Change some of a key's fields: `changes` holds only the fields the request named (a value of None
    clears a field that may be cleared: `expires_at`)."""

    place: Place
    key_id: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class RevokeKeys:
    """Revoke every active key of the place whose context holds every `match` value ({}: every key)."""

    place: Place
    match: Mapping[str, str]
    reason: str


@dataclass(frozen=True)
class PutWebhook:
    """Register (or change) a webhook of the place: where its deliveries go and which event types it takes."""

    place: Place
    name: str
    url: str
    events: Sequence[str]


@dataclass(frozen=True)
class PutRole:
    place: Place
    name: str
    description: str
    permissions: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class PageRequest:
    limit: int
    next_token: str | None = None
    # Listing keys: only those whose name contains this (ignoring case).
    name_contains: str | None = None


@dataclass(frozen=True)
class AuditQuery:
    place: Place
    page: PageRequest
    key_id: str | None = None
    actor_key_id: str | None = None
    since: str | None = None
    until: str | None = None
    kind: str | None = None  # "request" or "event": only records of that kind


@dataclass(frozen=True)
class VerifyKey:
    place: Place
    key: str
    resource: str | None = None
    action: str | None = None
    source_ip: str | None = None
