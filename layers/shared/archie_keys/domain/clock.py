"""Time in one representation: ISO 8601 UTC strings in storage and in the API, epoch seconds for comparisons."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from archie_keys.domain.limits import TIME_MAX_YEAR, TIME_MIN_YEAR

# A time with a date, a time of day and an explicit offset (Z or +hh:mm): nothing a reader could misread
# as local time. Fractions of a second up to microseconds.
_ISO_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})\Z", re.ASCII
)


def now_epoch() -> float:
    return time.time()


# How a function waits for a moment to come (an expiry's second, a notice's time): time.sleep on Lambda. A host
# that runs functions on threads of its own (the local stack, the unit tier) installs a wait its shutdown ends
# early (archie_local.lambdas), so stopping it does not sit out an expiry a minute away.
_waiter: Callable[[float], object] = time.sleep


def wait_seconds(seconds: float) -> None:
    _waiter(seconds)


def install_waiter(waiter: Callable[[float], object]) -> None:
    global _waiter
    _waiter = waiter


def to_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_iso(text: str) -> float:
    """A time this service wrote (to_iso) back to epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def parse_client_time(text: str) -> datetime:
    """A time a client sent, strictly: ISO 8601 with an explicit offset, in years TIME_MIN_YEAR..TIME_MAX_YEAR
    once in UTC. Raises ValueError for anything else (never OverflowError: 9999-12-31T23:59:59-23:59 is a
    time in year 10000, which no datetime holds, and is refused as out of range)."""
    if not _ISO_TIME.match(text):
        raise ValueError("not an ISO 8601 time with a time zone")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if not TIME_MIN_YEAR <= parsed.year <= TIME_MAX_YEAR:
            raise ValueError("out of range")
        in_utc = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"times must lie in the years {TIME_MIN_YEAR} to {TIME_MAX_YEAR}") from None
    if not TIME_MIN_YEAR <= in_utc.year <= TIME_MAX_YEAR:
        raise ValueError(f"times must lie in the years {TIME_MIN_YEAR} to {TIME_MAX_YEAR}")
    return in_utc
