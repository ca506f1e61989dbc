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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archie_keys.domain.audit_records import RequestRecord, request_record, stored_request

# A request record as a block packs it: its id and its set own fields, as JSON (domain.audit_records'
# stored_request makes one, request_record reads one). Only the compactor handles records in this form: it
# re-packs them as they are, where a typed round trip would double its CPU per record (`make bench`).
PackedRecord = dict[str, Any]

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


def chunked(records: Sequence[RequestRecord]) -> list[list[RequestRecord]]:
    """Records as blocks: without duplicates, in id order, at most BLOCK_MAX_RECORDS and BLOCK_MAX_BYTES (of
    JSON as packed, before compression) to a block, so the same records always make the same blocks and no
    block nears DynamoDB's 400 KB item limit, whatever the records hold."""
    unique = sorted({record.id: record for record in records}.values(), key=lambda record: record.id)
    blocks: list[list[RequestRecord]] = []
    current: list[RequestRecord] = []
    size = 0
    for record in unique:
        record_size = len(json.dumps(stored_request(record), separators=(",", ":")).encode())
        if current and (len(current) == BLOCK_MAX_RECORDS or size + record_size > BLOCK_MAX_BYTES):
            blocks.append(current)
            current, size = [], 0
        current.append(record)
        size += record_size
    if current:
        blocks.append(current)
    return blocks


def records_json(records: Sequence[PackedRecord]) -> bytes:
    """Records as packed (domain.audit_records.stored_request's) as the JSON array a block stores, before
    compression: its length is what BLOCK_MAX_BYTES bounds."""
    return json.dumps(records, separators=(",", ":"), sort_keys=True).encode()


def compress(text: bytes) -> bytes:
    """records_json's text as a block stores it (zlib releases the GIL: the compactor compresses on its writer
    threads while its reader decodes). Level 6: on a block of 500 records, level 9 takes 2.5 times the CPU
    for 1% fewer bytes, and compression is the largest part of what limits one key's rate (`make bench`)."""
    return zlib.compress(text, 6)


def pack(records: Sequence[RequestRecord]) -> bytes:
    """Records as one compressed JSON array of what a block stores of each (stored_request)."""
    return compress(records_json([stored_request(record) for record in records]))


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ArrivalRef:
    """An environment block as the arrival index lists it: the table's keys that name it (opaque above aws/:
    aws.audit_writer.is_environment_block_of reads them), its `at`, and the keys whose records it holds."""

    pk: str
    sk: str
    at: str
    key_ids: frozenset[str] = frozenset()


class UnreadableBlockError(ValueError):
    """A stored block that cannot be read (its place or records missing, its data not a block): an error of its
    bucket's own, never AWS's, so the compactor retries that bucket a few times and then skips it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredBlock:
    """A block as read back: the keys that name it, the place it holds records of, and its packed records."""

    pk: str
    sk: str
    project: str
    environment: str
    # A key block's key (its records do not repeat it); None for an environment block.
    key_id: str | None = None
    data: bytes

    def packed_records(self) -> list[PackedRecord]:
        """Its records as packed, for a caller that packs them again as they are (app.compaction_chunks:
        the compactor's path that bounds one key's rate, where a typed round trip would only cost CPU)."""
        return unpack(self.data)

    def requests(self) -> list[RequestRecord]:
        """Its records, each with the place (and, for a key block, the key) the block names."""
        place = {"project": self.project, "environment": self.environment}
        if self.key_id is not None:
            place["key_id"] = self.key_id
        return [request_record({**place, **record}) for record in self.packed_records()]


def block_records_of(block: Mapping[str, Any]) -> list[PackedRecord]:
    """The records a stored block's item holds, as packed (tools and tests that read the table directly)."""
    return unpack(bytes(block["records"]))


def unpack(data: bytes) -> list[PackedRecord]:
    records = json.loads(zlib.decompress(data))
    if not isinstance(records, list):
        raise ValueError("an audit block that is not a list of records")
    return records
