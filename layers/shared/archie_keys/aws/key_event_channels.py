"""Where key events leave the change that made them (docs/webhooks.md, "The engine on AWS"): the webhook
delivery queue (SQS, consumed by WebhookDeliveryFunction) and the key events bus (EventBridge, for teams'
own rules). Both take JSON; what the messages mean is app.key_events'."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from archie_keys.domain.errors import ServiceUnavailableError

# SendMessageBatch takes at most 10 entries; an environment has at most 10 webhooks (limits).
_SQS_BATCH = 10
_EVENTS_BATCH = 10  # PutEvents takes at most 10 entries
# SQS's longest visibility timeout: no retry delay is longer (webhook_limits.WEBHOOK_RETRY_DELAYS_SECONDS).
MAX_VISIBILITY_SECONDS = 12 * 3600
EVENT_SOURCE = "archie-keys"


class DeliveryQueue:
    """The SQS queue of webhook deliveries: one message per delivery (its JSON), a failed attempt postponed by
    changing the message's visibility."""

    def __init__(self, client: Any, url: str) -> None:
        self.client, self.url = client, url

    def send(self, messages: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(messages), _SQS_BATCH):
            chunk = messages[start : start + _SQS_BATCH]
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(message, separators=(",", ":"))}
                for i, message in enumerate(chunk)
            ]
            answer = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            if answer.get("Failed"):
                # Raised to the caller's retry (app.changes.after_commit): SendMessageBatch fails per entry.
                raise ServiceUnavailableError("SQS refused some webhook deliveries; retry shortly")

    def postpone(self, receipt_handle: str, seconds: float) -> None:
        timeout = min(MAX_VISIBILITY_SECONDS, max(0, math.ceil(seconds)))
        self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=timeout
        )


class KeyEventBus:
    """The EventBridge bus every key event is put on (detail-type: the event type; detail: its body)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    def put(self, event_type: str, bodies: Sequence[bytes]) -> None:
        """The events, ten to a PutEvents call (its limit); raises when any entry was refused."""
        for start in range(0, len(bodies), _EVENTS_BATCH):
            entries = [
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": event_type,
                    "Detail": body.decode("utf-8"),
                    "EventBusName": self.name,
                }
                for body in bodies[start : start + _EVENTS_BATCH]
            ]
            answer = self.client.put_events(Entries=entries)
            if answer.get("FailedEntryCount"):
                raise ServiceUnavailableError("EventBridge refused key events; retry shortly")
