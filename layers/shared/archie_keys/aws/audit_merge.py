"""The audit reader's newest-first merge of its streams (aws.audit_reader): items (one record each) and blocks
(many), a block opened when the merge reaches it. Its items are the table's, as stored: the reader filters
them on storage attributes (at, purge_epoch) before it makes records of those it keeps."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from archie_keys.aws.audit_blocks import block_records_of
from archie_keys.aws.items import Item
from archie_keys.domain.audit_records import at_of


def merged(streams: list[Iterator[Item]], requests: bool) -> Iterator[Item]:
    """The streams' records newest first. A block, when the merge reaches it, is replaced by its records:
    each is earlier than the block's `at`, so none of them is due before anything already yielded."""
    heap: list[tuple[_Descending, int, Item, Iterator[Item] | None]] = []
    order = 0

    def push(item: Item, stream: Iterator[Item] | None) -> None:
        nonlocal order
        order += 1
        heapq.heappush(heap, (_Descending(item["at"]), order, item, stream))

    def advance(stream: Iterator[Item]) -> None:
        item = next(stream, None)
        if item is not None:
            push(item, stream)

    for stream in streams:
        advance(stream)
    while heap:
        _, _, item, source = heapq.heappop(heap)
        if source is not None:
            advance(source)
        if item.get("kind") != "block":
            yield item
        elif requests:
            for record in block_records(item):
                push(record, None)


def block_records(block: Item) -> list[Item]:
    """A block's records as the items of single requests read."""
    place = {
        "kind": "request",
        "project": block["project"],
        "environment": block["environment"],
        "purge_epoch": block["purge_epoch"],
    }
    if "key_id" in block:  # a key block names its key once; an environment block's records each name theirs
        place["key_id"] = block["key_id"]
    return [
        {
            **place,
            **{k: v for k, v in record.items() if k != "id"},
            "pk": f"REQ#{record['id']}",
            "at": at_of(record["time"], record["id"]),
        }
        for record in block_records_of(block)
    ]


class _Descending:
    """A heap key that sorts strings in reverse (heapq is a min-heap)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return self.value > other.value
