"""Listing an environment's keys (GET .../keys): newest first, only the rows the caller's filters cover, by
status and name, in pages whose tokens are bound to the listing they continue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archie_keys.app.commands import PageRequest, Place
from archie_keys.app.services import Services
from archie_keys.domain.errors import ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.key_status import DEFAULT_LISTED, STATUSES
from archie_keys.domain.paging import token_scope


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
) -> tuple[list[KeyRecord], str | None]:
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
