"""What the API shows of stored items: each view lists its documented fields and nothing else, so storage
internals (pk, sk, kind, hashes, index buckets) never reach a response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archie_keys.domain.audit_records import (
    EVENT_RECORD_FIELDS,
    REQUEST_RECORD_FIELDS,
    USAGE_FIELDS,
    AuditRecord,
    EventRecord,
    HourlyUsage,
)
from archie_keys.domain.clock import now_epoch
from archie_keys.domain.environment_record import EnvironmentRecord, environment_shown_fields
from archie_keys.domain.key_record import KeyRecord, shown_fields
from archie_keys.domain.key_status import key_status
from archie_keys.domain.rate_limits import limits_of
from archie_keys.domain.role_record import RoleRecord, role_shown_fields


@dataclass(frozen=True)
class NewKey:
    """A key just made: its value (shown this once), its stored record, and where its value was delivered."""

    value: str
    record: KeyRecord
    delivered: dict[str, str] | None = None


# What the API shows of a key as stored: the record's SHOWN fields (domain.key_record), in their order; the
# view adds what is derived (enabled, status, and a revoked key's when, by whom and why).
KEY_FIELDS = shown_fields()
ROLE_FIELDS = role_shown_fields()
ENVIRONMENT_FIELDS = environment_shown_fields()
# A record as the audit shows it (domain.audit_records): a request's own fields and the place its block names,
# an event's fields; each view then its id.
REQUEST_VIEW_FIELDS = ("kind", "project", "environment", *REQUEST_RECORD_FIELDS)
EVENT_VIEW_FIELDS = ("kind", *EVENT_RECORD_FIELDS)


def key_view(record: KeyRecord, now: float | None = None) -> dict[str, Any]:
    """The API's view of a stored key: never the hash. Its status (domain.key_status) with, for a revoked key,
    when, by whom and why."""
    current = now_epoch() if now is None else now
    view = {name: getattr(record, name) for name in KEY_FIELDS}
    view["key_format"] = record.key_format or 1  # 1: issued before key tags
    view["roles"] = list(record.roles)
    view["context"] = dict(record.context)
    view["allowed_cidrs"] = list(record.allowed_cidrs)
    limits = limits_of(record.limits)  # whole numbers again, not DynamoDB's Decimals
    view["limits"] = limits.to_dict() if limits is not None else None
    view["enabled"] = not record.disabled_at
    status = key_status(record, current)
    view["status"] = status.status
    view["revoked_at"] = status.revoked_at
    view["revoked_by"] = status.revoked_by
    view["revoked_reason"] = status.revoked_reason
    return view


def new_key_response(new: NewKey) -> dict[str, Any]:
    """The one response that carries a key value."""
    return {"key": new.value, "key_id": new.record.key_id, "record": key_view(new.record), **(new.delivered or {})}


def role_view(role: RoleRecord) -> dict[str, Any]:
    """The API's view of a role: its SHOWN fields (domain.role_record)."""
    view = {name: getattr(role, name) for name in ROLE_FIELDS}
    view["permissions"] = list(role.permissions)
    return view


def environment_view(record: EnvironmentRecord) -> dict[str, Any]:
    """The API's view of an environment: its SHOWN fields (domain.environment_record), settings an environment
    declared before them does not store shown as their defaults."""
    return {name: getattr(record, name) for name in ENVIRONMENT_FIELDS}


def audit_view(record: AuditRecord) -> dict[str, Any]:
    """The API's view of an audit record: its set fields (an absent one is not shown as null), then its id (the
    reader's, aws.audit_reader: never parsed from a table key here)."""
    fields = EVENT_VIEW_FIELDS if isinstance(record, EventRecord) else REQUEST_VIEW_FIELDS
    view = {name: value for name in fields if (value := getattr(record, name)) is not None}
    view["id"] = record.id
    return view


def usage_view(usage: HourlyUsage) -> dict[str, Any]:
    """The API's view of a key's requests in one hour: its counters and their sum."""
    return {name: getattr(usage, name) for name in USAGE_FIELDS}
