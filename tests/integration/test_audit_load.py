"""Nothing lost: a bounded load on the local stack ends with exactly one audit record per request, including
requests API Gateway answered from its authorizer cache, and no key value in any record or log line."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import boto3

from archie_keys.aws.audit_blocks import ENV_BLOCK_PREFIX, KEY_BLOCK_PREFIX
from archie_keys.aws.audit_reader import block_records
from archie_keys.aws.dynamo import from_item
from archie_keys.domain.keyformat import checksum
from tests.support import env_path, http, put_orders_reader

REQUESTS, CLIENTS, KEYS = 5000, 20, 50


def test_every_request_of_a_mixed_load_has_exactly_one_audit_record(stack, admin) -> None:
    base, sample = stack.url(), stack.url("SampleApi")
    lines: list[str] = []
    original_put = stack.logs.put

    def keep(group: str, message: str, timestamp_ms: int | None = None) -> None:
        lines.append(message)
        original_put(group, message, timestamp_ms)

    stack.logs.put = keep
    try:
        put_orders_reader(base, admin)
        keys = []
        for i in range(KEYS):
            reply = http(
                base, "POST", env_path("demo", "dev", "/keys"), admin, {"name": f"load-{i}", "roles": ["orders-reader"]}
            )
            keys.append((reply.body["key"], reply.body["key_id"]))

        def plan(i: int) -> tuple[str, str, str | None, str | None, int]:
            """(method, path, presented key, key id the record must carry, expected status)"""
            key, key_id = keys[i % KEYS]
            kind = i % 10
            if kind <= 5:
                return "GET", f"/orders/{i}", key, key_id, 200
            if kind <= 7:
                return "DELETE", f"/orders/{i}", key, key_id, 403
            if kind == 8:
                wrong = key[:-28] + "Z" * 22
                return "GET", "/orders", wrong + checksum(wrong), None, 403
            return "GET", "/orders", "garbage", None, 401

        work: queue.Queue[int] = queue.Queue()
        for i in range(REQUESTS):
            work.put(i)
        sent: dict[str, tuple[str | None, int]] = {}
        failures: list[Any] = []
        lock = threading.Lock()

        def client() -> None:
            while True:
                try:
                    i = work.get_nowait()
                except queue.Empty:
                    return
                method, path, key, key_id, expected = plan(i)
                reply = http(sample, method, path, key)
                with lock:
                    if reply.status != expected:
                        failures.append((i, reply.status, expected))
                    sent[reply.headers["x-amz-apigw-id"]] = (key_id, reply.status)  # the audit record's id

        began = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert failures == [] and len(sent) == REQUESTS

        # Deliver what the log groups still buffer: flush() returns once every line written before it was
        # handed to the ingest handler (it waits for a delivery already under way).
        started = time.monotonic()
        stack.settle_audit()
        print(f"requests took {started - began:.1f}s, the rest of the ingest {time.monotonic() - started:.1f}s")
        recorded = audit_requests(stack.provisioned.environment["AUDIT_TABLE"])
        mine = {request_id: recorded[request_id] for request_id in sent if request_id in recorded}
        assert len(mine) == REQUESTS, f"{REQUESTS - len(mine)} requests have no audit record"
        wrong_key = [
            (r, sent[r][0], item.get("key_id"))
            for r, item in mine.items()
            if sent[r][0] is not None and item.get("key_id") != sent[r][0]
        ]
        assert wrong_key == []
        assert all(int(item["status"]) == sent[r][1] for r, item in mine.items())

        # Usage per key counts every request attributed to it, exactly once.
        key_id = keys[0][1]
        usage = http(base, "GET", env_path("demo", "dev", f"/keys/{key_id}/usage"), admin).body
        attributed = sum(1 for item in mine.values() if item.get("key_id") == key_id)
        assert sum(h["requests"] for h in usage["hours"]) == attributed and usage["last_used_at"]

        everything = json.dumps(list(recorded.values())) + "\n".join(lines)
        assert all(key[-28:-6] not in everything for key, _ in keys)
        assert admin[-28:-6] not in everything
    finally:
        stack.logs.put = original_put


def audit_requests(table: str) -> dict[str, dict[str, Any]]:
    """Every request record: the environment blocks' records (and single-request items of earlier versions),
    each exactly once; and every one attributed to a key exactly once more, in its key's blocks."""
    client = boto3.client("dynamodb")
    found: dict[str, dict[str, Any]] = {}
    in_key_blocks: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**kwargs)
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith("REQ#") and "status" in item:
                assert pk[4:] not in found
                found[pk[4:]] = {k: next(iter(v.values())) for k, v in item.items()}
            elif pk.startswith(ENV_BLOCK_PREFIX):  # many requests, stored as one item
                for record in block_records(from_item(item)):
                    assert record["pk"][4:] not in found
                    found[record["pk"][4:]] = record
            elif pk.startswith(KEY_BLOCK_PREFIX):
                in_key_blocks += block_records(from_item(item))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    attributed = {request_id: r for request_id, r in found.items() if r.get("key_id")}
    assert sorted(r["pk"][4:] for r in in_key_blocks) == sorted(attributed)
    assert all(r["key_id"] == attributed[r["pk"][4:]]["key_id"] for r in in_key_blocks)
    return found
