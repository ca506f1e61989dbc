"""The instruments `make cost` measures the local stack with: item sizes as DynamoDB counts them, a fit of block
sizes, what a function writes to its log group per invocation (stdout, and the Powertools logger bound to it),
the line Lambda's Python runtime writes when a handler raises, and a meter of the AWS calls made meanwhile
(DynamoDB calls priced in read and write units from their requests)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import botocore.client

# The loggers whose handlers were bound to stdout when created: the Powertools service logger of the
# functions (POWERTOOLS_SERVICE_NAME) and the authorizer's own JSON lines.
STDOUT_LOGGERS = ("archie-keys", "archie-keys.authorizer")


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it for capacity units: attribute names plus values."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = len(str(Decimal(inner)).lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(v) for name, v in inner.items())
    raise ValueError(kind)


def fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares size = fixed + per_record * records, over (records, size) points."""
    if len({x for x, _ in points}) < 2:
        x, y = points[0]
        return 0.0, y / x
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return max(0.0, mean_y - slope * mean_x), slope


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class _ThreadStream(io.StringIO):
    """A stream keeping only what the thread that made it writes: in-process, other functions (the
    authorizer behind the local gateway) write to the same stdout meanwhile, to log groups of their own."""

    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.get_ident()

    def write(self, text: str) -> int:
        return super().write(text) if threading.get_ident() == self._thread else len(text)


@contextlib.contextmanager
def function_output() -> Iterator[io.StringIO]:
    """What a function invoked on this thread meanwhile writes to its log group: stdout (metric lines, the
    authorizer's lines) and the loggers whose handlers hold the stdout of the moment they were made
    (Powertools)."""
    written = _ThreadStream()
    handlers = [
        handler
        for name in STDOUT_LOGGERS
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
    ]
    streams = [handler.setStream(written) for handler in handlers]
    try:
        with contextlib.redirect_stdout(written):
            yield written
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                handler.setStream(stream)


def lines_of(written: io.StringIO) -> tuple[int, int]:
    """(bytes, log events) of what a function wrote: each line is an event of its log group."""
    text = written.getvalue()
    return len(text.encode()), sum(1 for line in text.splitlines() if line.strip())


def _lambda_path(filename: str) -> str:
    """Where a file is on Lambda: a handler under /var/task, the layer's package under /opt/python."""
    if "/archie_keys/" in filename:
        return "/opt/python/archie_keys/" + filename.split("/archie_keys/", 1)[1]
    return "/var/task/" + filename.rsplit("/", 1)[-1]


def runtime_error_line(error: BaseException, handler_file: str) -> str:
    """The line Lambda's Python runtime (awslambdaric, JSON log format) writes when a handler raises: the
    error's message, type, the request id and the stack trace from the handler's frame on."""
    frames = traceback.extract_tb(error.__traceback__)
    first = next((i for i, frame in enumerate(frames) if frame.filename.endswith(handler_file)), 0)
    trace = [(_lambda_path(frame.filename), frame.lineno, frame.name, frame.line) for frame in frames[first:]]
    return json.dumps(
        {
            "timestamp": "2026-12-02T06:00:00Z",
            "level": "ERROR",
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": str(uuid.uuid4()),
            "stackTrace": traceback.format_list(trace),  # type: ignore[arg-type]
        }
    )


class CallMeter:
    """Counts the AWS calls this process makes while installed (a `with` block), by service and operation,
    and prices DynamoDB's in units from the requests: a Put by its item's size, once for the table and once
    per index whose key the item carries, twice in a transaction; an update, delete or condition check one
    unit (the items touched here are small); a strongly consistent read of a small item one unit, half
    eventually consistent. `indexes`: table name -> the hash key of each of its global secondary indexes."""

    def __init__(self, indexes: dict[str, list[str]]) -> None:
        self.indexes = indexes
        self.calls: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self._original = botocore.client.BaseClient._make_api_call

    def __enter__(self) -> CallMeter:
        meter, original = self, self._original

        def metered(client: Any, operation: str, params: dict[str, Any]) -> Any:
            meter.record(client.meta.service_model.service_name, operation, params)
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = metered
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original

    def _put_units(self, table: str, item: dict[str, Any]) -> float:
        indexed = sum(1 for key in self.indexes.get(table, []) if key in item)
        return -(-item_size(item) // 1024) * (1 + indexed)

    def record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        self.calls[f"{service}:{operation}"] += 1
        if service != "dynamodb":
            return
        consistent = 1.0 if params.get("ConsistentRead") else 0.5
        if operation in ("GetItem", "Query", "Scan"):
            self.read_units += consistent
        elif operation == "BatchGetItem":
            self.read_units += sum(
                len(r["Keys"]) * (1.0 if r.get("ConsistentRead") else 0.5) for r in params["RequestItems"].values()
            )
        elif operation == "TransactGetItems":
            self.read_units += 2 * len(params["TransactItems"])
        elif operation == "PutItem":
            self.write_units += self._put_units(params["TableName"], params["Item"])
        elif operation in ("UpdateItem", "DeleteItem"):
            self.write_units += 1
        elif operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                put = action.get("Put")
                self.write_units += 2 * (self._put_units(put["TableName"], put["Item"]) if put else 1)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    put = request.get("PutRequest")
                    self.write_units += self._put_units(table, put["Item"]) if put else 1


def table_indexes(template: dict[str, Any], environment: dict[str, str]) -> dict[str, list[str]]:
    """The local name of each table the functions' environment names (KEYS_TABLE: !Ref KeysTable), with the
    hash keys of its global secondary indexes."""
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    resources = template["Resources"]
    indexes: dict[str, list[str]] = {}
    for variable, value in variables.items():
        logical = value.get("Ref") if isinstance(value, dict) else None
        if logical in resources and resources[logical]["Type"] == "AWS::DynamoDB::Table":
            specs = resources[logical]["Properties"].get("GlobalSecondaryIndexes", [])
            indexes[environment[variable]] = [
                next(k["AttributeName"] for k in spec["KeySchema"] if k["KeyType"] == "HASH") for spec in specs
            ]
    return indexes
