"""What the audit compactor's ledger holds, as values: how far it got and what keeps failing (LedgerState),
and each bucket it gave up on (SkippedBucket). aws.compaction_ledger stores them; app.compaction decides
from them when a bucket is retried, skipped or retried again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archie_keys.domain.clock import to_iso


@dataclass(frozen=True)
class LedgerState:
    done_through: float
    failing_bucket: float | None = None
    failures: int = 0
    unavailable: int = 0


@dataclass(frozen=True)
class SkippedBucket:
    bucket: float
    skipped_at: str
    failures: int
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": to_iso(self.bucket),
            "skipped_at": self.skipped_at,
            "failures": self.failures,
            "error": self.error,
        }
