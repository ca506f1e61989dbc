"""CloudWatch Logs subscriptions, emulated: log lines written to a log group are delivered in batches to the
template's AWS::Logs::SubscriptionFilter targets exactly as AWS delivers them (gzip + base64 `awslogs`
payloads, DATA_MESSAGE, filter patterns applied), by invoking the target handler in-process.

Two sources write here: the local API Gateway (access-log lines rendered from the template's
AccessLogSetting.Format) and the functions' structured logs (captured from the Powertools logger, as Lambda
would ship stdout to /aws/lambda/<function>).

One thing CloudWatch Logs does not do: every delivery carries this deliverer's attestation (`attestation`:
its name, its run, the delivery's number in the run for that log group and subscription, and `throughMs`), and an idle
group gets a delivery with no events every interval, so the ingest watermark a guarded delete waits for
(archie_keys.domain.ingest_watermark) moves on proof, traffic or not. Why the statement is true: a drain swaps
a group's buffer and reads the clock under the lock every `put` appends under, and the local API Gateway
appends a request's access line before it answers; so a line of a request answered before `throughMs` was
appended before the swap, and is in this delivery or an earlier one."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from archie_local.lambdas import FunctionRegistry
from archie_local.template import ACCOUNT_ID, Resolver, resources_of_type

logger = logging.getLogger("archie_local.logs")

MAX_BATCH = 500
# The name the ingest knows this deliverer's attestations by (its AUDIT_TRUSTED_DELIVERER setting).
LOCAL_DELIVERER = "local"


def encode_subscription(payload: dict[str, Any]) -> dict[str, Any]:
    """A subscription delivery as CloudWatch Logs sends it to Lambda: base64 of gzip of JSON."""
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


@dataclass(frozen=True)
class Subscription:
    name: str
    pattern: str
    target: str  # function ARN


def matches(pattern: str, message: str) -> bool:
    """The filter patterns the template uses: empty (everything) and JSON `{ $.field = "value" }` terms
    joined by &&."""
    pattern = pattern.strip()
    if not pattern:
        return True
    terms = re.findall(r'\$\.([A-Za-z0-9_.]+)\s*=\s*"([^"]*)"', pattern)
    if not terms or not (pattern.startswith("{") and pattern.endswith("}")):
        raise ValueError(f"filter pattern not emulated: {pattern}")
    try:
        document = json.loads(message)
    except ValueError:
        return False
    for path, expected in terms:
        value: Any = document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if str(value) != expected:
            return False
    return True


class LogsEmulator:
    def __init__(
        self, template: dict[str, Any], resolver: Resolver, registry: FunctionRegistry, interval: float = 0.3
    ) -> None:
        self._registry = registry
        self._interval = interval
        self.subscriptions: dict[str, list[Subscription]] = {}
        for name, spec in resources_of_type(template, "AWS::Logs::SubscriptionFilter", resolver).items():
            props = resolver.resolve(spec["Properties"])
            self.subscriptions.setdefault(props["LogGroupName"], []).append(
                Subscription(name, props.get("FilterPattern", ""), props["DestinationArn"])
            )
        self._buffer: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="logs-emulator", daemon=True)
        self.delivered_batches = 0
        # Sorts after every earlier run's id (a restarted deliverer numbers its deliveries from 1 again).
        self.run_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self._sequences: dict[tuple[str, str], int] = {}
        self._attested: dict[tuple[str, str], int] = {}

    def start(self) -> LogsEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()

    def put(self, log_group: str, message: str, timestamp_ms: int | None = None) -> None:
        if log_group not in self.subscriptions:
            return
        event = {"id": uuid.uuid4().hex, "timestamp": timestamp_ms or int(time.time() * 1000), "message": message}
        with self._lock:
            self._buffer.setdefault(log_group, []).append(event)

    def flush(self) -> int:
        """Deliver everything buffered now; returns the number of log events delivered."""
        delivered = 0
        with self._deliver_lock:
            with self._lock:
                pending, self._buffer = self._buffer, {}
                drained_ms = int(time.time() * 1000)
            for group in self.subscriptions:
                events = pending.get(group, [])
                batches = [events[start : start + MAX_BATCH] for start in range(0, len(events), MAX_BATCH)]
                for number, batch in enumerate(batches or [[]], start=1):
                    # Only the group's last batch of this drain holds every line up to the drain.
                    delivered += self._deliver(group, batch, drained_ms if number == max(1, len(batches)) else None)
        return delivered

    def _deliver(self, group: str, events: list[dict[str, Any]], drained_ms: int | None) -> int:
        for subscription in self.subscriptions[group]:
            selected = [e for e in events if matches(subscription.pattern, e["message"])]
            if not selected and drained_ms is None:
                continue
            source = (group, subscription.name)
            sequence = self._sequences.get(source, 0) + 1
            self._sequences[source] = sequence
            if drained_ms is not None:
                self._attested[source] = drained_ms
            payload = {
                "messageType": "DATA_MESSAGE",
                "owner": ACCOUNT_ID,
                "logGroup": group,
                "logStream": "local",
                "subscriptionFilters": [subscription.name],
                "logEvents": selected,
                "attestation": {
                    "deliverer": LOCAL_DELIVERER,
                    "run": self.run_id,
                    "sequence": sequence,
                    "throughMs": self._attested.get(source, 0),
                },
            }
            # CloudWatch Logs invokes its subscription targets asynchronously (retries, then the dead letters).
            if not self._registry.by_arn[subscription.target].invoke_async(encode_subscription(payload)):
                logger.error("subscription %s: a batch failed every attempt", subscription.name)
            if selected:
                self.delivered_batches += 1
        return len(events)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()


class FunctionLogCapture(logging.Handler):
    """Ships one module's Powertools log records (JSON, with their extra keys) to its function's log group,
    as Lambda ships that function's stdout. In-process all functions share one logger, so records are
    told apart by the module that wrote them."""

    FIELDS = ("request_id", "extended_request_id", "reason", "key_id", "project", "environment")

    def __init__(self, emulator: LogsEmulator, log_group: str, module_path: str) -> None:
        super().__init__(level=logging.INFO)
        self._emulator = emulator
        self._log_group = log_group
        self._module_path = module_path

    def emit(self, record: logging.LogRecord) -> None:
        if not record.pathname.endswith(self._module_path):
            return
        document = {
            "level": record.levelname,
            "message": record.getMessage(),
            "service": record.name,
            "timestamp": int(record.created * 1000),
        }
        document.update({f: getattr(record, f) for f in self.FIELDS if getattr(record, f, None) is not None})
        self._emulator.put(self._log_group, json.dumps(document), int(record.created * 1000))


_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")


def render_access_log(format_string: str, variables: dict[str, Any]) -> str:
    """API Gateway's access-log rendering: each $context variable replaced by its value ("-" when absent),
    JSON-escaped since the template's format is JSON."""

    def replace(match: re.Match[str]) -> str:
        value = variables.get(match.group(1))
        text = "-" if value in (None, "") else str(value)
        return json.dumps(text)[1:-1]

    return _CONTEXT_VARIABLE.sub(replace, format_string)
