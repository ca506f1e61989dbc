"""Use case step: before a guarded delete reads a key's use, prove the audit holds every request answered
before the delete arrived.

The audit sees a request once its access line is delivered and ingested; a request answered a moment before
the DELETE may not be yet (seconds on AWS, up to a delivery interval locally). The ingest watermark
(domain.ingest_watermark) says up to when every line is ingested, so the delete waits, briefly and backing off,
for it to pass its own arrival, and refuses (503, Retry-After) when that cannot be proven in time: a guard
that cannot see the last seconds must not answer as if it had.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from archie_keys.domain import limits
from archie_keys.domain.errors import ServiceUnavailableError

WatermarkSource = Callable[[], "float | None"]


def wait_until_ingested(
    proven_through: WatermarkSource,
    arrival: float,
    clock: Callable[[], float] = time.time,
    pause: Callable[[float], None] = time.sleep,
    wait_seconds: float | None = None,
) -> float:
    """Return the watermark once it is at or past `arrival` (epoch seconds); raise ServiceUnavailableError when
    it is not within `wait_seconds`, when nothing attests deliveries at all, or when it cannot be read."""
    deadline = clock() + (limits.GUARD_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    step = limits.GUARD_FIRST_PAUSE_SECONDS
    while True:
        try:
            through = proven_through()
        except Exception as error:  # any failure to read it leaves the guard unproven: refuse, never guess
            raise _unproven("the audit's ingest watermark cannot be read") from error
        if through is not None and through >= arrival:
            return through
        left = deadline - clock()
        if left <= 0:
            if through is None:
                # CloudWatch Logs' own deliveries attest nothing: there, waiting longer would not help.
                raise _unproven(
                    "no log delivery attests what the audit has ingested (CloudWatch Logs' deliveries do not)",
                    "let the key's grace period end, or delete it unguarded ('The guarded delete', docs/keys.md)",
                )
            raise _unproven(f"the audit is proven whole only up to {arrival - through:.1f} s before this delete")
        pause(min(step, left))
        step = min(step * 2, limits.GUARD_LONGEST_PAUSE_SECONDS)


def _unproven(why: str, advice: str = "retry shortly") -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"{why}, so a request answered just before this delete may not be seen yet and the guard cannot be "
        f"proven; the key is not revoked ({advice})",
        retry_after=limits.GUARD_RETRY_AFTER_SECONDS,
    )
