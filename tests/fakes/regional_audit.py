"""Each region's audit in memory (app.ports.RegionalAuditReads): records a test puts in a region, that
region's hourly usage, and a switch that takes the region down."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archie_keys.aws.audit_reader import AuditReader
from tests.fakes.unit_of_work import Item


class RegionDown(ConnectionError):
    """What a region that does not answer raises (as a client's connect timeout would)."""


class FakeRegionAudit:
    """One region's audit table: its records (each with `at`), its hourly counters, and uses not compacted yet."""

    def __init__(self) -> None:
        self.records: list[Item] = []
        self.hours: list[Item] = []
        self.pending: dict[str, str] = {}
        self.down = False
        self.queries = 0

    # The range's bounds are the real reader's (a pure function of the time format records are stored under).
    at_bounds = staticmethod(AuditReader.at_bounds)

    def _answer(self) -> None:
        if self.down:
            raise RegionDown("the region does not answer")

    def query(
        self,
        project: str,
        environment: str,
        *,
        key_id: str | None,
        actor_key_id: str | None,
        lower: str,
        upper: str,
        after: str | None,
        limit: int,
        requests: bool = True,
        accept: Callable[[dict[str, Any]], bool] | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """As aws.audit_reader.AuditReader.query: lower <= at <= upper and at < after, newest first."""
        self.queries += 1
        self._answer()
        found = [
            {**record, "id": record["pk"].split("#", 1)[1]}  # as the real reader: its key minus the kind
            for record in sorted(self.records, key=lambda record: record["at"], reverse=True)
            if lower <= record["at"] <= upper
            and (after is None or record["at"] < after)
            and (key_id is None or record.get("key_id") == key_id)
            and (requests or record.get("kind") == "event")
            and (accept is None or accept(record))
        ]
        return found[:limit], len(found) > limit

    def usage(self, project: str, environment: str, key_id: str, since_epoch: float | None = None) -> list[Item]:
        self._answer()
        return [dict(hour) for hour in self.hours]

    def pending_use(self, project: str, environment: str, key_id: str, since: float | None = None) -> str | None:
        return self.pending.get(key_id)


class FakeRegionalAudit:
    """The stack's regions, this one first, each with its audit."""

    def __init__(self, readers: Mapping[str, FakeRegionAudit]) -> None:
        self.readers = dict(readers)
        self.regions = tuple(readers)

    def reader(self, region: str) -> FakeRegionAudit:
        return self.readers[region]
