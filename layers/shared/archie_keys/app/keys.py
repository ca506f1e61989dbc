"""Use cases: create, read, list, revoke and roll keys.

The key value exists only inside create_key's return value: it is hashed, never stored, never logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archie_keys.app.commands import CreateKey, PageRequest, Place, RollKey
from archie_keys.app.services import Services
from archie_keys.app.verification import is_expired
from archie_keys.aws.dynamo import Page
from archie_keys.domain import limits
from archie_keys.domain.clock import now_epoch, to_iso
from archie_keys.domain.errors import ConflictError, NotFoundError, ValidationFailedError
from archie_keys.domain.escalation import refuse_escalation
from archie_keys.domain.grants import Grants, required_context_names, resolve_grants
from archie_keys.domain.identity import Identity
from archie_keys.domain.keyformat import KEY_ID_RE, generate_key
from archie_keys.domain.policy import build_policy, data_paths, management_paths

# A stage ARN as long as the budget assumes (see limits.STAGE_ARN_BUDGET_LENGTH).
_BUDGET_ARN_PREFIX = "arn:aws:execute-api:ap-southeast-4:123456789012:abcdefghij/".ljust(
    limits.STAGE_ARN_BUDGET_LENGTH, "s"
)
_SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


@dataclass(frozen=True)
class NewKey:
    value: str
    record: dict[str, Any]
    delivered: dict[str, str] | None = None


def check_key_id(key_id: str) -> None:
    if not KEY_ID_RE.match(key_id):
        # Same answer as an unknown id: the shape of an id says nothing about existence.
        raise NotFoundError("no such key", field="key_id")


def check_secret_name(prefix: str, name: str) -> None:
    if not _SECRET_NAME_RE.match(name) or ".." in name:
        raise ValidationFailedError("secret_name may use letters, digits and /_+=.@-", field="secret_name")
    if not name.startswith(prefix) or len(name) == len(prefix):
        raise ValidationFailedError(
            f"secret_name must start with {prefix!r}", field="secret_name", code="secret_name_outside_prefix"
        )


def _check_expiry(expires_at: datetime | None, now: float, min_lifetime: int) -> float | None:
    if expires_at is None:
        return None
    epoch = float(expires_at.timestamp())
    if epoch < now + min_lifetime:
        raise ValidationFailedError(
            f"expires_at must be at least {min_lifetime} seconds in the future", field="expires_at"
        )
    if epoch > now + limits.EXPIRES_AT_MAX_DAYS * 86400:
        raise ValidationFailedError(f"expires_at must be within {limits.EXPIRES_AT_MAX_DAYS} days", field="expires_at")
    return epoch


def _check_authorizer_budget(identity: Identity) -> None:
    """Refuse a key whose authorizer answer would exceed the budget on the longest possible stage ARN."""
    context_size = len(json.dumps(identity.to_authorizer_context()))
    policy_size = max(
        len(json.dumps(build_policy(_BUDGET_ARN_PREFIX, data_paths(identity.grants)))),
        len(
            json.dumps(
                build_policy(
                    _BUDGET_ARN_PREFIX, management_paths(identity.grants, identity.project, identity.environment)
                )
            )
        ),
    )
    if context_size + policy_size > limits.AUTHORIZER_RESPONSE_BUDGET:
        raise ValidationFailedError(
            f"these roles and context would make an authorizer answer of {context_size + policy_size} bytes, "
            f"over the {limits.AUTHORIZER_RESPONSE_BUDGET}-byte budget; use fewer roles, permissions or filters",
            field="roles",
            code="authorizer_response_too_large",
        )


def prepare_grants(services: Services, place: Place, role_names: list[str], context: dict[str, str]) -> Grants:
    roles = services.store.get_roles(place.project, place.environment, role_names)
    for name in role_names:
        if name not in roles:
            raise ValidationFailedError(f"unknown role: {name}", field="roles", code="unknown_role")
    needed = required_context_names(p for name in role_names for p in roles[name]["permissions"])
    missing = sorted(needed - set(context))
    if missing:
        raise ValidationFailedError(
            f"a role filter reads context value {missing[0]!r}, which this key does not provide",
            field=f"context.{missing[0]}",
            code="missing_context",
        )
    # Every context name the roles read is present (checked above), so strict resolution cannot fail here.
    return resolve_grants([(name, roles[name]["permissions"]) for name in role_names], context, strict=True)


def create_key(services: Services, caller: Identity, command: CreateKey, extra: dict[str, Any] | None = None) -> NewKey:
    """`extra` adds stored attributes (rolled_from). With command.secret_name the value is also written to
    that Secrets Manager secret (its name is checked before anything is written)."""
    place, store = command.place, services.store
    caller.require(place.project, place.environment, "keys", "write")
    if command.secret_name is not None:
        check_secret_name(services.config.secret_name_prefix, command.secret_name)
    store.require_environment(place.project, place.environment)
    now = now_epoch()
    expires_epoch = _check_expiry(command.expires_at, now, services.config.key_min_lifetime_seconds)
    roles, context = list(command.roles), dict(command.context)
    grants = prepare_grants(services, place, roles, context)
    refuse_escalation(caller.grants, list(grants.entries), "this key", field="roles")
    _check_authorizer_budget(
        Identity("x" * 12, place.project, place.environment, command.name, tuple(roles), context, grants)
    )

    hasher = services.hasher()
    value, parsed = generate_key(command.prefix, place.project, place.environment)
    record: dict[str, Any] = {
        "key_id": parsed.key_id,
        "name": command.name,
        "prefix": command.prefix,
        "start": parsed.start,
        "project": place.project,
        "environment": place.environment,
        "roles": roles,
        "context": context,
        "created_at": to_iso(now),
        "created_by": caller.key_id,
        "expires_at": to_iso(expires_epoch) if expires_epoch is not None else None,
        "expires_epoch": expires_epoch,
        "hash": hasher.hash_secret(parsed.secret),
        "hash_params": hasher.parameters.as_record(),
        **(extra or {}),
    }
    store.create_key(place.project, place.environment, {k: v for k, v in record.items() if v is not None})
    if expires_epoch is not None:
        services.schedules.schedule_expiry_flush(place.project, place.environment, parsed.key_id, expires_epoch)
    delivered = None
    if command.secret_name is not None:
        version = services.secrets.deliver(command.secret_name, value)
        delivered = {"secret_name": command.secret_name, "secret_version_id": version}
    services.audit.record_event(
        "key.created",
        place.project,
        place.environment,
        caller.key_id,
        parsed.key_id,
        {
            "name": command.name,
            "roles": roles,
            **(delivered or {}),
            **({"rolled_from": extra["rolled_from"]} if extra and "rolled_from" in extra else {}),
        },
    )
    return NewKey(value, record, delivered)


def key_view(record: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The API's view of a stored key: never the hash."""
    current = now_epoch() if now is None else now
    view = {
        name: record.get(name)
        for name in (
            "key_id",
            "name",
            "prefix",
            "start",
            "project",
            "environment",
            "roles",
            "context",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "rolled_from",
            "rolled_to",
        )
    }
    view["status"] = "expired" if is_expired(record.get("expires_epoch"), current) else "active"
    return view


