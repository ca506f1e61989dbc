"""The audit trail: ingest of real subscription payloads, one record per request, paging, usage."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.client
import pytest
from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent
from botocore.exceptions import ClientError

from archie_keys.app.views import audit_view
from archie_keys.aws.audit_blocks import BLOCK_MAX_RECORDS, BLOCK_WINDOW_SECONDS
from archie_keys.aws.audit_reader import BLOCKS_PER_QUERY
from archie_keys.aws.audit_writer import AUDIT_SHARDS
from archie_keys.domain.audit import hour_of
from archie_keys.edge.composition import get_services
from archie_local.lambdas import FunctionRegistry
from archie_local.logs import encode_subscription, render_access_log
from archie_local.template import load_template
from tests.support import compact, env_path

ACCESS_FORMAT = load_template()["Resources"]["ManagementApi"]["Properties"]["AccessLogSetting"]["Format"]
KEY_ID = "Vc37AAAAAAAA"
AUDIT = env_path("demo", "dev", "/audit")


def access_line(
    request_id: str,
    status: int,
    key_id: str | None = KEY_ID,
    at_ms: int | None = None,
    path: str = "/v1/projects/demo/environments/dev/keys",
    refusal: str | None = None,
    error: str | None = None,
) -> str:
    """An access-log line exactly as API Gateway renders the template's format (`refusal`: the authorizer's
    Deny for a refused key, whose context names the key and the reason; `error`: API Gateway's own refusal of
    a key the authorizer allowed, such as a usage plan's QUOTA_EXCEEDED or THROTTLED)."""
    variables: dict[str, Any] = {
        "requestId": request_id,
        "extendedRequestId": request_id,
        "requestTimeEpoch": at_ms or int(time.time() * 1000),
        "httpMethod": "GET",
        "path": path,
        "resourcePath": "/projects/{project}/environments/{environment}/keys",
        "status": status,
        "identity.sourceIp": "203.0.113.9",
        "identity.userAgent": 'curl/8 "quoted"',
        "stage": "v1",
        "apiId": "abc",
    }
    if key_id:
        variables.update({"authorizer.key_id": key_id, "authorizer.project": "demo", "authorizer.environment": "dev"})
    if refusal:
        variables.update({"authorizer.refusal": refusal, "error.responseType": "ACCESS_DENIED"})
    if error:
        variables["error.responseType"] = error
    return render_access_log(ACCESS_FORMAT, variables)


def delivery(lines: list[str], group: str = "/aws/apigateway/access") -> dict[str, Any]:
    return encode_subscription(
        {
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": group,
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": [
                {"id": str(i), "timestamp": int(time.time() * 1000), "message": m} for i, m in enumerate(lines)
            ],
        }
    )


@pytest.fixture
def ingest(aws):
    return FunctionRegistry(aws.functions)["AuditIngestFunction"].invoke


def records(key_id: str = KEY_ID) -> list[dict[str, Any]]:
    """The audit records of a key, as the reader finds them (newest first) once the compactor has run."""
    compact()
    page, _ = get_services().audit_reader.query(
        "demo", "dev", key_id=key_id, actor_key_id=None, lower="0000", upper="9999", after=None, limit=100
    )
    return [audit_view(item) for item in page]


def test_a_real_subscription_payload_is_decoded_and_each_request_recorded_once(ingest) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    result = ingest(delivery([access_line(i, 200) for i in ids]))
    assert result == {"records": 3, "refusals": 0, "skipped": 0, "control_messages": 0}
    found = records()
    assert sorted(r["id"] for r in found) == sorted(ids)
    assert found[0]["user_agent"] == 'curl/8 "quoted"' and found[0]["status"] == 200
    assert CloudWatchLogsEvent(delivery(["x"])).parse_logs_data().log_events[0].message == "x"


def test_a_redelivered_batch_creates_no_duplicates_and_counts_nothing_twice(ingest, admin_key) -> None:
    key_id = admin_key.split("_")[-1][:12]
    batch = delivery([access_line(str(uuid.uuid4()), 200, key_id) for _ in range(4)])
    ingest(batch)
    ingest(batch)
    assert len([r for r in records(key_id) if r["kind"] == "request"]) == 4
    usage = get_services().audit_reader.usage("demo", "dev", key_id, time.time() - 3600)
    assert sum(h.requests for h in usage) == 4


