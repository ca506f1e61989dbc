"""Idempotent key creation for CI pipelines (header Idempotency-Key), on Powertools idempotency + DynamoDB.

A retry with the same Idempotency-Key (same caller, environment and body) returns the very same response,
including the key value, and creates nothing. The key value must never be stored in clear, so the response
is kept with the value sealed (domain.sealing) under a subkey of the pepper bound to this caller,
environment and Idempotency-Key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from archie_keys.domain import limits
from archie_keys.domain.errors import ConflictError, ValidationFailedError
from archie_keys.domain.hashing import KeyHasher
from archie_keys.domain.sealing import seal, unseal

_IDEMPOTENCY_KEY_RE = re.compile(limits.IDEMPOTENCY_KEY_PATTERN)


def check_idempotency_key(value: str) -> None:
    if not _IDEMPOTENCY_KEY_RE.match(value):
        raise ValidationFailedError(
            "Idempotency-Key must be 1-128 characters of letters, digits, '_', '.', ':' or '-'",
            field="Idempotency-Key",
        )


class Idempotency:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client
        self._persistence: Any = None

    def _layer(self) -> Any:
        if self._persistence is None:
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

            self._persistence = DynamoDBPersistenceLayer(table_name=self.table, boto3_client=self.client)
        return self._persistence

    def run_once(
        self,
        hasher: KeyHasher,
        scope: dict[str, str],
        idempotency_key: str,
        body: Any,
        create: Callable[[], dict[str, Any]],
        lambda_context: Any = None,
    ) -> dict[str, Any]:
        """Run `create` at most once per (scope, idempotency_key). `create` returns a response whose "key" is
        the new key's value; the stored copy holds it sealed. Same key with a different body: 422. A
        duplicate arriving while the first is still running: 409."""
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

        @idempotent_function(data_keyword_argument="request", persistence_store=self._layer(), config=config)
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
