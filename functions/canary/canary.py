"""EventBridge Scheduler target, every five minutes: the synthetic canary (app.canary). It calls the
management API through API Gateway at CANARY_API_URL (the stage's execute-api URL) and reports CanaryProbe;
the event is ignored."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

from archie_keys.app.canary import HttpCall, ProbeResult, probe
from archie_keys.domain.errors import shown
from archie_keys.edge.composition import get_services
from archie_keys.edge.tracing import traced

TIMEOUT_SECONDS = 5


def https_status(base_url: str, timeout: float = TIMEOUT_SECONDS) -> HttpCall:
    """GET base_url + path with the key as bearer; the status API Gateway answered."""
    if not base_url.startswith("https://"):
        raise ValueError(f"CANARY_API_URL must be an https URL, not {shown(base_url)}")

    def call(path: str, key: str) -> int:
        request = urllib.request.Request(  # noqa: S310 - https only, checked above
            base_url.rstrip("/") + path,
            headers={"Authorization": f"Bearer {key}", "User-Agent": "archie-keys-canary"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https only
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    return call


@traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    services = get_services()
    call = https_status(os.environ.get("CANARY_API_URL", ""))

    def report(result: ProbeResult) -> None:
        services.metrics.canary_probe(result.passed, result.step, result.seconds)

    return probe(services, call, report).as_dict()
