"""A key's one status, derived from its stored record and the time: what an owner sees, and what may change.

    active    accepted
    disabled  refused (reason `disabled`) until enabled again; it keeps its value
    rolled    a successor exists; accepted until its `expires_at` (the grace period)
    expired   its own `expires_at` has passed
    revoked   deleted, reported leaked, revoked by a mass revocation, or rolled away (its grace ended)

The status is derived rather than stored because two of its changes happen with no write at all (an expiry,
a grace period ending); every reader (the views, the listing's filter in aws.key_store) applies these rules.
Precedence, strongest first: revoked, expired, disabled, rolled, active (a disabled key in its grace is
`disabled`: it is refused, which is what its owner must see).
"""

from __future__ import annotations

from dataclasses import dataclass

from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.identity import SCANNER_ACTOR
from archie_keys.domain.key_record import KeyRecord

ACTIVE, DISABLED, ROLLED, EXPIRED, REVOKED = "active", "disabled", "rolled", "expired", "revoked"
STATUSES = (ACTIVE, DISABLED, ROLLED, EXPIRED, REVOKED)
# What a listing shows unless asked: every state but revoked, as before revoked keys were listed at all.
DEFAULT_LISTED = (ACTIVE, DISABLED, ROLLED, EXPIRED)
# Why a key is revoked.
DELETED, LEAKED, MASS_REVOCATION, ROLLED_AWAY = "deleted", "leaked", "mass_revocation", "rolled_away"
REVOKED_REASONS = (DELETED, LEAKED, MASS_REVOCATION, ROLLED_AWAY)


@dataclass(frozen=True)
class KeyStatus:
    status: str
    revoked_at: str | None = None
    revoked_by: str | None = None
    revoked_reason: str | None = None

    @property
    def changeable(self) -> bool:
        """Whether the key may still be edited, disabled or enabled: an active or disabled key. A rolled key's
        successor is the one to change; an expired or revoked key is over."""
        return self.status in (ACTIVE, DISABLED)


def _rolled_away(record: KeyRecord, expires: float) -> KeyStatus:
    # Revoked by its roll: at the end of its grace, by whoever rolled it (not recorded before `rolled_by` was).
    return KeyStatus(REVOKED, to_iso(expires), record.rolled_by, ROLLED_AWAY)


def _revocation_reason(record: KeyRecord) -> str:
    if record.revocation_id:
        return MASS_REVOCATION
    if record.revoked_by == SCANNER_ACTOR:
        return LEAKED
    return DELETED


def key_status(record: KeyRecord, now: float) -> KeyStatus:
    expires = record.expires_epoch
    ended = expires is not None and now >= expires
    revoked_at = record.revoked_at
    if revoked_at:
        # A rolled-away key deleted afterwards was revoked by its roll first.
        if record.rolled_to and expires is not None and expires <= from_iso(revoked_at):
            return _rolled_away(record, expires)
        return KeyStatus(REVOKED, revoked_at, record.revoked_by, _revocation_reason(record))
    if record.rolled_to and expires is not None and ended:
        return _rolled_away(record, expires)
    if ended:
        return KeyStatus(EXPIRED)
    if record.disabled_at:
        return KeyStatus(DISABLED)
    if record.rolled_to:
        return KeyStatus(ROLLED)
    return KeyStatus(ACTIVE)
