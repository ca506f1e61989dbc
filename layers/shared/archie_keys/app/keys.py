"""Use cases: create, read, list and revoke keys (rolling is in app.rotation).

The key value exists only inside create_key's return value: it is hashed, never stored (but sealed in an
idempotent response), never logged. Every change is all-or-nothing (app.changes): the key, its roles'
counts, the audit event and the idempotent response are one DynamoDB transaction; the expiry schedule and
the delivered secret are prepared before it and undone if it does not commit.

Rows: a caller whose `keys` grant is filtered sees and changes only the keys whose context its filters
cover; any other key answers 404 as if it did not exist, and creating one is privilege escalation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from archie_keys.app.changes import Change
from archie_keys.app.commands import CreateKey, PageRequest, Place
from archie_keys.app.delivery import delivered, delivery_preview, plan_delivery, prepare_delivery, secret_taken
from archie_keys.app.expiry_notices import schedule_notices
from archie_keys.app.idempotent import Ticket
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.key_limits import allowed_cidrs_fields, limits_fields
from archie_keys.app.ports import Write
from archie_keys.app.services import Services
from archie_keys.app.views import NewKey, new_key_response
from archie_keys.domain import limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConditionFailed, ConflictError, NotFoundError, ValidationFailedError, shown
from archie_keys.domain.escalation import refuse_escalation, refuse_uncovered_context
from archie_keys.domain.grants import Grants, required_context_names, resolve_grants
from archie_keys.domain.identity import Identity, RowScope
from archie_keys.domain.key_status import DEFAULT_LISTED, STATUSES, key_status
from archie_keys.domain.keyformat import KEY_ID_RE, generate_key
from archie_keys.domain.paging import token_scope
from archie_keys.domain.policy import build_policy, data_paths, management_paths

# A stage ARN as long as the budget assumes (see limits.STAGE_ARN_BUDGET_LENGTH).
_BUDGET_ARN_PREFIX = "arn:aws:execute-api:ap-southeast-4:123456789012:abcdefghij/".ljust(
    limits.STAGE_ARN_BUDGET_LENGTH, "s"
)
_SECRET_NAME_RE = limits.whole(limits.SECRET_NAME_PATTERN)


def no_such_key() -> NotFoundError:
    # One answer for unknown, purged, uncovered and malformed ids: nothing here says whether a key exists.
    return NotFoundError("no such key", field="key_id")


def check_secret_name(prefix: str, place: Place, name: str) -> None:
    """A key's value may go only to a secret under <prefix><project>/<environment>/ of its own environment."""
    if not _SECRET_NAME_RE.match(name) or ".." in name or "//" in name:
        raise ValidationFailedError("secret_name may use letters, digits and /_+=.@-", field="secret_name")
    own = f"{prefix}{place.project}/{place.environment}/"
    if not name.startswith(own) or len(name) == len(own):
        raise ValidationFailedError(
            f"secret_name must start with {shown(own)} (this key's project and environment) and name a secret under it",
            field="secret_name",
            code="secret_name_outside_prefix",
        )


def check_expiry(expires_at: datetime | None, now: float, min_lifetime: int) -> float | None:
    if expires_at is None:
        return None
    epoch = float(expires_at.timestamp())
    if epoch < now + min_lifetime:
        raise ValidationFailedError(
            f"expires_at must be at least {min_lifetime} seconds in the future", field="expires_at"
        )
    if epoch > now + limits.EXPIRES_AT_MAX_DAYS * 86400:
        raise ValidationFailedError(f"expires_at must be within {limits.EXPIRES_AT_MAX_DAYS} days", field="expires_at")
    return expiry_second(epoch)


def expiry_second(epoch: float) -> float:
    """Keys expire on whole seconds, rounded down (never later than asked): every key of an environment
    expiring in one second is refused at every layer together, by one flush per stage (aws.schedules)."""
    return float(math.floor(epoch))


