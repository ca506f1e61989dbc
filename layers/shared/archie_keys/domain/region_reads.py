"""Reading what every region recorded: a page of the audit merged across regions, its cursor, usage summed.

The audit table is regional (each region's ingest and compactor write their own; it is not replicated), so a
key's records and hourly usage are read from every region's table and put together here. Pure: the reads
themselves, in parallel and bounded in time, are app.region_fanout's.

Paging. Every record's `at` ("<ISO time>#<record id>") is unique across regions, so when each region gives
its newest records after its position and the merge keeps the newest `limit`, every record newer than the
last kept one, in any region that answered, is on the page: the next page reads each of those regions after
that one position. A region that did not answer keeps its own position (where it stood before the page, or
none: from the newest), so its records are read when it answers again, on a later page and not lost; they
then come first on that page, newer than what earlier pages showed. The position is one `at` while every
region stands at it: the token of a single-region stack, and of any page every region answered, is the one
issued before regions existed. Otherwise it is a small JSON object naming the regions behind. Either way the
token that carries it is authenticated (domain.paging), so a position is only ever one this service issued.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from archie_keys.domain.audit_records import AuditRecord, HourlyUsage
from archie_keys.domain.errors import ValidationFailedError

# A region that has not given a record of this listing yet: it is read from the newest.
FROM_NEWEST = None


@dataclass(frozen=True)
class RegionPage:
    """What one region answered: up to `limit` records newest first (each with its `at`), and whether it
    holds more after the last of them."""

    items: list[AuditRecord]
    more: bool


@dataclass(frozen=True)
class MergedPage:
    items: list[AuditRecord]
    # Where each region reads on (None: no next page).
    positions: dict[str, str | None] | None
    unavailable: list[str] = field(default_factory=list)


def encode_positions(positions: Mapping[str, str | None]) -> str:
    """The position a token carries: one `at` when every region stands there, else {"at", "behind"}."""
    known = [value for value in positions.values() if value is not None]
    common = min(known) if known else ""
    behind = {region: value for region, value in sorted(positions.items()) if value != common}
    if not behind:
        return common
    return json.dumps({"at": common, "behind": behind}, separators=(",", ":"), sort_keys=True)


def decode_positions(position: str, regions: Sequence[str]) -> dict[str, str | None]:
    """Each region's position from a token's (authenticated) position: a region the token does not name
    stands at its common `at`, one it names at its own. A region no longer in the stack is forgotten."""
    if not position.startswith("{"):
        return dict.fromkeys(regions, position)
    try:
        decoded = json.loads(position)
        common, behind = decoded["at"], decoded["behind"]
        if not isinstance(common, str) or not isinstance(behind, dict):
            raise TypeError(position)
    except (ValueError, KeyError, TypeError):
        # Only a token this service issued gets here (its MAC held): it never fails, but is never guessed at.
        raise ValidationFailedError("next_token is not a token this listing gave", field="next_token") from None
    return {region: behind.get(region, common) for region in regions}


def merge_region_pages(
    pages: Mapping[str, RegionPage | None], positions: Mapping[str, str | None], limit: int
) -> MergedPage:
    """The newest `limit` records of the regions that answered (a page None: the region did not), and
    where each region reads on when any region that answered holds more. Those regions stand at the last
    record kept; a region that did not answer stays where it stood."""
    answered = {region: page for region, page in pages.items() if page is not None}
    unavailable = [region for region, page in pages.items() if page is None]
    ranked = sorted((item for page in answered.values() for item in page.items), key=lambda item: item.at, reverse=True)
    kept = ranked[:limit]
    more = len(ranked) > limit or any(page.more for page in answered.values())
    if not more or not kept:
        return MergedPage(kept, None, unavailable)
    last = kept[-1].at
    following: dict[str, str | None] = {}
    for region, before in positions.items():
        if region in answered:
            # Everything it holds newer than `last` (and older than where it stood) is on this page.
            following[region] = last if before is None or last < before else before
        else:
            following[region] = before
    return MergedPage(kept, following, unavailable)


def sum_usage_hours(per_region: Iterable[Iterable[HourlyUsage]]) -> list[HourlyUsage]:
    """Hourly counters of several regions added hour by hour, oldest hour first (each region counts only the
    requests it served, so the sums count every request once)."""
    allowed: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for hours in per_region:
        for hour in hours:
            allowed[hour.hour] += hour.allowed
            refused[hour.hour] += hour.refused
    return [HourlyUsage(hour=hour, allowed=allowed[hour], refused=refused[hour]) for hour in sorted(allowed)]


def parse_region_map(text: str) -> dict[str, str]:
    """ "us-east-1=AuditTable,eu-west-1=AuditTable" -> {region: value}; ValueError naming a malformed entry."""
    found: dict[str, str] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        region, sep, value = (piece.strip() for piece in entry.partition("="))
        if not sep or not region or not value:
            raise ValueError(f"not <region>=<value>: {entry}")
        found[region] = value
    return found
