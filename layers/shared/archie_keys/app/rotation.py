"""Use case: roll (rotate) a key. A successor with the same name, prefix, roles, context, allow-list and
limits (unless the roll gives others) is created and
its value returned once; the old key expires after a grace period. One transaction writes the successor,
marks the old key rolled and records both events; the successor's and the old key's expiry schedules and
the delivered secret are prepared before it and undone if it does not commit (see app.changes).
"""

from __future__ import annotations

from typing import Any

from archie_keys.app.changes import Change
from archie_keys.app.commands import CreateKey, RollKey
from archie_keys.app.delivery import delivered, delivery_preview, plan_delivery, prepare_delivery, secret_taken
from archie_keys.app.expiry_notices import schedule_notices
from archie_keys.app.idempotent import Ticket
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.key_limits import allowed_cidrs_fields, limits_fields
from archie_keys.app.keys import (
    check_expiry,
    check_secret_name,
    commit_change,
    created_details,
    expiry_second,
    key_id_taken,
    live_key,
    new_key,
    undeclared,
)
from archie_keys.app.ports import FlushReport
from archie_keys.app.revocation import forget_idempotent_response
from archie_keys.app.services import Services
from archie_keys.app.verification import is_expired
from archie_keys.app.views import NewKey, key_view, new_key_response
from archie_keys.domain import limits
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.errors import ConflictError
from archie_keys.domain.identity import BREAK_GLASS_FIELD, Identity, is_break_glass
from archie_keys.domain.rate_limits import limits_of
from archie_keys.domain.usage_keys import lineage_of


def _successor_expiry(old: dict[str, Any], command: RollKey, now: float, min_lifetime: int) -> float | None:
    """The successor keeps the old key's lifetime (expires_at - created_at) from now, unless the roll says."""
    if command.expires_at is not None:
        return check_expiry(command.expires_at, now, min_lifetime)
    if old.get("expires_epoch") is None:
        return None
    lifetime = float(old["expires_epoch"]) - from_iso(old["created_at"])
    return expiry_second(now + min(max(lifetime, float(min_lifetime)), limits.EXPIRES_AT_MAX_DAYS * 86400.0))


def roll_key(
    services: Services, caller: Identity, command: RollKey, ticket: Ticket | None = None
) -> tuple[NewKey, dict[str, Any], FlushReport | None]:
    """Rotate: a successor with the same name, prefix, roles and context, returned once; the old key expires
    after the grace period. Returns (successor, old record as updated, flush report when grace is 0)."""
    place, key_id = command.place, command.key_id
    scope = caller.require(place.project, place.environment, "keys", "write")
    old = live_key(services, place, key_id, scope)
    now = services.clock()
    if is_expired(old.get("expires_epoch"), now):
        raise ConflictError("this key has expired; create a new key instead", field="key_id", code="key_expired")
    if old.get("rolled_to"):
        raise ConflictError(f"this key was already rolled to {old['rolled_to']}", field="key_id", code="already_rolled")
    if command.secret_name is not None:
        check_secret_name(services.config.secret_name_prefix, place, command.secret_name)
    successor_expiry = _successor_expiry(old, command, now, services.config.key_min_lifetime_seconds)
    create = CreateKey(
        place,
        old["name"],
        old["roles"],
        old["prefix"],
        old.get("context", {}),
        None,
        command.secret_name,
        command.replace_secret,
    )
    extra: dict[str, Any] = {"rolled_from": key_id}
    if is_break_glass(old):
        extra[BREAK_GLASS_FIELD] = True  # the break-glass credential rotated: its use still pages
    if ticket is not None:
        extra["idempotency_id"] = ticket.request.record_id
    allowed = tuple(old.get("allowed_cidrs") or ()) if command.allowed_cidrs is None else command.allowed_cidrs
    extra.update(allowed_cidrs_fields(allowed))
    value, record = new_key(services, caller, create, successor_expiry, now, **extra)
    successor_id = record["key_id"]
    old_expiry = old.get("expires_epoch")
    grace_end = now + command.grace_seconds
    new_old_expiry = expiry_second(grace_end if old_expiry is None else min(float(old_expiry), grace_end))
    rolled = {
        "expires_epoch": new_old_expiry,
        "expires_at": to_iso(new_old_expiry),
        "rolled_to": successor_id,
        # Who revoked it, once its grace ends (domain.key_status: rolled away).
        "rolled_by": caller.key_id,
    }
    # The successor may take the old key's own secret; another live key's needs replace_secret.
    plan = plan_delivery(services, create, scope, own_key_id=key_id)
    # The successor joins the old key's rotation chain: one API key, so one bucket and one quota for both during
    # the grace period. New limits move the chain's API key (the old key's requests count in the new plan too).
    successor_limits = command.limits if command.limits_given else limits_of(old.get("limits"))
    record.update(limits_fields(services, lineage_of(old), successor_limits))
    schedules = services.schedules
    with Change() as change:
        # Neither is undone if the roll is not committed: each flush may serve other keys of its second.
        if successor_expiry is not None:
            schedules.put(place.project, place.environment, successor_expiry)
        if command.grace_seconds > 0:
            schedules.put(place.project, place.environment, new_old_expiry)
        delivery = prepare_delivery(services, change, plan, place, value, successor_id, caller.key_id)
        created = {"name": old["name"], "roles": list(old["roles"]), "rolled_from": key_id}
        created.update({name: record[name] for name in ("allowed_cidrs", "limits") if name in record})
        if delivery is not None:
            created["secret_name"] = delivery.prepared.name
        audit = services.audit
        writes = [
            *services.store.key_create_writes(record),
            services.store.key_roll_write(old, rolled),
            audit.event_write("key.created", place.project, place.environment, caller.key_id, successor_id, created),
            audit.event_write(
                "key.rolled",
                place.project,
                place.environment,
                caller.key_id,
                key_id,
                {"rolled_to": successor_id, "grace_seconds": command.grace_seconds, "expires_at": rolled["expires_at"]},
            ),
            *(delivery.writes if delivery is not None else []),
        ]
        if ticket is not None:
            preview = {
                **new_key_response(NewKey(value, record, delivery_preview(delivery))),
                "old_key": key_view({**old, **rolled}),
            }
            writes.append(ticket.completion(services, preview))
        changed = ConflictError(
            "this key was rolled or revoked while it was being rolled; read it again", code="conflict"
        )
        labels = {
            "environment": undeclared(place),
            "key": key_id_taken(),
            "rolled_key": changed,
            "secret_holder": secret_taken(),
        }
        commit_change(services, writes, labels)
    emit_key_event(services, "key.created", record, caller.key_id, created_details(record), now)
    schedule_notices(services, record)
    rolled_details = {"successor_key_id": successor_id, "grace_until": rolled["expires_at"]}
    emit_key_event(services, "key.rolled", old, caller.key_id, rolled_details, now)
    forget_idempotent_response(services, old)
    flush = services.flusher.revoke_everywhere(place.project, place.environment) if command.grace_seconds == 0 else None
    successor = NewKey(value, record, delivered(services, place, delivery.prepared if delivery else None))
    return successor, {**old, **rolled}, flush