def new_key_response(new: NewKey) -> dict[str, Any]:
    """The one response that carries a key value."""
    return {"key": new.value, "key_id": new.record["key_id"], "record": key_view(new.record), **(new.delivered or {})}


def live_key(services: Services, place: Place, key_id: str) -> dict[str, Any]:
    """A key that exists and is not revoked, else NotFoundError (the same answer for both)."""
    check_key_id(key_id)
    services.store.require_environment(place.project, place.environment)
    record = services.store.get_key(place.project, place.environment, key_id)
    if record is None or record.get("revoked_at"):
        raise NotFoundError("no such key", field="key_id")
    return record


def get_key(services: Services, caller: Identity, place: Place, key_id: str) -> dict[str, Any]:
    caller.require(place.project, place.environment, "keys", "read")
    return live_key(services, place, key_id)


def list_keys(services: Services, caller: Identity, place: Place, page: PageRequest) -> Page:
    caller.require(place.project, place.environment, "keys", "read")
    services.store.require_environment(place.project, place.environment)
    return services.store.list_keys(place.project, place.environment, page.limit, page.next_token)


def revoke_key(services: Services, caller: Identity, place: Place, key_id: str) -> dict[str, Any]:
    """Delete (revoke) a key; returns once no cache layer will accept it any more."""
    caller.require(place.project, place.environment, "keys", "delete")
    check_key_id(key_id)
    services.store.require_environment(place.project, place.environment)
    now = now_epoch()
    record = services.store.revoke_key(
        place.project,
        place.environment,
        key_id,
        to_iso(now),
        caller.key_id,
        int(now + limits.REVOKED_RETENTION_SECONDS),
    )
    services.audit.record_event(
        "key.deleted", place.project, place.environment, caller.key_id, key_id, {"name": record.get("name")}
    )
    services.flusher.revoke_everywhere(place.project, place.environment)
    return record


def roll_key(services: Services, caller: Identity, command: RollKey) -> tuple[NewKey, dict[str, Any]]:
    """Rotate: a successor with the same name, prefix, roles and context, returned once; the old key expires
    after the grace period. Returns (successor, old record as updated)."""
    place, key_id = command.place, command.key_id
    caller.require(place.project, place.environment, "keys", "write")
    old = live_key(services, place, key_id)
    now = now_epoch()
    if is_expired(old.get("expires_epoch"), now):
        raise ConflictError("this key has expired; create a new key instead", field="key_id", code="key_expired")
    if old.get("rolled_to"):
        raise ConflictError(f"this key was already rolled to {old['rolled_to']}", field="key_id", code="already_rolled")
    successor = create_key(
        services,
        caller,
        CreateKey(
            place=place,
            name=old["name"],
            prefix=old["prefix"],
            roles=old["roles"],
            context=old.get("context", {}),
            secret_name=command.secret_name,
        ),
        extra={"rolled_from": key_id},
    )
    old_expiry = old.get("expires_epoch")
    grace_end = now + command.grace_seconds
    new_expiry = grace_end if old_expiry is None else min(float(old_expiry), grace_end)
    rolled = {"expires_epoch": new_expiry, "expires_at": to_iso(new_expiry), "rolled_to": successor.record["key_id"]}
    services.store.update_key(place.project, place.environment, key_id, rolled)
    services.audit.record_event(
        "key.rolled",
        place.project,
        place.environment,
        caller.key_id,
        key_id,
        {
            "rolled_to": successor.record["key_id"],
            "grace_seconds": command.grace_seconds,
            "expires_at": to_iso(new_expiry),
        },
    )
    if command.grace_seconds == 0:
        services.flusher.revoke_everywhere(place.project, place.environment)  # expired now: no cached Allow
    else:
        services.schedules.schedule_expiry_flush(place.project, place.environment, key_id, new_expiry)
    return successor, {**old, **rolled}
