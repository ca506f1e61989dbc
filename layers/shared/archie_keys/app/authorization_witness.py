"""The authorizer's side of the witness: record a key's authorization before answering Allow, coalesced.

A guarded delete trusts the recorded time to within the coalescing interval (domain.authorization_witness),
so the write must have succeeded before the Allow leaves: a failed write raises, and the authorizer answers
"undecided" (503, nothing cached), as for any dependency it cannot reach. An instance writes a key at most
once per interval, tracking in memory when it last wrote: warm decisions, the verifier's cached ones included,
cost nothing between writes. Only keys that verified reach this, so a forged or malformed key costs no write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from archie_keys.domain.authorization_witness import recording_due
from archie_keys.domain.limits import POSITIVE_CACHE_MAX


class AuthorizationRecords(Protocol):
    """Where authorizations are recorded (aws.key_store.KeyStore)."""

    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None: ...


class AuthorizationWitness:
    def __init__(
        self, records: AuthorizationRecords, coalesce_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._records = records
        self._coalesce_seconds = coalesce_seconds
        self._clock = clock
        self._written: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def authorized(self, project: str, environment: str, key_id: str) -> None:
        """Call before answering Allow for the key; returns once its authorization is recorded (at most one
        write per key per coalescing interval on this instance), raises when it cannot be."""
        ident = (project, environment, key_id)
        now = self._clock()
        if not recording_due(self._written.get(ident), now, self._coalesce_seconds):
            return
        self._records.record_authorization(project, environment, key_id, now)
        with self._lock:
            # Bounded like the verifier's cache: forgetting a key only makes its next Allow write again.
            if ident not in self._written and len(self._written) >= POSITIVE_CACHE_MAX:
                self._written.pop(next(iter(self._written)))
            self._written[ident] = now

    def clear(self) -> None:
        with self._lock:
            self._written.clear()
