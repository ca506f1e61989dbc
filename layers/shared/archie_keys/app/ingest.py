"""Use case: turn CloudWatch Logs subscription deliveries into audit records.

Two streams feed it: API Gateway's access log (one JSON line per request, every stage, cache hits included)
and the authorizer's "key refused" lines (which key a refused request presented, and why). Each line becomes
(part of) one record per request, keyed by API Gateway's extended request id (which no client can set: a
client may choose $context.requestId with an x-amzn-RequestId header, so that one is only kept as
`request_id`), so the two streams and redelivered batches complete the same record and never duplicate it.
Paths are recorded as the API's routes see them (without the stage or a custom domain's base path), beside
the route template (`resource`).

Requests made with an accepted key (the access log names it; no refusal line exists for them) are stored
many to an item, in environment blocks (aws.audit_blocks): that is what keeps the audit of every request
affordable. The compactor (app.compaction) later copies them into key blocks and counts them in their key's
usage and `last_used_at`. Requests without an accepted key stay one item each, merged with their refusal
line; a refused request counts once in its key's hourly usage, when it is first attributed to the key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archie_keys.aws.audit_blocks import RECORD_FIELDS, arrival_bucket, chunked, window_end
from archie_keys.domain import limits
from archie_keys.domain.audit import REFUSAL_MESSAGE, hour_of
from archie_keys.domain.clock import to_iso
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE

if TYPE_CHECKING:
    from archie_keys.aws.audit_writer import AuditWriter

logger = logging.getLogger("archie_keys.ingest")

INGEST_WORKERS = 8
_MISSING = ("", "-", None)

StageEnvironments = Callable[[], Mapping[str, tuple[str, str]]]


@dataclass
class IngestReport:
    records: int = 0
    refusals: int = 0
    skipped: int = 0
    control_messages: int = 0
    # (project, environment, window end) -> records of requests made with an accepted key
    blocks: dict[tuple[str, str, float], list[dict[str, Any]]] = field(default_factory=dict)

    def merge(self, other: IngestReport) -> None:
        self.records += other.records
        self.refusals += other.refusals
        self.skipped += other.skipped
        self.control_messages += other.control_messages
        for window, records in other.blocks.items():
            self.blocks.setdefault(window, []).extend(records)

    def as_dict(self) -> dict[str, int]:
        return {
            "records": self.records,
            "refusals": self.refusals,
            "skipped": self.skipped,
            "control_messages": self.control_messages,
        }


class AuditIngest:
    def __init__(
        self,
        writer: AuditWriter,
        stage_environments: StageEnvironments,
        on_batch_lag: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        arrival_bucket_seconds: float = 60.0,
    ) -> None:
        self.writer = writer
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

    def ingest(self, message_type: str, log_events: Iterable[Mapping[str, Any]]) -> IngestReport:
        """Write the audit records of one decoded subscription delivery. Malformed lines are skipped and
        counted, never failing the batch; a redelivered batch writes nothing new. Lines are independent
        records, so they are written by a few threads at once (each write is one DynamoDB round trip)."""
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
            if not isinstance(line, dict):
                raise ValueError("not an object")
            if line.get("message") == REFUSAL_MESSAGE:
                self._ingest_refusal(line, int(log_event.get("timestamp", time.time() * 1000)) / 1000, report)
            elif "request_id" in line and "status" in line:
                self._ingest_access(line, report)
            else:
                raise ValueError("neither an access record nor a refusal")
        except (ValueError, KeyError, TypeError) as error:
            report.skipped += 1
            logger.warning("skipped an audit line: %s", error)
        return report

    def _environment_of(self, line: dict[str, Any], path: str) -> tuple[str, str] | None:
        """Whose audit a request belongs to: its key's environment (from the authorizer); else the one its
        stage is registered for (a protected API, whatever path a client sent it); else, on the management
        API, the one its path names."""
        project, environment = line.get("project"), line.get("environment")
        if project not in _MISSING and environment not in _MISSING:
            return str(project), str(environment)
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
        values: dict[str, Any] = {
            "kind": "request",
            "time": to_iso(epoch),
            "request_id": _present(line.get("request_id")),
            "method": line.get("method"),
            "path": _bounded(path),
            "resource": resource,
            "status": status,
            "source_ip": line.get("source_ip"),
            "user_agent": _bounded(line.get("user_agent")),
            "api": f"{line.get('api_id')}/{line.get('stage')}",
            "error": None if line.get("error") in _MISSING else line.get("error"),
        }
        values = self.writer.request_values(
            record_id, project, environment, {k: v for k, v in values.items() if v is not None}
        )
        key_id = line.get("key_id")
        known_key = str(key_id) if key_id not in _MISSING and KEY_ID_RE.match(str(key_id)) else None
        report.records += 1
        if known_key is None:
            self.writer.update_request(record_id, values)
            return
        values["key_id"] = known_key
        record = {"id": record_id, **{name: values[name] for name in RECORD_FIELDS if name in values}}
        report.blocks.setdefault((project, environment, window_end(epoch)), []).append(record)

    def _ingest_refusal(self, line: dict[str, Any], epoch: float, report: IngestReport) -> None:
        record_id, key_id = _present(line.get("extended_request_id")), line.get("key_id")
        project, environment = line.get("project"), line.get("environment")
        if record_id is None:
            raise ValueError("a refusal without an extended request id")
        if not (
            key_id and KEY_ID_RE.match(str(key_id)) and SLUG_RE.match(str(project)) and SLUG_RE.match(str(environment))
        ):
            raise ValueError("a refusal without a key id, project and environment")
        project, environment, key_id = str(project), str(environment), str(key_id)
        # A whole record (time, index bucket, retention), so it shows and expires even if its access-log line
        # never arrives; the access line, when it comes, completes it with the request's own fields.
        values = self.writer.request_values(
            record_id,
            project,
            environment,
            {
                "kind": "request",
                "time": to_iso(epoch),
                "reason": str(line.get("reason", "unknown")),
                **({"request_id": str(line["request_id"])} if _present(line.get("request_id")) else {}),
            },
        )
        report.refusals += 1
        # Attributed and counted in the key's usage in one transaction: a retried or redriven batch finds the
        # record attributed and counts nothing twice, and a failure never leaves it attributed but uncounted.
        self.writer.write_attributed(record_id, values, project, environment, key_id, hour_of(epoch))

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

        def write(chunk: tuple[str, str, list[dict[str, Any]]]) -> None:
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
