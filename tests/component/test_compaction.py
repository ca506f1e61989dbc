"""The audit compactor under load: a bucket bigger than it may hold, a hot key's blocks side by side, runs
that fail at any write, a bucket that always fails. Small limits stand in for big buckets: what is asserted
is the compactor's own high-water mark and its concurrency, never a timing."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from archie_keys.app.compaction import (
    MAX_BUCKET_FAILURES,
    AuditCompactor,
    CompactionLimits,
    CompactionReport,
    UnreadableBlockError,
)
from archie_keys.aws.audit_blocks import arrival_value, block_records_of
from archie_keys.aws.audit_writer import shard_of
from archie_keys.aws.compaction_ledger import CompactionLedger
from archie_keys.domain.audit_records import request_record
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ServiceUnavailableError
from archie_keys.edge.composition import get_services
from tests.component.test_audit import failing_writes

BUCKET = 60.0
HOT, COLD, QUIET = "HotkAAAAAAAA", "ColdAAAAAAAA", "QuieAAAAAAAA"
SMALL = CompactionLimits(
    block_max_records=10, max_open_records=40, index_page=3, read_batch=2, workers=8, max_in_flight=4
)


def first_bucket() -> float:
    """A closed arrival bucket some minutes ago, aligned as the ingest aligns them."""
    return (time.time() // BUCKET - 20) * BUCKET


def compactor(through: float, limits: CompactionLimits = SMALL, **options: Any) -> AuditCompactor:
    """A compactor of the stack's table whose newest closed bucket is `through`."""
    services = get_services()
    return AuditCompactor(
        services.audit_writer,
        services.audit_reader,
        services.store,
        CompactionLedger(services.audit_writer.table, services.audit_writer.client),
        BUCKET,
        0.0,
        clock=lambda: through + BUCKET + 1,
        limits=limits,
        **options,
    )


def write_bucket(
    bucket: float, per_key: dict[str, int], tag: str, block_records: int = 20, keyless: bool = True
) -> None:
    """Environment blocks of `block_records` each, as deliveries would bring them, listed under `bucket`:
    per_key[key] requests of each key (a third of them refused), and a keyless one per block."""
    records = [
        {
            "id": f"{tag}-{key}-{i:05d}",
            "time": to_iso(bucket - 30 + i * 0.01),
            "method": "GET",
            "path": "/orders/1",
            "status": 403 if i % 3 == 0 else 200,
            "api": "abc/v1",
            "key_id": key,
            **({"reason": "revoked", "error": "ACCESS_DENIED"} if i % 3 == 0 else {}),
        }
        for key, count in per_key.items()
        for i in range(count)
    ]
    records.sort(key=lambda record: record["time"])
    writer = get_services().audit_writer
    for start in range(0, len(records), block_records):
        chunk = records[start : start + block_records]
        if keyless:
            chunk.append({"id": f"{tag}-anon-{start}", "time": chunk[0]["time"], "status": 401, "api": "abc/v1"})
        stored = sorted(chunk, key=lambda r: r["id"])
        typed = [request_record({"project": "demo", "environment": "dev", **record}) for record in stored]
        assert writer.put_environment_block("demo", "dev", typed, bucket)


def key_records(key_id: str) -> list[str]:
    """Every record id stored in the key's blocks (duplicates included)."""
    items = boto3.client("dynamodb").scan(TableName=get_services().audit_writer.table)["Items"]
    return [
        record["id"]
        for item in items
        if item["pk"]["S"].startswith(f"BLK#demo#dev#{key_id}#")
        for record in block_records_of({"records": item["records"]["B"]})
    ]


def usage(key_id: str) -> Counter[str]:
    hours = get_services().audit_reader.usage("demo", "dev", key_id, time.time() - 86400)
    return Counter({"allowed": sum(h.allowed for h in hours), "refused": sum(h.refused for h in hours)})


def expected_usage(count: int) -> Counter[str]:
    refused = len(range(0, count, 3))
    return Counter({"allowed": count - refused, "refused": refused})


def begin(bucket: float) -> None:
    get_services().audit_writer.begin_compaction(bucket - BUCKET)


