"""What `make run` trusts in its bootstrapped environment: the development OIDC issuer it starts, for one demo
pipeline (docs/federation.md, "Locally"). The role and the policy are made through the same use cases as
over the API, as the bootstrap command (audited as `bootstrap`), so they read back and audit as any other.

    role   orders-reader   read on `orders` (the sample protected API)
    policy local-ci        tokens of the local issuer for audience `archie-keys` whose subject is
                           repo:demo/app:ref:refs/heads/main -> a key with orders-reader, 15 minutes at most

Only this local stack trusts the issuer (anyone on the machine can mint its tokens: that is the point here).
"""

from __future__ import annotations

from typing import Any

DEMO_ROLE = "orders-reader"
DEMO_POLICY = "local-ci"
DEMO_AUDIENCE = "archie-keys"
DEMO_SUBJECT = "repo:demo/app:ref:refs/heads/main"


def demo_policy(issuer_url: str) -> dict[str, Any]:
    return {"issuer": issuer_url, "audience": DEMO_AUDIENCE, "subject": DEMO_SUBJECT, "roles": [DEMO_ROLE]}


def trust_local_issuer(issuer_url: str, project: str, environment: str) -> None:
    """Define the demo role and trust policy in `project`/`environment` (which bootstrap has declared)."""
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
