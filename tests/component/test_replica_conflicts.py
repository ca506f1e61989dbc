"""Two regions change the same key at once; the global table resolves each item last-writer-wins; the key
stays revoked, disabled or rolled as the change that decided it left it, and role counts stay right.

Each region is a moto table of its own (the template's key schema), written by the real store of that region
(aws.key_store.KeyStore with its region's name) through real transactions, so each region's conditions hold
locally as DynamoDB's do. Then replication: every item either region changed since the shared starting point
is copied to both, and an item both changed takes the version of the later write time, whole (DynamoDB
global tables' rule). Every pair runs in both orders of write time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from archie_keys.aws.dynamo import Transactions, Write, from_item, to_item
from archie_keys.aws.key_store import KeyStore, partition
from archie_keys.aws.revocation_store import RevocationStore
from archie_keys.domain.clock import to_iso
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.key_status import DISABLED, REVOKED, ROLLED, key_status
from archie_local.moto_transactions import install as install_transactions
from archie_local.template import load_template

PROJECT, ENVIRONMENT, KEY = "proj", "prod", "K000000000a1"
NOW = 1_800_000_000.0
FAR = NOW + 400 * 86400
A, B = "us-east-1", "eu-west-1"


@dataclass
class Region:
    name: str
    store: KeyStore
    revocations: RevocationStore
    transactions: Transactions

    def commit(self, writes: list[Write]) -> None:
        self.transactions.commit(writes)

    def items(self) -> dict[str, dict[str, Any]]:
        client, table = self.store.client, self.store.table
        found = [from_item(item) for item in client.scan(TableName=table)["Items"]]
        return {str(item["sk"]): item for item in found}


@pytest.fixture
def regions() -> Iterator[tuple[Region, Region]]:
    install_transactions()
    props = load_template()["Resources"]["KeysTable"]["Properties"]
    with mock_aws():
        made = []
        for name in (A, B):
            client = boto3.client("dynamodb", region_name=name)
            client.create_table(
                TableName="keys",
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode="PAY_PER_REQUEST",
            )
            store = KeyStore("keys", client, name)
            made.append(Region(name, store, RevocationStore("keys", client, region=name), Transactions(client)))
        yield made[0], made[1]


def _put_all(region: Region, items: dict[str, dict[str, Any]]) -> None:
    client = region.store.client
    for sk in region.items():
        client.delete_item(TableName="keys", Key=to_item({"pk": partition(PROJECT, ENVIRONMENT), "sk": sk}))
    for item in items.values():
        client.put_item(TableName="keys", Item=to_item(item))


def replicate(first: Region, second: Region, start: dict[str, dict[str, Any]], later: Region) -> dict[str, Any]:
    """Both regions converge: each item as the region that changed it last left it (`later` wrote last)."""
    seen = {region.name: region.items() for region in (first, second)}
    converged = dict(start)
    for sk in set(start) | set(seen[first.name]) | set(seen[second.name]):
        changed = [r for r in (first, second) if seen[r.name].get(sk) != start.get(sk)]
        if not changed:
            continue
        winner = later if later in changed else changed[0]
        if sk in seen[winner.name]:
            converged[sk] = seen[winner.name][sk]
        else:
            converged.pop(sk, None)  # a delete is a write too
    for region in (first, second):
        _put_all(region, converged)
    assert first.items() == second.items()
    return converged


def start_with_a_key(a: Region, b: Region) -> dict[str, dict[str, Any]]:
    """An environment, roles reader and writer, and a key holding reader, created in A and replicated."""
    env = {"pk": partition(PROJECT, ENVIRONMENT), "sk": "ENV", "project": PROJECT, "environment": ENVIRONMENT}
    a.store.client.put_item(TableName="keys", Item=to_item(env))
    role = {"description": "", "permissions": [], "updated_at": to_iso(NOW), "updated_by": "admin"}
    a.commit([a.store.role_write(PROJECT, ENVIRONMENT, name, role, None) for name in ("reader", "writer")])
    record = KeyRecord(
        key_id=KEY,
        project=PROJECT,
        environment=ENVIRONMENT,
        name="billing",
        name_folded="billing",
        prefix="archie_",
        start=f"archie_{PROJECT}_{ENVIRONMENT}_{KEY}",
        roles=("reader",),
        context={},
        created_at=to_iso(NOW),
        created_by="admin",
        expires_at=to_iso(FAR),
        expires_epoch=float(int(FAR)),
        hash="argon2-original",
        hash_params={"m": 8},
        pepper_version="v1",
    )
    a.commit(a.store.key_create_writes(record))
    start = a.items()
    _put_all(b, start)
    return start


def key(region: Region) -> KeyRecord:
    record = region.store.get_key(PROJECT, ENVIRONMENT, KEY)
    assert record is not None
    return record


def another_key(region: Region, key_id: str) -> KeyRecord:
    """A new key's record like the first one's (as a create would build it)."""
    return dataclasses.replace(key(region), key_id=key_id)


def counts(region: Region) -> dict[str, int]:
    roles = [region.store.get_role(PROJECT, ENVIRONMENT, name) for name in ("reader", "writer")]
    return {role.name: role.key_count or 0 for role in roles if role}


# --- the changes, each as its use case builds it for its region ---------------------------------------------


def revoke(region: Region) -> None:
    region.commit(region.store.key_revoke_writes(key(region), to_iso(NOW + 1), "admin", int(FAR)))


def rename(region: Region) -> None:
    region.commit(
        region.store.key_update_writes(key(region), {"name": "renamed", "name_folded": "renamed"}, (), (), (), NOW)
    )


def patch_roles(region: Region) -> None:
    record = key(region)
    region.commit(region.store.key_update_writes(record, {"roles": ["writer"]}, (), ["writer"], ["reader"], NOW))


def patch_expiry_later(region: Region) -> None:
    later = FAR + 86400
    region.commit(
        region.store.key_update_writes(
            key(region), {"expires_at": to_iso(later), "expires_epoch": int(later)}, (), (), (), NOW
        )
    )


def disable(region: Region) -> None:
    values = {"disabled_at": to_iso(NOW + 1), "disabled_by": "admin"}
    region.commit(region.store.key_update_writes(key(region), values, (), (), (), NOW))


def rehash(region: Region) -> None:
    assert region.store.update_key_hash(PROJECT, ENVIRONMENT, KEY, "argon2-original", "argon2-new", {"m": 19456}, "v2")


def touch(region: Region) -> None:
    """The compactor of this region counts a request (its usage and the key's last use)."""
    region.store.touch_last_used(PROJECT, ENVIRONMENT, KEY, to_iso(NOW + 5))


GRACE_END = NOW + 3600


def roll(region: Region) -> None:
    rolled = {
        "rolled_to": "K000000000b2",
        "rolled_by": "admin",
        "expires_at": to_iso(GRACE_END),
        "expires_epoch": int(GRACE_END),
    }
    region.commit(region.store.key_roll_writes(key(region), rolled))


def mass_revoke(region: Region) -> None:
    """A mass revocation's worker marks the key (its rule item, running, in the region that started it)."""
    rule = {"project": PROJECT, "environment": ENVIRONMENT, "revocation_id": "R1", "created_by": "admin"}
    item = {"pk": partition(PROJECT, ENVIRONMENT), "sk": "ENV#REVOCATION#R1", "status": "running", **rule}
    region.store.client.put_item(TableName="keys", Item=to_item(item))
    region.commit(region.revocations.mark_writes(rule, [key(region)], to_iso(NOW + 1), int(FAR)))


ORDERS = pytest.mark.parametrize("a_writes_last", [True, False], ids=["A-writes-last", "B-writes-last"])


def run(
    regions: tuple[Region, Region], change_a: Callable[[Region], None], change_b: Callable[[Region], None], a_last: bool
) -> None:
    a, b = regions
    start = start_with_a_key(a, b)
    change_a(a)
    change_b(b)
    replicate(a, b, start, a if a_last else b)


@ORDERS
@pytest.mark.parametrize(
    "concurrent", [rename, patch_roles, rehash, touch, roll, patch_expiry_later, disable], ids=lambda f: f.__name__
)
def test_a_revocation_in_one_region_survives_any_change_made_at_once_in_the_other(
    regions: tuple[Region, Region], concurrent: Callable[[Region], None], a_writes_last: bool
) -> None:
    run(regions, revoke, concurrent, a_writes_last)
    for region in regions:
        record = key(region)
        assert key_status(record, NOW + 10).status == REVOKED
        assert record.revoked_by == "admin"


@ORDERS
@pytest.mark.parametrize("concurrent", [rename, patch_roles, rehash, touch], ids=lambda f: f.__name__)
def test_a_mass_revocation_survives_a_change_made_at_once_in_the_other_region(
    regions: tuple[Region, Region], concurrent: Callable[[Region], None], a_writes_last: bool
) -> None:
    run(regions, mass_revoke, concurrent, a_writes_last)
    for region in regions:
        assert key_status(key(region), NOW + 10).status == REVOKED
        assert key(region).revocation_id == "R1"


@ORDERS
@pytest.mark.parametrize("concurrent", [rename, rehash, touch, patch_expiry_later], ids=lambda f: f.__name__)
def test_a_disable_in_one_region_survives_an_unrelated_change_in_the_other(
    regions: tuple[Region, Region], concurrent: Callable[[Region], None], a_writes_last: bool
) -> None:
    run(regions, disable, concurrent, a_writes_last)
    for region in regions:
        assert key_status(key(region), NOW + 10).status == DISABLED


@ORDERS
@pytest.mark.parametrize("concurrent", [patch_expiry_later, rename, rehash], ids=lambda f: f.__name__)
def test_a_rolls_shorter_expiry_is_kept_whatever_a_patch_in_the_other_region_sets(
    regions: tuple[Region, Region], concurrent: Callable[[Region], None], a_writes_last: bool
) -> None:
    run(regions, roll, concurrent, a_writes_last)
    for region in regions:
        record = key(region)
        assert record.expires_epoch == GRACE_END and record.rolled_to == "K000000000b2"
        assert key_status(record, NOW + 10).status == ROLLED
        assert key_status(record, GRACE_END + 1).status == REVOKED  # rolled away at the grace's end


@ORDERS
def test_two_regions_revoking_the_same_key_at_once_uncount_it_once(
    regions: tuple[Region, Region], a_writes_last: bool
) -> None:
    a, b = regions
    start = start_with_a_key(a, b)
    assert counts(a) == {"reader": 1, "writer": 0}
    revoke(a)
    revoke(b)
    replicate(a, b, start, a if a_writes_last else b)
    for region in regions:
        assert key_status(key(region), NOW + 10).status == REVOKED
        assert counts(region) == {"reader": 0, "writer": 0}


@ORDERS
def test_keys_created_and_revoked_in_both_regions_at_once_are_all_counted(
    regions: tuple[Region, Region], a_writes_last: bool
) -> None:
    """Each region counts on its own item: neither region's count replaces the other's."""
    a, b = regions
    start = start_with_a_key(a, b)
    for region, key_id in ((a, "K000000000c3"), (b, "K000000000d4")):
        region.commit(region.store.key_create_writes(another_key(region, key_id)))
    revoke(a)
    replicate(a, b, start, a if a_writes_last else b)
    for region in regions:
        assert counts(region) == {"reader": 2, "writer": 0}


@ORDERS
def test_a_role_edit_in_one_region_loses_no_key_counted_in_the_other(
    regions: tuple[Region, Region], a_writes_last: bool
) -> None:
    """The role's definition and its counts are separate items: a role edit, resolved last-writer-wins,
    cannot take back a count made at the same moment elsewhere."""
    a, b = regions
    start = start_with_a_key(a, b)
    edit = {"description": "read", "permissions": [], "updated_at": to_iso(NOW + 2), "updated_by": "admin"}
    a.commit(
        [a.store.role_write(PROJECT, ENVIRONMENT, "reader", edit, a.store.get_role(PROJECT, ENVIRONMENT, "reader"))]
    )
    b.commit(b.store.key_create_writes(another_key(b, "K000000000e5")))
    replicate(a, b, start, a if a_writes_last else b)
    for region in regions:
        assert counts(region)["reader"] == 2
        assert region.store.get_role(PROJECT, ENVIRONMENT, "reader").description == "read"  # type: ignore[union-attr]


@ORDERS
def test_the_last_use_is_the_latest_any_region_counted(regions: tuple[Region, Region], a_writes_last: bool) -> None:
    a, b = regions
    start = start_with_a_key(a, b)
    a.store.touch_last_used(PROJECT, ENVIRONMENT, KEY, to_iso(NOW + 9))
    b.store.touch_last_used(PROJECT, ENVIRONMENT, KEY, to_iso(NOW + 5))
    replicate(a, b, start, a if a_writes_last else b)
    for region in regions:
        assert key(region).last_used_at == to_iso(NOW + 9)


def test_the_authorizer_reads_every_item_that_decides_a_key_in_one_query(regions: tuple[Region, Region]) -> None:
    a, b = regions
    start_with_a_key(a, b)
    revoke(a)
    disable_then = a.store.client
    calls: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(disable_then, name)

    reader = KeyStore("keys", Counting(), A)
    record = reader.get_key(PROJECT, ENVIRONMENT, KEY)
    assert record is not None and record.revoked_at and record.hash == "argon2-original"
    assert calls == ["query"]