def test_a_bucket_bigger_than_the_compactor_may_hold_is_compacted_whole_within_its_bound(aws) -> None:
    bucket = first_bucket()
    begin(bucket)
    # A hot key, and twenty keys of eight requests each: their slots never fill, so past the open bound the
    # fullest are cut early.
    per_key = {HOT: 400, COLD: 45, QUIET: 7, **{f"Many{i:02d}AAAAAA": 8 for i in range(20)}}
    write_bucket(bucket, per_key, "big")
    report = compactor(bucket).run()
    assert report.buckets == 1 and report.records == sum(per_key.values())
    # What it held at once: the open bound, the writes in flight, and the chunks one block can complete.
    bound = SMALL.max_open_records + 1 + (SMALL.max_in_flight + 2) * SMALL.block_max_records
    assert 0 < report.peak_held_records <= bound < report.records / 4
    for key, count in per_key.items():
        assert sorted(key_records(key)) == sorted(f"big-{key}-{i:05d}" for i in range(count))
        assert usage(key) == expected_usage(count)
    assert report.key_blocks >= 400 // SMALL.block_max_records


def test_the_same_closed_bucket_makes_the_same_key_blocks_whatever_the_writers(aws) -> None:
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 230, COLD: 12}, "same")
    first = CompactionReport()
    compactor(bucket).compact_bucket(bucket, first)
    again = CompactionReport()
    other = CompactionLimits(**{**SMALL.__dict__, "workers": 1, "max_in_flight": 1, "read_batch": 7})
    compactor(bucket, other).compact_bucket(bucket, again)
    assert first.key_blocks > 23 and again.key_blocks == 0  # every block of the retry was stored already
    assert usage(HOT) == expected_usage(230) and usage(COLD) == expected_usage(12)
    assert len(key_records(HOT)) == 230


def test_a_hot_keys_blocks_are_written_side_by_side_and_counted_once(aws, monkeypatch) -> None:
    """Eight blocks of one key: a barrier of four lets them through only if four are written at once (the
    compactor before this change wrote a key's blocks one after another, and would break the barrier)."""
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 80}, "side")
    writer = get_services().audit_writer
    barrier = threading.Barrier(4, timeout=20)
    lock = threading.Lock()
    active, most = 0, 0
    original = writer.put_key_block

    def together(*args: Any, **kwargs: Any) -> bool:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        try:
            barrier.wait()
            return original(*args, **kwargs)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(writer, "put_key_block", together)
    report = compactor(bucket, CompactionLimits(block_max_records=10, workers=8, max_in_flight=8)).run()
    assert report.key_blocks == 8 and most >= 4 and not barrier.broken
    assert usage(HOT) == expected_usage(80)


def test_a_run_that_fails_at_any_write_is_completed_by_the_next_and_counts_each_request_once(aws, monkeypatch) -> None:
    bucket = first_bucket()
    for attempt in range(40):  # bounded: the first attempt counts the writes one bucket's compaction makes
        key_id = f"Fw{attempt:02d}AAAAAAAA"
        begin(bucket)
        write_bucket(bucket, {key_id: 55}, f"f{attempt}")
        with failing_writes(monkeypatch, None if attempt == 0 else attempt - 1) as (writes, failed):
            if attempt == 0:
                compactor(bucket).run()
                total = len(writes)
                assert total == 6 + 1 + 1  # six key blocks, the bucket's count, last_used_at (an unknown key)
            else:
                with pytest.raises(ClientError):
                    compactor(bucket).run()
                assert failed
        compactor(bucket).run()  # the next scheduled run
        assert sorted(key_records(key_id)) == sorted(f"f{attempt}-{key_id}-{i:05d}" for i in range(55))
        assert usage(key_id) == expected_usage(55)
        if attempt == total:
            break
        bucket += BUCKET
    else:
        pytest.fail("the compaction made more writes than the test allows for")


def test_two_runs_of_one_bucket_at_once_count_it_once(aws) -> None:
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 120, COLD: 30}, "both")
    reports = [CompactionReport(), CompactionReport()]
    runs = [threading.Thread(target=compactor(bucket).compact_bucket, args=(bucket, r)) for r in reports]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert sum(r.key_blocks for r in reports) == 12 + 3
    assert usage(HOT) == expected_usage(120) and usage(COLD) == expected_usage(30)


