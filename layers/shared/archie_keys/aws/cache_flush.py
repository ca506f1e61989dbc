"""Flushing API Gateway's authorizer result caches, so a revoked or expired key stops at the gateway layer too.

API Gateway caches an authorizer's answer per identity source for up to ReauthorizeEvery seconds. Revocation
therefore: (1) mark the key revoked in DynamoDB, (2) flush every stage that serves its environment,
(3) wait until no warm authorizer instance can still hold an Allow from before the revocation (its cache TTL),
(4) flush again, because a request between (2) and (3) may have re-cached such an Allow.
On AWS this calls apigateway:FlushStageAuthorizersCache; locally the same boto3 call reaches the local
gateway through AWS_ENDPOINT_URL_API_GATEWAY, so this code is identical in both places.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("archie_keys.cache_flush")


@dataclass(frozen=True)
class FlushTarget:
    """A REST API stage whose authorizer cache is flushed when a key of a matching environment is revoked.
    project/environment "*" match every environment (the management API serves them all)."""

    rest_api_id: str
    stage: str
    project: str = "*"
    environment: str = "*"

    def serves(self, project: str, environment: str) -> bool:
        return self.project in ("*", project) and self.environment in ("*", environment)


def parse_flush_targets(raw: str) -> tuple[FlushTarget, ...]:
    """Comma-separated `restApiId/stage` or `restApiId/stage/project/environment`."""
    targets = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        pieces = item.split("/")
        if len(pieces) not in (2, 4) or not all(pieces):
            raise ValueError(f"flush target {item!r} is not restApiId/stage[/project/environment]")
        targets.append(FlushTarget(*pieces))
    return tuple(targets)


@dataclass(frozen=True)
class FlushReport:
    """What a revocation's flush reached: the stages flushed, and those still holding a cache that may serve
    the key until it expires there (ReauthorizeEvery at most)."""

    flushed: tuple[str, ...] = ()
    unflushed: tuple[str, ...] = ()


# Every stage's flush is tried this many times (with these pauses) before it counts as not flushed.
FLUSH_ATTEMPTS = 3
FLUSH_BACKOFF_SECONDS = (0.05, 0.2)
# Named in place of the stages when the list of stages itself could not be read.
TARGETS_UNREADABLE = "(every stage: the list of stages could not be read)"


class CacheFlusher:
    def __init__(
        self,
        client: Any,
        targets: Callable[[], Sequence[FlushTarget]],
        instance_cache_ttl_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.targets = targets
        # A warm authorizer instance trusts its decision for at most this long (see VerifierConfig).
        self.instance_cache_ttl_seconds = instance_cache_ttl_seconds
        self.sleep = sleep

    def stage_environments(self) -> dict[str, tuple[str, str]]:
        """restApiId/stage -> (project, environment) of the protected APIs (their paths do not name them)."""
        return {
            f"{t.rest_api_id}/{t.stage}": (t.project, t.environment)
            for t in self.targets()
            if t.project != "*" and t.environment != "*"
        }

    def _flush_stage(self, target: FlushTarget) -> bool:
        for attempt in range(FLUSH_ATTEMPTS):
            try:
                self.client.flush_stage_authorizers_cache(restApiId=target.rest_api_id, stageName=target.stage)
                return True
            except Exception:  # noqa: BLE001 - a stage that cannot be flushed is retried and reported, not raised
                logger.warning("flushing %s/%s failed (attempt %d)", target.rest_api_id, target.stage, attempt + 1)
                if attempt < len(FLUSH_BACKOFF_SECONDS):
                    self.sleep(FLUSH_BACKOFF_SECONDS[attempt])
        return False

    def flush_environment(self, project: str, environment: str) -> FlushReport:
        """Flush every configured stage that serves project/environment, each retried; never raises."""
        try:
            serving = [target for target in self.targets() if target.serves(project, environment)]
        except Exception:
            logger.exception("the list of stages to flush could not be read")
            return FlushReport((), (TARGETS_UNREADABLE,))
        flushed: list[str] = []
        unflushed: list[str] = []
        for target in serving:
            (flushed if self._flush_stage(target) else unflushed).append(f"{target.rest_api_id}/{target.stage}")
        return FlushReport(tuple(flushed), tuple(unflushed))

    def revoke_everywhere(self, project: str, environment: str) -> FlushReport:
        """Steps 2-4 above, after the change is committed: flush, wait out warm instances, flush again. A
        stage that fails is retried and reported, never raised: the revocation itself already holds."""
        self.flush_environment(project, environment)
        if self.instance_cache_ttl_seconds > 0:
            self.sleep(self.instance_cache_ttl_seconds)
        second = self.flush_environment(project, environment)
        if second.unflushed:
            logger.error(
                "authorizer caches not flushed",
                extra={"stages": list(second.unflushed), "project": project, "environment": environment},
            )
        else:
            logger.info(
                "authorizer caches flushed",
                extra={"stages": list(second.flushed), "project": project, "environment": environment},
            )
        return second
