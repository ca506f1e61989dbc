"""Use cases: read the audit trail (permission `audit` read) and a key's usage (`keys` read)."""

from __future__ import annotations

import time
from typing import Any

from archie_keys.app.commands import AuditQuery, Place
from archie_keys.app.keys import get_key
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.clock import from_iso
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.keyformat import KEY_ID_RE


def _key_id_filter(value: str | None, field: str) -> str | None:
    if value in (None, ""):
        return None
    if not KEY_ID_RE.match(str(value)):
        raise ValidationFailedError(f"{field} must be a key id (12 letters and digits)", field=field)
    return value


def query_audit(services: Services, caller: Identity, query: AuditQuery) -> tuple[list[dict[str, Any]], str | None]:
    place = query.place
    caller.require(place.project, place.environment, "audit", "read")
    services.store.require_environment(place.project, place.environment)
    return services.audit_reader.query(
        place.project,
        place.environment,
        _key_id_filter(query.key_id, "key_id"),
        _key_id_filter(query.actor_key_id, "actor_key_id"),
        query.since,
        query.until,
        query.page.limit,
        query.page.next_token,
    )


def key_usage(services: Services, caller: Identity, place: Place, key_id: str, since: str | None) -> dict[str, Any]:
    record = get_key(services, caller, place, key_id)
    now = time.time()
    if since:
        try:
            since_epoch = from_iso(since)
        except ValueError:
            raise ValidationFailedError("since must be an ISO 8601 time", field="since") from None
    else:
        since_epoch = now - 24 * 3600
    if since_epoch < now - limits.USAGE_MAX_DAYS * 86400:
        raise ValidationFailedError(f"since may go back at most {limits.USAGE_MAX_DAYS} days", field="since")
    return {
        "key_id": key_id,
        "last_used_at": record.get("last_used_at"),
        "hours": services.audit_reader.usage(place.project, place.environment, key_id, since_epoch),
    }
