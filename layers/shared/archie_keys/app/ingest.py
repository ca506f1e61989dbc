"""Use case: turn CloudWatch Logs subscription deliveries of API Gateway's access logs into audit records.

One JSON line per request, every stage, cache hits included: accepted, refused and keyless requests alike.
The authorizer's answer reaches the line through `$context.authorizer.*`: an accepted key's id, or a refused
key's id and reason (its Deny is cached like an Allow, so a refusal served from API Gateway's cache is
recorded just as fully). Each record is keyed by API Gateway's extended request id (which no client can set:
a client may choose $context.requestId with an x-amzn-RequestId header, so that one is only kept as
`request_id`), so a redelivered batch never duplicates a record. Paths are recorded as the API's routes see
them (without the stage or a custom domain's base path), beside the route template (`resource`).

Where a request is recorded is the place it was sent to: the environment its stage is registered for (a
protected API), or the one its path names (the management API), never one a token names. A key id is
attributed to a record (`key_id`: the key's own audit and usage count it) only when the authorizer proved
the key's secret and the key belongs to that place; any other id the token carried is kept as
`claimed_key_id`, so nobody can file requests under another environment or pad a chosen key's trail.

Records are stored many to an item, in environment blocks (domain.audit_blocks): that is what keeps the audit
of every request affordable, refused ones included. The compactor (app.compaction) later copies the
attributed records into key blocks and counts them in their key's usage and `last_used_at`.

A proven key's request refused for its quota (QUOTA_EXCEEDED) then goes to app.quota_events (`on_quota_exhausted`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archie_keys.domain import limits
from archie_keys.domain.audit_blocks import arrival_bucket, chunked, window_end
from archie_keys.domain.audit_records import RequestRecord, request_record
from archie_keys.domain.clock import to_iso
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE

if TYPE_CHECKING:
    from archie_keys.app.audit_ports import AuditBlockWriter, IngestWatermarks
    from archie_keys.domain.ingest_watermark import Attestation

logger = logging.getLogger("archie_keys.ingest")

INGEST_WORKERS = 8
_MISSING = ("", "-", None)

StageEnvironments = Callable[[], Mapping[str, tuple[str, str]]]
# API Gateway's $context.error.responseType for a request refused for its key's quota (a rate limit's: THROTTLED).
QUOTA_EXCEEDED = "QUOTA_EXCEEDED"


@dataclass(frozen=True)
class QuotaRefusal:
    """A request of a proven key, refused by API Gateway for its quota: where the key belongs, and when."""

    project: str
    environment: str
    key_id: str
    at: float  # epoch seconds of the request


@dataclass
class IngestReport:
    records: int = 0
    # records of requests whose key the authorizer refused (a reason in the line)
    refusals: int = 0
    skipped: int = 0
    control_messages: int = 0
    # (project, environment, window end) -> records of the requests sent to that environment in that window
    blocks: dict[tuple[str, str, float], list[RequestRecord]] = field(default_factory=dict)
    # requests of proven keys refused for their quota (app.quota_events)
    quota_refusals: list[QuotaRefusal] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        self.records += other.records
        self.refusals += other.refusals
        self.skipped += other.skipped
        self.control_messages += other.control_messages
        for window, records in other.blocks.items():
            self.blocks.setdefault(window, []).extend(records)
        self.quota_refusals.extend(other.quota_refusals)

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("records", "refusals", "skipped", "control_messages")}


class AuditIngest:
    def __init__(
        self,
        writer: AuditBlockWriter,
        stage_environments: StageEnvironments,
        on_batch_lag: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        arrival_bucket_seconds: float = 60.0,
        watermarks: IngestWatermarks | None = None,
        on_quota_exhausted: Callable[[list[QuotaRefusal]], int] | None = None,
    ) -> None:
        self.writer = writer
        # Told, once a batch is stored, of its requests refused for their key's quota; it never raises.
        self._on_quota_exhausted = on_quota_exhausted
        # Moved by a delivery's attestation once its lines are stored (domain.ingest_watermark).
        self.watermarks = watermarks
        self.arrival_bucket_seconds = arrival_bucket_seconds
        self._compaction_begun = False
        # restApiId/stage -> (project, environment) for protected APIs, whose paths do not name them; read
        # only when a line needs it, at most once a batch (the registry behind it caches its own reads, and a
        # stage registered while this instance is warm is known from the next batch on).
        self._stage_environments_source = stage_environments
        self._stage_environments: Mapping[str, tuple[str, str]] | None = None
        # Told, after each batch, how far behind the audit is: now minus the batch's oldest log event (ms).
        self._on_batch_lag = on_batch_lag
        self._clock = clock

    def ingest(
        self, message_type: str, log_events: Iterable[Mapping[str, Any]], attestation: Attestation | None = None
    ) -> IngestReport:
        """Write the audit records of one decoded subscription delivery. Malformed lines are skipped and
        counted, never failing the batch; a redelivered batch writes nothing new. Lines are independent
        records, so they are written by a few threads at once (each write is one DynamoDB round trip).
        The delivery's attestation, if its deliverer gave one, moves the watermark only once every block of
        the delivery is stored: a delivery that fails proves nothing, and its retry proves it then."""
        report = IngestReport()
        if message_type == "CONTROL_MESSAGE":
            report.control_messages += 1
            return report
        events = list(log_events)
        self._stage_environments = None
        if len(events) > 1:
            with ThreadPoolExecutor(max_workers=INGEST_WORKERS, thread_name_prefix="audit") as pool:
                parts = list(pool.map(self._ingest_line, events))
        else:
            parts = [self._ingest_line(event) for event in events]
        for part in parts:
            report.merge(part)
        self._write_blocks(report)
        if attestation is not None and self.watermarks is not None:
            self.watermarks.record(attestation)
        if report.quota_refusals and self._on_quota_exhausted is not None:
            self._on_quota_exhausted(report.quota_refusals)
        self._report_lag(events)
        return report

    def _report_lag(self, events: list[Mapping[str, Any]]) -> None:
        stamps = [e["timestamp"] for e in events if isinstance(e.get("timestamp"), (int, float))]
        if stamps and self._on_batch_lag is not None:
            self._on_batch_lag(max(0.0, self._clock() * 1000 - min(stamps)))

    def _ingest_line(self, log_event: Mapping[str, Any]) -> IngestReport:
        report = IngestReport()
        try:
            line = json.loads(log_event["message"])
            if not isinstance(line, dict) or "request_id" not in line or "status" not in line:
                raise ValueError("not an access record")
            self._ingest_access(line, report)
        except (ValueError, KeyError, TypeError) as error:
            report.skipped += 1
            logger.warning("skipped an audit line: %s", error)
        return report

    def _environment_of(self, line: dict[str, Any], path: str) -> tuple[str, str] | None:
        """Where a request was sent: the environment its stage is registered for (a protected API, whatever
        path a client sent it), else, on the management API, the one its path names, else the place the
        authorizer's context names, which is never one a client chose: the stage variables of a protected
        stage (a stage not registered yet), or a key whose secret it proved. Never a token's claim."""
        if self._stage_environments is None:
            self._stage_environments = self._stage_environments_source()
        registered = self._stage_environments.get(f"{line.get('api_id')}/{line.get('stage')}")
        if registered is not None:
            return registered
        parts = path.split("/")
        if (
            len(parts) >= 5
            and parts[1] == "projects"
            and parts[3] == "environments"
            and SLUG_RE.match(parts[2])
            and SLUG_RE.match(parts[4])
        ):
            return parts[2], parts[4]
        project, environment = _present(line.get("project")), _present(line.get("environment"))
        if project is not None and environment is not None and SLUG_RE.match(project) and SLUG_RE.match(environment):
            return project, environment
        return None

    def _ingest_access(self, line: dict[str, Any], report: IngestReport) -> None:
        record_id = _present(line.get("extended_request_id"))
        if record_id is None:
            raise ValueError("an access record without an extended request id")
        epoch = int(str(line.get("time_epoch_ms"))) / 1000
        status = int(str(line["status"]))
        resource = _present(line.get("resource"))
        path = relative_path(str(line.get("path", "")), resource, _present(line.get("stage")))
        place = self._environment_of(line, path)
        if place is None:
            raise ValueError("no project and environment for this request")
        project, environment = place
        record = request_record(
            {
                "id": record_id,
                "project": project,
                "environment": environment,
                "time": to_iso(epoch),
                "request_id": _present(line.get("request_id")),
                "method": line.get("method"),
                "path": _bounded(path),
                "resource": resource,
                "status": status,
                "source_ip": _present(line.get("source_ip")),
                "user_agent": _bounded(_present(line.get("user_agent"))),
                "api": f"{line.get('api_id')}/{line.get('stage')}",
                "error": _present(line.get("error")),
                **attribution(line, place),
            }
        )
        report.records += 1
        report.refusals += record.reason is not None
        if record.error == QUOTA_EXCEEDED and record.key_id is not None:
            report.quota_refusals.append(QuotaRefusal(project, environment, record.key_id, epoch))
        report.blocks.setdefault((project, environment, window_end(epoch)), []).append(record)

    def _write_blocks(self, report: IngestReport) -> None:
        """Store the batch's environment blocks, listed under the arrival bucket they are written in. Records
        are chunked in id order, so a redelivered or retried batch builds the same blocks, which their
        conditional Puts refuse (and list nowhere a second time)."""
        chunks = [
            (project, environment, records)
            for (project, environment, _), window in report.blocks.items()
            for records in chunked(window)
        ]
        if not chunks:
            return
        if not self._compaction_begun:
            first = arrival_bucket(self._clock(), self.arrival_bucket_seconds)
            self.writer.begin_compaction(first - self.arrival_bucket_seconds)
            self._compaction_begun = True

        def write(chunk: tuple[str, str, list[RequestRecord]]) -> None:
            # The bucket of the moment of this write (not of the batch's start): the compactor waits for the
            # settle time after a bucket ends, which only has to cover one write and the index catching up.
            arrival = arrival_bucket(self._clock(), self.arrival_bucket_seconds)
            self.writer.put_environment_block(*chunk, arrival_bucket=arrival)

        if len(chunks) > 1:
            with ThreadPoolExecutor(max_workers=INGEST_WORKERS, thread_name_prefix="audit") as pool:
                list(pool.map(write, chunks))
        else:
            for chunk in chunks:
                write(chunk)


