"""A key's allow-list and limits as stored, and the usage plan that enforces its limits (docs/limits.md).

Stored on the key record: `allowed_cidrs` (canonical CIDRs, absent for anywhere), `limits` (Limits.to_dict,
absent for none) and, with limits, `lineage_id`: the first key of its rotation chain, whose API key carries the
chain's bucket and quota (a roll's successor keeps it, so both keys of a grace period draw on one quota).

How a change reaches API Gateway, so nothing is half done: `attach` runs before the key's transaction and
repeats safely; if it fails (API Gateway throttled or unreachable), nothing is committed and the client gets
503 with Retry-After. If the transaction then fails, the API key it made stays in its plan with no live key
behind it: it admits nothing (the authorizer refuses first) and is reused by a retry with the same chain.

PATCH /keys/{key_id} changes `limits` through app.key_updates, as its other fields; `move_chain` moves the
chain's API key to the plan of the new limits before the change commits, and back if it does not
(docs/limits.md, "Changing a key's limits").
"""

from __future__ import annotations

import logging
from typing import Any

from archie_keys.app.changes import Change
from archie_keys.app.services import Services
from archie_keys.domain.errors import CapacityExhausted, ConflictError
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.rate_limits import Limits, QuotaUsage, limits_of
from archie_keys.domain.usage_keys import lineage_of

logger = logging.getLogger("archie_keys.key_limits")

# Attempts to put a chain's API key back in the plan of its old limits when a PATCH did not commit.
PUT_BACK_ATTEMPTS = 3


def attach_limits(services: Services, lineage_id: str, limits: Limits) -> None:
    """Put the chain's API key in the usage plan of `limits` (made when it is the first with them). Repeats
    safely; an AWS failure propagates (503 at the edge) and nothing else is done."""
    try:
        services.usage_plans.attach(lineage_id, limits)
    except CapacityExhausted:
        # The account's API keys (10,000 per region, not raised) or usage plans (300, raisable) are used up:
        # not an outage a retry fixes, so 409 saying so rather than 503.
        raise ConflictError(
            "API Gateway's API keys or usage plans of this account and region are used up (docs/limits.md: "
            "where the design stops); use limits another key already has, or ask for the quota to be raised",
            field="limits",
            code="limits_capacity",
        ) from None


def limits_fields(services: Services, lineage_id: str, limits: Limits | None) -> dict[str, Any]:
    """The record fields of a key with `limits`, its chain's API key attached first; nothing for no limits
    (a key without limits makes no control-plane call)."""
    if limits is None:
        return {}
    attach_limits(services, lineage_id, limits)
    return {"limits": limits.to_dict(), "lineage_id": lineage_id}


def stored_limits(record: KeyRecord) -> dict[str, Any] | None:
    """A key's limits as stored and answered (numbers as ints), or None for none: what a PATCH compares."""
    limits = limits_of(record.limits)
    return None if limits is None else limits.to_dict()


def move_chain(services: Services, record: KeyRecord, new: dict[str, Any] | None, change: Change) -> dict[str, Any]:
    """PATCH `limits` of a stored key, before its change commits: the chain's API key moved to the plan of the
    new limits (503 if API Gateway fails, 409 limits_capacity if its quotas are used up), and moved back to the
    plan of the old limits if the change then does not commit (an undo of `change`, registered before the
    move: a move that failed half way, out of the old plan and not yet in the new one, is put back too). The
    record fields to set beside `limits`.

    Removing the limits (`new` None) makes no control-plane call: once committed the key's Allows name the
    shared API key, and the chain's stays in its plan (the key in a roll's grace period may still carry the
    old limits and draw on it) until the chain's last key is revoked (`release_usage_key`)."""
    new_limits = limits_of(new)
    if new_limits is None:
        return {}
    lineage = lineage_of(record)
    old = limits_of(record.limits)
    if old is not None:
        # Without old limits nothing needs undoing: the key's Allows name the shared API key until the change
        # commits, so the chain's, wherever it is, admits nothing (as after a create that did not commit).
        change.undo_with(
            lambda: _put_back(services, lineage, old), "put the chain's API key back in the plan of its old limits"
        )
    attach_limits(services, lineage, new_limits)
    return {"lineage_id": lineage}


def _put_back(services: Services, lineage_id: str, limits: Limits) -> None:
    """Undo a move of the chain's API key (it repeats safely, as `attach` does), tried a few times: the client is
    answered 503 meanwhile. If every attempt fails (API Gateway failing as DynamoDB just did), the chain holds
    the new limits while the key shows the old ones, until the client's retry commits the change (logged)."""
    for attempt in range(PUT_BACK_ATTEMPTS):
        try:
            services.usage_plans.attach(lineage_id, limits)
            return
        except Exception:  # any failure of the undo is retried, then reported; the change's own error is raised
            logger.warning("putting the chain's API key back failed (attempt %d)", attempt + 1, exc_info=True)
    logger.error("the chain %s is in the usage plan of limits its key does not show", lineage_id)


def quota_of(services: Services, record: KeyRecord, now: float) -> QuotaUsage | None:
    """This period's quota of a key with one (GetUsage of its chain's API key), else None."""
    limits = limits_of(record.limits)
    if limits is None or limits.quota is None:
        return None
    return services.usage_plans.quota(lineage_of(record), limits, now)


def release_usage_key(services: Services, revoked: KeyRecord, chain_still_live: bool) -> None:
    """After a key with limits is revoked: delete its chain's API key unless another key of the chain is still
    live. Best effort, after the revocation committed (the authorizer refuses the key whatever API Gateway
    holds): a failure is logged and leaves an API key that admits nothing, released by the next revocation of
    the chain or by hand (docs/limits.md)."""
    # lineage_id stays on a key whose limits a PATCH removed: its chain's API key is still to be released.
    if not (revoked.limits or revoked.lineage_id) or chain_still_live:
        return
    try:
        services.usage_plans.detach(lineage_of(revoked))
    except Exception:
        logger.warning("the revoked key's usage-plan API key could not be deleted", exc_info=True)
