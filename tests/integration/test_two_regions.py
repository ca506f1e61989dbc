"""Two regions, active-active (issue 22): a key made in one works in the other within seconds, a key revoked in
one is refused in the other, each region works alone while replication is cut or the other is down, and
replication catches up afterwards. One two-region stack (`make run REGIONS=...`) serves the whole module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.regions_run import REGIONS, TwoRegions, call, two_regions, wait_until

EAST, WEST = REGIONS
SECONDS = 10  # bounded waits: replication here takes tens of milliseconds, a revocation's flush about one second


@pytest.fixture(scope="module")
def regions() -> Iterator[TwoRegions]:
    with two_regions() as run:
        yield run


def test_the_admin_key_works_in_both_regions(regions: TwoRegions) -> None:
    for region in REGIONS:
        assert call("GET", regions.keys_url(region), regions.key)[0] == 200


def test_a_key_created_in_one_region_works_in_the_other_and_revoked_there_is_refused_here(regions: TwoRegions) -> None:
    # Given a key created in the first region
    key, key_id = regions.create_key(EAST, "made-east")
    # Then it arrives in the second within seconds, and works there
    wait_until(lambda: regions.arrived(WEST, key_id), SECONDS)
    assert regions.sample_status(WEST, key) == 200
    # And once used (and cached) in the first, revoked in the second it is refused in the first
    assert regions.sample_status(EAST, key) == 200
    regions.revoke(WEST, key_id)
    wait_until(lambda: regions.sample_status(EAST, key) == 403, SECONDS)
    assert regions.sample_status(WEST, key) == 403


def test_with_replication_cut_each_region_works_alone_and_catches_up(regions: TwoRegions) -> None:
    regions.fault("/replication", {"on": False})
    try:
        east_key, east_id = regions.create_key(EAST, "cut-east")
        west_key, west_id = regions.create_key(WEST, "cut-west")
        assert regions.sample_status(EAST, east_key) == 200
        assert regions.sample_status(WEST, west_key) == 200
        regions.revoke(EAST, east_id)
        wait_until(lambda: regions.sample_status(EAST, east_key) == 403, SECONDS)
        status, audit = call("GET", f"{regions.management[WEST]}/projects/demo/environments/dev/audit", regions.key)
        assert status == 200, audit
        # Nothing crossed meanwhile
        assert regions.sample_status(WEST, east_key) in (401, 403)
    finally:
        regions.fault("/replication", {"on": True})
    # Restored: the other region's key works here, and the revoked one stays refused everywhere
    wait_until(lambda: regions.arrived(EAST, west_id), SECONDS)
    assert regions.sample_status(EAST, west_key) == 200
    assert regions.sample_status(WEST, east_key) in (401, 403)
    wait_until(lambda: regions.fault("/status", None)["pending"] == 0, SECONDS)


def test_with_one_region_down_the_other_fully_works(regions: TwoRegions) -> None:
    known, known_id = regions.create_key(EAST, "known")
    wait_until(lambda: regions.arrived(WEST, known_id), SECONDS)
    assert regions.sample_status(WEST, known) == 200
    regions.fault(f"/regions/{EAST}/down", {})
    try:
        assert call("GET", regions.keys_url(EAST), regions.key, timeout=1)[0] == 0  # unreachable
        assert regions.sample_status(WEST, known) == 200
        new_key, new_id = regions.create_key(WEST, "while-down")
        assert regions.sample_status(WEST, new_key) == 200
        regions.revoke(WEST, known_id)
        wait_until(lambda: regions.sample_status(WEST, known) == 403, SECONDS)
    finally:
        regions.fault(f"/regions/{EAST}/up", {})
    # Back: what happened meanwhile reaches it
    wait_until(lambda: regions.arrived(EAST, new_id), SECONDS)
    assert regions.sample_status(EAST, new_key) == 200
    wait_until(lambda: regions.sample_status(EAST, known) == 403, SECONDS)


def test_a_key_presented_in_a_region_before_it_arrived_works_there_once_the_refusal_runs_out(
    regions: TwoRegions,
) -> None:
    # Given a key created in the first region while replication is cut, and presented in the second, which
    # refuses it (its gateway caches the refusal, its authorizers remember it for their negative cache's 5 s)
    regions.fault("/replication", {"on": False})
    try:
        key, key_id = regions.create_key(EAST, "early-west")
        assert regions.sample_status(WEST, key) in (401, 403)
    finally:
        regions.fault("/replication", {"on": True})
    wait_until(lambda: regions.arrived(WEST, key_id), SECONDS)
    # When it is presented there again and again while the arrival's flushes come and go, each miss answered
    # by the remembered refusal and cached again
    # Then it works there once the refusal has run out (negative cache 5 s, the flush a second later), not
    # after the gateway's ReauthorizeEvery (300 s)
    wait_until(lambda: regions.sample_status(WEST, key) == 200, 5 + SECONDS, step=0.1)


AUDIT_SECONDS = 30  # each region's audit: its log delivery, then its compactor's next arrival bucket (about 3 s)


def _key_audit(regions: TwoRegions, region: str, key_id: str) -> tuple[int, Any]:
    return call(
        "GET", f"{regions.management[region]}/projects/demo/environments/dev/audit?key_id={key_id}", regions.key
    )


def _agents(answer: Any) -> set[str]:
    return {record.get("user_agent") for record in answer["records"] if record["kind"] == "request"}


def test_a_keys_audit_asked_in_one_region_holds_what_each_region_served_and_names_a_region_down(
    regions: TwoRegions,
) -> None:
    # Given a key used in both regions, each request told apart by its user agent
    key, key_id = regions.create_key(EAST, "used-in-both")
    wait_until(lambda: regions.arrived(WEST, key_id), SECONDS)
    assert regions.sample_status(EAST, key, user_agent=f"probe-{EAST}") == 200
    assert regions.sample_status(WEST, key, user_agent=f"probe-{WEST}") == 200
    served = {f"probe-{EAST}", f"probe-{WEST}"}
    # When the first region is asked for the key's audit, once each region has ingested and compacted its own
    # Then its answer holds the requests both regions served, and no region is missing
    wait_until(lambda: served <= _agents(_key_audit(regions, EAST, key_id)[1]), AUDIT_SECONDS, step=0.25)
    status, answer = _key_audit(regions, EAST, key_id)
    assert status == 200 and "unavailable_regions" not in answer, answer
    # And with the second region down, the answer still comes, with the first region's records and the second
    # named as missing
    regions.fault(f"/regions/{WEST}/down", {})
    try:
        status, answer = _key_audit(regions, EAST, key_id)
    finally:
        regions.fault(f"/regions/{WEST}/up", {})
    assert status == 200, answer
    assert answer["unavailable_regions"] == [WEST]
    assert _agents(answer) == {f"probe-{EAST}"}


def test_a_guarded_delete_in_one_region_refuses_a_key_used_only_in_the_other(regions: TwoRegions) -> None:
    # Given a key used only in the second region, its authorizer's record of that use replicated to the first
    key, key_id = regions.create_key(WEST, "used-west-only")
    wait_until(lambda: regions.arrived(EAST, key_id), SECONDS)
    assert regions.sample_status(WEST, key) == 200
    wait_until(lambda: WEST in regions.witnesses(EAST, key_id), SECONDS)
    # When the first region is asked to delete it only if unused for an hour
    status, body = call("DELETE", f"{regions.keys_url(EAST)}/{key_id}?if_unused_for=3600", regions.key)
    # Then it refuses, and the key still works
    assert status == 409 and body["code"] == "key_in_use", body
    assert call("GET", f"{regions.keys_url(EAST)}/{key_id}", regions.key)[1]["status"] == "active"
    assert regions.sample_status(WEST, key) == 200