def test_control_messages_and_malformed_lines_never_fail_the_batch(ingest) -> None:
    control = encode_subscription(
        {
            "messageType": "CONTROL_MESSAGE",
            "logEvents": [
                {"id": "1", "timestamp": 0, "message": "CWL CONTROL MESSAGE: Checking health of destination"}
            ],
        }
    )
    assert ingest(control)["control_messages"] == 1
    good = str(uuid.uuid4())
    result = ingest(
        delivery(
            [
                "not json",
                "[1, 2]",
                '{"request_id": "x"}',
                '{"status": "200"}',
                access_line(good, 200),
                access_line("bad-time", 200).replace('"time_epoch_ms":"', '"time_epoch_ms":"x'),
            ]
        )
    )
    assert result["records"] == 1 and result["skipped"] == 5
    assert [r["id"] for r in records()] == [good]
    garbage = {"awslogs": {"data": base64.b64encode(gzip.compress(b"{nope")).decode()}}
    assert ingest(garbage)["skipped"] == 1
    assert ingest({"something": "else"})["skipped"] == 1


def test_every_refusal_of_a_proven_key_is_in_its_audit_and_usage_even_from_the_gateways_cache(ingest) -> None:
    """API Gateway answers a refused key's later requests from its cached Deny without calling the authorizer:
    each still reaches the access log with the key and the reason, so a forgotten consumer of a revoked key
    shows up request by request, not as one refusal."""
    ids = [str(uuid.uuid4()) for _ in range(5)]
    result = ingest(delivery([access_line(i, 403, refusal="revoked") for i in ids]))
    assert result["records"] == 5 and result["refusals"] == 5
    found = records()
    assert sorted(r["id"] for r in found) == sorted(ids)
    assert {(r["status"], r["reason"], r["key_id"]) for r in found} == {(403, "revoked", KEY_ID)}
    usage = get_services().audit_reader.usage("demo", "dev", KEY_ID, time.time() - 3600)
    assert sum(h.refused for h in usage) == 5 and sum(h.allowed for h in usage) == 0


def test_pages_are_newest_first_and_bounded_in_time(ingest, api, admin_key) -> None:
    base = (int(time.time()) - 100) * 1000
    ingest(delivery([access_line(f"req-{i:03d}", 200, at_ms=base + i * 1000) for i in range(25)]))
    compact()
    seen, token = [], None
    while True:
        reply = api("GET", AUDIT + f"?key_id={KEY_ID}&limit=7" + (f"&next_token={token}" if token else ""), admin_key)
        assert reply.status == 200 and len(reply.body["records"]) <= 7
        seen += [r["id"] for r in reply.body["records"]]
        token = reply.body["next_token"]
        if token is None:
            break
    assert seen == [f"req-{i:03d}" for i in reversed(range(25))]
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + 10_000) / 1000)) + "Z"
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + 14_000) / 1000)) + "Z"
    bounded = api("GET", AUDIT + f"?key_id={KEY_ID}&since={since}&until={until}", admin_key).body["records"]
    assert [r["id"] for r in bounded] == [f"req-{i:03d}" for i in (14, 13, 12, 11, 10)]


def test_records_past_retention_are_never_shown(ingest) -> None:
    old = int((time.time() - 91 * 86400) * 1000)
    ingest(delivery([access_line("ancient", 200, at_ms=old), access_line("fresh", 200)]))
    assert [r["id"] for r in records()] == ["fresh"]


def test_a_page_reads_one_bounded_query_per_shard(ingest, monkeypatch) -> None:
    ingest(delivery([access_line(str(uuid.uuid4()), 200) for _ in range(30)]))
    audit = get_services().audit_reader
    calls: list[dict[str, Any]] = []
    original = audit.client.query

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(audit.client, "query", counting)
    audit.query("demo", "dev", key_id=KEY_ID, actor_key_id=None, lower="0000", upper="9999", after=None, limit=5)
    # Per shard: one query of the key's items (events, refusals) and one of its request blocks.
    assert len(calls) == 2 * AUDIT_SHARDS
    assert sorted(c["Limit"] for c in calls) == [BLOCKS_PER_QUERY] * AUDIT_SHARDS + [6] * AUDIT_SHARDS


def stored_items(aws) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=aws.environment["AUDIT_TABLE"])["Items"]


def stored(aws, prefix: str) -> int:
    return sum(1 for item in stored_items(aws) if item["pk"]["S"].startswith(prefix))


