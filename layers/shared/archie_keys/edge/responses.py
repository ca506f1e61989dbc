"""The answers an API handler gives: compact JSON, and a domain error as its status and JSON body (with
Retry-After where the client should wait)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from archie_keys.domain.errors import ArchieError, RateLimitedError, ServiceUnavailableError


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    if body is None:
        # No content type either: Powertools would render a JSON body of None as the text "null", and a 204
        # must carry no body at all.
        return Response(status_code=status, headers=headers or {})
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers or {},
    )


def error_response(error: ArchieError) -> Response[Any]:
    headers: dict[str, str] = {}
    if isinstance(error, ServiceUnavailableError | RateLimitedError):
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.status, error.to_body(), headers)
