"""Delivering a new key's value to a Secrets Manager secret around the change that creates the key.

A delivered secret belongs to one key at a time. The keys table's `SECRET#<name>` record names that key and
its version; it moves in the transaction of the change that delivers, on the condition that it still names
the holder the change read, so of two changes racing for one secret only one commits. The secret's
`archie-keys:key-id` tag follows the record when the value is promoted (a secret delivered before the
record existed is known by its tag alone).

1. `plan_delivery`, before anything is written: who holds the secret, and may this caller write into it?
   Only when its `keys` grant covers that key, filtered or not (a holder that is gone: only an unfiltered
   grant); and a secret holding another live key's value needs `replace_secret` (else 409 secret_in_use).
2. `prepare_delivery`, before the commit: the value as a pending version (undone if the change does not
   commit), and what the change commits with it: the holder record and, when another key leaves the secret,
   a `key.updated` event about that key.
3. `delivered`, after the commit: the secret is made to show its holder (tag, then AWSCURRENT), retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archie_keys.app.changes import Change, after_commit
from archie_keys.app.commands import CreateKey, Place
from archie_keys.app.ports import Write
from archie_keys.app.services import Services
from archie_keys.app.verification import is_expired
from archie_keys.domain.change_records import CURRENT, PENDING, PreparedSecret
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConflictError, ForbiddenError, SecretInUseError
from archie_keys.domain.identity import RowScope

# The answer's secret_stage when the secret was given to another key after this one was delivered.
REPLACED = "REPLACED"
# Rounds of `settle` before it gives up on a secret that keeps changing hands (a retry finishes it).
SETTLE_ROUNDS = 3


@dataclass(frozen=True)
class DeliveryPlan:
    name: str
    exists: bool
    previous: str | None  # the key the holder record named when read (None: no record): the commit's condition
    displaced: str | None  # another key whose value the secret holds, and which leaves it


@dataclass(frozen=True)
class Delivery:
    prepared: PreparedSecret
    writes: list[Write | None]


def _live(record: dict[str, Any], now: float) -> bool:
    """Active, or rolled and still in its grace period: consumers of the secret may be using it."""
    return not record.get("revoked_at") and not is_expired(record.get("expires_epoch"), now)


def plan_delivery(
    services: Services, command: CreateKey, scope: RowScope, own_key_id: str | None = None
) -> DeliveryPlan | None:
    """Check, writing nothing, that the caller may deliver into command.secret_name. `own_key_id`: the key
    being rolled, whose successor may take its own secret without `replace_secret`."""
    if command.secret_name is None:
        return None
    place, name = command.place, command.secret_name
    record = services.store.get_secret_holder(place.project, place.environment, name)
    tagged = services.secrets.owned_holder(name, place.project, place.environment)
    previous = str(record["key_id"]) if record else None
    if tagged is None:
        # No such secret: it is created for this key (a record left by a secret deleted since holds nothing).
        return DeliveryPlan(name, False, previous, None)
    holder_id = previous if previous is not None else tagged
    holder = services.store.get_key(place.project, place.environment, holder_id) if holder_id else None
    # A tenant administrator cannot take over a secret serving a key it does not manage (and with it that
    # key's consumers and their traffic); a secret whose key is gone (purged 30 days after revocation) has no
    # known owner, so only an unfiltered grant may write to it.
    covered = scope.covers(holder.get("context", {})) if holder is not None else scope.every_row
    if not covered:
        raise ForbiddenError(
            "this secret holds a key this key may not manage; choose another secret_name",
            field="secret_name",
            code="secret_not_owned",
        )
    if holder is None or holder_id == own_key_id:
        return DeliveryPlan(name, True, previous, None)
    if _live(holder, services.clock()) and not command.replace_secret:
        raise SecretInUseError(holder_id)
    return DeliveryPlan(name, True, previous, holder_id)


def prepare_delivery(
    services: Services, change: Change, plan: DeliveryPlan | None, place: Place, value: str, key_id: str, actor: str
) -> Delivery | None:
    """Write the value as a pending version (taken back if the change fails), and build the writes that give
    the secret to `key_id` in the change's transaction."""
    if plan is None:
        return None
    prepared = services.secrets.prepare(plan.name, value, place.project, place.environment, key_id, plan.exists)
    change.undo_with(lambda: services.secrets.undo(prepared), f"secret {prepared.name}")
    holder = {"key_id": key_id, "version_id": prepared.version_id, "updated_at": to_iso(services.clock())}
    writes: list[Write | None] = [
        services.store.secret_holder_write(place.project, place.environment, plan.name, holder, plan.previous)
    ]
    if plan.displaced is not None:
        details = {"fields": ["secret_name"], "secret_name": plan.name, "replaced_by": key_id}
        writes.append(
            services.audit.event_write("key.updated", place.project, place.environment, actor, plan.displaced, details)
        )
    return Delivery(prepared, writes)


def secret_taken() -> ConflictError:  # the holder record moved between plan_delivery and the commit
    return ConflictError(
        "another request delivered a key into this secret meanwhile; retry", field="secret_name", code="conflict"
    )


def settle(services: Services, place: Place, name: str) -> str | None:
    """Make the secret show the key its holder record names (tag, then AWSCURRENT); returns that key's id, or
    None when there is no record. Concurrent settles converge: each reads the record again after writing,
    and goes on while it changed meanwhile."""
    holder = services.store.get_secret_holder(place.project, place.environment, name)
    for _ in range(SETTLE_ROUNDS):
        if holder is None:
            return None
        services.secrets.promote(name, str(holder["key_id"]), str(holder["version_id"]))
        again = services.store.get_secret_holder(place.project, place.environment, name)
        if again == holder:
            return str(holder["key_id"])
        holder = again
    raise ConflictError("this secret kept changing hands while it was promoted", field="secret_name")


def delivered(services: Services, place: Place, prepared: PreparedSecret | None) -> dict[str, str] | None:
    """After the commit (and on every idempotent replay): promote, and say where the value really is."""
    if prepared is None:
        return None
    stages: list[str] = []

    def promote() -> None:
        holder = settle(services, place, prepared.name)
        if holder is None:
            # Delivered before secrets had a holder record: its promotion was finished then or is left as it
            # is (promoting it now could take the secret back from a key that replaced it since).
            stages.append(CURRENT if services.secrets.is_current(prepared.name, prepared.version_id) else PENDING)
        else:
            stages.append(CURRENT if holder == prepared.key_id else REPLACED)

    # Not promoted: the value is in the secret, but not yet its AWSCURRENT version; a replay finishes it.
    promoted = after_commit(promote, f"promote secret {prepared.name}")
    if not promoted:
        # Consumers still read the previous value: counted for the "secrets never promoted" alarm.
        services.secrets.unpromoted(prepared)
    stage = stages[-1] if promoted else PENDING
    return {"secret_name": prepared.name, "secret_version_id": prepared.version_id, "secret_stage": stage}


def delivery_preview(delivery: Delivery | None) -> dict[str, str] | None:
    """What the stored answer of an idempotent create says of the delivery, written before the promotion
    (a replay promotes again and reports the real stage: app.idempotent)."""
    if delivery is None:
        return None
    prepared = delivery.prepared
    return {"secret_name": prepared.name, "secret_version_id": prepared.version_id, "secret_stage": CURRENT}
