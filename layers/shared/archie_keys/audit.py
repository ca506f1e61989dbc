"""The audit trail: one record per request (from API Gateway access logs, refusal details from the
authorizer's log) and one per management event, queried by key, by actor or by environment.

Table layout (AuditTable):

    pk = REQ#<request id>, sk = R        a request; written by whichever log line arrives first, completed
                                         by the other, so a redelivered batch or a second stream never
                                         duplicates it
    pk = EVT#<event id>,   sk = E        a management event (key created, deleted, rolled; role changed; ...)
    pk = USAGE#<p>#<e>#<key id>, sk = <hour>   requests per key and hour

    GSI by_key   (key_bucket   = <p>#<e>#<key id>#<shard>, at)   requests by a key, events about it
    GSI by_actor (actor_bucket = <p>#<e>#<actor key id>#<shard>, at)   events a key performed
    GSI by_env   (env_bucket   = <p>#<e>#<shard>, at)   everything in an environment

`at` is "<ISO time>#<id>": unique and time-ordered. The shard (a hash of the record id, AUDIT_SHARDS of
them) spreads one busy key over several index partitions, so it is never a hot partition. A page reads
AUDIT_SHARDS index queries of at most `limit + 1` items each, however many records the key has.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import heapq
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archie_keys.authorizer import REFUSAL_MESSAGE
from archie_keys.clock import from_iso, to_iso
from archie_keys.errors import ValidationFailedError
from archie_keys.keyformat import KEY_ID_RE, SLUG_RE
from archie_keys.store import aws_error_code, dynamodb_client, from_item, to_item

logger = logging.getLogger("archie_keys.audit")

AUDIT_SHARDS = 4
INGEST_WORKERS = 8
INDEX_BY_KEY, INDEX_BY_ACTOR, INDEX_BY_ENV = "by_key", "by_actor", "by_env"
_MISSING = ("", "-", None)


def shard_of(record_id: str) -> int:
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:2], "big") % AUDIT_SHARDS


def bucket(*parts: str) -> str:
    return "#".join(parts)


def hour_of(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:00Z")


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


def decode_subscription(event: dict[str, Any]) -> dict[str, Any]:
    """A CloudWatch Logs subscription delivery: base64 of gzip of JSON."""
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


def encode_subscription(payload: dict[str, Any]) -> dict[str, Any]:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


class AuditLog:
    def __init__(
        self,
        table: str,
        keys_table: str,
        retention_days: int,
        stage_environments: Callable[[], dict[str, tuple[str, str]]] = dict,
        client: Any | None = None,
    ) -> None:
        self.table = table
        self.keys_table = keys_table
        self.retention_seconds = retention_days * 86400
        # restApiId/stage -> (project, environment) for protected APIs, whose paths do not name them; read
        # only when ingesting (it may cost an SSM call), so functions that only record events never pay it.
        self._stage_environments_source = stage_environments
        self._stage_environments: dict[str, tuple[str, str]] | None = None
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = dynamodb_client()
        return self._client

    # --- writing ---------------------------------------------------------------------------------------

    def record_event(
        self,
        event: str,
        project: str,
        environment: str,
        actor_key_id: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """A management event, attributed to the key that performed it (and, if about a key, to that key)."""
        event_id = uuid.uuid4().hex
        now = time.time()
        shard = str(shard_of(event_id))
        item: dict[str, Any] = {
            "pk": f"EVT#{event_id}",
            "sk": "E",
            "kind": "event",
            "event": event,
            "project": project,
            "environment": environment,
            "actor_key_id": actor_key_id,
            "at": f"{to_iso(now)}#{event_id}",
            "time": to_iso(now),
            "purge_epoch": int(now + self.retention_seconds),
            "actor_bucket": bucket(project, environment, actor_key_id, shard),
            "env_bucket": bucket(project, environment, shard),
            "details": details or {},
        }
        if key_id:
            item["key_id"] = key_id
            item["key_bucket"] = bucket(project, environment, key_id, shard)
        self.client.put_item(TableName=self.table, Item=to_item(item))

    def ingest(self, payload: dict[str, Any]) -> IngestReport:
        """Write the audit records of one decoded subscription payload. Malformed lines are skipped and
        counted, never failing the batch; a redelivered batch writes nothing new. Lines are independent
        records, so they are written by a few threads at once (each write is one DynamoDB round trip)."""
        report = IngestReport()
        if payload.get("messageType") == "CONTROL_MESSAGE":
            report.control_messages += 1
            return report
        events = payload.get("logEvents", [])
        if len(events) > 1:
            with ThreadPoolExecutor(max_workers=INGEST_WORKERS, thread_name_prefix="audit") as pool:
                parts = list(pool.map(self._ingest_line, events))
        else:
            parts = [self._ingest_line(event) for event in events]
        for part in parts:
            report.merge(part)
        self._add_usage(report.counted)
        self._touch_last_used(report.last_used)
        return report

    def _ingest_line(self, log_event: dict[str, Any]) -> IngestReport:
        report = IngestReport()
        try:
            line = json.loads(log_event["message"])
            if not isinstance(line, dict):
                raise ValueError("not an object")
            if line.get("message") == REFUSAL_MESSAGE:
                self._ingest_refusal(line, int(log_event.get("timestamp", time.time() * 1000)) / 1000, report)
            elif "request_id" in line and "status" in line:
                self._ingest_access(line, report, report.last_used)
            else:
                raise ValueError("neither an access record nor a refusal")
        except (ValueError, KeyError, TypeError) as error:
            report.skipped += 1
            logger.warning("skipped an audit line: %s", error)
        return report

    def _request_item_key(self, request_id: str) -> dict[str, Any]:
        return to_item({"pk": f"REQ#{request_id}", "sk": "R"})

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

    def _ingest_access(
        self, line: dict[str, Any], report: IngestReport, last_used: dict[tuple[str, str, str], float]
    ) -> None:
        request_id = str(line["request_id"])
        epoch = int(str(line.get("time_epoch_ms"))) / 1000
        status = int(str(line["status"]))
        place = self._environment_of(line)
        if place is None:
            raise ValueError("no project and environment for this request")
        project, environment = place
        shard = str(shard_of(request_id))
        values: dict[str, Any] = {
            "kind": "request",
            "project": project,
            "environment": environment,
            "time": to_iso(epoch),
            "at": f"{to_iso(epoch)}#{request_id}",
            "method": line.get("method"),
            "path": line.get("path"),
            "status": status,
            "source_ip": line.get("source_ip"),
            "user_agent": line.get("user_agent"),
            "api": f"{line.get('api_id')}/{line.get('stage')}",
            "error": None if line.get("error") in _MISSING else line.get("error"),
            "env_bucket": bucket(project, environment, shard),
            "purge_epoch": int(epoch + self.retention_seconds),
        }
        key_id = line.get("key_id")
        known_key = str(key_id) if key_id not in _MISSING and KEY_ID_RE.match(str(key_id)) else None
        values = {k: v for k, v in values.items() if v is not None}
        report.records += 1
        if known_key is None:
            self._update_request(request_id, values)
            return
        self._write_attributed(request_id, values, project, environment, known_key, epoch, status, report)
        if status < 500:
            slot = (project, environment, known_key)
            last_used[slot] = max(last_used.get(slot, 0.0), epoch)

    def _ingest_refusal(self, line: dict[str, Any], epoch: float, report: IngestReport) -> None:
        request_id, key_id = line.get("request_id"), line.get("key_id")
        project, environment = line.get("project"), line.get("environment")
        if not request_id:
            raise ValueError("a refusal without request id")
        values: dict[str, Any] = {"reason": str(line.get("reason", "unknown"))}
        report.refusals += 1
        if key_id and project and environment and KEY_ID_RE.match(str(key_id)):
            self._write_attributed(
                str(request_id), values, str(project), str(environment), str(key_id), epoch, 401, report
            )
        else:
            self._update_request(str(request_id), values)

    def _update_request(self, request_id: str, values: dict[str, Any], condition: str | None = None) -> None:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._request_item_key(request_id),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item({f":a{i}": v for i, v in enumerate(values.values())}),
        }
        if condition:
            request["ConditionExpression"] = condition
        self.client.update_item(**request)

    def _write_attributed(
        self,
        request_id: str,
        values: dict[str, Any],
        project: str,
        environment: str,
        key_id: str,
        epoch: float,
        status: int,
        report: IngestReport,
    ) -> None:
        """Write the record's fields and give it its key, once: whichever stream names the key first counts
        the request in the key's usage. One conditional write, a second plain one only if already attributed
        (a redelivery, or the other stream came first)."""
        shard = str(shard_of(request_id))
        attributed = {**values, "key_id": key_id, "key_bucket": bucket(project, environment, key_id, shard)}
        try:
            self._update_request(request_id, attributed, condition="attribute_not_exists(key_id)")
        except Exception as error:
            if aws_error_code(error) != "ConditionalCheckFailedException":
                raise
            self._update_request(request_id, values)
            return
        outcome = "refused" if status in (401, 403) else "allowed"
        report.counted[(project, environment, key_id, outcome, hour_of(epoch))] += 1

    def _add_usage(self, counted: Counter[tuple[str, str, str, str, str]]) -> None:
        per_hour: dict[tuple[str, str, str, str], dict[str, int]] = {}
        for (project, environment, key_id, outcome, hour), count in counted.items():
            per_hour.setdefault((project, environment, key_id, hour), {}).setdefault(outcome, 0)
            per_hour[(project, environment, key_id, hour)][outcome] += count
        for (project, environment, key_id, hour), outcomes in per_hour.items():
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"pk": f"USAGE#{project}#{environment}#{key_id}", "sk": hour}),
                UpdateExpression="ADD allowed :allowed, refused :refused SET purge_epoch = :purge",
                ExpressionAttributeValues=to_item(
                    {
                        ":allowed": outcomes.get("allowed", 0),
                        ":refused": outcomes.get("refused", 0),
                        ":purge": int(from_iso(hour.replace("Z", "+00:00")) + self.retention_seconds),
                    }
                ),
            )

    def _touch_last_used(self, last_used: dict[tuple[str, str, str], float]) -> None:
        from archie_keys.store import partition

        for (project, environment, key_id), epoch in last_used.items():
            try:
                self.client.update_item(
                    TableName=self.keys_table,
                    Key=to_item({"pk": partition(project, environment), "sk": f"KEY#{key_id}"}),
                    UpdateExpression="SET last_used_at = :t",
                    ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_used_at) "
                    "OR last_used_at < :t)",
                    ExpressionAttributeValues=to_item({":t": to_iso(epoch)}),
                )
            except Exception as error:
                if aws_error_code(error) != "ConditionalCheckFailedException":
                    raise

    # --- reading ---------------------------------------------------------------------------------------

    def query(
        self,
        project: str,
        environment: str,
        key_id: str | None,
        actor_key_id: str | None,
        since: str | None,
        until: str | None,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first. One Query per shard of `limit + 1` items at most: the cost of a page does not grow
        with the number of records."""
        lower = _bound(since, "since") or "0000"
        until_bound = _bound(until, "until")
        # "#~" sorts after every "#<id>", so a record at exactly `until` is included.
        upper = f"{until_bound}#~" if until_bound else "9999"
        if next_token:
            upper = _decode_cursor(next_token)
        if key_id:
            index, attribute, prefix = INDEX_BY_KEY, "key_bucket", bucket(project, environment, key_id)
        elif actor_key_id:
            index, attribute, prefix = INDEX_BY_ACTOR, "actor_bucket", bucket(project, environment, actor_key_id)
        else:
            index, attribute, prefix = INDEX_BY_ENV, "env_bucket", bucket(project, environment)
        now = time.time()
        streams = []
        for shard in range(AUDIT_SHARDS):
            response = self.client.query(
                TableName=self.table,
                IndexName=index,
                KeyConditionExpression="#b = :b AND #at BETWEEN :lower AND :upper",
                ExpressionAttributeNames={"#b": attribute, "#at": "at"},
                ExpressionAttributeValues=to_item({":b": f"{prefix}#{shard}", ":lower": lower, ":upper": upper}),
                ScanIndexForward=False,
                Limit=limit + 1,
            )
            streams.append([from_item(i) for i in response.get("Items", [])])
        merged = heapq.merge(*streams, key=lambda item: item["at"], reverse=True)
        page: list[dict[str, Any]] = []
        more = False
        for item in merged:
            if next_token and item["at"] == upper:
                continue  # the cursor's own record was the last of the previous page
            if item.get("purge_epoch", now + 1) <= now:
                continue  # past retention: TTL deletes it eventually, reads never show it
            if actor_key_id and key_id and item.get("actor_key_id") != actor_key_id:
                continue
            if len(page) == limit:
                more = True
                break
            page.append(item)
        cursor = _encode_cursor(page[-1]["at"]) if more and page else None
        return [audit_view(item) for item in page], cursor

    def usage(self, project: str, environment: str, key_id: str, since_epoch: float) -> list[dict[str, Any]]:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues=to_item(
                {":pk": f"USAGE#{project}#{environment}#{key_id}", ":since": hour_of(since_epoch)}
            ),
        )
        return [
            {
                "hour": i["sk"],
                "allowed": int(i.get("allowed", 0)),
                "refused": int(i.get("refused", 0)),
                "requests": int(i.get("allowed", 0)) + int(i.get("refused", 0)),
            }
            for i in (from_item(item) for item in response.get("Items", []))
        ]


def audit_view(item: dict[str, Any]) -> dict[str, Any]:
    hidden = {"pk", "sk", "key_bucket", "actor_bucket", "env_bucket", "at", "purge_epoch"}
    view = {k: v for k, v in item.items() if k not in hidden}
    view["id"] = item["pk"].split("#", 1)[1]
    return view


def _bound(value: str | None, field_name: str) -> str | None:
    if not value:
        return None
    try:
        return to_iso(from_iso(value))
    except ValueError:
        raise ValidationFailedError(f"{field_name} must be an ISO 8601 time", field=field_name) from None


def _encode_cursor(at: str) -> str:
    return base64.urlsafe_b64encode(at.encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
        if "#" not in decoded:
            raise ValueError
        return decoded
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailedError("next_token is not a token this listing gave", field="next_token") from None
