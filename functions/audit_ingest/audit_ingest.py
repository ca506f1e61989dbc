"""CloudWatch Logs subscription target: API Gateway access logs and the authorizer's refusals -> AuditTable.

A malformed line is skipped and counted; it never fails the batch (a failed batch would be redelivered
forever). A redelivered batch writes no duplicates: every record is keyed by its request id."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from archie_keys.audit import decode_subscription
from archie_keys.runtime import get_audit_log

logger = Logger(service="archie-keys")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        payload = decode_subscription(event)
    except (KeyError, ValueError, OSError, TypeError):
        logger.warning("skipped a delivery that is not a CloudWatch Logs subscription payload")
        return {"records": 0, "refusals": 0, "skipped": 1, "control_messages": 0}
    report = get_audit_log().ingest(payload)
    logger.info("audit batch ingested", extra={"log_group": payload.get("logGroup"), **report.as_dict()})
    return report.as_dict()
