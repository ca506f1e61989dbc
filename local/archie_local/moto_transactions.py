"""moto's DynamoDB transactions, rolled back item by item instead of table by table.

moto makes every TransactWriteItems all-or-nothing by deep-copying each table it touches before it starts
and putting the copy back when it is cancelled. The copy costs the table's size: 4 ms for an empty table,
62 ms at 1,000 items, 236 ms at 4,000 (measured with `make load`'s moto), so a local stack that has created
a few thousand keys spends most of its time copying, and its audit compactor (a transaction per key block)
falls behind. DynamoDB's cost does not grow with the table; this keeps moto's semantics (every write of a
cancelled transaction undone, its stream records too) at the cost of the items the transaction touches.

`install()` patches moto's backend class once: moto's server process (archie_local.moto_process) and the
in-process mock of the tests both use it. Transactions are never concurrent there (the server and the tests
serialize every AWS call), which the journal relies on, as moto's own copy did.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

_installed = False


class _TablesAreNotCopied:
    """Stands in for the `copy` module in moto's backend module: a Table is handed back as is (the journal
    below undoes a cancelled transaction instead), anything else is deep-copied as before."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


class _Journal:
    """The items one transaction is about to change, as they were before, and each table's stream length."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._before: dict[tuple[str, Any, Any], Any] = {}
        self._streams: dict[str, int] = {}

    def _locate(self, table_name: str, key: dict[str, Any]) -> tuple[Any, Any, Any]:
        from moto.dynamodb.models.dynamo_type import DynamoType

        table = self._backend.get_table(table_name)
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        return table, hash_value, range_value

    def remember(self, table_name: str, key: dict[str, Any]) -> None:
        table, hash_value, range_value = self._locate(table_name, key)
        slot = (table_name, hash_value, range_value)
        if slot not in self._before:
            current = table.get_item(hash_value, range_value)
            self._before[slot] = copy.deepcopy(current) if current is not None else None
        if table_name not in self._streams and table.stream_shard is not None:
            self._streams[table_name] = len(table.stream_shard.items)

    def roll_back(self) -> None:
        for (table_name, hash_value, range_value), item in self._before.items():
            table = self._backend.get_table(table_name)
            if item is None:
                if range_value is not None:
                    table.items[hash_value].pop(range_value, None)
                else:
                    table.items.pop(hash_value, None)
            elif range_value is not None:
                table.items[hash_value][range_value] = item
            else:
                table.items[hash_value] = item
        for table_name, length in self._streams.items():
            shard = self._backend.get_table(table_name).stream_shard
            if shard is not None:
                del shard.items[length:]


def install() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    backend_type = models.DynamoDBBackend
    original: Callable[..., None] = backend_type.transact_write_items
    models.copy = _TablesAreNotCopied(Table)  # type: ignore[assignment,attr-defined]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        journal = _Journal(self)
        for entry in transact_items:
            for op_type, op in entry.items():
                if op_type in ("Put", "Update", "Delete") and op.get("TableName") in self.tables:
                    table = self.tables[op["TableName"]]
                    source = op["Item"] if op_type == "Put" else op.get("Key", {})
                    key = {table.hash_key_attr: source.get(table.hash_key_attr)}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = source.get(table.range_key_attr)
                    if all(value is not None for value in key.values()):
                        journal.remember(op["TableName"], key)
        try:
            original(self, transact_items)
        except BaseException:
            journal.roll_back()
            raise

    backend_type.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True
