"""What a guarded delete adds to last_used_at: a key's accepted requests the compactor has not counted yet.

last_used_at covers the buckets behind the compaction mark, except those the compactor skipped
(aws.compaction_ledger). This reads the rest: every bucket after the mark (the open ones included) and every
skipped bucket that can hold a request inside the guard's window. The arrival index names the keys each
block holds, so only this key's blocks are read, a batch at a time; with `since`, the first accepted
request at or after it ends the reading (a busy key is found in use in its first block, not after its
minutes of traffic are decoded).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING

from archie_keys.domain.audit_blocks import ArrivalRef, StoredBlock, UnreadableBlockError, arrival_bucket
from archie_keys.domain.audit_records import RequestRecord
from archie_keys.domain.clock import to_iso
from archie_keys.domain.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from archie_keys.app.audit_ports import AuditReader, CompactionLedger

# Whether a block an arrival bucket lists holds an environment's requests (AuditBlockWriter's: the table's
# key says it).
HoldsEnvironment = Callable[[ArrivalRef, str, str], bool]

# A guarded delete reads the buckets not yet compacted itself; past this many it answers 503 instead.
MAX_PENDING_BUCKETS = 10
READ_BATCH = 100  # BatchGetItem's most


def pending_use(
    reader: AuditReader,
    ledger: CompactionLedger,
    is_environment_block_of: HoldsEnvironment,
    bucket_seconds: float,
    now: float,
    place: tuple[str, str, str],
    since: float | None,
) -> str | None:
    """The time of the key's latest accepted request among those not counted in last_used_at (with `since`:
    of one at or after it, if any), or None. Raises ServiceUnavailableError when they cannot all be read:
    the compactor too far behind, too many skipped buckets in the window, or a block that cannot be decoded.
    `place`: (project, environment, key id)."""
    project, environment, key_id = place
    done = reader.compacted_through()
    if done is None:
        return None  # nothing was ever ingested
    size = bucket_seconds
    current = arrival_bucket(now, size)
    if current - done > MAX_PENDING_BUCKETS * size:
        raise ServiceUnavailableError(
            "the audit is being compacted more than a few minutes behind, so the key's latest use cannot "
            "be read now; retry later",
            retry_after=int(max(60, size)),
        )
    buckets: list[float] = []
    bucket = done + size
    while bucket <= current:
        buckets.append(bucket)
        bucket += size
    # A request is never later than its arrival: a bucket ending before `since` holds none inside the window.
    skipped = [s.bucket for s in ledger.skipped() if since is None or s.bucket + size >= since]
    if len(skipped) > MAX_PENDING_BUCKETS:
        raise ServiceUnavailableError(
            "the audit compactor skipped more buckets than a guarded delete reads within this window, so the "
            "key's latest use cannot be proven; retry once they are compacted again",
            retry_after=int(max(60, size)),
        )
    since_iso = to_iso(since) if since is not None else None
    latest: str | None = None
    for bucket in [*reversed(buckets), *reversed(skipped)]:  # newest first: a recent use ends it soonest
        refs = reader.arrivals(bucket)
        mine = (ref for ref in refs if is_environment_block_of(ref, project, environment) and key_id in ref.key_ids)
        while batch := list(islice(mine, READ_BATCH)):
            for block in _blocks(reader, batch):
                for record in _records(block):
                    if record.key_id != key_id or record.error == "ACCESS_DENIED":
                        continue
                    if since_iso is not None and record.time >= since_iso:
                        return record.time
                    latest = max(latest or "", record.time)
    return latest


def _unreadable() -> ServiceUnavailableError:
    """A block the compactor cannot read either: the guard cannot be proven."""
    return ServiceUnavailableError(
        "a block of the key's recent requests cannot be read, so its latest use cannot be proven; "
        "the audit compactor skips and names it (AuditBucketsSkipped)",
        retry_after=60,
    )


def _blocks(reader: AuditReader, batch: list[ArrivalRef]) -> list[StoredBlock]:
    try:
        return reader.blocks(batch)
    except UnreadableBlockError as error:  # its item lacks its place or records
        raise _unreadable() from error


def _records(block: StoredBlock) -> list[RequestRecord]:
    try:
        return block.requests()
    except Exception as error:  # its records do not decode
        raise _unreadable() from error
