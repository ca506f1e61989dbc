"""Delivering key events to webhooks: each due delivery is signed for its attempt and sent; a failure is tried
again on the schedule of domain.webhook_retries; a delivery out of attempts (or whose receiver answered 410
Gone) becomes a dead letter, which a redrive puts back (docs/webhooks.md).

The engine around it is a queue: SQS with a delivery function on AWS (an attempt's failure postpones the
message by changing its visibility; the dead-letter record is written here, SQS's own redrive policy is the net
under it), memory on the local stack (archie_local.webhook_queue), where a loop delivers within a second. The
collaborators are protocols, so this runs with fakes and a clock a test moves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from archie_keys.domain.webhook_retries import Outcome, delivered, gone, retry_delay
from archie_keys.domain.webhooks import signed_headers


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook. `message_id` is the event's id (webhook-id): the same on every attempt and
    every redrive, so a receiver processes it once."""

    delivery_id: str
    webhook: str  # "<project>/<environment>/<name>"
    url: str
    message_id: str
    body: bytes
    attempt: int = 1  # the attempt about to be made


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt, for the webhook's recent deliveries: `result` is delivered, retrying, dead, gone or dropped
    (the webhook no longer exists)."""

    delivery_id: str
    webhook: str
    message_id: str
    attempt: int
    at: float
    result: str
    status: int | None = None
    error: str | None = None
    response: str = ""
    next_attempt_at: float | None = None


class DeliveryQueue(Protocol):
    def put(self, delivery: Delivery, visible_at: float) -> None: ...

    def receive(self, now: float, limit: int) -> list[Delivery]:
        """Deliveries due at `now`, hidden from other receivers until settled or postponed."""
        ...

    def settle(self, delivery: Delivery) -> None: ...

    def postpone(self, delivery: Delivery, visible_at: float) -> None:
        """Back in the queue as `delivery` (its next attempt), due at `visible_at`."""
        ...


class DeliveryLog(Protocol):
    def attempted(self, record: AttemptRecord) -> None: ...

    def dead_letter(self, delivery: Delivery, record: AttemptRecord) -> None: ...

    def dead_letters(self, webhook: str) -> list[Delivery]: ...

    def forget_dead_letter(self, delivery: Delivery) -> None: ...


class Sender(Protocol):
    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Outcome: ...


class SigningSecrets(Protocol):
    def for_webhook(self, webhook: str) -> Sequence[str]:
        """The webhook's secrets, the current one first (two while one is rotated); none once it is deleted."""
        ...


class WebhookDeliverer:
    def __init__(
        self,
        queue: DeliveryQueue,
        sender: Sender,
        signing_secrets: SigningSecrets,
        log: DeliveryLog,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.queue, self.sender, self.signing_secrets, self.log, self.jitter = (
            queue,
            sender,
            signing_secrets,
            log,
            jitter,
        )

    def run_due(self, now: float, limit: int = 10) -> int:
        """Make every attempt due at `now` (at most `limit`); how many were made."""
        due = self.queue.receive(now, limit)
        for delivery in due:
            self._attempt(delivery, now)
        return len(due)

    def _attempt(self, delivery: Delivery, now: float) -> None:
        secrets = list(self.signing_secrets.for_webhook(delivery.webhook))
        if not secrets:
            self.queue.settle(delivery)
            self.log.attempted(self._record(delivery, now, "dropped", Outcome(None, "webhook deleted")))
            return
        headers = signed_headers(secrets, delivery.message_id, int(now), delivery.body)
        outcome = self.sender.post(delivery.url, headers, delivery.body)
        if delivered(outcome.status):
            self.queue.settle(delivery)
            self.log.attempted(self._record(delivery, now, "delivered", outcome))
            return
        delay = None if gone(outcome.status) else retry_delay(delivery.attempt, self.jitter(), outcome.retry_after)
        if delay is None:
            self.queue.settle(delivery)
            record = self._record(delivery, now, "gone" if gone(outcome.status) else "dead", outcome)
            self.log.attempted(record)
            self.log.dead_letter(delivery, record)
            return
        self.queue.postpone(replace(delivery, attempt=delivery.attempt + 1), now + delay)
        self.log.attempted(self._record(delivery, now, "retrying", outcome, now + delay))

    @staticmethod
    def _record(
        delivery: Delivery, now: float, result: str, outcome: Outcome, next_at: float | None = None
    ) -> AttemptRecord:
        return AttemptRecord(
            delivery_id=delivery.delivery_id,
            webhook=delivery.webhook,
            message_id=delivery.message_id,
            attempt=delivery.attempt,
            at=now,
            result=result,
            status=outcome.status,
            error=outcome.error,
            response=outcome.response.decode("utf-8", errors="replace"),
            next_attempt_at=next_at,
        )

    def redrive(self, webhook: str, now: float, delivery_ids: set[str] | None = None) -> int:
        """Put a webhook's dead letters (those named, or all) back, each with a fresh schedule; how many."""
        count = 0
        for delivery in self.log.dead_letters(webhook):
            if delivery_ids is not None and delivery.delivery_id not in delivery_ids:
                continue
            self.queue.put(replace(delivery, attempt=1), now)
            self.log.forget_dead_letter(delivery)
            count += 1
        return count