def test_a_busy_key_costs_two_stored_items_per_block_of_requests_not_one_per_request(
    aws, ingest, api, admin_key
) -> None:
    window_start = (int(time.time()) // BLOCK_WINDOW_SECONDS - 1) * BLOCK_WINDOW_SECONDS
    ids = [f"busy-{i:04d}" for i in range(BLOCK_MAX_RECORDS + 20)]
    lines = [access_line(r, 200, at_ms=window_start * 1000 + i * 10) for i, r in enumerate(ids)]
    assert ingest(delivery(lines))["records"] == len(ids)
    # BLOCK_MAX_RECORDS to an item: the environment's copy is two items, at once in its view...
    assert stored(aws, "ENVB#") == 2 and stored(aws, "BLK#") == 0 and stored(aws, "REQ#") == 0
    everything = api("GET", AUDIT + "?kind=request&limit=100", admin_key).body["records"]
    assert [r["id"] for r in everything] == list(reversed(ids))[:100]
    assert api("GET", AUDIT + f"?key_id={KEY_ID}", admin_key).body["records"] == []
    # ...and once compacted, the key's copy is two more, with one usage counter.
    assert compact()["key_blocks"] == 2
    assert stored(aws, "BLK#") == 2 and stored(aws, f"USAGE#demo#dev#{KEY_ID}") == 1
    seen, token = [], None
    for _ in range(20):
        query = f"?key_id={KEY_ID}&limit=100" + (f"&next_token={token}" if token else "")
        reply = api("GET", AUDIT + query, admin_key).body
        seen += [r["id"] for r in reply["records"]]
        token = reply["next_token"]
        if token is None:
            break
    assert seen == list(reversed(ids))
    usage = get_services().audit_reader.usage("demo", "dev", KEY_ID, window_start)
    assert sum(h.requests for h in usage) == len(ids)


def test_records_of_blocks_and_single_records_come_out_in_time_order(ingest, api, admin_key) -> None:
    base = (int(time.time()) // BLOCK_WINDOW_SECONDS - 3) * BLOCK_WINDOW_SECONDS * 1000
    # Accepted requests in three windows, a refused one (its own record) between them, and a later batch
    # with more requests of the first window: two blocks of one window, interleaved in time.
    ingest(delivery([access_line(f"a-{i}", 200, at_ms=base + i * 30_000) for i in range(0, 6, 2)]))
    ingest(delivery([access_line("refused", 401, key_id=None, at_ms=base + 45_000)]))
    ingest(delivery([access_line(f"a-{i}", 200, at_ms=base + i * 30_000) for i in range(1, 6, 2)]))
    everything = [r["id"] for r in api("GET", AUDIT + "?kind=request&limit=50", admin_key).body["records"]]
    mine = [r for r in everything if r.startswith("a-") or r == "refused"]
    assert mine == ["a-5", "a-4", "a-3", "a-2", "refused", "a-1", "a-0"]
    assert [r["id"] for r in records()] == ["a-5", "a-4", "a-3", "a-2", "a-1", "a-0"]
    # A bound inside a block's window cuts through the block.
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + 100_000) / 1000)) + "Z"
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((base + 20_000) / 1000)) + "Z"
    bounded = api("GET", AUDIT + f"?key_id={KEY_ID}&since={since}&until={until}", admin_key).body["records"]
    assert [r["id"] for r in bounded] == ["a-3", "a-2", "a-1"]
    paged, token = [], None
    for _ in range(10):
        reply = api("GET", AUDIT + f"?key_id={KEY_ID}&limit=2" + (f"&next_token={token}" if token else ""), admin_key)
        paged += [r["id"] for r in reply.body["records"]]
        token = reply.body["next_token"]
        if token is None:
            break
    assert paged == ["a-5", "a-4", "a-3", "a-2", "a-1", "a-0"]


def test_management_events_are_attributed_to_the_actor_and_the_key(api, admin_key) -> None:
    api(
        "PUT",
        env_path("demo", "dev", "/roles/viewer"),
        admin_key,
        {"permissions": [{"resource": "keys", "actions": ["read"]}]},
    )
    created = api("POST", env_path("demo", "dev", "/keys"), admin_key, {"name": "x", "roles": ["viewer"]}).body
    api("DELETE", env_path("demo", "dev", f"/keys/{created['key_id']}"), admin_key)
    admin_id = admin_key.split("_")[-1][:12]
    by_actor = api("GET", env_path("demo", "dev", f"/audit?actor_key_id={admin_id}"), admin_key).body["records"]
    assert [r["event"] for r in by_actor][:3] == ["key.deleted", "key.created", "role.created"]
    by_key = api("GET", env_path("demo", "dev", f"/audit?key_id={created['key_id']}"), admin_key).body["records"]
    assert [r["event"] for r in by_key] == ["key.deleted", "key.created"]
    assert all(r["actor_key_id"] == admin_id for r in by_key)


