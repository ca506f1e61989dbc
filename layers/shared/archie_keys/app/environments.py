"""Use case: declare an environment (idempotent) and read it. Only an unfiltered grant on `environments`
counts: an environment has no rows a filter could select."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archie_keys.app.commands import Place
from archie_keys.app.services import Services
from archie_keys.app.views import environment_view
from archie_keys.domain.clock import to_iso
from archie_keys.domain.environment_record import EnvironmentRecord
from archie_keys.domain.environment_state import LEGACY_KEYS_REFUSE
from archie_keys.domain.errors import ConditionFailed, ConflictError, ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.keyformat import SLUG_RE


def check_slug(value: str, field: str) -> None:
    if not SLUG_RE.match(value):
        raise ValidationFailedError(
            f"{field} must be 1-24 lowercase letters or digits (it is carried inside every key)", field=field
        )


def declare_environment(
    services: Services,
    caller: Identity,
    place: Place,
    on_leak: str | None = None,
    legacy_keys: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Declare an environment, with its audit event in the same transaction. Declaring it again changes
    nothing and records nothing, unless it sets another `on_leak` (what a reported leak of a live key does:
    "revoke", the default, or "report") or `legacy_keys` (whether keys of the first, untagged format are
    still checked: a new environment has none and refuses them, so forged keys cost nothing; one declared
    before tags accepts them until told otherwise), recorded as `environment.updated`. Refusing legacy keys
    while one is still active answers 409 `legacy_keys_active`. Returns (environment, created)."""
    check_slug(place.project, "project")
    check_slug(place.environment, "environment")
    caller.require(place.project, place.environment, "environments", "write")
    record = EnvironmentRecord(
        project=place.project,
        environment=place.environment,
        created_at=to_iso(services.clock()),
        created_by=caller.key_id,
        on_leak=on_leak or "revoke",
        legacy_keys=legacy_keys or LEGACY_KEYS_REFUSE,
    )
    writes = [
        services.store.environment_write(record),
        services.audit.event_write("environment.declared", place.project, place.environment, caller.key_id),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        existing = services.store.require_environment(place.project, place.environment)
        return _change_settings(services, caller, place, existing, on_leak=on_leak, legacy_keys=legacy_keys), False
    return environment_view(record), True


def _change_settings(
    services: Services, caller: Identity, place: Place, existing: EnvironmentRecord, **wanted: str | None
) -> dict[str, Any]:
    now = {"on_leak": existing.on_leak, "legacy_keys": existing.legacy_keys}
    changes = {name: value for name, value in wanted.items() if value is not None and value != now[name]}
    if not changes:
        return environment_view(existing)
    if changes.get("legacy_keys") == LEGACY_KEYS_REFUSE:
        active = services.store.count_active_legacy_keys(place.project, place.environment, services.clock())
        if active:
            raise ConflictError(
                f"{active} active key(s) of the first format (issued before key tags) would stop working; roll "
                "or revoke them first (GET .../keys lists them with key_format 1)",
                field="legacy_keys",
                code="legacy_keys_active",
            )
    changed = services.store.environment_update_write(existing, changes)
    event = services.audit.event_write(
        "environment.updated", place.project, place.environment, caller.key_id, None, changes
    )
    services.transactions.commit([changed, event])
    return environment_view(replace(existing, **changes))


def get_environment(services: Services, caller: Identity, place: Place) -> dict[str, Any]:
    caller.require(place.project, place.environment, "environments", "read")
    return environment_view(services.store.require_environment(place.project, place.environment))
