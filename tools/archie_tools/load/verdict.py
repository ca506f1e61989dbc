"""What each answer should have been, and the run's figures. A request's expected status follows from its
key's state when it was sent: a live key is allowed on a route its role grants (200) and refused on another
(403); a forged key is refused (403), a malformed one is not a key (401). A revoked key is refused once its
revocation has answered 204; a request that overlapped the DELETE may get either answer, one answered before
the DELETE was sent must get the live answer. Pure: it reads what the client reported."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archie_tools.load.plan import FORGED, GRANTED, ISSUED, MALFORMED, Plan, Request

REFUSED = 403
UNAUTHORIZED = 401


@dataclass(frozen=True)
class RevocationOutcome:
    key: int
    sent: float  # seconds after the load started
    answered: float
    status: int


@dataclass
class Verdict:
    counts: dict[str, Any]
    violations: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # a few violations, for stderr
    answered: list[tuple[str, int]] = field(default_factory=list)  # (extended request id, status)
    warm_up_answered: list[tuple[str, int]] = field(default_factory=list)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def expected_statuses(
    request: Request, sent: float, answered: float, revoked: dict[int, RevocationOutcome]
) -> tuple[set[int], bool]:
    """(the statuses this request may get, whether it was sent after its key's revocation answered 204)."""
    if request.kind == FORGED:
        return {REFUSED}, False
    if request.kind == MALFORMED:
        return {UNAUTHORIZED}, False
    live = {200 if request.method == GRANTED else REFUSED}
    revocation = revoked.get(request.ref)
    if revocation is None or answered <= revocation.sent:
        return live, False
    if revocation.status == 204 and sent >= revocation.answered:
        return {REFUSED}, True
    return live | {REFUSED}, False  # overlapping the DELETE, or a revocation that did not confirm


def judge(
    plan: Plan, warm_up: list[list[Any]], results: list[list[Any] | None], revocations: list[RevocationOutcome]
) -> Verdict:
    """Counts, latencies and violations of one run. `warm_up`: [status, request id] of each issued key's
    request before the clock started (each must be allowed, and is audited like any other). `results[i]`:
    [sent, answered, status, request id] of planned request i (seconds after the start), or None when it was
    never sent (the run fell behind)."""
    revoked = {r.key: r for r in revocations}
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    latencies, lags = [], []
    verdict = Verdict(counts={})
    span = 0.0
    after_revocations = 0
    for key, (status, request_id) in enumerate(warm_up):
        if status == 0:
            verdict.violations["no_answer"] += 1
            continue
        verdict.warm_up_answered.append((request_id, status))
        if status != 200:
            verdict.violations["wrong_status"] += 1
            verdict.examples.append(f"warm-up of issued key #{key}: {status}, expected 200")
    for request, result in zip(plan.requests, results, strict=True):
        if result is None:
            continue
        sent, answered, status, request_id = result
        kinds[request.kind] += 1
        if status == 0:
            verdict.violations["no_answer"] += 1
            continue
        statuses[status] += 1
        latencies.append(answered - sent)
        lags.append(max(0.0, sent - request.at))
        span = max(span, answered)
        verdict.answered.append((request_id, status))
        allowed, after_revocation = expected_statuses(request, sent, answered, revoked)
        after_revocations += after_revocation
        if status not in allowed:
            # A 503 is the authorizer failing closed (it could not decide in time): not a wrong decision, but
            # not the answer the key's state calls for either.
            kind = "revoked_not_refused" if after_revocation else "unavailable" if status == 503 else "wrong_status"
            verdict.violations[kind] += 1
            if len(verdict.examples) < 5:
                verdict.examples.append(
                    f"{request.kind} key #{request.ref} {request.method} at {sent:.3f}s: {status}, "
                    f"expected {sorted(allowed)}"
                )
    verdict.violations["revocation_not_confirmed"] = sum(1 for r in revocations if r.status != 204)
    latencies.sort()
    lags.sort()
    requests = len(latencies)
    verdict.counts = {
        "requests": requests,
        "achieved_rps": round(requests / span, 1) if span else 0.0,
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else 0.0,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else 0.0,
        "allowed": sum(n for s, n in statuses.items() if 200 <= s < 300),
        "refused": statuses[UNAUTHORIZED] + statuses[REFUSED],
        "by_status": {str(s): n for s, n in sorted(statuses.items())},
        "by_key_kind": {k: kinds[k] for k in (ISSUED, FORGED, MALFORMED)},
        "warm_up_requests": len(warm_up),
        "revoked_after_204": after_revocations,  # requests of revoked keys sent after the 204: each must be refused
        "unsent": sum(1 for r in results if r is None),
        "late_p99_ms": round(percentile(lags, 0.99) * 1000, 2),
        "mean_in_flight": round(sum(latencies) / span, 2) if span else 0.0,
        "span_s": round(span, 2),
    }
    return verdict
