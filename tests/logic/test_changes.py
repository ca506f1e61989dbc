"""Rolling, changing (PATCH), idempotent creation and delegated administration, as a user sees them."""

from __future__ import annotations

import pytest

from archie_keys.app import idempotent
from archie_keys.app.commands import CreateKey, Place, RollKey, UpdateKey
from archie_keys.app.environments import declare_environment
from archie_keys.app.key_creation import create_key
from archie_keys.app.key_updates import update_key
from archie_keys.app.roles import delete_role
from archie_keys.app.rotation import roll_key
from archie_keys.app.views import new_key_response
from archie_keys.domain.errors import (
    ConflictError,
    ForbiddenError,
    KeyRefusedError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, WRITER, caller, new_key, role

ADMIN_ROLES = [{"resource": "roles", "actions": ["read", "write", "update", "delete"], "filters": {}}, *WRITER]


def test_a_key_manager_cannot_hand_out_the_admin_role(services: FakeServices, admin) -> None:
    role(services, admin, "keys-manager", WRITER)
    manager = caller(services, new_key(services, admin, "m", ["keys-manager"]).value)
    with pytest.raises(ForbiddenError) as refused:
        new_key(services, manager, "escalated", ["admin"])
    assert refused.value.code == "privilege_escalation"
    assert new_key(services, manager, "peer", ["keys-manager"]).record.roles == ("keys-manager",)


def test_a_role_manager_cannot_define_a_role_beyond_its_own(services: FakeServices, admin) -> None:
    role(services, admin, "role-admin", [ADMIN_ROLES[0], {"resource": "keys", "actions": ["read"], "filters": {}}])
    delegate = caller(services, new_key(services, admin, "d", ["role-admin"]).value)
    with pytest.raises(ForbiddenError):
        role(services, delegate, "writer", WRITER)
    role(services, delegate, "reader", READER)
    assert services.store.get_role("shop", "prod", "reader") is not None


def test_a_role_held_by_a_key_cannot_be_deleted(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    new_key(services, admin, "ci", ["reader"])
    with pytest.raises(ConflictError):
        delete_role(services, admin, PLACE, "reader")
    role(services, admin, "unused", READER)
    delete_role(services, admin, PLACE, "unused")
    assert services.store.get_role("shop", "prod", "unused") is None


def test_declaring_an_environment_again_changes_nothing_and_another_needs_its_own_admin(
    services: FakeServices, admin
) -> None:
    events = len(services.audit.events)
    _, created = declare_environment(services, admin, PLACE)
    assert not created and len(services.audit.events) == events
    with pytest.raises(ForbiddenError):
        declare_environment(services, admin, Place("shop", "staging"))


def test_rolling_gives_a_successor_and_the_old_key_works_through_its_grace(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    old = new_key(services, admin, "ci", ["reader"])
    successor, old_record, _ = roll_key(services, admin, RollKey(PLACE, old.record.key_id, grace_seconds=600))
    assert caller(services, successor.value).name == "ci"
    assert old_record.rolled_to == successor.record.key_id
    caller(services, old.value)  # still within its grace
    services.clock.advance(601)
    with pytest.raises(KeyRefusedError):
        caller(services, old.value)
    with pytest.raises(ConflictError):
        roll_key(services, admin, RollKey(PLACE, old.record.key_id, grace_seconds=0))


def test_a_patch_changes_a_key_in_place_and_a_revoked_one_is_not_active(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    role(services, admin, "writer", WRITER)
    made = new_key(services, admin, "ci", ["reader"])
    key_id = made.record.key_id
    update = update_key(services, admin, UpdateKey(PLACE, key_id, {"name": "deploy", "roles": ["writer"]}))
    assert update.record.name == "deploy" and caller(services, made.value).roles == ("writer",)
    assert update.flush is not None  # a change of rights is flushed from every cache
    assert services.store.get_role("shop", "prod", "reader").key_count == 0
    assert "key.updated" in services.audit.names()
    from archie_keys.app.revocation import revoke_key

    revoke_key(services, admin, PLACE, key_id)
    with pytest.raises(ConflictError) as refused:
        update_key(services, admin, UpdateKey(PLACE, key_id, {"name": "again"}))
    assert refused.value.code == "key_not_active"


def _create_once(services: FakeServices, admin, key: str, body: dict) -> dict:
    command = CreateKey(PLACE, body["name"], body["roles"])
    request = idempotent.create_request(PLACE, admin, key, body)
    return idempotent.once(services, request, lambda t: new_key_response(create_key(services, admin, command, t)))


def test_an_idempotent_create_replays_the_same_key_and_creates_nothing(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    body = {"name": "ci", "roles": ["reader"]}
    first = _create_once(services, admin, "deploy-42", body)
    keys = len([k for k in services.tables.items if k[-1].startswith("KEY#")])
    again = _create_once(services, admin, "deploy-42", body)
    assert again["key"] == first["key"] and again["key_id"] == first["key_id"]
    assert len([k for k in services.tables.items if k[-1].startswith("KEY#")]) == keys
    stored = services.tables.items[
        ("idempotency", idempotent.create_request(PLACE, admin, "deploy-42", body).record_id)
    ]
    assert first["key"] not in repr(stored)  # sealed, never in clear
    with pytest.raises(ValidationFailedError) as reused:
        _create_once(services, admin, "deploy-42", {"name": "other", "roles": ["reader"]})
    assert reused.value.code == "idempotency_key_reused"


def _roll_once(services: FakeServices, admin, key_id: str, key: str, grace: int) -> dict:
    # As the roll handler does: the request is bound to the key rolled.
    request = idempotent.roll_request(PLACE, admin, key_id, key, {"grace_seconds": grace})
    command = RollKey(PLACE, key_id, grace_seconds=grace)
    return idempotent.once(services, request, lambda t: new_key_response(roll_key(services, admin, command, t)[0]))


def test_an_idempotent_roll_replays_its_successor_and_the_same_header_on_another_key_rolls_that_key(
    services: FakeServices, admin
) -> None:
    role(services, admin, "reader", READER)
    first, second = (new_key(services, admin, name, ["reader"]).record.key_id for name in ("ci", "deploy"))
    rolled = _roll_once(services, admin, first, "roll-1", 600)
    again = _roll_once(services, admin, first, "roll-1", 600)  # the answer was lost: the retry gets it again
    assert (again["key_id"], again["key"]) == (rolled["key_id"], rolled["key"])
    assert caller(services, again["key"]).name == "ci"
    with pytest.raises(ValidationFailedError) as reused:
        _roll_once(services, admin, first, "roll-1", 0)
    assert reused.value.code == "idempotency_key_reused"
    other = _roll_once(services, admin, second, "roll-1", 600)  # one header reused on another key: no replay
    assert other["key_id"] != rolled["key_id"] and caller(services, other["key"]).name == "deploy"


def test_a_create_that_fails_to_commit_leaves_nothing_and_its_retry_runs(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    body = {"name": "ci", "roles": ["reader"]}
    before = dict(services.tables.items)
    services.transactions.fail_next()
    with pytest.raises(ServiceUnavailableError):
        _create_once(services, admin, "retry-me", body)
    assert services.tables.items == before  # no key, no count, no event, the claim given up
    assert caller(services, _create_once(services, admin, "retry-me", body)["key"]).name == "ci"
