"""What every part of the composition root shares: the validated settings, the boto3 clients made from them,
and the metric lines every collaborator reports to. Each is built on first use (cached_property), so a
function pays only for the clients it touches.

edge.composition.AwsServices is assembled from this base and one class per concern (edge.decision_wiring:
deciding on a key; edge.flush_wiring: the authorizer caches and usage plans); each reaches only what is here
and its own attributes.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from archie_keys.edge.settings import Settings

if TYPE_CHECKING:
    from archie_keys.aws.metrics import DecisionMetrics, MetricLines


class Wiring:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        from archie_keys.aws.clients import new_client

        return new_client(service, self.settings.aws_client_profile)

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def secretsmanager(self) -> Any:
        return self._client("secretsmanager")

    @cached_property
    def metrics(self) -> MetricLines:
        from archie_keys.aws.metrics import MetricLines

        return MetricLines(self.settings.metrics_namespace, self.settings.stack_name)

    @cached_property
    def decisions(self) -> DecisionMetrics:
        from archie_keys.aws.metrics import DecisionMetrics

        return DecisionMetrics(self.metrics)
