"""Reading the audit trail: sharded index queries merged newest first, and a key's hourly usage.

Each shard is read as a stream of Query pages of `limit + 1` items, fetched only when the merge needs
them: an unfiltered page costs AUDIT_SHARDS queries however many records the key has, and a page whose rows
are filtered for the caller reads on until it is full or the range is exhausted, so it is never empty while
covered records remain.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from typing import Any

from archie_keys.aws.audit_writer import AUDIT_SHARDS, INDEX_BY_ACTOR, INDEX_BY_ENV, INDEX_BY_KEY, bucket
from archie_keys.aws.dynamo import from_item, to_item
from archie_keys.domain.audit import hour_of

# `at` values are "<ISO time>#<id>": these bound every possible one.
AT_MIN, AT_MAX = "0000", "9999"


class AuditReader:
    def __init__(self, table: str, client: Any, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.client = client
        self.clock = clock

    def _shard(self, index: str, attribute: str, value: str, lower: str, upper: str, batch: int) -> Iterator[dict]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "#b = :b AND #at BETWEEN :lower AND :upper",
            "ExpressionAttributeNames": {"#b": attribute, "#at": "at"},
            "ExpressionAttributeValues": to_item({":b": value, ":lower": lower, ":upper": upper}),
            "ScanIndexForward": False,
            "Limit": batch,
        }
        while True:
            response = self.client.query(**request)
            yield from (from_item(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if last is None:
                return
            request["ExclusiveStartKey"] = last

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
        accept: Callable[[dict[str, Any]], bool] | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Records with lower <= at <= upper (and at < after, when paging), newest first, that `accept` takes:
        up to `limit` of them, and whether more remain."""
        if after is not None:
            upper = min(upper, after)
        if key_id:
            index, attribute, prefix = INDEX_BY_KEY, "key_bucket", bucket(project, environment, key_id)
        elif actor_key_id:
            index, attribute, prefix = INDEX_BY_ACTOR, "actor_bucket", bucket(project, environment, actor_key_id)
        else:
            index, attribute, prefix = INDEX_BY_ENV, "env_bucket", bucket(project, environment)
        streams = [
            self._shard(index, attribute, f"{prefix}#{shard}", lower, upper, limit + 1) for shard in range(AUDIT_SHARDS)
        ]
        now = self.clock()
        page: list[dict[str, Any]] = []
        for item in heapq.merge(*streams, key=lambda record: record["at"], reverse=True):
            if after is not None and item["at"] >= after:
                continue  # the previous page's last record, which bounds this page
            if item.get("purge_epoch", now + 1) <= now:
                continue  # past retention: TTL deletes it eventually, reads never show it
            if actor_key_id and key_id and item.get("actor_key_id") != actor_key_id:
                continue
            if accept is not None and not accept(item):
                continue
            if len(page) == limit:
                return page, True
            page.append(item)
        return page, False

    def usage(self, project: str, environment: str, key_id: str, since_epoch: float) -> list[dict[str, Any]]:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues=to_item(
                {":pk": f"USAGE#{project}#{environment}#{key_id}", ":since": hour_of(since_epoch)}
            ),
        )
        return [
            {
                "hour": i["sk"],
                "allowed": int(i.get("allowed", 0)),
                "refused": int(i.get("refused", 0)),
                "requests": int(i.get("allowed", 0)) + int(i.get("refused", 0)),
            }
            for i in (from_item(item) for item in response.get("Items", []))
        ]
