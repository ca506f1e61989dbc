"""The ingest watermark ("every access-log line up to T is in the audit") moves only on proof, and a guarded
delete refuses whatever it cannot prove: out-of-order and failed deliveries hold it back, an unreadable or
absent watermark is 503 with Retry-After and the key intact."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from archie_keys.app.ingest_proof import wait_until_ingested
from archie_keys.domain import limits
from archie_keys.domain.errors import ServiceUnavailableError
from archie_keys.domain.ingest_watermark import (
    MAX_GAPS,
    Attestation,
    SourceProgress,
    first_progress,
    proven_through_ms,
)
from tests.support import env_path

KEYS = env_path("demo", "dev", "/keys")
RUN = "00000000000000000001-run"


def attested(sequence: int, through_ms: int, source: str = "management", run: str = RUN) -> Attestation:
    return Attestation(source, run, sequence, through_ms)


def after(*deliveries: Attestation) -> SourceProgress:
    progress = first_progress(deliveries[0])
    for delivery in deliveries[1:]:
        progress = progress.with_delivery(delivery)
    return progress


# The rule, without AWS -------------------------------------------------------------------------------------


def test_deliveries_in_order_move_a_source_to_the_last_attested_moment() -> None:
    assert after(attested(1, 1000), attested(2, 2000)).through_ms == 2000


def test_a_delivery_past_a_gap_proves_nothing_until_the_gap_is_filled() -> None:
    # Given delivery 2 is still being retried when 3 (which attests a later moment) is ingested
    progress = after(attested(1, 1000), attested(3, 3000))
    # Then only what 1 attested is proven: a line of 2 may be older than 3000 and not in the audit yet
    assert (progress.sequence, progress.through_ms) == (1, 1000)
    # When 2 arrives at last, 2 and 3 are both proven
    progress = progress.with_delivery(attested(2, 2000))
    assert (progress.sequence, progress.through_ms, progress.ahead) == (3, 3000, ())


def test_a_first_delivery_that_is_not_number_one_proves_nothing() -> None:
    assert after(attested(2, 2000)).through_ms == 0


def test_a_redelivered_batch_changes_nothing_and_the_watermark_never_moves_back() -> None:
    progress = after(attested(1, 1000), attested(2, 5000))
    assert progress.with_delivery(attested(2, 5000)) == progress
    assert progress.with_delivery(attested(1, 1000)) == progress
    assert progress.with_delivery(attested(3, 4000)).through_ms == 5000


def test_a_new_run_of_the_deliverer_counts_from_one_and_an_older_run_is_ignored() -> None:
    progress = after(attested(1, 1000), attested(2, 2000))
    newer, older = "00000000000000000002-run", "00000000000000000000-run"
    restarted = progress.with_delivery(attested(1, 4000, run=newer))
    assert (restarted.run, restarted.sequence, restarted.through_ms) == (newer, 1, 4000)
    assert restarted.with_delivery(attested(7, 9000, run=older)) == restarted
    # A new run whose first delivery is still in flight keeps what the old run proved, no more.
    assert progress.with_delivery(attested(2, 4000, run=newer)).through_ms == 2000


def test_deliveries_past_a_gap_are_kept_as_runs_and_all_count_once_it_is_filled() -> None:
    # Given delivery 2 failed every attempt, and 3..1002 (an idle group's five minutes of deliveries) arrived
    progress = after(attested(1, 1000), *(attested(n, n * 1000) for n in range(3, 1003)))
    assert progress.through_ms == 1000 and progress.ahead == ((3, 1002, 1_002_000),)  # one run, not 1,000
    # When the redrive delivers 2, everything up to 1002 is proven
    assert progress.with_delivery(attested(2, 2000)).through_ms == 1_002_000


def test_too_many_separate_gaps_hold_the_watermark_back_never_forward() -> None:
    every_other = [attested(n, n * 1000) for n in range(3, 2 * MAX_GAPS + 10, 2)]  # 2, 4, 6 ... missing
    progress = after(attested(1, 1000), *every_other)
    assert len(progress.ahead) == MAX_GAPS and progress.through_ms == 1000
    filled = progress
    for missing in range(2, 2 * MAX_GAPS + 10, 2):
        filled = filled.with_delivery(attested(missing, missing * 1000))
    # The oldest runs were kept, so the watermark passes each of them as its gap is filled; the newest were
    # forgotten and leave a gap this run never passes: behind, not wrong.
    assert filled.through_ms == (2 * MAX_GAPS + 2) * 1000 < every_other[-1].through_ms


def test_every_source_counts_and_a_silent_one_holds_the_watermark_back() -> None:
    management = after(attested(1, 9000, "management"))
    sample = after(attested(1, 4000, "sample"))
    assert proven_through_ms([management, sample]) == 4000
    assert proven_through_ms([]) is None  # nothing attests: nothing is proven


# The wait, with a clock the test drives -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(round(seconds, 3))
        self.now += seconds


def test_the_delete_waits_for_the_watermark_to_pass_its_arrival_backing_off() -> None:
    clock = Clock()
    arrival = clock.now
    marks = iter([None, 990.0, 995.0, 999.9, 1000.0])
    assert wait_until_ingested(lambda: next(marks), arrival, clock, clock.pause) == 1000.0
    assert clock.pauses == [0.05, 0.1, 0.2, 0.4]


def test_a_watermark_that_never_passes_is_503_within_the_bound_with_few_reads() -> None:
    clock = Clock()
    reads: list[float] = []

    def behind() -> float:
        reads.append(clock.now)
        return clock.now - 10

    with pytest.raises(ServiceUnavailableError) as refused:
        wait_until_ingested(behind, clock.now, clock, clock.pause)
    assert refused.value.retry_after == limits.GUARD_RETRY_AFTER_SECONDS
    assert clock.now - 1000.0 == pytest.approx(limits.GUARD_WAIT_SECONDS)
    assert len(reads) <= 10  # backed off to a read a second, not a busy loop
    assert max(clock.pauses) == limits.GUARD_LONGEST_PAUSE_SECONDS


def test_a_watermark_that_cannot_be_read_is_503_at_once() -> None:
    clock = Clock()

    def unreadable() -> float:
        raise OSError("connection reset")

    with pytest.raises(ServiceUnavailableError):
        wait_until_ingested(unreadable, clock.now, clock, clock.pause)
    assert clock.pauses == []


# Through the ingest and the API, on moto -------------------------------------------------------------------


def attested_delivery(lines: list[str], sequence: int, through_ms: int, group: str = "/local/access") -> dict:
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [{"id": str(i), "timestamp": through_ms, "message": m} for i, m in enumerate(lines)],
        "attestation": {"deliverer": "local", "run": RUN, "sequence": sequence, "throughMs": through_ms},
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


@pytest.fixture
def ingest(aws: Any) -> Any:
    from archie_local.lambdas import FunctionRegistry

    return FunctionRegistry(aws.functions)["AuditIngestFunction"].invoke


def proven() -> float | None:
    from archie_keys.edge.composition import get_services

    return get_services().ingest_watermarks.proven_through()


def test_the_ingest_moves_the_watermark_only_once_a_deliverys_lines_are_stored(aws, ingest, monkeypatch) -> None:
    from archie_keys.aws.audit_writer import AuditWriter
    from tests.component.test_audit import access_line

    ingest(attested_delivery([], 1, 1_000_000))  # an idle group's delivery: no line, still proof
    assert proven() == 1000.0
    write = AuditWriter.put_environment_block

    def refused(*args: Any, **kwargs: Any) -> bool:
        raise OSError("DynamoDB is unreachable")

    # Given delivery 2's block cannot be stored, and 3 is ingested meanwhile
    monkeypatch.setattr(AuditWriter, "put_environment_block", refused)
    with pytest.raises(OSError):
        ingest(attested_delivery([access_line("late-1", 200)], 2, 2_000_000))
    monkeypatch.setattr(AuditWriter, "put_environment_block", write)
    ingest(attested_delivery([access_line("later-1", 200)], 3, 3_000_000))
    # Then nothing past delivery 1 is proven; the retry of 2 proves both
    assert proven() == 1000.0
    ingest(attested_delivery([access_line("late-1", 200)], 2, 2_000_000))
    assert proven() == 3000.0


def test_two_ingest_instances_writing_one_source_lose_no_delivery(aws) -> None:
    import boto3

    from archie_keys.aws.ingest_watermarks import IngestWatermarks
    from archie_keys.edge.composition import get_settings

    table = get_settings().audit_table
    first, second = IngestWatermarks(table, boto3.client("dynamodb")), IngestWatermarks(table, boto3.client("dynamodb"))
    first.record(attested(1, 1000))
    second.record(attested(2, 2000))  # the first instance's view of the item is stale now
    assert first.record(attested(3, 3000)).through_ms == 3000  # refused on its version, read, applied
    assert second.record(attested(3, 3000)).sequence == 3  # a redelivery to the other: nothing lost or doubled
    assert first.proven_through() == 3.0


def test_a_delivery_without_attestation_as_cloudwatch_sends_it_proves_nothing(aws, ingest) -> None:
    from tests.component.test_audit import access_line, delivery

    ingest(delivery([access_line("aws-1", 200)]))
    assert proven() is None


def test_as_deployed_no_deliverer_is_trusted_and_an_attestation_moves_nothing(aws, ingest, monkeypatch) -> None:
    from archie_keys.edge import composition

    # Given the stack as the template deploys it (no AUDIT_TRUSTED_DELIVERER): whoever can invoke the ingest
    monkeypatch.delenv("AUDIT_TRUSTED_DELIVERER")
    composition.reset()
    ingest(attested_delivery([], 1, 1_000_000))
    assert proven() is None
    # ... and a deliverer other than the trusted one proves nothing either
    monkeypatch.setenv("AUDIT_TRUSTED_DELIVERER", "elsewhere")
    composition.reset()
    ingest(attested_delivery([], 1, 1_000_000))
    assert proven() is None


@pytest.fixture
def key(api: Any, admin_key: str) -> dict[str, Any]:
    """A key that has just answered a request: the authorizer witnessed it within any window, so only the
    audit (the watermark, then the key's use) can decide a guarded delete of it (docs/keys.md)."""
    role = {"permissions": [{"resource": "keys", "actions": ["read"]}]}
    api("PUT", env_path("demo", "dev", "/roles/viewer"), admin_key, role)
    created = dict(api("POST", KEYS, admin_key, {"name": "old", "roles": ["viewer"]}).body)
    assert api("GET", env_path("demo", "dev", "/whoami"), created["key"]).status == 200
    return created


def assert_refused_and_intact(reply: Any, api: Any, admin_key: str, key: dict[str, Any]) -> None:
    assert reply.status == 503 and reply.body["code"] == "service_unavailable", reply.body
    assert int(reply.headers["Retry-After"]) == limits.GUARD_RETRY_AFTER_SECONDS
    assert api("GET", env_path("demo", "dev", "/whoami"), key["key"]).status == 200  # not revoked
    events = api("GET", env_path("demo", "dev", "/audit?kind=event&limit=100"), admin_key).body["records"]
    assert not any(e["event"] == "key.deleted" for e in events)


def test_a_watermark_that_cannot_be_read_is_503_and_the_key_is_intact(
    api, admin_key, key, log_delivery, monkeypatch
) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call

    def watermark_unreadable(client: Any, operation: str, params: dict[str, Any]) -> Any:
        values = json.dumps(params.get("ExpressionAttributeValues", {}))
        if operation == "Query" and "WATERMARK" in values:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, operation)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", watermark_unreadable)
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    assert_refused_and_intact(reply, api, admin_key, key)


def test_where_nothing_attests_deliveries_a_guarded_delete_is_503(api, admin_key, key, monkeypatch) -> None:
    # No deliverer runs here, as on AWS where CloudWatch Logs attests nothing: the guard cannot be proven.
    monkeypatch.setattr(limits, "GUARD_WAIT_SECONDS", 0.3)
    reply = api("DELETE", f"{KEYS}/{key['key_id']}?if_unused_for=600", admin_key)
    assert_refused_and_intact(reply, api, admin_key, key)
    assert api("DELETE", f"{KEYS}/{key['key_id']}", admin_key).status == 204  # an unguarded delete needs no proof
