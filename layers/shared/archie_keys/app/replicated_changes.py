"""Use case: a batch of the keys table's stream records in one region. For each environment where a change
replicated from another region takes a right away (domain.replication), flush this region's protected stages
the one way every change does (aws.cache_flush: `CacheFlusher.revoke_everywhere`, coalesced per stage with
every other change's flushes by aws.flush_coordination); and schedule here the expiry of a replicated key,
whose origin region scheduled only its own stages' flush.

Raises when a stage could not be flushed, so the event source mapping retries the batch (bisecting it) and,
after its retries, sends its description to the on-failure queue: a replayed flush is harmless, a lost one
leaves a revoked key allowed until the stage's cache runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from archie_keys.app.ports import FlushReport
from archie_keys.app.services import Services
from archie_keys.domain.replication import ItemChange, ReplicationPlan, plan_replicated

logger = logging.getLogger("archie_keys.replicated_changes")

# Environments flushed at once: each flush waits out the authorizers' instance TTL between its two calls, so
# a batch touching several environments must not flush them one after another.
PARALLEL_ENVIRONMENTS = 8


def flush_replicated(
    services: Services, changes: Sequence[ItemChange], own_region: str, arrival_settle_seconds: float = 0.0
) -> dict[str, Any]:
    """Flush and schedule what the batch's changes (aws.stream_records) call for in `own_region`; answers what
    it did. `arrival_settle_seconds`: how long the authorizers remember a refusal (their negative cache); an
    environment where a key arrived is flushed again once that long has passed, by the expiry flush (a
    schedule, or for so near a second an asynchronous invocation that waits for it) so this batch, and the
    stream shard behind it, does not wait."""
    now = services.clock()
    plan: ReplicationPlan = plan_replicated(changes, own_region, now)
    for project, environment, second in plan.expiries:
        services.schedules.put(project, environment, float(second))
    if arrival_settle_seconds > 0:
        for project, environment in plan.arrivals:
            # A second after the last refusal cached before the arrival has left every instance's memory.
            services.schedules.put(project, environment, now + arrival_settle_seconds + 1)
    reports: list[FlushReport] = []
    if len(plan.flush) == 1:  # the usual batch: one environment, flushed on this thread
        reports = [services.flusher.revoke_everywhere(*plan.flush[0])]
    elif plan.flush:
        with ThreadPoolExecutor(min(PARALLEL_ENVIRONMENTS, len(plan.flush)), thread_name_prefix="replicated") as pool:
            reports = list(pool.map(lambda place: services.flusher.revoke_everywhere(*place), plan.flush))
    unflushed = sorted({stage for report in reports for stage in report.unflushed})
    answer = {
        "records": len(changes),
        "flushed_environments": [f"{p}/{e}" for p, e in plan.flush],
        "expiries_scheduled": len(plan.expiries),
        "arrival_flushes_scheduled": len(plan.arrivals) if arrival_settle_seconds > 0 else 0,
        "own_region": plan.own_region,
        "ignored": plan.ignored,
        "unknown_origin": plan.unknown_origin,
    }
    logger.info("replicated changes", extra=answer)
    if unflushed:
        raise RuntimeError(f"stages not flushed: {', '.join(unflushed)}")
    return answer
