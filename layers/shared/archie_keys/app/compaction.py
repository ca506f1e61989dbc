"""Use case: copy the environment blocks of each closed arrival bucket into key blocks, and count them.

The ingest writes each delivery's requests as environment blocks; those holding requests attributed to a key
(accepted, or refused after the key's secret was proven) are listed by the arrival bucket
(AUDIT_ARRIVAL_BUCKET_SECONDS) they were written in. Once a bucket is closed (its end plus
AUDIT_SETTLE_SECONDS, which covers the index's propagation, is past), the set of blocks in it can no longer
change, so a run builds from it the same key blocks every time: one per key and window, whatever number of
deliveries the requests came in. That is what makes a key's audit cost one write per key and bucket instead
of one per key and delivery (`make cost`).

Each key block is written in one transaction with the addition of its requests to the key's hourly usage,
and the run moves each key's `last_used_at` to its latest accepted request. A failed or overlapping run is
harmless: key blocks already stored (and counted) are refused by their conditional Put, and the mark that
says how far the compaction got only moves forward, from the value the run read.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from archie_keys.aws.audit_blocks import ENV_BLOCK_PREFIX, arrival_bucket, block_records_of, chunked, window_end
from archie_keys.aws.audit_writer import bucket as bucket_name
from archie_keys.domain.clock import from_iso, to_iso
from archie_keys.domain.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from archie_keys.aws.audit_reader import AuditReader
    from archie_keys.aws.audit_writer import AuditWriter
    from archie_keys.aws.key_store import KeyStore

COMPACTION_WORKERS = 8
# Buckets one run compacts at most, so a run that starts far behind ends well inside its timeout; the next
# run (a minute later) goes on from where it stopped.
MAX_BUCKETS_PER_RUN = 30
KEY_BLOCK_PACE_SECONDS = 0.05
# A guarded delete reads the buckets not yet compacted itself; past this many it answers 503 instead.
MAX_PENDING_BUCKETS = 10


@dataclass
class CompactionReport:
    buckets: int = 0
    environment_blocks: int = 0
    records: int = 0
    key_blocks: int = 0
    # Seconds from the end of the newest compacted bucket to now: how far behind a key's view is.
    behind_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "buckets": self.buckets,
            "environment_blocks": self.environment_blocks,
            "records": self.records,
            "key_blocks": self.key_blocks,
            "behind_seconds": round(self.behind_seconds, 3),
        }


@dataclass(frozen=True)
class KeyChunk:
    project: str
    environment: str
    key_id: str
    records: list[dict[str, Any]]


class AuditCompactor:
    def __init__(
        self,
        writer: AuditWriter,
        reader: AuditReader,
        keys: KeyStore,
        bucket_seconds: float,
        settle_seconds: float,
        clock: Callable[[], float] = time.time,
        on_behind: Callable[[float], None] | None = None,
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.keys = keys
        self.bucket_seconds = bucket_seconds
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._on_behind = on_behind

    def newest_closed(self, now: float) -> float:
        """The start of the newest arrival bucket no ingest can still write into."""
        return ((now - self.settle_seconds) // self.bucket_seconds) * self.bucket_seconds - self.bucket_seconds

    def run(self) -> CompactionReport:
        report = CompactionReport()
        now = self.clock()
        newest = self.newest_closed(now)
        done = self.reader.compacted_through()
        if done is None:
            # Nothing was ever ingested (the ingest sets the mark before its first block): start here.
            self.writer.advance_compaction(newest, None)
            return report
        through, bucket = done, done + self.bucket_seconds
        while bucket <= newest and report.buckets < MAX_BUCKETS_PER_RUN:
            self._compact_bucket(bucket, report)
            if not self.writer.advance_compaction(bucket, through):
                break  # another run moved the mark: it goes on from there
            through = bucket
            report.buckets += 1
            bucket += self.bucket_seconds
        report.behind_seconds = max(0.0, now - (through + self.bucket_seconds))
        if self._on_behind is not None:
            self._on_behind(report.behind_seconds * 1000)
        return report

    def pending_use(self, project: str, environment: str, key_id: str) -> str | None:
        """The time of the key's latest accepted request among those not yet compacted (the buckets after the
        mark, the open ones included), or None: what a guarded delete adds to last_used_at. Raises
        ServiceUnavailableError when the compactor is too far behind to read them all."""
        now = self.clock()
        done = self.reader.compacted_through()
        if done is None:
            return None  # nothing was ever ingested
        current = arrival_bucket(now, self.bucket_seconds)
        if current - done > MAX_PENDING_BUCKETS * self.bucket_seconds:
            raise ServiceUnavailableError(
                "the audit is being compacted more than a few minutes behind, so the key's latest use cannot "
                "be read now; retry later",
                retry_after=int(max(60, self.bucket_seconds)),
            )
        first = done + self.bucket_seconds
        prefix = f"{ENV_BLOCK_PREFIX}{bucket_name(project, environment)}#"
        latest: str | None = None
        bucket = first
        while bucket <= current:
            # The index names the keys each block holds: only blocks of this key are read.
            mine = [
                ref for ref in self.reader.arrivals(bucket) if ref["pk"].startswith(prefix) and key_id in ref["key_ids"]
            ]
            for block in self.reader.blocks(mine):
                for record in block_records_of(block):
                    if record.get("key_id") == key_id and record.get("error") != "ACCESS_DENIED":
                        latest = max(latest or "", record["time"])
            bucket += self.bucket_seconds
        return latest

    def _compact_bucket(self, bucket: float, report: CompactionReport) -> None:
        blocks = self.reader.blocks(self.reader.arrivals(bucket))
        report.environment_blocks += len(blocks)
        per_key: dict[tuple[str, str, str, float], list[dict[str, Any]]] = {}
        for block in blocks:
            for record in block_records_of(block):
                if not record.get("key_id"):
                    continue  # a request attributed to no key (keyless, or a key id only claimed) stays in its
                    # environment's view alone
                report.records += 1
                slot = (block["project"], block["environment"], record["key_id"], window_end(from_iso(record["time"])))
                per_key.setdefault(slot, []).append({k: v for k, v in record.items() if k != "key_id"})
        chunks = [
            KeyChunk(project, environment, key_id, records)
            for (project, environment, key_id, _), window in per_key.items()
            for records in chunked(window)
        ]
        # A key's chunks one after another (each adds to the same usage counter, in a transaction that
        # would conflict with itself), different keys side by side.
        per_key_chunks: dict[tuple[str, str, str], list[KeyChunk]] = {}
        for chunk in chunks:
            per_key_chunks.setdefault((chunk.project, chunk.environment, chunk.key_id), []).append(chunk)
        groups = list(per_key_chunks.values())

        def store_all(group: list[KeyChunk]) -> int:
            stored = 0
            for index, chunk in enumerate(group):
                if index:
                    # A busy key's blocks are paced: its partitions take a full block (~50 write units in
                    # a transaction) every KEY_BLOCK_PACE_SECONDS, well inside DynamoDB's 1,000 a second.
                    time.sleep(KEY_BLOCK_PACE_SECONDS)
                stored += self._store(chunk)
            return stored

        if len(groups) > 1:
            with ThreadPoolExecutor(max_workers=COMPACTION_WORKERS, thread_name_prefix="compact") as pool:
                stored = list(pool.map(store_all, groups))
        else:
            stored = [store_all(group) for group in groups]
        report.key_blocks += sum(stored)
        self._touch(chunks)

    def _store(self, chunk: KeyChunk) -> bool:
        """One key block with its requests counted in the key's usage (one transaction: a chunk is one window,
        so one hour). False when an earlier run stored it (and counted it)."""
        outcomes: Counter[str] = Counter(
            "refused" if record.get("reason") or int(record["status"]) in (401, 403) else "allowed"
            for record in chunk.records
        )
        return self.writer.put_key_block(chunk.project, chunk.environment, chunk.key_id, chunk.records, outcomes)

    def _touch(self, chunks: list[KeyChunk]) -> None:
        """Move each key's last_used_at to its latest accepted request. The access log names a key only when
        the authorizer accepted it; unless the policy then denied the route, the request reached the API: the
        key is in use (whatever the backend answered). Retried, it writes the same times again."""
        latest: dict[tuple[str, str, str], str] = {}
        for chunk in chunks:
            for record in chunk.records:
                if record.get("error") == "ACCESS_DENIED":
                    continue
                slot = (chunk.project, chunk.environment, chunk.key_id)
                latest[slot] = max(latest.get(slot, ""), record["time"])
        touches = list(latest.items())

        def touch(item: tuple[tuple[str, str, str], str]) -> None:
            (project, environment, key_id), moment = item
            self.keys.touch_last_used(project, environment, key_id, to_iso(from_iso(moment)))

        if len(touches) > 1:
            with ThreadPoolExecutor(max_workers=COMPACTION_WORKERS, thread_name_prefix="touch") as pool:
                list(pool.map(touch, touches))
        else:
            for item in touches:
                touch(item)
