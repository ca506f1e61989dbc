"""The first admin key of an environment, which cannot come through the API (every route needs a key).

Declares the environment, defines the `admin` role (every action on every resource: it can manage the
environment and grant anything in it) and creates a key holding it. Run with AWS credentials that may write
the keys table and read the pepper; the key is printed once.
"""

from __future__ import annotations

from archie_keys.audit import AuditLog
from archie_keys.environments import declare_environment
from archie_keys.hashing import KeyHasher
from archie_keys.keys import NewKey, create_key
from archie_keys.models import CreateKeyBody, RoleBody
from archie_keys.roles import put_role
from archie_keys.settings import Settings
from archie_keys.store import KeyStore

ADMIN_ROLE = "admin"
ADMIN_PERMISSIONS = [{"resource": "*", "actions": ["read", "write", "update", "delete"]}]


def bootstrap(
    store: KeyStore,
    hasher: KeyHasher,
    settings: Settings,
    project: str,
    environment: str,
    name: str = "bootstrap admin",
    audit: AuditLog | None = None,
) -> NewKey:
    declare_environment(store, None, project, environment, audit)
    if store.get_role(project, environment, ADMIN_ROLE) is None:
        admin = RoleBody(description="Every permission in this environment", permissions=ADMIN_PERMISSIONS)
        put_role(store, settings, None, project, environment, ADMIN_ROLE, admin, audit)
    return create_key(
        store, hasher, settings, None, project, environment, CreateKeyBody(name=name, roles=[ADMIN_ROLE]), audit
    )
