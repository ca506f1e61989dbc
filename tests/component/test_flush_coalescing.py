"""Cache flushes are coalesced per stage, across every instance: however many changes come at once, each stage is
flushed at most once in each second (API Gateway takes about 10 flushes a second per account), and still every
change answers only after a flush of every stage that started after its commit."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from typing import Any

import boto3

from archie_keys.aws.cache_flush import CacheFlusher, FlushTarget
from archie_keys.aws.flush_coordination import FlushCoordinator

STAGES = (FlushTarget("mgmt", "v1"), FlushTarget("orders", "dev", "demo", "dev"))
INTERVAL = 1.0  # as deployed
TTL = 0.2


class Gateway:
    """FlushStageAuthorizersCache, recorded with a global sequence number when each call starts and ends."""

    def __init__(self, sequence: Any, broken: tuple[str, ...] = ()) -> None:
        self.sequence = sequence
        self.broken = broken
        self.calls: list[tuple[str, int, int]] = []
        self.lock = threading.Lock()

    def flush_stage_authorizers_cache(self, restApiId: str, stageName: str) -> None:
        stage = f"{restApiId}/{stageName}"
        started = next(self.sequence)
        if stage in self.broken:
            raise ConnectionError("API Gateway unreachable")
        with self.lock:
            self.calls.append((stage, started, next(self.sequence)))


def instance(gateway: Gateway, table: str, interval: float = INTERVAL) -> CacheFlusher:
    """One warm Lambda instance's flusher: its own clients, the stack's one coordination table."""
    coordinator = FlushCoordinator(table, boto3.client("dynamodb"), interval_seconds=interval)
    return CacheFlusher(gateway, lambda: STAGES, TTL, coordinator=coordinator)


def test_fifty_concurrent_revocations_flush_each_stage_about_once_a_second_each_after_its_commit(aws) -> None:
    sequence = itertools.count()
    gateway = Gateway(sequence)
    table = aws.environment["COORDINATION_TABLE"]
    flushers = [instance(gateway, table) for _ in range(50)]  # fifty instances, fifty revocations at once
    commits: dict[int, int] = {}
    answers: dict[int, int] = {}
    reports: dict[int, Any] = {}

    def revoke(number: int) -> None:
        commits[number] = next(sequence)  # the revocation is committed here
        reports[number] = flushers[number].revoke_everywhere("demo", "dev")
        answers[number] = next(sequence)  # and answered (204) here

    threads = [threading.Thread(target=revoke, args=(n,)) for n in range(50)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    elapsed = time.monotonic() - started

    assert all(report.unflushed == () for report in reports.values()) and len(reports) == 50
    per_stage = Counter(stage for stage, _, _ in gateway.calls)
    assert set(per_stage) == {"mgmt/v1", "orders/dev"}
    for stage, count in per_stage.items():
        # One claim per stage in each second of the clock: within `elapsed` seconds, at most as many as the
        # seconds it touches (the 200 calls fifty uncoordinated revocations would make, two flushes of two
        # stages each, are a handful).
        assert count <= math.ceil(elapsed / INTERVAL) + 1, (stage, count, elapsed)
    for number in range(50):
        for stage in per_stage:
            assert any(
                name == stage and commits[number] < start and end < answers[number]
                for name, start, end in gateway.calls
            ), f"revocation {number} answered without a flush of {stage} started after its commit"


def test_a_stage_that_fails_is_tried_again_an_interval_later_then_named_and_others_still_coalesce(aws) -> None:
    sequence = itertools.count()
    gateway = Gateway(sequence, broken=("orders/dev",))
    table = aws.environment["COORDINATION_TABLE"]
    slept: list[float] = []
    flusher = instance(gateway, table, interval=0.05)
    flusher.sleep = lambda seconds: slept.append(seconds) or time.sleep(seconds)

    report = flusher.revoke_everywhere("demo", "dev")

    assert report.flushed == ("mgmt/v1",) and report.unflushed == ("orders/dev",)


def test_without_its_table_a_change_still_flushes_every_stage_itself(aws) -> None:
    gateway = Gateway(itertools.count())
    coordinator = FlushCoordinator("no-such-table", boto3.client("dynamodb"))
    flusher = CacheFlusher(gateway, lambda: STAGES, 0, coordinator=coordinator)

    report = flusher.revoke_everywhere("demo", "dev")

    assert report.flushed == ("mgmt/v1", "orders/dev") and report.unflushed == ()
    assert {stage for stage, _, _ in gateway.calls} == {"mgmt/v1", "orders/dev"}


def test_a_flush_already_under_way_when_a_change_commits_does_not_serve_it(aws) -> None:
    table = aws.environment["COORDINATION_TABLE"]
    first, second = (FlushCoordinator(table, boto3.client("dynamodb"), interval_seconds=0.05) for _ in range(2))
    order: list[str] = []
    waiting: list[threading.Thread] = []

    def second_flush() -> bool:
        order.append("second change's own flush")
        return True

    def first_flush() -> bool:
        # Another change commits while this flush is under way: the flush may have missed it.
        served = lambda: order.append(f"served {second.flush_after_commit('api/s', second_flush)}")  # noqa: E731
        change = threading.Thread(target=served)
        change.start()
        waiting.append(change)
        order.append("first flush done")
        return True

    assert first.flush_after_commit("api/s", first_flush)
    waiting[0].join(10)
    # However the two interleave, the second change got a flush of its own (claimed after its ticket), never
    # the one that was under way when it committed.
    assert "second change's own flush" in order and "served True" in order
