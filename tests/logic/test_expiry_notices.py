"""Expiry notices on the fakes: a key with an expiry has its key.expiring and key.expired notices arranged
when it is made; each is sent only if the key is still as it was (not revoked, rolled, or given another
expiry), and key.expired comes at its second, not before."""

from __future__ import annotations

from datetime import UTC, datetime

from archie_keys.app.expiry_notices import NOTICE_DAYS, ExpiryNotice, send_notice
from archie_keys.app.revocation import revoke_key
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, new_key, role


def expiring_key(services: FakeServices, admin, days: float = 40) -> dict:
    role(services, admin, "reader", READER)
    expires_at = datetime.fromtimestamp(services.clock() + days * 86400, UTC)
    return new_key(services, admin, "temp", ["reader"], expires_at=expires_at).record


def notice(record: dict, days: int) -> ExpiryNotice:
    return ExpiryNotice("shop", "prod", record.key_id, int(record.expires_epoch), days)


def test_every_notice_is_arranged_when_the_key_is_made(services: FakeServices, admin) -> None:
    record = expiring_key(services, admin)
    arranged = [(key_id, days) for _, _, key_id, _, days in services.schedules.notices]
    assert arranged == [(record.key_id, days) for days in NOTICE_DAYS]


def test_expiring_then_expired_are_sent_for_a_key_left_alone(services: FakeServices, admin) -> None:
    record = expiring_key(services, admin)
    assert send_notice(services, notice(record, 7))["sent"] == "key.expiring"  # type: ignore[arg-type]
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        services.clock.advance(seconds)

    services.clock.now = float(record.expires_epoch) - 30  # invoked directly, 30 s early
    assert send_notice(services, notice(record, 0), sleep)["sent"] == "key.expired"  # type: ignore[arg-type]
    assert waited == [30.0] and services.key_event_bus.types()[-2:] == ["key.expiring", "key.expired"]


def test_no_notice_for_a_revoked_key(services: FakeServices, admin) -> None:
    record = expiring_key(services, admin)
    revoke_key(services, admin, PLACE, record.key_id)  # type: ignore[arg-type]
    assert send_notice(services, notice(record, 7)) == {"key_id": record.key_id, "sent": None}  # type: ignore[arg-type]
    assert "key.expiring" not in services.key_event_bus.types()
