"""Use cases: define, read, list and delete an environment's trust policies (docs/federation.md).

A trust policy lets a pipeline's OIDC token become a key (app.exchange), so defining one is creating keys at
one remove: its author needs `trust` write (unfiltered: policies have no rows) and must itself be able to
create the key the policy would make. The policy's roles, resolved against its context, may grant nothing the
author's own key does not (privilege escalation, as for keys and roles), and the author's `keys` write must
cover that context (a tenant administrator trusts pipelines only for its own tenant). Every change is
audited in the transaction that makes it.
"""

from __future__ import annotations

import logging
from typing import Any

from archie_keys.app.commands import Place
from archie_keys.app.keys import prepare_grants
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConditionFailed, ConflictError, NotFoundError, ValidationFailedError
from archie_keys.domain.escalation import refuse_escalation, refuse_uncovered_context
from archie_keys.domain.identity import Identity
from archie_keys.domain.trust import TrustPolicy, parse_trust_policy

_POLICY_NAME = limits.whole(limits.TRUST_POLICY_NAME_PATTERN)
logger = logging.getLogger("archie_keys.trust")


def admit(services: Services, place: Place, operation: str, limit: int) -> None:
    """Count one `operation` against the environment's limit a minute (429 `rate_limited` past it)."""
    limiter = services.environment_rate
    if limiter is not None:
        window = limits.ENVIRONMENT_RATE_WINDOW_SECONDS
        limiter.admit(place.project, place.environment, operation, limit, window, services.clock())


def _no_such_policy(name: str) -> NotFoundError:
    return NotFoundError(f"trust policy {name} does not exist", field="name")


def _check_name(name: str) -> None:
    if not _POLICY_NAME.match(name):
        raise ValidationFailedError(
            f"a policy name is {limits.PATTERN_MEANINGS[limits.TRUST_POLICY_NAME_PATTERN]}", field="name"
        )


def stored_policy(stored: dict[str, Any], *, allow_loopback_http: bool) -> TrustPolicy:
    """A stored item read back as the TrustPolicy it was accepted as."""
    return parse_trust_policy(stored["name"], stored["policy"], allow_loopback_http=allow_loopback_http)


def environment_policies(services: Services, place: Place) -> dict[str, tuple[TrustPolicy, str]]:
    """The environment's policies as accepted, with the `updated_at` each was read at: what the exchange and a
    person's sign-in match tokens against. An undeclared environment has none: the answer is the same refusal
    as for an untrusted token, so a caller without a trusted token learns nothing about which environments
    exist."""
    loopback = services.config.oidc_allow_loopback_http
    found = {}
    for stored in services.trust.list(place.project, place.environment):
        try:
            found[stored["name"]] = (stored_policy(stored, allow_loopback_http=loopback), stored["updated_at"])
        except ValidationFailedError:
            # Accepted under other settings (a loopback issuer, on a stack that no longer trusts one): it
            # matches nothing rather than failing every token presented to the environment.
            logger.warning(
                "trust policy %s of %s/%s is not valid here", stored["name"], place.project, place.environment
            )
    return found


def trust_view(stored: dict[str, Any]) -> dict[str, Any]:
    """The API's view of a stored policy: its body as given (defaults filled in), and who changed it when."""
    body = stored["policy"]
    return {
        "name": stored["name"],
        "issuer": body["issuer"],
        "audience": body["audience"],
        "subject": body.get("subject"),
        "claims": body.get("claims", {}),
        "roles": body["roles"],
        "context": body.get("context", {}),
        "max_ttl_seconds": body["max_ttl_seconds"],
        "created_at": stored["created_at"],
        "created_by": stored["created_by"],
        "updated_at": stored["updated_at"],
        "updated_by": stored["updated_by"],
    }


def _refuse_wider_than_author(services: Services, caller: Identity, place: Place, policy: TrustPolicy) -> None:
    """The key this policy would make must be one its author could create itself."""
    context = dict(policy.context)
    scope = caller.require(place.project, place.environment, "keys", "write")
    refuse_uncovered_context(scope, context, "trust pipelines for keys")
    grants = prepare_grants(services, place, list(policy.roles), context)
    refuse_escalation(caller.grants, list(grants.entries), "this trust policy", field="roles")