def poison(bucket: float, broken: str = "records") -> str:
    """An environment block listed in `bucket` for HOT whose records cannot be decoded (or, `broken="place"`,
    that does not say whose records it holds)."""
    pk = "ENVB#demo#dev#0"
    item = {
        "pk": {"S": pk},
        "sk": {"S": f"{to_iso(bucket)}#poison"},
        "at": {"S": f"{to_iso(bucket)}#poison"},
        "kind": {"S": "block"},
        "project": {"S": "demo"},
        "environment": {"S": "dev"},
        "records": {"B": b"not zlib"},
        "arrival": {"S": arrival_value(bucket, shard_of("poison"))},
        "key_ids": {"SS": [HOT]},
    }
    if broken == "place":
        del item["project"]
    boto3.client("dynamodb").put_item(TableName=get_services().audit_writer.table, Item=item)
    return pk


@pytest.mark.parametrize("broken", ["records", "place"])
def test_a_bucket_that_always_fails_is_skipped_after_its_retries_named_and_retried_later(aws, caplog, broken) -> None:
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 30}, "p0")
    poison(bucket, broken)
    write_bucket(bucket + BUCKET, {HOT: 25, COLD: 5}, "p1")
    write_bucket(bucket + 2 * BUCKET, {COLD: 8}, "p2")
    alarms: list[tuple[str, str]] = []
    for _ in range(MAX_BUCKET_FAILURES - 1):
        with pytest.raises(UnreadableBlockError):
            compactor(bucket + 2 * BUCKET, on_skipped=lambda *named: alarms.append(named)).run()
        assert get_services().audit_reader.compacted_through() == bucket - BUCKET  # the next run retries it
    report = compactor(bucket + 2 * BUCKET, on_skipped=lambda *named: alarms.append(named)).run()
    # The third failure skips it; the buckets after it are compacted in the same run.
    assert report.skipped == 1 and report.buckets == 3
    assert get_services().audit_reader.compacted_through() == bucket + 2 * BUCKET
    assert [named[0] for named in alarms] == [to_iso(bucket)] and "#poison" in alarms[0][1]
    assert any("skipped" in r.message and getattr(r, "bucket", "") == to_iso(bucket) for r in caplog.records)
    ledger = compactor(bucket).ledger
    [skipped] = ledger.skipped()
    assert skipped.bucket == bucket and skipped.failures == MAX_BUCKET_FAILURES and "poison" in skipped.error
    assert sorted(key_records(COLD)) == sorted(
        [f"p1-{COLD}-{i:05d}" for i in range(5)] + [f"p2-{COLD}-{i:05d}" for i in range(8)]
    )
    assert usage(HOT) == expected_usage(25)
    # A guarded delete of the key cannot prove it unused while one of its blocks cannot be read: 503, never 204.
    with pytest.raises(ServiceUnavailableError):
        compactor(bucket + 2 * BUCKET).pending_use("demo", "dev", HOT, since=bucket)
    # Once the block is repaired (here: removed), a retry compacts the bucket, once.
    boto3.client("dynamodb").delete_item(
        TableName=get_services().audit_writer.table,
        Key={"pk": {"S": "ENVB#demo#dev#0"}, "sk": {"S": f"{to_iso(bucket)}#poison"}},
    )
    retried = compactor(bucket + 2 * BUCKET).retry_skipped()
    assert retried.buckets == 1 and ledger.skipped() == []
    assert usage(HOT) == expected_usage(30) + expected_usage(25)
    assert compactor(bucket + 2 * BUCKET).retry_skipped().buckets == 0
    assert usage(HOT) == expected_usage(30) + expected_usage(25)


