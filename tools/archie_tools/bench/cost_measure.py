"""What `make cost` measures against the local stack (the deployed argon2 parameters and log formats), in one
run of it:

1. accepted requests: KEYS keys of a real shape, REQUESTS requests through the sample API (popularity Zipf),
   ingested and compacted; every access-log line, block and item sized as DynamoDB sizes them;
2. refused requests: REFUSED_REQUESTS in cost_model.REFUSED_MIX (forged keys, revoked keys, malformed values,
   no key), the same way, their environment blocks apart from the accepted ones;
3. what the authorizer writes per decision of each kind, and the line Lambda's runtime adds when it raises;
4. what the ingest and the compactor write per invocation, and an idle compactor run's calls;
5. one synthetic canary run: its calls (the authorizer's for its two requests included) and its lines.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from typing import Any

from archie_tools.bench.cost_model import API_GATEWAY_BILLS_REFUSED, REFUSED_MIX, Measured
from archie_tools.bench.cost_probes import (
    CallMeter,
    fit,
    function_output,
    item_size,
    lines_of,
    runtime_error_line,
    scan,
    table_indexes,
)

KEYS = 40
REQUESTS = 1500
REFUSED_REQUESTS = 600
LOCAL_REVOKED_KEYS = 4
DELIVERY_LINES = 100  # the delivery the ingest's own lines are measured on
DECISIONS = 50  # authorizer decisions of each kind whose lines are measured
REFUSED_STATUS = {"forged": 403, "revoked": 403, "malformed": 401, "keyless": 401}
ROLE = {
    "permissions": [{"resource": "orders", "actions": ["read"], "filters": {"tenant_id": {"from_context": "tenant"}}}]
}


class SampleAccessLines:
    """The sample API's access-log lines, as the local gateway writes them (before any delivery)."""

    def __init__(self, stack: Any) -> None:
        self.lines: list[str] = []
        self._group = stack.apis["SampleApi"].access_log_group
        original = stack.logs.put

        def keep(group: str, message: str, timestamp_ms: int | None = None) -> None:
            if group == self._group:
                self.lines.append(message)
            original(group, message, timestamp_ms)

        stack.logs.put = keep

    def take(self) -> list[str]:
        taken, self.lines = self.lines, []
        return taken


def authorizer_event(key: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:sample/dev/GET/orders/1",
        "headers": {"Authorization": f"Bearer {key}"},
        "stageVariables": {"project": "demo", "environment": "dev"},
        "requestContext": {"requestId": "r", "extendedRequestId": "e"},
    }


def authorizer_output(stack: Any, keys: list[str], warm: bool = False) -> float:
    """Bytes the authorizer writes to its log group per decision on `keys` (a refusal raises or denies)."""
    authorizer = stack.registry["AuthorizerFunction"]
    if warm:
        authorizer.invoke(authorizer_event(keys[0]))
    with function_output() as written:
        for key in keys:
            try:
                authorizer.invoke(authorizer_event(key))
            except Exception:  # noqa: BLE001, S110 - a malformed key's 401 is a bare Exception, and expected
                pass
    return lines_of(written)[0] / len(keys)


def raised_line(stack: Any, key: str) -> float:
    authorizer = stack.registry["AuthorizerFunction"]
    try:
        authorizer.invoke(authorizer_event(key))
    except Exception as error:  # noqa: BLE001 - the raise (a bare Exception) is what is measured
        handler = authorizer.spec.code_uri / f"{authorizer.spec.handler.rpartition('.')[0]}.py"
        return float(len(runtime_error_line(error, str(handler)).encode()))
    raise AssertionError("a malformed key did not raise")


def refused_plan(chooser: random.Random, issued: list[str], revoked: list[str]) -> list[tuple[str, str | None]]:
    from archie_keys.domain.keyformat import parse_key
    from archie_tools.load.keys import forged_keys, malformed_keys

    counts = {kind: round(REFUSED_REQUESTS * share) for kind, share in REFUSED_MIX.items()}
    first = parse_key(issued[0])
    ids = {parse_key(key).key_id for key in issued + revoked}
    values: dict[str, list[str | None]] = {
        "forged": list(forged_keys(counts["forged"], first.prefix, first.project, first.environment, ids)),
        "revoked": [chooser.choice(revoked) for _ in range(counts["revoked"])],
        "malformed": list(malformed_keys(counts["malformed"], issued)),
        "keyless": [None] * counts["keyless"],
    }
    plan = [(kind, value) for kind, listed in values.items() for value in listed]
    chooser.shuffle(plan)
    return plan


