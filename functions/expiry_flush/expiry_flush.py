"""Invoked by EventBridge Scheduler at a key's expires_at: flush the authorizer caches of its environment so
API Gateway stops serving a cached Allow for the expired key (the authorizer itself already refuses it)."""

from __future__ import annotations

from typing import Any

from archie_keys.cache_flush import flush_environment
from archie_keys.expiry import ExpiryEvent
from archie_keys.settings import get_settings


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    expiry = ExpiryEvent.parse(event)
    stages = flush_environment(get_settings(), expiry.project, expiry.environment)
    return {"flushed": stages, "key_id": expiry.key_id}
