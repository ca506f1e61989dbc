"""A key's allow-list and limits as stored, and the usage plan that enforces its limits (docs/limits.md).

Stored on the key record: `allowed_cidrs` (canonical CIDRs, absent for anywhere), `limits` (Limits.to_dict,
absent for none) and, with limits, `lineage_id`: the first key of its rotation chain, whose API key carries the
chain's bucket and quota (a roll's successor keeps it, so both keys of a grace period draw on one quota).

How a change reaches API Gateway, so nothing is half done: `attach` runs before the key's transaction and
repeats safely; if it fails (API Gateway throttled or unreachable), nothing is committed and the client gets
503 with Retry-After. If the transaction then fails, the API key it made stays in its plan with no live key
behind it: it admits nothing (the authorizer refuses first) and is reused by a retry with the same chain.

`limits_change` validates and prepares a change of a stored key's limits, for PATCH /keys/{key_id} once it
takes `limits` (docs/limits.md): the record fields to set (None: remove the field). PATCH changes
`allowed_cidrs` through app.key_updates, as its other fields.
"""

from __future__ import annotations

import logging
from typing import Any

from archie_keys.app.services import Services
from archie_keys.aws.dynamo import aws_error_code
from archie_keys.domain.errors import ConflictError
from archie_keys.domain.rate_limits import Limits, QuotaUsage, limits_of, parse_limits
from archie_keys.domain.usage_keys import lineage_of

logger = logging.getLogger("archie_keys.key_limits")

# API Gateway's answer when the account's API keys (10,000 per region, not raised) or usage plans (300,
# raisable) are used up: not an outage a retry fixes, so 409 saying so rather than 503.
_CAPACITY_CODES = frozenset({"LimitExceededException"})


def attach_limits(services: Services, lineage_id: str, limits: Limits) -> None:
    """Put the chain's API key in the usage plan of `limits` (made when it is the first with them). Repeats
    safely; an AWS failure propagates (503 at the edge) and nothing else is done."""
    try:
        services.usage_plans.attach(lineage_id, limits)
    except Exception as error:
        if aws_error_code(error) in _CAPACITY_CODES:
            raise ConflictError(
                "API Gateway's API keys or usage plans of this account and region are used up (docs/limits.md: "
                "where the design stops); use limits another key already has, or ask for the quota to be raised",
                field="limits",
                code="limits_capacity",
            ) from None
        raise


def limits_fields(services: Services, lineage_id: str, limits: Limits | None) -> dict[str, Any]:
    """The record fields of a key with `limits`, its chain's API key attached first; nothing for no limits
    (a key without limits makes no control-plane call)."""
    if limits is None:
        return {}
    attach_limits(services, lineage_id, limits)
    return {"limits": limits.to_dict(), "lineage_id": lineage_id}


def allowed_cidrs_fields(allowed_cidrs: tuple[str, ...]) -> dict[str, Any]:
    return {"allowed_cidrs": list(allowed_cidrs)} if allowed_cidrs else {}


def limits_change(services: Services, record: dict[str, Any], value: object) -> dict[str, Any]:
    """PATCH `limits` of a stored key: validated (422 naming the field), the chain's API key moved to the plan
    of the new limits before anything is committed (503 if API Gateway fails), and the fields to set
    ({"limits": None} removes them; the chain's API key then stays in its plan, unused, until released)."""
    limits = parse_limits(value)
    if limits is None:
        return {"limits": None}
    return limits_fields(services, lineage_of(record), limits)


def quota_of(services: Services, record: dict[str, Any], now: float) -> QuotaUsage | None:
    """This period's quota of a key with one (GetUsage of its chain's API key), else None."""
    limits = limits_of(record.get("limits"))
    if limits is None or limits.quota is None:
        return None
    return services.usage_plans.quota(lineage_of(record), limits, now)


def release_usage_key(services: Services, revoked: dict[str, Any], chain_still_live: bool) -> None:
    """After a key with limits is revoked: delete its chain's API key unless another key of the chain is still
    live. Best effort, after the revocation committed (the authorizer refuses the key whatever API Gateway
    holds): a failure is logged and leaves an API key that admits nothing, released by the next revocation of
    the chain or by hand (docs/limits.md)."""
    if not revoked.get("limits") or chain_still_live:
        return
    try:
        services.usage_plans.detach(lineage_of(revoked))
    except Exception:
        logger.warning("the revoked key's usage-plan API key could not be deleted", exc_info=True)
