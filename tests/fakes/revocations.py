"""app.ports.RevocationStore in memory, in the FakeKeyStore's tables and with the conditions and labels
aws.revocation_store.RevocationStore puts on its writes: a rule under way (ENV#REVOCATION#<id>, which
FakeKeyStore.environment_state hands the authorizer), the set of those running (bounded), the keys a rule
covers (created before it, active then, matching every value of its `match`), and the registry the sweep
reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from archie_keys.domain.key_record import KeyRecord, key_record
from archie_keys.domain.keyformat import KEY_ID_RANDOM_LENGTH, KEY_ID_TIME_LENGTH, encode_base62
from tests.fakes.unit_of_work import FakeWrite, Item, MemoryTables

RUNNING = "RUNNING#REVOCATIONS"


def _key(project: str, environment: str, sk: str) -> tuple[str, ...]:
    return ("keys", project, environment, sk)


class FakeRevocationRegistry:
    """The region's revocations under way: (project, environment, id) -> the worker's last heartbeat."""

    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables

    def entry_write(self, project: str, environment: str, revocation_id: str, heartbeat_ms: int) -> FakeWrite:
        entry = {"project": project, "environment": environment, "revocation_id": revocation_id}
        key = ("registry", project, environment, revocation_id)
        return FakeWrite("registry", key, change=lambda _: {**entry, "heartbeat_ms": heartbeat_ms})

    def heartbeat(
        self, project: str, environment: str, revocation_id: str, now_ms: int, seen_ms: int | None = None
    ) -> bool:
        entry = self.tables.items.get(("registry", project, environment, revocation_id))
        if entry is None or (seen_ms is not None and entry["heartbeat_ms"] != seen_ms):
            return False
        entry["heartbeat_ms"] = now_ms
        return True

    def unregister(self, project: str, environment: str, revocation_id: str) -> None:
        self.tables.items.pop(("registry", project, environment, revocation_id), None)

    def registered(self) -> list[dict[str, Any]]:
        return [item for _, item in self.tables.under(("registry",))]


class FakeRevocationStore:
    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables
        self.registry = FakeRevocationRegistry(tables)

    def start_writes(self, rule: dict[str, Any], running_max: int) -> list[FakeWrite]:
        project, environment, revocation_id = rule["project"], rule["environment"], rule["revocation_id"]

        def room(item: Item | None) -> bool:
            return item is None or len(item["running"]) < running_max

        def add(item: Item | None) -> Item:
            return {"running": sorted({*(item or {}).get("running", ()), revocation_id})}

        item = {"sk": f"ENV#REVOCATION#{revocation_id}", **rule}
        return [
            FakeWrite("environment", _key(project, environment, "ENV"), lambda found: found is not None),
            FakeWrite("revocation", _key(project, environment, item["sk"]), lambda f: f is None, lambda _: item),
            FakeWrite("too_many_revocations", _key(project, environment, RUNNING), room, add),
            self.registry.entry_write(project, environment, revocation_id, int(rule["before_ms"])),
        ]

    def finish_writes(self, rule: dict[str, Any], finished_at: str, purge_epoch: int) -> list[FakeWrite]:
        project, environment, revocation_id = rule["project"], rule["environment"], rule["revocation_id"]
        done = {
            **{k: v for k, v in rule.items() if k != "sk"},
            "sk": f"REVOCATION#{revocation_id}",
            "status": "done",
            "finished_at": finished_at,
            "purge_epoch": purge_epoch,
            "matched": max(int(rule.get("matched") or 0), int(rule.get("revoked", 0))),
        }

        def as_read(item: Item | None) -> bool:  # a batch another worker committed since would be missing
            return item is not None and item["status"] == "running" and item["revoked"] == rule["revoked"]

        def remove(item: Item | None) -> Item:
            return {"running": [r for r in (item or {}).get("running", ()) if r != revocation_id]}

        return [
            FakeWrite(
                "revocation", _key(project, environment, f"ENV#REVOCATION#{revocation_id}"), as_read, lambda _: None
            ),
            FakeWrite("revocation_done", _key(project, environment, done["sk"]), change=lambda _: done),
            FakeWrite("running", _key(project, environment, RUNNING), change=remove),
            FakeWrite("registry", ("registry", project, environment, revocation_id), change=lambda _: None),
        ]

    def get(self, project: str, environment: str, revocation_id: str) -> dict[str, Any] | None:
        for sk in (f"ENV#REVOCATION#{revocation_id}", f"REVOCATION#{revocation_id}"):
            found = self.tables.get(_key(project, environment, sk))
            if found is not None:
                return found
        return None

    def record_matched(self, project: str, environment: str, revocation_id: str, matched: int) -> None:
        for sk in (f"ENV#REVOCATION#{revocation_id}", f"REVOCATION#{revocation_id}"):
            item = self.tables.items.get(_key(project, environment, sk))
            if item is not None:
                item.setdefault("matched", matched)
                return

    def _covered(self, rule: dict[str, Any], *, own_too: bool, since_ms: int | None = None) -> list[Item]:
        before_ms, match = int(rule["before_ms"]), dict(rule.get("match") or {})
        low = "KEY#" if since_ms is None else "KEY#" + encode_base62(max(since_ms, 0), KEY_ID_TIME_LENGTH)
        high = "KEY#" + encode_base62(before_ms - 1, KEY_ID_TIME_LENGTH) + "z" * KEY_ID_RANDOM_LENGTH
        return [
            item
            for key, item in self.tables.under(("keys", rule["project"], rule["environment"]))
            if key[3].startswith("KEY#")
            and low <= key[3] <= high
            and ("revoked_at" not in item or (own_too and item.get("revocation_id") == rule["revocation_id"]))
            and (item.get("expires_epoch") is None or float(item["expires_epoch"]) > before_ms / 1000)
            and all((item.get("context") or {}).get(name) == value for name, value in match.items())
        ]

    def count_covered(self, rule: dict[str, Any]) -> int:
        return len(self._covered(rule, own_too=True))

    def uncovered_page(
        self, rule: dict[str, Any], after: str | None, limit: int, since_ms: int | None = None
    ) -> tuple[list[KeyRecord], str | None]:
        left = [
            item
            for item in self._covered(rule, own_too=False, since_ms=since_ms)
            if after is None or item["sk"] > after
        ]
        page = left[:limit]
        return [key_record(item) for item in page], str(page[-1]["sk"]) if len(left) > limit else None

    def mark_writes(
        self, rule: dict[str, Any], records: Sequence[KeyRecord], revoked_at: str, purge_epoch: int
    ) -> list[FakeWrite]:
        project, environment, revocation_id = rule["project"], rule["environment"], rule["revocation_id"]
        values = {
            "revoked_at": revoked_at,
            "revoked_by": rule["created_by"],
            "purge_epoch": purge_epoch,
            "revocation_id": revocation_id,
        }

        def counted(n: int) -> Any:
            return lambda item: {**item, "revoked": int(item.get("revoked", 0)) + n, "updated_at": revoked_at}

        def role_count(role: str, n: int) -> FakeWrite:
            return FakeWrite(
                f"role:{role}",
                _key(project, environment, f"ROLE#{role}"),
                lambda item: item is not None,
                lambda item: {**(item or {}), "key_count": int((item or {}).get("key_count", 0)) - n},
            )

        held = Counter(role for record in records for role in record.roles)
        return [
            *(
                FakeWrite(
                    f"key:{record.key_id}",
                    _key(project, environment, f"KEY#{record.key_id}"),
                    lambda item: item is not None and "revoked_at" not in item,
                    lambda item: {**(item or {}), **values},
                )
                for record in records
            ),
            *(role_count(role, n) for role, n in sorted(held.items())),
            FakeWrite(
                "revocation",
                _key(project, environment, f"ENV#REVOCATION#{revocation_id}"),
                lambda item: item is not None and item.get("status") == "running",
                counted(len(records)),
            ),
        ]
