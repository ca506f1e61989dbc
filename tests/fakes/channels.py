"""The use cases' channels outside the tables, in memory: API Gateway's usage plans (per-key limits) and the
key events bus. Each records what a user would notice: which plan a rotation chain's API key is in, and
which events were published."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archie_keys.domain.errors import CapacityExhausted
from archie_keys.domain.rate_limits import Limits, QuotaUsage


class FakeUsagePlans:
    """Rotation chains' API keys and the plan of their limits; `room` API keys before the account is full."""

    def __init__(self) -> None:
        self.plans: dict[str | None, Limits | None] = {}  # lineage id (None: the shared key) -> its limits
        self.room = 10_000  # API Gateway's API keys per region
        self.fail_next: Exception | None = None

    def attach(self, lineage_id: str | None, limits: Limits | None) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        if lineage_id not in self.plans and len(self.plans) >= self.room:
            raise CapacityExhausted("LimitExceededException")
        self.plans[lineage_id] = limits
        return f"usage-{lineage_id}"

    def detach(self, lineage_id: str) -> None:
        self.plans.pop(lineage_id, None)

    def quota(self, lineage_id: str, limits: Limits, now: float) -> QuotaUsage | None:
        return None


class FakeEventBus:
    """The key events bus: every event put on it, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    def put(self, event_type: str, bodies: Sequence[bytes]) -> None:
        self.events += [(event_type, body) for body in bodies]

    def types(self) -> list[str]:
        return [event_type for event_type, _ in self.events]

    def about(self, key_id: str) -> list[dict[str, Any]]:
        """The events that name this key, as their JSON bodies."""
        return [json.loads(body) for _, body in self.events if key_id.encode() in body]
