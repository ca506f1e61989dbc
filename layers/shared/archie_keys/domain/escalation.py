"""No privilege escalation: a caller may grant (in a role it defines, or a key it creates) only what its own
key covers, rows included."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from archie_keys.domain.errors import ForbiddenError, shown
from archie_keys.domain.grants import WILDCARD, Grants
from archie_keys.domain.identity import RowScope

UNKNOWN = object()  # a filter value not known yet (from_context in a role definition)


def _covered_by(granted: Mapping[str, Any], requested: Mapping[str, Any]) -> bool:
    """A granted alternative covers a requested filter set when every constraint it imposes is also imposed,
    with the same value, by the request. Fewer constraints = more rows."""
    for field_name, value in granted.items():
        if field_name not in requested:
            return False
        wanted = requested[field_name]
        if wanted is UNKNOWN or type(wanted) is not type(value) or wanted != value:
            return False
    return True


def missing_grants(caller: Grants, requested: Iterable[Mapping[str, Any]]) -> list[str]:
    """Describe each requested (resource, action, filters) the caller cannot itself do. Empty: no escalation.

    `requested` entries hold resolved filters, or UNKNOWN for values only a future key's context will fill.
    """
    missing = []
    for entry in requested:
        resource, filters = entry["resource"], entry.get("filters", {})
        for action in entry["actions"]:
            if resource == WILDCARD:
                alternatives = caller.index.get((WILDCARD, action), [])
            else:
                alternatives = caller.alternatives(resource, action)
            if not any(_covered_by(granted, filters) for granted in alternatives):
                named = {k: ("<from_context>" if v is UNKNOWN else v) for k, v in filters.items()}
                missing.append(f"{action} on {resource}" + (f" with filters {shown(named)}" if named else ""))
    return missing


def with_unknown_context(permissions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored permissions of a role being defined, with from_context values marked UNKNOWN."""
    return [
        {
            "resource": p["resource"],
            "actions": list(p["actions"]),
            "filters": {k: (UNKNOWN if isinstance(v, dict) else v) for k, v in p.get("filters", {}).items()},
        }
        for p in permissions
    ]


def refuse_escalation(caller: Grants, requested: list[dict[str, Any]], what: str, field: str) -> None:
    """403 privilege_escalation naming what `requested` would grant beyond the caller's own grants."""
    missing = missing_grants(caller, requested)
    if missing:
        raise ForbiddenError(
            f"{what} would grant more than this key may do itself; missing: " + "; ".join(missing),
            field=field,
            code="privilege_escalation",
        )


def refuse_uncovered_context(
    scope: RowScope, context: dict[str, str], doing: str = "create or change keys", how: str = ""
) -> None:
    """403 `privilege_escalation` on `context` unless the caller's row scope covers it: a filtered key may only
    `doing` (create keys, trust pipelines for keys, revoke keys...) within its own rows. `how`: what the
    caller should do instead, where it is not obvious."""
    if not scope.covers(context):
        raise ForbiddenError(
            f"this key may only {doing} whose context its own filters cover{how}; "
            f"its filters: {shown(list(scope.alternatives))}",
            field="context",
            code="privilege_escalation",
        )