def test_a_guarded_delete_sees_requests_not_compacted_yet_and_those_of_a_skipped_bucket(aws, monkeypatch) -> None:
    bucket = first_bucket()

    def in_use(key_id: str, since: float) -> bool:
        """As the guarded delete asks it: an accepted request at or after `since`, not yet in last_used_at."""
        return (compactor(bucket).pending_use("demo", "dev", key_id, since=since) or "") >= to_iso(since)

    begin(bucket)
    write_bucket(bucket, {HOT: 40}, "g")
    latest = to_iso(bucket - 30 + 38 * 0.01)  # the 40th was refused (a third are): not a use
    since = bucket - 600
    assert compactor(bucket).pending_use("demo", "dev", HOT) == latest
    assert in_use(HOT, since) and not in_use(HOT, bucket) and not in_use(COLD, since)
    # DynamoDB refuses this bucket's key blocks (an error of its own, not an outage) until it is skipped.
    writer = get_services().audit_writer

    def refused(*args: Any, **kwargs: Any) -> bool:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "injected"}}, "PutItem")

    monkeypatch.setattr(writer, "put_key_block", refused)
    for _ in range(MAX_BUCKET_FAILURES - 1):
        with pytest.raises(ClientError):
            compactor(bucket).run()
    assert compactor(bucket).run().skipped == 1
    assert get_services().audit_reader.compacted_through() == bucket
    # Past the mark, never counted in last_used_at: the guard still reads it, while it is in the window.
    assert in_use(HOT, since) and not in_use(HOT, bucket)
    assert compactor(bucket).pending_use("demo", "dev", HOT) == latest


def test_an_aws_outage_is_retried_longer_than_a_bucket_of_its_own_errors(aws, monkeypatch) -> None:
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 12}, "o")
    reader = get_services().audit_reader
    original = reader.blocks

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise ServiceUnavailableError()

    monkeypatch.setattr(reader, "blocks", unavailable)
    for _ in range(MAX_BUCKET_FAILURES + 2):
        with pytest.raises(ServiceUnavailableError):
            compactor(bucket).run()
    monkeypatch.setattr(reader, "blocks", original)
    report = compactor(bucket).run()
    assert report.skipped == 0 and report.records == 12 and usage(HOT) == expected_usage(12)


def test_a_hot_keys_blocks_go_to_its_partitions_in_turn_not_one_partition_after_another(aws, monkeypatch) -> None:
    """Environment blocks of one key's records only make key blocks with their ids, hence their shards: read
    shard after shard, every block of a stretch would go to one partition, which then paces them all."""
    bucket = first_bucket()
    begin(bucket)
    write_bucket(bucket, {HOT: 400}, "turn", block_records=10, keyless=False)  # each one key block, same id
    writer = get_services().audit_writer
    partitions: list[str] = []
    original = writer.put_key_block

    def noted(*args: Any, pace: Any = None, **kwargs: Any) -> bool:
        def seen(partition: str, units: int) -> None:
            partitions.append(partition)

        return original(*args, pace=seen, **kwargs)

    monkeypatch.setattr(writer, "put_key_block", noted)
    limits = CompactionLimits(block_max_records=10, workers=1, max_in_flight=1)
    assert compactor(bucket, limits).run().key_blocks == 40
    changes = sum(1 for before, after in itertools.pairwise(partitions) if before != after)
    assert len(set(partitions)) == 4 and changes >= 20  # shard after shard would change partition 3 times


def test_ninety_days_of_a_busy_keys_usage_are_answered_whole(aws) -> None:
    """Each hourly counter names the buckets it counted (60 of them for a key busy all hour): 90 days of such
    counters pass the 1 MB one Query page reads, and the newest hours must not be the ones left out."""
    now = time.time()
    table, client = get_services().audit_writer.table, boto3.client("dynamodb")
    hours = [time.strftime("%Y-%m-%dT%H:00Z", time.gmtime(now - h * 3600)) for h in range(90 * 24 - 1)]
    for hour in hours:
        client.put_item(
            TableName=table,
            Item={
                "pk": {"S": f"USAGE#demo#dev#{HOT}"},
                "sk": {"S": hour},
                "allowed": {"N": "7"},
                "refused": {"N": "1"},
                "counted": {"NS": [str(1_796_000_000_000 + i * 60_000) for i in range(60)]},
            },
        )
    answered = get_services().audit_reader.usage("demo", "dev", HOT, now - 90 * 86400)
    assert [h.hour for h in answered] == sorted(hours) and sum(h.requests for h in answered) == 8 * len(hours)