def test_audit_query_input_is_validated(api, admin_key) -> None:
    for query, field in (
        ("key_id=x", "key_id"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("next_token=!!", "next_token"),
    ):
        reply = api("GET", env_path("demo", "dev", f"/audit?{query}"), admin_key)
        assert reply.status == 422 and reply.body["field"] == field, (query, reply.body)


def test_environment_and_role_changes_are_audited(aws, api) -> None:
    from archie_keys.app.bootstrap import bootstrap
    from archie_keys.app.commands import Place

    admin = bootstrap(get_services(), Place("acme", "prod")).value
    role = env_path("acme", "prod", "/roles/viewer")
    api("PUT", role, admin, {"permissions": [{"resource": "keys", "actions": ["read"]}]})
    api("PUT", role, admin, {"permissions": [{"resource": "keys", "actions": ["read", "delete"]}]})
    api("DELETE", role, admin)
    trail = api("GET", env_path("acme", "prod", "/audit"), admin).body["records"]
    events = [r["event"] for r in trail if r["kind"] == "event"]
    assert events[:3] == ["role.deleted", "role.updated", "role.created"]
    # The bootstrap's three events may share a millisecond, so only their set is certain.
    assert sorted(events[3:]) == ["environment.declared", "key.created", "role.created"]
    assert {r["actor_key_id"] for r in trail[:3]} == {admin.split("_")[-1][:12]}


@contextmanager
def failing_writes(monkeypatch, fail_at: int | None) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """Counts the DynamoDB writes made inside the block, and fails the one numbered `fail_at` (0-based).
    The compaction mark's writes are not counted (a run advances it once per bucket, however many buckets
    have passed): failing one is the test below's own case."""
    original = botocore.client.BaseClient._make_api_call
    writes: list[str] = []
    failed: list[dict[str, Any]] = []
    lock = threading.Lock()  # the ingest and the compactor write from several threads

    def failing(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if (
            client.meta.service_model.service_name == "dynamodb"
            and operation in ("PutItem", "UpdateItem", "TransactWriteItems")
            and params.get("Key", {}).get("pk", {}).get("S") != "COMPACTION"
        ):
            with lock:
                writes.append(operation)
                fail = len(writes) - 1 == fail_at
                if fail:
                    failed.append(params)
            if fail:
                raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)
        return original(client, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
        yield writes, failed


def batch_of(attempt: int, key_id: str, base: int) -> dict[str, Any]:
    lines = [access_line(f"f{attempt}-{i}", 200, key_id, at_ms=base + i * 25_000) for i in range(6)]
    lines.append(access_line(f"f{attempt}-refused", 401, key_id=None, at_ms=base + 1000))
    return delivery(lines)


def test_a_batch_retried_after_a_failed_write_records_every_request_once(aws, ingest, monkeypatch) -> None:
    """Lambda retries a failed async invocation with the same batch: whichever DynamoDB write failed, the
    retry completes the audit with no duplicate, in the environment's view and, compacted, in the key's."""
    base = (int(time.time()) // BLOCK_WINDOW_SECONDS - 4) * BLOCK_WINDOW_SECONDS * 1000
    ingest(batch_of(99, "Fa99AAAAAAAA", base))  # a warm ingest has set the compaction mark already
    with failing_writes(monkeypatch, None) as (writes, _):
        ingest(batch_of(0, "Fa00AAAAAAAA", base))
    total = len(writes)
    assert total == 3  # three environment blocks (the refused request is in one of them)
    for attempt in range(1, total + 1):
        key_id = f"Fa{attempt:02d}AAAAAAAA"
        with failing_writes(monkeypatch, attempt - 1) as (_, failed):
            with pytest.raises(ClientError):
                ingest(batch_of(attempt, key_id, base))
            assert failed
        ingest(batch_of(attempt, key_id, base))  # Lambda's retry, with the same payload
        env_records = api_records_of_env()
        for name in [f"f{attempt}-{i}" for i in range(6)] + [f"f{attempt}-refused"]:
            assert env_records.count(name) == 1, name
        assert sorted(r["id"] for r in records(key_id)) == sorted(f"f{attempt}-{i}" for i in range(6))
        counted = sum(h.requests for h in get_services().audit_reader.usage("demo", "dev", key_id, base / 1000))
        assert counted == 6


def test_a_compaction_that_fails_is_completed_by_the_next_run_and_counts_each_request_once(
    aws, ingest, monkeypatch
) -> None:
    base = (int(time.time()) // BLOCK_WINDOW_SECONDS - 4) * BLOCK_WINDOW_SECONDS * 1000
    compact()  # the mark, before the batches below
    for attempt in range(30):  # bounded: the first attempt counts the writes a compaction of this batch makes
        key_id = f"Co{attempt:02d}AAAAAAAA"
        ingest(batch_of(attempt, key_id, base))
        with failing_writes(monkeypatch, None if attempt == 0 else attempt - 1) as (writes, _):
            if attempt == 0:
                compact()
                total = len(writes)
                hours = {hour_of(base / 1000 + i * 25) for i in range(6)}
                assert total == 3 + len(hours) + 1  # three key blocks; the bucket's count per hour; last_used_at
            else:
                with pytest.raises(ClientError):
                    compact()
        compact()  # the next scheduled run
        assert sorted(r["id"] for r in records(key_id)) == sorted(f"f{attempt}-{i}" for i in range(6))
        counted = sum(h.requests for h in get_services().audit_reader.usage("demo", "dev", key_id, base / 1000))
        assert counted == 6  # a key block is stored counted, or not at all
        assert get_services().store.get_key("demo", "dev", key_id) is None  # no stray item for an unknown key
        if attempt == total:
            break
    else:
        pytest.fail("the compaction made more writes than the test allows for")


def test_a_run_that_fails_to_move_its_mark_is_redone_without_a_duplicate(aws, ingest, monkeypatch) -> None:
    base = (int(time.time()) // BLOCK_WINDOW_SECONDS - 4) * BLOCK_WINDOW_SECONDS * 1000
    compact()
    ingest(batch_of(0, "MarkAAAAAAAA", base))
    original = botocore.client.BaseClient._make_api_call

    def failing_mark(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if params.get("Key", {}).get("pk", {}).get("S") == "COMPACTION" and operation == "UpdateItem":
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)
        return original(client, operation, params)

    with monkeypatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", failing_mark)
        with pytest.raises(ClientError):
            compact()
    assert sorted(r["id"] for r in records("MarkAAAAAAAA")) == sorted(f"f0-{i}" for i in range(6))
    usage = get_services().audit_reader.usage("demo", "dev", "MarkAAAAAAAA", base / 1000)
    assert sum(h.requests for h in usage) == 6


def test_huge_client_fields_cannot_make_a_block_too_big_to_store(aws, ingest, api, admin_key) -> None:
    """A key holder controls the path and user agent (a header may be ~10 KB): 600 requests with 8 KB of
    incompressible user agent are stored, compacted and readable, each field cut to 1,024 characters."""
    window_start = (int(time.time()) // BLOCK_WINDOW_SECONDS - 1) * BLOCK_WINDOW_SECONDS
    lines = []
    for i in range(600):
        line = json.loads(access_line(f"big-{i:04d}", 200, at_ms=window_start * 1000 + i * 10))
        line["user_agent"] = uuid.uuid4().hex * 256  # 8,192 characters nothing compresses
        lines.append(json.dumps(line))
    assert ingest(delivery(lines))["records"] == 600
    assert compact()["records"] == 600
    found = records()
    assert len(found) == 100 and all(len(r["user_agent"]) == 1024 for r in found)
    usage = get_services().audit_reader.usage("demo", "dev", KEY_ID, window_start)
    assert sum(h.requests for h in usage) == 600


def api_records_of_env(project: str = "demo", environment: str = "dev") -> list[str]:
    page, _ = get_services().audit_reader.query(
        project, environment, key_id=None, actor_key_id=None, lower="0000", upper="9999", after=None, limit=500
    )
    return [audit_view(item)["id"] for item in page]


def test_an_anonymous_request_to_a_protected_api_is_audited_where_its_stage_serves(aws) -> None:
    """A protected API's stage serves one environment (its registration); a path naming another one, sent
    without a key, must not put records into that other environment's audit."""
    from archie_keys.app.ingest import AuditIngest

    ingest = AuditIngest(get_services().audit_writer, lambda: {"abc/v1": ("demo", "dev")})
    forged = access_line("anon-1", 401, key_id=None, path="/v1/projects/acme/environments/prod/keys")
    management = json.loads(access_line("anon-2", 401, key_id=None, path="/v1/projects/acme/environments/prod/keys"))
    management["api_id"] = "mgmt"  # the management API: not a registered protected stage
    events = [{"id": "1", "timestamp": int(time.time() * 1000), "message": m} for m in (forged, json.dumps(management))]
    assert ingest.ingest("DATA_MESSAGE", events).records == 2
    assert api_records_of_env("demo", "dev") == ["anon-1"]
    assert api_records_of_env("acme", "prod") == ["anon-2"]
