"""The environments' state a warm authorizer remembers (domain.environment_state), read on demand.

Each is one strongly consistent Query of the environment's `ENV` items; how old an answer may be depends on
what it decides (app.verification): a forged key's refusal accepts minutes, a mass revocation one cache TTL.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from archie_keys.domain.environment_state import EnvironmentState
from archie_keys.domain.limits import ENVIRONMENT_CACHE_MAX

if TYPE_CHECKING:
    from archie_keys.app.ports import DecisionStore as KeyStore


class EnvironmentStates:
    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        # (project, environment) -> (its state, or None when not declared; when it was read)
        self._states: dict[tuple[str, str], tuple[EnvironmentState | None, float]] = {}

    def read(self, project: str, environment: str, now: float, max_age: float) -> EnvironmentState | None:
        cached = self._states.get((project, environment))
        if cached is not None and now - cached[1] < max_age:
            return cached[0]
        state = self._store.environment_state(project, environment)
        with self._lock:
            if len(self._states) >= ENVIRONMENT_CACHE_MAX:
                self._states.pop(next(iter(self._states)))  # the oldest: bounded whatever ids a flood names
            self._states[(project, environment)] = (state, now)
        return state

    def clear(self) -> None:
        with self._lock:
            self._states.clear()
