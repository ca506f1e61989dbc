"""Use case: change a key in place (PATCH): its name, roles, context, expiry, allow-list, limits, or whether it
is enabled.

Every field a key may change is one entry of UPDATABLE: how its value is read from the stored record, how a
new value is stored, whether the change can give the key more than it had (then the key as it would be after
the change is checked as a create is: roles that exist, the context they read, no privilege escalation, the
authorizer's answer within its budget), and how the audit shows it. Adding a field is one entry here and one
in the edge's model (edge.models.UpdateKeyBody).

The change, its roles' counts and its `key.updated` event are one transaction, refused when the key changed
or ended since it was read. Then every cache layer is flushed as a revocation does (aws.cache_flush), so the
change is in force on every protected API when the answer comes: a disabled key is refused at once, and one
enabled again, or given fewer roles, is answered afresh. A change of `limits` first moves the key's rotation
chain to the usage plan of the new limits, and back if the transaction does not commit (app.key_limits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_keys.app.changes import Change
from archie_keys.app.commands import UpdateKey
from archie_keys.app.expiry_notices import schedule_notices
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.key_limits import move_chain, stored_limits
from archie_keys.app.keys import (
    check_authorizer_budget,
    check_expiry,
    commit_change,
    covered_key,
    key_not_active,
    prepare_grants,
)
from archie_keys.app.ports import FlushReport
from archie_keys.app.services import Services
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConflictError
from archie_keys.domain.escalation import refuse_escalation, refuse_uncovered_context
from archie_keys.domain.identity import Identity
from archie_keys.domain.key_status import key_status

# How the audit shows a change: its old and new values, or (context, whose values may name customers and
# are not in `key.created` either) only the names that were added, removed or changed.
OLD_AND_NEW, NAMES_ONLY = "old_and_new", "names_only"


@dataclass(frozen=True)
class Stored:
    """What storing a field's new value does to the key's item: attributes set, attributes removed."""

    sets: dict[str, Any]
    removes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Updatable:
    current: Callable[[dict[str, Any]], Any]
    store: Callable[[Any, Identity, float], Stored]
    # (old, new) -> whether the key may be able to do more after the change than before.
    widens: Callable[[Any, Any], bool]
    audit: str = OLD_AND_NEW
    # A value as the audit shows it.
    shown: Callable[[Any], Any] = lambda value: value


def _store_expiry(epoch: float | None, caller: Identity, now: float) -> Stored:
    if epoch is None:
        return Stored({}, ("expires_at", "expires_epoch"))
    return Stored({"expires_at": to_iso(epoch), "expires_epoch": epoch})


def _store_enabled(enabled: bool, caller: Identity, now: float) -> Stored:
    if enabled:
        return Stored({}, ("disabled_at", "disabled_by"))
    return Stored({"disabled_at": to_iso(now), "disabled_by": caller.key_id})


def _store_allowed_cidrs(cidrs: list[str], caller: Identity, now: float) -> Stored:
    # As a create stores it: no attribute for "anywhere".
    return Stored({"allowed_cidrs": list(cidrs)}) if cidrs else Stored({}, ("allowed_cidrs",))


def _store_limits(limits: dict[str, Any] | None, caller: Identity, now: float) -> Stored:
    # As a create stores it: no attribute for none. The chain (lineage_id) stays: its API key is released when
    # the chain's last key is revoked.
    return Stored({"limits": dict(limits)}) if limits else Stored({}, ("limits",))


def _widens_network(old: list[str], new: list[str]) -> bool:
    # [] is anywhere: nothing is wider. Otherwise any range not already listed may admit an address that was
    # refused (checked as a create is, though it grants no permission).
    return bool(old) and (not new or bool(set(new) - set(old)))


UPDATABLE: dict[str, Updatable] = {
    "name": Updatable(
        current=lambda record: record.get("name"),
        store=lambda name, caller, now: Stored({"name": name, "name_folded": name.casefold()}),
        widens=lambda old, new: False,
    ),
    "roles": Updatable(
        current=lambda record: list(record.get("roles", [])),
        store=lambda roles, caller, now: Stored({"roles": list(roles)}),
        widens=lambda old, new: True,
    ),
    "context": Updatable(
        current=lambda record: dict(record.get("context", {})),
        store=lambda context, caller, now: Stored({"context": dict(context)}),
        widens=lambda old, new: True,
        audit=NAMES_ONLY,
    ),
    # Stored as the epoch second it expires (None: never); a later expiry, or none, lets the key do more.
    "expires_at": Updatable(
        current=lambda record: float(record["expires_epoch"]) if record.get("expires_epoch") is not None else None,
        store=_store_expiry,
        widens=lambda old, new: new is None or (old is not None and new > old),
        shown=lambda epoch: to_iso(epoch) if epoch is not None else None,
    ),
    # The canonical list (the edge parses it, domain.network); [] for anywhere. Cached decisions stay correct:
    # API Gateway's cache is keyed on the address, and the change is flushed as any other.
    "allowed_cidrs": Updatable(
        current=lambda record: list(record.get("allowed_cidrs") or []),
        store=_store_allowed_cidrs,
        widens=_widens_network,
    ),
    # The stored form (Limits.to_dict; the edge parses it, domain.rate_limits), None for none. More requests
    # are no more permissions: nothing to check as a create is. Enforced by the usage plan the chain is in.
    "limits": Updatable(current=stored_limits, store=_store_limits, widens=lambda old, new: False),
    # Enabling gives the key back what it could do; disabling only takes away.
    "enabled": Updatable(
        current=lambda record: not record.get("disabled_at"),
        store=_store_enabled,
        widens=lambda old, new: bool(new) and not old,
    ),
}


@dataclass(frozen=True)
class KeyUpdate:
    record: dict[str, Any]
    # None when nothing changed (every value was already as asked): nothing written, nothing flushed.
    flush: FlushReport | None


def _audit_details(changes: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    details: dict[str, Any] = {"fields": sorted(changes)}
    for name, (old, new) in changes.items():
        rule = UPDATABLE[name]
        if rule.audit == NAMES_ONLY:
            details[name] = {"changed": sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))}
        else:
            details[name] = {"old": rule.shown(old), "new": rule.shown(new)}
    return details


def _normalized(services: Services, asked: dict[str, Any], now: float) -> dict[str, Any]:
    """The asked values as they are stored and compared: an expiry as its whole second, checked as a create's."""
    values = dict(asked)
    if "expires_at" in values:
        values["expires_at"] = check_expiry(values["expires_at"], now, services.config.key_min_lifetime_seconds)
    return values


