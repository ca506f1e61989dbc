"""Use cases: define, read, list and delete roles. A caller may only define what it could do itself."""

from __future__ import annotations

import re
from typing import Any

from archie_keys.app.commands import PageRequest, Place, PutRole
from archie_keys.app.services import Services
from archie_keys.aws.dynamo import Page
from archie_keys.domain import limits
from archie_keys.domain.clock import now_epoch, to_iso
from archie_keys.domain.errors import NotFoundError, ValidationFailedError
from archie_keys.domain.escalation import refuse_escalation, with_unknown_context
from archie_keys.domain.identity import Identity

_ROLE_NAME_RE = re.compile(limits.ROLE_NAME_PATTERN)


def check_role_name(name: str) -> None:
    if not _ROLE_NAME_RE.match(name):
        raise ValidationFailedError(
            "role names are 1-64 characters: lowercase letters, digits, '_', '.', '-'", field="role"
        )


def put_role(services: Services, caller: Identity, command: PutRole) -> tuple[dict[str, Any], bool]:
    place = command.place
    check_role_name(command.name)
    caller.require(place.project, place.environment, "roles", "write")
    services.store.require_environment(place.project, place.environment)
    permissions = [dict(p) for p in command.permissions]
    refuse_escalation(caller.grants, with_unknown_context(permissions), "this role", field="permissions")
    role, created = services.store.put_role(
        place.project,
        place.environment,
        command.name,
        {
            "description": command.description,
            "permissions": permissions,
            "updated_at": to_iso(now_epoch()),
            "updated_by": caller.key_id,
        },
    )
    services.audit.record_event(
        "role.created" if created else "role.updated",
        place.project,
        place.environment,
        caller.key_id,
        None,
        {"role": command.name, "permissions": permissions},
    )
    if not created:
        # Keys holding this role may have lost permissions: cached Allows must not outlive the edit.
        services.flusher.revoke_everywhere(place.project, place.environment)
    return role, created


def get_role(services: Services, caller: Identity, place: Place, name: str) -> dict[str, Any]:
    caller.require(place.project, place.environment, "roles", "read")
    check_role_name(name)
    services.store.require_environment(place.project, place.environment)
    role = services.store.get_role(place.project, place.environment, name)
    if role is None:
        raise NotFoundError(f"role {name} does not exist", field="role")
    return role


def list_roles(services: Services, caller: Identity, place: Place, page: PageRequest) -> Page:
    caller.require(place.project, place.environment, "roles", "read")
    services.store.require_environment(place.project, place.environment)
    return services.store.list_roles(place.project, place.environment, page.limit, page.next_token)


def delete_role(services: Services, caller: Identity, place: Place, name: str) -> dict[str, Any]:
    caller.require(place.project, place.environment, "roles", "delete")
    check_role_name(name)
    services.store.require_environment(place.project, place.environment)
    role = services.store.get_role(place.project, place.environment, name)
    if role is None:
        raise NotFoundError(f"role {name} does not exist", field="role")
    services.store.delete_role(place.project, place.environment, name)
    services.audit.record_event("role.deleted", place.project, place.environment, caller.key_id, None, {"role": name})
    return role


def role_view(role: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": role["name"],
        "description": role.get("description", ""),
        "permissions": role["permissions"],
        "created_at": role["created_at"],
        "updated_at": role["updated_at"],
        "key_count": role.get("key_count", 0),
    }
