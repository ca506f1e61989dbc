"""Typed domain errors. The HTTP edge (archie_keys.http) maps each to a status code in one place.

Every error carries a machine `code`, a human `message` and, where one field is to blame, that `field`.
Messages never say whether a key exists: "not found" and "wrong secret" read the same.
"""

from __future__ import annotations

import json


def shown(value: object) -> str:
    """A value inside a message: a string in quotes ('tenant'), anything else as JSON ({"tenant_id": "t-17"}).
    Clients read these messages, and a Python repr ({'tenant_id': 't-17'}, None) is neither JSON nor plain text:
    every message built from a value renders it with this (tests/component/test_error_messages.py)."""
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class ArchieError(Exception):
    """Base of every error a client can cause. `status` is the HTTP status the edge answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ValidationFailedError(ArchieError):
    status = 422
    code = "validation_error"


class NotFoundError(ArchieError):
    status = 404
    code = "not_found"


class ConflictError(ArchieError):
    status = 409
    code = "conflict"


class ForbiddenError(ArchieError):
    status = 403
    code = "forbidden"


class UnauthorizedError(ArchieError):
    status = 401
    code = "unauthorized"


class PayloadTooLargeError(ArchieError):
    status = 413
    code = "payload_too_large"


class KeyInUseError(ArchieError):
    """A guarded delete found the key in use: it names when, and how much."""

    status = 409
    code = "key_in_use"

    def __init__(self, message: str, last_used_at: str | None, recent_requests: int) -> None:
        super().__init__(message, field="if_unused_for")
        self.last_used_at = last_used_at
        self.recent_requests = recent_requests

    def to_body(self) -> dict[str, object]:
        return {**super().to_body(), "last_used_at": self.last_used_at, "recent_requests": self.recent_requests}


class SecretInUseError(ArchieError):
    """A key would be delivered into a secret that holds another live key's value: it names that key (one
    the caller's grant covers, or this is never reached), so the caller can decide to replace it."""

    status = 409
    code = "secret_in_use"

    def __init__(self, holder_key_id: str) -> None:
        super().__init__(
            f"this secret holds the value of key {holder_key_id}, which is still live; choose another secret_name, "
            'or send "replace_secret": true to deliver this key instead (that key stays valid, outside the secret)',
            field="secret_name",
        )
        self.key_id = holder_key_id

    def to_body(self) -> dict[str, object]:
        return {**super().to_body(), "key_id": self.key_id}


class ServiceUnavailableError(ArchieError):
    """A dependency (DynamoDB, Secrets Manager, Scheduler, API Gateway) failed; nothing was changed, or the
    change completed. The client may retry after `retry_after` seconds."""

    status = 503
    code = "service_unavailable"

    def __init__(
        self, message: str = "a service this API depends on is unavailable; retry shortly", retry_after: int = 2
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(ArchieError):
    """Too many requests of one kind in one environment within the window (the trust policy changes and token
    exchanges an environment accepts a minute). Retry after `retry_after` seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConditionFailed(Exception):
    """A write (or a transaction of writes) whose conditions did not hold: nothing was written. `labels` name
    what each failed condition protects (the store that built the write chose them)."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__(", ".join(labels))
        self.labels = labels


class CapacityExhausted(Exception):
    """An account-wide quota of a provider is used up (API Gateway's API keys, 10,000 per region, or usage
    plans): no retry helps, so a use case answers with a client error that says so rather than 503."""


class KeyRefusedError(Exception):
    """A presented key is not acceptable. `reason` is one of the verify codes (malformed, not_found, expired,
    revoked, disabled, wrong_environment, forbidden); callers outside verify must not reveal it to the client."""

    def __init__(self, reason: str, key: object | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # The presented key's parsed parts (domain.keyformat.ParsedKey, never its value), when it parsed: the
        # authorizer names its id in the Deny without parsing it again.
        self.key = key
