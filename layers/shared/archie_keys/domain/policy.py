"""The IAM policy the authorizer answers with, built from a key's grants and the stage alone.

It never depends on the route being called, so API Gateway's result cache (keyed on the identity sources)
can reuse one answer for every route of the stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from archie_keys.domain.grants import ACTIONS, WILDCARD, Grants, management_alternatives

# Protected (data) APIs: which HTTP methods each action grants, on /<resource> and /<resource>/*.
ACTION_METHODS: dict[str, tuple[str, ...]] = {
    "read": ("GET", "HEAD"),
    "write": ("POST",),
    "update": ("PUT", "PATCH"),
    "delete": ("DELETE",),
}

# The management API's routes under /projects/{p}/environments/{e}, per (resource, action). The authorizer
# builds its policy from this table; each handler checks the same (resource, action) with Identity.require,
# and tests hold this table, the template's Events and the handlers' routes together.
MANAGEMENT_ROUTES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("environments", "read"): (("GET", ""),),
    ("environments", "write"): (("PUT", ""),),
    ("roles", "read"): (("GET", "/roles"), ("GET", "/roles/*")),
    ("roles", "write"): (("PUT", "/roles/*"),),
    ("roles", "delete"): (("DELETE", "/roles/*"),),
    ("keys", "read"): (
        ("GET", "/keys"),
        ("GET", "/keys/*"),
        ("GET", "/keys/*/usage"),
        ("GET", "/keys/revocations/*"),
    ),
    ("keys", "write"): (("POST", "/keys"), ("POST", "/keys/*/roll")),
    ("keys", "update"): (("PATCH", "/keys/*"),),
    ("keys", "delete"): (("DELETE", "/keys/*"), ("POST", "/keys/revocations")),
    ("audit", "read"): (("GET", "/audit"),),
    ("webhooks", "read"): (("GET", "/webhooks"), ("GET", "/webhooks/*"), ("GET", "/webhooks/*/deliveries")),
    ("webhooks", "write"): (("PUT", "/webhooks/*"), ("POST", "/webhooks/*/test"), ("POST", "/webhooks/*/redrive")),
    ("webhooks", "delete"): (("DELETE", "/webhooks/*"),),
    ("trust", "read"): (("GET", "/trust"), ("GET", "/trust/*")),
    ("trust", "write"): (("PUT", "/trust/*"),),
    ("trust", "delete"): (("DELETE", "/trust/*"),),
    ("verify", "write"): (("POST", "/verify"),),
}
# Every valid key may ask who it is.
ALWAYS_ALLOWED_ROUTES: tuple[tuple[str, str], ...] = (("GET", "/whoami"),)
# Routes of the management API that take no key (authenticated otherwise), outside every environment.
PUBLIC_ROUTES: tuple[tuple[str, str], ...] = (("POST", "/secret-scanning/github"),)
# Routes of an environment that take no key: the exchange's credential is the OIDC token in its body, checked
# against the environment's trust policies (API Gateway runs no authorizer on them, and throttles them).
KEYLESS_ROUTES: tuple[tuple[str, str], ...] = (("POST", "/keys/exchange"),)


def management_paths(grants: Grants, project: str, environment: str) -> list[tuple[str, str]]:
    """The key's own environment's routes its grants reach, with the handlers' rule: a filtered grant reaches
    keys and audit (rows are filtered inside), never roles, environments or verify."""
    base = f"/projects/{project}/environments/{environment}"
    routes: list[tuple[str, str]] = list(ALWAYS_ALLOWED_ROUTES)
    for (resource, action), paths in MANAGEMENT_ROUTES.items():
        if management_alternatives(grants, resource, action):
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


def deny_policy(arn_prefix: str) -> dict[str, Any]:
    """An explicit Deny of every route of the API stage `arn_prefix`."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": f"{arn_prefix}/*"}],
    }


def build_policy(arn_prefix: str, routes: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """An IAM policy allowing exactly `routes` on the API stage `arn_prefix` (arn:...:apiId/stage)."""
    resources = [f"{arn_prefix}/{method}{path}" for method, path in routes]
    if not resources:
        return deny_policy(arn_prefix)
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