def check_authorizer_budget(identity: Identity) -> None:
    """Refuse a key whose authorizer answer would exceed the budget on the longest possible stage ARN."""
    context_size = len(json.dumps(identity.to_authorizer_context()))
    management = management_paths(identity.grants, identity.project, identity.environment)
    policy_size = max(
        len(json.dumps(build_policy(_BUDGET_ARN_PREFIX, data_paths(identity.grants)))),
        len(json.dumps(build_policy(_BUDGET_ARN_PREFIX, management))),
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
            f"a role filter reads context value {shown(missing[0])}, which this key does not provide",
            field=f"context.{missing[0]}",
            code="missing_context",
        )
    # Every context name the roles read is present (checked above), so strict resolution cannot fail here.
    return resolve_grants([(name, roles[name]["permissions"]) for name in role_names], context, strict=True)


def commit_change(services: Services, writes: list[Write | None], labels: Mapping[str, Exception]) -> None:
    """Commit one change; a refused condition becomes the client error its label names."""
    try:
        services.transactions.commit(writes)
    except ConditionFailed as refused:
        for label in refused.labels:
            if label.startswith("role:"):
                raise ValidationFailedError(f"unknown role: {label[5:]}", field="roles", code="unknown_role") from None
            if label in labels:
                raise labels[label] from None
        raise ConflictError("a concurrent change touched the same items; retry", code="conflict") from None


def new_key(
    services: Services, caller: Identity, command: CreateKey, expires_epoch: float | None, now: float, **extra: Any
) -> tuple[str, dict[str, Any]]:
    """Check what the key would grant, and make its value and stored record (nothing is written)."""
    place = command.place
    roles, context = list(command.roles), dict(command.context)
    grants = prepare_grants(services, place, roles, context)
    refuse_escalation(caller.grants, list(grants.entries), "this key", field="roles")
    check_authorizer_budget(
        Identity("x" * 12, place.project, place.environment, command.name, tuple(roles), context, grants)
    )
    hasher = services.hasher()
    value, parsed = generate_key(command.prefix, place.project, place.environment, services.key_tags().current)
    record: dict[str, Any] = {
        "key_id": parsed.key_id,
        "name": command.name,
        # For searching by name, ignoring case (DynamoDB's contains() is case-sensitive).
        "name_folded": command.name.casefold(),
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
        "pepper_version": hasher.version or None,
        # Tagged (domain.keyformat): the keys an environment must still check the old way have none.
        "key_format": 2,
        **extra,
    }
    return value, {k: v for k, v in record.items() if v is not None}


def create_key(services: Services, caller: Identity, command: CreateKey, ticket: Ticket | None = None) -> NewKey:
    """With command.secret_name the value is also written to that Secrets Manager secret (its name, and that
    the caller may write into it, are checked before anything is written)."""
    place = command.place
    scope = caller.require(place.project, place.environment, "keys", "write")
    if command.secret_name is not None:
        check_secret_name(services.config.secret_name_prefix, place, command.secret_name)
    services.store.require_environment(place.project, place.environment)
    now = services.clock()
    expires_epoch = check_expiry(command.expires_at, now, services.config.key_min_lifetime_seconds)
    refuse_uncovered_context(scope, dict(command.context))
    extra = {"idempotency_id": ticket.request.record_id} if ticket else {}
    extra.update(allowed_cidrs_fields(command.allowed_cidrs))
    value, record = new_key(services, caller, command, expires_epoch, now, **extra)
    key_id = record["key_id"]
    plan = plan_delivery(services, command, scope)
    # Before anything else is prepared: the likeliest to fail (API Gateway's control plane), and repeatable.
    record.update(limits_fields(services, key_id, command.limits))
    with Change() as change:
        if expires_epoch is not None:
            # Not undone if the key is not committed: the flush it arranges may serve other keys of that second.
            services.schedules.put(place.project, place.environment, expires_epoch)
        delivery = prepare_delivery(services, change, plan, place, value, key_id, caller.key_id)
        details: dict[str, Any] = {"name": command.name, "roles": list(command.roles)}
        details.update({name: record[name] for name in ("allowed_cidrs", "limits") if name in record})
        if delivery is not None:
            details["secret_name"] = delivery.prepared.name
        writes = [
            *services.store.key_create_writes(record),
            services.audit.event_write("key.created", place.project, place.environment, caller.key_id, key_id, details),
            *(delivery.writes if delivery is not None else []),
        ]
        pending = NewKey(value, record, delivery_preview(delivery))
        if ticket is not None:
            writes.append(ticket.completion(services, new_key_response(pending)))
        labels = {"environment": undeclared(place), "key": key_id_taken(), "secret_holder": secret_taken()}
        commit_change(services, writes, labels)
    emit_key_event(services, "key.created", record, caller.key_id, created_details(record), now)
    schedule_notices(services, record)
    return NewKey(value, record, delivered(services, place, delivery.prepared if delivery is not None else None))


