"""Making a key, as every way of making one shares it (create, roll, the OIDC token exchange): the roles it
names exist and their filters find the context they read, it grants nothing its creator lacks, the
authorizer's answer for it stays within budget, its expiry falls on a whole second within bounds, and its
value and stored record are made (nothing is written here).

The key value exists only in new_key's return value: it is hashed, never stored (but sealed in an idempotent
response), never logged.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from archie_keys.app.commands import CreateKey, Place
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConflictError, ValidationFailedError, shown
from archie_keys.domain.escalation import refuse_escalation
from archie_keys.domain.grants import Grants, required_context_names, resolve_grants
from archie_keys.domain.identity import Identity
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.keyformat import generate_key, new_key_id
from archie_keys.domain.policy import build_policy, data_paths, management_paths

# A stage ARN as long as the budget assumes (see limits.STAGE_ARN_BUDGET_LENGTH).
_BUDGET_ARN_PREFIX = "arn:aws:execute-api:ap-southeast-4:123456789012:abcdefghij/".ljust(
    limits.STAGE_ARN_BUDGET_LENGTH, "s"
)
_SECRET_NAME_RE = limits.whole(limits.SECRET_NAME_PATTERN)


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
    needed = required_context_names(p for name in role_names for p in roles[name].permissions)
    missing = sorted(needed - set(context))
    if missing:
        raise ValidationFailedError(
            f"a role filter reads context value {shown(missing[0])}, which this key does not provide",
            field=f"context.{missing[0]}",
            code="missing_context",
        )
    # Every context name the roles read is present (checked above), so strict resolution cannot fail here.
    return resolve_grants([(name, roles[name].permissions) for name in role_names], context, strict=True)


def new_key(
    services: Services,
    caller: Identity,
    command: CreateKey,
    expires_epoch: float | None,
    now: float,
    *,
    allowed_cidrs: tuple[str, ...] = (),
    idempotency_id: str | None = None,
    rolled_from: str | None = None,
    break_glass: bool = False,
    trust_policy: str | None = None,
) -> tuple[str, KeyRecord]:
    """Check what the key would grant, and make its value and stored record (nothing is written)."""
    place = command.place
    roles, context = tuple(command.roles), dict(command.context)
    grants = prepare_grants(services, place, list(roles), context)
    refuse_escalation(caller.grants, list(grants.entries), "this key", field="roles")
    check_authorizer_budget(Identity("x" * 12, place.project, place.environment, command.name, roles, context, grants))
    hasher = services.hasher()
    # The id carries the creation time (a mass revocation covers the keys made before it): the services' clock's.
    key_id = new_key_id(int(now * 1000))
    value, parsed = generate_key(command.prefix, place.project, place.environment, services.key_tags().current, key_id)
    record = KeyRecord(
        key_id=parsed.key_id,
        name=command.name,
        name_folded=command.name.casefold(),
        prefix=command.prefix,
        start=parsed.start,
        project=place.project,
        environment=place.environment,
        roles=roles,
        context=context,
        created_at=to_iso(now),
        created_by=caller.key_id,
        expires_at=to_iso(expires_epoch) if expires_epoch is not None else None,
        expires_epoch=expires_epoch,
        hash=hasher.hash_secret(parsed.secret),
        hash_params=hasher.parameters.as_record(),
        pepper_version=hasher.version or None,
        # Tagged (domain.keyformat): the keys an environment must still check the old way have none.
        key_format=2,
        allowed_cidrs=allowed_cidrs,
        idempotency_id=idempotency_id,
        rolled_from=rolled_from,
        break_glass=break_glass,
        trust_policy=trust_policy,
    )
    return value, record


def created_details(record: KeyRecord) -> dict[str, Any]:
    """What a key.created event says beyond the key: when it expires (null: never) and its roles."""
    return {"expires_at": record.expires_at, "roles": list(record.roles)}


def created_limits(record: KeyRecord) -> dict[str, Any]:
    """What the key.created audit event says of a new key's allow-list and limits, when it has them."""
    shown: dict[str, Any] = {}
    if record.allowed_cidrs:
        shown["allowed_cidrs"] = list(record.allowed_cidrs)
    if record.limits is not None:
        shown["limits"] = record.limits
    return shown


def key_id_taken() -> ConflictError:
    return ConflictError("a key with the same id was created at the same moment; retry", code="conflict")
