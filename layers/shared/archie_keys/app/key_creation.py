"""Creating a key (POST .../keys); rolling one is in app.rotation, what both share in app.key_minting.

Every change is all-or-nothing (app.changes): the key, its roles' counts, the audit event and the idempotent
response are one transaction; the expiry schedule and the delivered secret are prepared before it and undone
if it does not commit. Creating a key whose context the caller's filters do not cover is privilege
escalation.
"""

from __future__ import annotations

from typing import Any

from archie_keys.app.changes import Change, commit_change, undeclared
from archie_keys.app.commands import CreateKey
from archie_keys.app.delivery import delivered, delivery_preview, plan_delivery, prepare_delivery, secret_taken
from archie_keys.app.expiry_notices import schedule_notices
from archie_keys.app.idempotent import Ticket
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.key_limits import limits_fields
from archie_keys.app.key_minting import (
    check_expiry,
    check_secret_name,
    created_details,
    created_limits,
    key_id_taken,
    new_key,
)
from archie_keys.app.services import Services
from archie_keys.app.views import NewKey, new_key_response
from archie_keys.domain.escalation import refuse_uncovered_context
from archie_keys.domain.identity import Identity
from archie_keys.domain.key_record import with_changes


def create_key(services: Services, caller: Identity, command: CreateKey, ticket: Ticket | None = None) -> NewKey:
    """With command.secret_name the value is also written to that Secrets Manager secret (its name, and that
    the caller may write into it, are checked before anything is written)."""
    place = command.place
    scope = caller.require(place.project, place.environment, "keys", "write")
    if command.secret_name is not None:
        check_secret_name(services.config.secret_name_prefix, place, command.secret_name)
    services.store.require_environment(place.project, place.environment)
    now = services.clock()
    expires_epoch = check_expiry(command.expires_at, now, services.config.key_min_lifetime_seconds)
    refuse_uncovered_context(scope, dict(command.context))
    value, record = new_key(
        services,
        caller,
        command,
        expires_epoch,
        now,
        allowed_cidrs=command.allowed_cidrs,
        idempotency_id=ticket.request.record_id if ticket else None,
    )
    key_id = record.key_id
    plan = plan_delivery(services, command, scope)
    # Before anything else is prepared: the likeliest to fail (API Gateway's control plane), and repeatable.
    record = with_changes(record, limits_fields(services, key_id, command.limits))
    with Change() as change:
        if expires_epoch is not None:
            # Not undone if the key is not committed: the flush it arranges may serve other keys of that second.
            services.schedules.put(place.project, place.environment, expires_epoch)
        delivery = prepare_delivery(services, change, plan, place, value, key_id, caller.key_id)
        details: dict[str, Any] = {"name": command.name, "roles": list(command.roles)}
        details.update(created_limits(record))
        if delivery is not None:
            details["secret_name"] = delivery.prepared.name
        writes = [
            *services.store.key_create_writes(record),
            services.audit.event_write("key.created", place.project, place.environment, caller.key_id, key_id, details),
            *(delivery.writes if delivery is not None else []),
        ]
        pending = NewKey(value, record, delivery_preview(delivery))
        if ticket is not None:
            writes.append(ticket.completion(services, new_key_response(pending)))
        labels = {"environment": undeclared(place), "key": key_id_taken(), "secret_holder": secret_taken()}
        commit_change(services, writes, labels)
    emit_key_event(services, "key.created", record, caller.key_id, created_details(record), now)
    schedule_notices(services, record)
    return NewKey(value, record, delivered(services, place, delivery.prepared if delivery is not None else None))
