"""The local stack's webhook delivery engine: a queue in memory with SQS's semantics (a received message is
hidden until it is settled or postponed), a log of attempts and dead letters, and a loop that delivers what is
due every 0.2 s, so a key event reaches a receiver within a second (on AWS: SQS and a delivery function,
docs/webhooks.md). Time is the loop's clock; tests drive `WebhookDeliverer.run_due` with their own instead."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from archie_keys.app.webhook_delivery import AttemptRecord, Delivery, WebhookDeliverer

logger = logging.getLogger("archie_local.webhooks")


class MemoryDeliveryQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Delivery]] = []
        self._order = itertools.count()
        self._in_flight: dict[str, Delivery] = {}
        self._lock = threading.Lock()

    def put(self, delivery: Delivery, visible_at: float) -> None:
        with self._lock:
            heapq.heappush(self._heap, (visible_at, next(self._order), delivery))

    def receive(self, now: float, limit: int) -> list[Delivery]:
        with self._lock:
            due: list[Delivery] = []
            while self._heap and self._heap[0][0] <= now and len(due) < limit:
                delivery = heapq.heappop(self._heap)[2]
                self._in_flight[delivery.delivery_id] = delivery
                due.append(delivery)
            return due

    def settle(self, delivery: Delivery) -> None:
        with self._lock:
            self._in_flight.pop(delivery.delivery_id, None)

    def postpone(self, delivery: Delivery, visible_at: float) -> None:
        with self._lock:
            self._in_flight.pop(delivery.delivery_id, None)
            heapq.heappush(self._heap, (visible_at, next(self._order), delivery))

    def waiting(self) -> list[tuple[float, Delivery]]:
        """What is queued, soonest first (tests and the dashboard's local view)."""
        with self._lock:
            return [(at, delivery) for at, _, delivery in sorted(self._heap)]


class MemoryDeliveryLog:
    def __init__(self) -> None:
        self.records: list[AttemptRecord] = []
        self._dead: dict[str, Delivery] = {}
        self._lock = threading.Lock()

    def attempted(self, record: AttemptRecord) -> None:
        with self._lock:
            self.records.append(record)

    def dead_letter(self, delivery: Delivery, record: AttemptRecord) -> None:
        with self._lock:
            self._dead[delivery.delivery_id] = delivery

    def dead_letters(self, webhook: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self._dead.values() if d.webhook == webhook]

    def forget_dead_letter(self, delivery: Delivery) -> None:
        with self._lock:
            self._dead.pop(delivery.delivery_id, None)


class MemorySigningSecrets:
    def __init__(self, secrets: dict[str, list[str]] | None = None) -> None:
        self.secrets = secrets if secrets is not None else {}

    def for_webhook(self, webhook: str) -> Sequence[str]:
        return list(self.secrets.get(webhook, []))


class DeliveryLoop:
    """Runs a deliverer's due attempts every `interval` seconds in a background thread, until stopped."""

    def __init__(
        self, deliverer: WebhookDeliverer, clock: Callable[[], float] = time.time, interval: float = 0.2
    ) -> None:
        self.deliverer, self.clock, self.interval = deliverer, clock, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-delivery", daemon=True)

    def start(self) -> DeliveryLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.deliverer.run_due(self.clock()):
                    pass
            except Exception:
                logger.exception("webhook delivery loop failed; it carries on")
            self._stop.wait(self.interval)
