"""What the OIDC exchange and its trust policies need (app.ports holds the key changes'): the environment's
trust policies, with the writes that change them or check them in an exchange's transaction and the mark
that refuses a token's replay, and the per-environment rate of exchanges. Protocols with only the calls the
use cases make; aws/ implements them structurally (aws.trust_store, aws.environment_rate).
"""

from __future__ import annotations

from typing import Any, Protocol

from archie_keys.app.ports import Write
from archie_keys.domain.replay import ReplayMark


class TrustStore(Protocol):
    """An environment's trust policies (bounded: limits.TRUST_POLICIES_PER_ENVIRONMENT_MAX); writes labelled
    `trust` when the policy changed meanwhile."""

    def get(self, project: str, environment: str, name: str) -> dict[str, Any] | None: ...
    def list(self, project: str, environment: str) -> list[dict[str, Any]]: ...
    def put_write(
        self, project: str, environment: str, name: str, values: dict[str, Any], previous: dict[str, Any] | None
    ) -> Write: ...
    def delete_write(self, project: str, environment: str, name: str, previous: dict[str, Any]) -> Write: ...
    def policy_check_write(self, project: str, environment: str, name: str, policy: dict[str, Any]) -> Write: ...
    def replay_write(self, mark: ReplayMark) -> Write: ...


class EnvironmentRate(Protocol):
    """Counts an operation in its environment's window, or raises RateLimitedError (429) past `limit`."""

    def admit(self, project: str, environment: str, operation: str, limit: int, window: int, now: float) -> None: ...
