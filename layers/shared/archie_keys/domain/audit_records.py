"""What the audit stores and reads cross the seam as: typed records, so a misspelt field is a type error rather
than a silent None, and each field list is declared here once.

    RequestRecord    a request as the access log and the authorizer saw it (its OWN fields are what a block
                     stores of it, with its id: REQUEST_RECORD_FIELDS), and the place its block names
    EventRecord      a management event (aws.audit_writer.event_write); one query returns both, newest first
    audit_record     the one way in: a record from its stored form (a request item of an earlier release, an
                     event item, or a block's record with the place its block names: aws.audit_reader)
    stored_request   the one way out of a request: what a block packs of it (aws.audit_writer, app.ingest)
    HourlyUsage      a key's requests in one hour (hourly_usage: the one way in, from a usage counter)

Storage attributes (pk, sk, the index partitions, purge_epoch, ...) are not fields: the way in leaves them,
and any attribute it does not know (one a newer release wrote during a deploy), out; a name that is no field
given to a constructor is refused (TypeError). What the API shows is app.views' (audit_view, usage_view),
documented by edge.audit_schemas (tests/logic/test_records.py holds the two to the same names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

# Field metadata: one of the request's own fields, which a block stores and the API shows.
OWN: Mapping[str, bool] = {"own": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    kind: ClassVar[str] = "request"
    # API Gateway's extended request id: unique, and the record's id in the API.
    id: str
    project: str
    environment: str
    # --- the request's own, in the order REQUEST_RECORD_FIELDS lists them (app.ingest reads them from the
    # access log line; client-controlled ones bounded by limits.AUDIT_FIELD_MAX_CHARS) ----------------------
    time: str = field(metadata=OWN)
    request_id: str | None = field(default=None, metadata=OWN)
    method: str | None = field(default=None, metadata=OWN)
    path: str | None = field(default=None, metadata=OWN)
    resource: str | None = field(default=None, metadata=OWN)
    status: int | None = field(default=None, metadata=OWN)
    source_ip: str | None = field(default=None, metadata=OWN)
    user_agent: str | None = field(default=None, metadata=OWN)
    # The key when attributed (domain.audit.PROVEN_REFUSALS says when a refusal is); else the id a token only
    # claimed, and the authorizer's refusal reason if any.
    key_id: str | None = field(default=None, metadata=OWN)
    claimed_key_id: str | None = field(default=None, metadata=OWN)
    reason: str | None = field(default=None, metadata=OWN)
    error: str | None = field(default=None, metadata=OWN)
    api: str | None = field(default=None, metadata=OWN)

    @property
    def at(self) -> str:
        """Where it sorts among the audit's records: unique, time-ordered (as aws.audit_reader stores it)."""
        return at_of(self.time, self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    kind: ClassVar[str] = "event"
    id: str
    # As stored: "<ISO time>#<id>" (aws.audit_writer.event_write), a page's position.
    at: str
    time: str
    project: str
    environment: str
    event: str
    # A key id, `bootstrap`, GitHub's scanner or a pipeline (domain.oidc_actor.WORKLOAD_PREFIX).
    actor_key_id: str
    # The key it is about, if any.
    key_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


AuditRecord = RequestRecord | EventRecord

# A request record's own fields, the one list of them (beyond its id and the place its block names).
REQUEST_RECORD_FIELDS = tuple(f.name for f in fields(RequestRecord) if f.metadata.get("own"))
EVENT_RECORD_FIELDS = tuple(f.name for f in fields(EventRecord) if f.name not in ("id", "at"))
_REQUEST_NAMES = frozenset(f.name for f in fields(RequestRecord))
_EVENT_NAMES = frozenset(f.name for f in fields(EventRecord))
_STORED_REQUEST = ("id", *REQUEST_RECORD_FIELDS)


def at_of(time: str, record_id: str) -> str:
    """A request's sort position: its time, then its id."""
    return f"{time}#{record_id}"


def audit_record(stored: Mapping[str, Any]) -> AuditRecord:
    """The record of a stored item or decoded block record (with `id` and the place its block names): an
    event when its kind says so, else a request. A None value is the field's default: not stored."""
    if stored.get("kind") == "event":
        values = {name: value for name, value in stored.items() if name in _EVENT_NAMES and value is not None}
        values["details"] = dict(values.get("details", {}))
        return EventRecord(**values)
    return request_record(stored)


def request_record(stored: Mapping[str, Any]) -> RequestRecord:
    """A request's record from its stored form, values as stored (a block's JSON and DynamoDB's numbers, via
    aws.dynamo_types, are already ints where whole): the API shows them as they were stored."""
    return RequestRecord(
        **{name: value for name, value in stored.items() if name in _REQUEST_NAMES and value is not None}
    )


def stored_request(record: RequestRecord) -> dict[str, Any]:
    """What a block packs of a request: its id and its own fields that are set (the block names its place)."""
    stored: dict[str, Any] = {}
    for name in _STORED_REQUEST:
        value = getattr(record, name)
        if value is not None:
            stored[name] = value
    return stored


@dataclass(frozen=True, slots=True, kw_only=True)
class HourlyUsage:
    """A key's requests in one hour (domain.audit.hour_of), as counted in one region or added up over all."""

    hour: str
    allowed: int = 0
    refused: int = 0

    @property
    def requests(self) -> int:
        return self.allowed + self.refused


USAGE_FIELDS = ("hour", "allowed", "refused", "requests")


def hourly_usage(stored: Mapping[str, Any]) -> HourlyUsage:
    """An hour's counters as stored ({"hour", "allowed", "refused"}; a counter never added to is absent)."""
    return HourlyUsage(
        hour=str(stored["hour"]), allowed=int(stored.get("allowed", 0)), refused=int(stored.get("refused", 0))
    )
