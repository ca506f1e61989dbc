"""Use cases: read the audit trail (permission `audit` read) and a key's usage (`keys` read).

Rows: a caller whose `audit` grant is filtered sees only the records its filters cover: a request record
when the key it was made with is covered, a management event when both the key it is about (if any) and
its actor are covered. Records of other keys, of the bootstrap actor and of unparseable keys are not shown;
asking for an uncovered key by id answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_keys.app.commands import AuditQuery, Place
from archie_keys.app.key_limits import quota_of
from archie_keys.app.key_lookup import get_key, no_such_key
from archie_keys.app.region_fanout import gather
from archie_keys.app.services import Services
from archie_keys.app.views import audit_view, usage_view
from archie_keys.domain import limits
from archie_keys.domain.audit_records import AuditRecord, EventRecord, HourlyUsage
from archie_keys.domain.clock import parse_client_time
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.identity import SCANNER_ACTOR, Identity, RowScope
from archie_keys.domain.keyformat import KEY_ID_RE
from archie_keys.domain.oidc_actor import WORKLOAD_PREFIX
from archie_keys.domain.paging import token_scope
from archie_keys.domain.region_reads import (
    FROM_NEWEST,
    RegionPage,
    decode_positions,
    encode_positions,
    merge_region_pages,
    sum_usage_hours,
)


def _key_id_filter(value: str | None, field: str) -> str | None:
    if value in (None, ""):
        return None
    if not KEY_ID_RE.match(str(value)):
        raise ValidationFailedError(f"{field} must be a key id (12 letters and digits)", field=field)
    return value


def _time(value: str | None, field: str) -> float | None:
    if not value:
        return None
    try:
        return parse_client_time(value).timestamp()
    except ValueError as error:
        raise ValidationFailedError(
            f"{field} must be an ISO 8601 time with a time zone: {error}", field=field
        ) from None


def _coverage(services: Services, place: Place, scope: RowScope) -> Callable[[str | None], bool]:
    """Whether a key (by id) is covered by the scope, each key read once per request."""
    known: dict[str, bool] = {}

    def covered(key_id: str | None) -> bool:
        if scope.every_row:
            return True
        if key_id is None or not KEY_ID_RE.match(key_id):
            return False
        if key_id not in known:
            record = services.store.get_key(place.project, place.environment, key_id, consistent=False)
            known[key_id] = record is not None and scope.covers(record.context)
        return known[key_id]

    return covered


def query_audit(services: Services, caller: Identity, query: AuditQuery) -> dict[str, Any]:
    """A page of the environment's records newest first, from every region's audit: {"records", "next_token"},
    and "unavailable_regions" when a region did not answer (domain.region_reads: paging across regions)."""
    place = query.place
    scope = caller.require(place.project, place.environment, "audit", "read")
    services.store.require_environment(place.project, place.environment)
    key_id = _key_id_filter(query.key_id, "key_id")
    actor = _key_id_filter(query.actor_key_id, "actor_key_id")
    since, until = _time(query.since, "since"), _time(query.until, "until")
    if since is not None and until is not None and since > until:
        raise ValidationFailedError("since must not be later than until", field="since")
    covered = _coverage(services, place, scope)
    if not (covered(key_id) if key_id else True) or not (covered(actor) if actor else True):
        raise no_such_key()

    def accept(record: AuditRecord) -> bool:
        if query.kind is not None and record.kind != query.kind:
            return False
        if scope.every_row:
            return True
        if isinstance(record, EventRecord):
            # A leak report's actor is GitHub's scanner, an exchange's a pipeline (oidc:...): no tenant's key,
            # so the event is as visible as the key it is about.
            actor, about = record.actor_key_id, record.key_id
            if actor.startswith(WORKLOAD_PREFIX):
                return about is not None and covered(about)
            actor_covered = actor == SCANNER_ACTOR or covered(actor)
            return actor_covered and (about is None or covered(about))
        return covered(record.key_id)

    # The position in a token is bound to everything that shapes the listing, so it cannot be replayed
    # against another range or another caller's rows.
    bound = {
        "key_id": key_id,
        "actor": actor,
        "since": query.since,
        "until": query.until,
        "kind": query.kind,
        "rows": list(scope.alternatives),
    }
    tokens, where = services.paging_tokens(), token_scope(place.project, place.environment)
    position = tokens.read(query.page.next_token, "audit", where, bound) if query.page.next_token else None
    audit = services.regional_audit
    lower, upper = services.audit_reader.at_bounds(since, until)
    positions = (
        decode_positions(position, audit.regions) if position is not None else dict.fromkeys(audit.regions, FROM_NEWEST)
    )

    def ask(region: str) -> RegionPage:
        items, more = audit.reader(region).query(
            place.project,
            place.environment,
            key_id=key_id,
            actor_key_id=actor,
            lower=lower,
            upper=upper,
            after=positions[region],
            limit=query.page.limit,
            requests=query.kind != "event",  # events only: the request blocks are not even read
            accept=None if scope.every_row and query.kind is None else accept,
        )
        return RegionPage(items, more)

    gathered = gather(audit.regions, ask)
    merged = merge_region_pages(
        {region: gathered.answers.get(region) for region in audit.regions}, positions, query.page.limit
    )
    answer: dict[str, Any] = {
        "records": [audit_view(item) for item in merged.items],
        "next_token": tokens.issue("audit", where, bound, encode_positions(merged.positions))
        if merged.positions is not None
        else None,
    }
    if merged.unavailable:
        answer["unavailable_regions"] = merged.unavailable
    return answer


def key_usage(services: Services, caller: Identity, place: Place, key_id: str, since: str | None) -> dict[str, Any]:
    record = get_key(services, caller, place, key_id)
    now = services.clock()
    since_epoch = _time(since, "since")
    if since_epoch is None:
        since_epoch = now - 24 * 3600
    if since_epoch < now - limits.USAGE_MAX_DAYS * 86400:
        raise ValidationFailedError(f"since may go back at most {limits.USAGE_MAX_DAYS} days", field="since")
    answer: dict[str, Any] = {
        "key_id": key_id,
        "last_used_at": record.last_used_at,
    }
    usage = regional_usage(services, place, key_id, min(since_epoch, now))
    answer["hours"] = [usage_view(hour) for hour in usage.hours]
    if usage.unavailable:
        answer["unavailable_regions"] = usage.unavailable
    quota = quota_of(services, record, now)
    if quota is not None:
        answer["quota"] = quota
    return answer


@dataclass(frozen=True)
class RegionalUsage:
    hours: list[HourlyUsage]
    unavailable: list[str]


def regional_usage(services: Services, place: Place, key_id: str, since_epoch: float) -> RegionalUsage:
    """A key's hourly usage added up over every region that answered (each counts the requests it served)."""
    audit = services.regional_audit
    gathered = gather(
        audit.regions, lambda region: audit.reader(region).usage(place.project, place.environment, key_id, since_epoch)
    )
    if len(audit.regions) == 1:
        return RegionalUsage(gathered.answers[audit.regions[0]], [])
    return RegionalUsage(sum_usage_hours(gathered.answers.values()), gathered.unavailable)
