"""The logic tier's fakes refuse what the real stores refuse, with the same labels: each scenario runs through
the ports (app.ports: KeyStore, UnitOfWork, RevocationStore) once on tests/fakes and once on the aws/ stores on
moto (the template's tables), and both must give the outcome written in the test. A fake that let a second
creation, a second revocation or the deletion of a role in use through would make every logic test that
relies on it prove nothing; this is where such a drift fails.

Labels are compared as sets: the use cases only ask whether a label is among them (app.changes), and the real
stores may carry one label on several items of one change (a key's item and its hash item)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from archie_keys.app import ports
from archie_keys.domain.environment_record import EnvironmentRecord
from archie_keys.domain.errors import ConditionFailed
from archie_keys.domain.key_record import KeyRecord
from archie_keys.domain.keyformat import new_key_id

_places = itertools.count(1)
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NOW_ISO = "2026-01-01T00:00:00Z"


@dataclass
class Ports:
    """One implementation of the ports a key change goes through, and a partition of its own."""

    store: ports.KeyStore
    unit: ports.UnitOfWork
    revocations: ports.RevocationStore
    project: str
    environment: str

    def commit(self, writes: Any) -> str | set[str]:
        """'ok', or the set of labels the refused transaction named."""
        try:
            self.unit.commit(list(writes))
        except ConditionFailed as refused:
            return set(refused.labels)
        return "ok"

    def declare(self) -> None:
        record = EnvironmentRecord(
            project=self.project, environment=self.environment, created_at=NOW_ISO, created_by="bootstrap"
        )
        assert self.commit([self.store.environment_write(record)]) == "ok"
        # Read back as the record it was written from, by either store.
        assert self.store.get_environment(self.project, self.environment) == record

    def role(self, name: str) -> str | set[str]:
        values = {"description": "", "permissions": [], "updated_at": NOW_ISO, "updated_by": "admin"}
        return self.commit([self.store.role_write(self.project, self.environment, name, values, None)])

    def new_key(self, *roles: str, at_ms: int = int(NOW * 1000)) -> KeyRecord:
        key_id = new_key_id(at_ms)
        return KeyRecord(
            key_id=key_id,
            name="consumer",
            name_folded="consumer",
            prefix="archie",
            start=key_id[:4],
            project=self.project,
            environment=self.environment,
            roles=roles,
            context={"tenant": "t1"},
            created_at=NOW_ISO,
            created_by="admin",
            hash="$argon2id$stand-in",
            hash_params={"memory_kib": 8, "time_cost": 1, "parallelism": 1},
            key_format=2,
        )

    def key(self, record: KeyRecord) -> KeyRecord | None:
        return self.store.get_key(self.project, self.environment, record.key_id)

    def count(self, role: str) -> int | None:
        found = self.store.get_role(self.project, self.environment, role)
        return None if found is None else found.key_count

    def revoke(self, record: KeyRecord) -> str | set[str]:
        return self.commit(self.store.key_revoke_writes(record, NOW_ISO, "admin", int(NOW) + 86400))

    def rule(self, revocation_id: str) -> dict[str, Any]:
        return {
            "kind": "revocation",
            "revocation_id": revocation_id,
            "project": self.project,
            "environment": self.environment,
            "match": {"tenant": "t1"},
            "before_ms": int(NOW * 1000) + 60_000,
            "status": "running",
            "reason": "leak",
            "created_at": NOW_ISO,
            "created_by": "admin",
            "revoked": 0,
            "updated_at": NOW_ISO,
        }


@pytest.fixture(scope="module")
def moto_services() -> Iterator[Any]:
    """The aws/ stores on moto, the template's tables provisioned once for this module (each test works in a
    partition of its own)."""
    from archie_keys.edge import composition
    from tests.support import provisioned_in_process

    with pytest.MonkeyPatch.context() as patch, provisioned_in_process(patch):
        yield composition.get_services()


@pytest.fixture(params=["fakes", "moto"])
def impl(request: pytest.FixtureRequest) -> Ports:
    number = next(_places)
    if request.param == "fakes":
        from tests.fakes.services import FakeServices

        services: Any = FakeServices()
    else:
        services = request.getfixturevalue("moto_services")
    found = Ports(services.store, services.transactions, services.revocations, f"conf{number}", f"env{number}")
    found.declare()
    return found


def test_a_key_created_twice_is_refused_the_second_time_as_key(impl: Ports) -> None:
    assert impl.role("reader") == "ok"
    record = impl.new_key("reader")
    assert impl.commit(impl.store.key_create_writes(record)) == "ok"
    assert impl.commit(impl.store.key_create_writes(record)) == {"key"}
    assert impl.count("reader") == 1  # the refused second creation counted nothing
    stored = impl.key(record)
    assert stored is not None and stored.roles == ("reader",) and stored.revoked_at is None


def test_a_key_in_an_undeclared_environment_is_refused_as_environment(impl: Ports) -> None:
    elsewhere = Ports(impl.store, impl.unit, impl.revocations, impl.project, "undeclared")
    record = elsewhere.new_key()
    assert elsewhere.commit(elsewhere.store.key_create_writes(record)) == {"environment"}
    assert elsewhere.key(record) is None


def test_an_environment_declared_twice_is_refused_as_environment_exists(impl: Ports) -> None:
    record = EnvironmentRecord(
        project=impl.project, environment=impl.environment, created_at=NOW_ISO, created_by="bootstrap"
    )
    assert impl.commit([impl.store.environment_write(record)]) == {"environment_exists"}


def test_a_role_created_twice_is_refused_as_role(impl: Ports) -> None:
    assert impl.role("reader") == "ok"
    assert impl.role("reader") == {"role"}


def test_a_key_revoked_twice_is_refused_the_second_time_and_uncounted_once(impl: Ports) -> None:
    assert impl.role("reader") == "ok"
    record = impl.new_key("reader")
    assert impl.commit(impl.store.key_create_writes(record)) == "ok"
    read = impl.key(record)
    assert read is not None
    assert impl.revoke(read) == "ok"
    assert impl.revoke(read) == {"key"}
    revoked = impl.key(record)
    assert revoked is not None and revoked.revoked_at == NOW_ISO and revoked.revoked_by == "admin"
    assert impl.count("reader") == 0


def test_a_revoked_key_cannot_be_rolled(impl: Ports) -> None:
    record = impl.new_key()
    assert impl.commit(impl.store.key_create_writes(record)) == "ok"
    read = impl.key(record)
    assert read is not None and impl.revoke(read) == "ok"
    rolled = {"expires_epoch": NOW + 60, "expires_at": "2026-01-01T00:01:00Z", "rolled_to": "next", "rolled_by": "a"}
    assert impl.commit(impl.store.key_roll_writes(read, rolled)) == {"rolled_key"}
    after = impl.key(record)
    assert after is not None and after.rolled_to is None


def test_a_key_rolls_once_and_a_second_roll_from_the_same_read_is_refused(impl: Ports) -> None:
    record = impl.new_key()
    assert impl.commit(impl.store.key_create_writes(record)) == "ok"
    read = impl.key(record)
    assert read is not None
    rolled = {"expires_epoch": NOW + 60, "expires_at": "2026-01-01T00:01:00Z", "rolled_to": "next", "rolled_by": "a"}
    assert impl.commit(impl.store.key_roll_writes(read, rolled)) == "ok"
    assert impl.commit(impl.store.key_roll_writes(read, {**rolled, "rolled_to": "other"})) == {"rolled_key"}
    after = impl.key(record)
    assert after is not None and after.rolled_to == "next"


def test_a_role_in_use_cannot_be_deleted_until_its_keys_are_revoked(impl: Ports) -> None:
    assert impl.role("reader") == "ok"
    record = impl.new_key("reader")
    assert impl.commit(impl.store.key_create_writes(record)) == "ok"
    assert impl.commit(impl.store.role_delete_writes(impl.project, impl.environment, "reader")) == {"role_in_use"}
    assert impl.count("reader") == 1
    read = impl.key(record)
    assert read is not None and impl.revoke(read) == "ok"
    assert impl.commit(impl.store.role_delete_writes(impl.project, impl.environment, "reader")) == "ok"
    assert impl.store.get_role(impl.project, impl.environment, "reader") is None


def test_a_role_deletion_read_before_a_key_took_the_role_is_refused(impl: Ports) -> None:
    assert impl.role("reader") == "ok"
    deletion = impl.store.role_delete_writes(impl.project, impl.environment, "reader")  # read: no key holds it
    assert impl.commit(impl.store.key_create_writes(impl.new_key("reader"))) == "ok"
    assert impl.commit(deletion) == {"role_in_use"}
    assert impl.count("reader") == 1


def test_a_transaction_with_one_failing_condition_writes_nothing(impl: Ports) -> None:
    """A key naming a role that does not exist, in one transaction with a new role: the missing role's
    condition fails, so neither the key, its count on the role that does exist, nor the new role is written."""
    assert impl.role("reader") == "ok"
    record = impl.new_key("reader", "ghost")
    values = {"description": "", "permissions": [], "updated_at": NOW_ISO, "updated_by": "admin"}
    writer = impl.store.role_write(impl.project, impl.environment, "writer", values, None)
    assert impl.commit([*impl.store.key_create_writes(record), writer]) == {"role:ghost"}
    assert impl.key(record) is None
    assert impl.count("reader") == 0
    assert impl.store.get_role(impl.project, impl.environment, "writer") is None
    assert impl.commit([*impl.store.key_create_writes(impl.new_key("reader")), writer]) == "ok"
    assert impl.count("reader") == 1 and impl.count("writer") == 0


def test_a_mass_revocation_started_twice_is_refused_and_a_full_environment_refuses_another(impl: Ports) -> None:
    first = impl.rule(new_key_id(int(NOW * 1000) + 1))
    assert impl.commit(impl.revocations.start_writes(first, 2)) == "ok"
    assert impl.commit(impl.revocations.start_writes(first, 2)) == {"revocation"}
    assert impl.commit(impl.revocations.start_writes(impl.rule(new_key_id(int(NOW * 1000) + 2)), 2)) == "ok"
    third = impl.rule(new_key_id(int(NOW * 1000) + 3))
    assert impl.commit(impl.revocations.start_writes(third, 2)) == {"too_many_revocations"}
    assert impl.revocations.get(impl.project, impl.environment, third["revocation_id"]) is None


def test_a_mass_revocation_leaves_a_key_revoked_meanwhile_to_its_revoker(impl: Ports) -> None:
    assert impl.role("reader") == "ok"
    covered = [impl.new_key("reader", at_ms=int(NOW * 1000) + i) for i in range(2)]
    for record in covered:
        assert impl.commit(impl.store.key_create_writes(record)) == "ok"
    rule = impl.rule(new_key_id(int(NOW * 1000) + 60_000))
    assert impl.commit(impl.revocations.start_writes(rule, 3)) == "ok"
    assert impl.revocations.count_covered(rule) == 2
    page, _ = impl.revocations.uncovered_page(rule, None, 10)
    assert sorted(item.key_id for item in page) == sorted(record.key_id for record in covered)
    first = impl.key(covered[0])
    assert first is not None and impl.revoke(first) == "ok"  # by hand, after the worker read its page
    marks = impl.revocations.mark_writes(rule, page, NOW_ISO, int(NOW) + 86400)
    assert impl.commit(marks) == {f"key:{covered[0].key_id}"}
    assert impl.count("reader") == 1  # the refused batch uncounted nothing
    second = [record for record in page if record.key_id == covered[1].key_id]
    assert impl.commit(impl.revocations.mark_writes(rule, second, NOW_ISO, int(NOW) + 86400)) == "ok"
    assert impl.count("reader") == 0
    revoked = impl.key(covered[1])
    assert revoked is not None and revoked.revocation_id == rule["revocation_id"]
    assert impl.revocations.uncovered_page(rule, None, 10)[0] == []
