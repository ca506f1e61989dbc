"""Part of `make bench`: what proving a guarded delete costs, at the local gateway, with the whole stack running.

A guarded delete (`?if_unused_for=`) first waits for the ingest watermark to pass its arrival (the local log
deliverer attests every 0.3 s), then reads the key's use. Measured over HTTP, per answer: 409 for a key that
answered a request just before (the race the guard exists for), 204 for an idle one, against an unguarded
delete of an idle one (both 204s include the revocation's flushes and its wait of the authorizer's cache TTL).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from tests.support import env_path, http, put_orders_reader

KEYS = env_path("demo", "dev", "/keys")
ROUNDS = 8


def _key(base: str, admin: str) -> tuple[str, str]:
    created = http(base, "POST", KEYS, admin, {"name": "guard bench", "roles": ["orders-reader"]}).body
    return created["key"], created["key_id"]


def _timed_delete(base: str, admin: str, key_id: str, query: str, expected: int) -> float:
    started = time.perf_counter()
    reply = http(base, "DELETE", f"{KEYS}/{key_id}{query}", admin)
    elapsed = (time.perf_counter() - started) * 1000
    assert reply.status == expected, (reply.status, reply.body)
    return elapsed


def _p50_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return round(statistics.median(ordered), 1), round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)


def measure(stack: Any, admin: str) -> dict[str, Any]:
    base, sample = stack.url(), stack.url("SampleApi")
    put_orders_reader(base, admin)
    in_use, idle, unguarded = [], [], []
    for _ in range(ROUNDS):
        key, key_id = _key(base, admin)
        assert http(sample, "GET", "/orders/7", key).status == 200
        in_use.append(_timed_delete(base, admin, key_id, "?if_unused_for=600", 409))
        idle.append(_timed_delete(base, admin, _key(base, admin)[1], "?if_unused_for=600", 204))
        unguarded.append(_timed_delete(base, admin, _key(base, admin)[1], "", 204))
    results: dict[str, Any] = {}
    for name, samples in (("in_use_409", in_use), ("idle_204", idle), ("unguarded_204", unguarded)):
        results[f"guarded_delete_{name}_ms_p50"], results[f"guarded_delete_{name}_ms_p99"] = _p50_p99(samples)
    results["guarded_delete_rounds"] = ROUNDS
    return results


def main() -> int:
    """This measure alone (`.venv/bin/python -m archie_tools.bench.guard_bench`): one JSON line on stdout."""
    import json
    import os
    import sys

    from archie_local.stack import LocalStack

    result_out, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - the handlers' lines, for the run
    with LocalStack(port=0, sample_port=0) as stack:
        results = measure(stack, stack.bootstrap("demo", "dev"))
    print(json.dumps(results), file=result_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
