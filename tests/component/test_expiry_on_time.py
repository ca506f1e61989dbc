"""Expiry on time at the gateway: keys expire on whole seconds, every key of an environment expiring in one second
shares one schedule (and one flush per stage), the schedule fires early enough for Scheduler's minute of
precision, and the flush function waits for the very second, so the flush never comes before the expiry; a
second too close for a schedule invokes the function directly."""

from __future__ import annotations

import calendar
import json
import time
from typing import Any

import boto3

from archie_keys.app.expiry import ExpiryEvent, flush_on_expiry
from archie_keys.aws.schedules import SCHEDULER_PRECISION_SECONDS, schedule_name
from archie_keys.domain.clock import from_iso, to_iso
from tests.support import env_path, in_process_functions

KEYS = env_path("demo", "dev", "/keys")
ROLE = {"permissions": [{"resource": "orders", "actions": ["read"]}]}


def schedules(aws: Any) -> dict[str, dict[str, Any]]:
    """The flush schedules of the expiry group (each key's expiry notices, one schedule each, share the group:
    tests/component/test_webhooks_api.py)."""
    client, group = boto3.client("scheduler"), aws.environment["EXPIRY_SCHEDULE_GROUP"]
    names = [
        s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"] if not s["Name"].startswith("notice-")
    ]
    return {name: client.get_schedule(Name=name, GroupName=group) for name in names}


def test_keys_expiring_in_the_same_second_share_one_schedule_that_fires_a_minute_and_more_before(
    aws, api, admin_key
) -> None:
    assert api("PUT", env_path("demo", "dev", "/roles/reader"), admin_key, ROLE).status == 201
    second = int(time.time()) + 3600
    made = [
        api("POST", KEYS, admin_key, {"name": f"k{n}", "roles": ["reader"], "expires_at": to_iso(second + n / 10)})
        for n in range(5)  # 0.0 to 0.4 past the second: all expire at the second itself, rounded down
    ]
    assert {reply.status for reply in made} == {201}
    assert {from_iso(reply.body["record"]["expires_at"]) for reply in made} == {second}

    (schedule,) = schedules(aws).values()
    assert schedule["Name"] == schedule_name("demo", "dev", second)
    assert json.loads(schedule["Target"]["Input"]) == {"project": "demo", "environment": "dev", "expires_epoch": second}
    fires = calendar.timegm(time.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)"))
    # Scheduler invokes within the minute of `fires`: that minute ends before the second, with room to spare.
    assert fires % 60 == 0 and fires + SCHEDULER_PRECISION_SECONDS < second


def test_a_key_expiring_too_soon_for_a_schedule_is_flushed_by_a_direct_invocation_never_before_it(
    aws, api, admin_key, monkeypatch
) -> None:
    from archie_keys.aws.cache_flush import CacheFlusher
    from archie_keys.edge import composition

    monkeypatch.setenv("KEY_MIN_LIFETIME_SECONDS", "1")
    monkeypatch.setenv("FLUSH_TARGETS", "mgmt/v1")
    composition.reset()
    flushed_at: list[float] = []
    monkeypatch.setattr(CacheFlusher, "_call", lambda self, target: flushed_at.append(time.time()) or True)
    assert api("PUT", env_path("demo", "dev", "/roles/reader"), admin_key, ROLE).status == 201
    second = int(time.time()) + 3

    made = api("POST", KEYS, admin_key, {"name": "brief", "roles": ["reader"], "expires_at": to_iso(second)})

    assert made.status == 201 and schedules(aws) == {}  # nothing Scheduler could fire in time
    assert in_process_functions().wait_idle(30)
    assert flushed_at and min(flushed_at) >= second  # the function waited for the second, then flushed


def test_the_flush_function_waits_for_its_second_and_an_event_of_a_schedule_made_per_key_flushes_at_once(
    aws,
) -> None:
    from archie_keys.edge.composition import get_services

    waited: list[float] = []
    second = int(time.time()) + 2
    flush_on_expiry(get_services(), ExpiryEvent.parse(expiry(second)), sleep=waited.append)
    assert len(waited) == 1 and 0 < waited[0] <= 2
    legacy = ExpiryEvent.parse({"project": "demo", "environment": "dev", "key_id": "Vc37AAAAAAAA"})
    assert flush_on_expiry(get_services(), legacy, sleep=waited.append) == {"flushed": [], "key_id": "Vc37AAAAAAAA"}
    assert len(waited) == 1


def expiry(second: int) -> dict[str, Any]:
    return {"project": "demo", "environment": "dev", "expires_epoch": second}
