"""Audit blocks: the records of requests, stored many to an item.

Every request is audited (API Gateway cache hits included, refused ones and floods of forged keys too). One
item per request costs at least one write unit for the table and one per index it is in, whatever its size,
and a subscription delivery holds only a second or so of one log stream; so records are written many to an
item, once per environment and, for those attributed to a key, once more per key (a record is ~80 bytes
once zlib has seen its neighbours):

    pk = ENVB#<p>#<e>#<shard>, sk = at    an environment block: one delivery's records of one environment
                                          and one BLOCK_WINDOW_SECONDS window, written by the ingest. The
                                          environment's view reads these at once. `arrival` (the
                                          ARRIVAL bucket it was written in; only on a block holding
                                          records attributed to keys) puts it in the by_arrival index
                                          (projecting its key_ids), where the compactor finds it.
    pk = BLK#<p>#<e>#<key id>#<shard>, sk = at
                                          a key block: one key's records from every environment block of
                                          one closed arrival bucket, written by the compactor
                                          (app.compaction) with the key's usage and last_used_at. A key's
                                          view reads these: it trails the environment's by about
                                          two arrival buckets.
    at = <window end ISO>#<block id>      every record in a block is earlier than its `at`, so a
                                          newest-first merge can open the block when it reaches it

The block id is a hash of the request ids it holds. A redelivered (or redriven) batch builds the same
environment blocks, whose conditional Put fails: no second copy, and no second entry in by_arrival. A
compaction retried builds the same key blocks from the same closed bucket, whose Puts fail the same way, and
adds the bucket to each key's usage once (app.compaction says why), so nothing is stored or counted twice.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archie_keys.domain.clock import from_iso, to_iso

BLOCK_WINDOW_SECONDS = 60
BLOCK_MAX_RECORDS = 500
BLOCK_MAX_BYTES = 256 * 1024
# A block's attributes besides its records (keys, names, count, TTL), for its write units.
BLOCK_ITEM_OVERHEAD_BYTES = 300
KEY_BLOCK_PREFIX = "BLK#"
ENV_BLOCK_PREFIX = "ENVB#"
INDEX_BY_ARRIVAL = "by_arrival"


def window_end(epoch: float) -> float:
    """The end (exclusive) of the window a moment falls in."""
    return (int(epoch) // BLOCK_WINDOW_SECONDS + 1) * BLOCK_WINDOW_SECONDS


def arrival_bucket(epoch: float, bucket_seconds: float) -> float:
    """The start of the arrival bucket a moment falls in (buckets are aligned to the epoch).

    One word, one meaning: a *bucket* is always an arrival bucket, a window of AUDIT_ARRIVAL_BUCKET_SECONDS
    (a minute when deployed) of the time the ingest wrote environment blocks, which the compactor compacts
    whole once it is closed, and skips whole when it keeps failing (AuditBucketsSkipped). An index partition is
    a partition (aws.audit_writer.partition_value), a usage counter's period an hour, a rate limit a rate and
    a burst (domain.rate_limits)."""
    return (epoch // bucket_seconds) * bucket_seconds


def arrival_value(bucket_start: float, shard: int) -> str:
    """The by_arrival partition of a bucket's blocks in one shard."""
    return f"{to_iso(bucket_start)}#{shard}"


def block_id(record_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(record_ids)).encode()).hexdigest()[:24]


def block_at(end_epoch: float, identifier: str) -> str:
    return f"{to_iso(end_epoch)}#{identifier}"


def later_at(at: str, seconds: float) -> str:
    """An `at` bound moved `seconds` later: blocks are sorted by their window's end, so a query for records
    up to `at` must read blocks up to a window later. The open bounds ("9999") stay as they are."""
    moment, separator, _ = at.partition("#")
    try:
        return f"{to_iso(from_iso(moment) + seconds)}{separator}~" if separator else to_iso(from_iso(moment) + seconds)
    except (ValueError, OverflowError):
        return at


def chunked(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Records as blocks: without duplicates, in id order, at most BLOCK_MAX_RECORDS and BLOCK_MAX_BYTES (of
    JSON, before compression) to a block, so the same records always make the same blocks and no block nears
    DynamoDB's 400 KB item limit, whatever the records hold."""
    unique = sorted({record["id"]: record for record in records}.values(), key=lambda record: record["id"])
    blocks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for record in unique:
        record_size = len(json.dumps(record, separators=(",", ":")).encode())
        if current and (len(current) == BLOCK_MAX_RECORDS or size + record_size > BLOCK_MAX_BYTES):
            blocks.append(current)
            current, size = [], 0
        current.append(record)
        size += record_size
    if current:
        blocks.append(current)
    return blocks


def records_json(records: list[dict[str, Any]]) -> bytes:
    """Records (each {"id", ...domain.audit.REQUEST_RECORD_FIELDS}) as the JSON array a block stores, before
    compression: its length is what BLOCK_MAX_BYTES bounds."""
    return json.dumps(records, separators=(",", ":"), sort_keys=True).encode()


def compress(text: bytes) -> bytes:
    """records_json's text as a block stores it (zlib releases the GIL: the compactor compresses on its writer
    threads while its reader decodes). Level 6: on a block of 500 records, level 9 takes 2.5 times the CPU
    for 1% fewer bytes, and compression is the largest part of what limits one key's rate (`make bench`)."""
    return zlib.compress(text, 6)


def pack(records: list[dict[str, Any]]) -> bytes:
    """Records (each {"id", ...domain.audit.REQUEST_RECORD_FIELDS}) as one compressed JSON array."""
    return compress(records_json(records))


@dataclass(frozen=True)
class PackedBlock:
    """A block's records, packed, with what names and places it (the compactor packs its chunks on its writer
    threads, app.compaction_chunks)."""

    identifier: str  # block_id of the records' ids
    end: float  # the end of the window every record falls in
    count: int
    data: bytes  # pack()'s bytes

    @property
    def write_units(self) -> int:
        """DynamoDB write units of the item (a unit per KB, rounded up): what a partition's budget counts."""
        return -(-(len(self.data) + BLOCK_ITEM_OVERHEAD_BYTES) // 1024)


def block_records_of(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The records a stored block holds, as packed."""
    return unpack(bytes(block["records"]))


def unpack(data: bytes) -> list[dict[str, Any]]:
    records = json.loads(zlib.decompress(data))
    if not isinstance(records, list):
        raise ValueError("an audit block that is not a list of records")
    return records
