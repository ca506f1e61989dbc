"""CloudWatch Logs subscription target: API Gateway access logs and the authorizer's refusals -> AuditTable.

A malformed line is skipped and counted; it never fails the batch (a failed batch would be redelivered
forever). A redelivered batch writes no duplicates: every record is keyed by its request id. A delivery's
attestation, when its deliverer gives one (the local stack's does; CloudWatch Logs does not), moves the ingest
watermark a guarded delete waits for (domain.ingest_watermark)."""

from __future__ import annotations

import binascii
import zlib
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

from archie_keys.edge.composition import get_services, get_settings
from archie_keys.edge.deliveries import attestation_of
from archie_keys.edge.tracing import traced

logger = Logger(service="archie-keys")


@traced
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        delivery = CloudWatchLogsEvent(event).parse_logs_data()
        message_type, log_events = delivery.message_type, delivery.raw_event.get("logEvents", [])
    except (KeyError, ValueError, TypeError, OSError, binascii.Error, zlib.error):
        logger.warning("skipped a delivery that is not a CloudWatch Logs subscription payload")
        return {"records": 0, "refusals": 0, "skipped": 1, "control_messages": 0}
    attestation = attestation_of(delivery.raw_event, get_settings().audit_trusted_deliverer)
    report = get_services().ingest.ingest(message_type, log_events, attestation)
    if not log_events:
        return report.as_dict()  # a deliverer's heartbeat: it only moved the watermark
    logger.info("audit batch ingested", extra={"log_group": delivery.raw_event.get("logGroup"), **report.as_dict()})
    return report.as_dict()
