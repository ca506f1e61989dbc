"""The first admin key of an environment, which cannot come through the API (every route needs a key).

Declares the environment, defines the `admin` role (every action on every resource: it can manage the
environment and grant anything in it) and creates a key holding it, all as the bootstrap actor. Run with AWS
credentials that may write the keys table and read the pepper; the key is printed once.
"""

from __future__ import annotations

from archie_keys.app.commands import CreateKey, Place, PutRole
from archie_keys.app.environments import declare_environment
from archie_keys.app.key_creation import create_key
from archie_keys.app.roles import put_role
from archie_keys.app.services import Services
from archie_keys.app.views import NewKey
from archie_keys.domain.identity import BOOTSTRAP_ROLE, Identity

ADMIN_ROLE = BOOTSTRAP_ROLE
ADMIN_PERMISSIONS = [{"resource": "*", "actions": ["read", "write", "update", "delete"], "filters": {}}]


def bootstrap(services: Services, place: Place, name: str = "bootstrap admin") -> NewKey:
    actor = Identity.bootstrap(place.project, place.environment)
    declare_environment(services, actor, place)
    if services.store.get_role(place.project, place.environment, ADMIN_ROLE) is None:
        admin = PutRole(place, ADMIN_ROLE, "Every permission in this environment", ADMIN_PERMISSIONS)
        put_role(services, actor, admin)
    return create_key(services, actor, CreateKey(place=place, name=name, roles=[ADMIN_ROLE]))