def update_key(services: Services, caller: Identity, command: UpdateKey) -> KeyUpdate:
    """Change the fields `command.changes` names. 404 for a key unknown or not covered by the caller's rows;
    409 key_not_active for one revoked, rolled or expired; a change that could give the key more than it had
    is checked as a create is; the caller's rows must cover the key after the change too (403)."""
    place = command.place
    scope = caller.require(place.project, place.environment, "keys", "update")
    record = covered_key(services, place, command.key_id, scope)
    now = services.clock()
    status = key_status(record, now)
    if not status.changeable:
        raise key_not_active(status.status)
    asked = _normalized(services, dict(command.changes), now)
    changes = {name: (old, value) for name, value in asked.items() if (old := UPDATABLE[name].current(record)) != value}
    if not changes:
        return KeyUpdate(record, None)
    after = {name: new for name, (_, new) in changes.items()}
    roles = list(after.get("roles", record.get("roles", [])))
    context = dict(after.get("context", record.get("context", {})))
    refuse_uncovered_context(scope, context)
    if any(UPDATABLE[name].widens(old, new) for name, (old, new) in changes.items()):
        grants = prepare_grants(services, place, roles, context)
        refuse_escalation(caller.grants, list(grants.entries), "this key", field="roles")
        name = str(after.get("name", record.get("name", "")))
        check_authorizer_budget(
            Identity("x" * 12, place.project, place.environment, name, tuple(roles), context, grants)
        )
    sets: dict[str, Any] = {"updated_at": to_iso(now), "updated_by": caller.key_id}
    removes: list[str] = []
    for name, (_, new) in changes.items():
        stored = UPDATABLE[name].store(new, caller, now)
        sets.update(stored.sets)
        removes.extend(stored.removes)
    before_roles = list(record.get("roles", []))
    added = [role for role in roles if role not in before_roles]
    dropped = [role for role in before_roles if role not in roles]
    new_expiry = after.get("expires_at")
    if "expires_at" in changes and new_expiry is not None:
        # The expiry's flush follows the new second. The old second's schedule stays: it may serve other
        # keys of that second, and one flush more is harmless. Not undone if the change does not commit.
        services.schedules.put(place.project, place.environment, float(new_expiry))
    changed = ConflictError(
        "this key was changed, rolled or revoked while this request ran; read it again", code="conflict"
    )
    with Change() as change:
        if "limits" in changes:
            # Everything else is checked: now API Gateway, whose move is undone if the commit does not happen.
            sets.update(move_chain(services, record, changes["limits"][1], change))
        writes = [
            *services.store.key_update_writes(record, sets, removes, added, dropped, now),
            services.audit.event_write(
                "key.updated",
                place.project,
                place.environment,
                caller.key_id,
                record["key_id"],
                _audit_details(changes),
            ),
        ]
        commit_change(services, writes, {"key": changed})
    updated = {name: value for name, value in {**record, **sets}.items() if name not in removes}
    updated["revision"] = int(record.get("revision", 0)) + 1
    # Webhooks and the events bus hear the change once it is committed: the names of the fields changed
    # (docs/webhooks.md; the audit event holds their old and new values).
    emit_key_event(services, "key.updated", updated, caller.key_id, {"changed": sorted(changes)}, now)
    if "expires_at" in changes:
        # Its expiry notices follow the new expiry (none for a key that no longer expires: the old ones find
        # the expiry changed and send nothing).
        schedule_notices(services, updated)
    return KeyUpdate(updated, services.flusher.revoke_everywhere(place.project, place.environment))
