"""Use case: at an expiry second, flush the authorizer caches of an environment so API Gateway stops serving a
cached Allow for the keys expiring then (the authorizer itself already refuses them).

ExpiryFlushFunction is invoked early, by the environment's schedule for that second or directly when the second
was too close for one (aws.schedules): it waits for the exact second, then flushes every layer as a revocation
does (aws.cache_flush), coalesced with every other change's flushes of the same stages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_keys.app.services import Services
from archie_keys.domain.clock import wait_seconds
from archie_keys.domain.expiry_timing import MAX_WAIT_SECONDS
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE


@dataclass(frozen=True)
class ExpiryEvent:
    project: str
    environment: str
    # The second the keys expire (epoch); None for an event of a schedule made per key before per-second
    # schedules (it named its key and fired at its expiry): flushed at once.
    expires_epoch: int | None = None
    key_id: str | None = None

    @classmethod
    def parse(cls, event: dict[str, Any]) -> ExpiryEvent:
        project, environment = event.get("project"), event.get("environment")
        second, key_id = event.get("expires_epoch"), event.get("key_id")
        if not (
            isinstance(project, str)
            and SLUG_RE.match(project)
            and isinstance(environment, str)
            and SLUG_RE.match(environment)
            and (
                (type(second) is int and second > 0 and key_id is None)
                or (second is None and isinstance(key_id, str) and KEY_ID_RE.match(key_id))
            )
        ):
            raise ValueError("an expiry event needs project, environment and expires_epoch (or a key_id)")
        return cls(project, environment, second, key_id)


def flush_on_expiry(
    services: Services, event: ExpiryEvent, sleep: Callable[[float], None] = wait_seconds
) -> dict[str, Any]:
    """Wait for the second, then flush every layer. Raises when a stage could not be flushed, so Lambda
    retries the invocation (and, after its retries, sends it to the dead-letter queue for a redrive) instead
    of the flush being lost."""
    since = None
    if event.expires_epoch is not None:
        since = float(event.expires_epoch)
        wait = since - services.clock()
        if wait > 0:
            # Never more than a schedule can be early: a clock far off must not hold the function to its
            # timeout (the flush then comes early, and the authorizer still refuses the key on every miss).
            sleep(min(wait, MAX_WAIT_SECONDS))
    report = services.flusher.revoke_everywhere(event.project, event.environment, since=since)
    if report.unflushed:
        raise RuntimeError(f"stages not flushed: {', '.join(report.unflushed)}")
    answer: dict[str, Any] = {"flushed": list(report.flushed)}
    answer.update({"expires_epoch": event.expires_epoch} if event.key_id is None else {"key_id": event.key_id})
    return answer
