"""Each region's audit in memory (app.ports.RegionalAuditReads): records a test puts in a region, that
region's hourly usage, and a switch that takes the region down."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from archie_keys.aws.audit_reader import AuditReader
from archie_keys.domain.audit_records import AuditRecord, HourlyUsage, audit_record, hourly_usage
from tests.fakes.unit_of_work import Item


class RegionDown(ConnectionError):
    """What a region that does not answer raises (as a client's connect timeout would)."""


class FakeRegionAudit:
    """One region's audit table: its records as stored (each with `at`), its hourly counters as stored, and uses
    not compacted yet; read back as the real reader's records, through the same way in."""

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
        accept: Callable[[AuditRecord], bool] | None = None,
    ) -> tuple[list[AuditRecord], bool]:
        """As aws.audit_reader.AuditReader.query: lower <= at <= upper and at < after, newest first; a record
        stored without its place is in the queried one (the real reader reads only that place's)."""
        self.queries += 1
        self._answer()
        place = {"project": project, "environment": environment}
        found = [
            record
            for record in (
                # Its id as the real reader gives it: its key minus the kind.
                audit_record({**place, **stored, "id": stored["pk"].split("#", 1)[1]})
                for stored in sorted(self.records, key=lambda stored: stored["at"], reverse=True)
                if lower <= stored["at"] <= upper
                and (after is None or stored["at"] < after)
                and (key_id is None or stored.get("key_id") == key_id)
                and (requests or stored.get("kind") == "event")
            )
            if accept is None or accept(record)
        ]
        return found[:limit], len(found) > limit

    def usage(self, project: str, environment: str, key_id: str, since_epoch: float | None = None) -> list[HourlyUsage]:
        self._answer()
        return [hourly_usage(hour) for hour in self.hours]

    def pending_use(self, project: str, environment: str, key_id: str, since: float | None = None) -> str | None:
        return self.pending.get(key_id)


class FakeRegionalAudit:
    """The stack's regions, this one first, each with its audit."""

    def __init__(self, readers: Mapping[str, FakeRegionAudit]) -> None:
        self.readers = dict(readers)
        self.regions = tuple(readers)

    def reader(self, region: str) -> FakeRegionAudit:
        return self.readers[region]
