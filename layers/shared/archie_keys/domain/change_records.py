"""Values the use cases and their stores exchange across the seam (app.ports): what an idempotency claim
found, and a secret delivery prepared before a commit. Pure data: the adapters in aws/ build and read them,
the fakes in tests/fakes/ do the same, and app/ decides on them without knowing which one it talks to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# An idempotency record's status: its request still runs, or its answer is stored.
IN_PROGRESS, COMPLETED = "in_progress", "completed"


@dataclass(frozen=True)
class Claim:
    """This request holds the idempotency record: it does the work and completes (or releases) the record."""

    record_id: str
    token: str


@dataclass(frozen=True)
class Existing:
    """Another request holds or completed the idempotency record."""

    status: str
    fingerprint: str
    response: dict[str, Any] | None
    key_id: str | None
    pepper_version: str | None = None


# Labels of refused conditions a use case tells apart from a conflict (domain.errors.ConditionFailed.labels):
# the event was recorded before (a redelivered leak report), the OIDC token was exchanged before.
EVENT_RECORDED = "audit_event_recorded"
REPLAYED = "replayed"

# A delivered secret's stages: consumers read AWSCURRENT; a prepared value waits as ARCHIE_PENDING until the
# change that made it commits (aws.secrets).
PENDING = "ARCHIE_PENDING"
CURRENT = "AWSCURRENT"


@dataclass(frozen=True)
class PreparedSecret:
    """A key value written into a secret as a pending version, before the change commits."""

    name: str
    version_id: str
    created: bool  # this delivery created the secret (undo deletes it)
    key_id: str  # the key whose value that version is
