"""The REQUEST authorizer in front of the management API and of protected APIs. Fails closed.

Kept off Powertools' resolver and pydantic models so a cold start imports little (see `make bench`)."""

from __future__ import annotations

from typing import Any

from archie_keys.edge.authorizer import authorize
from archie_keys.edge.composition import get_services


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    services = get_services()
    return authorize(
        event,
        services.verifier,
        services.decisions,
        services.settings.stack_name,
        services.witness,
        people=lambda: services.people,
    )
