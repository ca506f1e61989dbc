"""Use cases: read the audit trail and a key's usage (permission `audit` read, `keys` read for usage)."""

from __future__ import annotations

import time
from typing import Any

from archie_keys.audit import AuditLog
from archie_keys.clock import from_iso
from archie_keys.errors import ValidationFailedError
from archie_keys.keyformat import KEY_ID_RE
from archie_keys.keys import get_key
from archie_keys.permissions import Caller, require
from archie_keys.store import KeyStore

USAGE_MAX_DAYS = 90


def _key_id_filter(value: str | None, field: str) -> str | None:
    if value in (None, ""):
        return None
    if not KEY_ID_RE.match(str(value)):
        raise ValidationFailedError(f"{field} must be a key id (12 letters and digits)", field=field)
    return value


def query_audit(
    store: KeyStore,
    audit: AuditLog,
    caller: Caller,
    project: str,
    environment: str,
    *,
    key_id: str | None,
    actor_key_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    next_token: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    require(caller, project, environment, "audit", "read")
    store.require_environment(project, environment)
    return audit.query(
        project,
        environment,
        _key_id_filter(key_id, "key_id"),
        _key_id_filter(actor_key_id, "actor_key_id"),
        since,
        until,
        limit,
        next_token,
    )


def key_usage(
    store: KeyStore, audit: AuditLog, caller: Caller, project: str, environment: str, key_id: str, since: str | None
) -> dict[str, Any]:
    record = get_key(store, caller, project, environment, key_id)
    now = time.time()
    if since:
        try:
            since_epoch = from_iso(since)
        except ValueError:
            raise ValidationFailedError("since must be an ISO 8601 time", field="since") from None
    else:
        since_epoch = now - 24 * 3600
    if since_epoch < now - USAGE_MAX_DAYS * 86400:
        raise ValidationFailedError(f"since may go back at most {USAGE_MAX_DAYS} days", field="since")
    return {
        "key_id": key_id,
        "last_used_at": record.get("last_used_at"),
        "hours": audit.usage(project, environment, key_id, since_epoch),
    }
