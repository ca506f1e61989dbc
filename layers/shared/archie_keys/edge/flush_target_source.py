"""Which stages the process flushes, and which stages a usage plan covers: one rule, read by the flusher and
the usage plans alike.

The stages are FLUSH_TARGETS when it is set (local runs, tests), else the registry of protected APIs (as
deployed: one SSM parameter per stage, read with one call and cached for 30 s by
aws.protected_api_registry.ProtectedApiRegistry). The registry is built only when first asked, so a function that
never flushes never creates an SSM client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archie_keys.domain.flush_targets import FlushTarget

Targets = tuple["FlushTarget", ...]


class FlushTargetSource:
    def __init__(self, configured: Targets, registry_path: str, registry: Callable[[], Callable[[], Targets]]) -> None:
        """`registry` builds (once, when first needed) the reader of the registry under `registry_path`."""
        self._configured = configured
        self._registry_path = registry_path
        self._registry = registry

    def __call__(self) -> Targets:
        if self._configured or not self._registry_path:
            return self._configured
        return self._registry()()

    def protected_stages(self) -> list[tuple[str, str]]:
        """The registered stages of protected APIs: every usage plan covers them. Not the management API
        (it serves every environment, "*", and requires no API key), nor a registration that cannot be read
        (nobody can tell which API it is)."""
        return [(target.rest_api_id, target.stage) for target in self() if not target.problem and target.project != "*"]
