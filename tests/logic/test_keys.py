"""Creating, reading, listing and revoking keys, as a user of the API sees it."""

from __future__ import annotations

import pytest

from archie_keys.app.commands import PageRequest
from archie_keys.app.keys import get_key, list_keys
from archie_keys.app.revocation import revoke_key
from archie_keys.domain.errors import ForbiddenError, KeyRefusedError, NotFoundError, ValidationFailedError
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, caller, new_key, role


def test_a_new_key_authenticates_and_its_value_is_never_stored(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    made = new_key(services, admin, "ci", ["reader"])
    assert caller(services, made.value).roles == ("reader",)
    stored = services.store.get_key("shop", "prod", made.record["key_id"])
    assert made.value not in repr(stored) and made.value not in repr(services.tables.items)
    assert services.audit.names()[-1] == "key.created"
    assert services.store.get_role("shop", "prod", "reader")["key_count"] == 1


def test_a_key_cannot_grant_more_than_its_creator_holds(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    reader = caller(services, new_key(services, admin, "r", ["reader"]).value)
    with pytest.raises(ForbiddenError):
        new_key(services, reader, "escalated", ["reader"])
    with pytest.raises(ValidationFailedError) as refused:
        new_key(services, admin, "typo", ["nosuchrole"])
    assert refused.value.code == "unknown_role"
    assert [e for e in services.audit.names() if e == "key.created"] == ["key.created"] * 2  # admin's and r


def test_an_expiry_is_scheduled_and_a_too_close_one_refused(services: FakeServices, admin) -> None:
    from datetime import UTC, datetime

    role(services, admin, "reader", READER)
    soon = datetime.fromtimestamp(services.clock() + 10, UTC)
    with pytest.raises(ValidationFailedError) as refused:
        new_key(services, admin, "short", ["reader"], expires_at=soon)
    assert refused.value.field == "expires_at"
    later = datetime.fromtimestamp(services.clock() + 3600.7, UTC)
    made = new_key(services, admin, "hour", ["reader"], expires_at=later)
    assert services.schedules.expiries == [("shop", "prod", float(int(services.clock() + 3600.7)))]
    services.clock.advance(3601)
    with pytest.raises(KeyRefusedError) as expired:
        caller(services, made.value)
    assert expired.value.reason == "expired"


def test_revoking_a_key_refuses_it_flushes_the_caches_and_is_idempotent(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    made = new_key(services, admin, "ci", ["reader"])
    key_id = made.record["key_id"]
    revoke_key(services, admin, PLACE, key_id)
    with pytest.raises(KeyRefusedError) as refused:
        caller(services, made.value)
    assert refused.value.reason == "revoked"
    assert services.flusher.flushes[-1][:2] == ("shop", "prod")
    assert services.store.get_role("shop", "prod", "reader")["key_count"] == 0
    events = services.audit.names().count("key.revoked")
    again = revoke_key(services, admin, PLACE, key_id)
    assert again.record["revoked_at"] and services.audit.names().count("key.revoked") == events


def test_a_guarded_delete_refuses_a_key_used_within_the_window(services: FakeServices, admin) -> None:
    from archie_keys.domain.clock import to_iso
    from archie_keys.domain.errors import KeyInUseError

    role(services, admin, "reader", READER)
    key_id = new_key(services, admin, "ci", ["reader"]).record["key_id"]
    services.compactor.pending[key_id] = to_iso(services.clock() - 30)
    with pytest.raises(KeyInUseError):
        revoke_key(services, admin, PLACE, key_id, if_unused_for=300)
    assert services.store.get_key("shop", "prod", key_id).get("revoked_at") is None
    services.clock.advance(600)
    revoke_key(services, admin, PLACE, key_id, if_unused_for=300)
    assert services.store.get_key("shop", "prod", key_id)["revoked_at"]


def test_a_guarded_delete_waits_for_the_audit_and_answers_503_without_proof(services: FakeServices, admin) -> None:
    from archie_keys.domain.errors import ServiceUnavailableError

    role(services, admin, "reader", READER)
    key_id = new_key(services, admin, "ci", ["reader"]).record["key_id"]
    services.ingest_watermarks.behind = None  # nothing attests what the audit ingested
    with pytest.raises(ServiceUnavailableError):
        revoke_key(services, admin, PLACE, key_id, if_unused_for=300)
    assert services.store.get_key("shop", "prod", key_id).get("revoked_at") is None


def test_an_unknown_or_uncovered_key_reads_as_absent(services: FakeServices, admin) -> None:
    with pytest.raises(NotFoundError):
        get_key(services, admin, PLACE, "not-a-key-id")
    role(services, admin, "reader", READER)
    made = new_key(services, admin, "ci", ["reader"])
    assert get_key(services, admin, PLACE, made.record["key_id"])["name"] == "ci"


def test_listing_pages_newest_first_and_hides_revoked_keys(services: FakeServices, admin) -> None:
    role(services, admin, "reader", READER)
    ids = []
    for n in range(5):
        services.clock.advance(1)
        ids.append(new_key(services, admin, f"k{n}", ["reader"]).record["key_id"])
    revoke_key(services, admin, PLACE, ids[0])
    first, token = list_keys(services, admin, PLACE, PageRequest(limit=3))
    assert token is not None
    rest, end = list_keys(services, admin, PLACE, PageRequest(limit=3, next_token=token))
    listed = [k["key_id"] for k in first + rest]
    assert end is None and ids[0] not in listed and set(ids[1:]) <= set(listed)
