"""What the API shows of stored items: each view lists its documented fields and nothing else, so storage
internals (pk, sk, kind, hashes, index buckets) never reach a response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archie_keys.domain.clock import now_epoch
from archie_keys.domain.key_status import key_status
from archie_keys.domain.rate_limits import limits_of


@dataclass(frozen=True)
class NewKey:
    """A key just made: its value (shown this once), its stored record, and where its value was delivered."""

    value: str
    record: dict[str, Any]
    delivered: dict[str, str] | None = None


KEY_FIELDS = (
    "key_id",
    "name",
    "prefix",
    "start",
    "project",
    "environment",
    "roles",
    "context",
    "created_at",
    "created_by",
    "expires_at",
    "last_used_at",
    "rolled_from",
    "rolled_to",
    "leaked_at",
    "allowed_cidrs",
    "limits",
    "updated_at",
)
ENVIRONMENT_FIELDS = ("project", "environment", "created_at", "created_by", "on_leak")
REQUEST_RECORD_FIELDS = (
    "kind",
    "time",
    "project",
    "environment",
    "request_id",
    "method",
    "path",
    "resource",
    "status",
    "source_ip",
    "user_agent",
    "key_id",
    "claimed_key_id",
    "reason",
    "error",
    "api",
)
EVENT_RECORD_FIELDS = ("kind", "time", "project", "environment", "event", "actor_key_id", "key_id", "details")


def key_view(record: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The API's view of a stored key: never the hash. Its status (domain.key_status) with, for a revoked key,
    when, by whom and why."""
    current = now_epoch() if now is None else now
    view = {name: record.get(name) for name in KEY_FIELDS}
    view["key_format"] = int(record.get("key_format", 1))  # 1: issued before key tags
    view["allowed_cidrs"] = list(record.get("allowed_cidrs") or [])
    limits = limits_of(record.get("limits"))  # whole numbers again, not DynamoDB's Decimals
    view["limits"] = limits.to_dict() if limits is not None else None
    view["enabled"] = not record.get("disabled_at")
    status = key_status(record, current)
    view["status"] = status.status
    view["revoked_at"] = status.revoked_at
    view["revoked_by"] = status.revoked_by
    view["revoked_reason"] = status.revoked_reason
    return view


def new_key_response(new: NewKey) -> dict[str, Any]:
    """The one response that carries a key value."""
    return {"key": new.value, "key_id": new.record["key_id"], "record": key_view(new.record), **(new.delivered or {})}


def role_view(role: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": role["name"],
        "description": role.get("description", ""),
        "permissions": role["permissions"],
        "created_at": role["created_at"],
        "updated_at": role["updated_at"],
        "key_count": role.get("key_count", 0),
    }


def environment_view(record: dict[str, Any]) -> dict[str, Any]:
    return {
        **{name: record.get(name) for name in ENVIRONMENT_FIELDS},
        "on_leak": record.get("on_leak", "revoke"),
        # Declared before key tags: it accepts the keys of the first format it holds.
        "legacy_keys": record.get("legacy_keys", "accept"),
    }


def audit_view(item: dict[str, Any]) -> dict[str, Any]:
    fields = EVENT_RECORD_FIELDS if item.get("kind") == "event" else REQUEST_RECORD_FIELDS
    view = {name: item[name] for name in fields if item.get(name) is not None}
    view["id"] = item["id"]  # the reader's (aws.audit_reader), never parsed from a table key here
    return view
