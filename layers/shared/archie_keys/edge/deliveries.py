"""What a log subscription delivery may carry besides CloudWatch Logs' own fields: a deliverer's attestation.

CloudWatch Logs never sends one; the local stack's deliverer (archie_local.logs) does, as
`"attestation": {"deliverer": "local", "run": ..., "sequence": ..., "throughMs": ...}` beside `logGroup` and
`subscriptionFilters` (domain.ingest_watermark says what it states), and its ingest is told to trust it
(AUDIT_TRUSTED_DELIVERER). Deployed, nothing is trusted: whoever could invoke the ingest cannot make a guarded
delete pass. The source an attestation speaks for is named by the delivery's own log group and subscription
filter, not by the attestation, so one source's deliveries cannot move another's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archie_keys.domain.ingest_watermark import Attestation

logger = logging.getLogger("archie_keys.ingest")


class AttestationModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    deliverer: str = Field(min_length=1, max_length=100)
    run: str = Field(min_length=1, max_length=100)
    sequence: int = Field(ge=1)
    through_ms: int = Field(alias="throughMs", ge=0)


def attestation_of(delivery: Mapping[str, Any], trusted_deliverer: str) -> Attestation | None:
    """The attestation of a decoded subscription delivery, or None: none given, malformed, or this stack
    trusts no deliverer's (`trusted_deliverer` empty, as deployed). A delivery without one is ingested all
    the same and proves nothing."""
    raw = delivery.get("attestation")
    if raw is None:
        return None
    try:
        model = AttestationModel.model_validate(raw)
    except ValidationError:
        logger.warning("ignored a malformed delivery attestation")
        return None
    if not trusted_deliverer or model.deliverer != trusted_deliverer:
        logger.warning("ignored the attestation of a deliverer this stack does not trust (AUDIT_TRUSTED_DELIVERER)")
        return None
    filters = delivery.get("subscriptionFilters") or []
    source = f"{delivery.get('logGroup')}|{','.join(str(name) for name in filters)}"
    return Attestation(source, model.run, model.sequence, model.through_ms)
