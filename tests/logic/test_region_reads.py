"""A key's audit, usage and guarded delete in a stack of several regions, on fakes: each region's audit is its
own (not replicated), so every answer gathers them, names a region that did not answer, and pages across
them without losing or repeating a record."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from archie_keys.app.audit import key_usage, query_audit
from archie_keys.app.commands import AuditQuery, PageRequest
from archie_keys.app.region_fanout import gather
from archie_keys.app.revocation import revoke_key
from archie_keys.app.services import AppConfig
from archie_keys.domain.audit_records import AuditRecord, HourlyUsage, audit_record
from archie_keys.domain.authorization_witness import WitnessBounds
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import KeyInUseError, ServiceUnavailableError, ValidationFailedError
from archie_keys.domain.identity import Identity
from archie_keys.domain.region_reads import (
    RegionPage,
    decode_positions,
    encode_positions,
    merge_region_pages,
    sum_usage_hours,
)
from tests.fakes.regional_audit import FakeRegionalAudit, FakeRegionAudit
from tests.fakes.services import FakeServices
from tests.logic.conftest import PLACE, READER, new_key, role

A, B = "us-east-1", "eu-west-1"


def record(second: int, name: str, key_id: str | None = None) -> dict[str, Any]:
    at = f"2026-01-01T00:00:{second:02d}Z#{name}"
    return {"pk": f"REQ#{name}", "at": at, "kind": "request", "time": at.split("#")[0], "key_id": key_id}


def read(second: int, name: str) -> AuditRecord:
    """A record as a region's reader answers it (its id, in its place)."""
    return audit_record({**record(second, name), "id": name, "project": "shop", "environment": "prod"})


def two_regions(services: FakeServices) -> FakeRegionAudit:
    """The services' region (A) and another (B): returns B's audit."""
    other = FakeRegionAudit()
    services.regional_audit = FakeRegionalAudit({A: services.audit_reader, B: other})
    return other


def page_through(services: FakeServices, admin: Identity, limit: int, between: Any = None) -> list[dict[str, Any]]:
    """Every page of the environment's audit, `between(answers so far)` run before each next page."""
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        answer = query_audit(services, admin, AuditQuery(PLACE, PageRequest(limit, token)))  # type: ignore[arg-type]
        pages.append(answer)
        token = answer["next_token"]
        if token is None:
            return pages
        if between is not None:
            between(pages)


# --- the merge and its cursor (pure) -----------------------------------------------------------------------


def test_a_page_keeps_the_newest_across_regions_and_every_answering_region_reads_on_from_its_last() -> None:
    a = RegionPage([read(9, "a9"), read(5, "a5")], more=True)
    b = RegionPage([read(8, "b8"), read(7, "b7")], more=False)
    merged = merge_region_pages({A: a, B: b}, {A: None, B: None}, limit=3)
    assert [item.id for item in merged.items] == ["a9", "b8", "b7"]
    assert merged.positions == {A: record(7, "b7")["at"], B: record(7, "b7")["at"]}
    # Every region stands at one place: the token holds the same text as before regions (one `at`).
    assert encode_positions(merged.positions) == record(7, "b7")["at"]


def test_a_region_that_did_not_answer_keeps_its_place_and_is_named() -> None:
    a = RegionPage([read(9, "a9"), read(5, "a5")], more=True)
    merged = merge_region_pages({A: a, B: None}, {A: None, B: None}, limit=1)
    assert merged.unavailable == [B]
    assert merged.positions == {A: record(9, "a9")["at"], B: None}
    position = encode_positions(merged.positions)
    assert position.startswith("{") and decode_positions(position, (A, B)) == merged.positions


def test_a_token_from_before_regions_and_a_region_added_since_read_from_the_common_place() -> None:
    at = record(9, "a9")["at"]
    assert decode_positions(at, (A,)) == {A: at}
    assert decode_positions(at, (A, B)) == {A: at, B: at}
    behind = encode_positions({A: at, B: None})
    # A region no longer in the stack is forgotten; one added since stands where the others do.
    assert decode_positions(behind, (A, "ap-south-1")) == {A: at, "ap-south-1": at}
    with pytest.raises(ValidationFailedError):
        decode_positions('{"at": 1}', (A,))


