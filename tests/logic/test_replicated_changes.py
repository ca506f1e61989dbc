"""A change replicated from another region that takes a right away flushes this region's stages; own-region
changes (the writer flushed them) and bookkeeping do not; a replicated key's expiry is scheduled here."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from archie_keys.app.replicated_changes import flush_replicated
from archie_keys.aws.dynamo import to_item
from archie_keys.aws.stream_records import item_change
from archie_keys.domain.replication import ItemChange, environment_of, plan_replicated, takes_right_away

PK = "PROJECT#demo#ENV#dev"
NOW = 1_800_000_000.0


def record(event: str, sk: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """A stream record as the event source mapping delivers it (NEW_AND_OLD_IMAGES)."""
    data: dict[str, Any] = {"Keys": to_item({"pk": PK, "sk": sk})}
    if old is not None:
        data["OldImage"] = to_item({"pk": PK, "sk": sk, **old})
    if new is not None:
        data["NewImage"] = to_item({"pk": PK, "sk": sk, **new})
    return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": data}


def change(event: str, sk: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> ItemChange:
    return ItemChange(event, {"pk": PK, "sk": sk}, old, new)


REMOTE = {"aws:rep:updateregion": "eu-west-1"}


@pytest.mark.parametrize(
    ("event", "sk", "old", "new"),
    [
        ("MODIFY", "KEY#k1", {"name": "a"}, {"name": "a", "revoked_at": "2027-01-01T00:00:00Z"}),
        ("MODIFY", "KEY#k1", {"roles": ["admin"]}, {"roles": ["reader"]}),
        ("MODIFY", "KEY#k1", {}, {"disabled_at": "2027-01-01T00:00:00Z"}),
        ("MODIFY", "KEY#k1", {}, {"rolled_to": "k2", "expires_epoch": 1_800_000_100}),
        ("MODIFY", "ROLE#reader", {"permissions": ["keys:read"]}, {"permissions": []}),
        ("REMOVE", "KEY#k1", {"name": "a"}, None),
        ("REMOVE", "TRUST#ci", {"body": "{}"}, None),
        ("INSERT", "ENV#REVOCATION#r1", None, {"status": "running"}),
        # a refusal cached before the key arrived would hide it
        ("INSERT", "KEY#k9", None, {"name": "new"}),
        # a key's own deciding items (aws.key_items): its revocation, roll and state
        ("INSERT", "KEY#k1#REVOKED", None, {"revoked_at": "2027-01-01T00:00:00Z"}),
        ("INSERT", "KEY#k1#ROLLED", None, {"rolled_to": "k2", "expires_epoch": 1_800_000_100}),
        ("MODIFY", "KEY#k1#STATE", {"enabled": True}, {"enabled": False}),
    ],
)
def test_a_change_that_takes_a_right_away_is_flushed(event: str, sk: str, old: Any, new: Any) -> None:
    # Given a change replicated from eu-west-1 that narrows what a key may do
    # Then us-east-1 flushes demo/dev's stages
    plan = plan_replicated([change(event, sk, old and {**old, **REMOTE}, new and {**new, **REMOTE})], "us-east-1", NOW)
    assert plan.flush == (("demo", "dev"),)


@pytest.mark.parametrize(
    ("event", "sk", "old", "new"),
    [
        ("MODIFY", "KEY#k1", {"last_used_at": "a"}, {"last_used_at": "b"}),
        ("MODIFY", "KEY#k1", {"hash": "x", "pepper_version": "1"}, {"hash": "y", "pepper_version": "2"}),
        ("MODIFY", "ROLE#reader", {"key_count": 1}, {"key_count": 2}),
        ("INSERT", "ROLE#reader", None, {"permissions": []}),
        ("MODIFY", "SEEN#k1", {"authorized_epoch": 1}, {"authorized_epoch": 2}),
        ("REMOVE", "ENV#REVOCATION#r1", {"status": "done"}, None),
        # a key's first and later use in a region, on its own item
        ("INSERT", "KEY#k1#USED#eu-west-1", None, {"last_used_at": "a"}),
        ("MODIFY", "KEY#k1#USED#eu-west-1", {"last_used_at": "a"}, {"last_used_at": "b"}),
    ],
)
def test_bookkeeping_and_grants_are_not_flushed(event: str, sk: str, old: Any, new: Any) -> None:
    plan = plan_replicated([change(event, sk, old and {**old, **REMOTE}, new and {**new, **REMOTE})], "us-east-1", NOW)
    assert plan.flush == ()


def test_an_own_region_change_is_left_to_its_writer_and_an_unknown_origin_is_flushed() -> None:
    revoked = {"revoked_at": "2027-01-01T00:00:00Z"}
    own = change(
        "MODIFY", "KEY#k1", {"aws:rep:updateregion": "us-east-1"}, {**revoked, "aws:rep:updateregion": "us-east-1"}
    )
    assert plan_replicated([own], "us-east-1", NOW).flush == ()
    # A 2019.11.21 global table's image names no region: flushed (a second coalesced flush is harmless).
    unknown = plan_replicated([change("MODIFY", "KEY#k1", {}, revoked)], "us-east-1", NOW)
    assert unknown.flush == (("demo", "dev"),)
    assert unknown.unknown_origin == 1


def test_items_outside_an_environment_are_ignored() -> None:
    assert environment_of("FLUSH#abc/v1") is None
    assert environment_of(PK) == ("demo", "dev")
    assert not takes_right_away(ItemChange("REMOVE", {"pk": "X", "sk": "SECRET#a"}, {}, None))


@dataclass(frozen=True)
class Report:
    flushed: tuple[str, ...]
    unflushed: tuple[str, ...]


class Flusher:
    def __init__(self, unflushed: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str]] = []
        self.unflushed = unflushed

    def revoke_everywhere(self, project: str, environment: str) -> Report:
        self.calls.append((project, environment))
        return Report(("sample/dev",), self.unflushed)


class Schedules:
    def __init__(self) -> None:
        self.put_calls: list[tuple[str, str, float]] = []

    def put(self, project: str, environment: str, expires_epoch: float) -> bool:
        self.put_calls.append((project, environment, expires_epoch))
        return True


def test_a_batch_flushes_each_environment_once_and_schedules_replicated_expiries() -> None:
    services = SimpleNamespace(flusher=Flusher(), schedules=Schedules(), clock=lambda: NOW)
    far = 4_000_000_000
    records = [
        record("MODIFY", "KEY#k1", {**REMOTE}, {"revoked_at": "2027-01-01T00:00:00Z", **REMOTE}),
        record("MODIFY", "KEY#k2", {**REMOTE}, {"revoked_at": "2027-01-01T00:00:00Z", **REMOTE}),
        record("INSERT", "KEY#k3", None, {"expires_epoch": far, **REMOTE}),
    ]
    answer = flush_replicated(services, [item_change(r) for r in records], "us-east-1")  # type: ignore[arg-type]
    assert services.flusher.calls == [("demo", "dev")]
    assert services.schedules.put_calls == [("demo", "dev", float(far))]
    assert answer["flushed_environments"] == ["demo/dev"]


def test_a_stage_not_flushed_fails_the_batch_so_the_mapping_retries_it() -> None:
    services = SimpleNamespace(flusher=Flusher(unflushed=("orders/dev",)), schedules=Schedules(), clock=lambda: NOW)
    records = [record("REMOVE", "KEY#k1", {**REMOTE}, None)]
    with pytest.raises(RuntimeError, match="orders/dev"):
        flush_replicated(services, [item_change(r) for r in records], "us-east-1")  # type: ignore[arg-type]


def test_an_arrived_key_is_flushed_again_once_the_authorizers_negative_cache_has_run_out() -> None:
    # Given a batch where a key arrives from eu-west-1 and another is revoked there
    services = SimpleNamespace(flusher=Flusher(), schedules=Schedules(), clock=lambda: NOW)
    records = [
        record("INSERT", "KEY#k3", None, {"name": "new", **REMOTE}),
        record("MODIFY", "KEY#k1", {**REMOTE}, {"revoked_at": "2027-01-01T00:00:00Z", **REMOTE}),
    ]
    # When the batch is handled with the authorizers remembering a refusal for 5 s
    answer = flush_replicated(services, [item_change(r) for r in records], "us-east-1", arrival_settle_seconds=5.0)
    # Then demo/dev is flushed now (the revocation does not wait), and once more 6 s on (for the arrival)
    assert services.flusher.calls == [("demo", "dev")]
    assert services.schedules.put_calls == [("demo", "dev", NOW + 6.0)]
    assert answer["arrival_flushes_scheduled"] == 1
    # A revocation alone asks for no later flush
    later = SimpleNamespace(flusher=Flusher(), schedules=Schedules(), clock=lambda: NOW)
    flush_replicated(later, [item_change(records[1])], "us-east-1", arrival_settle_seconds=5.0)
    assert later.schedules.put_calls == []
