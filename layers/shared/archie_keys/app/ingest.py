"""Use case: turn CloudWatch Logs subscription deliveries into audit records.

Two streams feed it: API Gateway's access log (one JSON line per request, every stage, cache hits included)
and the authorizer's "key refused" lines (which key a refused request presented, and why). Each line becomes
(part of) one record per request, keyed by request id, so the two streams and redelivered batches complete
the same record and never duplicate it. A request counts once in its key's hourly usage, when it is first
attributed to the key; accepted requests move the key's `last_used_at` forward.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from archie_keys.domain.audit import REFUSAL_MESSAGE, hour_of
from archie_keys.domain.clock import to_iso
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE

if TYPE_CHECKING:
    from archie_keys.aws.audit_writer import AuditWriter
    from archie_keys.aws.key_store import KeyStore

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
    # (project, environment, key id, "allowed" | "refused", hour) -> requests newly attributed in this batch
    counted: Counter[tuple[str, str, str, str, str]] = field(default_factory=Counter)
    # (project, environment, key id) -> latest time the key was accepted, in this batch
    last_used: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def merge(self, other: IngestReport) -> None:
        self.records += other.records
        self.refusals += other.refusals
        self.skipped += other.skipped
        self.control_messages += other.control_messages
        self.counted.update(other.counted)
        for slot, epoch in other.last_used.items():
            self.last_used[slot] = max(self.last_used.get(slot, 0.0), epoch)

    def as_dict(self) -> dict[str, int]:
        return {
            "records": self.records,
            "refusals": self.refusals,
            "skipped": self.skipped,
            "control_messages": self.control_messages,
        }


class AuditIngest:
    def __init__(self, writer: AuditWriter, keys: KeyStore, stage_environments: StageEnvironments) -> None:
        self.writer = writer
        self.keys = keys
        # restApiId/stage -> (project, environment) for protected APIs, whose paths do not name them; read
        # only when a line needs it (it may cost an SSM call).
        self._stage_environments_source = stage_environments
        self._stage_environments: Mapping[str, tuple[str, str]] | None = None

    def ingest(self, message_type: str, log_events: Iterable[Mapping[str, Any]]) -> IngestReport:
        """Write the audit records of one decoded subscription delivery. Malformed lines are skipped and
        counted, never failing the batch; a redelivered batch writes nothing new. Lines are independent
        records, so they are written by a few threads at once (each write is one DynamoDB round trip)."""
        report = IngestReport()
        if message_type == "CONTROL_MESSAGE":
            report.control_messages += 1
            return report
        events = list(log_events)
        if len(events) > 1:
            with ThreadPoolExecutor(max_workers=INGEST_WORKERS, thread_name_prefix="audit") as pool:
                parts = list(pool.map(self._ingest_line, events))
        else:
            parts = [self._ingest_line(event) for event in events]
        for part in parts:
            report.merge(part)
        self._add_usage(report.counted)
        for (project, environment, key_id), epoch in report.last_used.items():
            self.keys.touch_last_used(project, environment, key_id, to_iso(epoch))
        return report

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

    def _environment_of(self, line: dict[str, Any]) -> tuple[str, str] | None:
        project, environment = line.get("project"), line.get("environment")
        if project not in _MISSING and environment not in _MISSING:
            return str(project), str(environment)
        # $context.path starts with the stage: /v1/projects/<p>/environments/<e>/...
        parts = str(line.get("path", "")).split("/")
        if len(parts) > 1 and parts[1] == line.get("stage"):
            parts = parts[:1] + parts[2:]
        if (
            len(parts) >= 5
            and parts[1] == "projects"
            and parts[3] == "environments"
            and SLUG_RE.match(parts[2])
            and SLUG_RE.match(parts[4])
        ):
            return parts[2], parts[4]
        if self._stage_environments is None:
            self._stage_environments = self._stage_environments_source()
        return self._stage_environments.get(f"{line.get('api_id')}/{line.get('stage')}")

    def _ingest_access(self, line: dict[str, Any], report: IngestReport) -> None:
        request_id = str(line["request_id"])
        epoch = int(str(line.get("time_epoch_ms"))) / 1000
        status = int(str(line["status"]))
        place = self._environment_of(line)
        if place is None:
            raise ValueError("no project and environment for this request")
        project, environment = place
        values: dict[str, Any] = {
            "kind": "request",
            "project": project,
            "environment": environment,
            "time": to_iso(epoch),
            "method": line.get("method"),
            "path": line.get("path"),
            "status": status,
            "source_ip": line.get("source_ip"),
            "user_agent": line.get("user_agent"),
            "api": f"{line.get('api_id')}/{line.get('stage')}",
            "error": None if line.get("error") in _MISSING else line.get("error"),
        }
        values = self.writer.request_values(
            request_id, project, environment, {k: v for k, v in values.items() if v is not None}
        )
        key_id = line.get("key_id")
        known_key = str(key_id) if key_id not in _MISSING and KEY_ID_RE.match(str(key_id)) else None
        report.records += 1
        if known_key is None:
            self.writer.update_request(request_id, values)
            return
        if self.writer.write_attributed(request_id, values, project, environment, known_key):
            outcome = "refused" if status in (401, 403) else "allowed"
            report.counted[(project, environment, known_key, outcome, hour_of(epoch))] += 1
        if status < 500:
            slot = (project, environment, known_key)
            report.last_used[slot] = max(report.last_used.get(slot, 0.0), epoch)

    def _ingest_refusal(self, line: dict[str, Any], epoch: float, report: IngestReport) -> None:
        request_id, key_id = line.get("request_id"), line.get("key_id")
        project, environment = line.get("project"), line.get("environment")
        if not request_id:
            raise ValueError("a refusal without request id")
        values: dict[str, Any] = {"reason": str(line.get("reason", "unknown"))}
        report.refusals += 1
        if key_id and project and environment and KEY_ID_RE.match(str(key_id)):
            if self.writer.write_attributed(str(request_id), values, str(project), str(environment), str(key_id)):
                report.counted[(str(project), str(environment), str(key_id), "refused", hour_of(epoch))] += 1
        else:
            self.writer.update_request(str(request_id), values)

    def _add_usage(self, counted: Counter[tuple[str, str, str, str, str]]) -> None:
        per_hour: dict[tuple[str, str, str, str], dict[str, int]] = {}
        for (project, environment, key_id, outcome, hour), count in counted.items():
            outcomes = per_hour.setdefault((project, environment, key_id, hour), {})
            outcomes[outcome] = outcomes.get(outcome, 0) + count
        if per_hour:
            self.writer.add_usage(per_hour)
