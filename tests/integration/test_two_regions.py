"""Two regions, active-active (issue 22): a key made in one works in the other within seconds, a key revoked in
one is refused in the other, each region works alone while replication is cut or the other is down, and
replication catches up afterwards. One two-region stack (`make run REGIONS=...`) serves the whole module."""

from __future__ import annotations

from collections.abc import Iterator

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
