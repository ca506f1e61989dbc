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

Which stages: the protected API registry (one SSM parameter per stage, `ProtectedApiRegistry`), or a fixed
list (FLUSH_TARGETS) for local runs and tests. It is longer than 300 lines because the registry, its parser
and the flusher share one notion of a stage (`FlushTarget`: what serves which environment, and how long its
authorizer cache may hold an answer), which splitting would scatter.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archie_keys.domain.clock import wait_seconds
from archie_keys.domain.errors import shown
from archie_keys.domain.keyformat import SLUG_RE

if TYPE_CHECKING:
    from archie_keys.aws.flush_coordination import FlushCoordinator

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
    # How long the stage caches an authorizer answer, as its registration declares (`authorizer_ttl_seconds`);
    # None: not declared, so no longer than the stack's AuthorizerResultTtl (docs/authorizer.md). A guarded
    # delete's witness counts on the longest of the stages serving the key (domain.authorization_witness).
    authorizer_ttl_seconds: int | None = None

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
            raise ValueError(f"flush target {shown(item)} is not restApiId/stage[/project/environment]")
        project, environment = pieces[2:] if len(pieces) == 4 else ("*", "*")
        targets.append(FlushTarget(pieces[0], pieces[1], project, environment))
    return tuple(targets)


# What a registration may hold: API Gateway's own id and stage-name alphabets, and "*" or a slug (the key
# format's project and environment) for the environment the stage serves.
_REGISTRATION_FIELDS = ("rest_api_id", "stage", "project", "environment")
_OPTIONAL_TTL = "authorizer_ttl_seconds"  # 0..3600, API Gateway's own range for ReauthorizeEvery
_REST_API_ID = re.compile(r"[a-z0-9]{1,32}")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ANY = "*"


def parse_registration(value: str) -> FlushTarget:
    """One protected API stage as registered: JSON {"rest_api_id", "stage", "project", "environment"}, every
    field a string; project and environment "*" for a stage serving every environment; and optionally
    "authorizer_ttl_seconds", the stage's ReauthorizeEvery when it is longer than the stack's."""
    document = json.loads(value)
    if not isinstance(document, dict) or set(document) - {_OPTIONAL_TTL} != set(_REGISTRATION_FIELDS):
        raise ValueError(
            f"a registration is a JSON object with exactly {', '.join(_REGISTRATION_FIELDS)} "
            f"(and optionally {_OPTIONAL_TTL})"
        )
    ttl = document.get(_OPTIONAL_TTL)
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 3600):
        raise ValueError(f"{_OPTIONAL_TTL} is a whole number of seconds, 0 to 3600")
    rest_api_id, stage, project, environment = (document[name] for name in _REGISTRATION_FIELDS)
    if not all(isinstance(v, str) for v in (rest_api_id, stage, project, environment)):
        raise ValueError("every field of a registration is a string")
    if not _REST_API_ID.fullmatch(rest_api_id) or not _STAGE.fullmatch(stage):
        raise ValueError("rest_api_id or stage is not an API Gateway id or stage name")
    if not all(scope == _ANY or SLUG_RE.match(scope) for scope in (project, environment)):
        raise ValueError('project and environment are "*" or a project/environment name')
    return FlushTarget(rest_api_id, stage, project, environment, authorizer_ttl_seconds=ttl)


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


# Without coordination (no CoordinationTable, or it failed), every stage's flush is tried this many times (with
# these pauses) before it counts as not flushed.
FLUSH_ATTEMPTS = 3
FLUSH_BACKOFF_SECONDS = (0.05, 0.2)
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
        return {
            t.label: (t.project, t.environment)
            for t in self.targets()
            if not t.problem and t.project != "*" and t.environment != "*"
        }

    def longest_declared_ttl(self, project: str, environment: str) -> float | None:
        """The longest authorizer cache a registration serving project/environment declares; None when none
        declares one. Raises when the registry cannot be read, and answers infinity for a registration that
        cannot be (nobody can tell how long that stage caches)."""
        declared: list[float] = []
        for target in self.targets():
            if target.serves(project, environment):
                if target.problem:
                    return float("inf")
                if target.authorizer_ttl_seconds is not None:
                    declared.append(float(target.authorizer_ttl_seconds))
        return max(declared, default=None)

    def _call(self, target: FlushTarget) -> bool:
        """One FlushStageAuthorizersCache call."""
        try:
            self.client.flush_stage_authorizers_cache(restApiId=target.rest_api_id, stageName=target.stage)
            return True
        except Exception:  # noqa: BLE001 - a stage that cannot be flushed is retried and reported, not raised
            logger.warning("flushing %s failed", target.label)
            return False

    def _flush_uncoordinated(self, target: FlushTarget) -> bool:
        for attempt in range(FLUSH_ATTEMPTS):
            if self._call(target):
                return True
            if attempt < len(FLUSH_BACKOFF_SECONDS):
                self.sleep(FLUSH_BACKOFF_SECONDS[attempt])
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
        return self._flush_uncoordinated(target)

    def _serving(self, project: str, environment: str) -> list[FlushTarget] | None:
        try:
            return [target for target in self.targets() if target.serves(project, environment)]
        except Exception:
            logger.exception("the list of stages to flush could not be read")
            return None

    def _flush_each(self, serving: list[FlushTarget] | None) -> FlushReport:
        if serving is None:
            return FlushReport((), (TARGETS_UNREADABLE,))
        if len(serving) <= 1:
            outcomes = [self._flush_stage(target) for target in serving]
        else:
            # Imported here: the authorizer imports this module (for FlushTarget) and never flushes.
            from concurrent.futures import ThreadPoolExecutor

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
