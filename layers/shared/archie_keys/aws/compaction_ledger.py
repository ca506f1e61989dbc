"""The compactor's ledger (AuditTable, pk = COMPACTION): how far it got, what keeps failing, what it gave up on.

sk = STATE              done_through: the start of the last arrival bucket compacted (aws.audit_writer
                        moves it); while the bucket after it fails: failing_bucket, failures (runs that
                        failed on it), unavailable (of those, the ones AWS failed), last_error
sk = SKIPPED#<bucket>   a bucket the compactor gave up on after its retries: when, why, how often it
                        failed. The mark is past it, so the buckets after it go on; its records are still
                        in their environment blocks (until the audit's retention), so retrying it later
                        (AuditCompactor.retry_skipped, `make audit-skipped ARGS=--retry`) completes it, and
                        a guarded delete reads it as it reads the buckets not compacted yet.
"""

from __future__ import annotations

from typing import Any

from archie_keys.aws.audit_writer import COMPACTION_PK, COMPACTION_SK
from archie_keys.aws.dynamo import TransactionRefused, Transactions, Write, conditional_write, from_item, to_item
from archie_keys.domain.audit_ledger import LedgerState, SkippedBucket
from archie_keys.domain.clock import from_iso, to_iso

SKIPPED_PREFIX = "SKIPPED#"
# What a failure's message keeps: enough to name the block or the call that failed.
ERROR_MAX_CHARS = 500


class CompactionLedger:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client
        self.transactions = Transactions(client)

    def _key(self, sk: str) -> dict[str, Any]:
        return to_item({"pk": COMPACTION_PK, "sk": sk})

    def state(self) -> LedgerState | None:
        """The mark and the failures of the bucket after it; None before the first run."""
        response = self.client.get_item(TableName=self.table, Key=self._key(COMPACTION_SK), ConsistentRead=True)
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        failing = item.get("failing_bucket")
        return LedgerState(
            from_iso(item["done_through"]),
            from_iso(failing) if failing else None,
            int(item.get("failures", 0)),
            int(item.get("unavailable", 0)),
        )

    def record_failure(self, through: float, failing: float, failures: int, unavailable: int, error: str) -> bool:
        """Count a failed run on the bucket after the mark, if the mark is still `through` (False if another
        run moved it)."""
        return conditional_write(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(COMPACTION_SK),
            UpdateExpression="SET failing_bucket = :b, failures = :f, unavailable = :u, last_error = :e",
            ConditionExpression="done_through = :through",
            ExpressionAttributeValues=to_item(
                {
                    ":b": to_iso(failing),
                    ":f": failures,
                    ":u": unavailable,
                    ":e": error[:ERROR_MAX_CHARS],
                    ":through": to_iso(through),
                }
            ),
        )

    def skip(self, through: float, bucket: float, failures: int, error: str, now: float) -> bool:
        """Move the mark past `bucket` and list it as skipped, in one transaction: a bucket is never past the
        mark without being compacted or listed. False when another run moved the mark first."""
        listed = {
            "pk": COMPACTION_PK,
            "sk": f"{SKIPPED_PREFIX}{to_iso(bucket)}",
            "bucket": to_iso(bucket),
            "skipped_at": to_iso(now),
            "failures": failures,
            "error": error[:ERROR_MAX_CHARS],
        }
        mark = {
            "TableName": self.table,
            "Key": self._key(COMPACTION_SK),
            "UpdateExpression": "SET done_through = :done REMOVE failing_bucket, failures, unavailable, last_error",
            "ConditionExpression": "done_through = :through",
            "ExpressionAttributeValues": to_item({":done": to_iso(bucket), ":through": to_iso(through)}),
        }
        try:
            self.transactions.commit(
                [
                    Write({"Put": {"TableName": self.table, "Item": to_item(listed)}}, "skipped"),
                    Write({"Update": mark}, "mark"),
                ]
            )
        except TransactionRefused:
            return False
        return True

    def skipped(self) -> list[SkippedBucket]:
        """Every bucket skipped and not retried successfully since, oldest first."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :skipped)",
            "ExpressionAttributeValues": to_item({":pk": COMPACTION_PK, ":skipped": SKIPPED_PREFIX}),
            "ConsistentRead": True,
        }
        found: list[SkippedBucket] = []
        while True:
            response = self.client.query(**request)
            for item in (from_item(raw) for raw in response.get("Items", [])):
                found.append(
                    SkippedBucket(
                        from_iso(item["bucket"]), item["skipped_at"], int(item["failures"]), str(item["error"])
                    )
                )
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def retried(self, bucket: float, failures: int, error: str | None) -> None:
        """A retry of a skipped bucket: compacted (error None: it leaves the list), or failed again."""
        key = self._key(f"{SKIPPED_PREFIX}{to_iso(bucket)}")
        if error is None:
            self.client.delete_item(TableName=self.table, Key=key)
            return
        self.client.update_item(
            TableName=self.table,
            Key=key,
            UpdateExpression="SET failures = :f, #error = :e",
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues=to_item({":f": failures, ":e": error[:ERROR_MAX_CHARS]}),
        )
