"""How the benchmarks time things: percentiles in microseconds, one timed call, repeated calls, and the AWS
calls a piece of code makes (counted at botocore's endpoint, so every client and session is seen)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import botocore.endpoint


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e6, p99 * 1e6


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(action: Callable[[], Any], runs: int, before: Callable[[], Any] | None = None) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


class AwsCallCounter:
    """Counts HTTP requests botocore sends from this thread (the one invoking the authorizer), whatever client
    or session makes them; the local stack's own background threads (the scheduler emulator) don't count."""

    def __init__(self) -> None:
        self.calls = 0
        self._original = botocore.endpoint.Endpoint.make_request
        self._thread = threading.get_ident()

    def __enter__(self) -> AwsCallCounter:
        counter, original = self, self._original

        def counting(endpoint: Any, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == counter._thread:
                counter.calls += 1
            return original(endpoint, *args, **kwargs)

        botocore.endpoint.Endpoint.make_request = counting
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.endpoint.Endpoint.make_request = self._original
