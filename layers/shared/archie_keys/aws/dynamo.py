"""DynamoDB plumbing shared by the adapters: JSON <-> DynamoDB types, paging tokens, AWS error codes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from archie_keys.domain.errors import ConditionFailed, ConflictError, ServiceUnavailableError

if TYPE_CHECKING:
    from archie_keys.aws import items

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """Decimal -> int, sets -> sorted lists: DynamoDB's types back to JSON's."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    return value


def _dynamo(value: Any) -> Any:
    """JSON's types to DynamoDB's: floats become Decimals (boto3 refuses floats to avoid silent rounding)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_dynamo(v) for v in value]
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_dynamo(v)) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def aws_error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError; "" for anything else (a timeout or a dropped connection carries
    no response at all, and this is called while handling exactly those)."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


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

    def commit(self, writes: Sequence[Write | items.Write | None]) -> None:
        """Writes built as TransactItems entries (Write) or as aws.items values (translated here), all or none."""
        from archie_keys.aws.dynamo_items import write_request

        chosen = [
            write if isinstance(write, Write) else Write(dict([write_request(write)]), write.label)
            for write in writes
            if write is not None
        ]
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
