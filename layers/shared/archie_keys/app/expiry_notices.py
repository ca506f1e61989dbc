"""Key events about expiry: `key.expiring` 7 days and 1 day before a key's expires_at, and `key.expired` once
it has passed (domain.webhooks.EXPIRING_NOTICE_DAYS). Each is a one-time schedule per key and notice
(aws.schedules.put_notice), arranged after the key's creation commits, invoking ExpiryFlushFunction with the
notice; the notice is sent only if the key is then still as it was scheduled for (not revoked, not rolled, the
same expires_at), so a schedule left behind by a revoked key sends nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from archie_keys.app.changes import after_commit
from archie_keys.app.key_events import emit_key_event
from archie_keys.app.services import Services
from archie_keys.domain.clock import wait_seconds
from archie_keys.domain.expiry_timing import MAX_WAIT_SECONDS
from archie_keys.domain.identity import EXPIRY_ACTOR
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.keyformat import KEY_ID_RE, SLUG_RE
from archie_keys.domain.webhooks import EXPIRING_NOTICE_DAYS

NOTICE_DAYS = (*EXPIRING_NOTICE_DAYS, 0)  # 0: key.expired


@dataclass(frozen=True)
class ExpiryNotice:
    project: str
    environment: str
    key_id: str
    expires_epoch: int
    days: int

    @classmethod
    def parse(cls, event: Mapping[str, Any]) -> ExpiryNotice:
        project, environment, key_id = event.get("project"), event.get("environment"), event.get("key_id")
        expires, days = event.get("expires_epoch"), event.get("notice_days")
        if not (
            isinstance(project, str)
            and SLUG_RE.match(project)
            and isinstance(environment, str)
            and SLUG_RE.match(environment)
            and isinstance(key_id, str)
            and KEY_ID_RE.match(key_id)
            and type(expires) is int
            and expires > 0
            and type(days) is int
            and days in NOTICE_DAYS
        ):
            raise ValueError("an expiry notice needs project, environment, key_id, expires_epoch and notice_days")
        return cls(project, environment, key_id, expires, days)


def schedule_notices(services: Services, record: KeyRecord) -> None:
    """After a key with an expiry commits: its notices, each retried and logged, never failing the creation."""
    expires = record.expires_epoch
    if expires is None:
        return
    project, environment, key_id = record.project, record.environment, record.key_id
    for days in NOTICE_DAYS:
        after_commit(
            functools.partial(_put, services, project, environment, key_id, int(expires), days),
            f"schedule the {days}-day expiry notice of {key_id}",
        )


def _put(services: Services, project: str, environment: str, key_id: str, expires: int, days: int) -> None:
    services.schedules.put_notice(project, environment, key_id, expires, days)


def send_notice(
    services: Services, notice: ExpiryNotice, sleep: Callable[[float], None] = wait_seconds
) -> dict[str, Any]:
    """Send the notice if the key is still as it was scheduled for; what was done."""
    if notice.days == 0:
        wait = notice.expires_epoch - services.clock()
        if wait > 0:  # invoked directly (an expiry too close for a schedule): the key.expired comes after it
            sleep(min(wait, MAX_WAIT_SECONDS))
    record = services.store.get_key(notice.project, notice.environment, notice.key_id)
    if (
        record is None
        or record.revoked_at
        or record.rolled_to
        or record.expires_epoch is None
        or int(record.expires_epoch) != notice.expires_epoch
    ):
        return {"key_id": notice.key_id, "sent": None}
    if notice.days == 0:
        emit_key_event(services, "key.expired", record, EXPIRY_ACTOR, {"expired_at": record.expires_at})
        return {"key_id": notice.key_id, "sent": "key.expired"}
    details = {"expires_at": record.expires_at, "days_left": notice.days}
    emit_key_event(services, "key.expiring", record, EXPIRY_ACTOR, details)
    return {"key_id": notice.key_id, "sent": "key.expiring"}
