"""Invoked by EventBridge Scheduler at a key's expires_at: flush the authorizer caches of its environment so
API Gateway stops serving a cached Allow for the expired key (the authorizer itself already refuses it). The
same schedules send a key's expiry notices (`notice_days`: key.expiring, key.expired; app.expiry_notices)."""

from __future__ import annotations

from typing import Any

from archie_keys.app.expiry import ExpiryEvent, flush_on_expiry
from archie_keys.app.expiry_notices import ExpiryNotice, send_notice
from archie_keys.edge.composition import get_services
from archie_keys.edge.tracing import traced


@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "notice_days" in event:
        return send_notice(get_services(), ExpiryNotice.parse(event))
    return flush_on_expiry(get_services(), ExpiryEvent.parse(event))