def test_usage_adds_up_the_regions_hour_by_hour() -> None:
    a = [HourlyUsage(hour="2026-01-01T01:00:00Z", allowed=3, refused=1)]
    b = [
        HourlyUsage(hour="2026-01-01T00:00:00Z", allowed=2, refused=0),
        HourlyUsage(hour="2026-01-01T01:00:00Z", allowed=5, refused=2),
    ]
    summed = sum_usage_hours([a, b])
    assert summed == [
        HourlyUsage(hour="2026-01-01T00:00:00Z", allowed=2, refused=0),
        HourlyUsage(hour="2026-01-01T01:00:00Z", allowed=8, refused=3),
    ]
    assert [hour.requests for hour in summed] == [2, 11]


# --- asking the regions ------------------------------------------------------------------------------------


def test_a_region_late_past_the_bound_is_unavailable_and_the_others_answer() -> None:
    release = threading.Event()

    def ask(region: str) -> str:
        if region == B:
            release.wait(5)  # a region that hangs: nobody waits for it past the bound
        return region

    gathered = gather((A, B), ask, timeout=0.2)
    release.set()
    assert gathered.answers == {A: A} and gathered.unavailable == [B]


def test_when_no_region_answers_this_regions_failure_stands() -> None:
    def ask(region: str) -> str:
        raise ConnectionError(region)

    with pytest.raises(ConnectionError, match=A):
        gather((A, B), ask)
    with pytest.raises(ConnectionError, match=A):
        gather((A,), ask)  # one region: asked directly, as before regions


# --- the use cases -----------------------------------------------------------------------------------------


def test_the_audit_pages_newest_first_across_regions_each_record_once(services: FakeServices, admin) -> None:
    other = two_regions(services)
    services.audit_reader.records = [record(s, f"a{s}") for s in (1, 4, 5, 9)]
    other.records = [record(s, f"b{s}") for s in (2, 3, 6, 7, 8)]
    pages = page_through(services, admin, limit=2)
    seen = [r["id"] for page in pages for r in page["records"]]
    assert seen == ["a9", "b8", "b7", "b6", "a5", "a4", "b3", "b2", "a1"]
    assert all("unavailable_regions" not in page for page in pages)


def test_a_region_down_is_named_and_its_records_come_on_a_later_page(services: FakeServices, admin) -> None:
    other = two_regions(services)
    services.audit_reader.records = [record(s, f"a{s}") for s in (1, 4, 5, 9)]
    other.records = [record(s, f"b{s}") for s in (6, 8)]
    other.down = True

    def back_after_the_first_page(pages: list[dict[str, Any]]) -> None:
        other.down = False

    pages = page_through(services, admin, limit=2, between=back_after_the_first_page)
    assert pages[0]["unavailable_regions"] == [B] and [r["id"] for r in pages[0]["records"]] == ["a9", "a5"]
    rest = [r["id"] for page in pages[1:] for r in page["records"]]
    assert sorted(rest) == ["a1", "a4", "b6", "b8"]  # nothing lost, nothing twice
    assert rest[:2] == ["b8", "b6"]  # the late region's newer records lead the page after it answered


def test_a_token_edited_to_move_a_region_is_refused(services: FakeServices, admin) -> None:
    other = two_regions(services)
    services.audit_reader.records = [record(s, f"a{s}") for s in (1, 4, 5, 9)]
    other.down = True
    token = query_audit(services, admin, AuditQuery(PLACE, PageRequest(1)))["next_token"]  # type: ignore[arg-type]
    position, mac = token.split(".")
    forged = position[:-2] + ("AA" if position[-2:] != "AA" else "BB") + "." + mac
    with pytest.raises(ValidationFailedError) as refused:
        query_audit(services, admin, AuditQuery(PLACE, PageRequest(1, forged)))  # type: ignore[arg-type]
    assert refused.value.field == "next_token"


def test_every_region_down_is_a_failure_not_an_empty_page(services: FakeServices, admin) -> None:
    other = two_regions(services)
    services.audit_reader.down = other.down = True
    with pytest.raises(ConnectionError):
        query_audit(services, admin, AuditQuery(PLACE, PageRequest(10)))  # type: ignore[arg-type]


def test_usage_adds_up_every_region_and_names_one_that_did_not_answer(services: FakeServices, admin) -> None:
    other = two_regions(services)
    role(services, admin, "reader", READER)
    key_id = new_key(services, admin, "ci", ["reader"]).record.key_id
    hour = to_iso(services.clock() - services.clock() % 3600)
    services.audit_reader.hours = [{"hour": hour, "allowed": 2, "refused": 1, "requests": 3}]
    other.hours = [{"hour": hour, "allowed": 5, "refused": 0, "requests": 5}]
    answer = key_usage(services, admin, PLACE, key_id, None)  # type: ignore[arg-type]
    assert answer["hours"] == [{"hour": hour, "allowed": 7, "refused": 1, "requests": 8}]
    assert "unavailable_regions" not in answer
    other.down = True
    answer = key_usage(services, admin, PLACE, key_id, None)  # type: ignore[arg-type]
    assert answer["hours"][0]["requests"] == 3 and answer["unavailable_regions"] == [B]


