"""When a webhook delivery is tried again, and when it is given up (docs/webhooks.md, "Retries"). Pure.

The schedule is the Standard Webhooks specification's example, each delay capped at 12 hours (SQS's longest
visibility timeout, the engine on AWS): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 12 h, 12 h, so nine attempts over
about 41.6 hours. Each delay is spread by up to 10% either way; a receiver's Retry-After (on a 429 or 503) is
honoured when it asks for longer. A 2xx is delivered; 410 Gone means the receiver wants no more (the webhook
is disabled, the delivery dead-lettered); anything else, a timeout or a refused connection is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass

from archie_keys.domain.webhook_limits import WEBHOOK_RETRY_DELAYS_SECONDS, WEBHOOK_RETRY_JITTER

MAX_ATTEMPTS = len(WEBHOOK_RETRY_DELAYS_SECONDS) + 1
LONGEST_DELAY_SECONDS = max(WEBHOOK_RETRY_DELAYS_SECONDS)


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the receiver's status (None when there was no answer) or why there was none, the
    receiver's Retry-After in seconds, and the start of its answer for the delivery record."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None
    response: bytes = b""


def delivered(status: int | None) -> bool:
    return status is not None and 200 <= status <= 299


def gone(status: int | None) -> bool:
    return status == 410


def retry_delay(failed_attempt: int, jitter_unit: float, retry_after: float | None = None) -> float | None:
    """Seconds until the attempt after `failed_attempt` (1 is the first), or None when that was the last.
    `jitter_unit` is uniform in [0, 1) (0.5 gives the schedule's own delay)."""
    if not 1 <= failed_attempt < MAX_ATTEMPTS:
        return None
    base = WEBHOOK_RETRY_DELAYS_SECONDS[failed_attempt - 1]
    delay = base * (1 + WEBHOOK_RETRY_JITTER * (2 * min(max(jitter_unit, 0.0), 1.0) - 1))
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, float(LONGEST_DELAY_SECONDS))
    return delay


def schedule_span_seconds() -> float:
    """How long after the first attempt the last one is made, without jitter."""
    return float(sum(WEBHOOK_RETRY_DELAYS_SECONDS))
