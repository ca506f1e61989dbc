"""The composition root's part for the authorizers' caches and the usage plans: the registry of protected
APIs, the rule of which stages are flushed (edge.flush_target_source), the flusher and its cross-instance
coordinator, and the usage plans that cover the same stages."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from archie_keys.edge.flush_target_source import FlushTargetSource
from archie_keys.edge.wiring import Wiring

if TYPE_CHECKING:
    from archie_keys.aws.cache_flush import CacheFlusher
    from archie_keys.aws.flush_coordination import FlushCoordinator
    from archie_keys.aws.protected_api_registry import ProtectedApiRegistry
    from archie_keys.aws.usage_plans import UsagePlanLimits


class FlushWiring(Wiring):
    @cached_property
    def protected_apis(self) -> ProtectedApiRegistry:
        from archie_keys.aws.protected_api_registry import ProtectedApiRegistry

        return ProtectedApiRegistry(self._client("ssm"), self.settings.protected_apis_path)

    @cached_property
    def flush_targets(self) -> FlushTargetSource:
        settings = self.settings
        return FlushTargetSource(settings.flush_targets, settings.protected_apis_path, lambda: self.protected_apis)

    @cached_property
    def flusher(self) -> CacheFlusher:
        from archie_keys.aws.cache_flush import CacheFlusher

        return CacheFlusher(
            self._client("apigateway"),
            self.flush_targets,
            self.settings.authorizer_cache_ttl_seconds,
            on_unflushed=self.metrics.unflushed_stage,
            coordinator=self.flush_coordinator,
        )

    @cached_property
    def flush_coordinator(self) -> FlushCoordinator | None:
        if not self.settings.coordination_table:
            return None
        from archie_keys.aws.flush_coordination import FlushCoordinator

        return FlushCoordinator(self.settings.coordination_table, self.dynamodb, self.settings.flush_interval_seconds)

    @cached_property
    def usage_plans(self) -> UsagePlanLimits:
        from archie_keys.aws.usage_plans import UsagePlanLimits

        targets = self.flush_targets
        return UsagePlanLimits(self._client("apigateway"), self.settings.stack_name, targets.protected_stages)
