"""The ingest watermark's store (AuditTable, pk = WATERMARK, sk = a delivery source): each source's proven
progress (domain.ingest_watermark), moved by the ingest after a delivery's blocks are stored, read by guarded
deletes in one strongly consistent Query.

Deliveries of one source may be ingested side by side, so each update is the domain's rule applied to the item
as it was, and a Put conditional on it being unchanged (its `version`), retried on a conflict. A warm instance
starts from the item as it last wrote it, with no read (an idle group's deliveries are one write each); when
another instance wrote since, the condition fails, and it reads the item and tries again.
"""

from __future__ import annotations

import threading
from typing import Any

from archie_keys.aws.dynamo import conditional_write, from_item, to_item
from archie_keys.domain.ingest_watermark import Attestation, SourceProgress, first_progress, proven_through_ms

WATERMARK_PK = "WATERMARK"
# Concurrent deliveries of one source conflict rarely (the local deliverer sends one at a time); a few tries
# settle any burst, and a delivery whose progress is not recorded only delays the watermark.
RECORD_ATTEMPTS = 8


class IngestWatermarks:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client
        # source -> (its progress, the item's version) as this instance last wrote it
        self._known: dict[str, tuple[SourceProgress | None, int]] = {}
        self._lock = threading.Lock()

    def record(self, attestation: Attestation) -> SourceProgress:
        """Count one attested delivery as ingested (call it only once its lines are stored); returns the
        source's progress now. Raises when the progress cannot be stored (the delivery is then retried, and
        its lines are not written twice)."""
        with self._lock:
            known = self._known.get(attestation.source)
        for _ in range(RECORD_ATTEMPTS):
            stored, version = known if known is not None else self._read(attestation.source)
            progress = first_progress(attestation) if stored is None else stored.with_delivery(attestation)
            if progress == stored:
                return progress
            if self._put(progress, version):
                with self._lock:
                    self._known[attestation.source] = (progress, version + 1)
                return progress
            known = None  # another instance wrote since: read it
        raise RuntimeError(f"the watermark of {attestation.source} kept changing under this delivery")

    def sources(self) -> list[SourceProgress]:
        """Every source's progress, read strongly consistent (one page holds thousands of sources)."""
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": WATERMARK_PK}),
            ConsistentRead=True,
        )
        return [_progress(from_item(item)) for item in response.get("Items", [])]

    def proven_through(self) -> float | None:
        """Epoch seconds up to which every attested source's lines are ingested; None when none ever attested."""
        through = proven_through_ms(self.sources())
        return None if through is None else through / 1000

    def _read(self, source: str) -> tuple[SourceProgress | None, int]:
        response = self.client.get_item(
            TableName=self.table, Key=to_item({"pk": WATERMARK_PK, "sk": source}), ConsistentRead=True
        )
        if "Item" not in response:
            return None, 0
        item = from_item(response["Item"])
        return _progress(item), int(item.get("version", 0))

    def _put(self, progress: SourceProgress, version: int) -> bool:
        item = {
            "pk": WATERMARK_PK,
            "sk": progress.source,
            "run": progress.run,
            "sequence": progress.sequence,
            "through_ms": progress.through_ms,
            "ahead": [list(run) for run in progress.ahead],
            "version": version + 1,
        }
        condition = "attribute_not_exists(pk)" if version == 0 else "version = :version"
        request: dict[str, Any] = {"TableName": self.table, "Item": to_item(item), "ConditionExpression": condition}
        if version:
            request["ExpressionAttributeValues"] = to_item({":version": version})
        return conditional_write(self.client.put_item, **request)


def _progress(item: dict[str, Any]) -> SourceProgress:
    return SourceProgress(
        str(item["sk"]),
        str(item["run"]),
        int(item["sequence"]),
        int(item["through_ms"]),
        tuple((int(first), int(last), int(latest)) for first, last, latest in item.get("ahead") or []),
    )
