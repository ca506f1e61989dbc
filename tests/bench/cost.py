"""`make cost`: what a million authorized requests cost, from the template and from what the local stack writes.

Reads the template (memory, architecture, tracing, log format, the audit table's indexes and projections,
retention), starts the local stack, sends requests through the sample API with keys of a real shape, lets
the audit ingest and compact them, and measures the bytes of every access-log line, of what the authorizer
writes per decision, and of every item the audit and the keys table hold (sized as DynamoDB sizes items).
tests/bench/cost_model.py turns those into dollars with list prices and stated assumptions.

Prints a table and the capacity table; the last line is one JSON object with `usd_per_million_requests`
(0% API Gateway cache hits, the full per-request audit, API Gateway's own fee excluded), the same at 90%
hits, the breakdown and every input.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import sys
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from archie_keys.aws.audit_writer import AUDIT_SHARDS
from tests.bench.cost_model import (
    ACCESS_LOG_STREAMS,
    ACTIVE_KEYS,
    CAPACITY_RPS,
    PRICE_DATE,
    PRICE_REGION,
    REFERENCE_RPS,
    ZIPF_EXPONENT,
    Measured,
    TemplateFacts,
    as_json,
    capacity,
    estimate,
    zipf_shares,
)

KEYS = 40
REQUESTS = 1500


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


def template_facts() -> TemplateFacts:
    from archie_local.template import load_template

    template = load_template()
    resources, parameters = template["Resources"], template["Parameters"]
    globals_fn = template["Globals"]["Function"]

    def memory(name: str) -> int:
        return int(resources[name]["Properties"].get("MemorySize", globals_fn.get("MemorySize", 128)))

    authorizer = resources["AuthorizerFunction"]["Properties"]
    logging_config = authorizer.get("LoggingConfig", globals_fn.get("LoggingConfig", {}))
    platform_lines = not (
        logging_config.get("LogFormat") == "JSON" and logging_config.get("SystemLogLevel") in ("WARN", "ERROR")
    )
    audit = resources["AuditTable"]["Properties"]
    environment = globals_fn.get("Environment", {}).get("Variables", {})
    return TemplateFacts(
        authorizer_memory_mb=memory("AuthorizerFunction"),
        ingest_memory_mb=memory("AuditIngestFunction"),
        compactor_memory_mb=memory("AuditCompactFunction"),
        architecture=globals_fn.get("Architectures", ["x86_64"])[0],
        tracing_default_on=parameters["Tracing"]["Default"] == "Active",
        authorizer_platform_lines=platform_lines,
        log_retention_days=int(parameters["LogRetentionDays"]["Default"]),
        audit_retention_days=int(parameters["AuditRetentionDays"]["Default"]),
        arrival_bucket_seconds=float(parameters["AuditArrivalBucketSeconds"]["Default"]),
        authorizer_cache_ttl_seconds=float(environment["AUTHORIZER_CACHE_TTL_SECONDS"]),
        audit_indexes={
            index["IndexName"]: index["Projection"]["ProjectionType"] for index in audit["GlobalSecondaryIndexes"]
        },
        reserved_authorizer_concurrency=int(parameters["AuthorizerReservedConcurrency"]["Default"]),
    )


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


def measure() -> Measured:
    import boto3

    from archie_local.stack import LocalStack
    from tests.support import env_path, http

    with LocalStack(port=0, sample_port=0) as stack:  # the deployed argon2 parameters and log formats
        admin = stack.bootstrap("demo", "dev")
        base, sample = stack.url(), stack.url("SampleApi")
        role = {
            "permissions": [
                {"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}
            ]
        }
        assert http(base, "PUT", env_path("demo", "dev", "/roles/orders-reader"), admin, role).status in (200, 201)
        keys = []
        for i in range(KEYS):
            body = {
                "name": f"billing-service-{i:02d}",
                "roles": ["orders-reader"],
                "context": {"tenant": f"t-{i:04d}", "team": "payments"},
            }
            reply = http(base, "POST", env_path("demo", "dev", "/keys"), admin, body)
            assert reply.status == 201, reply.body
            keys.append(reply.body["key"])

        access_lines: list[str] = []
        original_put = stack.logs.put

        def keep(group: str, message: str, timestamp_ms: int | None = None) -> None:
            if group == stack.apis["SampleApi"].access_log_group:
                access_lines.append(message)
            original_put(group, message, timestamp_ms)

        stack.logs.put = keep
        weights = [1 / rank for rank in range(1, KEYS + 1)]
        chooser = random.Random(7)
        for _ in range(REQUESTS):
            key = chooser.choices(keys, weights)[0]
            reply = http(
                sample, "GET", f"/orders/{uuid.uuid4().hex[:8]}", key, headers={"User-Agent": "orders-client/2.3"}
            )
            assert reply.status == 200, reply.body
        stack.settle_audit()
        stack.logs.put = original_put

        authorizer_bytes = authorizer_output(stack, keys[0])
        dynamodb = boto3.client("dynamodb")
        audit = scan(dynamodb, stack.provisioned.environment["AUDIT_TABLE"])
        key_items = scan(dynamodb, stack.provisioned.environment["KEYS_TABLE"])

    def blocks(prefix: str) -> list[tuple[float, float]]:
        return [(int(i["count"]["N"]), item_size(i)) for i in audit if i["pk"]["S"].startswith(prefix)]

    env_fixed, env_per_record = fit(blocks("ENVB#"))
    key_fixed, key_per_record = fit(blocks("BLK#"))
    env_block = next(i for i in audit if i["pk"]["S"].startswith("ENVB#"))
    arrival_entry = item_size({name: env_block[name] for name in ("pk", "sk", "arrival", "at")})
    # Without the buckets it counted: locally a bucket is a second, on AWS a minute (the model adds them).
    usage = [
        item_size({k: v for k, v in i.items() if k != "counted"}) for i in audit if i["pk"]["S"].startswith("USAGE#")
    ]
    key_records = [item_size(i) for i in key_items if i["sk"]["S"].startswith("KEY#") and "last_used_at" in i]
    roles = [item_size(i) for i in key_items if i["sk"]["S"].startswith("ROLE#")]
    return Measured(
        access_log_line_bytes=sum(len(line.encode()) for line in access_lines) / len(access_lines),
        authorizer_stdout_bytes_per_allowed=authorizer_bytes,
        env_block_fixed_bytes=env_fixed,
        env_block_bytes_per_record=env_per_record,
        key_block_fixed_bytes=key_fixed,
        key_block_bytes_per_record=key_per_record,
        arrival_entry_bytes=arrival_entry,
        usage_item_bytes=max(usage),
        key_item_bytes=sum(key_records) / len(key_records),
        role_item_bytes=max(roles),
        roles_per_key=1,
    )


def authorizer_output(stack: Any, key: str, decisions: int = 200) -> float:
    """Bytes the authorizer writes to stdout (its log group) per accepted decision, warm."""
    authorizer = stack.registry["AuthorizerFunction"]
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:sample/dev/GET/orders/1",
        "headers": {"Authorization": f"Bearer {key}"},
        "stageVariables": {"project": "demo", "environment": "dev"},
        "requestContext": {"requestId": "r", "extendedRequestId": "e"},
    }
    authorizer.invoke(event)
    written = io.StringIO()
    with contextlib.redirect_stdout(written):
        for _ in range(decisions):
            authorizer.invoke(event)
    return len(written.getvalue().encode()) / decisions


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def main() -> int:
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the handlers' own lines, for the whole run
    facts = template_facts()
    measured = measure()
    cold, warm = estimate(REFERENCE_RPS, 0.0, facts, measured), estimate(REFERENCE_RPS, 0.9, facts, measured)
    rows: list[tuple[str, ...]] = [("component", "0% hits $/M", "90% hits $/M", "how")]
    for a, b in zip(cold.lines, warm.lines, strict=True):
        rows.append((a.name, f"{a.usd_per_million:.4f}", f"{b.usd_per_million:.4f}", a.note))
    rows.append(("total", f"{cold.total:.4f}", f"{warm.total:.4f}", "API Gateway's own request fee excluded"))
    print(
        f"Cost per million authorized requests at {REFERENCE_RPS:,} requests/s over {ACTIVE_KEYS:,} active keys "
        f"(Zipf {ZIPF_EXPONENT}), list prices {PRICE_REGION} {PRICE_DATE}:\n",
        file=out,
    )
    print(table(rows), file=out)
    capacities = [capacity(rps, facts, measured) for rps in CAPACITY_RPS]
    by_rate = [estimate(rps, 0.0, facts, measured).total for rps in CAPACITY_RPS]
    print("\nCapacity (0% cache hits; key popularity Zipf 1.0 over 1,000 keys):\n", file=out)
    rows = [
        (
            "requests/s",
            "$/M",
            "authorizer concurrency",
            "KeysTable RCU/s (hottest partition)",
            "AuditTable WCU/s (hottest partition)",
            "ingest invocations/s (concurrency)",
            "audit lag: environment / key",
        )
    ]
    for c, dollars in zip(capacities, by_rate, strict=True):
        rows.append(
            (
                f"{c.rps:,}",
                f"{dollars:.3f}",
                f"{c.authorizer_concurrency}",
                f"{c.keys_table_read_units_per_second} ({c.keys_hottest_partition_read_units})",
                f"{c.audit_write_units_per_second} ({c.audit_hottest_partition_write_units})",
                f"{c.ingest_invocations_per_second} ({c.ingest_concurrency})",
                f"~{c.audit_lag_environment_seconds:.0f} s / ~{c.audit_lag_key_seconds:.0f} s",
            )
        )
    print(table(rows), file=out)
    top = capacities[-1]
    limits = [
        ("what", f"at {top.rps:,}/s", "AWS limit it approaches", "past the limit"),
        (
            "authorizer concurrency",
            f"{top.authorizer_concurrency}",
            f"AuthorizerReservedConcurrency ({facts.reserved_authorizer_concurrency}); account 1,000 by default",
            "raise the parameter (and the account quota); raise ReauthorizeEvery to serve more from the cache",
        ),
        (
            "KeysTable hottest partition",
            f"{top.keys_hottest_partition_read_units} RCU/s",
            "3,000 RCU/s per partition",
            "the hottest key is re-read by each warm instance once a second: raise AUTHORIZER_CACHE_TTL_SECONDS",
        ),
        (
            "AuditTable hottest partition",
            f"{top.audit_hottest_partition_write_units} WCU/s",
            "1,000 WCU/s per partition",
            "the compactor's own pace for a hot key's blocks (800 WCU/s a partition); raise AUDIT_SHARDS to spread wider",
        ),
        (
            "one key's audit (compactor)",
            f"hottest key {zipf_shares()[0] * top.rps:,.0f} requests/s",
            f"1,000 WCU/s per partition, {AUDIT_SHARDS} partitions a key: ~{top.one_key_max_requests_per_second:,.0f}/s",
            "raise AUDIT_SHARDS; the compactor paces each partition at 800 WCU/s (app.compaction_writes)",
        ),
        (
            "ingest",
            f"{top.ingest_invocations_per_second}/s, {top.ingest_concurrency} concurrent",
            "account concurrency; 2 subscription filters per log group",
            "reserve concurrency for the ingest; one log group per API stage keeps filters free",
        ),
    ]
    print("\n" + table(limits), file=out)
    print(
        f"Assumptions: deliveries of ~1 s from {ACCESS_LOG_STREAMS} access-log streams; see tests/bench/cost_model.py.",
        file=out,
    )
    slower = dataclasses.replace(facts, arrival_bucket_seconds=300.0)
    quiet = {str(rps): round(estimate(rps, 0.0, slower, measured).total, 4) for rps in CAPACITY_RPS}
    print(
        "With AuditArrivalBucketSeconds=300 (keys' view ~10 minutes behind): "
        + ", ".join(f"${quiet[str(rps)]:.3f}/M at {rps:,}/s" for rps in CAPACITY_RPS),
        file=out,
    )
    result = {
        "usd_per_million_requests": round(cold.total, 4),
        "usd_per_million_requests_90pct_cache_hits": round(warm.total, 4),
        "reference_requests_per_second": REFERENCE_RPS,
        "breakdown": {line.name: round(line.usd_per_million, 5) for line in cold.lines},
        "breakdown_90pct_cache_hits": {line.name: round(line.usd_per_million, 5) for line in warm.lines},
        "usd_per_million_by_rate": {str(rps): round(d, 4) for rps, d in zip(CAPACITY_RPS, by_rate, strict=True)},
        "usd_per_million_by_rate_with_300s_buckets": quiet,
        "capacity": [as_json(c) for c in capacities],
        "template": as_json(facts),
        "measured": {k: round(v, 2) for k, v in as_json(measured).items()},
        "prices": {"region": PRICE_REGION, "date": PRICE_DATE},
    }
    print(json.dumps(result), file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
