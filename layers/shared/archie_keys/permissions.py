"""Permissions: resolve a key's roles into grants, fill row-level filters from the key's context, decide
what a caller may do, refuse privilege escalation, and turn grants into an API Gateway IAM policy.

Plain dicts and tuples only (no pydantic) because this sits on the authorizer's hot path.

A stored permission is {"resource": str, "actions": [..], "filters": {field: literal | {"from_context": name}}}.
A resolved permission has every {"from_context": name} replaced by the key's context value. Resolution is
structural: a context value is only ever placed as a whole JSON string value, never parsed or concatenated,
so a value like '*' or '{"a":1}' or 'x", "tenant": "y' stays exactly that string and cannot widen a filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archie_keys.errors import ForbiddenError

ACTIONS = ("read", "write", "update", "delete")
WILDCARD = "*"

# Protected (data) APIs: which HTTP methods each action grants, on /<resource> and /<resource>/*.
ACTION_METHODS: dict[str, tuple[str, ...]] = {
    "read": ("GET", "HEAD"),
    "write": ("POST",),
    "update": ("PUT", "PATCH"),
    "delete": ("DELETE",),
}
METHOD_ACTIONS = {method: action for action, methods in ACTION_METHODS.items() for method in methods}

# The management API's routes under /projects/{p}/environments/{e}, per (resource, action). The authorizer
# builds its policy from this table and the handlers check the same table, so they cannot disagree.
MANAGEMENT_ROUTES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("environments", "read"): (("GET", ""),),
    ("environments", "write"): (("PUT", ""),),
    ("roles", "read"): (("GET", "/roles"), ("GET", "/roles/*")),
    ("roles", "write"): (("PUT", "/roles/*"),),
    ("roles", "delete"): (("DELETE", "/roles/*"),),
    ("keys", "read"): (("GET", "/keys"), ("GET", "/keys/*")),
    ("keys", "write"): (("POST", "/keys"), ("POST", "/keys/*/roll")),
    ("keys", "delete"): (("DELETE", "/keys/*"),),
    ("audit", "read"): (("GET", "/audit"),),
    ("verify", "write"): (("POST", "/verify"),),
}
# Every valid key may ask who it is.
ALWAYS_ALLOWED_ROUTES: tuple[tuple[str, str], ...] = (("GET", "/whoami"),)


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


# --- Management checks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The key behind a request, as the authorizer described it."""

    key_id: str
    project: str
    environment: str
    name: str
    roles: tuple[str, ...]
    context: dict[str, str]
    grants: Grants


def require(caller: Caller, project: str, environment: str, resource: str, action: str) -> None:
    """Refuse unless the caller's key belongs to this environment and grants `action` on `resource`.

    API Gateway already enforced the policy; this is the same decision again inside the function, so a
    misconfigured route or a direct invocation cannot bypass it."""
    if caller.project != project or caller.environment != environment:
        raise ForbiddenError("this key belongs to another project or environment", code="wrong_environment")
    if not caller.grants.allows(resource, action):
        raise ForbiddenError(f"this key lacks {action} on {resource}", code="forbidden")


# --- Privilege escalation ----------------------------------------------------------------------------------

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
                shown = {k: ("<from_context>" if v is UNKNOWN else v) for k, v in filters.items()}
                missing.append(f"{action} on {resource}" + (f" with filters {shown}" if shown else ""))
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


# --- IAM policy for API Gateway ----------------------------------------------------------------------------


def management_paths(grants: Grants, project: str, environment: str) -> list[tuple[str, str]]:
    base = f"/projects/{project}/environments/{environment}"
    wildcard_actions = {action for action in ACTIONS if grants.index.get((WILDCARD, action))}
    routes: list[tuple[str, str]] = list(ALWAYS_ALLOWED_ROUTES)
    for (resource, action), paths in MANAGEMENT_ROUTES.items():
        if action in wildcard_actions or grants.index.get((resource, action)):
            routes.extend(paths)
    return sorted({(method, base + suffix) for method, suffix in routes})


def data_paths(grants: Grants) -> list[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for resource, actions in grants.actions_by_resource().items():
        # Every action granted: one "*" method instead of six keeps large keys' policies small.
        methods = ["*"] if len(actions) == len(ACTIONS) else [m for a in actions for m in ACTION_METHODS[a]]
        for method in methods:
            if resource == WILDCARD:
                routes.add((method, "/*"))
            else:
                routes.update({(method, f"/{resource}"), (method, f"/{resource}/*")})
    return sorted(routes)


def build_policy(arn_prefix: str, routes: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """An IAM policy allowing exactly `routes` on the API stage `arn_prefix` (arn:...:apiId/stage).

    It depends on the key (and the stage) only, never on the request being authorized, so API Gateway's
    result cache (keyed on the identity sources) can reuse it for any route of that stage safely."""
    resources = [f"{arn_prefix}/{method}{path}" for method, path in routes]
    if not resources:
        return {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": f"{arn_prefix}/*"}],
        }
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}],
    }


def stage_arn_prefix(method_arn: str) -> str:
    """arn:aws:execute-api:region:account:apiId/stage from a method ARN (the API and stage being served)."""
    arn, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    if not arn.startswith("arn:") or not stage:
        raise ValueError("not a method ARN")
    return f"{arn}/{stage}"
