"""Reading the audit trail: sharded index queries merged newest first, and a key's hourly usage.

Each shard is read as a stream of Query pages, fetched only when the merge needs them: an unfiltered page
costs one query per stream however many records the key has, and a page whose rows are filtered for the
caller reads on until it is full or the range is exhausted, so it is never empty while covered records
remain. Streams hold items (one record each) and blocks (many: aws.audit_blocks); a block sorts by its
window's end, after every record it holds, so the merge opens it when it reaches it and its records join
the merge in their places. An environment's requests come from its environment blocks, a key's from its key
blocks (which the compactor writes, a couple of arrival buckets behind).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from archie_keys.aws.audit_blocks import (
    BLOCK_WINDOW_SECONDS,
    ENV_BLOCK_PREFIX,
    INDEX_BY_ARRIVAL,
    KEY_BLOCK_PREFIX,
    ArrivalRef,
    StoredBlock,
    arrival_value,
    later_at,
)
from archie_keys.aws.audit_merge import block_records, merged
from archie_keys.aws.audit_writer import (
    AUDIT_SHARDS,
    COMPACTION_PK,
    COMPACTION_SK,
    INDEX_BY_ACTOR,
    INDEX_BY_ENV,
    INDEX_BY_KEY,
    partition_value,
)
from archie_keys.aws.dynamo import from_item, to_item
from archie_keys.aws.items import Item
from archie_keys.domain.audit import hour_of
from archie_keys.domain.audit_blocks import UnreadableBlockError
from archie_keys.domain.audit_records import AuditRecord, HourlyUsage, audit_record, hourly_usage
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.errors import ServiceUnavailableError

# `at` values are "<ISO time>#<id>": these bound every possible one.
AT_MIN, AT_MAX = "0000", "9999"
# Blocks read by a stream's first Query (later ones read more): one holds up to BLOCK_MAX_RECORDS records.
BLOCKS_PER_QUERY = 2


class AuditReader:
    def __init__(self, table: str, client: Any, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.client = client
        self.clock = clock

    def _pages(self, request: dict[str, Any], most: int | None = None) -> Iterator[Item]:
        """Query pages. With `most`, the page size grows fourfold from the request's Limit up to `most`: a
        block may hold one record or hundreds, so a first small page is cheap and later ones catch up."""
        while True:
            response = self.client.query(**request)
            yield from (from_item(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if last is None:
                return
            request["ExclusiveStartKey"] = last
            if most is not None:
                request["Limit"] = min(most, request["Limit"] * 4)

    def _index(self, index: str, attribute: str, value: str, lower: str, upper: str, batch: int) -> Iterator[Item]:
        return self._pages(
            {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": "#b = :b AND #at BETWEEN :lower AND :upper",
                "ExpressionAttributeNames": {"#b": attribute, "#at": "at"},
                "ExpressionAttributeValues": to_item({":b": value, ":lower": lower, ":upper": upper}),
                "ScanIndexForward": False,
                "Limit": batch,
            }
        )

    def _blocks(self, pk: str, lower: str, upper: str, most: int) -> Iterator[Item]:
        return self._pages(
            {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lower AND :upper",
                "ExpressionAttributeValues": to_item({":pk": pk, ":lower": lower, ":upper": upper}),
                "ScanIndexForward": False,
                "Limit": BLOCKS_PER_QUERY,
            },
            most,
        )

    def query(
        self,
        project: str,
        environment: str,
        *,
        key_id: str | None,
        actor_key_id: str | None,
        lower: str,
        upper: str,
        after: str | None,
        limit: int,
        requests: bool = True,
        accept: Callable[[AuditRecord], bool] | None = None,
    ) -> tuple[list[AuditRecord], bool]:
        """Records with lower <= at <= upper (and at < after, when paging), newest first, that `accept` takes:
        up to `limit` of them, and whether more remain. requests=False skips the request blocks (a caller
        that wants only events)."""
        if after is not None:
            upper = min(upper, after)
        # A block sorts at its window's end: one holding records up to `upper` may sort a window later.
        block_upper = later_at(upper, BLOCK_WINDOW_SECONDS)
        streams: list[Iterator[Item]] = []
        if key_id:
            key_prefix = partition_value(project, environment, key_id)
            streams += [
                self._index(INDEX_BY_KEY, "key_bucket", f"{key_prefix}#{shard}", lower, upper, limit + 1)
                for shard in range(AUDIT_SHARDS)
            ]
            if requests and not actor_key_id:  # blocks hold requests, which no actor makes
                streams += [
                    self._blocks(f"{KEY_BLOCK_PREFIX}{key_prefix}#{shard}", lower, block_upper, limit + 1)
                    for shard in range(AUDIT_SHARDS)
                ]
        elif actor_key_id:
            actor_prefix = partition_value(project, environment, actor_key_id)
            streams += [
                self._index(INDEX_BY_ACTOR, "actor_bucket", f"{actor_prefix}#{shard}", lower, upper, limit + 1)
                for shard in range(AUDIT_SHARDS)
            ]
        else:
            env_prefix = partition_value(project, environment)
            streams += [
                self._index(INDEX_BY_ENV, "env_bucket", f"{env_prefix}#{shard}", lower, upper, limit + 1)
                for shard in range(AUDIT_SHARDS)
            ]
            if requests:
                streams += [
                    self._blocks(f"{ENV_BLOCK_PREFIX}{env_prefix}#{shard}", lower, block_upper, limit + 1)
                    for shard in range(AUDIT_SHARDS)
                ]
        now = self.clock()
        page: list[AuditRecord] = []
        for item in merged(streams, requests):
            if item["at"] > upper or item["at"] < lower:
                continue  # a block's neighbour outside the range, or one of its records
            if after is not None and item["at"] >= after:
                continue  # the previous page's last record, which bounds this page
            if item.get("purge_epoch", now + 1) <= now:
                continue  # past retention: TTL deletes it eventually, reads never show it
            if actor_key_id and key_id and item.get("actor_key_id") != actor_key_id:
                continue
            record = audit_record({**item, "id": item["pk"].split("#", 1)[1]})  # its id: its key minus the kind
            if accept is not None and not accept(record):
                continue
            if len(page) == limit:
                return page, True
            page.append(record)
        return page, False

    @staticmethod
    def at_bounds(since: float | None, until: float | None) -> tuple[str, str]:
        """query's lower and upper for records at or after `since` and at or before `until` (None: unbounded);
        "#~" sorts after every "#<id>", so a record at exactly `until` is included."""
        return (to_iso(since) if since is not None else AT_MIN, f"{to_iso(until)}#~" if until is not None else AT_MAX)

    def arrivals(self, bucket_start: float, page_size: int | None = None) -> Iterator[ArrivalRef]:
        """Every environment block written in one arrival bucket: its keys (pk, sk) and the key ids it holds,
        each shard read a page (`page_size` entries) at a time, the shards merged in `at` order. The order is
        always the same for a closed bucket (the compactor's chunks depend on it), and it is not shard after
        shard: a key block made of one environment block's records has that block's id, hence its shard, so
        reading the shards one after another would send a hot key's blocks to one partition at a time."""

        def shard(number: int) -> Iterator[ArrivalRef]:
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": INDEX_BY_ARRIVAL,
                "KeyConditionExpression": "arrival = :arrival",
                "ExpressionAttributeValues": to_item({":arrival": arrival_value(bucket_start, number)}),
            }
            if page_size is not None:
                request["Limit"] = page_size
            for item in self._pages(request):
                keys = frozenset(str(key_id) for key_id in item.get("key_ids", ()))
                yield ArrivalRef(pk=item["pk"], sk=item["sk"], at=item["at"], key_ids=keys)

        return heapq.merge(*(shard(n) for n in range(AUDIT_SHARDS)), key=lambda ref: (ref.at, ref.pk))

    def blocks(self, refs: Sequence[ArrivalRef], attempts: int = 6) -> list[StoredBlock]:
        """The blocks these refs name (pk, sk), read strongly consistent (the index that named them is not).
        Keys DynamoDB leaves unprocessed are asked again with exponential backoff, a bounded number of times."""
        found: list[StoredBlock] = []
        for start in range(0, len(refs), 100):
            batch = [to_item({"pk": ref.pk, "sk": ref.sk}) for ref in refs[start : start + 100]]
            pending: dict[str, Any] = {self.table: {"Keys": batch, "ConsistentRead": True}}
            for attempt in range(attempts):
                if attempt:
                    time.sleep(0.05 * 2**attempt)
                response = self.client.batch_get_item(RequestItems=pending)
                found += [_stored_block(from_item(item)) for item in response.get("Responses", {}).get(self.table, [])]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                raise ServiceUnavailableError()
        return found

    def compacted_through(self) -> float | None:
        """The start of the last arrival bucket compacted into key blocks, or None before the first run."""
        response = self.client.get_item(
            TableName=self.table, Key=to_item({"pk": COMPACTION_PK, "sk": COMPACTION_SK}), ConsistentRead=True
        )
        item = response.get("Item")
        return from_iso(from_item(item)["done_through"]) if item else None

    def usage(self, project: str, environment: str, key_id: str, since_epoch: float) -> list[HourlyUsage]:
        """A key's hourly counters since a moment, every page of them: a counter names the arrival buckets it
        counted (aws.audit_writer.add_bucket_usage), so 90 days of them pass the 1 MB a Query page reads."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk >= :since",
            "ProjectionExpression": "sk, #allowed, #refused",
            "ExpressionAttributeNames": {"#allowed": "allowed", "#refused": "refused"},
            "ExpressionAttributeValues": to_item(
                {":pk": f"USAGE#{project}#{environment}#{key_id}", ":since": hour_of(since_epoch)}
            ),
        }
        return [hourly_usage({**item, "hour": item["sk"]}) for item in self._pages(request)]


def _stored_block(item: Item) -> StoredBlock:
    """A block's item as read (its key ids, an environment block's index entry, are the arrival index's). An
    item without its place or records is named in the error: the compactor fails (then skips) that bucket."""
    try:
        return StoredBlock(
            pk=item["pk"],
            sk=item["sk"],
            project=item["project"],
            environment=item["environment"],
            key_id=item.get("key_id"),
            data=bytes(item["records"]),
        )
    except (KeyError, TypeError) as error:
        raise UnreadableBlockError(
            f"the audit block {item.get('pk')} {item.get('sk')} cannot be read: {type(error).__name__} {error}"
        ) from error


# Tools and tests that read a block's item from the table directly see its records as the reader's merge does.
__all__ = ["AT_MAX", "AT_MIN", "BLOCKS_PER_QUERY", "AuditReader", "block_records"]
