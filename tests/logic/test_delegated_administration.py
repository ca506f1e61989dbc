"""Delegated administration on the fakes: a tenant administrator (every action on `*`, filtered to its own
tenant) makes, reads and revokes its tenant's keys and nothing else; another tenant's keys and the
bootstrap admin answer 404, and a key for another tenant is privilege escalation."""

from __future__ import annotations

import pytest

from archie_keys.app.key_lookup import get_key
from archie_keys.app.revocation import revoke_key
from archie_keys.app.roles import get_role
from archie_keys.domain.errors import ForbiddenError, NotFoundError
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, caller, new_key, role

ALL = ["read", "write", "update", "delete"]
TENANT_ADMIN = [
    {"resource": "*", "actions": ALL, "filters": {"tenant": {"from_context": "tenant"}}},
    {"resource": "roles", "actions": ["read"]},
]
READ_ROLES = {"resource": "roles", "actions": ["read"]}
ORDERS = [{"resource": "orders", "actions": ["read"], "filters": {"tenant": {"from_context": "tenant"}}}]


@pytest.fixture
def tenants(services: FakeServices, admin) -> dict:
    role(services, admin, "tenant-admin", TENANT_ADMIN)
    role(services, admin, "orders", ORDERS)
    t1_admin = new_key(services, admin, "t1-admin", ["tenant-admin"], context={"tenant": "t1"})
    t2_key = new_key(services, admin, "t2-orders", ["orders"], context={"tenant": "t2"})
    return {"t1": caller(services, t1_admin.value), "t2_key": t2_key.record.key_id, "admin": admin}


def test_a_tenant_admin_manages_its_own_tenants_keys(services: FakeServices, tenants) -> None:
    made = new_key(services, tenants["t1"], "t1-orders", ["orders"], context={"tenant": "t1"})
    key_id = made.record.key_id
    assert get_key(services, tenants["t1"], PLACE, key_id).context == {"tenant": "t1"}  # type: ignore[arg-type]
    revoke_key(services, tenants["t1"], PLACE, key_id)  # type: ignore[arg-type]
    assert services.store.get_key("shop", "prod", key_id).revoked_by == tenants["t1"].key_id


def test_other_tenants_keys_and_the_admin_are_invisible_to_it(services: FakeServices, tenants) -> None:
    for key_id in (tenants["t2_key"], tenants["admin"].key_id):
        with pytest.raises(NotFoundError):
            get_key(services, tenants["t1"], PLACE, key_id)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            revoke_key(services, tenants["t1"], PLACE, key_id)  # type: ignore[arg-type]
    assert services.store.get_key("shop", "prod", tenants["t2_key"]).revoked_at is None


def test_a_key_for_another_tenant_is_escalation(services: FakeServices, tenants) -> None:
    before = len(services.store.tables.items)
    with pytest.raises(ForbiddenError) as refused:
        new_key(services, tenants["t1"], "sneaky", ["orders"], context={"tenant": "t2"})
    assert len(services.store.tables.items) == before
    # The 403 says what the key may do and within which rows, naming its own filters.
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "privilege_escalation",
        "context",
        'this key may only create or change keys whose context its own filters cover; its filters: [{"tenant": "t1"}]',
    )


def test_a_tenant_admin_sees_a_role_but_not_how_many_keys_of_every_tenant_hold_it(
    services: FakeServices, tenants
) -> None:
    """`orders` is held by t2's key: its count would tell t1 about t2's keys. Only a caller that may read every
    key (an unfiltered `keys` read, on `*` or on `keys` itself) sees it."""
    assert get_role(services, tenants["t1"], PLACE, "orders").key_count is None  # type: ignore[arg-type]
    role(services, tenants["admin"], "key-auditor", [{"resource": "keys", "actions": ["read"]}, READ_ROLES])
    auditor = caller(services, new_key(services, tenants["admin"], "auditor", ["key-auditor"]).value)
    for every_key_reader in (tenants["admin"], auditor):
        assert get_role(services, every_key_reader, PLACE, "orders").key_count == 1  # type: ignore[arg-type]
