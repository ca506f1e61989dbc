"""The tests' in-memory tables answer as DynamoDB does (here: moto) for everything the stores ask of them, so
the logic tier, which runs the real stores on memory, proves what it claims. Each scenario runs on both and
their answers are compared whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from archie_keys.aws.dynamo_items import DynamoItems
from archie_keys.aws.items import (
    Changes,
    Check,
    Delete,
    Items,
    Put,
    Update,
    absent,
    any_of,
    between,
    contains,
    eq,
    every,
    exists,
    ge,
    le,
    lt,
    ne,
    prefix,
)
from archie_keys.domain.errors import ConditionFailed
from tests.fakes.memory_items import MemoryItems, template_schemas

Scenario = Callable[[Items, dict[str, str]], Any]


@pytest.fixture
def backends(aws: Any) -> list[tuple[Items, dict[str, str]]]:
    """The same tables twice: moto's, provisioned from the template, and memory's, read from the template."""
    env = aws.environment
    names = {
        "KeysTable": env["KEYS_TABLE"],
        "AuditTable": env["AUDIT_TABLE"],
        "IdempotencyTable": env["IDEMPOTENCY_TABLE"],
    }
    memory = MemoryItems(template_schemas(names))
    return [(DynamoItems(boto3.client("dynamodb")), names), (memory, names)]


def both(backends: list[tuple[Items, dict[str, str]]], scenario: Scenario) -> Any:
    answers = []
    for items, names in backends:
        try:
            answers.append(("ok", scenario(items, names)))
        except ConditionFailed as failed:
            answers.append(("refused", failed.labels))
    assert answers[0] == answers[1], f"moto: {answers[0]}\nmemory: {answers[1]}"
    return answers[0]


def key(sk: str) -> dict[str, str]:
    return {"pk": "P#1", "sk": sk}


def test_conditional_puts_updates_and_deletes(backends) -> None:
    def scenario(items: Items, t: dict[str, str]) -> Any:
        keys = t["KeysTable"]
        log = []
        items.write(Put(keys, {**key("A"), "n": 1, "ctx": {"tenant": "t1"}, "tags": ["x", "y"]}, absent("pk"), "a"))
        for attempt in (
            lambda: items.write(Put(keys, {**key("A"), "n": 2}, absent("pk"), "again")),
            lambda: items.write(Update(keys, key("A"), Changes(set={"n": 5}), eq("n", 2), "stale")),
            lambda: items.write(Delete(keys, key("B"), exists("pk"), "gone")),
        ):
            try:
                attempt()
            except ConditionFailed as failed:
                log.append(failed.labels)
        items.write(Update(keys, key("A"), Changes(set={"n": 3, "s": "v", "skip": None}, add={"c": 2}), le("n", 1)))
        items.write(Update(keys, key("A"), Changes(remove=("s",), add={"c": 1.5}), eq(("ctx", "tenant"), "t1")))
        items.write(Update(keys, key("C"), Changes(add={"count": 1})))  # creates the item, counting from 0
        log.append([items.get(keys, key("A")), items.get(keys, key("C")), items.get(keys, key("B"))])
        return log

    both(backends, scenario)


def test_a_transaction_writes_all_or_nothing_and_names_every_failed_condition(backends) -> None:
    def scenario(items: Items, t: dict[str, str]) -> Any:
        keys, audit = t["KeysTable"], t["AuditTable"]
        items.write(Put(keys, {**key("ROLE#r"), "key_count": 1}))
        outcome = []
        try:
            items.transact(
                [
                    Put(keys, {**key("KEY#1"), "name": "k"}, absent("pk"), "key"),
                    Update(keys, key("ROLE#r"), Changes(add={"key_count": -1}), le("key_count", 0), "role_in_use"),
                    Check(keys, key("ENV"), exists("pk"), "environment"),
                    Put(audit, {"pk": "EVT#1", "sk": "E", "at": "1"}),
                ]
            )
        except ConditionFailed as failed:
            outcome.append(failed.labels)
        outcome.append(
            [
                items.get(keys, key("KEY#1")),
                items.get(keys, key("ROLE#r")),
                items.get(audit, {"pk": "EVT#1", "sk": "E"}),
            ]
        )
        items.write(Put(keys, {**key("ENV")}))
        items.transact(
            [Put(keys, {**key("KEY#1"), "name": "k"}, absent("pk"), "key"), Check(keys, key("ENV"), exists("pk"))]
        )
        outcome.append(items.get(keys, key("KEY#1")))
        return outcome

    both(backends, scenario)


def test_queries_page_filter_and_order_as_dynamodb_does(backends) -> None:
    def scenario(items: Items, t: dict[str, str]) -> Any:
        keys = t["KeysTable"]
        for i in range(12):
            items.write(
                Put(
                    keys,
                    {**key(f"KEY#{i:02d}"), "ctx": {"tenant": "t1" if i % 3 else "t2"}, "name": f"Key {i}", "i": i},
                )
            )
        items.write(Put(keys, {**key("ROLE#x")}))
        pages = []
        for forward in (True, False):
            start = None
            while True:
                page = items.query(
                    keys,
                    ("pk", "P#1"),
                    sort=prefix("sk", "KEY#"),
                    forward=forward,
                    limit=5,
                    start=start,
                    where=every(eq(("ctx", "tenant"), "t1"), any_of(contains("name", "1"), ge("i", 8))),
                    consistent=True,
                )
                pages.append(([item["sk"] for item in page.items], page.last_key, page.scanned))
                if page.last_key is None:
                    break
                start = page.last_key
        pages.append([i["sk"] for i in items.query(keys, ("pk", "P#1"), sort=between("sk", "KEY#03", "KEY#05")).items])
        pages.append([i["sk"] for i in items.query(keys, ("pk", "P#1"), sort=lt("sk", "KEY#02")).items])
        pages.append([i["sk"] for i in items.query(keys, ("pk", "P#1"), where=ne("i", 4) & absent("gone")).items])
        return pages

    both(backends, scenario)


def test_index_queries_hold_only_items_with_the_index_keys_and_project_what_the_template_says(backends) -> None:
    def scenario(items: Items, t: dict[str, str]) -> Any:
        audit = t["AuditTable"]
        for i in range(6):
            block = {
                "pk": f"ENVB#p#e#{i % 2}",
                "sk": f"2026-01-01T00:00:0{i}Z#b{i}",
                "at": f"2026-01-01T00:00:0{i}Z#b{i}",
            }
            listed = {"arrival": "2026-01-01T00:00:00Z#0", "key_ids": {f"k{i}", "k9"}} if i % 3 else {}
            items.write(Put(audit, {**block, **listed, "records": "big", "count": i}))
        page = items.query(audit, ("arrival", "2026-01-01T00:00:00Z#0"), index="by_arrival", forward=False, limit=3)
        rest = items.query(
            audit, ("arrival", "2026-01-01T00:00:00Z#0"), index="by_arrival", forward=False, start=page.last_key
        )
        return [page.items, page.last_key, rest.items, rest.last_key]

    both(backends, scenario)