def blocks_fit(items: list[dict[str, Any]]) -> tuple[float, float]:
    return fit([(int(i["count"]["N"]), item_size(i)) for i in items if i["pk"]["S"].startswith("ENVB#")])


def fresh_delivery(group: str, lines: list[str]) -> dict[str, Any]:
    """A subscription delivery of copies of `lines` under new request ids (new records, as a new second's)."""
    from archie_local.logs import encode_subscription

    now = int(time.time() * 1000)
    events = []
    for line in lines:
        record = json.loads(line)
        record["extended_request_id"] = uuid.uuid4().hex
        events.append({"id": uuid.uuid4().hex, "timestamp": now, "message": json.dumps(record)})
    return encode_subscription(
        {"messageType": "DATA_MESSAGE", "logGroup": group, "logStream": "local", "logEvents": events}
    )


def measure() -> Measured:
    import boto3

    from archie_keys.app.canary import probe
    from archie_keys.aws.key_store import partition
    from archie_keys.edge.composition import get_services
    from archie_local.stack import LocalStack
    from archie_local.template import load_template
    from tests.support import env_path, http

    with LocalStack(port=0, sample_port=0) as stack:
        admin = stack.bootstrap("demo", "dev")
        base, sample = stack.url(), stack.url("SampleApi")
        assert http(base, "PUT", env_path("demo", "dev", "/roles/orders-reader"), admin, ROLE).status in (200, 201)

        def new_key(name: str, tenant: str) -> tuple[str, str]:
            body = {"name": name, "roles": ["orders-reader"], "context": {"tenant": tenant, "team": "payments"}}
            reply = http(base, "POST", env_path("demo", "dev", "/keys"), admin, body)
            assert reply.status == 201, reply.body
            return reply.body["key"], reply.body["key_id"]

        def order(key: str | None) -> int:
            path = f"/orders/{uuid.uuid4().hex[:8]}"
            return http(sample, "GET", path, key, headers={"User-Agent": "orders-client/2.3"}).status

        keys = [new_key(f"billing-service-{i:02d}", f"t-{i:04d}")[0] for i in range(KEYS)]
        revoked = []  # made now: the management API's lines land in the accepted phase's blocks
        for i in range(LOCAL_REVOKED_KEYS):
            value, key_id = new_key(f"retired-service-{i}", f"t-r{i}")
            assert http(base, "DELETE", env_path("demo", "dev", f"/keys/{key_id}"), admin).status == 204
            revoked.append(value)
        lines = SampleAccessLines(stack)
        chooser = random.Random(7)
        weights = [1 / rank for rank in range(1, KEYS + 1)]
        for _ in range(REQUESTS):
            assert order(chooser.choices(keys, weights)[0]) == 200
        stack.settle_audit()
        accepted_lines = lines.take()
        dynamodb = boto3.client("dynamodb")
        audit_table = stack.provisioned.environment["AUDIT_TABLE"]
        accepted_audit = scan(dynamodb, audit_table)
        key_items = scan(dynamodb, stack.provisioned.environment["KEYS_TABLE"])

        plan = refused_plan(chooser, keys, revoked)
        for kind, presented in plan:
            assert order(presented) == REFUSED_STATUS[kind], kind
        stack.settle_audit()
        refused_lines = lines.take()
        accepted_blocks = {(i["pk"]["S"], i["sk"]["S"]) for i in accepted_audit}
        refused_blocks = [i for i in scan(dynamodb, audit_table) if (i["pk"]["S"], i["sk"]["S"]) not in accepted_blocks]

        by_kind: dict[str, list[str | None]] = {}
        line_sizes: dict[str, list[int]] = {}
        for (kind, presented), line in zip(plan, refused_lines, strict=True):
            by_kind.setdefault(kind, []).append(presented)
            line_sizes.setdefault(kind, []).append(len(line.encode()))
        metric_lines = {
            kind: authorizer_output(stack, [str(v) for v in by_kind[kind][:DECISIONS]])
            for kind in ("forged", "revoked", "malformed")
        }
        error_line = raised_line(stack, str(by_kind["malformed"][0]))
        allowed = authorizer_output(stack, [keys[0]] * 200, warm=True)
        env_state = [
            item_size(i)
            for i in key_items
            if i["pk"]["S"] == partition("demo", "dev") and i["sk"]["S"].startswith("ENV")
        ]

        stack.quiesce()
        indexes = table_indexes(load_template(), stack.provisioned.environment)
        with function_output() as written:
            log_group = stack.apis["SampleApi"].access_log_group
            assert log_group, "the sample API writes access logs"
            delivery = fresh_delivery(log_group, accepted_lines[:DELIVERY_LINES])
            stack.registry["AuditIngestFunction"].invoke(delivery)
        ingest_bytes, ingest_lines = lines_of(written)
        compactor = stack.registry["AuditCompactFunction"]
        deadline = time.monotonic() + 10
        while True:  # a run that compacts the bucket that delivery landed in, once it has closed
            with function_output() as written:
                busy = compactor.invoke({})
            if busy["buckets"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        compactor_bytes, compactor_lines = lines_of(written)
        while True:  # then a run with nothing left to compact (a bucket may still have been closing)
            with CallMeter(indexes) as idle, function_output():
                if compactor.invoke({})["buckets"] == 0:
                    break
            assert time.monotonic() < deadline + 10, "the compactor never went idle"

        statuses: list[int] = []

        def call(path: str, key: str) -> int:
            statuses.append(http(base, "GET", path, key).status)
            return statuses[-1]

        services = get_services()
        with CallMeter(indexes) as canary, function_output() as written:
            result = probe(services, call, lambda r: services.metrics.canary_probe(r.passed, r.step, r.seconds))
        assert result.passed, result
        canary_bytes, canary_lines = lines_of(written)

    env_fixed, env_per_record = blocks_fit(accepted_audit)
    refused_fixed, refused_per_record = blocks_fit(refused_blocks)
    key_fixed, key_per_record = fit(
        [(int(i["count"]["N"]), item_size(i)) for i in accepted_audit if i["pk"]["S"].startswith("BLK#")]
    )
    env_block = next(i for i in accepted_audit if i["pk"]["S"].startswith("ENVB#"))
    # Without the buckets it counted: locally a bucket is a second, on AWS a minute (the model adds them).
    usage = [
        item_size({k: v for k, v in i.items() if k != "counted"})
        for i in accepted_audit
        if i["pk"]["S"].startswith("USAGE#")
    ]
    key_records = [item_size(i) for i in key_items if i["sk"]["S"].startswith("KEY#") and "last_used_at" in i]
    return Measured(
        access_log_line_bytes=sum(len(line.encode()) for line in accepted_lines) / len(accepted_lines),
        authorizer_stdout_bytes_per_allowed=allowed,
        env_block_fixed_bytes=env_fixed,
        env_block_bytes_per_record=env_per_record,
        key_block_fixed_bytes=key_fixed,
        key_block_bytes_per_record=key_per_record,
        arrival_entry_bytes=item_size({name: env_block[name] for name in ("pk", "sk", "arrival", "at")}),
        usage_item_bytes=max(usage),
        key_item_bytes=sum(key_records) / len(key_records),
        role_item_bytes=max(item_size(i) for i in key_items if i["sk"]["S"].startswith("ROLE#")),
        roles_per_key=1,
        environment_state_read_units=max(1, math.ceil(sum(env_state) / 4096)),
        refused_access_log_line_bytes={kind: sum(s) / len(s) for kind, s in line_sizes.items()},
        refusal_metric_line_bytes=metric_lines,
        runtime_error_line_bytes=error_line,
        refused_env_block_fixed_bytes=refused_fixed,
        refused_env_block_bytes_per_record=refused_per_record,
        ingest_stdout_bytes=ingest_bytes,
        ingest_stdout_lines=ingest_lines,
        compactor_stdout_bytes=compactor_bytes,
        compactor_stdout_lines=compactor_lines,
        compactor_idle_read_units=idle.read_units,
        compactor_idle_write_units=idle.write_units,
        canary_read_units=canary.read_units,
        canary_write_units=canary.write_units,
        canary_api_requests=sum(1 for s in statuses if API_GATEWAY_BILLS_REFUSED or s not in (401, 403)),
        canary_stdout_bytes=canary_bytes,
        canary_stdout_lines=canary_lines,
        canary_calls=dict(sorted(canary.calls.items())),
    )
