"""Per-key limits on the fakes: a key made with limits puts its rotation chain's API key in the plan of those
limits; a PATCH moves it, and back when the change does not commit; a full account is a 409, not a 503."""

from __future__ import annotations

import pytest

from archie_keys.app.commands import RollKey, UpdateKey
from archie_keys.app.key_updates import update_key
from archie_keys.app.rotation import roll_key
from archie_keys.domain.errors import ConflictError, ServiceUnavailableError
from archie_keys.domain.rate_limits import Limits, limits_of
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, new_key, role

SLOW = {"rate_per_second": 5, "burst": 10}
FAST = {"rate_per_second": 50, "burst": 100}


def limited_key(services: FakeServices, admin) -> dict:
    role(services, admin, "reader", READER)
    return new_key(services, admin, "metered", ["reader"], limits=Limits(5, 10)).record


def test_a_key_made_with_limits_puts_its_chain_in_their_plan(services: FakeServices, admin) -> None:
    record = limited_key(services, admin)
    assert services.usage_plans.plans == {record.key_id: Limits(5, 10)}
    assert record.limits == SLOW and record.lineage_id == record.key_id


def test_the_authorizer_meters_a_limited_key_and_its_successor_on_their_chain_and_no_other_key(
    services: FakeServices, admin
) -> None:
    """The decision names the rotation chain whose API key the authorizer hands API Gateway (its rate, burst
    and quota); a key without limits names none (the shared, unmetered API key)."""
    role(services, admin, "reader", READER)
    metered = new_key(services, admin, "metered", ["reader"], limits=Limits(5, 10))
    plain = new_key(services, admin, "unmetered", ["reader"])
    successor, _, _ = roll_key(services, admin, RollKey(PLACE, metered.record.key_id, grace_seconds=600))
    for value in (metered.value, successor.value):
        assert services.verifier.verify(value).limits_lineage == metered.record.key_id
    assert services.verifier.verify(plain.value).limits_lineage is None


def test_patching_limits_moves_the_chain_and_says_so(services: FakeServices, admin) -> None:
    record = limited_key(services, admin)
    updated = update_key(services, admin, UpdateKey(PLACE, record.key_id, {"limits": FAST}))  # type: ignore[arg-type]
    assert services.usage_plans.plans[record.key_id] == limits_of(FAST)
    assert updated.record.limits == FAST and services.audit.names()[-1] == "key.updated"
    assert services.flusher.flushes[-1][:2] == ("shop", "prod")  # the authorizer's cached answer named the old plan


def test_a_patch_that_does_not_commit_puts_the_chain_back(services: FakeServices, admin) -> None:
    record = limited_key(services, admin)
    services.transactions.fail_next()
    with pytest.raises(ServiceUnavailableError):
        update_key(services, admin, UpdateKey(PLACE, record.key_id, {"limits": FAST}))  # type: ignore[arg-type]
    assert services.usage_plans.plans[record.key_id] == Limits(5, 10)
    assert services.store.get_key("shop", "prod", record.key_id).limits == SLOW


def test_an_account_without_room_for_another_api_key_is_a_conflict_and_nothing_is_made(
    services: FakeServices, admin
) -> None:
    role(services, admin, "reader", READER)
    services.usage_plans.room = 0
    before = services.audit.names()
    with pytest.raises(ConflictError) as refused:
        new_key(services, admin, "metered", ["reader"], limits=Limits(5, 10))
    assert (refused.value.code, refused.value.field) == ("limits_capacity", "limits")
    assert services.audit.names() == before
