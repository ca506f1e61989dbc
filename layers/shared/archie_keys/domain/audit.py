"""The audit trail's vocabulary, shared by the authorizer (which writes refusal lines) and the ingest (which
reads them): nothing here does I/O."""

from __future__ import annotations

from datetime import UTC, datetime

# The message of the authorizer's structured log line for a refused key (request id, key id, reason; never the
# key). A subscription filter on the authorizer's log group selects exactly these lines.
REFUSAL_MESSAGE = "key refused"


def hour_of(epoch: float) -> str:
    """The usage counters' hour bucket of a moment: 2026-11-26T09:00Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:00Z")
