"""app.ports.KeyStore in memory, with the conditions aws.key_store.KeyStore puts on its writes (each write's
docstring there names its label): the logic tier runs every key use case on it, and
tests/component/test_fake_key_store_conformance.py holds the two to the same answers on moto. A key is one
item, made from and read into a KeyRecord by the same functions the DynamoDB store uses (domain.key_record)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from archie_keys.domain.environment_record import (
    EnvironmentRecord,
    environment_record,
    environment_stored_fields,
)
from archie_keys.domain.environment_state import EnvironmentState, RevocationRule
from archie_keys.domain.errors import NotFoundError
from archie_keys.domain.key_record import KeyRecord, key_record, stored_fields
from archie_keys.domain.key_status import DEFAULT_LISTED, key_status
from archie_keys.domain.role_record import RoleRecord, role_record
from tests.fakes.unit_of_work import FakeWrite, Item, ItemKey, MemoryTables


def _key(project: str, environment: str, sk: str) -> ItemKey:
    return ("keys", project, environment, sk)


def _exists(item: Item | None) -> bool:
    return item is not None


def _absent(item: Item | None) -> bool:
    return item is None


def _matches(context: dict[str, Any], alternatives: Sequence[dict[str, Any]]) -> bool:
    return any(all(isinstance(v, str) and context.get(k) == v for k, v in alt.items()) for alt in alternatives)


class FakeKeyStore:
    def __init__(self, tables: MemoryTables, region: str = "us-east-1") -> None:
        self.tables = tables
        # The region whose witness items this store writes (as aws.key_store.KeyStore's).
        self.region = region

    # --- environments ----------------------------------------------------------------------------------

    def environment_write(self, record: EnvironmentRecord) -> FakeWrite:
        item = {"kind": "environment", **environment_stored_fields(record)}
        return FakeWrite("environment_exists", _key(record.project, record.environment, "ENV"), _absent, lambda _: item)

    def environment_update_write(self, record: EnvironmentRecord, values: dict[str, Any]) -> FakeWrite:
        key = _key(record.project, record.environment, "ENV")
        return FakeWrite("environment", key, _exists, lambda item: {**(item or {}), **values})

    def get_environment(self, project: str, environment: str) -> EnvironmentRecord | None:
        item = self.tables.get(_key(project, environment, "ENV"))
        return None if item is None else environment_record(item)

    def require_environment(self, project: str, environment: str) -> EnvironmentRecord:
        record = self.get_environment(project, environment)
        if record is None:
            raise NotFoundError(f"environment {project}/{environment} is not declared", field="environment")
        return record

    def count_active_legacy_keys(self, project: str, environment: str, now: float) -> int:
        return sum(
            1
            for _, item in self.tables.under(_key(project, environment, "KEY#")[:3])
            if str(item.get("sk", "")).startswith("KEY#")
            and "key_format" not in item
            and "revoked_at" not in item
            and (item.get("expires_epoch") is None or float(item["expires_epoch"]) > now)
        )

    def environment_state(self, project: str, environment: str) -> EnvironmentState | None:
        # The item itself, as aws.environment_records reads it for the authorizer.
        declaration = self.tables.get(_key(project, environment, "ENV"))
        if declaration is None:
            return None
        rules = tuple(
            RevocationRule(str(item["revocation_id"]), dict(item.get("match") or {}), int(item["before_ms"]))
            for key, item in self.tables.under(("keys", project, environment))
            if key[3].startswith("ENV#REVOCATION#") and item.get("status") == "running"
        )
        return EnvironmentState(declaration.get("legacy_keys", "accept") != "refuse", rules)

    # --- roles -----------------------------------------------------------------------------------------

    def role_write(
        self, project: str, environment: str, name: str, values: dict[str, Any], previous: RoleRecord | None
    ) -> FakeWrite:
        stored = {
            "description": values["description"],
            "permissions": json.dumps(values["permissions"], separators=(",", ":")),
            "updated_at": values["updated_at"],
            "updated_by": values["updated_by"],
        }
        key = _key(project, environment, f"ROLE#{name}")
        if previous is None:
            new = {
                "sk": f"ROLE#{name}",
                "kind": "role",
                "name": name,
                "created_at": values["updated_at"],
                "key_count": 0,
            }
            return FakeWrite("role", key, _absent, lambda _: {**new, **stored})
        return FakeWrite(
            "role",
            key,
            lambda item: item is not None and item.get("updated_at") == previous.updated_at,
            lambda item: {**(item or {}), **stored},
        )

    def role_delete_writes(self, project: str, environment: str, name: str) -> list[FakeWrite]:
        key = _key(project, environment, f"ROLE#{name}")
        return [
            FakeWrite(
                "role_in_use", key, lambda item: item is not None and int(item.get("key_count", 0)) <= 0, lambda _: None
            )
        ]

    def get_role(self, project: str, environment: str, name: str) -> RoleRecord | None:
        item = self.tables.get(_key(project, environment, f"ROLE#{name}"))
        return role_record(item) if item else None

    def get_roles(self, project: str, environment: str, names: Sequence[str]) -> dict[str, RoleRecord]:
        found = (self.get_role(project, environment, name) for name in names)
        return {role.name: role for role in found if role is not None}

    def list_roles(
        self, project: str, environment: str, limit: int, after: str | None
    ) -> tuple[list[RoleRecord], str | None]:
        roles = [item for key, item in self.tables.under(("keys", project, environment)) if key[3].startswith("ROLE#")]
        roles = [r for r in roles if after is None or str(r["sk"]) > after]
        page = roles[:limit]
        return [role_record(r) for r in page], str(page[-1]["sk"]) if len(roles) > limit else None

    def _count(self, project: str, environment: str, role: str, delta: int) -> FakeWrite:
        def moved(item: Item | None) -> Item:
            assert item is not None
            return {**item, "key_count": int(item.get("key_count", 0)) + delta}

        return FakeWrite(f"role:{role}", _key(project, environment, f"ROLE#{role}"), _exists, moved)

    # --- keys ------------------------------------------------------------------------------------------

    def key_create_writes(self, record: KeyRecord) -> list[FakeWrite]:
        project, environment = record.project, record.environment
        item = {"sk": f"KEY#{record.key_id}", "kind": "key", **stored_fields(record)}
        return [
            FakeWrite("environment", _key(project, environment, "ENV"), _exists),
            FakeWrite("key", _key(project, environment, f"KEY#{record.key_id}"), _absent, lambda _: item),
            *(self._count(project, environment, name, +1) for name in record.roles),
        ]

    def get_key(self, project: str, environment: str, key_id: str, *, consistent: bool = True) -> KeyRecord | None:
        item = self.tables.get(_key(project, environment, f"KEY#{key_id}"))
        return key_record(item) if item is not None else None

    def list_keys(
        self,
        project: str,
        environment: str,
        limit: int,
        after: str | None,
        alternatives: Sequence[dict[str, Any]],
        name_contains: str | None = None,
        statuses: Sequence[str] = DEFAULT_LISTED,
        now: float = 0.0,
    ) -> tuple[list[KeyRecord], str | None]:
        keys = [
            (key[3], key_record(item))
            for key, item in reversed(self.tables.under(("keys", project, environment)))
            if key[3].startswith("KEY#")
        ]
        chosen = [
            (sk, k)
            for sk, k in keys
            if (after is None or sk < after)
            and key_status(k, now).status in statuses
            and ({} in alternatives or _matches(k.context, alternatives))
            and (not name_contains or name_contains.casefold() in (k.name_folded or ""))
        ]
        page = chosen[:limit]
        return [k for _, k in page], page[-1][0] if len(chosen) > limit else None

    def _key_write(
        self, record: KeyRecord, label: str, holds: Any, values: dict[str, Any], remove: Sequence[str] = ()
    ) -> FakeWrite:
        def changed(item: Item | None) -> Item:
            assert item is not None
            return {k: v for k, v in {**item, **values}.items() if k not in remove}

        return FakeWrite(label, _key(record.project, record.environment, f"KEY#{record.key_id}"), holds, changed)

    def key_update_writes(
        self,
        record: KeyRecord,
        values: dict[str, Any],
        remove: Sequence[str],
        roles_added: Sequence[str],
        roles_removed: Sequence[str],
        now: float,
    ) -> list[FakeWrite]:
        revision = record.revision or 0

        def changeable(item: Item | None) -> bool:
            return (
                item is not None
                and "revoked_at" not in item
                and "rolled_to" not in item
                and (item.get("expires_epoch") is None or float(item["expires_epoch"]) > now)
                and int(item.get("revision", 0)) == revision
            )

        project, environment = record.project, record.environment
        return [
            self._key_write(record, "key", changeable, {**values, "revision": revision + 1}, remove),
            *(self._count(project, environment, name, +1) for name in roles_added),
            *(self._count(project, environment, name, -1) for name in roles_removed),
        ]

    def key_revoke_writes(
        self,
        record: KeyRecord,
        revoked_at: str,
        revoked_by: str,
        purge_epoch: int,
        unused_since: str | None = None,
        also_set: dict[str, Any] | None = None,
    ) -> list[FakeWrite]:
        def revocable(item: Item | None) -> bool:
            if item is None or "revoked_at" in item:
                return False
            used = item.get("last_used_at")
            return unused_since is None or used is None or str(used) < unused_since

        values = {"revoked_at": revoked_at, "revoked_by": revoked_by, "purge_epoch": purge_epoch, **(also_set or {})}
        project, environment = record.project, record.environment
        return [
            self._key_write(record, "key", revocable, values),
            *(self._count(project, environment, name, -1) for name in record.roles),
        ]

    def key_mark_write(self, record: KeyRecord, values: dict[str, Any]) -> FakeWrite:
        return self._key_write(record, "key", _exists, values)

    def key_roll_writes(self, record: KeyRecord, values: dict[str, Any]) -> list[FakeWrite]:
        revision = record.revision

        def rollable(item: Item | None) -> bool:
            return (
                item is not None
                and "revoked_at" not in item
                and "rolled_to" not in item
                and item.get("revision") == revision
            )

        return [self._key_write(record, "rolled_key", rollable, values)]

    def update_key_hash(
        self,
        project: str,
        environment: str,
        key_id: str,
        old_hash: str,
        new_hash: str,
        params: dict[str, int],
        pepper_version: str,
    ) -> bool:
        key = _key(project, environment, f"KEY#{key_id}")
        item = self.tables.items.get(key)
        if item is None or item.get("hash") != old_hash:
            return False
        item.update({"hash": new_hash, "hash_params": params, "pepper_version": pepper_version})
        return True

    # --- what the authorizer witnessed, and delivered secrets' holders --------------------------------

    def record_authorization(self, project: str, environment: str, key_id: str, at: float) -> None:
        key = _key(project, environment, f"SEEN#{key_id}#{self.region}")
        seen = self.tables.get(key)
        if seen is None or float(seen["authorized_epoch"]) < at:
            self.tables.items[key] = {"authorized_epoch": at}

    def authorizations(self, project: str, environment: str, key_id: str) -> dict[str, float]:
        """Each region's witness ("": the item from before per-region ones), as the store's one Query reads them."""
        own = f"SEEN#{key_id}"
        found = {}
        for key, item in self.tables.under(_key(project, environment, "")[:3]):
            if key[3] == own or key[3].startswith(own + "#"):
                found[key[3][len(own) + 1 :]] = float(item["authorized_epoch"])
        return found

    def last_authorization(self, project: str, environment: str, key_id: str) -> float | None:
        return max(self.authorizations(project, environment, key_id).values(), default=None)

    def not_authorized_since_checks(self, record: KeyRecord, bound: float, regions: Sequence[str]) -> list[FakeWrite]:
        checks = []
        for region in regions:
            sk = f"SEEN#{record.key_id}" + (f"#{region}" if region else "")
            key = _key(record.project, record.environment, sk)
            checks.append(FakeWrite("key", key, lambda item: item is None or float(item["authorized_epoch"]) < bound))
        return checks

    def get_secret_holder(self, project: str, environment: str, name: str) -> dict[str, Any] | None:
        return self.tables.get(_key(project, environment, f"SECRET#{name}"))

    def secret_holder_write(
        self, project: str, environment: str, name: str, holder: dict[str, Any], previous: str | None
    ) -> FakeWrite:
        def named(item: Item | None) -> bool:
            return item is None if previous is None else item is not None and item.get("key_id") == previous

        return FakeWrite(
            "secret_holder", _key(project, environment, f"SECRET#{name}"), named, lambda _: {"kind": "secret", **holder}
        )
