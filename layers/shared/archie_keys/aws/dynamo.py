"""DynamoDB plumbing shared by the adapters: JSON <-> DynamoDB types, paging tokens, AWS error codes."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from archie_keys.domain.errors import ValidationFailedError

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


def encode_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(from_item(last_key)).encode()).decode().rstrip("=")


def decode_token(token: str, pk: str) -> dict[str, Any]:
    """A next_token must come from a listing of this same partition; anything else is a client error."""
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(decoded, dict) or decoded.get("pk") != pk or not isinstance(decoded.get("sk"), str):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailedError("next_token is not a token this listing gave", field="next_token") from None
    return to_item({"pk": decoded["pk"], "sk": decoded["sk"]})


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_token: str | None


def aws_error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
