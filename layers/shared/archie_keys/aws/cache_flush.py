"""Flushing API Gateway's authorizer result caches, so a revoked or expired key stops at the gateway layer too.

API Gateway caches an authorizer's answer per identity source for up to ReauthorizeEvery seconds. Revocation
therefore: (1) mark the key revoked in DynamoDB, (2) flush every stage that serves its environment,
(3) wait until no warm authorizer instance can still hold an Allow from before the revocation (its cache TTL),
(4) flush again, because a request between (2) and (3) may have re-cached such an Allow.
On AWS this calls apigateway:FlushStageAuthorizersCache; locally the same boto3 call reaches the local
gateway through AWS_ENDPOINT_URL_API_GATEWAY, so this code is identical in both places.

Which stages: the protected API registry (one SSM parameter per stage, `ProtectedApiRegistry`), or a fixed
list (FLUSH_TARGETS) for local runs and tests.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archie_keys.domain.keyformat import SLUG_RE

logger = logging.getLogger("archie_keys.cache_flush")


@dataclass(frozen=True)
class FlushTarget:
    """A REST API stage whose authorizer cache is flushed when a key of a matching environment is revoked.
    project/environment "*" match every environment (the management API serves them all). A registration
    that cannot be read carries its `problem`: it serves every environment (nobody can tell which it
    serves) and is never flushed, so every revocation names it until it is fixed."""

    rest_api_id: str
    stage: str
    project: str = "*"
    environment: str = "*"
    problem: str = ""

    def serves(self, project: str, environment: str) -> bool:
        if self.problem:
            return True
        return self.project in ("*", project) and self.environment in ("*", environment)

    @property
    def label(self) -> str:
        if self.problem:
            return f"{self.rest_api_id} ({self.problem})"
        return f"{self.rest_api_id}/{self.stage}"


def parse_flush_targets(raw: str) -> tuple[FlushTarget, ...]:
    """FLUSH_TARGETS (local runs and tests): comma-separated `restApiId/stage` or
    `restApiId/stage/project/environment`."""
    targets = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        pieces = item.split("/")
        if len(pieces) not in (2, 4) or not all(pieces):
            raise ValueError(f"flush target {item!r} is not restApiId/stage[/project/environment]")
        targets.append(FlushTarget(*pieces))
    return tuple(targets)


# What a registration may hold: API Gateway's own id and stage-name alphabets, and "*" or a slug (the key
# format's project and environment) for the environment the stage serves.
_REGISTRATION_FIELDS = ("rest_api_id", "stage", "project", "environment")
_REST_API_ID = re.compile(r"[a-z0-9]{1,32}")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ANY = "*"


def parse_registration(value: str) -> FlushTarget:
    """One protected API stage as registered: JSON {"rest_api_id", "stage", "project", "environment"}, every
    field a string; project and environment "*" for a stage serving every environment."""
    document = json.loads(value)
    if not isinstance(document, dict) or set(document) != set(_REGISTRATION_FIELDS):
        raise ValueError(f"a registration is a JSON object with exactly {', '.join(_REGISTRATION_FIELDS)}")
    rest_api_id, stage, project, environment = (document[name] for name in _REGISTRATION_FIELDS)
    if not all(isinstance(v, str) for v in (rest_api_id, stage, project, environment)):
        raise ValueError("every field of a registration is a string")
    if not _REST_API_ID.fullmatch(rest_api_id) or not _STAGE.fullmatch(stage):
        raise ValueError("rest_api_id or stage is not an API Gateway id or stage name")
    if not all(scope == _ANY or SLUG_RE.match(scope) for scope in (project, environment)):
        raise ValueError('project and environment are "*" or a project/environment name')
    return FlushTarget(rest_api_id, stage, project, environment)


# How long a read of the registry is trusted. A revocation (and every audit batch) needs the list; reading
# it at most every 30 s per warm instance keeps bursts of revocations off SSM's throughput quota (shared by
# the whole account and region), and a stage a team registers is flushed by revocations at most 30 s after
# its `put-parameter`: well within API Gateway's own cache lifetime (ReauthorizeEvery, 300 s by default),
# which a team's first keys are not revoked within anyway.
REGISTRY_MAX_AGE_SECONDS = 30.0


class ProtectedApiRegistry:
    """The protected API stages: one SSM parameter per stage under `path` (`/<stack>/protected-apis/<name>`),
    so a team registers its API with one `put-parameter` and no redeploy. Read with one paginated
    GetParametersByPath, cached for `max_age` seconds; when a refresh fails, the last good read is served
    (a revocation then still flushes every stage known a moment ago) and only a first read raises."""

    def __init__(
        self,
        client: Any,
        path: str,
        max_age: float = REGISTRY_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.path = path.rstrip("/")
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._targets: tuple[FlushTarget, ...] | None = None
        self._fresh_until = 0.0

    def __call__(self) -> tuple[FlushTarget, ...]:
        now = self.clock()
        targets = self._targets
        if targets is not None and now < self._fresh_until:
            return targets
        with self._lock:
            if self._targets is not None and now < self._fresh_until:
                return self._targets
            try:
                self._targets = self.read()
            except Exception:
                if self._targets is None:
                    raise
                logger.warning("the protected API registry could not be read; using the previous read")
            self._fresh_until = now + self.max_age
            return self._targets

    def read(self) -> tuple[FlushTarget, ...]:
        """Every registration under the path, in name order; one that cannot be parsed is kept as a target
        with a problem (named in every flush report) rather than dropped silently."""
        targets = []
        pages = self.client.get_paginator("get_parameters_by_path").paginate(Path=self.path, Recursive=False)
        parameters = sorted((p for page in pages for p in page.get("Parameters", [])), key=lambda p: p["Name"])
        for parameter in parameters:
            try:
                targets.append(parse_registration(parameter["Value"]))
            except ValueError as error:
                logger.error("unreadable protected API registration %s: %s", parameter["Name"], error)
                targets.append(FlushTarget(parameter["Name"], "", problem="unreadable registration"))
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
        on_unflushed: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.targets = targets
        # A warm authorizer instance trusts its decision for at most this long (see VerifierConfig).
        self.instance_cache_ttl_seconds = instance_cache_ttl_seconds
        self.sleep = sleep
        # Told (stage, project, environment) once per stage a flush finally failed on: the metric the
        # "stages not flushed" alarm watches.
        self.on_unflushed = on_unflushed

    def stage_environments(self) -> dict[str, tuple[str, str]]:
        """restApiId/stage -> (project, environment) of the protected APIs (their paths do not name them)."""
        return {
            t.label: (t.project, t.environment)
            for t in self.targets()
            if not t.problem and t.project != "*" and t.environment != "*"
        }

    def _flush_stage(self, target: FlushTarget) -> bool:
        if target.problem:
            return False
        for attempt in range(FLUSH_ATTEMPTS):
            try:
                self.client.flush_stage_authorizers_cache(restApiId=target.rest_api_id, stageName=target.stage)
                return True
            except Exception:  # noqa: BLE001 - a stage that cannot be flushed is retried and reported, not raised
                logger.warning("flushing %s failed (attempt %d)", target.label, attempt + 1)
                if attempt < len(FLUSH_BACKOFF_SECONDS):
                    self.sleep(FLUSH_BACKOFF_SECONDS[attempt])
        return False

    def _flush_serving(self, project: str, environment: str) -> FlushReport:
        try:
            serving = [target for target in self.targets() if target.serves(project, environment)]
        except Exception:
            logger.exception("the list of stages to flush could not be read")
            return FlushReport((), (TARGETS_UNREADABLE,))
        flushed: list[str] = []
        unflushed: list[str] = []
        for target in serving:
            (flushed if self._flush_stage(target) else unflushed).append(target.label)
        return FlushReport(tuple(flushed), tuple(unflushed))

    def _reported(self, report: FlushReport, project: str, environment: str) -> FlushReport:
        if self.on_unflushed is not None:
            for stage in report.unflushed:
                self.on_unflushed(stage, project, environment)
        return report

    def flush_environment(self, project: str, environment: str) -> FlushReport:
        """Flush every registered stage that serves project/environment, each retried; never raises."""
        return self._reported(self._flush_serving(project, environment), project, environment)

    def revoke_everywhere(self, project: str, environment: str) -> FlushReport:
        """Steps 2-4 above, after the change is committed: flush, wait out warm instances, flush again. A
        stage that fails is retried and reported, never raised: the revocation itself already holds."""
        self._flush_serving(project, environment)
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
