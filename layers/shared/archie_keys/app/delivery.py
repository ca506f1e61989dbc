"""Delivering a new key's value to a Secrets Manager secret around the change that creates the key: the value
is prepared before the commit (undone if the change does not commit) and promoted to AWSCURRENT after it
(retried; see aws.secrets)."""

from __future__ import annotations

from archie_keys.app.changes import Change, after_commit
from archie_keys.app.commands import CreateKey
from archie_keys.app.services import Services
from archie_keys.aws.secrets import PreparedSecret
from archie_keys.domain.errors import ForbiddenError
from archie_keys.domain.identity import RowScope


def prepare_delivery(
    services: Services, change: Change, command: CreateKey, value: str, key_id: str, scope: RowScope
) -> PreparedSecret | None:
    """Prepare the delivery of a new key's value. A secret that already exists is written only when the key it
    was created for is one the caller's `keys` write covers: a tenant administrator cannot take over another
    tenant's secret (and with it that tenant's traffic) in the same environment."""
    if command.secret_name is None:
        return None
    place = command.place

    def check_owner(owner_key_id: str) -> None:
        if scope.every_row:
            return
        owner = services.store.get_key(place.project, place.environment, owner_key_id) if owner_key_id else None
        # A secret whose first key is gone (purged 30 days after revocation) has no known owner: only an
        # unfiltered grant may write to it then.
        if owner is None or not scope.covers(owner.get("context", {})):
            raise ForbiddenError(
                "this secret holds keys this key may not manage; choose another secret_name",
                field="secret_name",
                code="secret_not_owned",
            )

    prepared = services.secrets.prepare(
        command.secret_name, value, place.project, place.environment, key_id, check_owner
    )
    change.undo_with(lambda: services.secrets.undo(prepared), f"secret {prepared.name}")
    return prepared


def delivered(services: Services, prepared: PreparedSecret | None) -> dict[str, str] | None:
    if prepared is None:
        return None
    promoted = after_commit(lambda: services.secrets.promote(prepared), f"promote secret {prepared.name}")
    if not promoted:
        # Consumers still read the previous value (a replay of an idempotent create promotes it again).
        services.secrets.unpromoted(prepared)
    return {
        "secret_name": prepared.name,
        "secret_version_id": prepared.version_id,
        # "pending": the value is in the secret (labelled ARCHIE_PENDING) but not yet its AWSCURRENT version.
        "secret_stage": "AWSCURRENT" if promoted else "ARCHIE_PENDING",
    }


def delivery_preview(prepared: PreparedSecret | None) -> dict[str, str] | None:
    """What the stored answer of an idempotent create says of the delivery, written before the promotion
    (a replay promotes again and reports the real stage: app.idempotent)."""
    if prepared is None:
        return None
    return {"secret_name": prepared.name, "secret_version_id": prepared.version_id, "secret_stage": "AWSCURRENT"}
