"""aws.items in memory: the tables of template.yaml (keys, indexes and their projections read from it), with
DynamoDB's semantics where the stores rely on them, so the logic tier runs the real stores without moto.

Faithful where it matters to the stores: conditions and filters (a missing attribute compares false), a
query's Limit counting items read before its filter, LastEvaluatedKey (the table's and the index's keys),
index projections (KEYS_ONLY, INCLUDE, ALL), sparse indexes (an item without the index's keys is not in
it), ADD on a missing number, all-or-nothing transactions naming the failed labels, one write per item per
transaction. Values round-trip through DynamoDB's types (aws.dynamo.to_item/from_item), so numbers come back
as they would. Not emulated: item size limits, capacity, TTL deletion (readers filter expired items
themselves), eventual consistency (every read is consistent).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archie_keys.aws.dynamo import from_item, to_item
from archie_keys.aws.items import (
    Absent,
    All,
    AnyOf,
    BeginsWith,
    Between,
    Changes,
    Check,
    Compare,
    Condition,
    Contains,
    Delete,
    Exists,
    Item,
    Key,
    Not,
    Page,
    Path,
    Put,
    Update,
    Write,
)
from archie_keys.domain.errors import ConditionFailed
from archie_local.template import load_template, resources_of_type

_MISSING = object()


@dataclass(frozen=True)
class Index:
    hash_key: str
    range_key: str | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schema:
    hash_key: str
    range_key: str | None
    indexes: dict[str, Index]

    @classmethod
    def of(cls, properties: dict[str, Any]) -> Schema:
        def keys(schema: list[dict[str, str]]) -> tuple[str, str | None]:
            by_type = {k["KeyType"]: k["AttributeName"] for k in schema}
            return by_type["HASH"], by_type.get("RANGE")

        indexes = {}
        for index in properties.get("GlobalSecondaryIndexes", []):
            hash_key, range_key = keys(index["KeySchema"])
            projection = index.get("Projection", {})
            indexes[index["IndexName"]] = Index(
                hash_key,
                range_key,
                projection.get("ProjectionType", "ALL"),
                tuple(projection.get("NonKeyAttributes", [])),
            )
        hash_key, range_key = keys(properties["KeySchema"])
        return cls(hash_key, range_key, indexes)

    def key_of(self, item: Item) -> tuple[Any, Any]:
        return item[self.hash_key], item.get(self.range_key) if self.range_key else None


def template_schemas(names: dict[str, str] | None = None) -> dict[str, Schema]:
    """The template's DynamoDB tables by logical id (or by the names given for them)."""
    tables = resources_of_type(load_template(), "AWS::DynamoDB::Table")
    return {(names or {}).get(name, name): Schema.of(spec["Properties"]) for name, spec in tables.items()}


