"""Use cases: /verify (the permissions check for callers not behind API Gateway) and /whoami."""

from __future__ import annotations

from typing import Any

from archie_keys.errors import KeyRefusedError
from archie_keys.models import VerifyBody
from archie_keys.permissions import Caller, Grants, require
from archie_keys.verification import KeyVerifier


def describe(
    key_id: str,
    name: str,
    project: str,
    environment: str,
    roles: tuple[str, ...] | list[str],
    context: dict[str, str],
    grants: Grants,
) -> dict[str, Any]:
    """A key's resolved identity, the same facts the authorizer hands a backend (never the key or its hash)."""
    return {
        "key_id": key_id,
        "name": name,
        "project": project,
        "environment": environment,
        "roles": list(roles),
        "permissions": list(grants.entries),
        "filters": grants.filters_by_resource(),
        "context": context,
    }


def verify_key(
    verifier: KeyVerifier, caller: Caller, project: str, environment: str, body: VerifyBody
) -> dict[str, Any]:
    """Answer whether a presented key is valid here (and may do `action` on `resource`). An invalid key gets
    only {"valid": false, "code": ...}; an unknown key and a wrong secret read the same (`not_found`)."""
    require(caller, project, environment, "verify", "write")
    try:
        verified = verifier.verify(body.key, project=project, environment=environment)
    except KeyRefusedError as refusal:
        return {"valid": False, "code": refusal.reason}
    if body.resource is not None or body.action is not None:
        resource, action = body.resource or "*", body.action or "read"
        if not verified.grants.allows(resource, action):
            return {"valid": False, "code": "forbidden"}
    answer = {
        "valid": True,
        "code": "valid",
        **describe(
            verified.key_id,
            verified.name,
            verified.project,
            verified.environment,
            verified.roles,
            verified.context,
            verified.grants,
        ),
    }
    if body.resource is not None:
        answer["allowed_filters"] = verified.grants.alternatives(body.resource, body.action or "read")
    return answer


def whoami(caller: Caller, project: str, environment: str) -> dict[str, Any]:
    if caller.project != project or caller.environment != environment:
        from archie_keys.errors import ForbiddenError

        raise ForbiddenError("this key belongs to another project or environment", code="wrong_environment")
    return describe(
        caller.key_id, caller.name, caller.project, caller.environment, caller.roles, caller.context, caller.grants
    )
