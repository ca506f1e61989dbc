"""Use case: revoke every active key of an environment whose context holds given values, in seconds, whatever
their number (README: Mass revocation).

One transaction writes a rule into the environment's state (aws.revocation_store): every authorizer reads it
with the environment's declaration, at most one cache TTL old, and refuses every key it covers. The answer
(202) comes once that holds on every layer: after the rule, the coalesced flush of every stage of the
environment, the cache TTL, and the flush again (aws.cache_flush, as for one key). Meanwhile the keys are
counted. The keys themselves are marked revoked afterwards, in the background (app.revocation_worker), each
with its own `key.deleted` event; when none is left the rule leaves the authorizer's reads.

Rows: the caller's `keys` delete scope applies to the rule as to a key's context: a filtered caller may
revoke only within its rows (its filter fields pinned to its own values), and `{}` (every key) needs an
unfiltered grant.
"""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from archie_keys.app import idempotent
from archie_keys.app.changes import after_commit
from archie_keys.app.commands import Place, RevokeKeys
from archie_keys.app.keys import commit_change, undeclared
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.change_records import Existing
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ConflictError, NotFoundError, ServiceUnavailableError
from archie_keys.domain.escalation import refuse_uncovered_context
from archie_keys.domain.identity import Identity
from archie_keys.domain.keyformat import KEY_ID_RE, new_key_id

logger = logging.getLogger("archie_keys.mass_revocation")

REVOCATION_FIELDS = ("revocation_id", "status", "matched", "revoked", "reason", "created_at", "created_by")


def no_such_revocation() -> NotFoundError:
    # One answer for unknown and uncovered: nothing here says whether another tenant's revocation exists.
    return NotFoundError("no such revocation", field="revocation_id")


def worker_event(place: Place, revocation_id: str) -> dict[str, Any]:
    return {"project": place.project, "environment": place.environment, "revocation_id": revocation_id}


def revoke_keys(
    services: Services, caller: Identity, command: RevokeKeys, ticket: idempotent.Ticket | None
) -> dict[str, Any]:
    """Start a mass revocation and answer once every key it covers is refused on every layer: 202
    {"revocation_id", "matched"} (and "unflushed_stages" when some stage could not be flushed)."""
    place, match = command.place, dict(command.match)
    scope = caller.require(place.project, place.environment, "keys", "delete")
    refuse_uncovered_context(
        scope, match, "revoke keys", " (the context must hold each of its filter fields with its own value)"
    )
    services.store.require_environment(place.project, place.environment)
    now = services.clock()
    before_ms = int(now * 1000)
    revocation_id = new_key_id(before_ms)
    rule = {
        "kind": "revocation",
        "revocation_id": revocation_id,
        "project": place.project,
        "environment": place.environment,
        "match": match,
        "before_ms": before_ms,
        "status": "running",
        "reason": command.reason,
        "created_at": to_iso(now),
        "created_by": caller.key_id,
        "revoked": 0,
        "updated_at": to_iso(now),
    }
    details = {"revocation_id": revocation_id, "context": match, "reason": command.reason}
    writes = [
        *services.revocations.start_writes(rule, limits.REVOCATIONS_RUNNING_MAX),
        services.audit.event_write(
            "revocation.started", place.project, place.environment, caller.key_id, None, details
        ),
    ]
    if ticket is not None:
        writes.append(ticket.answer_write(services, {"revocation_id": revocation_id}))
    full = ConflictError(
        f"{limits.REVOCATIONS_RUNNING_MAX} mass revocations are under way in this environment; retry when one "
        "is done (GET .../keys/revocations/<id>)",
        code="too_many_revocations",
    )
    commit_change(services, writes, {"environment": undeclared(place), "too_many_revocations": full})
    committed = (
        services.clock()
    )  # the rule is in every authorizer's reads from here (a state read before it lives a TTL)
    start_worker(services, place, revocation_id)
    return settled_answer(services, place, rule, committed)


def start_worker(services: Services, place: Place, revocation_id: str) -> None:
    """Queue the worker that marks the keys. If Lambda refuses even after retries, the rule still holds and the
    worker's sweep starts it within a few minutes (its registry entry was written with the rule)."""
    function = services.config.revocation_worker_function
    if not function:
        logger.warning("no revocation worker is configured: the rule holds, its keys are not marked")
        return
    after_commit(lambda: services.invoker.invoke(function, worker_event(place, revocation_id)), "start the worker")


def settled_answer(
    services: Services, place: Place, rule: dict[str, Any], committed: float | None = None
) -> dict[str, Any]:
    """The 202: once every layer refuses what the rule covers (flushed after its commit and the cache TTL),
    with how many keys it covers, counted meanwhile. `committed`: when the rule was (default: now, for a retry,
    which comes after it)."""
    with ThreadPoolExecutor(1, thread_name_prefix="count") as pool:
        counting = pool.submit(contextvars.copy_context().run, matched, services, rule)  # in the caller's trace
        flush = services.flusher.revoke_everywhere(place.project, place.environment, since=committed)
        try:
            count = counting.result()
        except Exception as error:
            logger.exception("the keys of revocation %s could not be counted", rule["revocation_id"])
            raise ServiceUnavailableError(
                f"revocation {rule['revocation_id']} is in force, but its keys could not be counted now; retry "
                "with the same Idempotency-Key, or read it at .../keys/revocations/<id>"
            ) from error
    answer: dict[str, Any] = {"revocation_id": rule["revocation_id"], "matched": count}
    if flush.unflushed:
        answer["unflushed_stages"] = list(flush.unflushed)  # the rule holds; these stages may serve it late
    return answer


def matched(services: Services, rule: dict[str, Any]) -> int:
    """The keys the rule covers that were active when it began: counted once, then read from its record."""
    if rule.get("matched") is not None:
        return int(rule["matched"])
    count = services.revocations.count_covered(rule)
    # Kept for the progress and a retry's answer; if it cannot be, they count again.
    after_commit(
        lambda: services.revocations.record_matched(rule["project"], rule["environment"], rule["revocation_id"], count),
        "record the revocation's count",
    )
    return count


def replay(services: Services, request: idempotent.IdempotentRequest, found: Existing) -> dict[str, Any]:
    """A retry of a revocation that committed: the same revocation, answered again once every layer refuses
    what it covers (the first request may have died before it could say so)."""
    place = Place(request.scope["project"], request.scope["environment"])
    revocation_id = str((found.response or {}).get("revocation_id", ""))
    rule = services.revocations.get(place.project, place.environment, revocation_id)
    if rule is None:
        raise no_such_revocation()
    return settled_answer(services, place, rule)


def revocation_status(services: Services, caller: Identity, place: Place, revocation_id: str) -> dict[str, Any]:
    """A revocation's progress, for a caller whose `keys` read covers what it revokes (else 404)."""
    scope = caller.require(place.project, place.environment, "keys", "read")
    if not KEY_ID_RE.match(revocation_id):
        raise no_such_revocation()
    services.store.require_environment(place.project, place.environment)
    rule = services.revocations.get(place.project, place.environment, revocation_id)
    if rule is None or not scope.covers(dict(rule.get("match") or {})):
        raise no_such_revocation()
    view = {name: rule.get(name) for name in REVOCATION_FIELDS}
    view.update(matched=matched(services, rule), revoked=int(rule.get("revoked", 0)))
    view["context"] = dict(rule.get("match") or {})
    view["finished_at"] = rule.get("finished_at")
    return view