def _get(item: Item, path: Path) -> Any:
    value: Any = item
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is _MISSING:
        return op == "<>"  # DynamoDB: a missing attribute is not equal to anything, and compares false
    if type(left) is not type(right) and not (isinstance(left, (int, float)) and isinstance(right, (int, float))):
        return op == "<>"
    try:
        return {
            "=": left == right,
            "<>": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    except TypeError:
        return False


def holds(condition: Condition | None, item: Item | None) -> bool:
    """Whether a condition holds on an item (None: no item, where every attribute is missing)."""
    if condition is None:
        return True
    subject = item or {}
    if isinstance(condition, Exists):
        return _get(subject, condition.path) is not _MISSING
    if isinstance(condition, Absent):
        return _get(subject, condition.path) is _MISSING
    if isinstance(condition, Compare):
        return _compare(_get(subject, condition.path), condition.op, condition.value)
    if isinstance(condition, Contains):
        value = _get(subject, condition.path)
        if isinstance(value, str) and isinstance(condition.value, str):
            return condition.value in value
        return isinstance(value, (list, set)) and condition.value in value
    if isinstance(condition, BeginsWith):
        value = _get(subject, condition.path)
        return isinstance(value, str) and value.startswith(condition.value)
    if isinstance(condition, Between):
        value = _get(subject, condition.path)
        return _compare(value, ">=", condition.low) and _compare(value, "<=", condition.high)
    if isinstance(condition, All):
        return all(holds(part, item) for part in condition.parts)
    if isinstance(condition, AnyOf):
        return any(holds(part, item) for part in condition.parts)
    if isinstance(condition, Not):
        return not holds(condition.part, item)
    raise TypeError(f"not a condition: {condition!r}")


def _stored(item: Item) -> Item:
    """An item as DynamoDB would hand it back (its types' round trip), and a copy nobody else holds."""
    return from_item(to_item(copy.deepcopy(item)))


class MemoryItems:
    """aws.items.Items in memory. `schemas`: table name -> Schema (template_schemas()). `before_write`, when
    set, is called with each write before it is applied (fault injection: raise to fail it)."""

    def __init__(self, schemas: dict[str, Schema]) -> None:
        self.schemas = schemas
        self.tables: dict[str, dict[tuple[Any, Any], Item]] = {name: {} for name in schemas}
        self.before_write: Callable[[Write], None] | None = None
        self.calls: list[str] = []
        self._lock = threading.RLock()

    def _table(self, name: str) -> dict[tuple[Any, Any], Item]:
        if name not in self.tables:
            raise KeyError(f"no table {name!r} (the template's tables: {sorted(self.tables)})")
        return self.tables[name]

    def _slot(self, table: str, key: Key) -> tuple[Any, Any]:
        return self.schemas[table].key_of(key)

    # --- reads ------------------------------------------------------------------------------------------------

    def get(self, table: str, key: Key, *, consistent: bool = True) -> Item | None:
        with self._lock:
            self.calls.append("get")
            item = self._table(table).get(self._slot(table, key))
            return copy.deepcopy(item) if item is not None else None

    def batch_get(self, table: str, keys: Sequence[Key], *, consistent: bool = True) -> list[Item]:
        with self._lock:
            self.calls.append("batch_get")
            found = (self._table(table).get(self._slot(table, key)) for key in keys)
            return [copy.deepcopy(item) for item in found if item is not None]

    def query(
        self,
        table: str,
        partition: tuple[str, Any],
        *,
        sort: Condition | None = None,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start: Key | None = None,
        where: Condition | None = None,
        consistent: bool = False,
    ) -> Page:
        with self._lock:
            self.calls.append("query")
            schema = self.schemas[table]
            hash_key, range_key = (
                (schema.hash_key, schema.range_key)
                if index is None
                else (schema.indexes[index].hash_key, schema.indexes[index].range_key)
            )
            name, value = partition
            if name != hash_key:
                raise ValueError(f"{name} is not the partition key of {table}/{index}")
            candidates = [
                item
                for item in self._table(table).values()
                if item.get(hash_key, _MISSING) == value
                and (range_key is None or range_key in item)
                and holds(sort, item)
            ]
            table_keys = [k for k in (schema.hash_key, schema.range_key) if k]

            def order(item: Item) -> tuple[Any, ...]:
                return (item.get(range_key) if range_key else None, *(item.get(k) for k in table_keys))

            candidates.sort(key=order, reverse=not forward)
            if start is not None:
                position = (start.get(range_key) if range_key else None, *(start.get(k) for k in table_keys))
                candidates = [c for c in candidates if (order(c) > position if forward else order(c) < position)]
            read = candidates[:limit] if limit is not None else candidates
            more = limit is not None and len(candidates) > limit
            keys_of = [*table_keys, *([hash_key, range_key] if index else [])]
            last = {k: read[-1][k] for k in dict.fromkeys(keys_of) if k and k in read[-1]} if more and read else None
            kept = [item for item in read if holds(where, item)]
            return Page([self._projected(schema, index, item) for item in kept], last, len(read))

    def _projected(self, schema: Schema, index: str | None, item: Item) -> Item:
        if index is None or schema.indexes[index].projection == "ALL":
            return copy.deepcopy(item)
        spec = schema.indexes[index]
        keep = {schema.hash_key, schema.range_key, spec.hash_key, spec.range_key, *spec.included}
        return copy.deepcopy({k: v for k, v in item.items() if k in keep})

    # --- writes -----------------------------------------------------------------------------------------------

    def _apply(self, write: Write, tables: dict[str, dict[tuple[Any, Any], Item]]) -> None:
        table = tables[write.table]
        if isinstance(write, Put):
            table[self._slot(write.table, write.item)] = _stored({k: v for k, v in write.item.items() if v is not None})
        elif isinstance(write, Delete):
            table.pop(self._slot(write.table, write.key), None)
        elif isinstance(write, Update):
            slot = self._slot(write.table, write.key)
            item = copy.deepcopy(table.get(slot)) or dict(write.key)
            table[slot] = _stored(_changed(item, write.changes))

    def write(self, write: Write) -> None:
        self.transact([write], _alone=True)

    def transact(self, writes: Sequence[Write], _alone: bool = False) -> None:
        with self._lock:
            self.calls.append("write" if _alone else "transact")
            slots = [(w.table, self._slot(w.table, w.item if isinstance(w, Put) else w.key)) for w in writes]
            if len(set(slots)) != len(slots):
                raise ValueError("a transaction writes one item at most once (DynamoDB refuses it)")
            for write in writes:
                if self.before_write is not None:
                    self.before_write(write)
            failed = [
                w.label
                for w, (table, slot) in zip(writes, slots, strict=True)
                if not holds(w.condition, self._table(table).get(slot))
            ]
            if failed:
                raise ConditionFailed(failed)
            for write in writes:
                if not isinstance(write, Check):
                    self._apply(write, self.tables)


def _changed(item: Item, changes: Changes) -> Item:
    for name, value in changes.set.items():
        if value is not None:
            item[name] = copy.deepcopy(value)
    for name in changes.remove:
        item.pop(name, None)
    for name, amount in changes.add.items():
        if isinstance(amount, (set, frozenset)):
            item[name] = sorted(set(item.get(name, [])) | set(amount))  # sets come back as sorted lists
        else:
            item[name] = item.get(name, 0) + amount
    return item
