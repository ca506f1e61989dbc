"""Part of `make bench`: how late expiry is at the gateway, against the local stack.

Keys of the sample API's environment expire two at a time, every other second, 24 in all; each is used once first,
so the local gateway caches its Allow for ReauthorizeEvery (300 s). Around each expiry second its keys are called
again and again; a key's lateness is how long after its expires_at the gateway still answered 200 (the moment the last
such request was sent), 0 when the first request after it was refused. What makes it late: ExpiryFlushFunction
waking at the second, the coalesced flush of each stage serving the environment (aws.flush_coordination), and
the gateway applying it.
"""

from __future__ import annotations

import math
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")
SECONDS = 12
PER_SECOND = 2
# Calls of one key stop this long after its expiry: a flush later than that is a failure, not a figure.
GIVE_UP_SECONDS = 10.0


def _key(base: str, admin: str, expires: int) -> str:
    body = {
        "name": "expiring",
        "roles": ["orders-reader"],
        "expires_at": datetime.fromtimestamp(expires, UTC).isoformat(),
    }
    created = http(base, "POST", KEYS, admin, body)
    assert created.status == 201, created.body
    return str(created.body["key"])


def lateness_ms(sample: str, keys: list[str], expires: int) -> list[float]:
    """Each key's lateness (ms) at `expires`: calls them in turn from just before the second until each is
    refused."""
    while time.time() < expires - 0.2:
        time.sleep(0.01)
    last_allowed = {key: float("-inf") for key in keys}
    pending = set(keys)
    while pending:
        for key in sorted(pending):
            sent = time.time()
            status = http(sample, "GET", "/orders", key, timeout=5).status
            if status == 200:
                last_allowed[key] = sent
            elif sent >= expires:
                pending.discard(key)
            if sent > expires + GIVE_UP_SECONDS:
                raise AssertionError(f"a key was still accepted {GIVE_UP_SECONDS} s after it expired")
    return [max(0.0, (last_allowed[key] - expires) * 1000) for key in keys]


def measure(stack: Any, admin: str) -> dict[str, Any]:
    """expiry_late_ms_p50 / _p99 / _max over SECONDS x PER_SECOND keys, and how many."""
    base, sample = stack.url(), stack.url("SampleApi")
    put_orders_reader(base, admin)
    first = math.ceil(time.time()) + 6  # after every key is made (argon2 with the deployed parameters)
    # Every other second: one second's calls (until its keys are refused) never run into the next one's.
    seconds = [first + 2 * i for i in range(SECONDS)]
    keys = {second: [_key(base, admin, second) for _ in range(PER_SECOND)] for second in seconds}
    for batch in keys.values():
        for key in batch:
            assert http(sample, "GET", "/orders", key).status == 200  # the gateway now caches its Allow
    late: list[float] = []
    for second in seconds:
        late += lateness_ms(sample, keys[second], second)
    ordered = sorted(late)
    return {
        "expiry_late_ms_p50": round(statistics.median(ordered), 1),
        "expiry_late_ms_p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "expiry_late_ms_max": round(ordered[-1], 1),
        "expiry_keys": len(ordered),
    }
