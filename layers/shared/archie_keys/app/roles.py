"""Use cases: define, read, list and delete roles. A caller may only define what it could do itself, and
only with an unfiltered grant on roles (roles have no rows a filter could select). How many keys hold a
role is shown only to a caller that may read every key."""

from __future__ import annotations

from typing import Any

from archie_keys.app.commands import PageRequest, Place, PutRole
from archie_keys.app.ports import FlushReport
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConditionFailed, ConflictError, NotFoundError, ValidationFailedError
from archie_keys.domain.escalation import refuse_escalation, with_unknown_context
from archie_keys.domain.identity import Identity
from archie_keys.domain.paging import token_scope

_ROLE_NAME_RE = limits.whole(limits.ROLE_NAME_PATTERN)


def check_role_name(name: str) -> None:
    if not _ROLE_NAME_RE.match(name):
        raise ValidationFailedError(
            "role names are 1-64 characters: lowercase letters, digits, '_', '.', '-'", field="role"
        )


def _no_such_role(name: str) -> NotFoundError:
    return NotFoundError(f"role {name} does not exist", field="role")


def _sees_key_counts(caller: Identity) -> bool:
    """A role's key_count counts the keys of every tenant: shown only to a caller that may read every key. To
    a tenant administrator (an unfiltered `roles` read, a filtered `keys` read) it would tell when other
    tenants create and delete keys."""
    return caller.covers_every_row("keys", "read")


def _as_seen_by(caller: Identity, role: dict[str, Any]) -> dict[str, Any]:
    return role if _sees_key_counts(caller) else {**role, "key_count": None}


def put_role(services: Services, caller: Identity, command: PutRole) -> tuple[dict[str, Any], bool, FlushReport | None]:
    """Create or replace a role, with its audit event in the same transaction. Changing an existing role's
    permissions flushes the authorizer caches (keys holding it may have lost some). Returns (role, created,
    flush report)."""
    place = command.place
    check_role_name(command.name)
    caller.require(place.project, place.environment, "roles", "write")
    services.store.require_environment(place.project, place.environment)
    permissions = [dict(p) for p in command.permissions]
    refuse_escalation(caller.grants, with_unknown_context(permissions), "this role", field="permissions")
    previous = services.store.get_role(place.project, place.environment, command.name)
    now = to_iso(services.clock())
    values = {
        "description": command.description,
        "permissions": permissions,
        "updated_at": now,
        "updated_by": caller.key_id,
    }
    event = "role.created" if previous is None else "role.updated"
    writes = [
        services.store.role_write(place.project, place.environment, command.name, values, previous),
        services.audit.event_write(
            event,
            place.project,
            place.environment,
            caller.key_id,
            None,
            {"role": command.name, "permissions": permissions},
        ),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        raise ConflictError(f"role {command.name} changed while this request ran; retry", code="conflict") from None
    role = _as_seen_by(
        caller,
        {
            "name": command.name,
            **values,
            "created_at": previous["created_at"] if previous else now,
            "key_count": previous["key_count"] if previous else 0,
        },
    )
    # Keys holding a replaced role may have lost permissions that caches still grant; a new role, or an edit
    # of its description only, changes nothing any key may do (the flush costs a second and every stage).
    changed = previous is not None and previous["permissions"] != permissions
    flush = services.flusher.revoke_everywhere(place.project, place.environment) if changed else None
    return role, previous is None, flush


def get_role(services: Services, caller: Identity, place: Place, name: str) -> dict[str, Any]:
    caller.require(place.project, place.environment, "roles", "read")
    check_role_name(name)
    services.store.require_environment(place.project, place.environment)
    role = services.store.get_role(place.project, place.environment, name)
    if role is None:
        raise _no_such_role(name)
    return _as_seen_by(caller, role)


def list_roles(
    services: Services, caller: Identity, place: Place, page: PageRequest
) -> tuple[list[dict[str, Any]], str | None]:
    caller.require(place.project, place.environment, "roles", "read")
    services.store.require_environment(place.project, place.environment)
    tokens, where = services.paging_tokens(), token_scope(place.project, place.environment)
    after = tokens.read(page.next_token, "roles", where, {}) if page.next_token else None
    roles, resume = services.store.list_roles(place.project, place.environment, page.limit, after)
    next_token = tokens.issue("roles", where, {}, resume) if resume is not None else None
    return [_as_seen_by(caller, role) for role in roles], next_token


def _in_use(caller: Identity, name: str, count: int) -> ConflictError:
    held_by = f"{count} key(s)" if _sees_key_counts(caller) else "keys"
    return ConflictError(
        f"role {name} is held by {held_by}; delete those keys first (rolling a key keeps its roles)",
        field="role",
        code="role_in_use",
    )


def delete_role(services: Services, caller: Identity, place: Place, name: str) -> dict[str, Any]:
    caller.require(place.project, place.environment, "roles", "delete")
    check_role_name(name)
    services.store.require_environment(place.project, place.environment)
    role = services.store.get_role(place.project, place.environment, name)
    if role is None:
        raise _no_such_role(name)
    if role["key_count"] > 0:
        raise _in_use(caller, name, role["key_count"])
    trusting = sorted(
        p["name"] for p in services.trust.list(place.project, place.environment) if name in p["policy"]["roles"]
    )
    if trusting:
        # Else every pipeline trusted with it would have its tokens answered 422 unknown_role from now on.
        raise ConflictError(
            f"role {name} is named by trust policy {', '.join(trusting)}; change or delete the policy first",
            field="role",
            code="role_in_use",
        )
    writes = [
        services.store.role_delete_write(place.project, place.environment, name),
        services.audit.event_write(
            "role.deleted", place.project, place.environment, caller.key_id, None, {"role": name}
        ),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        now = services.store.get_role(place.project, place.environment, name)  # a key or a delete came in between
        raise (_no_such_role(name) if now is None else _in_use(caller, name, now["key_count"])) from None
    return _as_seen_by(caller, role)
