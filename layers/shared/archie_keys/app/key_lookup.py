"""Reading one key (GET .../keys/{key_id}), and finding the key a caller names for any use case that reads or
changes one.

Rows: a caller whose `keys` grant is filtered sees and changes only the keys whose context its filters
cover; any other key answers 404 as if it did not exist.
"""

from __future__ import annotations

from archie_keys.app.commands import Place
from archie_keys.app.services import Services
from archie_keys.domain.errors import ConflictError, NotFoundError
from archie_keys.domain.identity import Identity, RowScope
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.key_status import key_status
from archie_keys.domain.keyformat import KEY_ID_RE


def no_such_key() -> NotFoundError:
    # One answer for unknown, purged, uncovered and malformed ids: nothing here says whether a key exists.
    return NotFoundError("no such key", field="key_id")


def covered_key(services: Services, place: Place, key_id: str, scope: RowScope) -> KeyRecord:
    """A key that exists (in any state, while retained) and whose context the caller's scope covers; else 404
    (one answer for unknown, purged, uncovered and malformed ids)."""
    if not KEY_ID_RE.match(key_id):
        raise no_such_key()
    services.store.require_environment(place.project, place.environment)
    record = services.store.get_key(place.project, place.environment, key_id)
    if record is None or not scope.covers(record.context):
        raise no_such_key()
    # DynamoDB's TTL deletes a revoked key up to days after its purge time; it is gone from then on.
    if record.purge_epoch is not None and record.purge_epoch <= services.clock():
        raise no_such_key()
    return record


def live_key(services: Services, place: Place, key_id: str, scope: RowScope) -> KeyRecord:
    """A covered key that is not revoked; a revoked one answers 409 key_not_active."""
    record = covered_key(services, place, key_id, scope)
    if record.revoked_at:
        raise key_not_active(key_status(record, services.clock()).status)
    return record


def key_not_active(status: str) -> ConflictError:
    return ConflictError(
        f"this key is {status}: it can no longer be changed (create a new key, or change its successor)",
        field="key_id",
        code="key_not_active",
    )


def get_key(services: Services, caller: Identity, place: Place, key_id: str) -> KeyRecord:
    """A key in any state (revoked ones while retained, 30 days), with its status in the view."""
    scope = caller.require(place.project, place.environment, "keys", "read")
    return covered_key(services, place, key_id, scope)
