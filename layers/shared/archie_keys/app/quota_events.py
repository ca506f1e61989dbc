"""`key.quota_exhausted`: sent once per rotation chain and quota period, when API Gateway first refuses one of
its keys' requests because the chain's quota is used up (docs/limits.md, "Told when a quota is used up").

API Gateway counts quotas itself and tells nobody; what it does leave is the access-log line of each refused
request, with `$context.error.responseType` QUOTA_EXCEEDED (a rate limit's refusal is THROTTLED and sends
nothing). The audit ingest reads every line already, so it hands this module the lines of proven keys refused
for their quota, after the batch's audit records are stored; the local gateway writes the same field the same
way, so the local stack sends the same event. Per key of a batch:

1. its record (name, limits, chain): none, or no quota any more, sends nothing;
2. the calendar period of the refused request (its own time, not the ingest's): a period that has ended by
   now sends nothing (the quota has reset: the news is stale);
3. a claim of the chain's notice for the quota and period (aws.quota_notices, one conditional write): of all
   the ingests that see the chain refused in the period, one sends the event;
4. the event, as every key event leaves (app.key_events: retried, never raising); if it could not be sent,
   the claim is given back, so the next refused request of the period sends it (at least once, not at most).

Nothing here fails the ingest's batch: the audit is stored before, and a failure is logged and tried again at
the next refused request. A warm ingest remembers for a few minutes which keys it has settled for their period,
so a client hammering a used-up key costs no DynamoDB call per line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from archie_keys.app.ingest import QuotaRefusal
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.services import Services
from archie_keys.domain.clock import to_iso
from archie_keys.domain.identity import QUOTA_ACTOR
from archie_keys.domain.rate_limits import limits_of, period_bounds
from archie_keys.domain.usage_keys import lineage_of

logger = logging.getLogger("archie_keys.quota_events")

EVENT_TYPE = "key.quota_exhausted"
# How long a warm ingest trusts its memory that a key was settled for its period, and for how many keys: short,
# so a change of limits (a new plan, a fresh quota) is noticed within minutes; bounded, so memory is.
SETTLED_MEMORY_SECONDS = 300.0
SETTLED_MEMORY_MAX = 10_000


class QuotaNotices:
    """Sends `key.quota_exhausted` for the refusals an ingest batch found (`notify`)."""

    def __init__(self, services: Services, clock: Callable[[], float] = time.time) -> None:
        self._services = services
        self._clock = clock
        # key id -> until when its notice is settled (sent, or claimed by another ingest) for its period
        self._settled: dict[str, float] = {}

    def notify(self, refusals: Iterable[QuotaRefusal]) -> int:
        """The events sent for these refusals (at most one per key: its earliest refusal). Never raises."""
        earliest: dict[str, QuotaRefusal] = {}
        for refusal in refusals:
            if refusal.key_id not in earliest or refusal.at < earliest[refusal.key_id].at:
                earliest[refusal.key_id] = refusal
        sent = 0
        now = self._clock()
        for refusal in earliest.values():
            if self._settled.get(refusal.key_id, 0.0) > max(now, refusal.at):
                continue
            try:
                sent += self._notify(refusal, now)
            except Exception:  # a notice must never fail the audit batch: the next refusal tries again
                logger.exception("the quota notice of key %s could not be sent", refusal.key_id)
        return sent

    def _notify(self, refusal: QuotaRefusal, now: float) -> bool:
        services = self._services
        claims = services.quota_notices
        record = services.store.get_key(refusal.project, refusal.environment, refusal.key_id, consistent=False)
        limits = limits_of(record.limits) if record is not None else None
        if record is None or claims is None or limits is None or limits.quota is None:
            self._settle(refusal.key_id, now + SETTLED_MEMORY_SECONDS, now)  # nothing to tell, for a while
            return False
        quota = limits.quota
        start, end = (int(bound) for bound in period_bounds(quota.period, refusal.at))
        if end <= now:
            return False
        lineage = lineage_of(record)
        place = (refusal.project, refusal.environment, lineage, quota.period, quota.limit, start)
        if not claims.claim(*place, end):
            self._settle(refusal.key_id, end, now)
            return False
        details = {"quota": {"limit": quota.limit, "period": quota.period, "resets_at": to_iso(end)}}
        if not emit_key_event(services, EVENT_TYPE, record, QUOTA_ACTOR, details, occurred_at=refusal.at):
            claims.release(*place)
            return False
        self._settle(refusal.key_id, end, now)
        return True

    def _settle(self, key_id: str, period_end: float, now: float) -> None:
        if len(self._settled) >= SETTLED_MEMORY_MAX:
            self._settled = {k: until for k, until in self._settled.items() if until > now}
            while len(self._settled) >= SETTLED_MEMORY_MAX:
                del self._settled[next(iter(self._settled))]  # the oldest remembered
        self._settled[key_id] = min(period_end, now + SETTLED_MEMORY_SECONDS)
