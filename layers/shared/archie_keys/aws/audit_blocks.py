"""Audit blocks: the records of a key's accepted requests, stored many to an item.

A request made with an accepted key is the bulk of the audit (every such request, API Gateway cache hits
included). One item per request costs at least one write unit for the table and one per index it is in,
whatever its size; a block holds up to BLOCK_MAX_RECORDS of them, compressed (a record is ~80 bytes once
zlib has seen its neighbours), so a busy key costs a fraction of a write unit per request. See
`make cost` for the figures.

    pk = BLK#<p>#<e>#<key id>#<shard>, sk = at   one block: the key's requests in one BLOCK_WINDOW_SECONDS
                                                 window, from one subscription delivery
    at = <window end ISO>#<block id>             every record in the block is earlier than its `at`, so
                                                 a newest-first merge can open the block when it reaches it
    env_bucket = <p>#<e>#<shard>                 the block shows in the by_env index with the items

The block id is a hash of the request ids it holds: a redelivered (or redriven) batch builds the same
blocks, and their conditional Put fails, so nothing is stored or counted twice.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from typing import Any

from archie_keys.domain.clock import from_iso, to_iso

BLOCK_WINDOW_SECONDS = 60
BLOCK_MAX_RECORDS = 500
BLOCK_PREFIX = "BLK#"
# A stored record's fields, beyond its id (the extended request id) and what its block names (project,
# environment, key id): the request's own, as the ingest reads them from the access log.
RECORD_FIELDS = (
    "time",
    "request_id",
    "method",
    "path",
    "resource",
    "status",
    "source_ip",
    "user_agent",
    "api",
    "error",
)


def window_end(epoch: float) -> float:
    """The end (exclusive) of the window a moment falls in."""
    return (int(epoch) // BLOCK_WINDOW_SECONDS + 1) * BLOCK_WINDOW_SECONDS


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


def pack(records: list[dict[str, Any]]) -> bytes:
    """Records (each {"id", ...RECORD_FIELDS}) as one compressed JSON array."""
    return zlib.compress(json.dumps(records, separators=(",", ":"), sort_keys=True).encode(), 9)


def unpack(data: bytes) -> list[dict[str, Any]]:
    records = json.loads(zlib.decompress(data))
    if not isinstance(records, list):
        raise ValueError("an audit block that is not a list of records")
    return records
