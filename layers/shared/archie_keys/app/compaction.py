"""Use case: copy the environment blocks of each closed arrival bucket into key blocks, and count them.

The ingest lists the environment blocks holding requests attributed to a key (accepted, or refused after the
key's secret was proven) by the arrival bucket (AUDIT_ARRIVAL_BUCKET_SECONDS) they were written in. Once a
bucket is closed (its end plus AUDIT_SETTLE_SECONDS, for the index's propagation, is past), its set of blocks
cannot change, so a run builds from it the same key blocks every time: one per key and window (more for a
busy key: BLOCK_MAX_RECORDS to a block), however many deliveries brought them (`make cost`).

**Streamed, in bounded memory.** A bucket is read a page of the arrival index and a batch of blocks at a time
(the next batch is fetched while this one is decoded); its attributed records are grouped per key and window
as they pass (app.compaction_chunks) and each key block is written as soon as it is full, on writer threads
(app.compaction_writes), at most `max_in_flight` blocks ahead. What a run holds does not grow with the
bucket (`make bench`: one key's 600,000 requests in one bucket).

**A hot key's blocks side by side.** A key block is a plain conditional Put; its requests are added to the
key's usage apart, once per key, hour and bucket, after every block of the bucket is stored. No two writes of
a bucket touch the same item, so nothing conflicts and a key's blocks go out in parallel, each partition
within its budget (app.compaction_writes: ~60,000 requests a second of one key).

**Why a retried or overlapping run stores and counts nothing twice, and loses nothing.**
1. The same closed bucket makes the same key blocks: the index and its blocks are read in one fixed order and
   every cut depends only on the records read before it; a block's id (hence its partition and sort key) is a
   hash of its records' ids, and its Put is conditional on no such block existing.
2. Its usage is added once: a key's hourly counter names the buckets it has counted, and the addition is
   conditional on this bucket not being one of them. The counts are those of the whole closed bucket, the
   same on every run, whichever of its blocks that run found stored already.
3. The mark moves past a bucket only once all its blocks are stored, its counts added and last_used_at moved
   (a retry writes the same times again); until then every run starts from it, and a guarded delete reads it
   as not compacted. A run that fails anywhere leaves each block stored or not and each count added or not,
   never twice, and the next run completes what is missing. (For the seconds of a run, or until the next run
   after a failure, a key's audit may show requests its usage does not count yet; nothing reads them as one.)

**A bucket that always fails** is retried by the next runs, then skipped: after MAX_BUCKET_FAILURES runs that
failed on an error of its own (a block that cannot be read, a write DynamoDB refuses, no time left), or
MAX_UNAVAILABLE_FAILURES whatever the error (an AWS outage must not turn into skipped buckets before the
AuditCompactionBehind alarm has paged). Skipping moves the mark past it and lists it in the ledger
(aws.compaction_ledger) in one transaction, logs it and counts it (AuditBucketsSkipped, alarmed): the buckets
after it go on. retry_skipped() (the function's event {"retry_skipped": true}: `make audit-skipped`) compacts
the listed buckets again, exactly once as above.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from archie_keys.app.compaction_chunks import MAX_OPEN_RECORDS, KeyChunk, KeyChunker
from archie_keys.app.compaction_pending import pending_use
from archie_keys.app.compaction_reads import blocks_in_order
from archie_keys.app.compaction_writes import PARTITION_WRITE_UNITS_PER_SECOND, BlockWrites, PartitionPacer
from archie_keys.domain.audit_blocks import BLOCK_MAX_BYTES, BLOCK_MAX_RECORDS, StoredBlock, UnreadableBlockError
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from archie_keys.app.audit_ports import AuditBlockWriter, AuditReader, CompactionLedger, LastUse
    from archie_keys.domain.audit_ledger import LedgerState

logger = logging.getLogger("archie_keys.compaction")

# Buckets one run compacts at most; a run also starts another bucket only with START_MARGIN_SECONDS of its
# time left (a bucket of 600,000 requests takes about 20 s, `make bench`), and gives a bucket up with
# ABORT_MARGIN_SECONDS left, so its failure is counted before Lambda ends the run. The next run (a minute
# later) goes on from where this one stopped.
MAX_BUCKETS_PER_RUN = 30
START_MARGIN_SECONDS = 120.0
ABORT_MARGIN_SECONDS = 10.0
MAX_BUCKET_FAILURES = 3
MAX_UNAVAILABLE_FAILURES = 30


class BucketTimeoutError(RuntimeError):
    """A bucket not compacted within the run's time: retried by the next runs, then skipped."""


