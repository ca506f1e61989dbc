"""A request's body before any handler sees it: bounded in size and in nesting before it is parsed (so no
client input can make a handler parse megabytes or recurse deeply), and read as JSON whatever Content-Type
says."""

from __future__ import annotations

import json
from typing import Any

from archie_keys.domain import limits
from archie_keys.domain.errors import ArchieError, PayloadTooLargeError, ValidationFailedError
from archie_keys.edge.json_depth import json_nesting_within


def body_refusal(event: dict[str, Any]) -> ArchieError | None:
    """Why the body is refused unread (413 too large, 422 nested too deep), or None."""
    body = event.get("body")
    if not isinstance(body, str):
        return None
    if len(body.encode("utf-8", errors="surrogatepass")) > limits.BODY_MAX_BYTES:
        return PayloadTooLargeError(f"request bodies are limited to {limits.BODY_MAX_BYTES} bytes", field="body")
    if not json_nesting_within(body, limits.JSON_MAX_DEPTH):
        return ValidationFailedError(
            f"the body nests deeper than {limits.JSON_MAX_DEPTH} levels", field="body", code="invalid_json"
        )
    return None


def refused(error: ArchieError) -> dict[str, Any]:
    """The proxy answer for a body refused before routing (the resolver's CORS header included by hand)."""
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
        "body": json.dumps(error.to_body()),
    }


def as_json_request(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its body declared JSON. The API speaks only JSON: `curl -d '{...}'` (which sends
    application/x-www-form-urlencoded) then works instead of failing as a form."""
    if not event.get("body"):
        return event
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    headers["Content-Type"] = "application/json"
    multi["Content-Type"] = ["application/json"]
    return {**event, "headers": headers, "multiValueHeaders": multi}
