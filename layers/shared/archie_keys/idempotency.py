"""Idempotent key creation for CI pipelines (header Idempotency-Key), on Powertools idempotency + DynamoDB.

A retry with the same Idempotency-Key (same caller, environment and body) returns the very same response,
including the key value, and creates nothing. The key value must never be stored in clear, so the response
is kept with the value sealed: XOR with an HMAC-SHA256 keystream under a subkey of the pepper bound to this
caller, environment and Idempotency-Key, plus an HMAC tag. Each subkey seals exactly one value, so the
keystream is never reused; without the pepper (Secrets Manager) the record reveals nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from archie_keys import limits
from archie_keys.errors import ConflictError, ValidationFailedError
from archie_keys.hashing import KeyHasher
from archie_keys.settings import get_settings

_TAG_LENGTH = 16


def _keystream(key: bytes, length: int) -> bytes:
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hmac.new(key, b"stream" + counter.to_bytes(4, "big"), hashlib.sha256).digest())
    return b"".join(blocks)[:length]


def seal(key: bytes, plaintext: str) -> str:
    data = plaintext.encode("utf-8")
    sealed = bytes(a ^ b for a, b in zip(data, _keystream(key, len(data)), strict=True))
    tag = hmac.new(key, b"tag" + sealed, hashlib.sha256).digest()[:_TAG_LENGTH]
    return base64.b64encode(sealed + tag).decode("ascii")


def unseal(key: bytes, token: str) -> str:
    raw = base64.b64decode(token)
    sealed, tag = raw[:-_TAG_LENGTH], raw[-_TAG_LENGTH:]
    if not hmac.compare_digest(tag, hmac.new(key, b"tag" + sealed, hashlib.sha256).digest()[:_TAG_LENGTH]):
        raise ValueError("sealed value does not match its tag")
    return bytes(a ^ b for a, b in zip(sealed, _keystream(key, len(sealed)), strict=True)).decode("utf-8")


@lru_cache(maxsize=1)
def _persistence() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)


def check_idempotency_key(value: str) -> None:
    import re

    if not re.match(limits.IDEMPOTENCY_KEY_PATTERN, value):
        raise ValidationFailedError(
            "Idempotency-Key must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
            field="Idempotency-Key",
        )


def run_once(
    hasher: KeyHasher,
    scope: dict[str, str],
    idempotency_key: str,
    body: Any,
    create: Callable[[], dict[str, Any]],
    lambda_context: Any = None,
) -> dict[str, Any]:
    """Run `create` at most once per (scope, idempotency_key). `create` returns a response whose "key" is the
    new key's value; the stored copy holds it sealed. Same key with a different body: 422. A duplicate
    arriving while the first is still running: 409."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    check_idempotency_key(idempotency_key)
    seal_key = hasher.derive(json.dumps([scope, idempotency_key], sort_keys=True).encode("utf-8"))
    config = IdempotencyConfig(
        event_key_jmespath="[scope, idempotency_key]",
        payload_validation_jmespath="body",
        expires_after_seconds=limits.IDEMPOTENCY_TTL_SECONDS,
        lambda_context=lambda_context,
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=_persistence(), config=config)
    def create_sealed(request: dict[str, Any]) -> dict[str, Any]:
        response = create()
        return {**response, "key": seal(seal_key, response["key"])}

    try:
        stored = create_sealed(request={"scope": scope, "idempotency_key": idempotency_key, "body": body})
    except IdempotencyAlreadyInProgressError:
        raise ConflictError(
            "a request with this Idempotency-Key is still in progress; retry shortly",
            field="Idempotency-Key",
            code="idempotency_in_progress",
        ) from None
    except IdempotencyValidationError:
        raise ValidationFailedError(
            "this Idempotency-Key was used with a different body",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        ) from None
    return {**stored, "key": unseal(seal_key, stored["key"])}


def reset() -> None:
    _persistence.cache_clear()
