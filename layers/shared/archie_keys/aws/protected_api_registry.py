"""The protected API stages, as teams register them in SSM Parameter Store, read through a short cache."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from archie_keys.aws.flush_registrations import parse_registration
from archie_keys.domain.flush_targets import FlushTarget

logger = logging.getLogger("archie_keys.protected_api_registry")

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
