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

from archie_keys.domain.audit_blocks import (
    BLOCK_ITEM_OVERHEAD_BYTES,
    BLOCK_MAX_BYTES,
    BLOCK_MAX_RECORDS,
    BLOCK_WINDOW_SECONDS,
    ArrivalRef,
    PackedBlock,
    StoredBlock,
    arrival_bucket,
    block_id,
    block_records_of,
    chunked,
    compress,
    pack,
    records_json,
    unpack,
    window_end,
)
from archie_keys.domain.clock import from_iso, to_iso

# The block format itself (windows, buckets, chunking, packing) is domain.audit_blocks', named here too for
# the stores and tools that read blocks from the table.
__all__ = [
    "BLOCK_ITEM_OVERHEAD_BYTES",
    "BLOCK_MAX_BYTES",
    "BLOCK_MAX_RECORDS",
    "BLOCK_WINDOW_SECONDS",
    "ENV_BLOCK_PREFIX",
    "INDEX_BY_ARRIVAL",
    "KEY_BLOCK_PREFIX",
    "ArrivalRef",
    "PackedBlock",
    "StoredBlock",
    "arrival_bucket",
    "arrival_value",
    "block_at",
    "block_id",
    "block_records_of",
    "chunked",
    "compress",
    "later_at",
    "pack",
    "records_json",
    "unpack",
    "window_end",
]

KEY_BLOCK_PREFIX = "BLK#"
ENV_BLOCK_PREFIX = "ENVB#"
INDEX_BY_ARRIVAL = "by_arrival"


def arrival_value(bucket_start: float, shard: int) -> str:
    """The by_arrival partition of a bucket's blocks in one shard."""
    return f"{to_iso(bucket_start)}#{shard}"


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