# --- the guarded delete and each region's witness ------------------------------------------------------------

WITNESS = WitnessBounds(result_ttl_seconds=0.0, coalesce_seconds=60.0, answer_seconds=10.0, in_force_since=0.0)


@pytest.fixture
def witnessed() -> FakeServices:
    services = FakeServices(AppConfig(witness=WITNESS))
    two_regions(services)
    return services


def test_a_key_the_other_region_authorized_within_the_window_is_not_deleted(witnessed: FakeServices) -> None:
    from archie_keys.app.bootstrap import bootstrap
    from tests.logic.conftest import caller

    admin = caller(witnessed, bootstrap(witnessed, PLACE).value)  # type: ignore[arg-type]
    role(witnessed, admin, "reader", READER)
    key_id = new_key(witnessed, admin, "ci", ["reader"]).record.key_id
    witnessed.clock.advance(7200)
    # B's authorizer let the key through 30 s ago (its item, replicated here); nothing compacted it yet.
    FakeInRegion(witnessed, B).record_authorization("shop", "prod", key_id, witnessed.clock() - 30)
    with pytest.raises(KeyInUseError):
        revoke_key(witnessed, admin, PLACE, key_id, if_unused_for=600)
    # Authorized just before the window (it may have been served from a cache into it): unproven, 503.
    witnessed.clock.advance(600)
    with pytest.raises(ServiceUnavailableError) as unproven:
        revoke_key(witnessed, admin, PLACE, key_id, if_unused_for=600)
    assert B in str(unproven.value) and unproven.value.retry_after > 5
    assert witnessed.store.get_key("shop", "prod", key_id).revoked_at is None
    # Once its record is older than the window and the witness's reach, the key is deleted.
    witnessed.clock.advance(unproven.value.retry_after)
    revoke_key(witnessed, admin, PLACE, key_id, if_unused_for=600)
    assert witnessed.store.get_key("shop", "prod", key_id).revoked_at


class FakeInRegion:
    """Another region's store on the same (replicated) table: it writes its own witness item."""

    def __init__(self, services: FakeServices, region: str) -> None:
        from tests.fakes.key_store import FakeKeyStore

        self.store = FakeKeyStore(services.tables, region)

    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None:
        self.store.record_authorization(project, environment, key_id, at)


def test_each_region_keeps_its_own_witness_and_the_latest_counts(witnessed: FakeServices) -> None:
    here, there = witnessed.store, FakeInRegion(witnessed, B).store
    here.record_authorization("shop", "prod", "Vc37AAAAAAAA", 2000.0)
    there.record_authorization("shop", "prod", "Vc37AAAAAAAA", 1500.0)  # never replaces A's later record
    assert here.authorizations("shop", "prod", "Vc37AAAAAAAA") == {A: 2000.0, B: 1500.0}
    assert here.last_authorization("shop", "prod", "Vc37AAAAAAAA") == 2000.0


# --- another region's audit table -------------------------------------------------------------------------


class Stacks:
    """Each region's CloudFormation, as far as DescribeStackResource goes: the audit table it named."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []
        self.down: set[str] = set()

    def client_for(self, service: str, region: str) -> Any:
        stacks = self

        class Client:
            def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
                stacks.asked.append((region, StackName, LogicalResourceId))
                if region in stacks.down:
                    raise ConnectionError(region)
                return {"StackResourceDetail": {"PhysicalResourceId": f"{StackName}-AuditTable-{region}"}}

        return Client()


def test_another_regions_table_is_named_by_its_stack_once_unless_configured() -> None:
    from archie_keys.aws.audit_reader import AuditReader
    from archie_keys.aws.regional_audit import RegionalAudit

    stacks = Stacks()
    own = AuditReader("here", None)
    regional = RegionalAudit((A, B, "ap-south-1"), own, stacks.client_for, "archie", {"ap-south-1": "configured"})
    assert regional.reader(A) is own
    stacks.down.add(B)
    with pytest.raises(ConnectionError):
        regional.reader(B)  # not remembered: asked again next time
    stacks.down.clear()
    assert regional.reader(B).table == "archie-AuditTable-eu-west-1"
    assert regional.reader(B) is regional.reader(B)
    assert regional.reader("ap-south-1").table == "configured"
    assert stacks.asked == [(B, "archie", "AuditTable")] * 2
