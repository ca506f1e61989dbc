"""DynamoDB's types and errors: JSON <-> DynamoDB attribute values, and the error code of a failed call."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

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


def conditional_write(write: Callable[..., Any], **request: Any) -> bool:
    """Make one conditional write (`write`: a client's put_item, update_item or delete_item); False when
    DynamoDB refused its condition, which to every caller here means a race lost or a write already made,
    an answer rather than a failure. Any other error raises."""
    try:
        write(**request)
    except Exception as error:
        if aws_error_code(error) != "ConditionalCheckFailedException":
            raise
        return False
    return True
