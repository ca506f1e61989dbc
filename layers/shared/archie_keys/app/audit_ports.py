"""The audit pipeline's side of the seam (app.ports holds the key changes'): what the ingest, the compactor,
the audit views and the guarded delete need of the audit table, as Protocols with only the calls they make.

aws/ implements them structurally (aws.audit_reader.AuditReader, aws.audit_writer.AuditWriter,
aws.compaction_ledger.CompactionLedger, aws.ingest_watermarks.IngestWatermarks, and the key store's
`touch_last_used`); mypy checks it where edge.composition hands them over. What crosses it is typed
(domain.audit_records: a request or event record, an hour's usage; domain.audit_blocks: a block to store,
PackedBlock, an arrival index entry, ArrivalRef, a block read back, StoredBlock), the ledger's state
domain.audit_ledger's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from archie_keys.domain.audit_blocks import ArrivalRef, PackedBlock, StoredBlock
from archie_keys.domain.audit_ledger import LedgerState, SkippedBucket
from archie_keys.domain.audit_records import AuditRecord, HourlyUsage, RequestRecord
from archie_keys.domain.ingest_watermark import Attestation, SourceProgress


class AuditRecords(Protocol):
    """One region's audit records newest first and a key's hourly usage: all that a read of another region's
    audit needs (app.ports.RegionalAuditReads)."""

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
        requests: bool = True,
        accept: Callable[[AuditRecord], bool] | None = None,
    ) -> tuple[list[AuditRecord], bool]: ...
    def usage(self, project: str, environment: str, key_id: str, since_epoch: float) -> list[HourlyUsage]: ...


class AuditReader(AuditRecords, Protocol):
    """Reads this region's audit: its records and usage, and for the compactor and a guarded delete, the
    environment blocks an arrival bucket lists and how far compaction got."""

    def at_bounds(self, since: float | None, until: float | None) -> tuple[str, str]: ...

    def arrivals(self, bucket_start: float, page_size: int | None = None) -> Iterator[ArrivalRef]:
        """The blocks an arrival bucket lists, always in the same order."""
        ...

    def blocks(self, refs: Sequence[ArrivalRef]) -> list[StoredBlock]:
        """The stored blocks these refs name, in any order."""
        ...

    def compacted_through(self) -> float | None: ...


class AuditBlockWriter(Protocol):
    """Writes request blocks and usage, and moves the compaction mark; every write is idempotent (a block
    already stored, a bucket already counted, a mark moved by another run: False)."""

    def put_environment_block(
        self, project: str, environment: str, records: Sequence[RequestRecord], arrival_bucket: float
    ) -> bool: ...
    def put_key_block(
        self,
        project: str,
        environment: str,
        key_id: str,
        block: PackedBlock,
        pace: Callable[[str, int], None] | None = None,
    ) -> bool: ...
    def add_bucket_usage(
        self, project: str, environment: str, key_id: str, hour: str, outcomes: Mapping[str, int], arrival: float
    ) -> bool: ...
    def begin_compaction(self, before: float) -> None: ...
    def advance_compaction(self, done_through: float, previous: float | None) -> bool: ...
    def is_environment_block_of(self, block: ArrivalRef, project: str, environment: str) -> bool:
        """Whether a block an arrival bucket lists holds this environment's requests (the table's key says)."""
        ...


class CompactionLedger(Protocol):
    """How far the compactor got, the failures of the bucket after that, and the buckets it skipped."""

    def state(self) -> LedgerState | None: ...
    def record_failure(self, through: float, failing: float, failures: int, unavailable: int, error: str) -> bool: ...
    def skip(self, through: float, bucket: float, failures: int, error: str, now: float) -> bool: ...
    def skipped(self) -> Sequence[SkippedBucket]: ...
    def retried(self, bucket: float, failures: int, error: str | None) -> None: ...


class LastUse(Protocol):
    """Where the compactor records a key's latest accepted request (the key store)."""

    def touch_last_used(self, project: str, environment: str, key_id: str, last_used_at: str) -> None: ...


class IngestWatermarks(Protocol):
    """How far each delivery source's lines are proven stored (domain.ingest_watermark)."""

    def record(self, attestation: Attestation) -> SourceProgress: ...
    def proven_through(self) -> float | None: ...
