"""`make bench-regions`: a two-region local stack (`make run REGIONS=us-east-1,eu-west-1`) measured. For each of
KEYS keys: created in the first region, the time until its record reaches the second
(create_visible_cross_region); used in the first (its Allow cached there), revoked in the second, the time
until the first region's sample API refuses it (revocation_cross_region). replication_lag_p50_ms is the local
emulation's own lag (archie_local.replication), so the figures can be read net of it. stdout: one JSON line;
stderr: the figures as a table."""

from __future__ import annotations

import functools
import json
import os
import statistics
import sys
import threading
import time

from tests.regions_run import REGIONS, TwoRegions, two_regions, wait_until

KEYS = int(os.environ.get("BENCH_REGION_KEYS", "20"))
LIMIT_SECONDS = 30


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def refused(run: TwoRegions, region: str, key: str) -> bool:
    return run.sample_status(region, key) in (401, 403)


def main() -> int:
    east, west = REGIONS
    visible: list[float] = []
    revoked: list[float] = []
    with two_regions() as run:
        for number in range(KEYS):
            key, key_id = run.create_key(east, f"bench-{number}")
            arrived = functools.partial(run.arrived, west, key_id)
            visible.append(wait_until(arrived, LIMIT_SECONDS) * 1000)
            assert run.sample_status(east, key) == 200  # cached at the first region's gateway
            # The revocation answers once its own region's caches are flushed twice (about a second): the other
            # region is watched meanwhile, from the moment the request is sent.
            revocation = threading.Thread(target=run.revoke, args=(west, key_id))
            started = time.monotonic()
            revocation.start()
            wait_until(functools.partial(refused, run, east, key), LIMIT_SECONDS, step=0.01)
            revoked.append((time.monotonic() - started) * 1000)
            revocation.join(LIMIT_SECONDS)
        lag = run.fault("/status")["replication_lag_p50_ms"]
    result = {
        "keys": KEYS,
        "revocation_cross_region_p50_ms": round(statistics.median(revoked), 1),
        "revocation_cross_region_p99_ms": round(percentile(revoked, 0.99), 1),
        "create_visible_cross_region_p50_ms": round(statistics.median(visible), 1),
        "replication_lag_p50_ms": round(float(lag), 1) if lag is not None else None,
    }
    for name, value in result.items():
        print(f"{name:40} {value}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
