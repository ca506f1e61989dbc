"""EventBridge Scheduler target, every minute: compact the closed arrival buckets of the audit into key blocks
(app.compaction). The schedule's event is ignored: a run always goes on from the mark the last one left, so a
run that failed or never came is made up by the next one. An operator's `{"retry_skipped": true}` (`make
audit-skipped ARGS=--retry`) compacts the buckets skipped after their retries instead."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from archie_keys.edge.composition import get_services
from archie_keys.edge.tracing import traced

logger = Logger(service="archie-keys")


@traced
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    compactor = get_services().compactor

    def time_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    if isinstance(event, dict) and event.get("retry_skipped") is True:
        report = compactor.retry_skipped(time_left)
        logger.info(
            "skipped audit buckets retried", extra={**report.as_dict(), "left": len(compactor.ledger.skipped())}
        )
        return report.as_dict()
    report = compactor.run(time_left)
    # A line when a run did something; an idle run (most of them, locally every 0.25 s) says nothing but its
    # AuditCompactionBehind metric, which the alarm needs every run.
    (logger.info if report.buckets else logger.debug)("audit compacted", extra=report.as_dict())
    return report.as_dict()
