"""Use case: declare an environment (idempotent) and read it. Only an unfiltered grant on `environments`
counts: an environment has no rows a filter could select."""

from __future__ import annotations

from typing import Any

from archie_keys.app.commands import Place
from archie_keys.app.services import Services
from archie_keys.app.views import environment_view
from archie_keys.aws.dynamo import TransactionRefused
from archie_keys.domain.clock import now_epoch, to_iso
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.keyformat import SLUG_RE


def check_slug(value: str, field: str) -> None:
    if not SLUG_RE.match(value):
        raise ValidationFailedError(
            f"{field} must be 1-24 lowercase letters or digits (it is carried inside every key)", field=field
        )


def declare_environment(
    services: Services, caller: Identity, place: Place, on_leak: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Declare an environment, with its audit event in the same transaction. Declaring it again changes
    nothing and records nothing, unless it sets another `on_leak` (what a reported leak of a live key does:
    "revoke", the default, or "report"), which is recorded as `environment.updated`. Returns (environment,
    created)."""
    check_slug(place.project, "project")
    check_slug(place.environment, "environment")
    caller.require(place.project, place.environment, "environments", "write")
    record = {
        "project": place.project,
        "environment": place.environment,
        "created_at": to_iso(now_epoch()),
        "created_by": caller.key_id,
        "on_leak": on_leak or "revoke",
    }
    writes = [
        services.store.environment_write(record),
        services.audit.event_write("environment.declared", place.project, place.environment, caller.key_id),
    ]
    try:
        services.transactions.commit(writes)
    except TransactionRefused:
        existing = services.store.require_environment(place.project, place.environment)
        if on_leak is None or existing.get("on_leak", "revoke") == on_leak:
            return environment_view(existing), False
        changed = services.store.environment_update_write(existing, {"on_leak": on_leak})
        event = services.audit.event_write(
            "environment.updated", place.project, place.environment, caller.key_id, None, {"on_leak": on_leak}
        )
        services.transactions.commit([changed, event])
        return environment_view({**existing, "on_leak": on_leak}), False
    return environment_view(record), True


def get_environment(services: Services, caller: Identity, place: Place) -> dict[str, Any]:
    caller.require(place.project, place.environment, "environments", "read")
    return environment_view(services.store.require_environment(place.project, place.environment))
