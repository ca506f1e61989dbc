"""Sample protected backend: answers 200 with the authorizer context API Gateway passed it, as JSON.

A real backend reads `requestContext.authorizer` the same way: key_id, roles, permissions, filters, context."""

from __future__ import annotations

import json
from typing import Any

from archie_keys.domain.identity import AUTHORIZER_CONTEXT_FIELDS


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    body = {
        "method": event.get("httpMethod"),
        "path": event.get("path"),
        "authorizer": {name: authorizer.get(name) for name in AUTHORIZER_CONTEXT_FIELDS if name in authorizer},
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
