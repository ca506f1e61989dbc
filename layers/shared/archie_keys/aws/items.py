"""What the stores ask of a table, said once for every backend: conditions, updates, writes, reads.

The stores (key_store, audit_writer, audit_reader, idempotency, coordination) build these plain values and
hand them to an `Items` backend: `aws.dynamo_items.DynamoItems` turns them into DynamoDB requests, and the
tests' in-memory backend (tests/fakes) evaluates them on dicts. So a store's logic (which item, under which
condition, changed how) exists once, and the logic tier of the tests runs it without moto or a network.

    write = Put("keys", item, condition=absent("pk"), label="key")
    items.transact([write, ...])             # all or nothing; ConditionFailed names the labels that failed
    items.query("keys", ("pk", partition), sort=prefix("sk", "KEY#"), forward=False, limit=26, where=...)

Attribute paths are tuples ("context", "tenant") or plain names; values are JSON's types (str, int, float,
bool, list, dict) and sets of strings. Items come back as the stores wrote them, numbers as int or float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol

Path = tuple[str, ...]
Key = dict[str, Any]
Item = dict[str, Any]


def _path(name: str | Path) -> Path:
    return (name,) if isinstance(name, str) else tuple(name)


# --- conditions ---------------------------------------------------------------------------------------------


class Condition:
    """A condition on one item (or a filter on each item of a query). Combine with & and |, negate with ~."""

    def __and__(self, other: Condition) -> Condition:
        return All((self, other))

    def __or__(self, other: Condition) -> Condition:
        return AnyOf((self, other))

    def __invert__(self) -> Condition:
        return Not(self)


@dataclass(frozen=True)
class Exists(Condition):
    path: Path


@dataclass(frozen=True)
class Absent(Condition):
    path: Path


@dataclass(frozen=True)
class Compare(Condition):
    path: Path
    op: str  # one of COMPARISONS
    value: Any


@dataclass(frozen=True)
class Contains(Condition):
    """A string attribute containing a substring, or a list or set holding a value."""

    path: Path
    value: Any


@dataclass(frozen=True)
class BeginsWith(Condition):
    path: Path
    value: str


@dataclass(frozen=True)
class Between(Condition):
    path: Path
    low: Any
    high: Any


@dataclass(frozen=True)
class All(Condition):
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not(Condition):
    part: Condition


COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")


def exists(name: str | Path) -> Condition:
    return Exists(_path(name))


def absent(name: str | Path) -> Condition:
    return Absent(_path(name))


def eq(name: str | Path, value: Any) -> Condition:
    return Compare(_path(name), "=", value)


def ne(name: str | Path, value: Any) -> Condition:
    return Compare(_path(name), "<>", value)


def lt(name: str | Path, value: Any) -> Condition:
    return Compare(_path(name), "<", value)


def le(name: str | Path, value: Any) -> Condition:
    return Compare(_path(name), "<=", value)


def gt(name: str | Path, value: Any) -> Condition:
    return Compare(_path(name), ">", value)


def ge(name: str | Path, value: Any) -> Condition:
    return Compare(_path(name), ">=", value)


def contains(name: str | Path, value: Any) -> Condition:
    return Contains(_path(name), value)


def prefix(name: str | Path, value: str) -> Condition:
    return BeginsWith(_path(name), value)


def between(name: str | Path, low: Any, high: Any) -> Condition:
    return Between(_path(name), low, high)


def every(*parts: Condition) -> Condition:
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def any_of(*parts: Condition) -> Condition:
    return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))


# --- updates and writes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """An update of one item: attributes set (None is left out, never stored), removed, and added to: a number
    to a number (a missing one counts from 0), or a set's members to a set (a missing one starts empty)."""

    set: Mapping[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    add: Mapping[str, int | float | AbstractSet[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Put:
    table: str
    item: Item
    condition: Condition | None = None
    label: str = ""


@dataclass(frozen=True)
class Update:
    table: str
    key: Key
    changes: Changes
    condition: Condition | None = None
    label: str = ""


@dataclass(frozen=True)
class Delete:
    table: str
    key: Key
    condition: Condition | None = None
    label: str = ""


@dataclass(frozen=True)
class Check:
    table: str
    key: Key
    condition: Condition
    label: str = ""


Write = Put | Update | Delete | Check


# --- reads --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list[Item]
    # Where the next page starts (the last item read, keys only), or None when the range is read.
    last_key: Key | None
    # Items the query read before its filter (what a page of a sparse filter costs).
    scanned: int = 0


class Items(Protocol):
    """A backend the stores write and read through (DynamoDB, or the tests' memory)."""

    def get(self, table: str, key: Key, *, consistent: bool = True) -> Item | None: ...

    def batch_get(self, table: str, keys: Sequence[Key], *, consistent: bool = True) -> list[Item]: ...

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
        """One page: at most `limit` items read (before `where` filters them) from `start` on. `sort` is a condition on
        the table's (or the index's) sort key: Compare, BeginsWith or Between."""
        ...

    def write(self, write: Write) -> None:
        """One write, alone. Raises domain.errors.ConditionFailed([label]) when its condition does not hold."""
        ...

    def transact(self, writes: Sequence[Write]) -> None:
        """Writes, all or none. Raises ConditionFailed with the labels of those whose conditions did not
        hold (nothing written), ConflictError when another transaction touched the same items, and
        ServiceUnavailableError when the backend cannot take them now."""
        ...
