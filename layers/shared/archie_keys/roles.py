"""Use cases: define, read, list and delete roles. A caller may only define what it could do itself."""

from __future__ import annotations

import re
from typing import Any

from archie_keys import limits
from archie_keys.audit import AuditLog
from archie_keys.cache_flush import revoke_everywhere
from archie_keys.clock import now_epoch, to_iso
from archie_keys.errors import ForbiddenError, NotFoundError, ValidationFailedError
from archie_keys.models import RoleBody
from archie_keys.permissions import Caller, missing_grants, require, with_unknown_context
from archie_keys.settings import Settings
from archie_keys.store import KeyStore, Page

_ROLE_NAME_RE = re.compile(limits.ROLE_NAME_PATTERN)


def check_role_name(name: str) -> None:
    if not _ROLE_NAME_RE.match(name):
        raise ValidationFailedError(
            "role names are 1-64 characters: lowercase letters, digits, '_', '.', '-'", field="role"
        )


def refuse_escalation(caller: Caller | None, requested: list[dict[str, Any]], what: str) -> None:
    if caller is None:
        return
    missing = missing_grants(caller.grants, requested)
    if missing:
        raise ForbiddenError(
            f"{what} would grant more than this key may do itself; missing: " + "; ".join(missing),
            field="permissions" if what == "this role" else "roles",
            code="privilege_escalation",
        )


def put_role(
    store: KeyStore,
    settings: Settings,
    caller: Caller | None,
    project: str,
    environment: str,
    name: str,
    body: RoleBody,
    audit: AuditLog | None = None,
) -> tuple[dict[str, Any], bool]:
    check_role_name(name)
    if caller is not None:
        require(caller, project, environment, "roles", "write")
    store.require_environment(project, environment)
    permissions = [p.model_dump(mode="json") for p in body.permissions]
    refuse_escalation(caller, with_unknown_context(permissions), "this role")
    now = to_iso(now_epoch())
    role, created = store.put_role(
        project,
        environment,
        name,
        {
            "description": body.description,
            "permissions": permissions,
            "updated_at": now,
            "updated_by": caller.key_id if caller else "bootstrap",
        },
    )
    if audit is not None:
        audit.record_event(
            "role.created" if created else "role.updated",
            project,
            environment,
            caller.key_id if caller else "bootstrap",
            None,
            {"role": name, "permissions": permissions},
        )
    if not created:
        # Keys holding this role may have lost permissions: cached Allows must not outlive the edit.
        revoke_everywhere(settings, project, environment)
    return role, created


def get_role(store: KeyStore, caller: Caller, project: str, environment: str, name: str) -> dict[str, Any]:
    require(caller, project, environment, "roles", "read")
    check_role_name(name)
    store.require_environment(project, environment)
    role = store.get_role(project, environment, name)
    if role is None:
        raise NotFoundError(f"role {name} does not exist", field="role")
    return role


def list_roles(
    store: KeyStore, caller: Caller, project: str, environment: str, limit: int, next_token: str | None
) -> Page:
    require(caller, project, environment, "roles", "read")
    store.require_environment(project, environment)
    return store.list_roles(project, environment, limit, next_token)


def delete_role(
    store: KeyStore, caller: Caller, project: str, environment: str, name: str, audit: AuditLog | None = None
) -> dict[str, Any]:
    require(caller, project, environment, "roles", "delete")
    check_role_name(name)
    store.require_environment(project, environment)
    role = store.get_role(project, environment, name)
    if role is None:
        raise NotFoundError(f"role {name} does not exist", field="role")
    store.delete_role(project, environment, name)
    if audit is not None:
        audit.record_event("role.deleted", project, environment, caller.key_id, None, {"role": name})
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