@dataclass(frozen=True)
class CompactionLimits:
    """What bounds a run's memory and its writes (tests make them small)."""

    block_max_records: int = BLOCK_MAX_RECORDS
    block_max_bytes: int = BLOCK_MAX_BYTES
    max_open_records: int = MAX_OPEN_RECORDS
    index_page: int = 200
    read_batch: int = 25  # blocks a BatchGetItem reads (at most 100); one batch is read ahead
    workers: int = 16
    max_in_flight: int = 32  # key blocks cut and not yet written
    partition_units_per_second: float = PARTITION_WRITE_UNITS_PER_SECOND


@dataclass
class CompactionReport:
    buckets: int = 0
    environment_blocks: int = 0
    records: int = 0
    key_blocks: int = 0
    skipped: int = 0
    # The most records held at once (open in the chunker, or cut and not yet written): bounded by the limits.
    peak_held_records: int = 0
    # Seconds from the end of the newest compacted bucket to now: how far behind a key's view is.
    behind_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "behind_seconds": round(self.behind_seconds, 3)}


def _aws_failure_unknown(error: BaseException) -> bool:
    return False


class AuditCompactor:
    def __init__(
        self,
        writer: AuditBlockWriter,
        reader: AuditReader,
        keys: LastUse,
        ledger: CompactionLedger,
        bucket_seconds: float,
        settle_seconds: float,
        clock: Callable[[], float] = time.time,
        on_behind: Callable[[float], None] | None = None,
        on_skipped: Callable[[str, str], None] | None = None,
        is_unavailable: Callable[[BaseException], bool] = _aws_failure_unknown,
        limits: CompactionLimits | None = None,
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.keys = keys
        self.ledger = ledger
        self.bucket_seconds = bucket_seconds
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._on_behind = on_behind
        self._on_skipped = on_skipped
        self._is_unavailable = is_unavailable
        self.limits = limits or CompactionLimits()

    def pending_use(self, project: str, environment: str, key_id: str, since: float | None = None) -> str | None:
        """The time of an accepted request of the key among those not compacted yet (app.compaction_pending);
        what a guarded delete adds to last_used_at."""
        place = (project, environment, key_id)
        holds = self.writer.is_environment_block_of
        return pending_use(self.reader, self.ledger, holds, self.bucket_seconds, self.clock(), place, since)

    def newest_closed(self, now: float) -> float:
        """The start of the newest arrival bucket no ingest can still write into."""
        return ((now - self.settle_seconds) // self.bucket_seconds) * self.bucket_seconds - self.bucket_seconds

    def run(self, time_left: Callable[[], float] | None = None) -> CompactionReport:
        """Compact every closed bucket after the mark (at most MAX_BUCKETS_PER_RUN, within `time_left()`
        seconds, Lambda's remaining time). Raises what made a bucket fail, unless it was skipped for it."""
        report = CompactionReport()
        now = self.clock()
        newest = self.newest_closed(now)
        state = self.ledger.state()
        if state is None:
            # Nothing was ever ingested (the ingest sets the mark before its first block): start here.
            self.writer.advance_compaction(newest, None)
            return report
        through, bucket = state.done_through, state.done_through + self.bucket_seconds
        while bucket <= newest and report.buckets < MAX_BUCKETS_PER_RUN:
            if report.buckets and time_left is not None and time_left() < START_MARGIN_SECONDS:
                break  # the first bucket is always tried: a shorter timeout must not stop the audit
            try:
                self.compact_bucket(bucket, report, time_left)
            except Exception as error:  # every failure of a bucket counts toward skipping it, whatever it is
                if not self._skip_after_retries(state, through, bucket, error, report):
                    raise
            else:
                if not self.writer.advance_compaction(bucket, through):
                    break  # another run moved the mark: it goes on from there
            through = bucket
            report.buckets += 1
            bucket += self.bucket_seconds
        report.behind_seconds = max(0.0, now - (through + self.bucket_seconds))
        if self._on_behind is not None:
            self._on_behind(report.behind_seconds * 1000)
        return report

    def retry_skipped(self, time_left: Callable[[], float] | None = None) -> CompactionReport:
        """Compact the buckets skipped so far, oldest first; each compacted leaves the list, each failing stays
        in it with its error."""
        report = CompactionReport()
        for skipped in self.ledger.skipped():
            if time_left is not None and time_left() < START_MARGIN_SECONDS:
                break
            try:
                self.compact_bucket(skipped.bucket, report, time_left)
            except Exception as error:  # noqa: BLE001 - reported and kept in the list; the others go on
                logger.warning("a skipped audit bucket failed again", extra=_described(skipped.bucket, error))
                self.ledger.retried(skipped.bucket, skipped.failures + 1, _text(error))
                continue
            self.ledger.retried(skipped.bucket, skipped.failures, None)
            logger.info("a skipped audit bucket is compacted", extra={"bucket": to_iso(skipped.bucket)})
            report.buckets += 1
        return report

    def _skip_after_retries(
        self, state: LedgerState, through: float, bucket: float, error: BaseException, report: CompactionReport
    ) -> bool:
        """Count a run failed on `bucket`; skip it once it has failed too often. True when it was skipped."""
        same = state.failing_bucket is not None and to_iso(state.failing_bucket) == to_iso(bucket)
        failures = (state.failures if same else 0) + 1
        aws_failed = isinstance(error, ServiceUnavailableError) or self._is_unavailable(error)
        unavailable = (state.unavailable if same else 0) + int(aws_failed)
        details = {**_described(bucket, error), "failures": failures}
        if failures - unavailable < MAX_BUCKET_FAILURES and failures < MAX_UNAVAILABLE_FAILURES:
            self.ledger.record_failure(through, bucket, failures, unavailable, _text(error))
            logger.warning("an audit bucket failed; the next run retries it", extra=details)
            return False
        if not self.ledger.skip(through, bucket, failures, _text(error), self.clock()):
            return False  # another run moved the mark meanwhile: this one stops
        logger.error("an audit bucket was skipped after its retries (make audit-skipped)", extra=details)
        if self._on_skipped is not None:
            self._on_skipped(to_iso(bucket), _text(error))
        report.skipped += 1
        return True

    def compact_bucket(
        self, bucket: float, report: CompactionReport, time_left: Callable[[], float] | None = None
    ) -> None:
        """Every key block of one closed bucket stored, counted in usage, and last_used_at moved."""
        limits = self.limits
        chunker = KeyChunker(limits.block_max_records, limits.block_max_bytes, limits.max_open_records)
        pacer = PartitionPacer(limits.partition_units_per_second)

        def store(chunk: KeyChunk) -> bool:
            return self.writer.put_key_block(chunk.project, chunk.environment, chunk.key_id, chunk.packed(), pace=pacer)

        with ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="compact") as pool:
            writes = BlockWrites(pool, store, limits.max_in_flight)

            def write(chunks: list[KeyChunk]) -> None:
                waiting = sum(chunk.count for chunk in chunks)  # cut, not yet handed to a writer
                for chunk in chunks:
                    held = chunker.open_records + writes.in_flight_records + waiting
                    report.peak_held_records = max(report.peak_held_records, held)
                    writes.submit(chunk)
                    waiting -= chunk.count

            for block in blocks_in_order(self.reader, bucket, limits.index_page, limits.read_batch):
                if time_left is not None and time_left() < ABORT_MARGIN_SECONDS:
                    raise BucketTimeoutError(f"the bucket {to_iso(bucket)} was not compacted within the run's time")
                report.environment_blocks += 1
                write(self._chunks_of(chunker, block))
                report.peak_held_records = max(report.peak_held_records, chunker.peak_open_records)
            write(chunker.finish())
            report.key_blocks += writes.drain()
            report.records += chunker.records

            # Counted once every block is stored; then the keys' last use (the same times again on a retry).
            def add_usage(item: tuple[tuple[str, str, str, str], Counter[str]]) -> bool:
                (project, environment, key_id, hour), outcomes = item
                return self.writer.add_bucket_usage(project, environment, key_id, hour, outcomes, bucket)

            list(pool.map(add_usage, chunker.usage.items()))
            list(pool.map(self._touch, chunker.latest.items()))

    def _chunks_of(self, chunker: KeyChunker, block: StoredBlock) -> list[KeyChunk]:
        try:
            return chunker.add(block.project, block.environment, block.packed_records())
        except Exception as error:  # whatever is wrong with it (zlib, JSON, a field missing), name the block
            raise UnreadableBlockError(
                f"the environment block {block.pk} {block.sk} cannot be read: {_text(error)}"
            ) from error

    def _touch(self, item: tuple[tuple[str, str, str], str]) -> None:
        """Move a key's last_used_at to its latest accepted request of the bucket."""
        (project, environment, key_id), moment = item
        self.keys.touch_last_used(project, environment, key_id, to_iso(from_iso(moment)))


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _described(bucket: float, error: BaseException) -> dict[str, Any]:
    return {"bucket": to_iso(bucket), "error": _text(error)}
