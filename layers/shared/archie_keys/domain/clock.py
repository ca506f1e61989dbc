"""Time in one representation: ISO 8601 UTC strings in storage and in the API, epoch seconds for comparisons."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_epoch() -> float:
    return time.time()


def to_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
