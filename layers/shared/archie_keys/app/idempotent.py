"""Idempotent key creation for CI pipelines (header Idempotency-Key): a retry with the same key and body
returns the very same response, key value included, and creates nothing.

The response is stored in the transaction that creates the key, with the key value sealed (domain.sealing)
under a subkey of the pepper bound to this caller, environment, operation and Idempotency-Key: never in
clear, and without the pepper the record reveals nothing. A replay first checks that the key it returns is
still active: a key revoked, rolled or expired since is answered 409 `key_not_active`, never handed back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archie_keys.app.commands import Place
from archie_keys.app.delivery import delivered
from archie_keys.app.ports import Write
from archie_keys.app.services import Services
from archie_keys.domain import limits
from archie_keys.domain.change_records import COMPLETED, Claim, Existing, PreparedSecret
from archie_keys.domain.errors import ConflictError, ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.sealing import seal, unseal

_IDEMPOTENCY_KEY_RE = limits.whole(limits.IDEMPOTENCY_KEY_PATTERN)


@dataclass(frozen=True)
class IdempotentRequest:
    """One request made with an Idempotency-Key: its scope (project, environment, caller, operation), the
    header's value and the body (JSON-able) the key is bound to."""

    scope: dict[str, str]
    key: str
    body: Any

    def __post_init__(self) -> None:
        if not _IDEMPOTENCY_KEY_RE.match(self.key):
            raise ValidationFailedError(
                "Idempotency-Key must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
                field="Idempotency-Key",
            )

    @property
    def bound(self) -> bytes:
        return json.dumps([self.scope, self.key], sort_keys=True).encode("utf-8")

    @property
    def record_id(self) -> str:
        return hashlib.sha256(self.bound).hexdigest()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def request_for(place: Place, caller: Identity, operation: str, key: str | None, body: Any) -> IdempotentRequest | None:
    """The request a handler makes idempotent: None without an Idempotency-Key; else bound to this environment,
    this caller and `operation`, so that one key reused elsewhere (another caller, route or key id) never
    replays this answer."""
    if key is None:
        return None
    scope = {
        "project": place.project,
        "environment": place.environment,
        "caller": caller.key_id,
        "operation": operation,
    }
    return IdempotentRequest(scope, key, body)


def create_request(place: Place, caller: Identity, key: str | None, body: Any) -> IdempotentRequest | None:
    """A key creation's request: its answer holds the key value, sealed under this scope."""
    return request_for(place, caller, "create", key, body)


def roll_request(place: Place, caller: Identity, key_id: str, key: str | None, body: Any) -> IdempotentRequest | None:
    """A roll's request, bound to the key rolled: one Idempotency-Key reused on another key never replays."""
    return request_for(place, caller, f"roll:{key_id}", key, body)


@dataclass(frozen=True)
class Ticket:
    """This request's claim on its idempotency record, and what completes it."""

    request: IdempotentRequest
    claim: Claim

    def completion(self, services: Services, response: dict[str, Any]) -> Write:
        hasher = services.hasher()
        sealed = {**response, "key": seal(hasher.derive(self.request.bound), response["key"])}
        return services.idempotency.completion_write(self.claim, sealed, response["key_id"], hasher.version)

    def answer_write(self, services: Services, response: dict[str, Any]) -> Write:
        """The completion of a change whose answer holds no key value (see `once`'s `replay`)."""
        return services.idempotency.answer_write(self.claim, response)


# Answers a completed earlier request again: (services, request, what the record holds) -> the answer.
Replay = Callable[[Services, IdempotentRequest, Existing], dict[str, Any]]


def begin(services: Services, request: IdempotentRequest, replay: Replay | None = None) -> Ticket | dict[str, Any]:
    """Claim the request, or answer it: the stored response of an earlier identical request (its key still
    active; or what `replay` answers for it), 409 while that request runs, 409 key_not_active, or 422 for the
    same key with another body."""
    found = services.idempotency.claim(
        request.record_id, request.fingerprint, limits.IDEMPOTENCY_TTL_SECONDS, limits.IDEMPOTENCY_HOLD_SECONDS
    )
    if isinstance(found, Claim):
        return Ticket(request, found)
    completed(request, found)
    return (replay or _replay)(services, request, found)


def once(
    services: Services,
    request: IdempotentRequest | None,
    change: Callable[[Ticket | None], dict[str, Any]],
    replay: Replay | None = None,
) -> dict[str, Any]:
    """The answer of `change`, run at most once per request: without an Idempotency-Key it simply runs; with
    one, an earlier identical request's stored answer is returned instead (see `begin`; `replay` answers it
    again for a change that created no key), and a change that fails before its commit gives up its claim so
    the client's retry runs it again. `change` stores its answer with the ticket's completion write, in its
    own transaction."""
    if request is None:
        return change(None)
    ticket = begin(services, request, replay)
    if isinstance(ticket, dict):
        return ticket
    try:
        return change(ticket)
    except Exception:
        release(services, ticket)
        raise


def completed(request: IdempotentRequest, found: Existing) -> None:
    """Refuse to answer from a record made for another body (422), or one whose request still runs (409)."""
    if found.fingerprint != request.fingerprint:
        raise ValidationFailedError(
            "this Idempotency-Key was used with a different body",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    if found.status != COMPLETED:
        raise ConflictError(
            "a request with this Idempotency-Key is still in progress; retry shortly",
            field="Idempotency-Key",
            code="idempotency_in_progress",
        )


def _replay(services: Services, request: IdempotentRequest, found: Existing) -> dict[str, Any]:
    if found.response is None or found.key_id is None or not _active(services, request, found.key_id):
        if found.key_id is not None:
            services.idempotency.forget_response(request.record_id, found.key_id)
        raise ConflictError(
            "the key this Idempotency-Key created is no longer active (revoked, rolled or expired); "
            "use a new Idempotency-Key to create another",
            field="Idempotency-Key",
            code="key_not_active",
        )
    response = dict(found.response)
    # Sealed under the pepper version of its day: still readable after a rotation.
    response["key"] = unseal(services.hasher_for(found.pepper_version).derive(request.bound), response["key"])
    if response.get("secret_version_id"):
        # The stored answer was written before its delivery was promoted: promote again (idempotent; it
        # finishes a promotion that failed, and gives the secret to whichever key holds it now, never back to
        # this one once another replaced it) and say where the value really is.
        prepared = PreparedSecret(
            response["secret_name"], response["secret_version_id"], created=False, key_id=response["key_id"]
        )
        place = Place(request.scope["project"], request.scope["environment"])
        response.update(delivered(services, place, prepared) or {})
    return response


def _active(services: Services, request: IdempotentRequest, key_id: str) -> bool:
    record = services.store.get_key(request.scope["project"], request.scope["environment"], key_id)
    if record is None or record.get("revoked_at") or record.get("rolled_to"):
        return False
    expires = record.get("expires_epoch")
    return expires is None or float(expires) > services.clock()


def release(services: Services, ticket: Ticket | None) -> None:
    """Give up the claim of a request whose change failed, so the client's retry runs again."""
    if ticket is not None:
        services.idempotency.release(ticket.claim)
