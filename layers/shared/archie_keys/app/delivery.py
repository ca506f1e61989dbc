"""Delivering a new key's value to a Secrets Manager secret around the change that creates the key: the value
is prepared before the commit (undone if the change does not commit) and promoted to AWSCURRENT after it
(retried; see aws.secrets)."""

from __future__ import annotations

from archie_keys.app.changes import Change, after_commit
from archie_keys.app.commands import CreateKey
from archie_keys.app.services import Services
from archie_keys.aws.secrets import PreparedSecret


def prepare_delivery(
    services: Services, change: Change, command: CreateKey, value: str, key_id: str
) -> PreparedSecret | None:
    if command.secret_name is None:
        return None
    place = command.place
    prepared = services.secrets.prepare(command.secret_name, value, place.project, place.environment, key_id)
    change.undo_with(lambda: services.secrets.undo(prepared), f"secret {prepared.name}")
    return prepared


def delivered(services: Services, prepared: PreparedSecret | None) -> dict[str, str] | None:
    if prepared is None:
        return None
    promoted = after_commit(lambda: services.secrets.promote(prepared), f"promote secret {prepared.name}")
    return {
        "secret_name": prepared.name,
        "secret_version_id": prepared.version_id,
        # "pending": the value is in the secret (labelled ARCHIE_PENDING) but not yet its AWSCURRENT version.
        "secret_stage": "AWSCURRENT" if promoted else "ARCHIE_PENDING",
    }


def delivery_preview(prepared: PreparedSecret | None) -> dict[str, str] | None:
    """What a replay of an idempotent create says of the delivery (the secret is promoted right after)."""
    if prepared is None:
        return None
    return {"secret_name": prepared.name, "secret_version_id": prepared.version_id, "secret_stage": "AWSCURRENT"}
