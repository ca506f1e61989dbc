"""Key events leaving a committed change: to every webhook of the key's environment that takes the event type
(one SQS message each, app.webhook_delivery delivers them) and to the key events bus (docs/webhooks.md).

`emit_key_event` is the one function use cases call, after their change has committed: a refused change
emits nothing, and a failure to emit is retried and logged, never turned into a failure of the change it
follows (app.changes.after_commit). The same `webhook-id` goes to every webhook and on every attempt.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from archie_keys.app.changes import after_commit
from archie_keys.app.services import Services
from archie_keys.app.webhook_delivery import Delivery
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.webhook_paths import webhook_path
from archie_keys.domain.webhooks import KeySubject, key_event, new_message_id


def new_delivery_id(now: float) -> str:
    """Milliseconds in hex, then randomness: delivery ids sort by when the event was queued (newest first in
    a reverse Query), and never collide."""
    return f"{int(now * 1000):012x}{secrets.token_hex(6)}"


def delivery_message(delivery: Delivery) -> dict[str, Any]:
    """A delivery as its SQS message (the body is the exact bytes signed and sent: JSON text, kept as is)."""
    return {
        "delivery_id": delivery.delivery_id,
        "webhook": delivery.webhook,
        "url": delivery.url,
        "message_id": delivery.message_id,
        "body": delivery.body.decode("utf-8"),
    }


def delivery_from_message(message: Mapping[str, Any], attempt: int) -> Delivery:
    return Delivery(
        delivery_id=str(message["delivery_id"]),
        webhook=str(message["webhook"]),
        url=str(message["url"]),
        message_id=str(message["message_id"]),
        body=str(message["body"]).encode("utf-8"),
        attempt=attempt,
    )


def subscribers(webhooks: Sequence[Mapping[str, Any]], event_type: str) -> list[Mapping[str, Any]]:
    """The webhooks that take this event type and have not been disabled (a receiver's 410 Gone)."""
    return [w for w in webhooks if event_type in w.get("events", ()) and not w.get("disabled_at")]


def queue_deliveries(services: Services, deliveries: Sequence[Delivery]) -> None:
    if deliveries and services.key_event_queue is not None:
        services.key_event_queue.send([delivery_message(d) for d in deliveries])


def emit_key_event(
    services: Services,
    event_type: str,
    record: KeyRecord,
    actor: str,
    details: Mapping[str, Any] | None = None,
    occurred_at: float | None = None,
) -> bool:
    """Send `event_type` about the key `record` (its stored record: only its id, name, project and environment
    are read) done by `actor` (a key id, the scanner, the expiry, the quota), with the type's details. Call it
    after the change committed; it never raises (a failure is retried, then logged). Whether every send
    succeeded."""
    return emit_key_events(services, event_type, [(record, details)], actor, occurred_at)


def emit_key_events(
    services: Services,
    event_type: str,
    about: Sequence[tuple[KeyRecord, Mapping[str, Any] | None]],
    actor: str,
    occurred_at: float | None = None,
) -> bool:
    """One event per (record, details), all of one environment (a mass revocation's batch): its webhooks are
    read once, the deliveries sent ten to a request, the bus's entries ten to a call. Whether every send
    succeeded (each is retried first, and a failure logged)."""
    if not about:
        return True
    project, environment = about[0][0].project, about[0][0].environment
    at = occurred_at if occurred_at is not None else services.clock()
    bodies = []
    for record, details in about:
        subject = KeySubject(record.key_id, record.name, project, environment)
        bodies.append((new_message_id(), key_event(event_type, subject, actor, at, details)))
    planned: list[Delivery] | None = None

    def to_webhooks() -> None:
        nonlocal planned
        if planned is None:  # planned once: a retry sends the same deliveries, never a second set
            matching = subscribers(services.webhooks.of_environment(project, environment), event_type)
            now = time.time()
            planned = [
                Delivery(
                    new_delivery_id(now), webhook_path(project, environment, w["name"]), w["url"], message_id, body
                )
                for message_id, body in bodies
                for w in matching
            ]
        queue_deliveries(services, planned)

    queued = after_commit(to_webhooks, f"queue {event_type} for the webhooks of {project}/{environment}")
    if services.key_event_bus is None:
        return queued
    bus = services.key_event_bus
    put = after_commit(lambda: bus.put(event_type, [body for _, body in bodies]), f"put {event_type} on the bus")
    return queued and put
