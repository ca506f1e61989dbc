"""Use cases: /verify (the permissions check for callers not behind API Gateway) and /whoami."""

from __future__ import annotations

from typing import Any

from archie_keys.app.commands import Place, VerifyKey
from archie_keys.app.services import Services
from archie_keys.domain.errors import ForbiddenError, KeyRefusedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.network import source_ip_refusal


def verify_key(services: Services, caller: Identity, command: VerifyKey) -> dict[str, Any]:
    """Answer whether a presented key is valid here (and may do `action` on `resource`). An invalid key gets
    only {"valid": false, "code": ...}; an unknown key and a wrong secret read the same (`not_found`)."""
    place = command.place
    caller.require(place.project, place.environment, "verify", "write")
    try:
        verified = services.verifier.verify(command.key, project=place.project, environment=place.environment)
    except KeyRefusedError as refusal:
        return {"valid": False, "code": refusal.reason}
    # No API Gateway cache here: the address given is the one decided on (none given is outside every list).
    refused_from = source_ip_refusal(verified.allow_list, command.source_ip, cache_keyed_on_source_ip=True)
    if refused_from is not None:
        return {"valid": False, "code": refused_from}
    grants = verified.identity.grants
    asked = command.resource is not None or command.action is not None
    if asked and not grants.allows(command.resource or "*", command.action or "read"):
        return {"valid": False, "code": "forbidden"}
    answer = {"valid": True, "code": "valid", **verified.identity.describe()}
    if command.resource is not None:
        answer["allowed_filters"] = grants.alternatives(command.resource, command.action or "read")
    return answer


def whoami(caller: Identity, place: Place) -> dict[str, Any]:
    if caller.project != place.project or caller.environment != place.environment:
        raise ForbiddenError("this key belongs to another project or environment", code="wrong_environment")
    return caller.describe()
