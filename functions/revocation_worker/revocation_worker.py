"""Invoked asynchronously: by a mass revocation as it starts, by itself with a cursor when its time runs short,
and every minute by its schedule ({"sweep": true}) to resume a revocation whose worker died. Marks the keys a
mass revocation covers revoked (app.revocation_worker); raises when it could not, so Lambda retries the same
event (which resumes where the marking is) and, after its retries, sends it to the dead-letter queue."""

from __future__ import annotations

from typing import Any

from archie_keys.app.revocation_worker import RevocationJob, run_revocation, sweep
from archie_keys.edge.composition import get_services
from archie_keys.edge.tracing import traced


@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    services = get_services()

    def go_on(next_event: dict[str, Any]) -> None:
        # Itself again, by the ARN it was invoked with (a function cannot name its own ARN in the template).
        services.invoker.invoke(context.invoked_function_arn, next_event)

    if event.get("sweep") is True:
        return {"resumed": sweep(services, go_on)}
    job = RevocationJob.parse(event)
    return run_revocation(services, job, lambda: context.get_remaining_time_in_millis() / 1000, go_on)
