"""Use case of WebhookDeliveryFunction: one batch of the webhook delivery queue, as Lambda's SQS event source
hands it over (docs/webhooks.md, "The engine on AWS").

Each message is one delivery; its attempt number is SQS's receive count (a redrive sends a new message, so its
schedule starts again). A delivered message is left to Lambda to delete; a failed attempt changes the message's
visibility to the next delay of the schedule and is reported as a batch item failure (ReportBatchItemFailures),
so SQS holds it until then; an attempt out of the schedule becomes a dead letter and is deleted. An attempt that
cannot be made at all (DynamoDB unavailable) is reported failed without a new delay: it comes back after the
queue's visibility timeout, and SQS's redrive policy catches a message that never gets through.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from archie_keys.app.key_events import delivery_from_message, delivery_message
from archie_keys.app.services import Services
from archie_keys.app.webhook_delivery import Delivery, WebhookDeliverer
from archie_keys.app.webhook_records import DeliveryRecords
from archie_keys.app.webhooks import SealedSigningSecrets

logger = logging.getLogger("archie_keys.webhook_delivery")


class ReceivedBatch:
    """app.webhook_delivery.DeliveryQueue over the messages of one invocation."""

    def __init__(self, services: Services, records: Sequence[Mapping[str, Any]], clock: Callable[[], float]) -> None:
        self.services, self.clock = services, clock
        self.pending: list[tuple[Delivery, str, str]] = []
        self.failed: list[str] = []
        self._receipts: dict[str, tuple[str, str]] = {}
        for record in records:
            message_id = str(record["messageId"])
            try:
                attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
                delivery = delivery_from_message(json.loads(record["body"]), attempt)
            except (ValueError, KeyError, TypeError):
                # Not a delivery this stack wrote: retrying would not make it one. Left out, so it is deleted.
                logger.error("a message of the webhook queue is not a delivery; dropped: %s", message_id)
                continue
            self.pending.append((delivery, str(record["receiptHandle"]), message_id))

    def put(self, delivery: Delivery, visible_at: float) -> None:
        queue = self.services.key_event_queue
        if queue is None:
            raise RuntimeError("the webhook delivery queue is not configured")
        queue.send([delivery_message(delivery)])

    def receive(self, now: float, limit: int) -> list[Delivery]:
        taken, self.pending = self.pending[:limit], self.pending[limit:]
        for delivery, receipt, message_id in taken:
            self._receipts[delivery.delivery_id] = (receipt, message_id)
        return [delivery for delivery, _, _ in taken]

    def settle(self, delivery: Delivery) -> None:
        self._receipts.pop(delivery.delivery_id, None)

    def postpone(self, delivery: Delivery, visible_at: float) -> None:
        receipt, message_id = self._receipts.pop(delivery.delivery_id)
        self.failed.append(message_id)
        queue = self.services.key_event_queue
        if queue is not None:
            queue.postpone(receipt, visible_at - self.clock())

    def fail(self, delivery: Delivery) -> None:
        """The attempt could not be made (or not recorded): back after the queue's visibility timeout, unless
        it was settled or postponed before the failure."""
        held = self._receipts.pop(delivery.delivery_id, None)
        if held is not None:
            self.failed.append(held[1])


def deliver_batch(
    services: Services, records: Sequence[Mapping[str, Any]], clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """Attempt every delivery of the batch; Lambda's partial batch response (the messages to keep)."""
    batch = ReceivedBatch(services, records, clock)
    deliverer = WebhookDeliverer(
        batch, services.webhook_targets, SealedSigningSecrets(services), DeliveryRecords(services.webhooks)
    )
    while batch.pending:
        delivery = batch.pending[0][0]
        try:
            deliverer.run_due(clock(), limit=1)
        except Exception:  # one delivery's failure (DynamoDB, the pepper) must not fail the others
            logger.exception("a webhook delivery attempt could not be made; it is tried again")
            batch.fail(delivery)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in batch.failed]}