def created_details(record: dict[str, Any]) -> dict[str, Any]:
    """What a key.created event says beyond the key: when it expires (null: never) and its roles."""
    return {"expires_at": record.get("expires_at"), "roles": list(record.get("roles", []))}


def undeclared(place: Place) -> NotFoundError:  # an environment not declared (or removed) at commit time
    return NotFoundError(f"environment {place.project}/{place.environment} is not declared", field="environment")


def key_id_taken() -> ConflictError:
    return ConflictError("a key with the same id was created at the same moment; retry", code="conflict")


def covered_key(services: Services, place: Place, key_id: str, scope: RowScope) -> dict[str, Any]:
    """A key that exists (in any state, while retained) and whose context the caller's scope covers; else 404
    (one answer for unknown, purged, uncovered and malformed ids)."""
    if not KEY_ID_RE.match(key_id):
        raise no_such_key()
    services.store.require_environment(place.project, place.environment)
    record = services.store.get_key(place.project, place.environment, key_id)
    if record is None or not scope.covers(record.get("context", {})):
        raise no_such_key()
    # DynamoDB's TTL deletes a revoked key up to days after its purge time; it is gone from then on.
    if record.get("purge_epoch") is not None and float(record["purge_epoch"]) <= services.clock():
        raise no_such_key()
    return record


def live_key(services: Services, place: Place, key_id: str, scope: RowScope) -> dict[str, Any]:
    """A covered key that is not revoked; a revoked one answers 409 key_not_active."""
    record = covered_key(services, place, key_id, scope)
    if record.get("revoked_at"):
        raise key_not_active(key_status(record, services.clock()).status)
    return record


def key_not_active(status: str) -> ConflictError:
    return ConflictError(
        f"this key is {status}: it can no longer be changed (create a new key, or change its successor)",
        field="key_id",
        code="key_not_active",
    )


def get_key(services: Services, caller: Identity, place: Place, key_id: str) -> dict[str, Any]:
    """A key in any state (revoked ones while retained, 30 days), with its status in the view."""
    scope = caller.require(place.project, place.environment, "keys", "read")
    return covered_key(services, place, key_id, scope)


def check_statuses(statuses: Sequence[str] | None) -> tuple[str, ...]:
    """The statuses a listing asks for (None: every one but revoked), each known, in the documented order."""
    if statuses is None:
        return DEFAULT_LISTED
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown or not statuses:
        raise ValidationFailedError(
            f"status must be one of {', '.join(STATUSES)} (comma-separated for several)", field="status"
        )
    return tuple(status for status in STATUSES if status in statuses)


def list_keys(
    services: Services, caller: Identity, place: Place, page: PageRequest, statuses: Sequence[str] | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; only the keys the caller's filters cover, in the statuses asked (default: every one but
    revoked), and never an empty page while some remain."""
    scope = caller.require(place.project, place.environment, "keys", "read")
    wanted = check_statuses(statuses)
    services.store.require_environment(place.project, place.environment)
    tokens, where = services.paging_tokens(), token_scope(place.project, place.environment)
    bound: dict[str, Any] = {"rows": list(scope.alternatives), "name": page.name_contains}
    if wanted != DEFAULT_LISTED:
        bound["status"] = list(wanted)  # a token goes on only with the filter it was issued for
    after = tokens.read(page.next_token, "keys", where, bound) if page.next_token else None
    items, resume = services.store.list_keys(
        place.project,
        place.environment,
        page.limit,
        after,
        scope.alternatives,
        page.name_contains,
        wanted,
        services.clock(),
    )
    return items, tokens.issue("keys", where, bound, resume) if resume is not None else None
