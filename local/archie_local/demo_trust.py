"""What `make run` trusts in its bootstrapped environment: the development OIDC issuer it starts, for one demo
pipeline and for the dashboard's demo people (docs/federation.md, "Locally"). The roles and policies are made
through the same use cases as over the API, as the bootstrap command (audited as `bootstrap`), so they read
back and audit as any other.

    role   orders-reader   read on `orders` (the sample protected API)
    role   auditor         read on keys, audit, roles, webhooks and trust: sees everything, changes nothing
    policy local-ci        tokens of the local issuer for audience `archie-keys` whose subject is
                           repo:demo/app:ref:refs/heads/main -> a key with orders-reader, 15 minutes at most
    policy people-admins   the dashboard's sign-in (audience `archie-dashboard`), `groups` containing
                           platform-admins (alice@example.com) -> admin
    policy people-auditors the same, `groups` containing auditors (bob@example.com) -> auditor

carol@example.com (group developers) matches no policy: her sign-in is refused, as a stranger's would be.
Only this local stack trusts the issuer (anyone on the machine can mint its tokens: that is the point here).
"""

from __future__ import annotations

from typing import Any

DEMO_ROLE = "orders-reader"
DEMO_POLICY = "local-ci"
DEMO_AUDIENCE = "archie-keys"
DEMO_SUBJECT = "repo:demo/app:ref:refs/heads/main"
# The dashboard's client id at the local issuer: the audience of the ID tokens it signs people in with.
DASHBOARD_CLIENT_ID = "archie-dashboard"
AUDITOR_ROLE = "auditor"
# policy name -> (group, roles)
PEOPLE_POLICIES = {
    "people-admins": ("platform-admins", ["admin"]),
    "people-auditors": ("auditors", [AUDITOR_ROLE]),
}
_AUDITOR_PERMISSIONS: list[dict[str, Any]] = [
    {"resource": resource, "actions": ["read"], "filters": {}}
    for resource in ("keys", "audit", "roles", "webhooks", "trust", "environments")
]


def demo_policy(issuer_url: str) -> dict[str, Any]:
    return {"issuer": issuer_url, "audience": DEMO_AUDIENCE, "subject": DEMO_SUBJECT, "roles": [DEMO_ROLE]}


def people_policy(issuer_url: str, group: str, roles: list[str]) -> dict[str, Any]:
    return {"issuer": issuer_url, "audience": DASHBOARD_CLIENT_ID, "claims": {"groups": group}, "roles": roles}


def trust_local_issuer(issuer_url: str, project: str, environment: str) -> None:
    """Define the demo roles and trust policies in `project`/`environment` (which bootstrap has declared)."""
    from archie_keys.app.commands import Place, PutRole
    from archie_keys.app.roles import put_role
    from archie_keys.app.trust import put_trust_policy
    from archie_keys.domain.identity import Identity
    from archie_keys.edge.composition import get_services

    services, place = get_services(), Place(project, environment)
    bootstrap = Identity.bootstrap(project, environment)
    reads_orders = [{"resource": "orders", "actions": ["read"], "filters": {}}]
    put_role(services, bootstrap, PutRole(place, DEMO_ROLE, "reads orders (the sample API)", reads_orders))
    put_trust_policy(services, bootstrap, place, DEMO_POLICY, demo_policy(issuer_url), allow_loopback_http=True)
    sees_all = "reads keys, audit, roles, webhooks and trust policies; changes nothing"
    put_role(services, bootstrap, PutRole(place, AUDITOR_ROLE, sees_all, _AUDITOR_PERMISSIONS))
    for name, (group, roles) in PEOPLE_POLICIES.items():
        policy = people_policy(issuer_url, group, roles)
        put_trust_policy(services, bootstrap, place, name, policy, allow_loopback_http=True)