def attribution(line: Mapping[str, Any], place: tuple[str, str]) -> dict[str, str]:
    """The key fields of a request record sent to `place`: `key_id` when the authorizer proved the key and it
    is that place's own; else the id the token only claimed; and the authorizer's refusal reason, if any.
    A key accepted (or proven and refused) elsewhere than where the request went is a wrong environment."""
    fields: dict[str, str] = {}
    key_id, claimed = _key_id(line.get("key_id")), _key_id(line.get("claimed_key_id"))
    reason = _present(line.get("refusal"))
    if key_id is not None:
        if (_present(line.get("project")), _present(line.get("environment"))) == place:
            fields["key_id"] = key_id
        else:
            claimed, reason = key_id, "wrong_environment"
    if claimed is not None:
        fields["claimed_key_id"] = claimed
    if reason is not None:
        fields["reason"] = _bounded(reason)
    return fields


def _key_id(value: Any) -> str | None:
    present = _present(value)
    return present if present is not None and KEY_ID_RE.match(present) else None


def _bounded(value: Any) -> Any:
    """A client-controlled field as the audit keeps it: at most AUDIT_FIELD_MAX_CHARS characters."""
    return value[: limits.AUDIT_FIELD_MAX_CHARS] if isinstance(value, str) else value


def _present(value: Any) -> str | None:
    """A log field's value, or None for API Gateway's "-" (and empty) placeholders."""
    return None if value in _MISSING else str(value)


def relative_path(path: str, resource: str | None, stage: str | None) -> str:
    """The request path as the API's routes see it. $context.path holds the stage on the execute-api endpoint
    (/v1/projects/...) and a custom domain's base path behind one (/keys/projects/...); the route template
    (`resource`) has as many segments as the path the routes match, so the path's last that many segments
    are it. Without a template (no route matched) or with a greedy one, a leading stage is removed."""
    segments = [segment for segment in path.split("/") if segment]
    template = [segment for segment in (resource or "").split("/") if segment]
    if resource and not any(segment.endswith("+}") for segment in template):
        return "/" + "/".join(segments[len(segments) - len(template) :]) if template else "/"
    if segments and segments[0] == stage:
        segments = segments[1:]
    return "/" + "/".join(segments)
