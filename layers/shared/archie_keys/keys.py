"""Use cases: create, read, list and revoke keys.

The key value exists only inside create_key's return value: it is hashed, never stored, never logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from archie_keys import limits
from archie_keys.audit import AuditLog
from archie_keys.authorizer import identity_context
from archie_keys.cache_flush import revoke_everywhere
from archie_keys.clock import now_epoch, to_iso
from archie_keys.errors import ConflictError, NotFoundError, ValidationFailedError
from archie_keys.expiry import schedule_expiry_flush
from archie_keys.hashing import KeyHasher
from archie_keys.keyformat import KEY_ID_RE, generate_key
from archie_keys.models import CreateKeyBody, RollKeyBody
from archie_keys.permissions import (
    Caller,
    Grants,
    MissingContextError,
    build_policy,
    data_paths,
    management_paths,
    require,
    required_context_names,
    resolve_grants,
)
from archie_keys.roles import refuse_escalation
from archie_keys.secret_delivery import check_secret_name, deliver
from archie_keys.settings import Settings
from archie_keys.store import KeyStore, Page
from archie_keys.verification import VerifiedKey, is_expired

# Revoked keys stay readable to /verify ("revoked") and investigators for this long, then TTL purges them.
REVOKED_RETENTION_SECONDS = 30 * 24 * 3600
# A stage ARN as long as the budget assumes (see limits.STAGE_ARN_BUDGET_LENGTH).
_BUDGET_ARN_PREFIX = "arn:aws:execute-api:ap-southeast-4:123456789012:abcdefghij/".ljust(
    limits.STAGE_ARN_BUDGET_LENGTH, "s"
)


@dataclass(frozen=True)
class NewKey:
    value: str
    record: dict[str, Any]
    delivered: dict[str, str] | None = None


def check_key_id(key_id: str) -> None:
    if not KEY_ID_RE.match(key_id):
        # Same answer as an unknown id: the shape of an id says nothing about existence.
        raise NotFoundError("no such key", field="key_id")


def _check_expiry(expires_at: Any, now: float, min_lifetime: int) -> float | None:
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


def _check_authorizer_budget(
    grants: Grants, project: str, environment: str, name: str, roles: list[str], context: dict[str, str]
) -> None:
    """Refuse a key whose authorizer answer would exceed the budget on the longest possible stage ARN."""
    verified = VerifiedKey("x" * 12, project, environment, name, tuple(roles), context, grants, None)
    context_size = len(json.dumps(identity_context(verified)))
    policy_size = max(
        len(json.dumps(build_policy(_BUDGET_ARN_PREFIX, data_paths(grants)))),
        len(json.dumps(build_policy(_BUDGET_ARN_PREFIX, management_paths(grants, project, environment)))),
    )
    if context_size + policy_size > limits.AUTHORIZER_RESPONSE_BUDGET:
        raise ValidationFailedError(
            f"these roles and context would make an authorizer answer of {context_size + policy_size} bytes, "
            f"over the {limits.AUTHORIZER_RESPONSE_BUDGET}-byte budget; use fewer roles, permissions or filters",
            field="roles",
            code="authorizer_response_too_large",
        )


def prepare_grants(
    store: KeyStore, project: str, environment: str, role_names: list[str], context: dict[str, str]
) -> Grants:
    roles = store.get_roles(project, environment, role_names)
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
    try:
        return resolve_grants([(name, roles[name]["permissions"]) for name in role_names], context, strict=True)
    except MissingContextError as error:  # pragma: no cover - guarded above; kept so a race cannot 500
        raise ValidationFailedError(f"missing context value {error.name!r}", field=f"context.{error.name}") from None


def create_key(
    store: KeyStore,
    hasher: KeyHasher,
    settings: Settings,
    caller: Caller | None,
    project: str,
    environment: str,
    body: CreateKeyBody,
    audit: AuditLog | None = None,
    extra: dict[str, Any] | None = None,
) -> NewKey:
    """caller None is the bootstrap command. `extra` adds stored attributes (rolled_from). With
    body.secret_name the value is also written to that Secrets Manager secret (checked before anything)."""
    if caller is not None:
        require(caller, project, environment, "keys", "write")
    if body.secret_name is not None:
        check_secret_name(settings, body.secret_name)
    store.require_environment(project, environment)
    now = now_epoch()
    expires_epoch = _check_expiry(body.expires_at, now, settings.key_min_lifetime_seconds)
    grants = prepare_grants(store, project, environment, list(body.roles), dict(body.context))
    refuse_escalation(caller, list(grants.entries), "this key")
    _check_authorizer_budget(grants, project, environment, body.name, list(body.roles), dict(body.context))

    value, parsed = generate_key(body.prefix, project, environment)
    record: dict[str, Any] = {
        "key_id": parsed.key_id,
        "name": body.name,
        "prefix": body.prefix,
        "start": parsed.start,
        "project": project,
        "environment": environment,
        "roles": list(body.roles),
        "context": dict(body.context),
        "created_at": to_iso(now),
        "created_by": caller.key_id if caller else "bootstrap",
        "expires_at": to_iso(expires_epoch) if expires_epoch is not None else None,
        "expires_epoch": expires_epoch,
        "hash": hasher.hash_secret(parsed.secret),
        "hash_params": hasher.parameters.as_record(),
        **(extra or {}),
    }
    store.create_key(project, environment, {k: v for k, v in record.items() if v is not None})
    if expires_epoch is not None:
        schedule_expiry_flush(settings, project, environment, parsed.key_id, expires_epoch)
    delivered = None
    if body.secret_name is not None:
        delivered = {"secret_name": body.secret_name, "secret_version_id": deliver(settings, body.secret_name, value)}
    if audit is not None:
        audit.record_event(
            "key.created",
            project,
            environment,
            caller.key_id if caller else "bootstrap",
            parsed.key_id,
            {
                "name": body.name,
                "roles": list(body.roles),
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


def get_key(store: KeyStore, caller: Caller, project: str, environment: str, key_id: str) -> dict[str, Any]:
    require(caller, project, environment, "keys", "read")
    return live_key(store, project, environment, key_id)


def live_key(store: KeyStore, project: str, environment: str, key_id: str) -> dict[str, Any]:
    """A key that exists and is not revoked, else NotFoundError (the same answer for both)."""
    check_key_id(key_id)
    store.require_environment(project, environment)
    record = store.get_key(project, environment, key_id)
    if record is None or record.get("revoked_at"):
        raise NotFoundError("no such key", field="key_id")
    return record


def list_keys(
    store: KeyStore, caller: Caller, project: str, environment: str, limit: int, next_token: str | None
) -> Page:
    require(caller, project, environment, "keys", "read")
    store.require_environment(project, environment)
    return store.list_keys(project, environment, limit, next_token)


def revoke_key(
    store: KeyStore,
    settings: Settings,
    caller: Caller,
    project: str,
    environment: str,
    key_id: str,
    audit: AuditLog | None = None,
) -> dict[str, Any]:
    """Delete (revoke) a key; returns once no cache layer will accept it any more."""
    require(caller, project, environment, "keys", "delete")
    check_key_id(key_id)
    store.require_environment(project, environment)
    now = now_epoch()
    record = store.revoke_key(
        project, environment, key_id, to_iso(now), caller.key_id, int(now + REVOKED_RETENTION_SECONDS)
    )
    if audit is not None:
        audit.record_event("key.deleted", project, environment, caller.key_id, key_id, {"name": record.get("name")})
    revoke_everywhere(settings, project, environment)
    return record


def roll_key(
    store: KeyStore,
    hasher: KeyHasher,
    settings: Settings,
    caller: Caller,
    project: str,
    environment: str,
    key_id: str,
    body: RollKeyBody,
    audit: AuditLog | None = None,
) -> tuple[NewKey, dict[str, Any]]:
    """Rotate: a successor with the same name, prefix, roles and context, returned once; the old key expires
    after the grace period. Returns (successor, old record as updated)."""
    require(caller, project, environment, "keys", "write")
    old = live_key(store, project, environment, key_id)
    now = now_epoch()
    if is_expired(old.get("expires_epoch"), now):
        raise ConflictError("this key has expired; create a new key instead", field="key_id", code="key_expired")
    if old.get("rolled_to"):
        raise ConflictError(f"this key was already rolled to {old['rolled_to']}", field="key_id", code="already_rolled")
    successor = create_key(
        store,
        hasher,
        settings,
        caller,
        project,
        environment,
        CreateKeyBody(
            name=old["name"],
            prefix=old["prefix"],
            roles=old["roles"],
            context=old.get("context", {}),
            secret_name=body.secret_name,
        ),
        audit,
        extra={"rolled_from": key_id},
    )
    old_expiry = old.get("expires_epoch")
    new_expiry = now + body.grace_seconds if old_expiry is None else min(float(old_expiry), now + body.grace_seconds)
    store.update_key(
        project,
        environment,
        key_id,
        {"expires_epoch": new_expiry, "expires_at": to_iso(new_expiry), "rolled_to": successor.record["key_id"]},
    )
    if audit is not None:
        audit.record_event(
            "key.rolled",
            project,
            environment,
            caller.key_id,
            key_id,
            {
                "rolled_to": successor.record["key_id"],
                "grace_seconds": body.grace_seconds,
                "expires_at": to_iso(new_expiry),
            },
        )
    if body.grace_seconds == 0:
        revoke_everywhere(settings, project, environment)  # expired now: no cached Allow may outlive it
    else:
        schedule_expiry_flush(settings, project, environment, key_id, new_expiry)
    return successor, {
        **old,
        "expires_epoch": new_expiry,
        "expires_at": to_iso(new_expiry),
        "rolled_to": successor.record["key_id"],
    }