def put_trust_policy(
    services: Services, caller: Identity, place: Place, name: str, body: dict[str, Any], *, allow_loopback_http: bool
) -> tuple[dict[str, Any], bool]:
    """Create or replace a policy, audited in the same transaction. Returns (view, created)."""
    caller.require(place.project, place.environment, "trust", "write")
    policy = parse_trust_policy(name, body, allow_loopback_http=allow_loopback_http)
    admit(services, place, "trust", limits.TRUST_CHANGES_PER_ENVIRONMENT_PER_MINUTE)
    services.store.require_environment(place.project, place.environment)
    _refuse_wider_than_author(services, caller, place, policy)
    existing = services.trust.list(place.project, place.environment)
    previous = next((item for item in existing if item["name"] == name), None)
    if previous is None and len(existing) >= limits.TRUST_POLICIES_PER_ENVIRONMENT_MAX:
        raise ConflictError(
            f"an environment holds at most {limits.TRUST_POLICIES_PER_ENVIRONMENT_MAX} trust policies; "
            "delete one first",
            field="name",
            code="too_many_trust_policies",
        )
    now = to_iso(services.clock())
    stored_body = {key: value for key, value in policy.to_body().items() if value is not None}
    values = {"policy": stored_body, "updated_at": now, "updated_by": caller.key_id}
    event = "trust.created" if previous is None else "trust.updated"
    writes = [
        services.trust.put_write(place.project, place.environment, name, values, previous),
        services.audit.event_write(
            event, place.project, place.environment, caller.key_id, None, {"trust_policy": name, **stored_body}
        ),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        raise ConflictError(f"trust policy {name} changed while this request ran; retry", code="conflict") from None
    if previous is not None and previous["policy"] != stored_body:
        _flush(services, place)
    stored = {
        "name": name,
        "policy": stored_body,
        "created_at": previous["created_at"] if previous else now,
        "created_by": previous["created_by"] if previous else caller.key_id,
        "updated_at": now,
        "updated_by": caller.key_id,
    }
    return trust_view(stored), previous is None


def get_trust_policy(services: Services, caller: Identity, place: Place, name: str) -> dict[str, Any]:
    caller.require(place.project, place.environment, "trust", "read")
    _check_name(name)
    services.store.require_environment(place.project, place.environment)
    stored = services.trust.get(place.project, place.environment, name)
    if stored is None:
        raise _no_such_policy(name)
    return trust_view(stored)


def list_trust_policies(services: Services, caller: Identity, place: Place) -> list[dict[str, Any]]:
    """Every policy of the environment (at most TRUST_POLICIES_PER_ENVIRONMENT_MAX: one page), by name."""
    caller.require(place.project, place.environment, "trust", "read")
    services.store.require_environment(place.project, place.environment)
    return [trust_view(stored) for stored in services.trust.list(place.project, place.environment)]


def delete_trust_policy(services: Services, caller: Identity, place: Place, name: str) -> None:
    """Delete a policy: no token matches it from the commit on, and an exchange under way that matched it makes
    no key (app.exchange checks the policy in its transaction). Keys it already made live out their short
    lives unless deleted. The environment's authorizer caches are flushed, so a person signed in under it
    loses its roles at once (as after a replacement that changes it)."""
    caller.require(place.project, place.environment, "trust", "delete")
    _check_name(name)
    admit(services, place, "trust", limits.TRUST_CHANGES_PER_ENVIRONMENT_PER_MINUTE)
    services.store.require_environment(place.project, place.environment)
    stored = services.trust.get(place.project, place.environment, name)
    if stored is None:
        raise _no_such_policy(name)
    writes = [
        services.trust.delete_write(place.project, place.environment, name, stored),
        services.audit.event_write(
            "trust.deleted", place.project, place.environment, caller.key_id, None, {"trust_policy": name}
        ),
    ]
    try:
        services.transactions.commit(writes)
    except ConditionFailed:
        raise ConflictError(f"trust policy {name} changed while this request ran; retry", code="conflict") from None
    _flush(services, place)


def _flush(services: Services, place: Place) -> None:
    """After a policy is replaced or deleted: a person it gave roles to may hold an Allow in API Gateway's
    cache (AuthorizerResultTtl) naming them; flush the environment's stages as a key's revocation does. A
    stage that cannot be flushed is logged and counted (the stages-not-flushed alarm); the change holds."""
    services.flusher.revoke_everywhere(place.project, place.environment)
