"""Use cases: register, list and delete an environment's webhooks, send one a test event, read its recent
deliveries, and redrive its dead letters (docs/webhooks.md).

A webhook needs an unfiltered `webhooks` grant (it receives the events of every key of the environment, so a
tenant administrator's filtered grant reaches none). Its signing secret is made on the first PUT and shown in
that answer only, like a key's value; it is stored sealed under a subkey of the pepper made for it alone
(domain.sealing), so the table holds nothing a receiver's signature could be forged with, and never shown
again. A URL is checked when it is registered (https, every address its name resolves to public) and again
at every attempt (aws.webhook_http), so a name later pointed inside the network reaches nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from archie_keys.app.commands import Place, PutWebhook
from archie_keys.app.key_events import delivery_message, new_delivery_id
from archie_keys.app.services import Services
from archie_keys.app.webhook_delivery import Delivery
from archie_keys.app.webhook_records import DeliveryRecords
from archie_keys.domain import limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import (
    ConditionFailed,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationFailedError,
    shown,
)
from archie_keys.domain.identity import Identity
from archie_keys.domain.sealing import seal, unseal
from archie_keys.domain.webhook_paths import split_webhook_path, webhook_path
from archie_keys.domain.webhooks import EVENT_TYPES, new_message_id, new_secret, webhook_test_event

_NAME_RE = limits.whole(limits.WEBHOOK_NAME_PATTERN)
# What a webhook's answers show: never its secret, sealed or not.
_SHOWN = ("name", "url", "events", "created_at", "created_by", "updated_at", "updated_by", "disabled_at")


@dataclass(frozen=True)
class WebhookAnswer:
    webhook: dict[str, Any]
    created: bool
    # The signing secret, in the answer that created the webhook and never again.
    secret: str | None = None


def webhook_view(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in _SHOWN if item.get(name) is not None}


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise ValidationFailedError(limits.PATTERN_MEANINGS[limits.ROLE_NAME_PATTERN], field="name")


def _check_events(events: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    if not chosen:
        raise ValidationFailedError("name at least one event type", field="events")
    for event in chosen:
        if event not in EVENT_TYPES:
            # The edge's model refuses these first; a command from elsewhere is held to the same rule.
            known = ", ".join(EVENT_TYPES)
            raise ValidationFailedError(f"{shown(event)} is not an event type; one of {known}", field="events")
    return chosen


def _no_such_webhook(name: str) -> NotFoundError:
    return NotFoundError(f"webhook {name} does not exist", field="name")


def _seal_key(services: Services, nonce: str, pepper_version: str | None) -> bytes:
    """A subkey of the pepper for this one secret (its nonce): a keystream is never reused."""
    return services.hasher_for(pepper_version).derive(b"webhook-secret/" + nonce.encode("ascii"))


def put_webhook(services: Services, caller: Identity, command: PutWebhook) -> WebhookAnswer:
    """Register a webhook (201, with its secret) or change its URL and events (200, the secret kept). A
    webhook a receiver disabled (410 Gone) is enabled again by being put again."""
    place = command.place
    _check_name(command.name)
    caller.require(place.project, place.environment, "webhooks", "write")
    services.store.require_environment(place.project, place.environment)
    events = _check_events(command.events)
    url = services.webhook_targets.check(command.url)
    existing = services.webhooks.of_environment(place.project, place.environment)
    previous = next((w for w in existing if w["name"] == command.name), None)
    if previous is None and len(existing) >= limits.WEBHOOKS_PER_ENVIRONMENT_MAX:
        raise ValidationFailedError(
            f"an environment has at most {limits.WEBHOOKS_PER_ENVIRONMENT_MAX} webhooks",
            field="name",
            code="too_many_webhooks",
        )
    now = to_iso(services.clock())
    item: dict[str, Any] = {
        "project": place.project,
        "environment": place.environment,
        "name": command.name,
        "url": url,
        "events": events,
        "updated_at": now,
        "updated_by": caller.key_id,
    }
    secret = None
    if previous is None:
        secret = new_secret()
        hasher = services.hasher()
        nonce = secrets.token_hex(16)
        item.update(
            created_at=now,
            created_by=caller.key_id,
            secret_nonce=nonce,
            secret_pepper_version=hasher.version or None,
            secret_sealed=seal(_seal_key(services, nonce, hasher.version or None), secret),
        )
    else:
        kept = ("created_at", "created_by", "secret_nonce", "secret_pepper_version", "secret_sealed")
        item.update({name: previous[name] for name in kept if previous.get(name) is not None})
    item = {name: value for name, value in item.items() if value is not None}
    details = {"webhook": command.name, "url": url, "events": events}
    writes = [
        services.webhooks.put_write(item, previous),
        services.audit.event_write(
            "webhook.created" if previous is None else "webhook.updated",
            place.project,
            place.environment,
            caller.key_id,
            None,
            details,
        ),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        raise ConflictError(f"webhook {command.name} changed while this request ran; retry", code="conflict") from None
    return WebhookAnswer(webhook_view(item), previous is None, secret)


def list_webhooks(services: Services, caller: Identity, place: Place) -> list[dict[str, Any]]:
    caller.require(place.project, place.environment, "webhooks", "read")
    services.store.require_environment(place.project, place.environment)
    return [webhook_view(w) for w in services.webhooks.of_environment(place.project, place.environment)]


def _existing(services: Services, caller: Identity, place: Place, name: str, action: str) -> dict[str, Any]:
    _check_name(name)
    caller.require(place.project, place.environment, "webhooks", action)
    services.store.require_environment(place.project, place.environment)
    webhook = services.webhooks.get(place.project, place.environment, name)
    if webhook is None:
        raise _no_such_webhook(name)
    return webhook


def get_webhook(services: Services, caller: Identity, place: Place, name: str) -> dict[str, Any]:
    return webhook_view(_existing(services, caller, place, name, "read"))


def delete_webhook(services: Services, caller: Identity, place: Place, name: str) -> None:
    """Remove a webhook: deliveries still queued for it are dropped at their next attempt (its secret is gone)."""
    _existing(services, caller, place, name, "delete")
    writes = [
        services.webhooks.delete_write(place.project, place.environment, name),
        services.audit.event_write(
            "webhook.deleted", place.project, place.environment, caller.key_id, None, {"webhook": name}
        ),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        raise _no_such_webhook(name) from None


def _queue(services: Services, deliveries: Sequence[Delivery]) -> None:
    if services.key_event_queue is None:
        raise ServiceUnavailableError("webhook delivery is not configured on this stack")
    services.key_event_queue.send([delivery_message(d) for d in deliveries])


def send_test(services: Services, caller: Identity, place: Place, name: str) -> dict[str, str]:
    """Queue a `webhook.test` event for this webhook alone (whatever its events), signed and retried like any
    other; its delivery shows with the others."""
    webhook = _existing(services, caller, place, name, "write")
    now = services.clock()
    body = webhook_test_event(place.project, place.environment, name, caller.key_id, now)
    delivery = Delivery(
        new_delivery_id(now),
        webhook_path(place.project, place.environment, name),
        webhook["url"],
        new_message_id(),
        body,
    )
    _queue(services, [delivery])
    return {"delivery_id": delivery.delivery_id, "message_id": delivery.message_id}


_DELIVERY_SHOWN = ("delivery_id", "message_id", "attempt", "at", "result", "status", "error", "response")


def recent_deliveries(
    services: Services, caller: Identity, place: Place, name: str, limit: int
) -> list[dict[str, Any]]:
    """The webhook's latest deliveries, newest first: each one's last attempt, `next_attempt_at` while it is
    retried, `dead_letter` once it gave up (until a redrive)."""
    _existing(services, caller, place, name, "read")
    items, _ = services.webhooks.deliveries(place.project, place.environment, name, limit)
    shown = []
    for item in items:
        view = {field: item[field] for field in _DELIVERY_SHOWN if item.get(field) is not None}
        view["next_attempt_at"] = item.get("next_attempt_at")
        view["dead_letter"] = bool(item.get("dead"))
        shown.append(view)
    return shown


def redrive(
    services: Services, caller: Identity, place: Place, name: str, delivery_ids: Sequence[str] | None = None
) -> int:
    """Put the webhook's dead letters (those named, or all) back on the queue, each on a fresh schedule with
    its own webhook-id (a receiver that processed one already drops it); how many."""
    webhook = _existing(services, caller, place, name, "write")
    records = DeliveryRecords(services.webhooks)
    chosen = set(delivery_ids) if delivery_ids is not None else None
    count = 0
    for dead in records.dead_letters(webhook_path(place.project, place.environment, name)):
        if chosen is not None and dead.delivery_id not in chosen:
            continue
        # Sent to the webhook's URL as it is now: an owner fixes the URL, then redrives.
        _queue(services, [replace(dead, attempt=1, url=webhook["url"])])
        records.forget_dead_letter(dead)
        count += 1
    return count


class SealedSigningSecrets:
    """app.webhook_delivery.SigningSecrets from the webhooks' items: a webhook deleted or disabled has none,
    so what is still queued for it is dropped."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def for_webhook(self, webhook: str) -> list[str]:
        project, environment, name = split_webhook_path(webhook)
        item = self.services.webhooks.get(project, environment, name)
        if item is None or item.get("disabled_at") or not item.get("secret_sealed"):
            return []
        key = _seal_key(self.services, item["secret_nonce"], item.get("secret_pepper_version"))
        return [unseal(key, item["secret_sealed"])]
