"""The delivery records of webhooks (app.webhook_delivery's DeliveryLog) in the webhook store (app.webhook_ports):
each delivery's last attempt, for the webhook's recent deliveries, and while it is a dead letter, what a redrive
sends again. A receiver that answered 410 Gone disables its webhook."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archie_keys.app.webhook_delivery import AttemptRecord, Delivery
from archie_keys.domain import webhook_limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConditionFailed
from archie_keys.domain.webhook_paths import split_webhook_path

if TYPE_CHECKING:
    from archie_keys.app.webhook_ports import WebhookStore

# A dead-letter listing reads at most this many pages of a webhook's deliveries (its 30 days of records).
_DEAD_LETTER_PAGES = 20


class DeliveryRecords:
    def __init__(self, store: WebhookStore) -> None:
        self.store = store

    def _write(self, webhook: str, delivery_id: str, values: Mapping[str, Any], remove: Sequence[str] = ()) -> None:
        project, environment, name = split_webhook_path(webhook)
        self.store.update_delivery(project, environment, name, delivery_id, values, remove)

    def attempted(self, record: AttemptRecord) -> None:
        values = {
            "kind": "webhook_delivery",
            "delivery_id": record.delivery_id,
            "message_id": record.message_id,
            "attempt": record.attempt,
            "at": to_iso(record.at),
            "result": record.result,
            "status": record.status,
            "error": record.error,
            "response": record.response or None,
            "next_attempt_at": to_iso(record.next_attempt_at) if record.next_attempt_at is not None else None,
            "purge_epoch": int(record.at + webhook_limits.WEBHOOK_DELIVERY_RETENTION_SECONDS),
        }
        # What an earlier attempt had and this one has not (a status, after a timeout) is removed: the record
        # is this attempt's. A dead letter's body stays until a redrive takes it.
        removed = tuple(name for name, value in values.items() if value is None)
        self._write(record.webhook, record.delivery_id, {k: v for k, v in values.items() if v is not None}, removed)
        if record.result == "gone":
            project, environment, name = split_webhook_path(record.webhook)
            try:
                self.store.disable(project, environment, name, to_iso(record.at))
            except ConditionFailed:
                pass  # deleted meanwhile: nothing left to disable

    def dead_letter(self, delivery: Delivery, record: AttemptRecord) -> None:
        values = {"dead": True, "url": delivery.url, "body": delivery.body.decode("utf-8")}
        self._write(delivery.webhook, delivery.delivery_id, values)

    def dead_letters(self, webhook: str) -> list[Delivery]:
        project, environment, name = split_webhook_path(webhook)
        found: list[Delivery] = []
        start = None
        for _ in range(_DEAD_LETTER_PAGES):
            page, start = self.store.deliveries(project, environment, name, 100, start)
            found.extend(
                Delivery(item["delivery_id"], webhook, item["url"], item["message_id"], item["body"].encode("utf-8"))
                for item in page
                if item.get("dead")
            )
            if start is None:
                break
        return found

    def forget_dead_letter(self, delivery: Delivery) -> None:
        remove = ("dead", "body", "url", "next_attempt_at")
        self._write(delivery.webhook, delivery.delivery_id, {"result": "redriven"}, remove)
