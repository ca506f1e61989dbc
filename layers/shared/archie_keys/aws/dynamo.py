"""DynamoDB transactions as the adapters build them (TransactItems entries with labels); the types and error
codes they share are in aws.dynamo_types (re-exported here)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archie_keys.aws.dynamo_types import aws_error_code, conditional_write, from_item, to_item
from archie_keys.domain.errors import ConditionFailed, ConflictError, ServiceUnavailableError

__all__ = ["TransactionRefused", "Transactions", "Write", "aws_error_code", "conditional_write", "from_item", "to_item"]


@dataclass(frozen=True)
class Write:
    """One item of a DynamoDB transaction (a TransactItems entry: Put, Update, Delete or ConditionCheck) and
    a label naming what its condition protects, so a refused transaction says which condition failed."""

    item: dict[str, Any]
    label: str


# A transaction cancelled because these conditions (by label) did not hold; nothing was written.
TransactionRefused = ConditionFailed


# Cancellation reasons that mean DynamoDB could not take the write now (retry later), not a refused condition.
_CAPACITY_REASONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError"}


class Transactions:
    """Commits writes built by the adapters (keys, audit, idempotency) as one DynamoDB transaction, so a
    change and the audit event that describes it are written together or not at all."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def commit(self, writes: Sequence[object]) -> None:
        """Writes built as TransactItems entries (Write) or as aws.items values (translated here), all or none;
        None entries are skipped. Typed `object` so this class is the use cases' unit of work (app.ports)."""
        from archie_keys.aws.dynamo_items import write_request
        from archie_keys.aws.items import Check, Delete, Put, Update

        chosen: list[Write] = []
        for write in writes:
            if isinstance(write, Write):
                chosen.append(write)
            elif isinstance(write, Put | Update | Delete | Check):
                chosen.append(Write(dict([write_request(write)]), write.label))
            elif write is not None:
                raise TypeError(f"not a write of this adapter: {type(write).__name__}")
        try:
            # The token makes a retry of this same call idempotent: when botocore resends a transaction whose
            # answer was lost (a read timeout after DynamoDB committed it), DynamoDB answers the retry as the
            # commit it was, instead of refusing it on conditions the first attempt already made false.
            self.client.transact_write_items(
                TransactItems=[write.item for write in chosen], ClientRequestToken=str(uuid.uuid4())
            )
        except Exception as error:
            if aws_error_code(error) != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons") or []
            failed = [chosen[i].label for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
            if failed:
                raise TransactionRefused(failed) from None
            if any(r.get("Code") in _CAPACITY_REASONS for r in reasons):
                raise ServiceUnavailableError() from None
            if any(r.get("Code") == "TransactionConflict" for r in reasons):
                raise ConflictError("a concurrent change touched the same items; retry", code="conflict") from None
            raise
