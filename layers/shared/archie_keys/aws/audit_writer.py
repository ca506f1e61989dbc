"""Writing the audit trail (AuditTable): management events, request records, hourly usage counters.

Table layout:

    pk = REQ#<extended request id>, sk = R   a request stored alone: written by earlier versions (each
                                         refused or keyless request), still read until their TTL purges them
    pk = EVT#<event id>,   sk = E        a management event (key created, deleted, rolled; role changed; ...)
    pk = USAGE#<p>#<e>#<key id>, sk = <hour>   requests per key and hour (and the arrival buckets counted)
    pk = ENVB#<p>#<e>#<shard>, sk = at   every request, many to an item, per environment and (those
    pk = BLK#<p>#<e>#<key id>#<shard>    attributed to a key) per key: aws.audit_blocks
    pk = COMPACTION, sk = STATE          the last arrival bucket whose blocks were compacted into key blocks
    pk = COMPACTION, sk = SKIPPED#<bucket>   a bucket the compactor gave up on (aws.compaction_ledger)

    GSI by_key   (key_bucket   = <p>#<e>#<key id>#<shard>, at)   requests by a key, events about it
    GSI by_actor (actor_bucket = <p>#<e>#<actor key id>#<shard>, at)   events a key performed
    GSI by_env   (env_bucket   = <p>#<e>#<shard>, at)   the items of an environment (its blocks are read
                                                          from their own partitions)
    GSI by_arrival (arrival = <bucket ISO>#<shard>, at)  INCLUDE key_ids: environment blocks by arrival bucket

`at` is "<ISO time>#<id>": unique and time-ordered. The shard (a hash of the record id, AUDIT_SHARDS of
them) spreads one busy key over several index partitions, so it is never a hot partition; the reader
(aws.audit_reader) merges the shards.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from archie_keys.aws.audit_blocks import (
    ENV_BLOCK_PREFIX,
    KEY_BLOCK_PREFIX,
    ArrivalRef,
    PackedBlock,
    arrival_value,
    block_at,
    block_id,
    pack,
    window_end,
)
from archie_keys.aws.dynamo import Transactions, Write, conditional_write, to_item
from archie_keys.domain.audit_records import RequestRecord
from archie_keys.domain.change_records import EVENT_RECORDED
from archie_keys.domain.clock import from_iso, to_iso

AUDIT_SHARDS = 4
# The label of a refused event written `once_for` something: that event is already recorded.
COMPACTION_PK, COMPACTION_SK = "COMPACTION", "STATE"
INDEX_BY_KEY, INDEX_BY_ACTOR, INDEX_BY_ENV = "by_key", "by_actor", "by_env"


def shard_of(record_id: str) -> int:
    return int.from_bytes(hashlib.sha256(record_id.encode()).digest()[:2], "big") % AUDIT_SHARDS


def partition_value(*parts: str) -> str:
    """An index partition's value: project, environment, [key id,] shard, joined by "#". The attributes that hold
    it keep their stored names (key_bucket, actor_bucket, env_bucket: the template's indexes); in the code,
    "bucket" means an arrival bucket only (aws.audit_blocks)."""
    return "#".join(parts)


def is_environment_block_of(block: ArrivalRef, project: str, environment: str) -> bool:
    """Whether an environment block (as the arrival index lists it) holds this environment's requests."""
    return block.pk.startswith(f"{ENV_BLOCK_PREFIX}{partition_value(project, environment)}#")


class AuditWriter:
    # The function above, as the compactor's port asks it of the writer (app.audit_ports.AuditBlockWriter).
    is_environment_block_of = staticmethod(is_environment_block_of)

    def __init__(self, table: str, client: Any, retention_days: int) -> None:
        self.table = table
        self.client = client
        self.transactions = Transactions(client)
        self.retention_seconds = retention_days * 86400

    def event_write(
        self,
        event: str,
        project: str,
        environment: str,
        actor_key_id: str,
        key_id: str | None = None,
        details: dict[str, Any] | None = None,
        once_for: tuple[str, ...] | None = None,
    ) -> Write:
        """A management event, attributed to the key that performed it (and, if about a key, to that key), as
        one item of the transaction that makes the change it describes.

        With `once_for` the event is recorded once: its id is derived from the event, its place and those
        values (for a leak: the key and where it leaked), and the write holds only if no event has that id,
        so a redelivered or replayed message cannot record it again. The transaction is then refused with
        the label EVENT_RECORDED, in the same commit as the change, with no read first."""
        if once_for is None:
            event_id = uuid.uuid4().hex
        else:
            identity = json.dumps([event, project, environment, *once_for])
            event_id = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        now = time.time()
        shard = str(shard_of(event_id))
        item: dict[str, Any] = {
            "pk": f"EVT#{event_id}",
            "sk": "E",
            "kind": "event",
            "event": event,
            "project": project,
            "environment": environment,
            "actor_key_id": actor_key_id,
            "at": f"{to_iso(now)}#{event_id}",
            "time": to_iso(now),
            "purge_epoch": int(now + self.retention_seconds),
            "actor_bucket": partition_value(project, environment, actor_key_id, shard),
            "env_bucket": partition_value(project, environment, shard),
            "details": details or {},
        }
        if key_id:
            item["key_id"] = key_id
            item["key_bucket"] = partition_value(project, environment, key_id, shard)
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if once_for is None:
            return Write({"Put": put}, "audit_event")
        put["ConditionExpression"] = "attribute_not_exists(pk)"
        return Write({"Put": put}, EVENT_RECORDED)

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Put an item that must not exist yet; False when it does (a redelivery, a retried compaction)."""
        return conditional_write(
            self.client.put_item,
            TableName=self.table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def _block(self, pk_prefix: str, parts: tuple[str, ...], block: PackedBlock) -> dict[str, Any]:
        shard = shard_of(block.identifier)
        return {
            "pk": f"{pk_prefix}{partition_value(*parts, str(shard))}",
            "sk": block_at(block.end, block.identifier),
            "at": block_at(block.end, block.identifier),
            "kind": "block",
            "records": block.data,
            "count": block.count,
            "purge_epoch": int(block.end + self.retention_seconds),
            "_shard": shard,
        }

    def put_environment_block(
        self, project: str, environment: str, records: Sequence[RequestRecord], arrival_bucket: float
    ) -> bool:
        """Store one environment block: an environment's records (`key_id` on those attributed to a key) from
        one window of one delivery. A block holding attributed records is listed
        under the arrival bucket it is written in, with their key ids (the compactor finds it there, and a
        guarded delete reads only the blocks of its key); one without (refused or keyless requests only) is
        not listed, which saves the index write. Returns False when the block is already stored (a
        redelivery): it is then neither stored nor listed again."""
        packed = PackedBlock(
            block_id(record.id for record in records),
            window_end(from_iso(records[0].time)),
            len(records),
            pack(records),
        )
        item = self._block(ENV_BLOCK_PREFIX, (project, environment), packed)
        shard = item.pop("_shard")
        item.update({"project": project, "environment": environment})
        keys = {record.key_id for record in records if record.key_id}
        if keys:
            item.update({"arrival": arrival_value(arrival_bucket, shard), "key_ids": keys})
        return self._put_new(item)

    def put_key_block(
        self,
        project: str,
        environment: str,
        key_id: str,
        block: PackedBlock,
        pace: Callable[[str, int], None] | None = None,
    ) -> bool:
        """Store one key block (a key's records from one window of one arrival bucket), unless it is stored:
        False when it is (a compaction retried, or overlapping). `pace(partition, write units)` is called
        before the write, so a caller can keep each partition within its budget. Its requests are counted
        apart, once per bucket (add_bucket_usage): a block is a plain Put, so a key's blocks go out side by
        side without conflicting on a shared counter."""
        item = self._block(KEY_BLOCK_PREFIX, (project, environment, key_id), block)
        item.pop("_shard")
        item.update({"project": project, "environment": environment, "key_id": key_id})
        if pace is not None:
            pace(item["pk"], block.write_units)
        return self._put_new(item)

    def add_bucket_usage(
        self, project: str, environment: str, key_id: str, hour: str, outcomes: Mapping[str, int], arrival: float
    ) -> bool:
        """Add one arrival bucket's requests of a key in one hour (`outcomes`: {"allowed": n, "refused": m}) to
        that hour's usage, unless this bucket was added already: the counter keeps the buckets it counted
        (`counted`: their starts in epoch milliseconds, as the index names them; about 3600 /
        AUDIT_ARRIVAL_BUCKET_SECONDS of them at most, ~8 bytes each) and the addition is conditional on this
        one not being among them. False when it was (a compaction retried, or overlapping)."""
        counted = round(from_iso(to_iso(arrival)) * 1000)  # the bucket as arrival_value names it, whatever run
        update = self._usage_update(project, environment, key_id, hour, outcomes)
        update["UpdateExpression"] = update["UpdateExpression"].replace("ADD ", "ADD counted :bucket, ", 1)
        update["ConditionExpression"] = "attribute_not_exists(counted) OR NOT contains(counted, :arrival)"
        update["ExpressionAttributeValues"].update(to_item({":bucket": {counted}, ":arrival": counted}))
        return conditional_write(self.client.update_item, **update)

    def begin_compaction(self, before: float) -> None:
        """Set the compaction mark to `before` unless it is set: the ingest does this before its first block,
        so the compactor's first run starts no later than the first block ever written."""
        self.advance_compaction(before, None)

    def advance_compaction(self, done_through: float, previous: float | None) -> bool:
        """Record that every arrival bucket up to `done_through` (its start, epoch seconds) is compacted, if no
        other run moved the mark since `previous`. False when another run did."""
        condition = "attribute_not_exists(pk)" if previous is None else "done_through = :previous"
        values: dict[str, Any] = {":done": to_iso(done_through)}
        if previous is not None:
            values[":previous"] = to_iso(previous)
        return conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=to_item({"pk": COMPACTION_PK, "sk": COMPACTION_SK}),
            # A bucket that failed (app.compaction) is behind the mark now: its failures are forgotten.
            UpdateExpression="SET done_through = :done REMOVE failing_bucket, failures, unavailable, last_error",
            ConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
        )

    def _usage_update(
        self, project: str, environment: str, key_id: str, hour: str, outcomes: Mapping[str, int]
    ) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": to_item({"pk": f"USAGE#{project}#{environment}#{key_id}", "sk": hour}),
            "UpdateExpression": "ADD allowed :allowed, refused :refused SET purge_epoch = :purge",
            "ExpressionAttributeValues": to_item(
                {
                    ":allowed": outcomes.get("allowed", 0),
                    ":refused": outcomes.get("refused", 0),
                    ":purge": int(from_iso(hour.replace("Z", "+00:00")) + self.retention_seconds),
                }
            ),
        }

    def add_usage(self, per_hour: Mapping[tuple[str, str, str, str], Mapping[str, int]]) -> None:
        """Add (project, environment, key id, hour) -> {"allowed": n, "refused": m} to the hourly counters."""
        for (project, environment, key_id, hour), outcomes in per_hour.items():
            self.client.update_item(**self._usage_update(project, environment, key_id, hour, outcomes))
