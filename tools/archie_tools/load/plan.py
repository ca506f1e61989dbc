"""What a load run sends, decided before it starts and only from its settings: which key each request
presents, on which route, at which moment, and which keys are revoked when. The same seed gives the same plan,
so two runs differ only in what the service did with it. Pure: no I/O, no clock.

Key values cannot be part of a reproducible plan (the service issues them), so the plan names keys by index:
the n-th issued key (by popularity rank), the n-th forged one, the n-th malformed one."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

ISSUED, FORGED, MALFORMED = "issued", "forged", "malformed"
# A live key's role reads `orders` (GET and HEAD); DELETE is a route of the same API its roles do not grant.
GRANTED, UNGRANTED = "GET", "DELETE"


@dataclass(frozen=True)
class Settings:
    duration: float = 30.0
    rate: float = 10.0
    keys: int = 100
    seed: int = 1
    threads: int = 16
    zipf_exponent: float = 1.0  # as `make cost` assumes: popularity 1/rank
    forged_share: float = 0.05  # of requests
    malformed_share: float = 0.02
    ungranted_share: float = 0.03  # of the issued keys' requests: a route their role does not grant
    # Distinct forged keys; 0: a new one for every forged request, as a flood defeats the gateway's cache.
    forged: int = 0
    revoke: int = 0  # keys revoked mid-run; 0: one per 20 issued keys
    malformed: int = 12  # distinct malformed values

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.rate <= 0 or self.keys < 2 or self.threads < 1:
            raise ValueError("duration and rate must be positive, keys at least 2, threads at least 1")
        if not 0 <= self.forged_share + self.malformed_share <= 0.5:
            raise ValueError("forged and malformed requests are at most half of the load")

    @property
    def revoked_keys(self) -> int:
        return min(self.revoke or max(1, self.keys // 20), self.keys - 1)


@dataclass(frozen=True)
class Request:
    at: float  # seconds after the load starts
    kind: str  # ISSUED, FORGED or MALFORMED
    ref: int  # index among the keys of its kind (issued keys by popularity rank, 0 the hottest)
    method: str
    path: str


@dataclass(frozen=True)
class Revocation:
    at: float
    key: int  # index of the issued key


@dataclass(frozen=True)
class Plan:
    requests: list[Request]
    revocations: list[Revocation]
    forged_keys: int  # how many distinct forged keys the requests present


def zipf_cumulative(count: int, exponent: float) -> list[float]:
    """Cumulative weights of ranks 0..count-1 with popularity 1/(rank+1)**exponent."""
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(count)))


def build_plan(settings: Settings) -> Plan:
    """Requests evenly spaced at the target rate over the duration (an open loop: a slow answer does not delay
    the next request), and revocations spread over the middle of the run, of keys popular enough to be
    presented again after their revocation."""
    rng = random.Random(settings.seed)
    cumulative = zipf_cumulative(settings.keys, settings.zipf_exponent)
    total = cumulative[-1]
    requests = []
    fresh = 0  # forged keys made so far, when each forged request has its own
    for i in range(int(settings.duration * settings.rate)):
        at = i / settings.rate
        draw = rng.random()
        order = rng.randrange(1_000_000)
        if draw < settings.forged_share:
            if settings.forged:
                ref = rng.randrange(settings.forged)
            else:
                ref, fresh = fresh, fresh + 1
            requests.append(Request(at, FORGED, ref, GRANTED, f"/orders/{order}"))
        elif draw < settings.forged_share + settings.malformed_share:
            requests.append(Request(at, MALFORMED, rng.randrange(settings.malformed), GRANTED, f"/orders/{order}"))
        else:
            rank = min(bisect.bisect_left(cumulative, rng.random() * total), settings.keys - 1)
            method = UNGRANTED if rng.random() < settings.ungranted_share else GRANTED
            requests.append(Request(at, ISSUED, rank, method, f"/orders/{order}"))
    count = settings.revoked_keys
    # From the most popular ranks (but never every key): a revoked key nobody presents again proves nothing.
    chosen = rng.sample(range(min(settings.keys, max(4 * count, 10))), count)
    revocations = [Revocation(settings.duration * (0.2 + 0.5 * (j + 0.5) / count), key) for j, key in enumerate(chosen)]
    return Plan(requests, revocations, settings.forged or fresh)
