"""Flushing API Gateway's authorizer result caches, so a revoked or expired key stops at the gateway layer too.

API Gateway caches an authorizer's answer per identity source for up to ReauthorizeEvery seconds. Every change
that takes a right away (a revocation, a mass revocation, an expiry, a role edit, a roll) therefore, once it is
committed in DynamoDB: (1) flushes every stage that serves its environment, (2) waits until no warm authorizer
instance can still hold a decision from before the change (its cache TTL), (3) flushes again, because a
request between (1) and (2) may have re-cached such an Allow. `CacheFlusher.revoke_everywhere` is that one
way, for every change.

Each flush of a stage is coalesced with every other change's (aws.flush_coordination): at most one call per
stage a second, however many changes ask, each change still served by a flush that started after its commit.
On AWS this calls apigateway:FlushStageAuthorizersCache; locally the same boto3 call reaches the local
gateway through AWS_ENDPOINT_URL_API_GATEWAY, so this code is identical in both places.

Which stages: the protected API registry (one SSM parameter per stage, aws.protected_api_registry), or a
fixed list (FLUSH_TARGETS) for local runs and tests; each a domain.flush_targets.FlushTarget, and which of them
serve a key is domain.flush_scope's rule. How often a failing stage is tried: aws.flush_retry.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archie_keys.aws.flush_retry import with_retries
from archie_keys.domain import flush_scope
from archie_keys.domain.clock import wait_seconds
from archie_keys.domain.flush_targets import FlushTarget

if TYPE_CHECKING:
    from archie_keys.aws.flush_coordination import FlushCoordinator

logger = logging.getLogger("archie_keys.cache_flush")


@dataclass(frozen=True)
class FlushReport:
    """What a revocation's flush reached: the stages flushed, and those still holding a cache that may serve
    the key until it expires there (ReauthorizeEvery at most)."""

    flushed: tuple[str, ...] = ()
    unflushed: tuple[str, ...] = ()


# Named in place of the stages when the list of stages itself could not be read.
TARGETS_UNREADABLE = "(every stage: the list of stages could not be read)"
# Stages flushed at once by one change (each may wait up to about a second for its turn).
PARALLEL_STAGES = 8


class CacheFlusher:
    def __init__(
        self,
        client: Any,
        targets: Callable[[], Sequence[FlushTarget]],
        instance_cache_ttl_seconds: float,
        # Between the two flushes of a change: a wait for a moment (the warm instances' TTL), which a local
        # stack being stopped may end early.
        sleep: Callable[[float], None] = wait_seconds,
        on_unflushed: Callable[[str, str, str], None] | None = None,
        coordinator: FlushCoordinator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.targets = targets
        # A warm authorizer instance trusts its decision for at most this long (see VerifierConfig).
        self.instance_cache_ttl_seconds = instance_cache_ttl_seconds
        self.sleep = sleep
        # Told (stage, project, environment) once per stage a flush finally failed on: the metric the
        # "stages not flushed" alarm watches.
        self.on_unflushed = on_unflushed
        # Coalesces flushes across every instance (aws.flush_coordination); None: each change flushes itself.
        self.coordinator = coordinator
        self.clock = clock

    def stage_environments(self) -> dict[str, tuple[str, str]]:
        """restApiId/stage -> (project, environment) of the protected APIs (their paths do not name them)."""
        return flush_scope.stage_environments(self.targets())

    def longest_declared_ttl(self, project: str, environment: str) -> float | None:
        """The longest authorizer cache a stage serving project/environment declares (domain.flush_scope).
        Raises when the registry cannot be read."""
        return flush_scope.longest_declared_ttl(self.targets(), project, environment)

    def _call(self, target: FlushTarget) -> bool:
        """One FlushStageAuthorizersCache call."""
        try:
            self.client.flush_stage_authorizers_cache(restApiId=target.rest_api_id, stageName=target.stage)
            return True
        except Exception:  # noqa: BLE001 - a stage that cannot be flushed is retried and reported, not raised
            logger.warning("flushing %s failed", target.label)
            return False

    def _flush_stage(self, target: FlushTarget) -> bool:
        """A flush of the stage that started after this call completed (this instance's or a coalesced one)."""
        if target.problem:
            return False
        if self.coordinator is not None:
            try:
                return self.coordinator.flush_after_commit(target.label, lambda: self._call(target))
            except Exception:  # coordination is an economy: without it the change still flushes
                logger.warning("flush coordination failed for %s; flushing without it", target.label, exc_info=True)
        # Without coordination (no CoordinationTable, or it failed): retried here, with pauses.
        return with_retries(lambda: self._call(target), self.sleep)

    def _serving(self, project: str, environment: str) -> list[FlushTarget] | None:
        try:
            return flush_scope.serving(self.targets(), project, environment)
        except Exception:
            logger.exception("the list of stages to flush could not be read")
            return None

    def _flush_each(self, serving: list[FlushTarget] | None) -> FlushReport:
        if serving is None:
            return FlushReport((), (TARGETS_UNREADABLE,))
        if len(serving) <= 1:
            outcomes = [self._flush_stage(target) for target in serving]
        else:
            # Each stage's flush runs in the caller's context (its trace, its logging context), copied per task.
            tasks = [(contextvars.copy_context(), target) for target in serving]
            with ThreadPoolExecutor(min(PARALLEL_STAGES, len(serving)), thread_name_prefix="flush") as pool:
                outcomes = list(pool.map(lambda task: task[0].run(self._flush_stage, task[1]), tasks))
        flushed = tuple(t.label for t, ok in zip(serving, outcomes, strict=True) if ok)
        unflushed = tuple(t.label for t, ok in zip(serving, outcomes, strict=True) if not ok)
        return FlushReport(flushed, unflushed)

    def _reported(self, report: FlushReport, project: str, environment: str) -> FlushReport:
        if self.on_unflushed is not None:
            for stage in report.unflushed:
                self.on_unflushed(stage, project, environment)
        return report

    def flush_environment(self, project: str, environment: str) -> FlushReport:
        """One (coalesced) flush of every registered stage that serves project/environment; never raises."""
        return self._reported(self._flush_each(self._serving(project, environment)), project, environment)

    def revoke_everywhere(self, project: str, environment: str, since: float | None = None) -> FlushReport:
        """Steps 1-3 above, for a change committed at `since` (epoch seconds; default: now, just after the
        commit): a flush of every stage serving the environment now, then, once no warm instance can hold a
        decision from before the change, another. Answers what the last flush reached. A stage that fails is
        retried and reported, never raised: the change itself already holds."""
        committed = self.clock() if since is None else since
        settled = committed + self.instance_cache_ttl_seconds
        serving = self._serving(project, environment)
        if self.clock() < settled:
            # Warm instances may still decide from before the change: flush now (most requests are refused
            # from here on), and again once they cannot.
            self._flush_each(serving)
            remaining = settled - self.clock()
            if remaining > 0:
                self.sleep(remaining)
        last = self._reported(self._flush_each(serving), project, environment)
        if last.unflushed:
            logger.error(
                "authorizer caches not flushed",
                extra={"stages": list(last.unflushed), "project": project, "environment": environment},
            )
        else:
            logger.info(
                "authorizer caches flushed",
                extra={"stages": list(last.flushed), "project": project, "environment": environment},
            )
        return last
