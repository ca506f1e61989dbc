"""An in-memory database for the logic tier's fakes, and the unit of work that commits their writes.

Every fake store keeps its items in one `MemoryTables` (item key -> item), so one transaction can touch a key,
its roles' counts, an audit event and an idempotency record together, as on DynamoDB. A `FakeWrite` is a
condition on one item and the change made to it; `FakeUnitOfWork.commit` checks every condition first and
applies nothing unless all hold, raising domain.errors.ConditionFailed with the labels that failed (the
contract app.ports.UnitOfWork states, and tests/component/test_fake_key_store_conformance.py checks on moto).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from archie_keys.domain.errors import ConditionFailed, ServiceUnavailableError

Item = dict[str, Any]
ItemKey = tuple[str, ...]


@dataclass
class MemoryTables:
    items: dict[ItemKey, Item] = field(default_factory=dict)

    def get(self, key: ItemKey) -> Item | None:
        found = self.items.get(key)
        return copy.deepcopy(found) if found is not None else None

    def under(self, prefix: ItemKey) -> list[tuple[ItemKey, Item]]:
        """Items whose key starts with `prefix`, by key."""
        n = len(prefix)
        return sorted(((k, copy.deepcopy(v)) for k, v in self.items.items() if k[:n] == prefix), key=lambda kv: kv[0])


@dataclass(frozen=True)
class FakeWrite:
    """One item of a transaction: `holds(item)` is its condition on the item as stored (None: absent), and
    `change(item)` the item after it (None: deleted)."""

    label: str
    key: ItemKey
    holds: Callable[[Item | None], bool] = lambda item: True
    change: Callable[[Item | None], Item | None] = lambda item: item


class FakeUnitOfWork:
    """All or nothing, one write per item (as DynamoDB refuses two in one transaction)."""

    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables
        self.commits: list[list[str]] = []  # the labels of each committed transaction, in order
        self._failures: list[Exception] = []

    def fail_next(self, error: Exception | None = None) -> None:
        """The next commit raises `error` (default: DynamoDB unavailable) and writes nothing."""
        self._failures.append(error or ServiceUnavailableError())

    def commit(self, writes: Sequence[object]) -> None:
        chosen = [write for write in writes if write is not None]
        for write in chosen:
            if not isinstance(write, FakeWrite):
                raise TypeError(f"not a write of the fakes: {write!r}")
        fakes = [w for w in chosen if isinstance(w, FakeWrite)]
        if self._failures:
            raise self._failures.pop(0)
        keys = [w.key for w in fakes]
        if len(set(keys)) != len(keys):
            raise ValueError("two writes to one item in one transaction (DynamoDB refuses it)")
        failed = [w.label for w in fakes if not w.holds(self.tables.get(w.key))]
        if failed:
            raise ConditionFailed(failed)
        for write in fakes:
            after = write.change(self.tables.get(write.key))
            if after is None:
                self.tables.items.pop(write.key, None)
            else:
                self.tables.items[write.key] = after
        self.commits.append([w.label for w in fakes])

    def write_alone(self, write: FakeWrite) -> bool:
        """One conditional write outside a transaction: whether its condition held."""
        try:
            self.commit([write])
        except ConditionFailed:
            return False
        return True
