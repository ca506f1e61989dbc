"""What keying API Gateway's authorizer cache on the source address costs (docs/limits.md, "Cached decisions").

Replays client populations through the local gateway's own authorizer cache (archie_local.authorization, the
cache a test of the emulator holds to API Gateway's behaviour), once cached on Authorization alone and once on
Authorization and `context.identity.sourceIp`, with ReauthorizeEvery at the template's default (300 s) and a
clock that moves with the simulated traffic. It counts authorizer invocations, and prices the extra ones with
the cost model's list prices and the template's authorizer memory: from a warm instance's decision (the key
in its in-function cache: one request fee and one billed millisecond) to a full re-read of the key.

Its stdout is one JSON line; a table goes to stderr. `make bench-ip-cache`.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from archie_local.gateway import Gateway
from archie_tools.bench.cost_model import (
    DYNAMODB_PER_READ_UNIT,
    DYNAMODB_READ_MS,
    LAMBDA_PER_GB_SECOND,
    LAMBDA_PER_REQUEST,
)
from archie_tools.bench.cost_template import template_facts
from tests.fakes.gateway_api import Clock, FakeAuthorizer, FakeKey, call, fake_api

SEED = 21
DURATION_SECONDS = 1800  # six cache lifetimes
TTL_SECONDS = 300


@dataclass(frozen=True)
class Population:
    name: str
    rate: float  # requests a second, all of one key
    address: Callable[[random.Random, float], str]  # the source address of a request sent at a moment


def fixed(count: int) -> Callable[[random.Random, float], str]:
    return lambda rng, _: f"198.51.{count // 250}.{rng.randrange(count) % 250 + 1}"


def sessions(length_seconds: float) -> Callable[[random.Random, float], str]:
    """A browser or app user per address: each address is a session of `length_seconds`, so the addresses
    seen in a window grow with its length."""

    def address(rng: random.Random, at: float) -> str:
        session = int(at // length_seconds) * 1000 + rng.randrange(1000)
        return f"10.{session // 65536 % 256}.{session // 256 % 256}.{session % 256}"

    return address


POPULATIONS = (
    Population("one server, one address", 5, fixed(1)),
    Population("a service behind 3 NAT gateways", 20, fixed(3)),
    Population("an autoscaled fleet, 50 public addresses", 50, fixed(50)),
    Population("Lambda clients outside a VPC, 5,000 addresses", 50, fixed(5000)),
    Population("an app embedding the key: 60 s sessions, 1,000 at a time", 20, sessions(60)),
)


def moments(rng: random.Random, rate: float) -> Iterator[float]:
    at = 0.0
    while True:
        at += rng.expovariate(rate)
        if at >= DURATION_SECONDS:
            return
        yield at


def replay(population: Population, per_address: bool) -> tuple[int, int]:
    """(requests, authorizer invocations) for one population, cached per key or per key and address."""
    rng = random.Random(SEED)
    authorizer = FakeAuthorizer({"key": FakeKey()})
    clock = Clock(0.0)
    api = fake_api(authorizer, clock, source_ip_in_cache_key=per_address, ttl_seconds=TTL_SECONDS)
    gateway = Gateway(api)
    requests = 0
    for at in moments(rng, population.rate):
        clock.now = at
        assert call(api, "key", population.address(rng, at), gateway).status == 200
        requests += 1
    return requests, authorizer.invocations


def main() -> int:
    facts = template_facts()
    gigabytes = facts.authorizer_memory_mb / 1024
    per_ms = LAMBDA_PER_GB_SECOND[facts.architecture] * gigabytes / 1000
    warm = LAMBDA_PER_REQUEST + per_ms  # a decision from the instance's own cache: one billed millisecond
    reread = warm + 2 * DYNAMODB_PER_READ_UNIT + per_ms * DYNAMODB_READ_MS
    rows: list[dict[str, object]] = []
    for population in POPULATIONS:
        requests, per_key = replay(population, per_address=False)
        _, per_pair = replay(population, per_address=True)
        extra_per_million = (per_pair - per_key) / requests * 1e6
        extra_usd = [round(extra_per_million * warm, 4), round(extra_per_million * reread, 4)]
        rows.append(
            {
                "population": population.name,
                "requests_per_second": population.rate,
                "requests": requests,
                "hit_rate_per_key": round(1 - per_key / requests, 5),
                "hit_rate_per_key_and_address": round(1 - per_pair / requests, 5),
                "extra_invocations_per_million_requests": round(extra_per_million),
                "extra_usd_per_million_requests": extra_usd,
            }
        )
        print(
            f"{population.name:60s} hits {1 - per_key / requests:.4%} -> {1 - per_pair / requests:.4%}  "
            f"+${extra_usd[0]:.4f}..{extra_usd[1]:.4f} per million requests",
            file=sys.stderr,
        )
    summary = {
        "ttl_seconds": TTL_SECONDS,
        "duration_seconds": DURATION_SECONDS,
        "seed": SEED,
        "usd_per_extra_invocation_million": [round(warm * 1e6, 4), round(reread * 1e6, 4)],
        "populations": rows,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
