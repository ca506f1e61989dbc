"""Lambda's SQS event source, locally: the template's `Type: SQS` events, polled in moto's SQS.

As Lambda's poller does: up to BatchSize visible messages are received (each then hidden for the queue's
visibility timeout, its ApproximateReceiveCount counted by SQS), handed to the function as one event, and
deleted when the function succeeded, except those it reports in `batchItemFailures`
(ReportBatchItemFailures), which stay hidden until their visibility timeout (which the function may have
changed) and come back. A function that raises keeps the whole batch. The loop polls every 0.2 s without long
polling (moto's server answers one request at a time, and a held request would hold every other).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from archie_local.lambdas import FunctionRegistry, LocalFunction
from archie_local.template import REGION, Resolver

logger = logging.getLogger("archie_local.queue_events")


@dataclass(frozen=True)
class QueueSource:
    function: LocalFunction
    queue_url: str
    queue_arn: str
    batch_size: int
    partial_failures: bool


def queue_sources(registry: FunctionRegistry, resolver: Resolver) -> list[QueueSource]:
    sources = []
    for function in registry.by_id.values():
        for event in function.spec.events.values():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            arn = str(resolver.resolve(props["Queue"]))
            name = arn.rsplit(":", 1)[-1]
            sources.append(
                QueueSource(
                    function,
                    str(resolver.refs[name]),
                    arn,
                    int(props.get("BatchSize", 10)),
                    "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                )
            )
    return sources


def sqs_event(source: QueueSource, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda hands a function for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": source.queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


class QueueEventSources:
    """Polls every SQS event source of the template; `poll_once` is one round (tests drive it themselves)."""

    def __init__(self, sqs: Any, sources: list[QueueSource], interval: float = 0.2) -> None:
        self.sqs, self.sources, self.interval = sqs, sources, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqs-event-sources", daemon=True)

    def start(self) -> QueueEventSources:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=120)

    def poll_once(self) -> int:
        """One receive per source, its batch handed to the function; how many messages were handed over."""
        handed = 0
        for source in self.sources:
            messages = self.sqs.receive_message(
                QueueUrl=source.queue_url, MaxNumberOfMessages=source.batch_size, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                continue
            handed += len(messages)
            try:
                answer = source.function.invoke(sqs_event(source, messages), concurrently=True)
            except Exception:
                logger.exception("%s failed on a batch; its messages come back", source.function.spec.logical_id)
                continue
            kept = set()
            if source.partial_failures and isinstance(answer, dict):
                kept = {str(f.get("itemIdentifier")) for f in answer.get("batchItemFailures") or []}
            done = [m for m in messages if m["MessageId"] not in kept]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=source.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
        return handed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.poll_once() and not self._stop.is_set():
                    pass
            except Exception:
                logger.exception("polling the SQS event sources failed; it carries on")
            self._stop.wait(self.interval)
