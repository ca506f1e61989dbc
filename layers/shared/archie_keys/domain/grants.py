"""Grants: a key's roles resolved against its context into what it may do, with row-level filters filled in.

Plain dicts and tuples only (no pydantic) because this sits on the authorizer's hot path.

A stored permission is {"resource": str, "actions": [..], "filters": {field: literal | {"from_context": name}}}.
A resolved permission has every {"from_context": name} replaced by the key's context value. Resolution is
structural: a context value is only ever placed as a whole JSON string value, never parsed or concatenated,
so a value like '*' or '{"a":1}' or 'x", "tenant": "y' stays exactly that string and cannot widen a filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

# What a permission may allow on a resource; the API's request and response models read the same type.
Action = Literal["read", "write", "update", "delete"]
ACTIONS: tuple[str, ...] = get_args(Action)
WILDCARD = "*"


class MissingContextError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def resolve_filters(filters: Mapping[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for field_name, value in filters.items():
        if isinstance(value, dict):
            name = value.get("from_context")
            if not isinstance(name, str) or name not in context:
                raise MissingContextError(str(name))
            resolved[field_name] = context[name]
        else:
            resolved[field_name] = value
    return resolved


def required_context_names(permissions: Iterable[Mapping[str, Any]]) -> set[str]:
    return {
        value["from_context"]
        for permission in permissions
        for value in permission.get("filters", {}).values()
        if isinstance(value, dict)
    }


@dataclass(frozen=True)
class Grants:
    """What a key may do: resolved permission entries, and the same indexed by (resource, action)."""

    entries: tuple[dict[str, Any], ...]
    index: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Sequence[dict[str, Any]]) -> Grants:
        index: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entry in entries:
            for action in entry["actions"]:
                index.setdefault((entry["resource"], action), []).append(entry["filters"])
        return cls(tuple(entries), index)

    def alternatives(self, resource: str, action: str) -> list[dict[str, Any]]:
        """The filter alternatives under which `action` on `resource` is allowed (empty list: not allowed;
        an empty dict among them: allowed on every row)."""
        return self.index.get((resource, action), []) + (
            self.index.get((WILDCARD, action), []) if resource != WILDCARD else []
        )

    def allows(self, resource: str, action: str) -> bool:
        return bool(self.alternatives(resource, action))

    def filters_by_resource(self) -> dict[str, list[dict[str, Any]]]:
        by_resource: dict[str, list[dict[str, Any]]] = {}
        for entry in self.entries:
            alternatives = by_resource.setdefault(entry["resource"], [])
            if entry["filters"] not in alternatives:
                alternatives.append(entry["filters"])
        return by_resource

    def actions_by_resource(self) -> dict[str, list[str]]:
        by_resource: dict[str, set[str]] = {}
        for entry in self.entries:
            by_resource.setdefault(entry["resource"], set()).update(entry["actions"])
        return {resource: [a for a in ACTIONS if a in actions] for resource, actions in by_resource.items()}


# The management API's resources whose rows a filter can select: a key's columns are its context entries; an
# audit record is covered when the key it is about (and, for a management event, its actor) is covered.
# Roles, environments and verify have no rows a filter can match, so only an unfiltered grant counts there.
ROW_SCOPED_RESOURCES = frozenset({"keys", "audit"})

# The alternatives that mean "every row".
EVERY_ROW: tuple[dict[str, Any], ...] = ({},)


def management_alternatives(grants: Grants, resource: str, action: str) -> list[dict[str, Any]]:
    """The row filters under which `grants` allow `action` on a management resource: empty means not at all;
    [{}] means every row. On a resource without rows a filtered grant grants nothing."""
    alternatives = grants.alternatives(resource, action)
    if {} in alternatives:
        return [{}]
    return alternatives if resource in ROW_SCOPED_RESOURCES else []


def covers_row(alternatives: Sequence[Mapping[str, Any]], row: Mapping[str, Any]) -> bool:
    """A row is covered when it matches any alternative: it has every field of the alternative, with the same
    value of the same type (a context value "5" is not the literal 5, and True is not 1)."""
    return any(
        all(name in row and type(row[name]) is type(value) and row[name] == value for name, value in alt.items())
        for alt in alternatives
    )


def resolve_grants(
    roles: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], context: Mapping[str, str], *, strict: bool
) -> Grants:
    """Resolve (role name, stored permissions) pairs against a key's context.

    strict=True (key creation) raises MissingContextError for a filter naming a context value the key lacks.
    strict=False (authorization) drops such a permission instead: a role edited after the key was made must
    never widen it, and a filter that cannot be filled grants nothing.
    """
    entries = []
    for role_name, permissions in roles:
        for permission in permissions:
            try:
                filters = resolve_filters(permission.get("filters", {}), context)
            except MissingContextError:
                if strict:
                    raise
                continue
            entries.append(
                {
                    "role": role_name,
                    "resource": permission["resource"],
                    "actions": list(permission["actions"]),
                    "filters": filters,
                }
            )
    return Grants.from_entries(entries)
