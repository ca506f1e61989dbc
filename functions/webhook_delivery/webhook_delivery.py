"""Consumes the webhook delivery queue (SQS, ReportBatchItemFailures): each message is one signed delivery
attempt; a failed one is postponed to the next retry and reported, so SQS keeps it (app.webhook_batches)."""

from __future__ import annotations

from typing import Any

from archie_keys.app.webhook_batches import deliver_batch
from archie_keys.edge.composition import get_services
from archie_keys.edge.tracing import traced


@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return deliver_batch(get_services(), event.get("Records", []))
