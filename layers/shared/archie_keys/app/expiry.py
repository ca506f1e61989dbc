"""Use case: at a key's expires_at (EventBridge Scheduler invokes ExpiryFlushFunction), flush the authorizer
caches of its environment so API Gateway stops serving a cached Allow for it (the authorizer itself already
refuses it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archie_keys.app.services import Services
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE


@dataclass(frozen=True)
class ExpiryEvent:
    project: str
    environment: str
    key_id: str

    @classmethod
    def parse(cls, event: dict[str, Any]) -> ExpiryEvent:
        project, environment, key_id = event.get("project"), event.get("environment"), event.get("key_id")
        if not (
            isinstance(project, str)
            and SLUG_RE.match(project)
            and isinstance(environment, str)
            and SLUG_RE.match(environment)
            and isinstance(key_id, str)
            and KEY_ID_RE.match(key_id)
        ):
            raise ValueError("an expiry event needs project, environment and key_id")
        return cls(project, environment, key_id)


def flush_on_expiry(services: Services, event: ExpiryEvent) -> dict[str, Any]:
    """Raises when a stage could not be flushed, so Lambda retries the invocation (and, after its retries,
    sends it to the dead-letter queue for a redrive) instead of the flush being lost."""
    report = services.flusher.flush_environment(event.project, event.environment)
    if report.unflushed:
        raise RuntimeError(f"stages not flushed: {', '.join(report.unflushed)}")
    return {"flushed": list(report.flushed), "key_id": event.key_id}
