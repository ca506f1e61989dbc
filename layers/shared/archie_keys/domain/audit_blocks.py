"""An audit block's format: how request records are grouped many to a stored block, and packed.

A block holds the records of one window (BLOCK_WINDOW_SECONDS) of one environment, or of one key, as one
zlib-compressed JSON array, at most BLOCK_MAX_RECORDS records and BLOCK_MAX_BYTES of JSON: the ingest
(app.ingest) cuts a delivery's records into environment blocks, the compactor (app.compaction) regroups the
attributed ones into key blocks. Where blocks are stored and how they are keyed is aws.audit_blocks'.
Pure: the same records always make the same blocks (a block's id is a hash of its records' ids), which is
what lets a redelivery or a retried compaction store nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BLOCK_WINDOW_SECONDS = 60
BLOCK_MAX_RECORDS = 500
BLOCK_MAX_BYTES = 256 * 1024
# A block's attributes besides its records (keys, names, count, TTL), for its write units.
BLOCK_ITEM_OVERHEAD_BYTES = 300


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


def block_id(record_ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(record_ids)).encode()).hexdigest()[:24]


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
    compression: its length
    is what BLOCK_MAX_BYTES bounds."""
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
